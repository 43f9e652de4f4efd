"""Copilot indicator and trend conditions: bars built from ticks (or a file), exact triggers."""

from __future__ import annotations

import numpy as np
from test_conditions_price import make, run

from velocitas_desktop.copilot import Evaluator
from velocitas_desktop.core import indicators

# one tick per minute, half-way through it: tick k+1 (at 60k + 90) reveals bar k's close
MINUTE_TICKS = 60.0 * np.arange(200) + 30.0


def test_rsi_fires_when_it_rises_above_its_level_at_a_bar_close():
    closes = np.concatenate((np.linspace(100, 95, 40), np.linspace(95, 110, 30),
                             np.linspace(110, 100, 40), np.linspace(100, 115, 30)))
    ticks = MINUTE_TICKS[:closes.shape[0]]
    rule = make("rsi", {"timeframe": "1m", "period": 14, "above": 70})
    triggers = run([rule], closes, ticks)
    rsi = indicators.rsi(closes, 14)
    above = np.flatnonzero((rsi[1:] > 70) & ~(rsi[:-1] > 70)) + 1
    assert above.shape[0] == 2
    assert [(t.time, t.price) for t in triggers] == [
        (ticks[k + 1], closes[k]) for k in above]
    assert np.allclose([t.value for t in triggers], rsi[above])
    first = triggers[0]
    assert first.message == f"BTC 1m RSI {rsi[above[0]]:.1f} rose above 70 at {closes[above[0]]:,.2f}"
    below = make("rsi", {"timeframe": "1m", "period": 14, "below": 30})
    falls = np.flatnonzero((rsi[1:] < 30) & ~(rsi[:-1] < 30)) + 1
    assert [t.time for t in run([below], closes, ticks)] == [ticks[k + 1] for k in falls]


def test_ma_cross_golden_and_death_at_bar_closes():
    closes = np.concatenate((np.linspace(100, 90, 30), np.linspace(90, 110, 30),
                             np.linspace(110, 95, 30)))
    ticks = MINUTE_TICKS[:closes.shape[0]]
    fast, slow = indicators.sma(closes, 5), indicators.sma(closes, 15)
    spread = fast - slow
    golden = [k for k in range(1, len(closes)) if spread[k - 1] <= 0 < spread[k]]
    death = [k for k in range(1, len(closes)) if spread[k - 1] >= 0 > spread[k]]
    assert len(golden) == 1 and len(death) == 1
    either = make("ma_cross", {"timeframe": "1m", "fast": 5, "slow": 15})
    triggers = run([either], closes, ticks)
    assert [(t.time, t.message) for t in triggers] == [
        (ticks[golden[0] + 1], f"BTC 1m 5/15 golden cross at {closes[golden[0]]:,.2f}"),
        (ticks[death[0] + 1], f"BTC 1m 5/15 death cross at {closes[death[0]]:,.2f}")]
    only_death = make("ma_cross", {"timeframe": "1m", "fast": 5, "slow": 15,
                                   "direction": "death"})
    assert [t.time for t in run([only_death], closes, ticks)] == [ticks[death[0] + 1]]


def test_volatility_spike_zscore_flags_the_bar_whose_return_jumps():
    wiggle = 100.0 * np.exp(np.cumsum(np.tile([0.001, -0.001, 0.0005, -0.0005], 15)))
    closes = np.concatenate((wiggle, [wiggle[-1] * 1.05], wiggle[-1] * 1.05 * wiggle[:10]
                             / wiggle[0]))
    ticks = MINUTE_TICKS[:closes.shape[0]]
    rule = make("volatility_spike", {"timeframe": "1m", "method": "zscore", "threshold": 4,
                                     "window": 20})
    triggers = run([rule], closes, ticks)
    assert [t.time for t in triggers] == [ticks[61]]  # bar 60 jumped 5%; tick 61 reveals it
    returns = np.diff(np.log(closes))
    window = returns[39:59]
    z = (returns[59] - window.mean()) / window.std(ddof=1)
    assert np.isclose(triggers[0].value, z) and triggers[0].value > 4


def test_volatility_spike_atr_percentile_flags_the_widening_range():
    count = 80
    closes = np.full(count, 100.0)
    high, low = closes + 0.5, closes - 0.5
    high[60:], low[60:] = closes[60:] + 3.0, closes[60:] - 3.0
    evaluator = Evaluator([make("volatility_spike", {"timeframe": "1m",
                                                     "method": "atr_percentile",
                                                     "threshold": 95, "window": 30})])
    time = 60.0 * np.arange(count)
    triggers = evaluator.on_bars("BTC", time, closes, high, low, closes, 60.0)
    # the ATR% rises above every earlier value at bar 60; said once while it stays high
    assert [(t.time, t.value) for t in triggers] == [(61 * 60.0, 100.0)]


def test_indicators_read_a_files_bars_combined_to_their_timeframe():
    rng = np.random.default_rng(3)
    minutes = 60.0 * np.arange(6000)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, minutes.shape[0])))
    rule = make("rsi", {"timeframe": "15m", "period": 14, "above": 65})
    from_file = Evaluator([rule]).on_bars("BTC", minutes, closes, closes, closes, closes, 60.0)
    bars_15m = closes[14::15]  # each 15m bar closes with its 15th minute
    rsi = indicators.rsi(bars_15m, 14)
    above = np.flatnonzero((rsi[1:] > 65) & ~(rsi[:-1] > 65)) + 1
    assert len(from_file) == above.shape[0] > 3
    # a 15m bar's close is known when its last minute ends
    assert [(t.time, t.price) for t in from_file] == [(900.0 * (k + 1), bars_15m[k])
                                                      for k in above]


def test_trend_change_fires_on_the_field_and_label_it_watches():
    def event(previous, current, timeframe="1h", coin="BTC"):
        return {"coin": coin, "timeframe": timeframe, "time": 0.0, "previous": previous,
                "current": current, "summary": ""}

    calm = {"direction": "up", "strength": "weak", "volatility": "calm",
            "character": "trending"}
    sideways = {**calm, "direction": "sideways"}
    down = {**calm, "direction": "down", "volatility": "high"}
    any_change = make("trend_change", {"timeframe": "1h"}, rule_id="any")
    to_down = make("trend_change", {"timeframe": "1h", "field": "direction", "to": "down"},
                   rule_id="down")
    evaluator = Evaluator([any_change, to_down])
    run(None, [64000.0], [0.0], evaluator=evaluator)
    assert evaluator.on_event("trend", event(None, calm), 10.0) == []  # the first regime
    first = evaluator.on_event("trend", event(calm, sideways), 20.0)
    assert [(t.rule.id, t.time, t.price, t.message) for t in first] == [
        ("any", 20.0, 64000.0, "BTC 1h trend changed: direction up → sideways")]
    second = evaluator.on_event("trend", event(sideways, down), 30.0)
    assert [(t.rule.id, t.message) for t in second] == [
        ("any", "BTC 1h trend changed: direction sideways → down, volatility calm → high"),
        ("down", "BTC 1h trend changed: direction sideways → down")]
    assert evaluator.on_event("trend", event(calm, down, timeframe="4h"), 40.0) == []
    assert evaluator.on_event("trend", event(calm, down, coin="ETH"), 50.0) == []


def test_history_warms_the_indicators_up_without_firing():
    closes = np.concatenate((np.linspace(100, 95, 30), np.linspace(95, 120, 30)))
    time = 60.0 * np.arange(closes.shape[0])
    history = 33  # the RSI first passes 70 at bar 35, after the history
    rule = make("rsi", {"timeframe": "1m", "period": 14, "above": 70})
    cold, warmed = Evaluator([rule]), Evaluator([rule])
    past = slice(0, history)
    assert warmed.on_bars("BTC", time[past], closes[past], closes[past], closes[past],
                          closes[past], 60.0, fire=False) == []
    # the live prices after the history: one a minute, in the middle of each minute
    ticks, prices = time[history:] + 30.0, closes[history:]
    first = int(np.flatnonzero(indicators.rsi(closes, 14) > 70)[0])
    assert first == 35
    revealed = ticks[first - history + 1]  # the next bar's first price closes bar 35
    assert [t.time for t in warmed.on_prices("BTC", prices, ticks, 0.0)] == [revealed]
    # without the history, the RSI of the live prices alone needs its own 15 bars first
    assert cold.on_prices("BTC", prices, ticks, 0.0)[0].time > revealed
