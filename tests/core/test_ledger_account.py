"""Specification of the paper account: cash and account value, a position closed by hand as an
ordinary fill, positions carried into a new session, and a session's clock going on.

Hand-computed cases: a capital of 1,000, a fee of 0.1%, a BUY at 100 opens 1,000 / 100 = 10
units and pays 100 × 10 × 0.001 = 1.00.
"""

from __future__ import annotations

import math

import pytest

from velocitas_desktop.core.ledger import TOTAL, Ledger, OpenPosition
from velocitas_desktop.core.types import Action, Signal

CAPITAL = 1_000.0


def long_ten_at_100() -> Ledger:
    ledger = Ledger(fee_rate=0.001, capital=CAPITAL)
    ledger.open_book("BTC_SMA", "BTC", "SMA_Crossover")
    trade = ledger.fill("BTC_SMA", Signal(Action.BUY), 100.0, 60.0)
    assert trade is not None and trade.quantity == pytest.approx(10.0)
    assert trade.fee == pytest.approx(1.0)
    return ledger


def test_cash_is_the_capital_less_what_the_position_cost_and_the_value_adds_it_at_mark():
    ledger = long_ten_at_100()
    ledger.books["BTC_SMA"].mark(110.0)
    book = ledger.strategy_metrics()["BTC_SMA"]
    assert book["cash"] == pytest.approx(1_000 - 10 * 100 - 1)           # -1.00
    assert book["unrealized_pnl"] == pytest.approx(10 * (110 - 100) - 1)  # 99.00
    assert book["account_value"] == pytest.approx(1_000 + 99)
    assert book["account_value"] == pytest.approx(book["cash"] + 10 * 110)
    whole = ledger.global_metrics()
    assert (whole["cash"], whole["account_value"]) == (pytest.approx(-1.0), pytest.approx(1_099))


def test_a_short_adds_its_proceeds_to_cash():
    ledger = Ledger(fee_rate=0.001, capital=CAPITAL)
    ledger.open_book("BTC_RSI", "BTC", "RSI", allow_short=True)
    ledger.fill("BTC_RSI", Signal(Action.SELL), 100.0, 60.0)
    ledger.books["BTC_RSI"].mark(90.0)
    book = ledger.strategy_metrics()["BTC_RSI"]
    assert book["cash"] == pytest.approx(1_000 + 10 * 100 - 1)            # 1,999.00
    assert book["account_value"] == pytest.approx(1_999 - 10 * 90)       # 1,099.00
    assert book["unrealized_pnl"] == pytest.approx(99.0)


def test_closing_by_hand_is_a_fill_at_the_last_price_with_slippage_and_the_fee():
    ledger = Ledger(fee_rate=0.001, slippage=0.01, capital=CAPITAL)
    ledger.open_book("BTC_SMA", "BTC", "SMA_Crossover")
    ledger.fill("BTC_SMA", Signal(Action.BUY), 100.0, 60.0)  # at 101: 1,000 / 101 units
    units = 1_000 / 101                                      # and a fee of 1.00
    ledger.books["BTC_SMA"].mark(110.0)
    ledger.last_timestamp = 120.0
    closing = ledger.close_position("BTC_SMA")
    assert closing is not None
    assert (closing.action, closing.timestamp) == ("SELL", 120.0)
    assert closing.price == pytest.approx(110 * 0.99)                     # 108.90
    assert closing.quantity == pytest.approx(units)
    exit_fee = 108.9 * units * 0.001
    assert closing.fee == pytest.approx(exit_fee)
    assert closing.profit_loss == pytest.approx((108.9 - 101) * units - 1.0 - exit_fee)
    book = ledger.strategy_metrics()["BTC_SMA"]
    assert (book["current_position"], book["closed_trades"], book["total_trades"]) == (0, 1, 2)
    assert book["cash"] == pytest.approx(1_000 + closing.profit_loss)
    assert ledger.close_position("BTC_SMA") is None  # flat: nothing to close


def test_a_carried_position_comes_in_at_its_entry_and_its_round_trip_is_realised_here():
    old = long_ten_at_100()
    old.books["BTC_SMA"].mark(110.0)
    held = old.open_positions()
    assert held == [OpenPosition("BTC_SMA", 10.0, 100.0, 1.0, 110.0)]

    new = Ledger(fee_rate=0.001, capital=CAPITAL)
    new.open_book("BTC_SMA", "BTC", "SMA_Crossover")
    new.carry(held, 180.0)
    book = new.strategy_metrics()["BTC_SMA"]
    assert (book["current_position"], book["entry_price"], book["carried"]) == (10.0, 100.0, True)
    assert book["total_trades"] == 0                       # no fill of this session yet
    assert book["equity"] == pytest.approx(99.0)           # its P&L since entry
    assert book["return_pct"] == pytest.approx(9.9)
    assert book["max_drawdown"] == 0.0                     # measured from the opening value
    new.books["BTC_SMA"].mark(105.0)                       # equity 49: a fall of 50
    assert new.strategy_metrics()["BTC_SMA"]["max_drawdown"] == pytest.approx(50.0)
    assert new.global_metrics()["max_drawdown"] == 0.0     # the whole account: per timestamp
    closing = new.close_position("BTC_SMA")
    assert closing is not None
    assert closing.profit_loss == pytest.approx(10 * (105 - 100) - 1.0 - 1.05)   # 47.95
    figures = new.strategy_metrics()["BTC_SMA"]
    assert (figures["closed_trades"], figures["winning_trades"], figures["total_trades"]) == (
        1, 1, 1)
    assert figures["net_pnl"] == pytest.approx(47.95) and not figures["carried"]


def test_the_daily_returns_of_a_carried_session_start_from_its_opening_value():
    new = Ledger(fee_rate=0.001, capital=CAPITAL)
    new.open_book("BTC_SMA", "BTC", "SMA_Crossover")
    new.carry([OpenPosition("BTC_SMA", 10.0, 100.0, 1.0, 110.0)], 0.0)
    assert new.books["BTC_SMA"].daily.last == pytest.approx(1_099.0)
    assert new.total_daily.last == pytest.approx(1_099.0)
    assert new.total_drawdown.peak == pytest.approx(99.0)


def test_a_carried_position_is_restored_from_the_metric_state_before_the_fills():
    new = Ledger(fee_rate=0.001, capital=CAPITAL)
    new.open_book("BTC_SMA", "BTC", "SMA_Crossover")
    new.carry([OpenPosition("BTC_SMA", 10.0, 100.0, 1.0, 110.0)], 170.0)
    new.books["BTC_SMA"].mark(104.0)
    state = new.metric_state()
    assert state["BTC_SMA"]["carried"] == {"position": 10.0, "entry_price": 100.0,
                                           "entry_fee": 1.0}
    assert state[TOTAL]["time"] == 170.0

    again = Ledger(fee_rate=0.001, capital=CAPITAL)
    again.open_book("BTC_SMA", "BTC", "SMA_Crossover")
    again.restore([], [], state)
    assert again.strategy_metrics() == new.strategy_metrics()
    assert again.last_timestamp == 170.0


def test_a_session_that_goes_on_samples_from_the_first_clock_time_after_its_last_price():
    ledger = long_ten_at_100()
    ledger.last_timestamp = 125.0
    ledger.continue_clock()
    assert ledger.next_sample == 180.0
    assert ledger.due_samples(3 * 86_400.0)  # three days later: the gap closes as flat days
    ledger.sample(3 * 86_400.0)
    assert ledger.books["BTC_SMA"].daily.count == 3


def test_the_clock_of_a_ledger_that_never_saw_a_price_starts_with_its_first():
    ledger = Ledger()
    ledger.continue_clock()
    assert math.isnan(ledger.next_sample)
