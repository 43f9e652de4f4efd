"""Specification of the paper ledger, on hand-computed cases: fees on both legs, slippage,
position sizes, wins and losses, open positions, drawdowns, daily closes on the sampling clock,
shorting, trade records, restoring from a journal and global aggregates. The formulas it uses
are specified in test_performance_metrics.py."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocitas_desktop.core.ledger import DEFAULT_FEE, Book, Ledger
from velocitas_desktop.core.metrics import (
    DAY,
    DEFAULT_CAPITAL,
    Drawdown,
    max_drawdown,
    sharpe_ratio,
    win_rate,
)
from velocitas_desktop.core.types import TRADE_FIELDS, Action, Signal, Trade

SID = "BTC_SMA_Crossover"
MIDNIGHT = 19_723 * DAY  # 2024-01-01T00:00:00Z


def buy(quantity: float = 1.0) -> Signal:
    return Signal(Action.BUY, quantity)


def sell(quantity: float = 1.0) -> Signal:
    return Signal(Action.SELL, quantity)


def ledger_with_book(fee_rate: float = DEFAULT_FEE, slippage: float = 0.0,
                     allow_short: bool = False, **options) -> tuple[Ledger, Book]:
    ledger = Ledger(fee_rate=fee_rate, slippage=slippage, **options)
    book = ledger.open_book(SID, "BTC", "SMA_Crossover", allow_short=allow_short)
    return ledger, book


def metrics(ledger: Ledger, strategy_id: str = SID) -> dict:
    return ledger.strategy_metrics()[strategy_id]


# --- fills, fees and slippage ----------------------------------------------------------------

def test_the_default_fee_is_binance_spot_taker_and_slippage_is_zero():
    ledger = Ledger()
    assert (ledger.fee_rate, ledger.slippage) == (0.001, 0.0)


def test_sell_after_buy_realises_profit_net_of_the_fees_of_both_legs():
    ledger, _ = ledger_with_book(fee_rate=0.001)
    opening = ledger.fill(SID, buy(1.0), 100.0, 1000.0)
    closing = ledger.fill(SID, sell(1.0), 110.0, 2000.0)
    # buy 1 @ 100: fee 0.1; sell @ 110: fee 0.11; realised = 10 - 0.1 - 0.11 = 9.79
    assert opening.fee == pytest.approx(0.1, abs=1e-12)
    assert opening.profit_loss == 0.0
    assert closing.fee == pytest.approx(0.11, abs=1e-12)
    assert closing.profit_loss == pytest.approx(9.79, abs=1e-12)
    m = metrics(ledger)
    assert m["total_trades"] == 2
    assert (m["winning_trades"], m["losing_trades"]) == (1, 0)
    assert m["total_profit"] == pytest.approx(9.79, abs=1e-12)
    assert m["total_loss"] == 0.0
    assert m["net_pnl"] == pytest.approx(9.79, abs=1e-12)
    assert m["equity"] == pytest.approx(9.79, abs=1e-12)
    assert m["fees"] == pytest.approx(0.21, abs=1e-12)
    assert m["win_rate"] == 100.0
    assert (m["current_position"], m["entry_price"], m["unrealized_pnl"]) == (0.0, 0.0, 0.0)


def test_slippage_moves_both_fill_prices_against_the_trader():
    ledger, _ = ledger_with_book(fee_rate=0.001, slippage=0.01)
    opening = ledger.fill(SID, buy(1.0), 100.0, 1.0)
    # a BUY fills at 100 * 1.01 = 101 (fee 0.101); valued at the market price 100 it has
    # already lost the slippage and the fee: 1 * (100 - 101) - 0.101 = -1.101
    assert opening.price == pytest.approx(101.0, abs=1e-12)
    assert opening.fee == pytest.approx(0.101, abs=1e-12)
    assert metrics(ledger)["unrealized_pnl"] == pytest.approx(-1.101, abs=1e-12)
    closing = ledger.fill(SID, sell(1.0), 110.0, 2.0)
    # a SELL fills at 110 * 0.99 = 108.9 (fee 0.1089): 7.9 - 0.101 - 0.1089 = 7.6901
    assert closing.price == pytest.approx(108.9, abs=1e-12)
    assert closing.fee == pytest.approx(0.1089, abs=1e-12)
    assert closing.profit_loss == pytest.approx(7.6901, abs=1e-12)


def test_a_losing_trade_counts_its_loss_fees_included():
    ledger, _ = ledger_with_book(fee_rate=0.001)
    ledger.fill(SID, buy(1.0), 100.0, 1.0)
    closing = ledger.fill(SID, sell(1.0), 90.0, 2.0)
    # -10 - 0.1 - 0.09 = -10.19
    assert closing.profit_loss == pytest.approx(-10.19, abs=1e-12)
    m = metrics(ledger)
    assert (m["winning_trades"], m["losing_trades"]) == (0, 1)
    assert m["total_profit"] == 0.0
    assert m["total_loss"] == pytest.approx(10.19, abs=1e-12)
    assert m["net_pnl"] == pytest.approx(-10.19, abs=1e-12)
    assert m["win_rate"] == 0.0


def test_win_rate_and_totals_over_a_win_a_loss_and_a_break_even_close():
    ledger, _ = ledger_with_book(fee_rate=0.0)
    for entry, exit_ in [(100.0, 110.0), (100.0, 96.0), (100.0, 100.0), (50.0, 53.0)]:
        ledger.fill(SID, buy(2.0), entry, 0.0)
        ledger.fill(SID, sell(2.0), exit_, 0.0)
    m = metrics(ledger)
    # closes: +20, -8, 0, +6. A zero close is neither a win nor a loss, but it is a close.
    assert m["total_trades"] == 8
    assert (m["winning_trades"], m["losing_trades"]) == (2, 1)
    assert m["win_rate"] == pytest.approx(50.0)
    assert (m["total_profit"], m["total_loss"], m["net_pnl"]) == (26.0, 8.0, 18.0)


def test_an_open_position_is_valued_at_the_last_price_minus_the_entry_fee():
    ledger, book = ledger_with_book(fee_rate=0.001)
    ledger.fill(SID, buy(2.0), 100.0, 1.0)  # fee 0.2
    book.mark(105.0)
    m = metrics(ledger)
    # unrealised = 2 * (105 - 100) - 0.2 = 9.8; nothing realised yet
    assert m["unrealized_pnl"] == pytest.approx(9.8, abs=1e-12)
    assert m["equity"] == pytest.approx(9.8, abs=1e-12)
    assert (m["current_position"], m["entry_price"], m["last_price"]) == (2.0, 100.0, 105.0)
    assert (m["net_pnl"], m["total_trades"]) == (0.0, 1)
    g = ledger.global_metrics()
    assert (g["unrealized_pnl"], g["equity"]) == (pytest.approx(9.8), pytest.approx(9.8))


# --- position size ---------------------------------------------------------------------------

def test_a_signal_without_a_quantity_opens_a_position_worth_the_capital():
    ledger, _ = ledger_with_book(fee_rate=0.001, capital=10_000.0)
    ledger.open_book("ETH_RSI", "ETH", "RSI")
    btc = ledger.fill(SID, Signal(Action.BUY), 40_000.0, 1.0)
    eth = ledger.fill("ETH_RSI", Signal(Action.BUY), 2_500.0, 1.0)
    # 10,000 / 40,000 = 0.25 BTC and 10,000 / 2,500 = 4 ETH: the same money at risk
    assert (btc.quantity, eth.quantity) == (0.25, 4.0)
    assert btc.fee == eth.fee == pytest.approx(10.0)
    closing = ledger.fill(SID, Signal(Action.SELL), 44_000.0, 2.0)
    assert closing.quantity == 0.25  # a close takes the whole position, as always
    assert closing.profit_loss == pytest.approx(0.25 * 4_000 - 10.0 - 11.0)


def test_the_capital_buys_at_the_fill_price_slippage_included():
    ledger, _ = ledger_with_book(fee_rate=0.0, slippage=0.01, capital=1_010.0)
    trade = ledger.fill(SID, Signal(Action.BUY), 100.0, 1.0)
    assert trade.price == pytest.approx(101.0)
    assert trade.quantity == pytest.approx(10.0)  # 1,010 / 101


def test_an_explicit_quantity_still_decides_the_size():
    ledger, _ = ledger_with_book(fee_rate=0.0, allow_short=True)
    assert ledger.fill(SID, sell(0.5), 100.0, 1.0).quantity == 0.5
    assert ledger.fill(SID, Signal(Action.BUY, 0.0), 100.0, 2.0).quantity == 0.5  # covers
    assert ledger.fill(SID, Signal(Action.BUY, 0.0), 100.0, 3.0) is None  # opens nothing


# --- long-only and short rules ---------------------------------------------------------------

def test_spot_ignores_a_sell_when_flat_and_a_buy_while_long():
    ledger, book = ledger_with_book(fee_rate=0.0)
    assert ledger.fill(SID, sell(1.0), 100.0, 1.0) is None
    assert ledger.fill(SID, buy(1.5), 100.0, 2.0).position_size == 1.5
    assert ledger.fill(SID, buy(1.0), 101.0, 3.0) is None
    closing = ledger.fill(SID, sell(0.1), 102.0, 4.0)
    # a SELL closes the whole position, whatever quantity it asks for
    assert (closing.quantity, closing.position_size) == (1.5, 0.0)
    assert [t.id for t in ledger.trades] == [1, 2]  # ignored signals use no id
    assert book.total_trades == 2


def test_with_shorting_a_sell_when_flat_opens_a_short_and_a_buy_covers_it():
    ledger, book = ledger_with_book(fee_rate=0.001, allow_short=True)
    opening = ledger.fill(SID, sell(1.0), 100.0, 1.0)  # fee 0.1
    assert (opening.action, opening.position_size) == ("SELL", -1.0)
    assert ledger.fill(SID, sell(1.0), 99.0, 2.0) is None  # already short
    book.mark(105.0)
    # unrealised of a short: -1 * (105 - 100) - 0.1 = -5.1
    assert metrics(ledger)["unrealized_pnl"] == pytest.approx(-5.1, abs=1e-12)
    closing = ledger.fill(SID, buy(3.0), 90.0, 3.0)  # covers the 1 short, fee 0.09
    assert (closing.quantity, closing.position_size) == (1.0, 0.0)
    # +10 - 0.1 - 0.09 = 9.81
    assert closing.profit_loss == pytest.approx(9.81, abs=1e-12)
    assert ledger.fill(SID, buy(1.0), 90.0, 4.0).position_size == 1.0  # flat again: a long


def test_short_fills_take_slippage_against_the_trader_too():
    ledger, _ = ledger_with_book(fee_rate=0.0, slippage=0.01, allow_short=True)
    assert ledger.fill(SID, sell(1.0), 100.0, 1.0).price == pytest.approx(99.0)
    closing = ledger.fill(SID, buy(1.0), 90.0, 2.0)
    assert closing.price == pytest.approx(90.9)
    assert closing.profit_loss == pytest.approx(99.0 - 90.9)


@pytest.mark.parametrize("allow_short", [False, True])
@pytest.mark.parametrize("opening", [None, "BUY", "SELL"])
@pytest.mark.parametrize("action", [Action.BUY, Action.SELL])
def test_accepts_says_in_advance_whether_a_fill_would_act(allow_short, opening, action):
    ledger, book = ledger_with_book(fee_rate=0.0, allow_short=allow_short)
    if opening is not None:
        book.allow_short = True  # to reach a short position in the first place
        ledger.fill(SID, buy() if opening == "BUY" else sell(), 100.0, 0.0)
        book.allow_short = allow_short
    signal = Signal(action, 1.0)
    expected = ledger.accepts(SID, signal)
    assert (ledger.fill(SID, signal, 100.0, 1.0) is not None) == expected


def test_bad_fee_slippage_or_clock_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="fee must be a fraction between 0 and 1"):
        Ledger(fee_rate=1.5)
    with pytest.raises(ValueError, match="slippage must be a fraction between 0 and 1"):
        Ledger(slippage=-0.01)
    with pytest.raises(ValueError, match="sampling clock must be positive"):
        Ledger(sample_seconds=0)


# --- trade records -----------------------------------------------------------------------------

def test_a_trade_record_has_the_seeds_fields_plus_id_strategy_id_and_fee():
    seed_fields = {"coin", "strategy", "action", "price", "quantity", "timestamp",
                   "profit_loss", "position_size"}
    assert set(TRADE_FIELDS) == seed_fields | {"id", "strategy_id", "fee"}
    ledger, _ = ledger_with_book(fee_rate=0.001)
    ledger.fill(SID, buy(1.0), 45000.0, 1704067200.0)
    trade = ledger.fill(SID, sell(1.0), 45500.0, 1704070800.0)
    assert trade.to_dict() == {
        "id": 2, "strategy_id": "BTC_SMA_Crossover", "coin": "BTC",
        "strategy": "SMA_Crossover", "action": "SELL", "price": 45500.0, "quantity": 1.0,
        "timestamp": 1704070800.0, "profit_loss": pytest.approx(500 - 45.0 - 45.5),
        "position_size": 0.0, "fee": pytest.approx(45.5),
    }
    assert ledger.trades[-1] == trade


def test_trade_ids_count_up_across_strategies():
    ledger, _ = ledger_with_book(fee_rate=0.0)
    ledger.open_book("ETH_RSI", "ETH", "RSI")
    ids = [ledger.fill(SID, buy(), 1.0, 0.0).id, ledger.fill("ETH_RSI", buy(), 1.0, 0.0).id,
           ledger.fill(SID, sell(), 1.0, 0.0).id]
    assert ids == [1, 2, 3]


def test_every_fill_adds_a_pnl_history_row():
    ledger, _ = ledger_with_book(fee_rate=0.001)
    ledger.fill(SID, buy(1.0), 100.0, 10.0)
    ledger.fill(SID, sell(1.0), 110.0, 20.0)
    assert list(ledger.pnl_history) == [
        {"timestamp": 10.0, "strategy_id": SID, "pnl": pytest.approx(-0.1), "position": 1.0},
        {"timestamp": 20.0, "strategy_id": SID, "pnl": pytest.approx(9.79), "position": 0.0},
    ]


# --- drawdown -----------------------------------------------------------------------------------

def test_max_drawdown_is_the_worst_fall_even_after_equity_recovers():
    ledger, book = ledger_with_book(fee_rate=0.0)
    ledger.fill(SID, buy(1.0), 100.0, 0.0)
    for price in [110.0, 95.0, 120.0, 112.0]:
        book.mark(price)
    # equity 0, 10, -5, 20, 12: the fall from 10 to -5 (15) outlasts the later one (8)
    assert metrics(ledger)["max_drawdown"] == 15.0
    ledger.fill(SID, sell(1.0), 130.0, 1.0)
    assert metrics(ledger)["max_drawdown"] == 15.0
    assert max_drawdown([0, 10, -5, 20, 12, 30]) == 15.0


def test_the_entry_fee_is_a_drawdown_from_the_start():
    ledger, _ = ledger_with_book(fee_rate=0.001)
    ledger.fill(SID, buy(1.0), 100.0, 0.0)
    assert metrics(ledger)["max_drawdown"] == pytest.approx(0.1)


def test_max_drawdown_of_a_curve_that_never_falls_is_zero():
    assert max_drawdown([]) == 0.0
    assert max_drawdown([0.0, 1.0, 1.0, 3.0]) == 0.0
    tracker = Drawdown()
    for value in [0.0, 1.0, 1.0, 3.0]:
        tracker.update(value)
    assert (tracker.max_drawdown, tracker.max_drawdown_pct) == (0.0, 0.0)


def test_drawdown_is_also_a_percentage_of_the_peak_account_value():
    ledger, book = ledger_with_book(fee_rate=0.0, capital=1_000.0)
    ledger.fill(SID, buy(1.0), 100.0, 0.0)
    for price in [300.0, 150.0, 400.0, 360.0]:
        book.mark(price)
    # equity 0, 200, 50, 300, 260 on a 1,000 base: falls 150 from an account of 1,200
    # (12.5 %) and 40 from 1,300 (3.08 %)
    m = metrics(ledger)
    assert m["max_drawdown"] == 150.0
    assert m["max_drawdown_pct"] == pytest.approx(150 / 1200 * 100)
    assert m["capital"] == 1_000.0 and m["return_pct"] == pytest.approx(26.0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(1.0, 1000.0), max_size=60),
       st.floats(0.01, 5.0), st.booleans())
def test_marking_a_list_of_prices_values_each_exactly_as_marking_them_one_by_one(
        prices, quantity, short):
    books = []
    for _ in range(2):
        ledger, book = ledger_with_book(fee_rate=0.001, allow_short=True)
        ledger.fill(SID, sell(quantity) if short else buy(quantity), 500.0, 0.0)
        books.append(book)
    one_by_one, path = books  # the engine marks a batch's prices as one list
    for price in prices:
        one_by_one.mark(price)
    path.mark_values(prices)
    assert path.drawdown.max_drawdown == pytest.approx(one_by_one.drawdown.max_drawdown,
                                                       rel=1e-9, abs=1e-9)
    assert path.drawdown.peak == pytest.approx(one_by_one.drawdown.peak, rel=1e-9, abs=1e-9)
    assert path.last_price == one_by_one.last_price or not prices
    assert path.equity == pytest.approx(one_by_one.equity, rel=1e-9, abs=1e-9)


def test_marking_a_flat_book_only_moves_its_last_price():
    _, book = ledger_with_book()
    book.mark_values([100.0, 50.0, 70.0])
    assert (book.last_price, book.equity, book.drawdown.max_drawdown) == (70.0, 0.0, 0.0)


# --- zero trades ----------------------------------------------------------------------------------

def test_a_strategy_with_no_trades_reports_zeros_and_no_sharpe():
    ledger, _ = ledger_with_book()
    for t in (0.0, 60.0, 120.0, 180.0):
        if ledger.due_samples(t):
            ledger.sample(t)
    m = metrics(ledger)
    for key in ("total_trades", "closed_trades", "winning_trades", "losing_trades",
                "total_profit", "total_loss", "net_pnl", "current_position", "entry_price",
                "max_drawdown", "max_drawdown_pct", "win_rate", "unrealized_pnl", "equity",
                "fees", "return_pct"):
        assert m[key] == 0, key
    assert m["sharpe_ratio"] is None and m["sharpe_note"] == "needs 30 daily returns, has 1"
    assert m["last_price"] is None and m["capital"] == DEFAULT_CAPITAL
    assert (m["strategy_id"], m["coin"], m["strategy_name"]) == (SID, "BTC", "SMA_Crossover")


def test_an_empty_ledger_reports_zero_global_metrics():
    g = Ledger().global_metrics()
    assert g.pop("sharpe_ratio") is None and g.pop("last_trade_id") is None
    assert g.pop("sharpe_note") == "no strategy has traded in this session"
    assert all(value == 0 for value in g.values()), g
    assert set(g) >= {"total_trades", "closed_trades", "winning_trades", "losing_trades",
                      "total_profit", "total_loss", "net_pnl", "win_rate", "max_drawdown",
                      "max_drawdown_pct", "capital", "return_pct", "active_coins"}


def test_win_rate_is_winning_closes_over_all_closes_in_percent():
    assert win_rate(2, 3) == pytest.approx(200 / 3)
    assert win_rate(0, 0) == 0.0


# --- the sampling clock -----------------------------------------------------------------------------

def test_the_sampling_clock_starts_at_the_first_time_and_fires_on_each_boundary():
    ledger, _ = ledger_with_book(sample_seconds=60.0)
    assert not ledger.due_samples(30.0)  # starts the clock: the next sample is at 60
    assert not ledger.due_samples(59.9)
    assert ledger.due_samples(60.0)
    ledger.sample(60.0)
    assert [row["timestamp"] for row in ledger.pnl_history] == [60.0]
    assert not ledger.due_samples(119.0)
    assert ledger.due_samples(121.0)


def test_a_gap_in_prices_takes_one_sample_and_the_clock_resumes_after_it():
    ledger, _ = ledger_with_book(sample_seconds=60.0)
    ledger.due_samples(0.0)
    ledger.sample(250.0)  # boundary 60 reached only at 250
    assert [row["timestamp"] for row in ledger.pnl_history] == [60.0]
    assert not ledger.due_samples(299.0)
    assert ledger.due_samples(300.0)


def test_sample_before_the_clock_has_started_records_nothing():
    ledger, _ = ledger_with_book()
    ledger.sample(1000.0)
    assert list(ledger.pnl_history) == []


def test_a_clock_that_does_not_divide_a_day_is_refused():
    with pytest.raises(ValueError, match="must divide a day evenly"):
        Ledger(sample_seconds=7.0)


def _run_days(ledger: Ledger, book, marks: list[tuple[float, float]]) -> None:
    """Price marks (time, price) as the engine makes them: the clock first, then the mark."""
    for stamp, price in marks:
        if ledger.due_samples(stamp):
            ledger.sample(stamp)
        book.mark(price)


def test_each_midnight_closes_the_days_account_value_for_sharpe():
    ledger, book = ledger_with_book(fee_rate=0.0, capital=1_000.0, sample_seconds=3600.0)
    ledger.due_samples(MIDNIGHT + 60)
    ledger.fill(SID, buy(1.0), 100.0, MIDNIGHT + 60)
    # day 1 closes at 110 (account 1,010); day 2 at 105 (1,005); day 3 is in progress at 120
    _run_days(ledger, book, [(MIDNIGHT + 3600, 110.0), (MIDNIGHT + DAY + 60, 105.0),
                             (MIDNIGHT + 2 * DAY + 60, 120.0)])
    closes = [1_000.0, 1_010.0, 1_005.0, 1_020.0]
    expected = sharpe_ratio(closes, min_days=2)
    assert book.daily.count == 2
    assert book.daily.sharpe(1_000.0 + book.equity, min_days=2).value == pytest.approx(
        expected.value, rel=1e-12)


def test_midnights_inside_a_gap_in_prices_close_flat_days():
    ledger, book = ledger_with_book(fee_rate=0.0, capital=1_000.0, sample_seconds=60.0)
    ledger.due_samples(MIDNIGHT + 60)
    ledger.fill(SID, buy(1.0), 100.0, MIDNIGHT + 60)
    # a weekend: the next price comes three midnights later
    _run_days(ledger, book, [(MIDNIGHT + 120, 110.0), (MIDNIGHT + 3 * DAY + 30, 90.0)])
    closes = [1_000.0, 1_010.0, 1_010.0, 1_010.0, 990.0]  # two flat days
    assert book.daily.count == 3
    assert book.daily.sharpe(1_000.0 + book.equity, min_days=2).value == pytest.approx(
        sharpe_ratio(closes, min_days=2).value, rel=1e-12)


def test_the_last_state_is_recorded_when_the_session_finishes():
    ledger, book = ledger_with_book(fee_rate=0.0)
    ledger.due_samples(10.0)
    ledger.fill(SID, buy(1.0), 100.0, 10.0)
    book.mark(97.5)
    ledger.finish(20.0)
    assert list(ledger.pnl_history)[-1] == {"timestamp": 20.0, "strategy_id": SID,
                                            "pnl": -2.5, "position": 1.0}
    assert ledger.take_pending_samples()[-1]["pnl"] == -2.5
    assert ledger.take_metric_state()[SID]["last_price"] == 97.5
    assert ledger.take_metric_state() is None  # nothing new since


# --- global aggregates ---------------------------------------------------------------------------

def test_global_metrics_add_up_every_strategy():
    ledger, btc = ledger_with_book(fee_rate=0.0)
    ledger.open_book("ETH_RSI", "ETH", "RSI")
    ledger.open_book("BTC_MACD", "BTC", "MACD")
    ledger.fill(SID, buy(1.0), 100.0, 0.0)
    ledger.fill(SID, sell(1.0), 110.0, 1.0)      # +10
    ledger.fill("ETH_RSI", buy(2.0), 50.0, 2.0)
    ledger.fill("ETH_RSI", sell(2.0), 47.0, 3.0)  # -6
    ledger.fill("BTC_MACD", buy(1.0), 100.0, 4.0)
    ledger.books["BTC_MACD"].mark(104.0)          # open: +4 unrealised
    g = ledger.global_metrics()
    assert (g["total_trades"], g["winning_trades"], g["losing_trades"]) == (5, 1, 1)
    assert (g["total_profit"], g["total_loss"], g["net_pnl"]) == (10.0, 6.0, 4.0)
    assert (g["unrealized_pnl"], g["equity"]) == (4.0, 8.0)
    assert g["win_rate"] == 50.0
    assert g["active_coins"] == 2
    only_btc = ledger.global_metrics([btc])
    assert (only_btc["total_trades"], only_btc["net_pnl"], only_btc["active_coins"]) == (2, 10, 1)


def test_a_removed_strategys_fills_and_realised_pnl_stay_in_the_sessions_totals():
    ledger, _ = ledger_with_book(fee_rate=0.0)
    ledger.fill(SID, buy(1.0), 100.0, 0.0)
    ledger.fill(SID, sell(1.0), 104.0, 1.0)
    ledger.close_book(SID)
    assert SID not in ledger.strategy_metrics()
    g = ledger.global_metrics()
    # the blotter and the trades API still list its two fills: the totals count them
    assert (g["total_trades"], g["closed_trades"], g["net_pnl"]) == (2, 1, 4.0)
    assert (g["equity"], g["last_trade_id"]) == (4.0, 2)
    assert ledger.total_equity == 4.0 and ledger.total_capital == DEFAULT_CAPITAL


# --- restoring from a journal --------------------------------------------------------------------

STATE = ("position", "entry_price", "entry_fee", "realized", "total_profit", "total_loss",
         "winning", "losing", "closed", "total_trades", "fees")


def test_restore_rebuilds_positions_pnl_and_counters_from_the_trades():
    original = Ledger(fee_rate=0.001)
    original.open_book(SID, "BTC", "SMA_Crossover")
    original.open_book("ETH_RSI", "ETH", "RSI")
    original.open_book("BTC_MACD", "BTC", "MACD", allow_short=True)
    original.fill(SID, buy(1.0), 100.0, 1.0)
    original.fill(SID, sell(1.0), 110.0, 2.0)          # win 9.79
    original.fill(SID, buy(2.0), 105.0, 3.0)           # left open
    original.fill("ETH_RSI", buy(0.5), 2000.0, 4.0)
    original.fill("ETH_RSI", sell(0.5), 1900.0, 5.0)   # loss
    original.fill("BTC_MACD", sell(1.0), 100.0, 6.0)   # short, left open

    restored = Ledger(fee_rate=0.001)
    # a journal keeps the trades and the clock samples (none here); fill points are rebuilt
    restored.restore(list(original.trades), [])

    assert restored.books.keys() == original.books.keys()
    for sid, book in original.books.items():
        again = restored.books[sid]
        assert (again.coin, again.strategy_name) == (book.coin, book.strategy_name)
        for name in STATE:
            assert getattr(again, name) == pytest.approx(getattr(book, name)), (sid, name)
        book.mark(108.0)
        again.mark(108.0)
        assert again.equity == pytest.approx(book.equity)
    assert restored.trades == original.trades
    assert list(restored.pnl_history) == list(original.pnl_history)
    assert restored.global_metrics()["net_pnl"] == pytest.approx(
        original.global_metrics()["net_pnl"])

    # trading goes on where it stopped: the next id, and the open positions close correctly
    restored.open_book("BTC_MACD", "BTC", "MACD", allow_short=True)
    for ledger in (original, restored):
        ledger.fill(SID, sell(2.0), 108.0, 7.0)
        ledger.fill("BTC_MACD", buy(1.0), 108.0, 8.0)
    assert restored.trades[-2:] == original.trades[-2:]
    assert [t.id for t in restored.trades[-2:]] == [7, 8]


def test_restore_takes_drawdowns_from_the_pnl_history():
    restored = Ledger()
    restored.restore(
        [Trade(1, SID, "BTC", "SMA_Crossover", "BUY", 100.0, 1.0, 1.0, 0.0, 1.0, 0.1)],
        [{"timestamp": 1.0, "strategy_id": SID, "pnl": 5.0, "position": 1.0},
         {"timestamp": 2.0, "strategy_id": SID, "pnl": -2.0, "position": 1.0},
         {"timestamp": 3.0, "strategy_id": "gone", "pnl": -9.0, "position": 0.0}])
    assert restored.books[SID].drawdown.max_drawdown == 7.0
    assert restored.next_trade_id == 2


def test_restoring_with_the_metric_state_gives_back_every_figure():
    original = Ledger(fee_rate=0.001, capital=5_000.0, sample_seconds=3600.0)
    original.open_book(SID, "BTC", "SMA_Crossover")
    original.open_book("ETH_RSI", "ETH", "RSI")
    original.open_book("SOL_MACD", "SOL", "MACD")  # never trades, then is removed
    original.due_samples(MIDNIGHT)
    marks = [(MIDNIGHT + k * 5_400.0, 100.0 + 7 * math.sin(k)) for k in range(1, 60)]
    for k, (stamp, price) in enumerate(marks):
        if original.due_samples(stamp):
            original.sample(stamp)
        if k % 9 == 0:
            original.fill(SID, buy() if k % 18 == 0 else sell(), price, stamp)
        if k % 7 == 0:
            original.fill("ETH_RSI", buy() if k % 14 == 0 else sell(), price * 20, stamp)
        original.books[SID].mark(price)
        original.books["ETH_RSI"].mark(price * 20)
    original.close_book("SOL_MACD")
    original.finish(marks[-1][0])
    journal_rows = original.take_pending_samples()

    restored = Ledger(fee_rate=0.001)  # the new engine does not know the old capital
    restored.restore(list(original.trades), journal_rows, original.metric_state())

    assert restored.strategy_metrics() == original.strategy_metrics()
    assert restored.global_metrics() == original.global_metrics()
    assert original.global_metrics()["capital"] == 15_000.0  # SOL's capital stays in

