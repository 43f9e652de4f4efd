"""Latency statistics of the live engine: recent samples in rings, summarised as percentiles."""

from __future__ import annotations

import numpy as np

from velocitas_desktop.feeds.base import TickBatch


class Ring:
    """The last ``size`` samples in a numpy array: appends and percentiles stay cheap."""

    __slots__ = ("count", "values")

    def __init__(self, size: int) -> None:
        self.values = np.empty(size)
        self.count = 0

    def append(self, value: float) -> None:
        self.values[self.count % self.values.shape[0]] = value
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.values.shape[0])

    def __iter__(self):  # oldest first is not needed: callers take percentiles
        return iter(self.values[: len(self)].tolist())

    def percentile(self, q: float) -> float | None:
        n = len(self)
        return float(np.percentile(self.values[:n], q)) if n else None


class LatencyStats:
    """Recent latencies in milliseconds, from the moment the feed produced a tick:
    to its fill in the ledger (``fills``), to the fill being journaled and published
    (``published``), and to a whole batch being journaled and published (``batches``)."""

    def __init__(self) -> None:
        self.fills = Ring(20_000)
        self.published = Ring(20_000)
        self.batches = Ring(5_000)

    @staticmethod
    def add(into: Ring, now: float, batches: list[TickBatch], positions: list[int]) -> None:
        starts = np.cumsum([0] + [len(b) for b in batches])
        # a sample of each batch's fills is enough for percentiles, and keeps this cheap
        for position in positions[:: max(1, len(positions) // 64)]:
            index = int(np.searchsorted(starts, position, side="right")) - 1
            received = batches[index].received
            if received:
                into.append((now - received) * 1000.0)

    def add_batch(self, now: float, received: float) -> None:
        if received:
            self.batches.append((now - received) * 1000.0)

    def summary(self) -> dict[str, float | None]:
        return {"tick_to_fill_p50": self.fills.percentile(50),
                "tick_to_fill_p99": self.fills.percentile(99),
                "tick_to_published_p50": self.published.percentile(50),
                "tick_to_published_p99": self.published.percentile(99),
                "batch_p50": self.batches.percentile(50), "batch_p99": self.batches.percentile(99)}
