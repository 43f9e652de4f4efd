"""RSI mean reversion: buy oversold dips, sell overbought rallies."""

from velocitas_desktop.core import indicators
from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below
from velocitas_desktop.core.strategy import Param, Strategy


class RSI(Strategy):
    """Buy when Wilder's RSI crosses below oversold; sell when it crosses above overbought."""

    period = Param(14, low=2, high=500, step=1, doc="prices in Wilder's RSI")
    oversold = Param(30.0, low=0.0, high=100.0, step=5.0, doc="buy when RSI falls below this")
    overbought = Param(70.0, low=0.0, high=100.0, step=5.0, doc="sell when RSI rises above this")
    constraints = ("oversold < overbought",)

    def init(self) -> None:
        self.rsi = self.indicator(indicators.RSI, self.period)

    def rule(self) -> Rule:
        return Rule(buy=crossed_below(self.rsi, self.oversold),
                    sell=crossed_above(self.rsi, self.overbought))
