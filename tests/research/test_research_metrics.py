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


def test_sortino_divides_the_mean_change_by_the_downside_deviation():
    # changes 2, -1, 3, -2: mean 0.5; shortfalls² 0, 1, 0, 4 -> mean 1.25; P = 4 -> sqrt 2
    expected = 0.5 / math.sqrt(1.25) * 2.0
    assert metrics.sortino_ratio([0, 2, 1, 4, 2], 4) == pytest.approx(expected)
    assert metrics.sortino_ratio([0, 1, 2, 3], 4) == 0.0  # never falls: undefined, reported 0
    assert metrics.sortino_ratio([0, 1], 4) == 0.0  # one change is not enough


def test_calmar_is_annualised_pnl_over_the_max_drawdown():
    # changes 2, -1, 3, -2: mean 0.5 per period, 365 periods; drawdown 4 -> 2 = 2
    assert metrics.calmar_ratio([0, 2, 1, 4, 2], 365) == pytest.approx(0.5 * 365 / 2)
    assert metrics.calmar_ratio([0, 1, 2, 3], 365) == 0.0


def test_profit_factor_is_gross_profit_over_gross_loss():
    assert metrics.profit_factor([10, -5, 20, -10, 0]) == pytest.approx(30 / 15)
    assert metrics.profit_factor([5.0]) == math.inf
    assert metrics.profit_factor([-5.0]) == 0.0
    assert metrics.profit_factor([]) == 0.0


def test_expectancy_is_the_mean_pnl_per_closed_trade():
    assert metrics.expectancy([10, -5, 20, -10, 0]) == pytest.approx(3.0)
    assert metrics.expectancy([]) == 0.0
