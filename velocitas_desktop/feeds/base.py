"""What every market-data feed provides to the engine: batches of ticks and a state."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

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
class TickBatch:
    """Ticks in arrival order: ``coin_ids`` index into the feed's ``coins`` list.

    Arrays, not objects: a batch costs a few allocations whatever its size.
    """

    coin_ids: np.ndarray    # int16
    prices: np.ndarray      # float64
    timestamps: np.ndarray  # float64 epoch seconds
    received: float = 0.0   # time.perf_counter() when the feed produced it (for latency)

    def __len__(self) -> int:
        return int(self.prices.shape[0])

    @staticmethod
    def concat(batches: list[TickBatch]) -> TickBatch:
        if len(batches) == 1:
            return batches[0]
        return TickBatch(
            np.concatenate([b.coin_ids for b in batches]),
            np.concatenate([b.prices for b in batches]),
            np.concatenate([b.timestamps for b in batches]),
            batches[0].received,
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
