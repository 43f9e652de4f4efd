"""Momentum: follow the rate of change once it clears a threshold."""

import numpy as np

from velocitas_desktop.core.indicators import ROC
from velocitas_desktop.core.strategy import Crossover, Param, Strategy


class Momentum(Strategy):
    """Buy when the rate of change crosses above +threshold %; sell when it crosses below −threshold %."""

    period = Param(20, low=1, high=1000, step=1, doc="prices back for the rate of change")
    threshold = Param(0.0, low=0.0, high=100.0, step=0.1, doc="percent the change must clear")

    def init(self) -> None:
        self.roc = self.indicator(ROC, self.period)
        self.rise = Crossover()
        self.fall = Crossover()

    def next(self):
        rose = self.rise.update(self.roc.value, self.threshold)
        fell = self.fall.update(self.roc.value, -self.threshold)
        if rose > 0:
            return self.buy()
        if fell < 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        """The same signals as ``next`` on each price, computed a batch at a time."""
        roc = self.roc.update_many(prices)
        rose = self.rise.update_many(roc, self.threshold)
        fell = self.fall.update_many(roc, -self.threshold)
        return np.where(rose > 0, 1, np.where(fell < 0, -1, 0))
