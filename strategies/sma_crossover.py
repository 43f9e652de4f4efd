"""SMA crossover: trend following on two simple moving averages."""

from velocitas_desktop.core.indicators import SMA
from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below
from velocitas_desktop.core.strategy import Param, Strategy


class SMA_Crossover(Strategy):
    """Buy when the fast SMA crosses above the slow one; sell when it crosses below."""

    fast = Param(10, low=2, high=500, step=1, doc="prices in the fast average")
    slow = Param(30, low=3, high=2000, step=1, doc="prices in the slow average")
    constraints = ("fast < slow",)

    def init(self) -> None:
        self.fast_ma = self.indicator(SMA, self.fast)
        self.slow_ma = self.indicator(SMA, self.slow)

    def rule(self) -> Rule:
        return Rule(buy=crossed_above(self.fast_ma, self.slow_ma),
                    sell=crossed_below(self.fast_ma, self.slow_ma))
