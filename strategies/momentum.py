"""Momentum: follow the rate of change once it clears a threshold."""

from velocitas_desktop.core.indicators import ROC
from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below
from velocitas_desktop.core.strategy import Param, Strategy


class Momentum(Strategy):
    """Buy when the rate of change crosses above +threshold %; sell when it crosses below −threshold %."""

    period = Param(20, low=1, high=1000, step=1, doc="prices back for the rate of change")
    threshold = Param(0.0, low=0.0, high=100.0, step=0.1, doc="percent the change must clear")

    def init(self) -> None:
        self.roc = self.indicator(ROC, self.period)

    def rule(self) -> Rule:
        return Rule(buy=crossed_above(self.roc, self.threshold),
                    sell=crossed_below(self.roc, -self.threshold))
