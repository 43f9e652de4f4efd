"""SMA crossover: trend following on two simple moving averages."""

from velocitas_desktop.core.indicators import SMA
from velocitas_desktop.core.strategy import Crossover, Param, Strategy


class SMA_Crossover(Strategy):
    """Buy when the fast SMA crosses above the slow one; sell when it crosses below."""

    fast = Param(10, low=2, high=500, step=1, doc="prices in the fast average")
    slow = Param(30, low=3, high=2000, step=1, doc="prices in the slow average")
    constraints = ("fast < slow",)

    def init(self) -> None:
        self.fast_ma = self.indicator(SMA, self.fast)
        self.slow_ma = self.indicator(SMA, self.slow)
        self.cross = Crossover()

    def next(self):
        crossing = self.cross.update(self.fast_ma.value, self.slow_ma.value)
        if crossing > 0:
            return self.buy()
        if crossing < 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        """The same signals as ``next`` on each price, computed a batch at a time."""
        return self.cross.update_many(self.fast_ma.update_many(prices),
                                      self.slow_ma.update_many(prices))
