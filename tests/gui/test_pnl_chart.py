"""The P&L chart draws the session it is given, wherever the last one was, from its history."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas_desktop.gui.pnl import PnlChart, total_equity
from velocitas_desktop.gui.theme import colours

REPLAY = 1_552_401_589.0   # 2019
LIVE = 1_796_619_570.0     # 2026


@pytest.fixture
def chart(qtbot):  # type: ignore[no-untyped-def]
    widget = PnlChart(colours("dark"))
    qtbot.addWidget(widget)
    widget.resize(520, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def rows(start: float, count: int, step: float = 3600.0) -> list[dict]:
    return [{"timestamp": start + i * step, "strategy_id": sid, "pnl": float(i * sign)}
            for i in range(count) for sid, sign in (("BTC_SMA", 1), ("ETH_RSI", -2))]


def test_the_total_is_every_strategys_latest_equity_summed_at_each_time():
    curves = {"A": (np.array([0.0, 10.0, 20.0]), np.array([1.0, 2.0, 3.0])),
              "B": (np.array([5.0, 20.0]), np.array([10.0, 30.0]))}
    times, total = total_equity(curves)
    # t=0: A 1 (B none yet); t=5: 1+10; t=10: 2+10; t=20: 3+30
    assert times.tolist() == [0.0, 5.0, 10.0, 20.0]
    assert total.tolist() == [1.0, 11.0, 12.0, 33.0]


def test_a_new_session_is_drawn_in_its_own_time_range(qtbot, chart):
    chart.show_history(rows(REPLAY, 5_000))
    box = chart.plot.getViewBox()
    assert box.viewRange()[0][0] <= REPLAY
    chart.clear()  # a new session, years later
    for i in range(30):
        chart.add_snapshot({"strategies": {"BTC_SMA": {"equity": 5.0 * i}},
                            "global": {"equity": 5.0 * i}}, LIVE + i * 0.5, force=True)
    qtbot.wait(50)  # the view fits itself before it paints
    left, right = box.viewRange()[0]
    bottom, top = box.viewRange()[1]
    assert left <= LIVE and right >= LIVE + 14.5 and right - left < 60  # this session only
    assert bottom <= 0.0 and top >= 145.0 and top < 1_000  # its values, not the last ones'


def test_a_replay_over_in_one_snapshot_is_drawn_whole_from_its_history(qtbot, chart):
    chart.add_snapshot({"strategies": {"BTC_SMA": {"equity": 4_999.0}},
                        "global": {"equity": 4_999.0}}, REPLAY + 4_999 * 3600, force=True)
    chart.show_history(rows(REPLAY, 5_000))
    xs, ys = chart.points["BTC_SMA"]
    assert len(xs) == 5_000 and ys[-1] == 4_999.0
    assert chart.points["Total"][1][-1] == 4_999.0 - 2 * 4_999.0
    drawn_x, _ = chart.curves["Total"].curve.getData()  # what the line is drawn through
    assert len(drawn_x) <= 4_000  # thinned to peaks of three points each...
    assert drawn_x[0] - REPLAY <= 3 * 3600 and REPLAY + 4_999 * 3600 - drawn_x[-1] <= 3 * 3600
    # ...from the first point to the last: never cut to a view
    qtbot.wait(50)
    left, right = chart.plot.getViewBox().viewRange()[0]
    assert left <= REPLAY and right >= REPLAY + 4_999 * 3600


def test_the_legend_is_a_line_above_the_curves(chart):
    chart.show_history(rows(REPLAY, 10))
    assert chart.legend.geometry().bottom() <= chart.plot.geometry().top()
    text = chart.legend.text()
    assert text.index("BTC_SMA") < text.index("ETH_RSI") < text.index("Total")
    chart.set_palette(colours("light"))
    assert colours("light").foreground in chart.legend.text()  # readable in either theme
