"""Clocks for the fake exchange, so its minutes and rate-limit windows turn when a test says."""

from __future__ import annotations

import time


class ManualClock:
    """Epoch ms that move only when a test (or a sleep handed to the code under test) moves
    them: nothing waits in real time."""

    def __init__(self, start_ms: int) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


class JumpClock:
    """Wall time in epoch ms plus an offset a test jumps forward, for code that really sleeps
    (a feed's socket, another process)."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)
