"""Specification of the trend-analysis indicators (ADX with +DI/-DI, log-price regression, ATR
as a percentage of price, realised volatility): hand-computed values, incremental ==
vectorised, agreement with TA-Lib / numpy / scipy on real bars, edge cases, argument checks."""

import math

import numpy as np
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from test_indicators import (  # the helpers and real bars the other indicators are checked with
    LONG,
    PROPERTY,
    assert_matches_library,
    assert_same_numbers,
    bars,
    feed,
    feed_bars,
    long_price_series,
    price_series,
    real_bars,
)

from velocitas_desktop.core import indicators
from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.core.indicators import (
    ADX,
    ATRPercent,
    LogRegression,
    RealisedVolatility,
    adx,
    atr,
    atr_percent,
    log_regression,
    minus_di,
    plus_di,
    realised_volatility,
)

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


# --- log-price regression --------------------------------------------------------------------

def feed_regression(indicator: LogRegression, prices) -> np.ndarray:
    """(slope, t_stat, r2, intercept) after each price, as four rows."""
    seen = [(indicator.update(float(p)), indicator.t_stat, indicator.r2, indicator.intercept)
            for p in prices]
    return np.array(seen, dtype=np.float64).reshape(-1, 4).T


def assert_same_fit(actual, expected) -> None:
    """Two (slope, t_stat, r2) results alike: slope and r2 to 1e-9, t to 1e-9 of itself times
    1 / (1 - r2), its condition number (t = sqrt((n - 2) * r2 / (1 - r2))); inf for inf, except
    where 1 - r2 is within rounding of the 1e-12 that makes a line straight."""
    slope, t_stat, r2 = (np.asarray(a) for a in actual)
    want_slope, want_t, want_r2 = (np.asarray(a) for a in expected)
    assert_same_numbers(slope, want_slope, rtol=1e-9, atol=1e-12)
    assert_same_numbers(r2, want_r2, atol=1e-9)
    np.testing.assert_array_equal(np.isnan(t_stat), np.isnan(want_t))
    defined = ~np.isnan(want_t)
    unsure = defined & (np.isinf(t_stat) != np.isinf(want_t)) & (1 - want_r2 < 1e-10)
    finite = defined & ~unsure & np.isfinite(want_t)
    np.testing.assert_array_equal(t_stat[defined & ~unsure & ~finite],
                                  want_t[defined & ~unsure & ~finite])
    condition = 1.0 / np.maximum(1.0 - want_r2[finite], 1e-300)
    error = np.abs(t_stat[finite] - want_t[finite])
    assert np.all(error <= 1e-9 * np.abs(want_t[finite]) * np.maximum(1.0, condition) + 1e-9)


def test_log_regression_of_three_prices_by_hand():
    prices = np.exp([0.0, 1.0, 3.0, 2.0])
    # ln prices 0, 1, 3 at x = 0, 1, 2: Sxx = 2, Sxy = 3, slope 1.5, SST = 14/3, SSE = 1/6,
    # r2 = 27/28, t = 1.5 / sqrt(1/6 / 2) = 3 sqrt(3), intercept 4/3 - 1.5 = -1/6.
    # Then 1, 3, 2: Sxy = 1, slope 0.5, SST 2, SSE 1.5, r2 0.25, t = 1/sqrt(3), intercept 1.5.
    expected = ([nan, nan, 1.5, 0.5], [nan, nan, 3 * math.sqrt(3), 1 / math.sqrt(3)],
                [nan, nan, 27 / 28, 0.25])
    for actual, want in zip(log_regression(prices, 3), expected, strict=True):
        assert_same_numbers(actual, want, rtol=1e-12)
    seen = feed_regression(LogRegression(3), prices)
    for actual, want in zip(seen, [*expected, [nan, nan, -1 / 6, 1.5]], strict=True):
        assert_same_numbers(actual, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("period", [3, 20, 100])
def test_log_regression_matches_scipy_linregress_and_polyfit_on_real_prices(real_bars, period):
    close = real_bars.Close.to_numpy(dtype=np.float64)
    slope, t_stat, r2 = log_regression(close, period)
    incremental = feed_regression(LogRegression(period), close)
    for end in range(period - 1, len(close), max(1, len(close) // 200)):
        y = np.log(close[end - period + 1:end + 1])
        fit = stats.linregress(np.arange(period), y)
        expected_t = fit.slope / fit.stderr
        for ours in (slope[end], incremental[0, end]):
            assert ours == pytest.approx(fit.slope, rel=1e-9, abs=1e-12)
        assert slope[end] == pytest.approx(np.polyfit(np.arange(period), y, 1)[0], rel=1e-8)
        for ours in (t_stat[end], incremental[1, end]):
            assert ours == pytest.approx(expected_t, rel=1e-9)
        for ours in (r2[end], incremental[2, end]):
            assert ours == pytest.approx(fit.rvalue**2, abs=1e-9)
        assert incremental[3, end] == pytest.approx(fit.intercept, abs=1e-9)


@PROPERTY
@given(prices=price_series(), period=st.integers(3, 60))
def test_incremental_and_vectorised_log_regression_agree(prices, period):
    assert_same_fit(LogRegression(period).update_many(prices), log_regression(prices, period))


@LONG
@given(prices=long_price_series(), period=st.sampled_from([3, 50, 500]))
def test_incremental_and_vectorised_log_regression_agree_on_long_series(prices, period):
    assert_same_fit(LogRegression(period).update_many(prices), log_regression(prices, period))


def test_log_regression_update_many_is_update_on_each_price():
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 300)))
    one, many = LogRegression(20), LogRegression(20)
    expected = feed_regression(one, prices)[:3]
    got = np.array(many.update_many(prices[:150]))
    got = np.concatenate([got, np.array(many.update_many(prices[150:]))], axis=1)
    np.testing.assert_array_equal(got, expected)
    assert many.intercept == one.intercept


def test_a_straight_line_has_r2_one_and_an_infinite_t_with_the_slope_sign():
    for rate in (0.001, -0.02):
        prices = 250.0 * np.exp(rate * np.arange(120))
        for slope, t_stat, r2 in (log_regression(prices, 30),
                                  feed_regression(LogRegression(30), prices)[:3]):
            np.testing.assert_allclose(slope[29:], rate, rtol=1e-9)
            assert (t_stat[29:] == math.copysign(math.inf, rate)).all()
            assert (r2[29:] == 1.0).all()


def test_a_flat_window_has_slope_t_and_r2_zero_even_after_moves():
    rng = np.random.default_rng(4)
    moving = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.02, 500)))
    prices = np.concatenate([moving, np.full(200, moving[-1]), moving[:100]])
    vectorised = log_regression(prices, 25)
    incremental = feed_regression(LogRegression(25), prices)
    for values in (*vectorised, *incremental[:3]):
        assert (values[524:700] == 0.0).all()  # every window inside the flat stretch
        assert not np.isnan(values[24:]).any()
    assert_same_fit(incremental[:3], vectorised)
    assert incremental[3, 650] == math.log(moving[-1])


def test_log_regression_stays_exact_after_a_huge_move_leaves_the_window():
    # From 100,000 to cents: the running sums carry the rounding of the big numbers
    rng = np.random.default_rng(9)
    prices = np.concatenate([1e5 * np.exp(np.cumsum(rng.normal(0, 0.05, 300))),
                             0.01 * np.exp(np.cumsum(rng.normal(0, 1e-6, 300)))])
    incremental = LogRegression(40).update_many(prices)
    assert_same_fit(incremental, log_regression(prices, 40))


def test_log_regression_stays_exact_over_200_000_prices():
    rng = np.random.default_rng(12)
    prices = 1e5 * np.exp(np.cumsum(rng.normal(0, 1e-4, 200_000)))
    incremental = LogRegression(50).update_many(prices)
    assert_same_fit(incremental, log_regression(prices, 50))
    fit = stats.linregress(np.arange(50), np.log(prices[-50:]))
    assert incremental[0][-1] == pytest.approx(fit.slope, rel=1e-9)


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_log_regression_is_the_same_whatever_chunk_the_windows_are_worked_in(monkeypatch,
                                                                             chunk):
    prices = 10 * np.exp(np.cumsum(np.random.default_rng(chunk).normal(0, 0.01, 400)))
    for period in (3, 7, 150):
        whole = log_regression(prices, period)
        monkeypatch.setattr(indicators, "_WINDOW_CHUNK", chunk)
        assert_same_fit(log_regression(prices, period), whole)
        monkeypatch.undo()


def test_log_regression_of_too_few_prices_is_undefined():
    for count in (0, 1, 9):
        for values in log_regression(np.ones(count), 10):
            assert values.shape == (count,) and np.isnan(values).all()


def test_log_regression_reset_forgets_every_price():
    indicator = LogRegression(3)
    feed(indicator, [5.0, 900.0, 7.0, 1.0])
    indicator.reset()
    assert math.isnan(indicator.value) and math.isnan(indicator.intercept)
    prices = [10.0, 11.0, 10.5, 12.0, 13.0]
    assert_same_numbers(feed(indicator, prices), log_regression(np.array(prices), 3)[0],
                        rtol=1e-12)
    assert not hasattr(indicator, "__dict__")


@pytest.mark.parametrize("period", [2, 1, 0])
def test_log_regression_needs_at_least_three_prices(period):
    with pytest.raises(ParameterError, match="period must be at least 3 bars"):
        LogRegression(period)
    with pytest.raises(ParameterError, match="period must be at least 3 bars"):
        log_regression(np.ones(10), period)


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf])
def test_log_price_indicators_refuse_prices_a_logarithm_cannot_be_taken_of(bad):
    prices = np.array([10.0, 11.0, bad, 12.0, 13.0])
    with pytest.raises(ParameterError, match=r"finite prices above 0, got .* at index 2"):
        log_regression(prices, 3)
    with pytest.raises(ParameterError, match=r"finite prices above 0, got .* at index 2"):
        realised_volatility(prices, 2, 365)
    for make in (lambda: LogRegression(3), lambda: RealisedVolatility(2, 365)):
        indicator, unbothered = make(), make()
        feed(indicator, prices[:2])
        with pytest.raises(ParameterError, match="finite prices above 0"):
            indicator.update(bad)
        # the refused price left no trace
        assert_same_numbers(feed(indicator, prices[3:]), feed(unbothered, prices[[0, 1, 3, 4]])[2:],
                            rtol=0.0)


# --- ATR in percent of the price -------------------------------------------------------------

def test_atr_percent_is_the_atr_over_the_close_of_the_same_bar():
    high, low, close = [10, 12, 11, 15], [8, 9, 10, 14], [9, 11, 10, 14.5]
    # ATR(2): nan, nan, 2, 3.5 (see test_indicators): 2 / 10 and 3.5 / 14.5 in percent
    expected = [nan, nan, 20.0, 100 * 3.5 / 14.5]
    assert_same_numbers(atr_percent(high, low, close, 2), expected, rtol=1e-12)
    assert_same_numbers(feed_bars(ATRPercent(2), high, low, close), expected, rtol=1e-12)


@pytest.mark.parametrize("period", [7, 14])
def test_atr_percent_matches_talib_atr_over_the_close_on_real_bars(real_bars, period):
    high, low, close = ohlc(real_bars)
    expected = 100 * talib.ATR(high, low, close, timeperiod=period) / close
    assert_matches_library(atr_percent(high, low, close, period), expected)
    assert_matches_library(feed_bars(ATRPercent(period), high, low, close), expected)


@PROPERTY
@given(ohlc_bars=bars(), period=st.integers(1, 40))
def test_incremental_and_vectorised_atr_percent_agree(ohlc_bars, period):
    high, low, close = ohlc_bars
    assert_same_numbers(feed_bars(ATRPercent(period), high, low, close),
                        atr_percent(high, low, close, period), rtol=1e-9, atol=1e-12)


def test_atr_percent_is_undefined_where_the_close_is_zero_and_zero_when_flat():
    high, low, close = [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]
    assert_same_numbers(atr_percent(high, low, close, 1), [nan, 200.0, nan, 200.0])
    assert_same_numbers(feed_bars(ATRPercent(1), high, low, close), [nan, 200.0, nan, 200.0])
    flat = np.full(10, 3.0)
    assert_same_numbers(atr_percent(flat, flat, flat, 3), [nan] * 3 + [0.0] * 7)
    assert_same_numbers(atr(flat, flat, flat, 3), [nan] * 3 + [0.0] * 7)


def test_atr_percent_checks_its_arguments_like_atr():
    with pytest.raises(ParameterError, match="period must be at least 1"):
        ATRPercent(0)
    with pytest.raises(ParameterError, match="one value per bar"):
        atr_percent(np.ones(5), np.ones(5), np.ones(4))
    indicator = ATRPercent(3)
    feed_bars(indicator, [5, 6, 7, 8], [1, 2, 3, 4], [2, 3, 4, 5])
    indicator.reset()
    assert math.isnan(indicator.value)
    assert_same_numbers(feed_bars(indicator, [9, 9], [8, 8], [8.5, 8.5]), [nan, nan])


# --- realised volatility ---------------------------------------------------------------------

def test_realised_volatility_is_the_annualised_sample_deviation_of_log_returns():
    prices = [100.0, 110.0, 99.0, 108.9]  # returns ln 1.1, ln 0.9, ln 1.1
    up, down = math.log(1.1), math.log(0.9)
    # period 2, ddof 1: |a - b| / sqrt(2) for two returns a, b; times sqrt(365)
    expected = [nan, nan, (up - down) / math.sqrt(2) * math.sqrt(365),
                (up - down) / math.sqrt(2) * math.sqrt(365)]
    assert_same_numbers(realised_volatility(np.array(prices), 2, 365), expected, rtol=1e-12)
    assert_same_numbers(feed(RealisedVolatility(2, 365), prices), expected, rtol=1e-12)


@pytest.mark.parametrize(("period", "bars_per_year"), [(2, 252), (30, 8760), (50, 525_600)])
def test_realised_volatility_matches_pandas_on_real_prices(real_bars, period, bars_per_year):
    expected = (np.log(real_bars.Close).diff().rolling(period).std(ddof=1)
                * math.sqrt(bars_per_year))
    close = real_bars.Close.to_numpy(dtype=np.float64)
    assert_matches_library(realised_volatility(close, period, bars_per_year), expected)
    assert_matches_library(feed(RealisedVolatility(period, bars_per_year), close), expected)


@PROPERTY
@given(prices=price_series(), period=st.integers(2, 60))
def test_incremental_and_vectorised_realised_volatility_agree(prices, period):
    assert_same_numbers(feed(RealisedVolatility(period, 8760), prices),
                        realised_volatility(prices, period, 8760), rtol=1e-9, atol=1e-12)


def test_realised_volatility_of_a_flat_market_is_zero():
    flat = np.full(30, 64_000.0)
    assert_same_numbers(realised_volatility(flat, 10, 365), [nan] * 10 + [0.0] * 20)
    assert_same_numbers(feed(RealisedVolatility(10, 365), flat), [nan] * 10 + [0.0] * 20)


@pytest.mark.parametrize("bars_per_year", [0, -365, math.nan, math.inf, True, "365", None])
def test_realised_volatility_needs_a_positive_number_of_bars_per_year(bars_per_year):
    with pytest.raises(ParameterError, match="bars_per_year must be the number of bars in a year"):
        RealisedVolatility(20, bars_per_year)
    with pytest.raises(ParameterError, match="bars_per_year must be the number of bars in a year"):
        realised_volatility(np.ones(30), 20, bars_per_year)


def test_realised_volatility_needs_two_returns_and_forgets_on_reset():
    with pytest.raises(ParameterError, match="period must be at least 2 bars"):
        RealisedVolatility(1, 365)
    indicator = RealisedVolatility(2, 365.0)
    feed(indicator, [1.0, 1000.0, 2.0])
    indicator.reset()
    assert math.isnan(indicator.value)
    assert_same_numbers(feed(indicator, [5.0, 5.0, 5.0]), [nan, nan, 0.0])
    assert not hasattr(indicator, "__dict__")
