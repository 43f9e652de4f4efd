"""MACD: trend following on the MACD line against its signal line."""

from velocitas_desktop.core import indicators
from velocitas_desktop.core.strategy import Crossover, Param, Strategy


class MACD(Strategy):
    """Buy when the MACD line crosses above its signal line; sell when it crosses below."""

    fast = Param(12, low=2, high=500, step=1, doc="prices in the fast EMA")
    slow = Param(26, low=3, high=1000, step=1, doc="prices in the slow EMA")
    signal = Param(9, low=1, high=500, step=1, doc="MACD values in the signal EMA")
    constraints = ("fast < slow",)

    def init(self) -> None:
        self.macd = self.indicator(indicators.MACD, self.fast, self.slow, self.signal)
        self.cross = Crossover()

    def next(self):
        crossing = self.cross.update(self.macd.macd, self.macd.signal)
        if crossing > 0:
            return self.buy()
        if crossing < 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        """The same signals as ``next`` on each price, computed a batch at a time."""
        line, signal, _ = self.macd.update_many(prices)
        return self.cross.update_many(line, signal)
