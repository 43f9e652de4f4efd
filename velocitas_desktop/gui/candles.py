"""The chart's candle intervals, and the newest ticks kept to rebuild candles (numpy, no Qt)."""

from __future__ import annotations

import numpy as np

from velocitas_desktop.core.types import INTERVAL_SECONDS

# The chart's choice of candle intervals, in seconds.
INTERVALS: dict[str, float] = {name: float(INTERVAL_SECONDS[name])
                               for name in ("1s", "5s", "15s", "1m", "5m", "15m", "1h")}


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
