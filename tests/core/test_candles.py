"""Candles from ticks, from a file's bars and from a backfill, checked against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas_desktop.core.candles import Candles, CandleSet, Pieces, combine


def bars(rows: list[tuple[float, float, float, float, float, float]]) -> Pieces:
    """Pieces from (start, open, high, low, close, volume) rows."""
    columns = np.array(rows, dtype=float).T
    return Pieces(*columns)


def table(series: Candles) -> list[tuple[float, ...]]:
    return list(zip(series.times.tolist(), series.open.tolist(), series.high.tolist(),
                    series.low.tolist(), series.close.tolist(), series.volume.tolist(),
                    strict=True))


def test_candles_from_ticks_match_a_hand_worked_example():
    series = Candles(60.0)
    prices = np.array([10.0, 12.0, 9.0, 11.0, 20.0, 18.0])
    stamps = np.array([0.0, 10.0, 30.0, 59.9, 60.0, 119.0])
    series.add_ticks(prices, stamps)
    # bar 0: ticks at 0, 10, 30, 59.9 -> O 10 H 12 L 9 C 11, 4 ticks; bar 60: 20 then 18
    assert table(series) == [(0.0, 10.0, 12.0, 9.0, 11.0, 4.0),
                             (60.0, 20.0, 20.0, 18.0, 18.0, 2.0)]
    # the next batch continues the open bar, then opens a new one
    series.add_ticks(np.array([25.0, 5.0]), np.array([119.5, 180.0]))
    assert table(series)[1:] == [(60.0, 20.0, 25.0, 18.0, 25.0, 3.0),
                                 (180.0, 5.0, 5.0, 5.0, 5.0, 1.0)]
    assert series.closed == 2  # the bar at 180 is still forming


def test_candles_keep_the_newest_bars_and_count_what_they_drop():
    series = Candles(1.0, capacity=5)
    series.add_ticks(np.arange(8.0), np.arange(8.0))
    assert len(series) == 5 and series.dropped == 3
    assert series.open.tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]
    # one bar at a time, many times the capacity: still the newest five, in order
    for t in range(8, 40):
        series.add_ticks(np.array([float(t)]), np.array([float(t)]))
    assert series.open.tolist() == [35.0, 36.0, 37.0, 38.0, 39.0]
    assert series.dropped == 35


def test_a_late_tick_joins_the_current_bar():
    series = Candles(60.0)
    series.add_ticks(np.array([1.0, 2.0]), np.array([120.0, 61.0]))  # the clock stepped back
    assert series.times.tolist() == [120.0]
    assert series.volume.tolist() == [2.0] and series.close.tolist() == [2.0]


def test_finer_bars_combine_into_first_open_extremes_last_close_and_summed_volume():
    hourly = bars([(0, 100, 110, 95, 105, 2.0), (3600, 105, 120, 104, 118, 3.0),
                   (7200, 118, 119, 90, 92, 1.5), (14400, 92, 93, 91, 93, 0.5)])
    two_hours = combine(hourly, 7200.0)
    assert list(zip(*(a.tolist() for a in (two_hours.start, two_hours.open, two_hours.high,
                                           two_hours.low, two_hours.close,
                                           two_hours.volume)), strict=True)) == [
        (0.0, 100.0, 120.0, 95.0, 118.0, 5.0),
        (7200.0, 118.0, 119.0, 90.0, 92.0, 1.5),
        (14400.0, 92.0, 93.0, 91.0, 93.0, 0.5)]


def test_every_interval_is_kept_from_one_pass_over_the_ticks():
    book = CandleSet([1.0, 5.0, 15.0, 60.0, 3600.0], capacity=10_000)
    rng = np.random.default_rng(3)
    stamps = np.sort(rng.uniform(0.0, 7200.0, 20_000))
    prices = 100.0 + np.cumsum(rng.normal(0.0, 0.1, stamps.size))
    for part in np.array_split(np.arange(stamps.size), 37):  # batches of odd sizes
        book.add_ticks(prices[part], stamps[part])
    for interval in (1.0, 5.0, 15.0, 60.0, 3600.0):
        direct = Candles(interval, capacity=10_000)
        direct.add_ticks(prices, stamps)
        assert table(book[interval]) == table(direct), interval
    assert len(book[3600.0]) == 2 and book[3600.0].volume.sum() == 20_000


def test_a_file_of_hourly_bars_shows_as_itself_and_its_multiples_only():
    book = CandleSet([1.0, 60.0, 3600.0, 14400.0, 86400.0])
    hourly = bars([(3600.0 * i, 100 + i, 101 + i, 99 + i, 100.5 + i, 10.0) for i in range(30)])
    book.add_bars(hourly.where(slice(0, 10)), 3600.0)
    book.add_bars(hourly.where(slice(10, None)), 3600.0)
    assert book.fed == [3600.0, 14400.0, 86400.0]
    assert table(book.series_for(3600.0)) == table_of(hourly)
    assert book.series_for(1.0) is book[3600.0]  # finer than the file: the file's own bars
    assert book[3600.0].closed == 30  # a file's bars are complete, the newest too
    four = book[14400.0]
    assert four.times.tolist() == [0.0, 14400.0, 28800.0, 43200.0, 57600.0, 72000.0, 86400.0,
                                   100800.0]
    # the first 4h bar: hours 0-3 -> O 100, H 104, L 99, C 103.5, volume 40
    assert table(four)[0] == (0.0, 100.0, 104.0, 99.0, 103.5, 40.0)
    assert four.closed == 7  # the last 4h bar (hours 28-29) is still forming
    day = book[86400.0]
    assert table(day) == [(0.0, 100.0, 124.0, 99.0, 123.5, 240.0),
                          (86400.0, 124.0, 130.0, 123.0, 129.5, 60.0)]


def table_of(pieces: Pieces) -> list[tuple[float, ...]]:
    return list(zip(*(a.tolist() for a in (pieces.start, pieces.open, pieces.high, pieces.low,
                                           pieces.close, pieces.volume)), strict=True))


def test_a_backfill_goes_in_front_without_counting_a_price_twice():
    book = CandleSet([1.0, 60.0, 300.0])
    book.add_ticks(np.array([50.0, 51.0]), np.array([250.0, 305.0]))  # first price at 250
    minutes = bars([(0, 40, 41, 39, 40.5, 3.0), (60, 40.5, 45, 40, 44, 2.0),
                    (120, 44, 44, 43, 43.5, 1.0), (180, 43.5, 49, 43, 48, 4.0),
                    (240, 48, 52, 47, 50, 5.0)])  # the bar at 240 overlaps the first price
    book.backfill(minutes, 60.0)
    assert table(book[60.0])[:4] == table_of(minutes.where(slice(0, 4)))
    assert book[60.0].times.tolist() == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    assert table(book[60.0])[4] == (240.0, 50.0, 50.0, 50.0, 50.0, 1.0)  # the live tick only
    # 5m: minutes 0-3 from the backfill, then the live tick at 250 in the same bar
    assert table(book[300.0])[0] == (0.0, 40.0, 50.0, 39.0, 50.0, 11.0)
    assert book[1.0].times.tolist() == [250.0, 305.0]  # seconds cannot be made from minutes


def test_prepending_more_than_the_capacity_keeps_the_newest():
    series = Candles(60.0, capacity=4)
    series.add_ticks(np.array([9.0]), np.array([600.0]))
    series.prepend(bars([(60.0 * i, i, i, i, i, 1.0) for i in range(10)]))
    assert series.times.tolist() == [420.0, 480.0, 540.0, 600.0]
    assert series.generation == 1  # absolute indices changed: charts redraw every bar


def test_an_interval_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Candles(0.0)
