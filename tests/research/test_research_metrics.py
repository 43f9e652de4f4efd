"""The report formulas added for backtests, against cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from velocitas_desktop.core import metrics


def test_max_drawdown_pct_is_the_largest_fall_relative_to_its_peak():
    # peaks 100 120 120 130 130; falls 0, 0, 30/120 = 25 %, 0, 13/130 = 10 %
    assert metrics.max_drawdown_pct([100, 120, 90, 130, 117]) == pytest.approx(25.0)
    assert metrics.max_drawdown_pct([100, 110, 120]) == 0.0
    assert metrics.max_drawdown_pct([]) == 0.0


def test_sortino_divides_the_mean_daily_return_by_the_downside_deviation():
    # returns 2 %, -1 %, 3 %, -2 % (of the previous close): mean 0.5 %; shortfalls² 0, 1, 0,
    # 4 (in %²) -> mean 1.25; annualised with √365
    closes = [100.0, 102.0, 100.98, 104.0094, 101.929212]
    expected = 0.5 / math.sqrt(1.25) * math.sqrt(365)
    assert metrics.sortino_ratio(closes, min_days=4) == pytest.approx(expected, rel=1e-9)
    assert metrics.sortino_ratio([100, 101, 102, 103, 104], min_days=4) is None  # no fall
    assert metrics.sortino_ratio(closes) is None  # four days are too few by default


def test_calmar_is_the_simple_annual_return_over_the_max_drawdown_both_in_percent():
    closes = [100.0, 102.0, 100.98, 104.0094, 101.929212]
    # mean daily return 0.5 % -> 182.5 % a year; over a worst fall of 2 % -> 91.25
    assert metrics.calmar_ratio(closes, 2.0, min_days=4) == pytest.approx(91.25)
    assert metrics.calmar_ratio(closes, 0.0, min_days=4) is None
    assert metrics.calmar_ratio(closes, 2.0) is None


def test_profit_factor_is_gross_profit_over_gross_loss():
    assert metrics.profit_factor([10, -5, 20, -10, 0]) == pytest.approx(30 / 15)
    assert metrics.profit_factor([5.0]) == math.inf
    assert metrics.profit_factor([-5.0]) == 0.0
    assert metrics.profit_factor([]) == 0.0


def test_expectancy_is_the_mean_pnl_per_closed_trade():
    assert metrics.expectancy([10, -5, 20, -10, 0]) == pytest.approx(3.0)
    assert metrics.expectancy([]) == 0.0
