"""The Trend chart's level of detail: a million bars painted as a bounded number of strokes,
candles once few enough are in view, and the min/max pyramid exact against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from chart_helpers import drag, middle_of, wheel
from PySide6.QtWidgets import QApplication

from velocitas_desktop.gui.trend.pyramid import MinMaxPyramid

MILLION = 1_000_000


def random_bars(count: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.random(count) * 0.001)
    low = np.minimum(open_, close) * (1 - rng.random(count) * 0.001)
    return {"time": 1_600_000_000 + 60.0 * np.arange(count), "open": open_, "high": high,
            "low": low, "close": close}


@pytest.mark.parametrize("count", [1, 2, 7, 1000, 4097])
def test_each_envelope_bucket_holds_numpys_min_and_max_of_its_bars(count):
    bars = random_bars(count, seed=count)
    pyramid = MinMaxPyramid(bars["open"], bars["high"], bars["low"], bars["close"])
    rng = np.random.default_rng(count)
    for _ in range(50):
        lo = int(rng.integers(0, count))
        hi = int(rng.integers(lo + 1, count + 1))
        buckets = int(rng.integers(1, 300))
        env = pyramid.envelope(lo, hi, buckets)
        assert len(env) <= buckets + 2  # a bucket per pixel column, and the two edges'
        assert env.first[0] <= lo < env.first[0] + env.size
        assert env.first[-1] <= hi - 1 < env.first[-1] + env.size
        for i, first in enumerate(env.first.tolist()):
            last = min(first + env.size, count)
            assert env.low[i] == bars["low"][first:last].min()
            assert env.high[i] == bars["high"][first:last].max()
            assert env.open[i] == bars["open"][first]
            assert env.close[i] == bars["close"][last - 1]


def test_the_extent_of_any_range_is_numpys_min_and_max():
    bars = random_bars(10_007)
    pyramid = MinMaxPyramid(bars["open"], bars["high"], bars["low"], bars["close"])
    rng = np.random.default_rng(7)
    for _ in range(300):
        lo = int(rng.integers(0, 10_007))
        hi = int(rng.integers(lo + 1, 10_008))
        assert pyramid.extent(lo, hi) == (bars["low"][lo:hi].min(), bars["high"][lo:hi].max())


@pytest.fixture
def million(qtbot):  # type: ignore[no-untyped-def]
    """A Trend chart on screen showing a million one-minute bars, and those bars."""
    from velocitas_desktop.gui.theme import DARK, apply_theme
    from velocitas_desktop.gui.trend.chart import TrendChart

    apply_theme(QApplication.instance(), "dark")
    chart = TrendChart(DARK)
    qtbot.addWidget(chart)
    chart.resize(1200, 600)
    chart.show()
    qtbot.waitExposed(chart)
    bars = random_bars(MILLION)
    chart.show_bars(bars["time"], bars["open"], bars["high"], bars["low"], bars["close"], 60)
    return chart, bars


def painted(chart) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """What the bars item drew in a frame rendered now, as the screen would show it."""
    chart.bars.drawn = -1
    chart.grab()
    return chart.bars.mode, chart.bars.drawn


def test_a_million_bars_paint_a_bounded_number_of_strokes_at_every_zoom(million):
    chart, bars = million
    time = bars["time"]

    pixels = int(chart.box.width())
    mode, drawn = painted(chart)  # the whole history in view
    assert mode == "envelope" and 0 < drawn <= 2 * pixels + 2
    # the price scale spans every bar's low and high
    bottom, top = chart.box.viewRange()[1]
    assert bottom <= bars["low"].min() and bars["high"].max() <= top

    for span in (300_000, 20_000, 2_000):  # zooming in on the middle
        middle = time[MILLION // 2]
        chart.show_range(middle - span * 30, middle + span * 30)
        mode, drawn = painted(chart)
        assert mode == "envelope" and 0 < drawn <= 2 * pixels + 2

    chart.show_range(time[-100], time[-1] + 60)  # 100 bars in view: candles, one a bar
    mode, drawn = painted(chart)
    assert mode == "candles" and drawn == 101
    lo, hi = chart.bars.in_view(time[-100], time[-1] + 60)
    bottom, top = chart.box.viewRange()[1]
    assert bottom <= bars["low"][lo:hi].min() and bars["high"][lo:hi].max() <= top
    # fitted to the bars in view, not to the whole history
    assert top - bottom < (bars["high"].max() - bars["low"].min()) / 10


def test_the_wheel_and_a_drag_zoom_and_pan_a_million_bars_down_to_candles(qtbot, million):
    chart, bars = million
    pixels = int(chart.box.width())
    left, right = chart.box.viewRange()[0]
    for _ in range(6):  # six notches away from the trader: zoom in at the middle
        wheel(chart, middle_of(chart, chart), 5)
        mode, drawn = painted(chart)
        assert 0 < drawn <= 2 * pixels + 2
    zoomed = chart.box.viewRange()[0]
    assert zoomed[1] - zoomed[0] < (right - left) / 10
    before = chart.box.viewRange()[0]
    start = middle_of(chart, chart)
    drag(chart, start, start + type(start)(300, 0))  # the history moves right: back in time
    after = chart.box.viewRange()[0]
    assert after[0] < before[0] and after[1] < before[1]
    assert 0 < painted(chart)[1] <= 2 * pixels + 2
    while chart.bars.in_view(*chart.box.viewRange()[0])[1] \
            - chart.bars.in_view(*chart.box.viewRange()[0])[0] > 200:
        wheel(chart, middle_of(chart, chart), 5)
    mode, drawn = painted(chart)
    assert mode == "candles" and drawn <= 200
    chart.show_all()
    assert painted(chart)[0] == "envelope"
    low, high = chart.box.viewRange()[0]
    assert low <= bars["time"][0] and bars["time"][-1] <= high
