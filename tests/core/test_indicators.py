"""Specification of the technical indicators: hand-computed values, incremental == vectorised,
agreement with established libraries (ta, TA-Lib, pandas) on real prices, argument checks."""

import importlib.util
import math
import statistics
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ta
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from velocitas_desktop.core.indicators import (
    ATR,
    EMA,
    MACD,
    ROC,
    RSI,
    SMA,
    RollingStd,
    atr,
    ema,
    macd,
    roc,
    rolling_std,
    rsi,
    sma,
)

nan = math.nan


def feed(indicator, prices) -> np.ndarray:
    """Every value the incremental indicator returns, one per price."""
    return np.array([indicator.update(float(p)) for p in prices], dtype=np.float64)


def feed_bars(indicator, high, low, close) -> np.ndarray:
    return np.array([indicator.update(float(h), float(lo), float(c))
                     for h, lo, c in zip(high, low, close, strict=True)], dtype=np.float64)


def assert_same_numbers(actual, expected, *, rtol: float = 1e-9, atol=0.0) -> None:
    """nan exactly where expected is nan, elsewhere equal within rtol (and atol, which may be
    an array: the rounding of a price-valued indicator is relative to the price level)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg="nan positions")
    defined = ~np.isnan(expected)
    tolerance = rtol * np.abs(expected) + np.broadcast_to(atol, expected.shape)
    error = np.abs(actual - expected)
    worst = int(np.argmax(np.where(defined, error - tolerance, -np.inf))) if defined.any() else 0
    assert np.all(error[defined] <= tolerance[defined]), (
        f"index {worst}: {actual[worst]!r} != {expected[worst]!r}")


def price_level(prices: np.ndarray, lookback: int | None = None) -> np.ndarray:
    """Largest |price| in the last ``lookback`` prices (all of them if None), at each index."""
    magnitude = np.abs(prices)
    if lookback is None or len(prices) == 0:
        return np.maximum.accumulate(magnitude)
    padded = np.concatenate((np.zeros(lookback - 1), magnitude))
    return np.lib.stride_tricks.sliding_window_view(padded, lookback).max(axis=1)


# --- 1. hand-computed cases -----------------------------------------------------------------

def test_sma_of_one_to_five_over_three_values_is_two_three_four():
    expected = [nan, nan, 2.0, 3.0, 4.0]
    assert_same_numbers(feed(SMA(3), [1, 2, 3, 4, 5]), expected)
    assert_same_numbers(sma(np.arange(1.0, 6.0), 3), expected)


def test_ema_is_seeded_with_the_first_price_and_reported_from_the_period_th():
    # alpha = 2 / (3 + 1) = 0.5: 1, 1.5, 2.25, 3.125, 4.0625
    expected = [nan, nan, 2.25, 3.125, 4.0625]
    assert_same_numbers(feed(EMA(3), [1, 2, 3, 4, 5]), expected)
    assert_same_numbers(ema(np.arange(1.0, 6.0), 3), expected)


def test_rsi_seeds_with_the_mean_of_the_first_changes_then_smooths_wilder_style():
    prices = [10, 11, 12, 11, 13, 14, 13]  # changes +1 +1 -1 +2 +1 -1
    # period 3: seed gain 2/3, loss 1/3 -> 66.67; then avg = (avg * 2 + x) / 3:
    # gain 10/9, loss 2/9 -> 83.33; gain 29/27, loss 4/27 -> 87.88; gain 58/81, loss 35/81.
    expected = [nan, nan, nan, 100 * 2 / 3, 100 * 10 / 12, 100 * 29 / 33, 100 * 58 / 93]
    assert_same_numbers(feed(RSI(3), prices), expected, rtol=1e-12)
    assert_same_numbers(rsi(np.array(prices, dtype=float), 3), expected, rtol=1e-12)


def test_rsi_is_100_when_prices_only_rise_and_0_when_they_do_not_move():
    rising, flat = np.arange(1.0, 8.0), np.full(7, 5.0)
    assert_same_numbers(rsi(rising, 3), [nan, nan, nan, 100, 100, 100, 100])
    assert_same_numbers(feed(RSI(3), rising), [nan, nan, nan, 100, 100, 100, 100])
    assert_same_numbers(rsi(flat, 3), [nan, nan, nan, 0, 0, 0, 0])
    assert_same_numbers(feed(RSI(3), flat), [nan, nan, nan, 0, 0, 0, 0])


def test_macd_line_signal_and_histogram_on_a_short_series():
    prices = [1, 2, 4, 3]
    # EMA(2), alpha 2/3: 1, 5/3, 29/9, 83/27.  EMA(3), alpha 1/2: 1, 3/2, 11/4, 23/8.
    # macd from the 3rd price: 29/9 - 11/4 = 17/36, 83/27 - 23/8 = 43/216.
    # signal EMA(2) of the macd line seeded with 17/36: 17/36 + 2/3 * (43/216 - 17/36) = 47/162.
    line = [nan, nan, 17 / 36, 43 / 216]
    signal = [nan, nan, nan, 47 / 162]
    hist = [nan, nan, nan, 43 / 216 - 47 / 162]
    indicator = MACD(2, 3, 2)
    seen = [(indicator.update(p), indicator.macd, indicator.signal, indicator.hist)
            for p in prices]
    returned, as_macd, as_signal, as_hist = (np.array(column) for column in zip(*seen, strict=True))
    for actual, expected in [(returned, line), (as_macd, line), (as_signal, signal),
                             (as_hist, hist)]:
        assert_same_numbers(actual, expected, rtol=1e-12)
    assert indicator.value == indicator.macd
    for actual, expected in zip(macd(np.array(prices, dtype=float), 2, 3, 2),
                                (line, signal, hist), strict=True):
        assert_same_numbers(actual, expected, rtol=1e-12)


def test_rolling_std_of_the_textbook_series_is_two():
    prices = [2, 4, 4, 4, 5, 5, 7, 9]  # mean 5, squared deviations sum to 32
    assert feed(RollingStd(8), prices)[-1] == pytest.approx(2.0, rel=1e-15)
    assert feed(RollingStd(8, ddof=1), prices)[-1] == pytest.approx(math.sqrt(32 / 7), rel=1e-15)
    assert_same_numbers(rolling_std(np.array([1.0, 3, 3]), 2), [nan, 1.0, 0.0])
    assert_same_numbers(rolling_std(np.array([1.0, 3, 3]), 2, ddof=1), [nan, math.sqrt(2), 0.0])


def test_atr_uses_the_previous_close_and_seeds_with_the_mean_true_range():
    high = [10, 12, 11, 15]
    low = [8, 9, 10, 14]
    close = [9, 11, 10, 14.5]
    # true ranges from the 2nd bar: max(3, |12-9|, |9-9|) = 3, max(1, |11-11|, |10-11|) = 1,
    # and a gap up: max(1, |15-10|, |14-10|) = 5. ATR(2): seed (3+1)/2 = 2, then (2*1+5)/2 = 3.5.
    expected = [nan, nan, 2.0, 3.5]
    assert_same_numbers(feed_bars(ATR(2), high, low, close), expected)
    assert_same_numbers(atr(high, low, close, 2), expected)


def test_roc_is_the_percent_change_over_the_period():
    prices = [100, 110, 121, 108.9]
    expected = [nan, nan, 21.0, -1.0]  # 100 -> 121 is +21 %, 110 -> 108.9 is -1 %
    assert_same_numbers(feed(ROC(2), prices), expected, rtol=1e-12)
    assert_same_numbers(roc(np.array(prices), 2), expected, rtol=1e-12)


def test_roc_is_undefined_when_the_base_price_is_zero():
    assert_same_numbers(feed(ROC(1), [0, 5, 10]), [nan, nan, 100.0])
    assert_same_numbers(roc(np.array([0.0, 5, 10]), 1), [nan, nan, 100.0])


def test_every_indicator_is_undefined_on_a_series_shorter_than_its_warm_up():
    short = np.array([1.0, 2.0])
    for values in [sma(short, 3), ema(short, 3), rsi(short, 2), roc(short, 2),
                   rolling_std(short, 3), atr(short, short, short, 2), *macd(short, 1, 3, 1)]:
        assert values.shape == (2,)
        assert np.isnan(values).all()
    assert sma(np.array([]), 3).shape == (0,)


def test_reset_forgets_everything_seen():
    prices = [5.0, 7.0, 6.0, 9.0, 8.0, 12.0, 3.0]
    for make in [lambda: SMA(3), lambda: EMA(3), lambda: RSI(2), lambda: MACD(2, 3, 2),
                 lambda: RollingStd(3), lambda: ROC(2)]:
        indicator = make()
        feed(indicator, [100.0, 1.0, 50.0, 20.0])
        indicator.reset()
        assert math.isnan(indicator.value)
        assert_same_numbers(feed(indicator, prices), feed(make(), prices), rtol=0.0)
    bars = ATR(2)
    feed_bars(bars, [5, 6, 7], [1, 2, 3], [2, 3, 4])
    bars.reset()
    assert_same_numbers(feed_bars(bars, [9, 9, 9], [8, 8, 8], [8.5, 8.5, 8.5]), [nan, nan, 1.0])


def test_indicators_hold_no_per_instance_dict():
    for indicator in [SMA(3), EMA(3), RSI(), MACD(), RollingStd(3), ATR(), ROC(3)]:
        assert not hasattr(indicator, "__dict__")


# --- 2. incremental and vectorised give the same numbers ------------------------------------

PROPERTY = settings(max_examples=40, deadline=None)
LONG = settings(max_examples=3, deadline=None)


@st.composite
def price_series(draw, max_size: int = 200) -> np.ndarray:
    """A positive price path: a start between a cent and 200,000, then bounded moves
    (including runs of no move at all)."""
    start = draw(st.one_of(st.floats(0.01, 2e5), st.floats(9e4, 1.1e5)))
    moves = draw(st.lists(
        st.one_of(st.just(0.0), st.floats(-0.05, 0.05, allow_subnormal=False)),
        max_size=max_size))
    return start * np.exp(np.cumsum(moves))


@st.composite
def long_price_series(draw) -> np.ndarray:
    """20,000 hourly-like prices around 100,000, generated from a drawn seed."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return 1e5 * np.exp(np.cumsum(rng.normal(0.0, 0.005, 20_000)))


SINGLE_PRICE_CASES: dict[str, tuple[st.SearchStrategy, Callable, Callable, str]] = {
    # name: (period strategy, class, function, what the rounding is relative to)
    "sma": (st.integers(1, 60), SMA, sma, "window"),
    "ema": (st.integers(1, 60), EMA, ema, "history"),
    "rsi": (st.integers(2, 40), RSI, rsi, "index"),
    "roc": (st.integers(1, 60), ROC, roc, "index"),
}


def check_single_price_indicator(name: str, period: int, prices: np.ndarray) -> None:
    _, incremental, vectorised, scale = SINGLE_PRICE_CASES[name]
    if scale == "index":  # bounded or relative quantities: plain tolerance
        atol = 1e-9
    else:
        atol = 1e-12 * price_level(prices, period if scale == "window" else None)
    assert_same_numbers(feed(incremental(period), prices), vectorised(prices, period), atol=atol)


@pytest.mark.parametrize("name", list(SINGLE_PRICE_CASES))
@PROPERTY
@given(data=st.data(), prices=price_series())
def test_incremental_class_and_vectorised_function_agree(name, data, prices):
    period = data.draw(SINGLE_PRICE_CASES[name][0], label="period")
    check_single_price_indicator(name, period, prices)


@pytest.mark.parametrize("name", list(SINGLE_PRICE_CASES))
@LONG
@given(prices=long_price_series(), period=st.sampled_from([2, 14, 50]))
def test_incremental_class_and_vectorised_function_agree_on_long_series(name, prices, period):
    check_single_price_indicator(name, period, prices)


def check_rolling_std(prices: np.ndarray, period: int, ddof: int) -> None:
    assert_same_numbers(feed(RollingStd(period, ddof), prices), rolling_std(prices, period, ddof),
                        atol=1e-12 * price_level(prices, period))


@PROPERTY
@given(prices=price_series(), period=st.integers(2, 60), ddof=st.sampled_from([0, 1]))
def test_incremental_and_vectorised_rolling_std_agree(prices, period, ddof):
    check_rolling_std(prices, period, ddof)


@LONG
@given(prices=long_price_series(), period=st.sampled_from([2, 20, 100]),
       ddof=st.sampled_from([0, 1]))
def test_incremental_and_vectorised_rolling_std_agree_on_long_series(prices, period, ddof):
    check_rolling_std(prices, period, ddof)


@st.composite
def macd_periods(draw) -> tuple[int, int, int]:
    fast = draw(st.integers(1, 20))
    return fast, draw(st.integers(fast + 1, 40)), draw(st.integers(1, 20))


def check_macd(prices: np.ndarray, periods: tuple[int, int, int]) -> None:
    indicator = MACD(*periods)
    seen = np.array([(indicator.update(float(p)), indicator.signal, indicator.hist)
                     for p in prices]).reshape(-1, 3)
    atol = 1e-12 * price_level(prices)
    for column, expected in enumerate(macd(prices, *periods)):
        assert_same_numbers(seen[:, column], expected, atol=atol)


@PROPERTY
@given(prices=price_series(), periods=macd_periods())
def test_incremental_and_vectorised_macd_agree(prices, periods):
    check_macd(prices, periods)


@LONG
@given(prices=long_price_series())
def test_incremental_and_vectorised_macd_agree_on_long_series(prices):
    check_macd(prices, (12, 26, 9))


@st.composite
def bars(draw, max_size: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closes from price_series, with highs and lows around them (zero-range bars included)."""
    close = draw(price_series(max_size))
    spread = st.lists(st.one_of(st.just(0.0), st.floats(0.0, 0.03)),
                      min_size=len(close), max_size=len(close))
    high = close * (1 + np.array(draw(spread), dtype=float))
    low = close * (1 - np.array(draw(spread), dtype=float))
    return high, low, close


@PROPERTY
@given(ohlc=bars(), period=st.integers(1, 40))
def test_incremental_and_vectorised_atr_agree(ohlc, period):
    high, low, close = ohlc
    assert_same_numbers(feed_bars(ATR(period), high, low, close), atr(high, low, close, period),
                        atol=1e-12 * price_level(close))


def test_rolling_std_stays_exact_over_a_million_prices_near_100_000():
    # Small moves on a large price: the case where sum/sum-of-squares loses all its digits.
    rng = np.random.default_rng(7)
    prices = 1e5 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, 1_000_000)))
    incremental = feed(RollingStd(20), prices)
    assert_same_numbers(incremental, rolling_std(prices, 20), rtol=1e-9)
    exact = statistics.pstdev([Fraction(p) for p in prices[-20:]])
    assert incremental[-1] == pytest.approx(float(exact), rel=1e-9)


def test_rolling_std_stays_exact_after_a_huge_price_leaves_the_window():
    prices = [100_000.0 + i % 3 for i in range(30)] + [1.0, 1.5, 1.25, 1.0, 1.5, 1.25]
    indicator = RollingStd(5)
    values = feed(indicator, prices)
    assert values[-1] == pytest.approx(statistics.pstdev(prices[-5:]), rel=1e-9)
    assert_same_numbers(values, rolling_std(np.array(prices), 5), rtol=1e-9)


def test_rolling_std_spoils_only_the_windows_that_hold_a_nan_as_pandas_does():
    prices = 100.0 + np.sin(np.arange(40.0))
    prices[[3, 17, 18, 39]] = nan
    for period in (2, 5, 7):
        expected = pd.Series(prices).rolling(period).std(ddof=0)
        assert_matches_library(rolling_std(prices, period), expected)


def test_rolling_std_over_long_windows_matches_pandas_and_the_class():
    prices = 1e5 * np.exp(np.cumsum(np.random.default_rng(8).normal(0, 1e-3, 6000)))
    expected = pd.Series(prices).rolling(1000).std(ddof=1)
    assert_matches_library(rolling_std(prices, 1000, ddof=1), expected)
    assert_same_numbers(feed(RollingStd(1000, ddof=1), prices), rolling_std(prices, 1000, 1),
                        atol=1e-12 * price_level(prices, 1000))


def test_sma_stays_exact_after_a_huge_price_leaves_the_window():
    prices = [100_000.3] * 7 + [1.1, 1.2, 1.3]
    assert feed(SMA(3), prices)[-1] == pytest.approx(1.2, rel=1e-9)
    assert sma(np.array(prices), 3)[-1] == pytest.approx(1.2, rel=1e-12)


# --- 3. agreement with established libraries on real prices ---------------------------------

def backtesting_sample(name: str) -> pd.DataFrame:
    """Real OHLC data shipped by backtesting.py (its ``backtesting/test`` folder), read straight
    from the file: importing ``backtesting`` itself would pull in its plotting stack."""
    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.origin is not None, "backtesting.py is a test dependency"
    path = Path(spec.origin).parent / "test" / f"{name}.csv"
    return pd.read_csv(path, index_col=0, parse_dates=True)


@pytest.fixture(scope="module", params=["BTCUSD", "GOOG", "EURUSD"],
                ids=["BTCUSD monthly 2012-2024", "GOOG daily 2004-2013", "EURUSD hourly 2017-18"])
def real_bars(request) -> pd.DataFrame:
    return backtesting_sample(request.param)


def assert_matches_library(ours: np.ndarray, theirs) -> None:
    assert_same_numbers(ours, np.asarray(theirs, dtype=np.float64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("period", [3, 20, 50])
def test_sma_matches_ta_on_real_prices(real_bars, period):
    expected = ta.trend.SMAIndicator(real_bars.Close, period).sma_indicator()
    close = real_bars.Close.to_numpy()
    assert_matches_library(sma(close, period), expected)
    assert_matches_library(feed(SMA(period), close), expected)


@pytest.mark.parametrize("period", [3, 20, 50])
def test_ema_matches_ta_on_real_prices(real_bars, period):
    expected = ta.trend.EMAIndicator(real_bars.Close, period).ema_indicator()
    close = real_bars.Close.to_numpy()
    assert_matches_library(ema(close, period), expected)
    assert_matches_library(feed(EMA(period), close), expected)


@pytest.mark.parametrize("periods", [(12, 26, 9), (5, 35, 5)])
def test_macd_matches_ta_on_real_prices(real_bars, periods):
    fast, slow, signal = periods
    library = ta.trend.MACD(real_bars.Close, slow, fast, signal)
    expected = (library.macd(), library.macd_signal(), library.macd_diff())
    close = real_bars.Close.to_numpy()
    for ours, theirs in zip(macd(close, *periods), expected, strict=True):
        assert_matches_library(ours, theirs)
    indicator = MACD(*periods)
    seen = np.array([(indicator.update(p), indicator.signal, indicator.hist) for p in close])
    for column, theirs in enumerate(expected):
        assert_matches_library(seen[:, column], theirs)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_talib_on_real_prices(real_bars, period):
    close = real_bars.Close.to_numpy(dtype=np.float64)
    expected = talib.RSI(close, timeperiod=period)
    assert_matches_library(rsi(close, period), expected)
    assert_matches_library(feed(RSI(period), close), expected)


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_talib_on_real_bars(real_bars, period):
    high, low, close = (real_bars[c].to_numpy(dtype=np.float64) for c in ("High", "Low", "Close"))
    expected = talib.ATR(high, low, close, timeperiod=period)
    assert_matches_library(atr(high, low, close, period), expected)
    assert_matches_library(feed_bars(ATR(period), high, low, close), expected)


@pytest.mark.parametrize("period", [1, 12, 50])
def test_roc_matches_ta_on_real_prices(real_bars, period):
    expected = ta.momentum.ROCIndicator(real_bars.Close, period).roc()
    close = real_bars.Close.to_numpy()
    assert_matches_library(roc(close, period), expected)
    assert_matches_library(feed(ROC(period), close), expected)


@pytest.mark.parametrize(("period", "ddof"), [(2, 0), (20, 0), (20, 1), (50, 1)])
def test_rolling_std_matches_pandas_on_real_prices(real_bars, period, ddof):
    expected = real_bars.Close.rolling(period).std(ddof=ddof)
    close = real_bars.Close.to_numpy()
    assert_matches_library(rolling_std(close, period, ddof), expected)
    assert_matches_library(feed(RollingStd(period, ddof), close), expected)


def test_rolling_std_matches_the_bollinger_band_width_of_ta_on_real_prices(real_bars):
    bands = ta.volatility.BollingerBands(real_bars.Close, window=20, window_dev=2)
    expected = (bands.bollinger_hband() - bands.bollinger_mavg()) / 2
    assert_matches_library(rolling_std(real_bars.Close.to_numpy(), 20), expected)


# --- 4. argument checks ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [SMA, EMA, ROC, ATR, RSI, lambda p: RollingStd(p)])
@pytest.mark.parametrize("period", [0, -5])
def test_a_period_below_one_bar_is_refused(make, period):
    with pytest.raises(ValueError, match="period must be at least"):
        make(period)


@pytest.mark.parametrize("period", [2.5, 14.0, "14", None, True])
def test_a_period_that_is_not_a_whole_number_is_refused(period):
    with pytest.raises(ValueError, match="whole number of bars"):
        SMA(period)
    with pytest.raises(ValueError, match="whole number of bars"):
        sma(np.ones(5), period)


def test_a_numpy_integer_period_is_accepted():
    assert SMA(np.int64(3)).period == 3
    assert_same_numbers(ema(np.ones(4), np.int32(2)), [nan, 1.0, 1.0, 1.0])


def test_rsi_needs_at_least_two_changes():
    with pytest.raises(ValueError, match="at least 2 bars"):
        RSI(1)
    with pytest.raises(ValueError, match="at least 2 bars"):
        rsi(np.ones(5), 1)


def test_rolling_std_needs_two_prices_and_ddof_zero_or_one():
    with pytest.raises(ValueError, match="at least 2 bars"):
        RollingStd(1)
    with pytest.raises(ValueError, match="ddof must be 0"):
        RollingStd(20, ddof=2)
    with pytest.raises(ValueError, match="ddof must be 0"):
        rolling_std(np.ones(30), 20, ddof=-1)


@pytest.mark.parametrize(("fast", "slow"), [(26, 12), (12, 12)])
def test_macd_fast_period_must_be_shorter_than_slow(fast, slow):
    with pytest.raises(ValueError, match=r"fast period .* must be shorter than the slow period"):
        MACD(fast, slow)
    with pytest.raises(ValueError, match=r"fast period .* must be shorter than the slow period"):
        macd(np.ones(40), fast, slow)


def test_macd_signal_period_must_be_at_least_one_bar():
    with pytest.raises(ValueError, match="signal period must be at least 1"):
        MACD(12, 26, 0)


def test_vectorised_functions_take_one_dimensional_series_only():
    with pytest.raises(ValueError, match="one-dimensional"):
        sma(np.ones((3, 3)), 2)


def test_atr_needs_one_high_low_and_close_per_bar():
    with pytest.raises(ValueError, match="one value per bar"):
        atr(np.ones(5), np.ones(5), np.ones(4), 2)


def test_shared_results_give_the_same_averages_and_state_as_computing_afresh() -> None:
    from velocitas_desktop.core.indicators import shared_results

    prices = 100.0 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 5000)))
    alone = SMA(20)
    expected = alone.update_many(prices)
    with shared_results():
        first, second = SMA(20), SMA(20)
        assert np.array_equal(first.update_many(prices), expected, equal_nan=True)
        assert np.array_equal(second.update_many(prices), expected, equal_nan=True)
        # the second took the first's result, and its state continues like the original's
        assert second.update(101.0) == alone.update(101.0)
        assert SMA(21).update_many(prices)[-1] != expected[-1]  # another period is its own


@pytest.mark.parametrize("resum", [1, 7, 1024])
def test_sma_update_many_is_bit_identical_to_update_over_long_split_series(monkeypatch,
                                                                            resum) -> None:
    # long enough that update_many takes its vectorised re-sum cycles, not only its loop
    monkeypatch.setattr(SMA, "RESUM", resum)
    rng = np.random.default_rng(resum)
    for period in (1, 2, 10, 37):
        prices = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 9000))), 2)
        one, many = SMA(period), SMA(period)
        expected = np.array([one.update(p) for p in prices])
        cuts = sorted(rng.integers(0, prices.size, size=3).tolist())
        got = np.concatenate([many.update_many(prices[a:b])
                              for a, b in zip([0, *cuts], [*cuts, prices.size], strict=True)])
        assert np.array_equal(got, expected, equal_nan=True)
        assert (many._pos, many._wraps, many._count, many._sum, many._window) == (
            one._pos, one._wraps, one._count, one._sum, one._window)
