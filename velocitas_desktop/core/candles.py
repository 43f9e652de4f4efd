"""Candles (OHLC and a volume) at a fixed interval, built from ticks a batch at a time (numpy).

Volume is the number of ticks in the bar: simulated and trade feeds carry no size per tick,
and the tick count is what a trader reads as activity.
"""

from __future__ import annotations

import numpy as np


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
