"""The chart's indicators are the strategies' own numbers, fed finished bars, with an honest warm-up."""

from __future__ import annotations

import numpy as np
import pytest
from velocitas_desktop.builtin_strategies.macd import MACD as MacdStrategy
from velocitas_desktop.builtin_strategies.momentum import Momentum
from velocitas_desktop.builtin_strategies.rsi import RSI as RsiStrategy
from velocitas_desktop.builtin_strategies.sma_crossover import SMA_Crossover

from velocitas_desktop.core import indicators
from velocitas_desktop.core.candles import Candles
from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.gui.indicators import (
    CATALOGUE,
    StudyValues,
    label_of,
    parameters,
    strategy_study,
    study_by_hand,
    study_of,
)


def minute_candles(count: int, capacity: int = 5_000) -> Candles:
    """``count`` one-minute candles of a wavy walk (one tick each, plus the forming bar)."""
    steps = np.arange(count + 1, dtype=float)
    candles = Candles(60.0, capacity)
    candles.add_ticks(100.0 + 5.0 * np.sin(steps / 5.0) + steps * 0.1, steps * 60.0)
    return candles


@pytest.mark.parametrize("indicator, bars", [
    (indicators.SMA(10), 10),                # the 10th close
    (indicators.EMA(20), 20),                # pandas' min_periods=20
    (indicators.RSI(14), 15),                # 14 changes need 15 closes
    (indicators.ROC(20), 21),                # the close 20 bars back
    (indicators.MACD(12, 26, 9), 34),        # macd at 26, its 9-EMA signal 8 bars later
    (indicators.ATR(14), 15),                # 14 true ranges, the first needs a previous bar
])
def test_the_warm_up_is_the_bars_until_every_line_has_a_value(indicator, bars):
    assert study_of(indicator).needs == bars


def test_a_label_names_the_class_and_the_values_it_was_made_with():
    assert label_of(indicators.MACD(12, 26, 9)) == "MACD(12, 26, 9)"
    assert label_of(indicators.RollingStd(20, ddof=1)) == "RollingStd(20, 1)"
    assert parameters(indicators.MACD) == [("fast", 12), ("slow", 26), ("signal", 9)]
    assert set(CATALOGUE) == {"ADX", "ATR", "ATRPercent", "EMA", "LogRegression", "MACD",
                              "ROC", "RSI", "RealisedVolatility", "SMA", "RollingStd"}


def test_an_sma_strategy_is_drawn_over_the_candles_with_the_vectorised_numbers():
    strategy = SMA_Crossover(coin="BTC", timeframe="1m", fast=5, slow=20)
    study = strategy_study(strategy, "BTC_SMA_Crossover")
    assert [s.label for s in study.studies] == ["SMA(5)", "SMA(20)"]
    assert all(s.overlay and s.timeframe == 60.0 for s in study.studies)
    candles = minute_candles(300)
    closes = candles.close[:candles.closed]  # the forming bar has no value yet
    for s, period in zip(study.studies, (5, 20), strict=True):
        values = StudyValues(s)
        values.update(candles)
        live = indicators.SMA(period)  # what the strategy computes, a close at a time
        np.testing.assert_array_equal(values.values[0], [live.update(c) for c in closes])
        np.testing.assert_allclose(values.values[0], indicators.sma(closes, period),
                                   rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(values.times, candles.times[:candles.closed])


def test_rsi_and_momentum_bring_the_levels_their_rule_compares_with():
    rsi = strategy_study(RsiStrategy(coin="BTC", oversold=25.0, overbought=75.0), "BTC_RSI")
    assert rsi.studies[0].levels == (25.0, 75.0) and not rsi.studies[0].overlay
    momentum = strategy_study(Momentum(coin="BTC", threshold=0.5), "BTC_Momentum")
    assert momentum.studies[0].levels == (-0.5, 0.5)
    assert strategy_study(Momentum(coin="BTC"), "x").studies[0].levels == (0.0,)
    assert "every tick" in rsi.note  # a tick strategy's lines go on the chart's candles


def test_macd_is_fed_a_bar_at_a_time_as_bars_close_and_says_how_far_its_warm_up_is():
    study = strategy_study(MacdStrategy(coin="BTC", timeframe="1m"), "BTC_MACD").studies[0]
    assert study.lines == ("macd", "signal", "hist")
    candles = minute_candles(12)
    values = StudyValues(study)
    values.update(candles)
    assert values.warm_up_text() == "MACD(12, 26, 9) warming up: 12 of 34 bars"
    steps = np.arange(13, 200, dtype=float)
    for step in steps:  # one more price at a time, as a live feed brings them
        candles.add_ticks(np.array([100.0 + 5.0 * np.sin(step / 5.0) + step * 0.1]),
                          np.array([step * 60.0]))
        values.update(candles)
    assert values.warm_up_text() == "" and values.fed == 199
    live = indicators.MACD(12, 26, 9)  # the strategy's, a close at a time
    expected = []
    for close in candles.close[:candles.closed].tolist():
        live.update(close)
        expected.append((live.value, live.signal, live.hist))
    np.testing.assert_array_equal(np.array(values.values).T, np.array(expected))


def test_values_follow_the_candles_they_keep_and_start_over_on_a_backfill():
    candles = minute_candles(30, capacity=10)
    values = StudyValues(study_of(indicators.SMA(3)))
    values.update(candles)
    assert values.times.tolist() == candles.times[:candles.closed].tolist()
    candles.prepend(minute_candles(3).pieces().where(slice(0, 1)))  # a bar in front
    values.update(candles)
    assert values.times[0] == candles.times[0] and values.fed == candles.closed


def test_an_indicator_added_by_hand_is_checked_like_any_other():
    assert study_by_hand(indicators.RSI, {"period": 7}).label == "RSI(7)"
    with pytest.raises(ParameterError, match="at least 2 bars"):
        study_by_hand(indicators.RSI, {"period": 1})
    atr = StudyValues(study_by_hand(indicators.ATR, {"period": 3}))
    candles = minute_candles(40)
    atr.update(candles)
    closed = candles.closed
    expected = indicators.atr(candles.high[:closed], candles.low[:closed],
                              candles.close[:closed], 3)
    np.testing.assert_allclose(atr.values[0], expected, equal_nan=True)
