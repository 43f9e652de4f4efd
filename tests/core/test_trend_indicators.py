"""Specification of the trend-analysis indicators (ADX with +DI/-DI, log-price regression, ATR
as a percentage of price, realised volatility): hand-computed values, incremental ==
vectorised, agreement with TA-Lib / numpy / scipy on real bars, edge cases, argument checks."""

import math

import numpy as np
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st
from test_indicators import (  # the helpers and real bars the other indicators are checked with
    PROPERTY,
    assert_matches_library,
    assert_same_numbers,
    bars,
    real_bars,
)

from velocitas_desktop.core import indicators
from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.core.indicators import ADX, adx, minus_di, plus_di

nan = math.nan
__all__ = ["real_bars"]  # the fixture, imported for the tests below


def feed_adx(indicator: ADX, high, low, close) -> np.ndarray:
    """(adx, +DI, -DI) after each bar, as three rows."""
    seen = [(indicator.update(float(h), float(lo), float(c)), indicator.plus_di,
             indicator.minus_di) for h, lo, c in zip(high, low, close, strict=True)]
    return np.array(seen, dtype=np.float64).reshape(-1, 3).T


def ohlc(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(frame[c].to_numpy(dtype=np.float64) for c in ("High", "Low", "Close"))


# --- ADX, +DI, -DI ---------------------------------------------------------------------------

def test_adx_seeds_the_smoothed_sums_with_period_minus_one_movements_then_averages_dx():
    high = [10, 12, 11, 13, 12]
    low = [8, 9, 7, 10, 11]
    close = [9, 11, 8, 12, 11.5]
    # (+DM, -DM, TR) from the 2nd bar: (2, 0, 3), (0, 2, 4), (2, 0, 5) and, where the high falls
    # as much as the low rises, (0, 0, 1). Period 2: the sums start from the first movement
    # alone, then S = S - S / 2 + x: +DM 2 -> 1 -> 2.5 -> 1.25, -DM 0 -> 2 -> 1 -> 0.5,
    # TR 3 -> 5.5 -> 7.75 -> 4.875. DX = 100 * |S+ - S-| / (S+ + S-): 100/3, 300/7, 300/7.
    # ADX: the mean of the first two DX at bar 3, then (ADX + DX) / 2.
    expected_plus = [nan, nan, 100 / 5.5, 250 / 7.75, 125 / 4.875]
    expected_minus = [nan, nan, 200 / 5.5, 100 / 7.75, 50 / 4.875]
    expected_adx = [nan, nan, nan, 800 / 21, 850 / 21]
    line, plus, minus = adx(high, low, close, 2)
    for actual, expected in [(line, expected_adx), (plus, expected_plus),
                             (minus, expected_minus)]:
        assert_same_numbers(actual, expected, rtol=1e-12)
    seen = feed_adx(ADX(2), high, low, close)
    for actual, expected in zip(seen, (expected_adx, expected_plus, expected_minus),
                                strict=True):
        assert_same_numbers(actual, expected, rtol=1e-12)
    assert_same_numbers(plus_di(high, low, close, 2), expected_plus, rtol=1e-12)
    assert_same_numbers(minus_di(high, low, close, 2), expected_minus, rtol=1e-12)


def test_adx_is_defined_from_bar_twice_the_period_and_the_indices_from_bar_period_plus_one():
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 100)))
    high, low = close * 1.01, close * 0.99
    for period in (2, 14, 30):
        line, plus, minus = adx(high, low, close, period)
        assert np.isnan(line[:2 * period - 1]).all() and not np.isnan(line[2 * period - 1:]).any()
        for index in (plus, minus):
            assert np.isnan(index[:period]).all() and not np.isnan(index[period:]).any()


@pytest.mark.parametrize("period", [7, 14, 21])
def test_adx_plus_di_and_minus_di_match_talib_on_real_bars(real_bars, period):
    high, low, close = ohlc(real_bars)
    expected = (talib.ADX(high, low, close, timeperiod=period),
                talib.PLUS_DI(high, low, close, timeperiod=period),
                talib.MINUS_DI(high, low, close, timeperiod=period))
    for ours, theirs in zip(adx(high, low, close, period), expected, strict=True):
        assert_matches_library(ours, theirs)
    for ours, theirs in zip(feed_adx(ADX(period), high, low, close), expected, strict=True):
        assert_matches_library(ours, theirs)
    assert_matches_library(plus_di(high, low, close, period), expected[1])
    assert_matches_library(minus_di(high, low, close, period), expected[2])


def test_adx_matches_talib_through_flat_stretches_and_on_prices_in_millionths():
    rng = np.random.default_rng(5)
    close = 1e-6 * np.exp(np.cumsum(rng.normal(0, 0.01, 3000)))
    high = close * (1 + rng.random(close.size) * 0.01)
    low = close * (1 - rng.random(close.size) * 0.01)
    high[500:900] = low[500:900] = close[500:900] = close[499]  # no trade for 400 bars
    for period in (2, 5, 14):
        expected = (talib.ADX(high, low, close, period), talib.PLUS_DI(high, low, close, period),
                    talib.MINUS_DI(high, low, close, period))
        for ours, theirs in zip(adx(high, low, close, period), expected, strict=True):
            assert_same_numbers(ours, theirs, rtol=1e-9, atol=1e-9)


def test_a_bar_without_directional_movement_holds_the_adx_as_talib_does():
    # One rise, then bars whose high rises exactly as much as the low falls: no +DM nor -DM,
    # so the smoothed +DM halves each bar (period 2) until it is 0 and DX has no value.
    high, low = [10.0, 11.0], [9.0, 9.5]
    for _ in range(1200):
        high.append(high[-1] + 0.001)
        low.append(low[-1] - 0.001)
    high, low = np.array(high), np.array(low)
    close = (high + low) / 2
    line, plus, minus = adx(high, low, close, 2)
    assert plus[-1] == 0.0 and minus[-1] == 0.0  # the +DM sum has underflowed to 0
    assert line[-1] == 100.0  # held, not pulled towards 0
    assert_same_numbers(line, talib.ADX(high, low, close, 2), atol=1e-9)
    assert_same_numbers(feed_adx(ADX(2), high, low, close)[0], line, atol=1e-9)


def test_a_flat_market_has_adx_and_both_indices_zero_not_nan():
    flat = np.full(40, 25_000.0)
    line, plus, minus = adx(flat, flat, flat, 5)
    assert_same_numbers(line, [nan] * 9 + [0.0] * 31)
    assert_same_numbers(plus, [nan] * 5 + [0.0] * 35)
    assert_same_numbers(minus, plus)
    seen = feed_adx(ADX(5), flat, flat, flat)
    for actual, expected in zip(seen, (line, plus, minus), strict=True):
        assert_same_numbers(actual, expected)


def test_constant_highs_and_lows_give_no_direction():
    high, low = np.full(60, 101.0), np.full(60, 99.0)
    close = np.where(np.arange(60) % 2 == 0, 100.5, 99.5)  # closes swing inside the range
    line, plus, minus = adx(high, low, close, 14)
    assert (plus[14:] == 0.0).all() and (minus[14:] == 0.0).all() and (line[27:] == 0.0).all()


def test_a_steady_rise_has_minus_di_zero_and_adx_100():
    close = np.arange(100.0, 160.0)
    line, plus, minus = adx(close + 0.5, close - 0.5, close, 7)
    assert (minus[7:] == 0.0).all() and (plus[7:] > 0.0).all()
    np.testing.assert_allclose(line[13:], 100.0, rtol=1e-12)


@PROPERTY
@given(ohlc_bars=bars(), period=st.integers(2, 40))
def test_incremental_and_vectorised_adx_agree(ohlc_bars, period):
    high, low, close = ohlc_bars
    seen = feed_adx(ADX(period), high, low, close)
    for actual, expected in zip(seen, adx(high, low, close, period), strict=True):
        assert_same_numbers(actual, expected, atol=1e-9)


@pytest.mark.parametrize("chunk", [1, 7, 64])
@pytest.mark.parametrize("period", [2, 14, 100])
def test_adx_is_the_same_whatever_chunk_the_bars_are_worked_in(monkeypatch, chunk, period):
    rng = np.random.default_rng(chunk + period)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
    high, low = close * (1 + rng.random(600) * 0.01), close * (1 - rng.random(600) * 0.01)
    whole = adx(high, low, close, period)
    monkeypatch.setattr(indicators, "_ADX_CHUNK", chunk)
    for actual, expected in zip(adx(high, low, close, period), whole, strict=True):
        assert_same_numbers(actual, expected, rtol=1e-12, atol=1e-12)


def test_adx_reset_forgets_every_bar():
    indicator = ADX(3)
    feed_adx(indicator, [5, 9, 7, 12], [1, 2, 3, 4], [2, 8, 5, 11])
    indicator.reset()
    assert math.isnan(indicator.value) and math.isnan(indicator.plus_di)
    high, low, close = [10, 12, 11, 13, 12, 14], [8, 9, 7, 10, 11, 12], [9, 11, 8, 12, 11.5, 13]
    assert_same_numbers(feed_adx(indicator, high, low, close)[0], adx(high, low, close, 3)[0])
    assert not hasattr(indicator, "__dict__")


def test_adx_lines_name_what_a_chart_draws():
    assert ADX.lines == {"adx": "value", "plus_di": "plus_di", "minus_di": "minus_di"}


@pytest.mark.parametrize("period", [1, 0, -3])
def test_adx_needs_a_period_of_at_least_two_bars(period):
    for make in (ADX, lambda p: adx([1.0] * 5, [1.0] * 5, [1.0] * 5, p),
                 lambda p: plus_di([1.0] * 5, [1.0] * 5, [1.0] * 5, p)):
        with pytest.raises(ParameterError, match="period must be at least 2 bars"):
            make(period)


def test_adx_needs_one_high_low_and_close_per_bar():
    with pytest.raises(ParameterError, match="one value per bar"):
        adx(np.ones(5), np.ones(5), np.ones(4))
    with pytest.raises(ParameterError, match="whole number of bars"):
        ADX(14.0)


def test_adx_of_too_few_bars_is_undefined():
    for count in (0, 1, 14, 27):
        line, plus, minus = adx(np.ones(count), np.ones(count), np.ones(count), 14)
        assert line.shape == plus.shape == minus.shape == (count,)
        assert np.isnan(line).all()
