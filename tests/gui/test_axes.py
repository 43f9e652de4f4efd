"""Scales a trader reads at a glance: separators, decimals by step, months at day changes, logs."""

from __future__ import annotations

import math
import time

import pytest

from velocitas_desktop.gui.plots import TimeAxis, ValueAxis, amount, price_text

DAY = 86_400.0
T0 = 1_570_320_000.0  # 2019-10-06 00:00 UTC


@pytest.mark.parametrize("value, step, text", [
    (-50_000.0, 10_000.0, "-50,000"),
    (104_250.0, 250.0, "104,250"),
    (0.25, 0.25, "0.25"),       # not 00.250
    (18.0, 0.5, "18.0"),
    (3.14159, 0.001, "3.142"),
    (0.000123, 0.00001, "0.00012"),
])
def test_a_value_has_separators_and_the_decimals_its_step_needs(value, step, text):
    assert amount(value, step) == text


@pytest.mark.parametrize("price, text", [(104_250.5, "104,250.50"), (1.5, "1.50"),
                                         (0.000123456, "0.0001235"), (0.0, "0")])
def test_a_price_reads_in_cents_or_significant_digits(price, text):
    assert price_text(price) == text


def test_the_value_scale_labels_its_ticks_with_separators(qapp):
    axis = ValueAxis()
    levels = axis.tickValues(60_000.0, 66_000.0, 400)
    labels = axis.tickStrings(levels[0][1], 1.0, levels[0][0])
    assert labels[0] == "60,000" and all(label.endswith("000") for label in labels)


def test_on_a_log_scale_ticks_fall_on_round_prices(qapp):
    axis = ValueAxis()
    axis.log = True
    levels = axis.tickValues(math.log10(3_000.0), math.log10(15_000.0), 400)
    spacing, values = levels[0]
    prices = [round(10 ** v, 6) for v in values]
    assert prices == [4_000.0, 6_000.0, 8_000.0, 10_000.0, 12_000.0, 14_000.0]
    assert spacing == 2_000.0  # in prices, not in logarithms
    assert axis.tickStrings(values, 1.0, spacing)[:2] == ["4,000", "6,000"]


def labels(axis: TimeAxis, left: float, right: float, pixels: float) -> list[str]:
    found = []
    for spacing, values in axis.tickValues(left, right, pixels):
        found += axis.tickStrings(values, 1.0, spacing)
    return found


def test_dates_carry_the_month_where_the_day_changes(qapp):
    axis = TimeAxis()
    days = labels(axis, T0, T0 + 10 * DAY, 900)
    assert "07 Oct" in days and "06" not in days  # never a bare day number
    hours = labels(axis, T0 - 6 * 3600, T0 + 6 * 3600, 900)
    assert "06 Oct" in hours  # the midnight between the hours
    assert any(":" in label for label in hours)


def test_no_time_label_goes_below_a_second(qapp):
    axis = TimeAxis()
    found = labels(axis, T0, T0 + 0.5, 900)
    assert all("." not in label for label in found)
    around_midnight = labels(axis, T0 - 5, T0 + 5, 900)
    assert "06 Oct" in around_midnight  # the day, at midnight
    assert time.strftime("%H:%M:%S", time.gmtime(T0 + 1)) in around_midnight
