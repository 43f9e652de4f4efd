"""The metrics an optimisation ranks by, declared once for the optimiser, window, API and CLI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RankingMetric:
    """A backtest statistic that ranks the combinations of a search, best first."""

    key: str                # the name in settings, in the API and after --metric
    title: str              # the name a trader reads in the window
    higher_is_better: bool
    fmt: str = ",.3f"       # how a score is shown in the window's results
    source: str = ""        # the backtest statistic it reads, when its name is not the key

    @property
    def stat(self) -> str:
        """The key of the backtest statistic (``BacktestResult.stats``) this metric reads."""
        return self.source or self.key


# in the order the window and the command line offer them
METRICS: dict[str, RankingMetric] = {metric.key: metric for metric in (
    RankingMetric("sharpe_ratio", "Sharpe ratio", True),
    RankingMetric("net_pnl", "Net P&L", True),
    RankingMetric("total_return", "Total return %", True, source="total_return_pct"),
    RankingMetric("max_drawdown", "Max drawdown", False),
    RankingMetric("profit_factor", "Profit factor", True),
    RankingMetric("sortino_ratio", "Sortino ratio", True),
    RankingMetric("calmar_ratio", "Calmar ratio", True),
    RankingMetric("expectancy", "Expectancy", True),
    RankingMetric("win_rate", "Win rate %", True),
    RankingMetric("max_drawdown_pct", "Max drawdown %", False),
    RankingMetric("final_equity", "Final equity", True),
)}
METRIC_KEYS: tuple[str, ...] = tuple(METRICS)
DEFAULT_METRIC = "sharpe_ratio"
