"""Builds time bars from ticks: a bar closes when the first tick of a later interval arrives."""

from __future__ import annotations

import math

from velocitas_desktop.core.types import Bar


class BarBuilder:
    """Aggregates ticks into bars of ``seconds`` aligned to the epoch (``1m`` bars start at :00).

    :meth:`push` returns the bar that a tick closed, or None. A bar is only emitted once a tick
    of a later interval proves it complete; the last, still open bar is :attr:`current`.
    """

    __slots__ = ("close", "count", "high", "low", "open", "seconds", "start", "volume")

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError("a bar interval must be positive")
        self.seconds = seconds
        self.start = math.nan
        self.open = self.high = self.low = self.close = math.nan
        self.volume = 0.0
        self.count = 0

    def push(self, price: float, timestamp: float, volume: float = 0.0) -> Bar | None:
        start = math.floor(timestamp / self.seconds) * self.seconds
        if start == self.start:
            if price > self.high:
                self.high = price
            elif price < self.low:
                self.low = price
            self.close = price
            self.volume += volume
            self.count += 1
            return None
        closed = None
        # a tick older than the open bar (out of order) is folded into the open bar
        if self.count and start < self.start:
            self.close = price
            self.high = max(self.high, price)
            self.low = min(self.low, price)
            return None
        if self.count:
            closed = Bar(self.start, self.start + self.seconds, self.open, self.high, self.low,
                         self.close, self.volume)
        self.start = start
        self.open = self.high = self.low = self.close = price
        self.volume = volume
        self.count = 1
        return closed

    @property
    def current(self) -> Bar | None:
        if not self.count:
            return None
        return Bar(self.start, self.start + self.seconds, self.open, self.high, self.low,
                   self.close, self.volume)
