"""The csv feed: replays bar files, one per coin, at 1×, N× or maximum speed.

Strategies receive each bar as prices (its close, or its open-high-low-close path), as they
always have; each batch also carries the bars its prices close, for charts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from velocitas_desktop.core.strategy import check_coin
from velocitas_desktop.feeds.base import (
    BAR_FIELDS,
    BarBatch,
    Feed,
    FeedError,
    FeedState,
    TickBatch,
)
from velocitas_desktop.feeds.csvdata import OHLCV, DataFileError, load_ohlcv

CHUNK = 4096


def bar_ticks(bars: OHLCV, ohlc_path: bool) -> tuple[np.ndarray, np.ndarray]:
    """(prices, timestamps) a file replays as: each bar's close at its close time, or the
    open-high-low-close path (low before high on a rising bar, high before low on a falling
    one) at the bar's open, one and two thirds, and close time."""
    if not ohlc_path:
        return bars.close.copy(), bars.close_time.copy()
    start = bars.timestamp
    length = bars.close_time - start
    rising = bars.close >= bars.open
    first = np.where(rising, bars.low, bars.high)
    second = np.where(rising, bars.high, bars.low)
    prices = np.column_stack([bars.open, first, second, bars.close]).ravel()
    stamps = np.column_stack([start, start + length / 3, start + 2 * length / 3,
                              bars.close_time]).ravel()
    return prices, stamps


class CsvFeed(Feed):
    """Replays ``files`` (coin → path) merged in time order; ends at the end of the data."""

    name = "csv"
    replay = True

    def __init__(self, files: dict[str, str], speed: float | None = None,
                 ohlc_path: bool = False, max_ticks: int | None = None) -> None:
        if not files:
            raise FeedError("the csv source needs a file per coin, e.g. --csv BTC=btc.csv")
        coins = [check_coin(c) for c in files]
        super().__init__(coins)
        self.files = {check_coin(c): str(p) for c, p in files.items()}
        self.speed = speed
        self.ohlc_path = ohlc_path
        self.max_ticks = max_ticks
        self.bars: dict[str, OHLCV] = {}
        self._coin_ids = np.empty(0, dtype=np.int16)
        self._prices = np.empty(0)
        self._stamps = np.empty(0)
        self._bar_at = np.zeros(0, dtype=np.int64)  # the replayed price closing each bar
        self._bars = BarBatch(*(np.zeros(0) for _ in range(8)))

    def open(self) -> None:
        """Load and check every file before the run starts (DataFileError names the line)."""
        ids, prices, stamps = [], [], []
        for index, coin in enumerate(self.coins):
            try:
                bars = load_ohlcv(self.files[coin])
            except DataFileError as exc:
                raise FeedError(str(exc)) from exc
            except OSError as exc:
                raise FeedError(f"cannot read {self.files[coin]}: {exc.strerror or exc}") from exc
            self.bars[coin] = bars
            p, t = bar_ticks(bars, self.ohlc_path)
            ids.append(np.full(p.shape[0], index, dtype=np.int16))
            prices.append(p)
            stamps.append(t)
        stamp_all = np.concatenate(stamps)
        order = np.argsort(stamp_all, kind="stable")
        self._coin_ids = np.concatenate(ids)[order]
        self._prices = np.concatenate(prices)[order]
        self._stamps = stamp_all[order]
        self._bar_at, self._bars = self._bars_by_close(order, [p.shape[0] for p in prices])
        if self.max_ticks is not None:
            self._coin_ids = self._coin_ids[: self.max_ticks]
            self._prices = self._prices[: self.max_ticks]
            self._stamps = self._stamps[: self.max_ticks]
            kept = int(np.searchsorted(self._bar_at, self.max_ticks))
            self._bar_at, self._bars = self._bar_at[:kept], self._bars.part(0, kept)

    def _bars_by_close(self, order: np.ndarray, counts: list[int]
                       ) -> tuple[np.ndarray, BarBatch]:
        """Every bar of known length, in the order of the replayed price that closes it, with
        that price's position: a batch carries the bars its prices close."""
        position = np.empty_like(order)
        position[order] = np.arange(order.shape[0])
        per_bar = 4 if self.ohlc_path else 1
        at, parts, offset = [], [], 0
        for index, coin in enumerate(self.coins):
            bars = self.bars[coin]
            if bars.interval is not None:  # one plain bar alone has no known length
                closing = offset + per_bar * np.arange(len(bars.close)) + per_bar - 1
                at.append(position[closing])
                count = len(bars.close)
                parts.append(BarBatch(np.full(count, index, dtype=np.int16),
                                      np.full(count, float(bars.interval)), bars.timestamp,
                                      bars.open, bars.high, bars.low, bars.close, bars.volume))
            offset += counts[index]
        if not parts:
            return np.zeros(0, dtype=np.int64), BarBatch(*(np.zeros(0) for _ in range(8)))
        where = np.concatenate(at)
        sort = np.argsort(where, kind="stable")
        joined = BarBatch.concat(parts) if len(parts) > 1 else parts[0]
        return where[sort], BarBatch(*(getattr(joined, name)[sort] for name in BAR_FIELDS))

    def __len__(self) -> int:
        return int(self._prices.shape[0])

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        total = len(self)
        self.on_status(FeedState.LIVE, f"replaying {total:,} prices from {len(self.files)} file(s)")
        start = 0
        began = time.perf_counter()
        first_stamp = float(self._stamps[0]) if total else 0.0
        while start < total and not stop.is_set():
            if self.speed is None:
                end = min(total, start + CHUNK)
            else:
                # everything whose data time is due at this replay speed
                elapsed = (time.perf_counter() - began) * self.speed
                end = int(np.searchsorted(self._stamps, first_stamp + elapsed, side="right"))
                end = min(end, start + CHUNK)
                if end <= start:
                    wait = (float(self._stamps[start]) - first_stamp) / self.speed
                    stop.wait(min(0.05, max(0.0005, wait - (time.perf_counter() - began))))
                    continue
            yield TickBatch(self._coin_ids[start:end], self._prices[start:end],
                            self._stamps[start:end], time.perf_counter(),
                            self._bars_closed(start, end))
            start = end
        if start >= total:
            self.on_status(FeedState.FINISHED, "end of the replayed data")

    def _bars_closed(self, start: int, end: int) -> BarBatch | None:
        """The bars whose closing price is among prices ``start`` to ``end``."""
        lo, hi = np.searchsorted(self._bar_at, (start, end))
        return self._bars.part(int(lo), int(hi)) if hi > lo else None
