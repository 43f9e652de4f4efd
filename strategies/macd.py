"""MACD: trend following on the MACD line against its signal line."""

from velocitas_desktop.core import indicators
from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below, line
from velocitas_desktop.core.strategy import Param, Strategy


class MACD(Strategy):
    """Buy when the MACD line crosses above its signal line; sell when it crosses below."""

    fast = Param(12, low=2, high=500, step=1, doc="prices in the fast EMA")
    slow = Param(26, low=3, high=1000, step=1, doc="prices in the slow EMA")
    signal = Param(9, low=1, high=500, step=1, doc="MACD values in the signal EMA")
    constraints = ("fast < slow",)

    def init(self) -> None:
        self.macd = self.indicator(indicators.MACD, self.fast, self.slow, self.signal)

    def rule(self) -> Rule:
        macd_line, signal_line = line(self.macd, "macd"), line(self.macd, "signal")
        return Rule(buy=crossed_above(macd_line, signal_line),
                    sell=crossed_below(macd_line, signal_line))
