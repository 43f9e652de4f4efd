"""The window's candles: every interval a strategy may decide on, kept per coin (numpy, no Qt)."""

from __future__ import annotations

from velocitas_desktop.core.candles import CandleSet
from velocitas_desktop.core.types import INTERVAL_SECONDS, TIMEFRAMES

# The chart offers every bar interval a strategy may decide on, 1s to 1d, so a strategy's
# indicators can be drawn on the very bars it decides on.
INTERVALS: dict[str, float] = {name: float(seconds) for name, seconds in TIMEFRAMES.items()}
DEFAULT_INTERVAL = "1m"  # the strategy form's default timeframe, and the ready set's
# Bars kept per interval and coin: 83 minutes of 1s bars, 3.5 days of 1m, 208 days of 1h,
# 13 years of 1d; 16 intervals x 6 columns x 8 bytes x twice this (the growth buffer) is
# 7.7 MB a coin.
CANDLES_KEPT = 5_000


def coin_candles() -> CandleSet:
    """A coin's candles at every interval the chart offers."""
    return CandleSet(INTERVALS.values(), capacity=CANDLES_KEPT)


def interval_name(seconds: float) -> str:
    """``3600`` -> ``1h``: the name of a bar length, or its seconds when it has none."""
    for name, length in INTERVAL_SECONDS.items():
        if length == seconds:
            return name
    return f"{seconds:g}s"
