"""Helpers of the research tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from velocitas_desktop.research.backtest import BarSeries
from velocitas_desktop.research.optimize import SharedBars, attach_bars

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "data" / "BTCUSD-1h-sample.csv"


def random_walk(n: int, seed: int, tick: float | None = None) -> BarSeries:
    """Hourly closes of a seeded random walk; ``tick`` rounds prices (which makes SMA ties)."""
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    if tick is not None:
        prices = np.maximum(np.round(prices / tick) * tick, tick)
    stamps = 1_600_000_000.0 + 3600.0 * np.arange(1, n + 1)
    return BarSeries.from_arrays(prices, stamps)


def bars_as_a_worker_holds_them(shared: SharedBars) -> dict[str, Any]:
    """What a worker process holds for ``shared``: whether it is a read-only map of the file
    (no copy) and the data it reads. Runs in the worker, so it lives in an importable module."""
    prices = attach_bars(shared).prices
    return {"pid": os.getpid(), "is_memmap": isinstance(prices, np.memmap),
            "filename": getattr(prices, "filename", None), "owns_data": prices.flags.owndata,
            "writeable": prices.flags.writeable, "first": float(prices[0]),
            "sum": float(np.sum(prices))}
