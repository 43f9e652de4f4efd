"""Recent prices per coin, kept to warm up strategies that are created mid-run."""

from __future__ import annotations

import numpy as np


class PriceHistory:
    """The last ``capacity`` (price, timestamp) pairs of one coin, in a circular buffer."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.prices = np.empty(capacity)
        self.stamps = np.empty(capacity)
        self.size = 0
        self.head = 0  # where the next price goes

    def extend(self, prices: np.ndarray, stamps: np.ndarray) -> None:
        count = prices.shape[0]
        if count >= self.capacity:
            self.prices[:] = prices[-self.capacity:]
            self.stamps[:] = stamps[-self.capacity:]
            self.head, self.size = 0, self.capacity
            return
        first = min(count, self.capacity - self.head)
        self.prices[self.head:self.head + first] = prices[:first]
        self.stamps[self.head:self.head + first] = stamps[:first]
        rest = count - first
        if rest:
            self.prices[:rest] = prices[first:]
            self.stamps[:rest] = stamps[first:]
        self.head = (self.head + count) % self.capacity
        self.size = min(self.capacity, self.size + count)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(prices, timestamps), oldest first: copies, safe to hand to another process."""
        if self.size < self.capacity:
            return self.prices[:self.size].copy(), self.stamps[:self.size].copy()
        order = np.r_[self.head:self.capacity, 0:self.head]
        return self.prices[order], self.stamps[order]
