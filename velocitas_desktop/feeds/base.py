"""What every market-data feed provides to the engine: batches of ticks and a state."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from velocitas_desktop.core.candles import Pieces
from velocitas_desktop.core.errors import VelocitasError


class FeedState(StrEnum):
    """A feed's state, shown in the window and served over the API."""

    IDLE = "idle"                  # no session has opened it
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STALLED = "stalled"            # connected, but no data for a while
    FAILED = "failed"              # it cannot go on; the message says why
    FINISHED = "finished"          # a replay or a simulation reached its end


class FeedError(VelocitasError):
    """The feed cannot start or cannot go on; the message says what to do."""


@dataclass(frozen=True, slots=True)
class BarBatch:
    """The bars of a replayed file whose last price is in the same :class:`TickBatch`.

    Strategies never see them: they decide on the prices, exactly as in a backtest. They are
    there for charts, which show the file's candles (its open, high, low, close and volume)
    rather than candles made of the replayed prices (one price per bar: flat dashes).
    """

    coin_ids: np.ndarray  # int16, as the ticks'
    seconds: np.ndarray   # each bar's length
    start: np.ndarray     # each bar's open time, epoch seconds
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def of_coin(self, index: int) -> tuple[Pieces, float] | None:
        """The bars of the coin at ``index`` and their length, or None if it has none here."""
        where = np.flatnonzero(self.coin_ids == index)
        if not where.size:
            return None
        return (Pieces(self.start[where], self.open[where], self.high[where], self.low[where],
                       self.close[where], self.volume[where]), float(self.seconds[where[0]]))

    def part(self, lo: int, hi: int) -> BarBatch:
        """Bars ``lo`` to ``hi`` (views)."""
        return BarBatch(*(getattr(self, name)[lo:hi] for name in BAR_FIELDS))

    @staticmethod
    def concat(batches: list[BarBatch]) -> BarBatch:
        if len(batches) == 1:
            return batches[0]
        return BarBatch(*(np.concatenate([getattr(b, name) for b in batches])
                          for name in BAR_FIELDS))


BAR_FIELDS = ("coin_ids", "seconds", "start", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class TickBatch:
    """Ticks in arrival order: ``coin_ids`` index into the feed's ``coins`` list.

    Arrays, not objects: a batch costs a few allocations whatever its size.
    """

    coin_ids: np.ndarray    # int16
    prices: np.ndarray      # float64
    timestamps: np.ndarray  # float64 epoch seconds
    received: float = 0.0   # time.perf_counter() when the feed produced it (for latency)
    bars: BarBatch | None = None  # a replay of bar files: the bars these prices close

    def __len__(self) -> int:
        return int(self.prices.shape[0])

    @staticmethod
    def concat(batches: list[TickBatch]) -> TickBatch:
        if len(batches) == 1:
            return batches[0]
        bars = [b.bars for b in batches if b.bars is not None]
        return TickBatch(
            np.concatenate([b.coin_ids for b in batches]),
            np.concatenate([b.prices for b in batches]),
            np.concatenate([b.timestamps for b in batches]),
            batches[0].received,
            BarBatch.concat(bars) if bars else None,
        )


StatusCallback = Callable[[str, str], None]


class Feed(ABC):
    """A source of ticks. The engine calls :meth:`open`, iterates :meth:`stream` on its
    producer thread until it ends or ``stop`` is set, then calls :meth:`close`."""

    name = "feed"
    replay = False  # a replay may block on a full queue; a live feed must not

    def __init__(self, coins: list[str]) -> None:
        self.coins = list(coins)
        self.on_status: StatusCallback = lambda state, message: None

    def open(self) -> None:
        """Check everything that can be checked before the run (files, symbols...)."""

    @abstractmethod
    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        """Yield tick batches until the data ends or ``stop`` is set."""

    def close(self) -> None:
        """Release sockets and files."""

    def history(self, coin: str, count: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Recent (prices, timestamps) to warm strategies up before the first tick, if any."""
        return None

    def history_bars(self, coin: str) -> tuple[Pieces, float] | None:
        """Closed bars of ``coin`` before the first tick (and their length in seconds), for
        charts, if the feed has any (Binance's warm-up klines)."""
        return None
