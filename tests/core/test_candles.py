"""Candles built from ticks, checked against hand-worked cases."""

from __future__ import annotations

import numpy as np

from velocitas_desktop.core.candles import CandleSeries


def test_candles_from_ticks_match_a_hand_worked_example():
    series = CandleSeries(60.0)
    prices = np.array([10.0, 12.0, 9.0, 11.0, 20.0, 18.0])
    stamps = np.array([0.0, 10.0, 30.0, 59.9, 60.0, 119.0])
    series.add(prices, stamps)
    assert series.times.tolist() == [0.0, 60.0]
    assert series.open.tolist() == [10.0, 20.0]
    assert series.high.tolist() == [12.0, 20.0]
    assert series.low.tolist() == [9.0, 18.0]
    assert series.close.tolist() == [11.0, 18.0]
    assert series.volume.tolist() == [4.0, 2.0]
    # the next batch continues the open bar, then opens a new one
    series.add(np.array([25.0, 5.0]), np.array([119.5, 180.0]))
    assert series.high.tolist() == [12.0, 25.0, 5.0]
    assert series.close.tolist() == [11.0, 25.0, 5.0]
    assert series.volume.tolist() == [4.0, 3.0, 1.0]


def test_candles_keep_the_newest_bars_and_count_what_they_drop():
    series = CandleSeries(1.0, capacity=5)
    series.add(np.arange(8.0), np.arange(8.0))
    assert len(series) == 5 and series.dropped == 3
    assert series.open.tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]


def test_a_late_tick_joins_the_current_bar():
    series = CandleSeries(60.0)
    series.add(np.array([1.0, 2.0]), np.array([120.0, 61.0]))  # the clock stepped back
    assert series.times.tolist() == [120.0]
    assert series.volume.tolist() == [2.0] and series.close.tolist() == [2.0]
