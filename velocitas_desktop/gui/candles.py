"""Candles built from ticks at a chosen interval, a batch at a time (numpy, no Qt).

Volume is the number of ticks in the bar: simulated and trade feeds carry no size per tick,
and the tick count is what a trader reads as activity.
"""

from __future__ import annotations

import numpy as np

from velocitas_desktop.core.types import INTERVAL_SECONDS

# The chart's choice of candle intervals, in seconds.
INTERVALS: dict[str, float] = {name: float(INTERVAL_SECONDS[name])
                               for name in ("1s", "5s", "15s", "1m", "5m", "15m", "1h")}


class CandleSeries:
    """OHLC + tick count per interval for one coin; keeps the newest ``capacity`` bars.

    ``version`` grows whenever bars change and ``closed_version`` only when a bar closes,
    so a chart can redraw the finished bars rarely and the forming bar often.
    """

    def __init__(self, interval: float, capacity: int = 3000) -> None:
        self.interval = float(interval)
        self.capacity = capacity
        self.times = np.zeros(0)
        self.open = np.zeros(0)
        self.high = np.zeros(0)
        self.low = np.zeros(0)
        self.close = np.zeros(0)
        self.volume = np.zeros(0)
        self.version = 0
        self.closed_version = 0
        self.dropped = 0  # bars dropped at the front (capacity), so indices can be mapped

    def __len__(self) -> int:
        return int(self.times.shape[0])

    def add(self, prices: np.ndarray, stamps: np.ndarray) -> None:
        """Fold ticks (in time order) into the bars."""
        if prices.shape[0] == 0:
            return
        buckets = np.floor(stamps / self.interval) * self.interval
        # ticks whose clock went backwards join the current bar rather than reopening one
        if len(self):
            buckets = np.maximum(buckets, self.times[-1])
        buckets = np.maximum.accumulate(buckets)
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        times = buckets[starts]
        opens = prices[starts]
        highs = np.maximum.reduceat(prices, starts)
        lows = np.minimum.reduceat(prices, starts)
        closes = prices[np.r_[starts[1:] - 1, prices.shape[0] - 1]]
        counts = np.diff(np.r_[starts, prices.shape[0]]).astype(float)
        if len(self) and times[0] == self.times[-1]:
            self.high[-1] = max(self.high[-1], highs[0])
            self.low[-1] = min(self.low[-1], lows[0])
            self.close[-1] = closes[0]
            self.volume[-1] += counts[0]
            times, opens, highs, lows, closes, counts = (
                a[1:] for a in (times, opens, highs, lows, closes, counts))
        if times.shape[0]:
            self.times = np.r_[self.times, times]
            self.open = np.r_[self.open, opens]
            self.high = np.r_[self.high, highs]
            self.low = np.r_[self.low, lows]
            self.close = np.r_[self.close, closes]
            self.volume = np.r_[self.volume, counts]
            self.closed_version += 1
            self._trim()
        self.version += 1

    def _trim(self) -> None:
        extra = len(self) - self.capacity
        if extra > 0:
            self.dropped += extra
            for name in ("times", "open", "high", "low", "close", "volume"):
                setattr(self, name, getattr(self, name)[extra:].copy())


class TickRing:
    """The newest ``capacity`` ticks of one coin, so candles can be rebuilt at a new interval."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self.prices = np.zeros(capacity)
        self.stamps = np.zeros(capacity)
        self.count = 0  # ticks ever added

    def add(self, prices: np.ndarray, stamps: np.ndarray) -> None:
        n = prices.shape[0]
        if n >= self.capacity:
            prices, stamps = prices[-self.capacity:], stamps[-self.capacity:]
            self.count += n - self.capacity
            n = self.capacity
        start = self.count % self.capacity
        first = min(n, self.capacity - start)
        self.prices[start:start + first] = prices[:first]
        self.stamps[start:start + first] = stamps[:first]
        self.prices[: n - first] = prices[first:]
        self.stamps[: n - first] = stamps[first:]
        self.count += n

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Kept ticks, oldest first."""
        if self.count <= self.capacity:
            return self.prices[: self.count].copy(), self.stamps[: self.count].copy()
        start = self.count % self.capacity
        order = np.r_[start:self.capacity, 0:start]
        return self.prices[order], self.stamps[order]
