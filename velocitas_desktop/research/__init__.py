"""Research: backtests of the live strategy code over bar files, and parameter optimisation."""

from velocitas_desktop.research.backtest import (
    BacktestError,
    BacktestResult,
    BarSeries,
    backtest,
    load_bars,
)
from velocitas_desktop.research.optimize import (
    JobStatus,
    LookaheadReport,
    OptimizationJob,
    OptimizeError,
    OptimizeSettings,
    lookahead_check,
    parse_range,
)
from velocitas_desktop.research.ranking import METRICS, RankingMetric

__all__ = [
    "METRICS",
    "BacktestError",
    "BacktestResult",
    "BarSeries",
    "JobStatus",
    "LookaheadReport",
    "OptimizationJob",
    "OptimizeError",
    "OptimizeSettings",
    "RankingMetric",
    "backtest",
    "load_bars",
    "lookahead_check",
    "parse_range",
]
