"""The backtester: hand-computed reports, parity with the live engine, fast = incremental."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from research_helpers import SAMPLE, random_walk

from velocitas_desktop.catalog import load_catalog
from velocitas_desktop.core.ledger import Ledger
from velocitas_desktop.core.strategy import Param, Strategy
from velocitas_desktop.core.types import Action, Signal
from velocitas_desktop.research.backtest import BacktestError, BarSeries, backtest, load_bars
from velocitas_desktop.store.journal import Journal

BUILTINS = ["SMA_Crossover", "Momentum", "RSI", "MACD"]


class Scripted(Strategy):
    """Buys on bar ``buy_at`` and sells on bar ``sell_at`` (counted from 0)."""

    buy_at = Param(1, low=0, high=10_000, step=1)
    sell_at = Param(3, low=0, high=10_000, step=1)
    constraints = ("buy_at < sell_at",)

    def init(self) -> None:
        self.seen = -1

    def next(self):
        self.seen += 1
        if self.seen == self.buy_at:
            return self.buy()
        if self.seen == self.sell_at:
            return self.sell()
        return None


class OnlySells(Strategy):
    """Asks to sell on every price: long-only and flat, nothing ever fills."""

    def next(self):
        return self.sell()


def _bars(prices: list[float]) -> BarSeries:
    stamps = 3600.0 * np.arange(1, len(prices) + 1)
    return BarSeries.from_arrays(np.array(prices, dtype=float), stamps)


def test_round_trip_report_matches_the_hand_computed_numbers():
    bars = _bars([100, 101, 103, 102, 104])
    result = backtest(Scripted, bars, {"quantity": 2}, fee=0.001, cash=1000.0)
    # buy 2 @ 101 (fee 0.202), sell 2 @ 102 (fee 0.204): P&L 2 × 1 − 0.406 = 1.594
    buy, sell = result.trades
    assert (buy.action, buy.price, buy.timestamp) == ("BUY", 101.0, 7200.0)
    assert (sell.action, sell.price, sell.timestamp) == ("SELL", 102.0, 14400.0)
    assert (buy.fee, sell.fee) == pytest.approx((0.202, 0.204))
    assert sell.profit_loss == pytest.approx(1.594)
    expected = [1000.0, 999.798, 1000 + 2 * (103 - 101) - 0.202, 1001.594, 1001.594]
    assert result.equity == pytest.approx(expected)
    s = result.stats
    assert s["final_equity"] == pytest.approx(1001.594)
    assert s["total_return_pct"] == pytest.approx(0.1594)
    assert s["total_trades"] == 2 and s["closed_trades"] == 1 and s["win_rate"] == 100.0
    assert s["exposure_pct"] == pytest.approx(40.0)  # held after bars 1 and 2 of 5
    assert s["avg_trade_duration_s"] == 7200.0
    assert s["best_trade"] == s["worst_trade"] == pytest.approx(1.594)
    assert s["expectancy"] == pytest.approx(1.594)
    assert s["profit_factor"] == math.inf and result.to_json()["stats"]["profit_factor"] is None
    # the fall from 1003.798 to 1001.594 is the largest
    assert s["max_drawdown"] == pytest.approx(2.204)
    assert s["max_drawdown_pct"] == pytest.approx(2.204 / 1003.798 * 100)
    # five hours are one day: no Sharpe, and the report says why
    assert s["daily_returns"] == 1 and s["sharpe_ratio"] is None
    assert s["sharpe_note"] == "needs 30 daily returns, has 1"
    assert s["sortino_ratio"] is None and s["calmar_ratio"] is None


def test_sharpe_is_taken_on_the_daily_closes_of_the_account():
    # 40 days of hourly bars (the last closes at 23:00): buy on the second and hold
    hours = np.arange(40 * 24 - 1)
    prices = 100.0 + np.sin(hours / 30.0) * 5 + hours / 100
    result = backtest(Scripted, _bars(prices.tolist()), {"sell_at": 10_000}, fee=0.0,
                      cash=1_000.0)
    stamps, equity = 3600.0 * np.arange(1, prices.size + 1), result.equity
    closes = [1_000.0] + [equity[stamps < midnight][-1]
                          for midnight in 86_400.0 * np.arange(1, 40)] + [equity[-1]]
    returns = np.diff(closes) / np.array(closes[:-1])
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(365)
    assert result.stats["daily_returns"] == 40
    assert result.stats["sharpe_ratio"] == pytest.approx(expected, rel=1e-9)


def test_without_a_quantity_each_position_is_worth_the_starting_cash():
    result = backtest(Scripted, _bars([100, 125, 103, 102, 104]), fee=0.0, cash=1_000.0)
    buy, sell = result.trades
    assert (buy.quantity, sell.quantity) == (8.0, 8.0)  # 1,000 / 125
    assert result.stats["final_equity"] == pytest.approx(1_000 + 8 * (102 - 125))


def test_a_fill_on_the_first_bar_falls_from_the_starting_cash():
    result = backtest(Scripted, _bars([100, 100, 100]), {"buy_at": 0, "sell_at": 2},
                      fee=0.001, cash=1_000.0)
    # buying 10 at 100 pays a fee of 1: a fall of 1 from the 1,000 the account started with
    assert result.stats["max_drawdown"] == pytest.approx(2.0)  # both fees, at the close
    assert result.stats["max_drawdown_pct"] == pytest.approx(0.2)


def test_slippage_and_fee_follow_the_live_ledger():
    bars = _bars([100, 101, 103, 102, 104])
    result = backtest(Scripted, bars, {"quantity": 1}, fee=0.002, slippage=0.01)
    ledger = Ledger(fee_rate=0.002, slippage=0.01)
    ledger.open_book("BTC_Scripted", "BTC", "Scripted")
    live = [ledger.fill("BTC_Scripted", Signal(action, 1.0), price, stamp)
            for action, price, stamp in ((Action.BUY, 101.0, 7200.0),
                                         (Action.SELL, 102.0, 14400.0))]
    assert result.trades == live
    assert result.trades[0].price == pytest.approx(101 * 1.01)


def test_sells_while_flat_never_fill_on_either_path():
    for fast in (True, False):
        result = backtest(OnlySells, _bars([100, 101, 99, 98]), fast=fast)
        assert result.trades == [] and result.stats["final_equity"] == 10_000.0
        assert result.stats["exposure_pct"] == 0.0 and result.stats["profit_factor"] == 0.0


def test_an_open_position_is_valued_at_the_last_close():
    result = backtest(Scripted, _bars([100, 101, 103, 102, 104]), {"sell_at": 10, "quantity": 1},
                      fee=0.0)
    assert result.stats["open_position"] == 1.0
    assert result.stats["final_equity"] == pytest.approx(10_000 + 104 - 101)
    assert result.stats["closed_trades"] == 0 and result.stats["best_trade"] is None


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_live_replay_gives_the_identical_trade_list(name, tmp_path, sample_bars):
    db = tmp_path / "journal.sqlite3"
    env = {**os.environ, "VELOCITAS_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "velocitas_desktop", "run", "--source", "csv", "--csv",
               f"BTC={SAMPLE}", "--speed", "max", "--strategy", f"{name}:BTC", "--db", str(db),
               "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["global"]["status"] in ("finished", "stopped")
    journal = Journal(db)
    try:
        live = journal.trades(strategy_id=f"BTC_{name}", limit=-1)
    finally:
        journal.close()
    result = backtest(name, sample_bars)
    assert len(live) > 10
    assert live == result.trade_dicts()


def _same_run(name: str, bars: BarSeries, params: dict) -> None:
    """The fast path (batch decisions, array fills) equals the incremental one (one price at
    a time, the live Ledger.fill), bit for bit."""
    for fee, slippage in ((0.001, 0.0), (0.00075, 0.0005)):
        fast = backtest(name, bars, params, fast=True, fee=fee, slippage=slippage)
        slow = backtest(name, bars, params, fast=False, fee=fee, slippage=slippage)
        assert fast.trades == slow.trades
        assert np.array_equal(fast.equity, slow.equity)
        assert fast.stats == slow.stats


@pytest.mark.parametrize("name", BUILTINS)
def test_array_fills_equal_the_live_ledger_fills(name, sample_bars):
    for bars in (sample_bars, random_walk(5000, 3, 0.5)):
        for quantity in (0.0, 1.0, 0.37):  # 0: each position worth the starting cash
            kwargs = {"fee": 0.001, "slippage": 0.0003, "fast": True}
            arrays = backtest(name, bars, {"quantity": quantity}, vectorised_fills=True,
                              **kwargs)
            ledger = backtest(name, bars, {"quantity": quantity}, vectorised_fills=False,
                              **kwargs)
            assert len(arrays.trades) > 10
            assert arrays.trades == ledger.trades
            assert np.array_equal(arrays.equity, ledger.equity)
            assert arrays.stats == ledger.stats


@pytest.mark.parametrize("name", BUILTINS)
def test_fast_path_equals_incremental_path_on_real_data(name, sample_bars):
    cls = load_catalog().get(name)
    rng = np.random.default_rng(7)
    grid = list(cls.iter_grid({k: p.grid()[:40] for k, p in cls.params.items()
                               if k != "quantity" and p.step is not None}))
    for index in rng.choice(len(grid), size=3, replace=False):
        _same_run(name, sample_bars, grid[index])
    _same_run(name, sample_bars, {})


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("tick", [None, 0.5])
def test_fast_path_equals_incremental_path_on_random_walks(name, tick):
    # prices rounded to 0.5 make equal averages (ties), which the crossing rule must carry
    for seed in (1, 2):
        _same_run(name, random_walk(4000, seed, tick), {})


def test_bad_files_and_settings_are_refused_with_one_line(tmp_path):
    with pytest.raises(BacktestError, match="no such file"):
        load_bars(tmp_path / "missing.csv")
    short = tmp_path / "short.csv"
    short.write_text("timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n")
    with pytest.raises(BacktestError, match="at least 2"):
        load_bars(short)
    with pytest.raises(BacktestError, match="cash"):
        backtest(Scripted, _bars([1, 2, 3]), cash=0)
