"""The performance formulas of core/metrics.py on hand-computed cases, their running forms
against the formulas, and the daily Sharpe against QuantStats on the same equity curve."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocitas_desktop.core.metrics import (
    DAY,
    MIN_SHARPE_DAYS,
    DailyReturns,
    Drawdown,
    daily_closes,
    daily_risk_free,
    max_drawdown,
    max_drawdown_pct,
    sharpe_ratio,
    sortino_ratio,
)

MIDNIGHT = 19_723 * DAY  # 2024-01-01T00:00:00Z, a Monday

# --- drawdown --------------------------------------------------------------------------------


def test_drawdown_pct_takes_the_fall_over_the_peak_account_value():
    tracker = Drawdown(capital=1_000.0)
    for value in (0.0, 200.0, 50.0, 300.0, 260.0):
        tracker.update(value)
    # falls: 150 from 1,200 (12.5 %), 40 from 1,300 (3.08 %)
    assert tracker.max_drawdown == 150.0
    assert tracker.max_drawdown_pct == pytest.approx(12.5)
    assert tracker.max_drawdown_pct == pytest.approx(
        max_drawdown_pct(1_000.0 + np.array([0.0, 200.0, 50.0, 300.0, 260.0])))


def test_the_largest_fall_in_money_and_in_percent_may_be_different_falls():
    tracker = Drawdown(capital=100.0)
    for value in (0.0, -50.0, 900.0, 800.0):
        tracker.update(value)
    # 50 from an account of 100 is 50 %; 100 from 1,000 is 10 %
    assert (tracker.max_drawdown, tracker.max_drawdown_pct) == (100.0, 50.0)


def test_a_deposit_moves_the_percentage_base_not_the_curve():
    tracker = Drawdown(capital=1_000.0)
    tracker.update(100.0)
    tracker.deposit(1_000.0)
    tracker.update(-120.0)  # 220 below the peak of an account now worth 2,100
    assert tracker.max_drawdown == 220.0
    assert tracker.max_drawdown_pct == pytest.approx(220 / 2_100 * 100)


curves = st.lists(st.integers(-4000, 4000).map(lambda q: q / 4), max_size=80)


@settings(max_examples=150, deadline=None)
@given(curves, st.integers(1, 6))
def test_the_running_drawdown_equals_the_formulas_whichever_way_it_is_fed(values, parts):
    capital = 5_000.0
    curve = [0.0, *values]
    one, lists, arrays = Drawdown(capital), Drawdown(capital), Drawdown(capital)
    for value in values:
        one.update(value)
    cuts = np.linspace(0, len(values), parts + 1).astype(int)
    for start, stop in itertools.pairwise(cuts):
        lists.update_values(values[start:stop])
        arrays.update_array(np.array(values[start:stop], dtype=float))
    for tracker in (one, lists, arrays):
        assert tracker.max_drawdown == max_drawdown(curve)
        assert tracker.max_drawdown_pct == pytest.approx(
            max_drawdown_pct(capital + np.array(curve)), rel=1e-12, abs=1e-12)
        assert (tracker.peak, tracker.trough) == (one.peak, one.trough)


# --- daily closes ---------------------------------------------------------------------------


def test_a_days_close_is_the_last_value_before_midnight_and_gaps_are_flat_days():
    stamps = MIDNIGHT + np.array([3600.0, 80_000.0, DAY, DAY + 7200.0, 4 * DAY + 10.0])
    equity = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    closes = daily_closes(stamps, equity, start=0.5)
    # day 1 closes at 2 (the price at 00:00 opens day 2); day 2 at 4; days 3 and 4 have no
    # prices (flat, at 4); day 5, the last, closes at the final value
    assert closes.tolist() == [0.5, 2.0, 4.0, 4.0, 4.0, 5.0]


def test_daily_closes_equal_pandas_resampling_to_utc_days():
    rng = np.random.default_rng(3)
    stamps = MIDNIGHT + np.cumsum(rng.exponential(5_000.0, 400))
    stamps = stamps[(stamps % (7 * DAY)) < 5 * DAY]  # weekends without prices
    equity = 10_000 + np.cumsum(rng.normal(0, 30, stamps.shape[0]))
    theirs = (pd.Series(equity, index=pd.to_datetime(stamps, unit="s"))
              .resample("1D").last().ffill().to_numpy())
    assert daily_closes(stamps, equity, 10_000.0).tolist() == [10_000.0, *theirs.tolist()]


# --- Sharpe ---------------------------------------------------------------------------------


def test_sharpe_is_the_mean_over_the_sample_std_of_daily_returns_times_root_365():
    closes = [100.0, 101.0, 99.99, 102.9897, 102.9897]
    # returns 1 %, -1 %, 3 %, 0: mean 0.75 %; squared deviations 0.0625 + 3.0625 + 5.0625
    # + 0.5625 = 8.75 (in %²), sample variance 8.75 / 3
    expected = 0.75 / math.sqrt(8.75 / 3) * math.sqrt(365)
    assert expected == pytest.approx(8.3900, abs=1e-4)
    assert sharpe_ratio(closes, min_days=4).value == pytest.approx(expected, rel=1e-9)


def test_the_risk_free_rate_is_taken_daily_from_the_annual_rate():
    closes = [100.0, 101.0, 99.99, 102.9897, 102.9897]
    rf = daily_risk_free(0.05)
    assert rf == pytest.approx(1.05 ** (1 / 365) - 1)
    expected = (0.0075 - rf) / math.sqrt(8.75e-4 / 3) * math.sqrt(365)
    assert sharpe_ratio(closes, 0.05, min_days=4).value == pytest.approx(expected, rel=1e-9)


def test_below_the_minimum_of_daily_returns_there_is_no_sharpe_only_a_reason():
    closes = 100.0 + np.arange(MIN_SHARPE_DAYS) % 3  # 29 daily returns
    result = sharpe_ratio(closes)
    assert result.value is None
    assert result.note == f"needs {MIN_SHARPE_DAYS} daily returns, has {MIN_SHARPE_DAYS - 1}"
    assert sharpe_ratio(np.append(closes, 101.0)).value is not None


def test_a_curve_that_never_moves_or_a_lost_capital_has_no_sharpe():
    assert sharpe_ratio([100.0] * 40).note == "equity never varied from day to day"
    lost = sharpe_ratio([100.0, 50.0, -10.0, *([5.0] * 40)])
    assert lost.value is None and "fell to zero" in lost.note


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-300, 300), st.integers(1, 4)), min_size=0, max_size=60),
       st.integers(-300, 300))
def test_the_running_sharpe_equals_the_formula_on_the_same_closes(days, current):
    daily = DailyReturns(10_000.0)
    closes = [10_000.0]
    for change, count in days:
        value = closes[-1] + change
        daily.close_days(value, count)
        closes.extend([value] * count)  # the days of a gap close flat
    closes.append(closes[-1] + current)  # the day in progress, at the current value
    running = daily.sharpe(closes[-1], min_days=2)
    formula = sharpe_ratio(closes, min_days=2)
    assert running.note == formula.note
    if formula.value is None:
        assert running.value is None
    else:
        assert running.value == pytest.approx(formula.value, rel=1e-7, abs=1e-9)


def _hourly_curve(seed: int, weekends: bool) -> tuple[np.ndarray, np.ndarray]:
    """Hourly account values over 120 days, with or without prices on weekends."""
    rng = np.random.default_rng(seed)
    stamps = MIDNIGHT + 3600.0 * np.arange(1, 120 * 24 + 1)
    if not weekends:
        stamps = stamps[(stamps - MIDNIGHT) % (7 * DAY) < 5 * DAY]
    equity = 10_000.0 + np.cumsum(rng.normal(1.0, 40.0, stamps.shape[0]))
    return stamps, equity


@pytest.mark.parametrize("weekends", [True, False], ids=["every day", "weekdays only"])
@pytest.mark.parametrize("risk_free", [0.0, 0.04])
def test_sharpe_and_sortino_agree_with_quantstats_on_the_same_equity_curve(weekends, risk_free):
    import quantstats  # a test dependency (pyproject.toml): missing, this fails
    stamps, equity = _hourly_curve(11, weekends)
    closes = daily_closes(stamps, equity, 10_000.0)
    days = pd.date_range(pd.to_datetime(stamps[0], unit="s").normalize(), periods=closes.size - 1)
    returns = pd.Series(np.diff(closes) / closes[:-1], index=days)
    theirs = quantstats.stats.sharpe(returns, rf=risk_free, periods=365)
    assert sharpe_ratio(closes, risk_free).value == pytest.approx(theirs, rel=1e-9)
    assert sortino_ratio(closes, risk_free) == pytest.approx(
        quantstats.stats.sortino(returns, rf=risk_free, periods=365), rel=1e-9)
