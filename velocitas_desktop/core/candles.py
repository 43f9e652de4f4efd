"""Candles (OHLCV bars) at fixed intervals, built from ticks or from finer bars, a batch at a time.

Everything here works on numpy arrays, a batch at a time, never a Python loop per tick. Bars are
aligned to the epoch in UTC (a 1m bar starts at :00, a 1d bar at midnight) and a bar is named
by its start time. A tick is a *piece* of a bar (open = high = low = close = its price, volume 1:
simulated and trade feeds carry no size per tick, and the tick count is what a trader reads as
activity); so is a finer bar (a file's 1h bar is a piece of a 4h bar). Pieces of one interval
combine into its bar: the first open, the highest high, the lowest low, the last close, the
summed volume. That one rule serves ticks, the bars of a replayed file and a backfill alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["CandleSet", "Candles", "Pieces", "combine", "combine_ticks"]


@dataclass(frozen=True, slots=True)
class Pieces:
    """Parts of bars in time order: ``start`` (epoch seconds) and OHLCV columns."""

    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def where(self, keep: np.ndarray | slice) -> Pieces:
        """The pieces selected by a mask, an index array or a slice."""
        return Pieces(self.start[keep], self.open[keep], self.high[keep], self.low[keep],
                      self.close[keep], self.volume[keep])

    @staticmethod
    def empty() -> Pieces:
        return Pieces(*(np.zeros(0) for _ in range(6)))


def _buckets(stamps: np.ndarray, interval: float, not_before: float) -> np.ndarray:
    """The start of each stamp's bar; a stamp whose clock went backwards joins the bar it
    came after (never reopens an older one), so bars stay in time order."""
    buckets = np.floor(stamps / interval) * interval
    if not_before > -math.inf:
        buckets = np.maximum(buckets, not_before)
    return np.maximum.accumulate(buckets)


def _runs(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal buckets starts and ends (exclusive). Written out rather than
    with np.r_, which cost ~25 µs a call: a third of a batch's work at the coarse intervals."""
    count = buckets.shape[0]
    change = np.empty(count, dtype=bool)
    change[0] = True
    np.not_equal(buckets[1:], buckets[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = count
    return starts, ends


def combine_ticks(prices: np.ndarray, stamps: np.ndarray, interval: float,
                  not_before: float = -math.inf) -> Pieces:
    """Ticks (in arrival order) as bars of ``interval``, each with its tick count as volume;
    a tick older than ``not_before`` joins the bar that starts there."""
    if prices.shape[0] == 0:
        return Pieces.empty()
    buckets = _buckets(stamps, interval, not_before)
    starts, ends = _runs(buckets)
    return Pieces(buckets[starts], prices[starts], np.maximum.reduceat(prices, starts),
                  np.minimum.reduceat(prices, starts), prices[ends - 1],
                  (ends - starts).astype(float))


def combine(pieces: Pieces, interval: float, not_before: float = -math.inf) -> Pieces:
    """Pieces (finer bars, or parts of bars) as bars of ``interval``."""
    if not len(pieces):
        return pieces
    buckets = _buckets(pieces.start, interval, not_before)
    starts, ends = _runs(buckets)
    if starts.shape[0] == len(pieces) and np.array_equal(buckets, pieces.start):
        return pieces  # already bars of this interval: nothing to combine
    return Pieces(buckets[starts], pieces.open[starts],
                  np.maximum.reduceat(pieces.high, starts),
                  np.minimum.reduceat(pieces.low, starts), pieces.close[ends - 1],
                  np.add.reduceat(pieces.volume, starts))


_COLUMNS = ("start", "open", "high", "low", "close", "volume")


class Candles:
    """The newest ``capacity`` bars at one interval, as numpy columns (read-only views).

    Appending is amortised O(new bars): the columns live in a buffer twice the capacity that is
    compacted once every ``capacity`` bars, never re-allocated per batch. ``version`` grows
    whenever bars change and ``closed_version`` when a bar is added, so a chart can redraw the
    finished bars rarely and the forming bar often; ``dropped`` counts the bars let go at the
    front (absolute index = ``dropped`` + position), and ``generation`` grows when bars were
    put in front or cleared, which invalidates every absolute index.
    """

    def __init__(self, interval: float, capacity: int = 5_000) -> None:
        if not interval > 0:
            raise ValueError("a candle interval must be positive")
        if capacity < 1:
            raise ValueError("candles need room for at least one bar")
        self.interval = float(interval)
        self.capacity = capacity
        self.whole_bars = False  # True: even the newest bar is complete (a file's own bars)
        self._buffer = np.zeros((6, 2 * capacity))
        self._begin = 0
        self._end = 0
        self.version = 0
        self.closed_version = 0
        self.generation = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._end - self._begin

    @property
    def times(self) -> np.ndarray:
        """Each bar's start time (epoch seconds)."""
        return self._buffer[0, self._begin:self._end]

    @property
    def open(self) -> np.ndarray:
        return self._buffer[1, self._begin:self._end]

    @property
    def high(self) -> np.ndarray:
        return self._buffer[2, self._begin:self._end]

    @property
    def low(self) -> np.ndarray:
        return self._buffer[3, self._begin:self._end]

    @property
    def close(self) -> np.ndarray:
        return self._buffer[4, self._begin:self._end]

    @property
    def volume(self) -> np.ndarray:
        return self._buffer[5, self._begin:self._end]

    @property
    def closed(self) -> int:
        """How many bars, from the oldest, are complete: all but the forming one."""
        return len(self) if self.whole_bars else max(len(self) - 1, 0)

    @property
    def last_time(self) -> float:
        return float(self._buffer[0, self._end - 1]) if len(self) else -math.inf

    def pieces(self) -> Pieces:
        """The bars as pieces (copies), e.g. to serve them to a view."""
        return Pieces(*(self._buffer[k, self._begin:self._end].copy() for k in range(6)))

    def add_ticks(self, prices: np.ndarray, stamps: np.ndarray) -> Pieces:
        """Fold ticks (in time order) into the bars; returns this batch's bars, the pieces a
        coarser interval is made from."""
        if self._within_last(stamps):
            return self._extend_last(float(prices[0]), float(prices.max()), float(prices.min()),
                                     float(prices[-1]), float(prices.shape[0]))
        bars = combine_ticks(prices, stamps, self.interval, self.last_time)
        self._merge(bars)
        return bars

    def add(self, pieces: Pieces) -> Pieces:
        """Fold pieces of bars (finer bars, in time order) into the bars; returns this batch's
        bars, as :meth:`add_ticks`."""
        if self._within_last(pieces.start):
            if len(pieces) == 1:  # the usual case: the batch's one bar of a finer interval
                return self._extend_last(float(pieces.open[0]), float(pieces.high[0]),
                                         float(pieces.low[0]), float(pieces.close[0]),
                                         float(pieces.volume[0]))
            return self._extend_last(float(pieces.open[0]), float(pieces.high.max()),
                                     float(pieces.low.min()), float(pieces.close[-1]),
                                     float(pieces.volume.sum()))
        bars = combine(pieces, self.interval, self.last_time)
        self._merge(bars)
        return bars

    # Most batches of a coarse interval (and many of a fine one, on a quiet feed) fall inside
    # the forming bar: then the bar is updated from a few scalars, without the arrays of
    # combine(), which made a batch of 70 ticks cost ~50 µs per interval instead of ~10.

    def _within_last(self, stamps: np.ndarray) -> bool:
        """Every stamp (in time order) belongs to the forming bar, or is older than it."""
        if not len(self) or not stamps.shape[0]:
            return False
        newest = math.floor(float(stamps[-1]) / self.interval) * self.interval
        return newest <= self._buffer[0, self._end - 1]

    def _extend_last(self, first: float, high: float, low: float, last: float,
                     volume: float) -> Pieces:
        buffer, end = self._buffer, self._end - 1
        if high > buffer[2, end]:
            buffer[2, end] = high
        if low < buffer[3, end]:
            buffer[3, end] = low
        buffer[4, end] = last
        buffer[5, end] += volume
        self.version += 1
        row = np.array([buffer[0, end], first, high, low, last, volume])
        return Pieces(row[0:1], row[1:2], row[2:3], row[3:4], row[4:5], row[5:6])

    def _merge(self, bars: Pieces) -> None:
        if not len(bars):
            return
        if len(self) and bars.start[0] == self._buffer[0, self._end - 1]:
            last = self._end - 1
            buffer = self._buffer
            buffer[2, last] = max(buffer[2, last], bars.high[0])
            buffer[3, last] = min(buffer[3, last], bars.low[0])
            buffer[4, last] = bars.close[0]
            buffer[5, last] += bars.volume[0]
            bars = bars.where(slice(1, None))
        if len(bars):
            self._append(bars)
            self.closed_version += 1
        self.version += 1

    def _append(self, bars: Pieces) -> None:
        count = len(bars)
        if count >= self.capacity:
            self.dropped += len(self) + count - self.capacity
            bars = bars.where(slice(count - self.capacity, None))
            count = self.capacity
            self._begin = self._end = 0
        elif self._end + count > self._buffer.shape[1]:
            keep = min(len(self), self.capacity - count)
            self.dropped += len(self) - keep
            self._buffer[:, :keep] = self._buffer[:, self._end - keep:self._end]
            self._begin, self._end = 0, keep
        for row, name in enumerate(_COLUMNS):
            self._buffer[row, self._end:self._end + count] = getattr(bars, name)
        self._end += count
        extra = len(self) - self.capacity
        if extra > 0:
            self._begin += extra
            self.dropped += extra

    def prepend(self, older: Pieces) -> None:
        """Put earlier bars (pieces of this interval or finer, oldest first) in front: those
        of the first bar's interval join it (its open is theirs, its close stays), later ones
        are ignored. Keeps the newest ``capacity`` bars."""
        if not len(older):
            return
        bars = combine(older, self.interval)
        if len(self):
            first = float(self._buffer[0, self._begin])
            bars = bars.where(bars.start <= first)
            if not len(bars):
                return
            if bars.start[-1] == first:
                begin = self._begin
                self._buffer[1, begin] = bars.open[-1]
                self._buffer[2, begin] = max(self._buffer[2, begin], bars.high[-1])
                self._buffer[3, begin] = min(self._buffer[3, begin], bars.low[-1])
                self._buffer[5, begin] += bars.volume[-1]
                bars = bars.where(slice(None, -1))
        columns = [np.r_[getattr(bars, name), self._buffer[row, self._begin:self._end]]
                   for row, name in enumerate(_COLUMNS)]
        self.clear()
        self._append(Pieces(*columns))
        self.dropped = 0
        self.closed_version += 1
        self.version += 1

    def clear(self) -> None:
        """Forget every bar."""
        self._begin = self._end = 0
        self.dropped = 0
        self.generation += 1
        self.version += 1
        self.closed_version += 1


class CandleSet:
    """One coin's candles at several intervals, all fed by one pass over each batch.

    Ticks become bars of each interval that has no finer interval dividing it; every other
    interval is made from this batch's bars of the coarsest interval that divides it (1m from
    15s, 1h from 15m...), so a batch costs one pass over its ticks plus a few small arrays,
    however many intervals are kept. A replay of bar files feeds its bars instead
    (:meth:`add_bars`): then only the file's own length and its multiples can be shown, and
    :meth:`series_for` answers a finer interval with the file's own bars.
    """

    def __init__(self, intervals: Iterable[float], capacity: int = 5_000) -> None:
        self.capacity = capacity
        self.intervals = sorted({float(i) for i in intervals})
        self.bar_seconds: float | None = None  # the length of the bars fed; None: ticks
        self.first_time: float | None = None   # the first price's time (for a backfill)
        self._build(self.intervals)

    def _build(self, intervals: list[float]) -> None:
        self.series = {interval: Candles(interval, self.capacity) for interval in intervals}
        self._plan = [(interval, _source(interval, intervals[:i]))
                      for i, interval in enumerate(intervals)]

    def __getitem__(self, interval: float) -> Candles:
        return self.series[interval]

    @property
    def fed(self) -> list[float]:
        """The intervals whose candles this set builds, shortest first."""
        return [interval for interval, _ in self._plan]

    def series_for(self, interval: float) -> Candles:
        """The candles to show for ``interval``: its own, or the file's bars when they are
        longer than it or do not divide it."""
        series = self.series.get(float(interval))
        if series is not None and float(interval) in self.fed:
            return series
        if self.bar_seconds is not None:
            return self.series[self.bar_seconds]
        return self.series[min(self.series, key=lambda i: abs(i - interval))]

    def add_ticks(self, prices: np.ndarray, stamps: np.ndarray) -> None:
        if not prices.shape[0]:
            return
        if self.first_time is None:
            self.first_time = float(stamps[0])
        made: dict[float, Pieces] = {}
        for interval, source in self._plan:
            series = self.series[interval]
            made[interval] = (series.add_ticks(prices, stamps) if source is None
                              else series.add(made[source]))

    def add_bars(self, bars: Pieces, seconds: float) -> None:
        """Closed bars of ``seconds`` each (a replayed file's), in time order."""
        if not len(bars):
            return
        if self.bar_seconds != seconds:
            self.use_bars(float(seconds))
        if self.first_time is None:
            self.first_time = float(bars.start[0])
        made: dict[float, Pieces] = {}
        for interval, source in self._plan:
            series = self.series[interval]
            made[interval] = series.add(bars if source is None else made[source])

    def use_bars(self, seconds: float) -> None:
        """From now on the set is fed bars of ``seconds``: it keeps those and each kept
        interval that is a whole multiple of them."""
        self.bar_seconds = seconds
        multiples = [i for i in self.intervals if i > seconds and _divides(seconds, i)]
        # the file's own bars come straight in; each multiple from the coarsest that divides it
        self._build([seconds, *multiples])
        self.series[seconds].whole_bars = True

    def backfill(self, bars: Pieces, seconds: float) -> None:
        """Earlier bars of ``seconds`` each (oldest first), put in front of every fed interval
        they can make. Only bars that end by the first price this set saw are used, so no
        price is counted twice."""
        if not len(bars):
            return
        if self.first_time is not None:
            bars = bars.where(bars.start + seconds <= self.first_time)
        for interval in self.fed:
            if interval >= seconds and _divides(seconds, interval):
                self.series[interval].prepend(bars)

    def clear(self) -> None:
        """Forget every bar (a new session): ticks feed it again until bars come."""
        self.bar_seconds = None
        self.first_time = None
        self._build(self.intervals)


def _divides(short: float, long: float) -> bool:
    ratio = long / short
    return abs(ratio - round(ratio)) < 1e-9


def _source(interval: float, shorter: list[float]) -> float | None:
    """The coarsest of ``shorter`` that divides ``interval``, or None (made from ticks)."""
    divisors = [s for s in shorter if _divides(s, interval)]
    return max(divisors) if divisors else None
