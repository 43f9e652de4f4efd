"""RSI mean reversion: buy oversold dips, sell overbought rallies."""

import numpy as np

from velocitas_desktop.core import indicators
from velocitas_desktop.core.strategy import Crossover, Param, Strategy


class RSI(Strategy):
    """Buy when Wilder's RSI crosses below oversold; sell when it crosses above overbought."""

    period = Param(14, low=2, high=500, step=1, doc="prices in Wilder's RSI")
    oversold = Param(30.0, low=0.0, high=100.0, step=5.0, doc="buy when RSI falls below this")
    overbought = Param(70.0, low=0.0, high=100.0, step=5.0, doc="sell when RSI rises above this")
    constraints = ("oversold < overbought",)

    def init(self) -> None:
        self.rsi = self.indicator(indicators.RSI, self.period)
        self.low_band = Crossover()
        self.high_band = Crossover()

    def next(self):
        below = self.low_band.update(self.rsi.value, self.oversold)
        above = self.high_band.update(self.rsi.value, self.overbought)
        if below < 0:
            return self.buy()
        if above > 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        """The same signals as ``next`` on each price, computed a batch at a time."""
        rsi = self.rsi.update_many(prices)
        below = self.low_band.update_many(rsi, self.oversold)
        above = self.high_band.update_many(rsi, self.overbought)
        return np.where(below < 0, 1, np.where(above > 0, -1, 0))
