"""Filling a batch in tick order (engine/fills.py), checked without threads: the batch form
gives the ledger exactly what a tick-by-tick walk over the same prices and signals gives."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas_desktop.core.ledger import Ledger
from velocitas_desktop.core.types import Action, Signal
from velocitas_desktop.engine.fills import fill_batch, order_signals, sample_positions

BUY, SELL = Signal(Action.BUY, 1.0), Signal(Action.SELL, 1.0)


def test_signals_take_their_place_in_the_batch_then_the_registration_order():
    # the batch interleaves BTC (positions 0, 2, 3) and ETH (positions 1, 4)
    positions = {"BTC": np.array([0, 2, 3]), "ETH": np.array([1, 4])}
    signals = [("late", 2, BUY, 3.0, 3.0),       # BTC's third price: batch position 3
               ("eth", 0, BUY, 1.0, 1.0),        # ETH's first price: batch position 1
               ("early", 2, SELL, 3.0, 3.0),     # the same tick as "late", registered first
               ("paused", 0, BUY, 1.0, 1.0)]     # not active: left out
    active = {"late": ("BTC", 5), "early": ("BTC", 1), "eth": ("ETH", 3)}
    ordered = order_signals(signals, positions, active)
    assert [(position, raw[0]) for position, _, raw in ordered] == [
        (1, "eth"), (3, "early"), (3, "late")]


def test_a_single_coin_batch_keeps_the_coins_own_positions():
    ordered = order_signals([("a", 7, BUY, 1.0, 1.0)], {"BTC": None}, {"a": ("BTC", 0)})
    assert [position for position, _, _ in ordered] == [7]


def test_the_sampling_clock_ticks_at_the_first_price_at_or_after_each_boundary():
    stamps = np.array([9.0, 10.0, 14.0, 12.0, 31.0, 39.0])
    # boundaries every 10 s from 10: 10 at position 1; 20 and 30 both fall in the gap before
    # 31 (position 4), which samples once and moves the clock past them; 40 is not reached
    assert sample_positions(stamps, 10.0, 10.0) == [(1, 10.0), (4, 31.0)]


def test_a_late_tick_does_not_move_the_sampling_clock_back():
    stamps = np.array([5.0, 12.0, 8.0, 21.0])
    assert sample_positions(stamps, 10.0, 10.0) == [(1, 12.0), (3, 21.0)]


def test_no_boundary_in_the_batch_means_no_sample():
    assert sample_positions(np.array([1.0, 2.0]), 10.0, 10.0) == []


def _walk(ledger: Ledger, coins: list[str], coin_ids: np.ndarray, prices: np.ndarray,
          stamps: np.ndarray, signals_at: dict[int, list], books: dict[str, str]) -> list:
    """The reference: one tick at a time, as a naive engine would do it."""
    trades = []
    clock = -np.inf
    if ledger.next_sample != ledger.next_sample:
        ledger.due_samples(float(stamps[0]))
    for i, (coin_id, price, stamp) in enumerate(zip(coin_ids, prices, stamps, strict=True)):
        coin = coins[coin_id]
        clock = max(clock, float(stamp))
        if clock >= ledger.next_sample:
            ledger.sample(clock)
        filled = set()
        for sid, signal in signals_at.get(i, []):
            trade = ledger.fill(sid, signal, float(price), float(stamp))
            if trade is not None:  # the fill values its own price, after its fee
                trades.append(trade)
                filled.add(sid)
        for sid, book_coin in books.items():
            if book_coin == coin and sid not in filled:
                ledger.books[sid].mark_values([float(price)])
        if i + 1 == len(stamps) or stamps[i + 1] != stamp:  # the timestamp's last tick
            ledger.track_total(np.array([ledger.total_equity]))
    ledger.last_timestamp = float(stamps[-1])
    return trades


def _ledger(books: dict[str, str]) -> Ledger:
    ledger = Ledger(0.001, 0.0005, sample_seconds=5.0)
    for sid, coin in books.items():
        ledger.open_book(sid, coin, sid, allow_short=sid.endswith("short"))
    return ledger


@pytest.mark.parametrize("seed", range(6))
def test_filling_a_batch_equals_walking_it_tick_by_tick(seed):
    rng = np.random.default_rng(seed)
    coins = ["BTC", "ETH", "SOL"]
    books = {"BTC_a": "BTC", "BTC_b_short": "BTC", "ETH_a": "ETH", "SOL_a": "SOL"}
    order = {sid: i for i, sid in enumerate(books)}
    n = 400
    coin_ids = rng.integers(0, len(coins), n).astype(np.int16)
    prices = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 2)
    # a clock with jitter (some ticks late) and a gap that skips several sampling times
    stamps = 1_000.0 + np.cumsum(rng.exponential(0.4, n))
    stamps[n // 2:] += 37.0
    stamps[rng.integers(0, n, 20)] -= 1.5
    signals_at: dict[int, list] = {}
    raws = []
    per_coin_index = {coin: np.flatnonzero(coin_ids == i) for i, coin in enumerate(coins)}
    for sid, coin in books.items():
        where = per_coin_index[coin]
        for local in sorted(rng.choice(len(where), size=min(40, len(where)), replace=False)):
            signal = BUY if rng.random() < 0.5 else SELL
            position = int(where[local])
            raws.append((sid, int(local), signal, float(prices[position]),
                         float(stamps[position])))
            signals_at.setdefault(position, []).append((sid, signal))
    for position in signals_at:  # the same tick: registration order
        signals_at[position].sort(key=lambda item: order[item[0]])
    rng.shuffle(raws)  # signals arrive grouped by shard and worker, not in tick order

    reference = _ledger(books)
    expected = _walk(reference, coins, coin_ids, prices, stamps, signals_at, books)

    ledger = _ledger(books)
    positions = {coin: where for coin, where in per_coin_index.items()}
    per_coin = {coin: (prices[where], stamps[where]) for coin, where in positions.items()}
    active = {sid: (coin, order[sid]) for sid, coin in books.items()}
    trades, filled_at = fill_batch(ledger, order_signals(raws, positions, active), positions,
                                   per_coin, stamps)

    assert trades == expected and len(trades) > 20
    assert filled_at == sorted(filled_at)
    assert [t.timestamp for t in trades] == [float(stamps[p]) for p in filled_at]
    assert ledger.pnl_history == reference.pnl_history and len(ledger.pnl_history) > 10
    assert ledger.strategy_metrics() == reference.strategy_metrics()
    # the whole ledger's curve is summed in another order: equal to rounding
    whole, expected_whole = ledger.global_metrics(), reference.global_metrics()
    for key in ("max_drawdown", "max_drawdown_pct"):
        assert whole.pop(key) == pytest.approx(expected_whole.pop(key), rel=1e-9, abs=1e-9)
    assert whole == expected_whole
    assert reference.global_metrics()["max_drawdown"] > 0.0


def test_several_prices_at_one_time_value_the_whole_ledger_once():
    # BTC and ETH bars close at the same times; between the two prices of one time the
    # books are half-updated, a state no portfolio was ever in
    ledger = Ledger(0.0, 0.0, sample_seconds=60.0)
    ledger.open_book("BTC_a", "BTC", "a")
    ledger.open_book("ETH_a", "ETH", "a")
    stamps = np.array([60.0, 60.0, 120.0, 120.0])
    prices = np.array([100.0, 50.0, 90.0, 60.0])  # BTC falls 10 as ETH rises 10
    positions = {"BTC": np.array([0, 2]), "ETH": np.array([1, 3])}
    per_coin = {c: (prices[w], stamps[w]) for c, w in positions.items()}
    raws = [("BTC_a", 0, BUY, 100.0, 60.0), ("ETH_a", 0, BUY, 50.0, 60.0)]
    active = {"BTC_a": ("BTC", 0), "ETH_a": ("ETH", 1)}
    fill_batch(ledger, order_signals(raws, positions, active), positions, per_coin, stamps)
    assert ledger.global_metrics()["max_drawdown"] == 0.0  # not the 10 of the half-way tick
    assert [ledger.books[s].drawdown.max_drawdown for s in ("BTC_a", "ETH_a")] == [10.0, 0.0]
