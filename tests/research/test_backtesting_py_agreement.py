"""SMA_Crossover agrees trade for trade with backtesting.py on real data (test-only library).

How the two are made to run the same rule (each point checked below, not assumed):

* Fills: backtesting.py with ``trade_on_close=True`` fills a market order placed in ``next()``
  at that bar's close and records the bar as the entry/exit bar, as our backtester does.
* Size: ``buy(size=1)`` buys one whole unit, as our ``quantity=1`` does (by default ours
  sizes a position by the starting cash instead). The cash is large (1e9) so that no order
  is ever cut for margin.
* Fees: its ``commission`` is charged on entry and on exit at the fill price
  (``|size| × price × rate``) and a trade's ``PnL`` is ``size × (exit − entry) − both
  commissions``: our ledger's fee and P&L rule. P&L is compared to 1e-9 (the two sum the same
  terms in a different order). Its ``spread`` moves only the entry price (exits fill at the
  raw close) while our slippage moves both, so the comparison uses no spread/slippage.
* Averages: backtesting.py's strategy uses pandas ``rolling(n).mean()``, computed apart from
  ours (a running sum), so agreement also checks our SMA.
* Crossing: ``backtesting.lib.crossover`` needs ``a < b`` on the previous bar and ``a > b`` on
  this one; ours remembers the last non-zero sign across bars where ``a == b``. They differ
  only after an exact tie, so the test asserts that the data has none for the windows used.
* End of data: backtesting.py cannot fill an order placed on the last bar and drops a trade
  still open at the end (``finalize_trades=False``); closed trades are compared, and ours may
  add one last open entry.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtStrategy
from backtesting.lib import crossover
from backtesting.test import BTCUSD, GOOG
from research_helpers import SAMPLE

from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.research.backtest import BarSeries, backtest

FEE = 0.001


def _rolling_mean(values: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(values).rolling(n).mean().to_numpy()


class LongOnlySmaCross(BtStrategy):
    fast = 10
    slow = 20

    def init(self) -> None:
        self.fast_ma = self.I(_rolling_mean, self.data.Close, self.fast)
        self.slow_ma = self.I(_rolling_mean, self.data.Close, self.slow)

    def next(self) -> None:
        if crossover(self.fast_ma, self.slow_ma):
            if not self.position:
                self.buy(size=1)
        elif crossover(self.slow_ma, self.fast_ma) and self.position:
            self.position.close()


def _sample_frame() -> pd.DataFrame:
    bars = load_ohlcv(SAMPLE)
    return pd.DataFrame({"Open": bars.open, "High": bars.high, "Low": bars.low,
                         "Close": bars.close, "Volume": bars.volume},
                        index=pd.to_datetime(bars.timestamp, unit="s"))


DATASETS = {"bundled BTCUSD-1h sample": _sample_frame, "backtesting.py GOOG": lambda: GOOG,
            "backtesting.py BTCUSD": lambda: BTCUSD}
WINDOWS = {"bundled BTCUSD-1h sample": [(10, 20), (5, 30), (20, 50)],
           "backtesting.py GOOG": [(10, 20), (5, 30), (20, 50)],
           "backtesting.py BTCUSD": [(2, 5), (3, 8), (4, 12)]}  # 136 monthly bars


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_sma_crossover_trades_equal_backtesting_py(dataset):
    frame = DATASETS[dataset]()
    closes = frame["Close"].to_numpy(dtype=float)
    stamps = frame.index.asi8 / 1e9 + 86400.0  # close times; the values do not matter here
    checked = 0
    for fast, slow in WINDOWS[dataset]:
        gap = _rolling_mean(closes, fast) - _rolling_mean(closes, slow)
        assert not np.any(gap == 0.0), "an exact tie: the two crossing rules would differ"

        run = Backtest(frame, LongOnlySmaCross, cash=1e9, commission=FEE,
                       trade_on_close=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its note about the trade left open at the end
            theirs = run.run(fast=fast, slow=slow)._trades

        ours = backtest("SMA_Crossover", BarSeries.from_arrays(closes, stamps),
                        {"fast": fast, "slow": slow, "quantity": 1.0}, fee=FEE)
        bars, trades = ours.fill_bars.tolist(), ours.trades
        closed = len(theirs)
        assert len(trades) in (2 * closed, 2 * closed + 1)
        assert [t.action for t in trades] == ["BUY", "SELL"] * closed + ["BUY"] * (
            len(trades) - 2 * closed)
        assert bars[0:2 * closed:2] == theirs["EntryBar"].tolist()
        assert bars[1:2 * closed:2] == theirs["ExitBar"].tolist()
        assert [t.price for t in trades[0:2 * closed:2]] == theirs["EntryPrice"].tolist()
        assert [t.price for t in trades[1:2 * closed:2]] == theirs["ExitPrice"].tolist()
        assert [t.profit_loss for t in trades[1:2 * closed:2]] == pytest.approx(
            theirs["PnL"].tolist(), rel=1e-12, abs=1e-9)
        checked += closed
    assert checked >= 5
