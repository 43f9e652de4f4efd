"""Room to work at every size: each tab at 1280x720, 1600x960 and 1920x1080, nothing clipped."""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, click, retype
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QDockWidget, QTableView, QWidget

from velocitas_desktop.research.backtest import backtest, load_bars

SIZES = [(1280, 720), (1600, 960), (1920, 1080)]
SAMPLE = "BTCUSD-1h-sample.csv"


def on_window(widget: QWidget) -> QRect:
    """The widget's rectangle in its window's coordinates."""
    return QRect(widget.mapTo(widget.window(), QPoint(0, 0)), widget.size())


def shown_whole(widget: QWidget) -> None:
    """Visible, with room, and inside every parent up to the window."""
    assert widget.isVisible(), widget.objectName()
    assert widget.width() > 20 and widget.height() > 10, (widget.objectName(), widget.size())
    parent = widget.parentWidget()
    place = on_window(widget)
    while parent is not None and parent is not widget.window():
        if not isinstance(parent.parentWidget(), QWidget) or parent.objectName() == \
                "qt_scrollarea_viewport":
            break
        assert on_window(parent).contains(place), (widget.objectName(), parent.objectName())
        parent = parent.parentWidget()
    assert widget.window().rect().contains(place), (widget.objectName(), place)


def apart(widgets: list[QWidget]) -> None:
    for a, b in combinations(widgets, 2):
        assert not on_window(a).intersects(on_window(b)), (a.objectName(), b.objectName())


def rows_in_view(view: QTableView) -> int:
    return view.viewport().height() // max(view.verticalHeader().defaultSectionSize(), 1)


def headers_whole(view: QTableView) -> None:
    """Every column's title fits its column: none is elided to "Sha…"."""
    header = view.horizontalHeader()
    metrics = header.fontMetrics()
    model = view.model()
    for column in range(model.columnCount()):
        title = str(model.headerData(column, Qt.Orientation.Horizontal))
        assert header.sectionSize(column) >= metrics.horizontalAdvance(title) + 8, title


def run_search(qtbot, tab, random: int = 0) -> None:  # type: ignore[no-untyped-def]
    tab.file_box.setCurrentIndex(tab.file_box.findText(SAMPLE))
    tab.strategy_box.setCurrentText("SMA_Crossover")
    retype(qtbot, tab.range_row("fast").edit, "5:50:5")
    retype(qtbot, tab.range_row("slow").edit, "20:200:20")
    tab.workers_box.setValue(0)
    tab.random_box.setValue(random)
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and tab.results_model.rowCount() > 0,
                    timeout=WAIT_MS)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_tab_has_room_and_nothing_overlaps_at_each_size(qtbot, window, size,
                                                             tmp_path: Path):
    window.resize(*size)
    for source in ("simulated", "binance", "csv"):  # CSV, the most crowded toolbar, last
        window.source_box.setCurrentIndex(window.source_box.findData(source))
        qtbot.wait(50)
        for button in (window.start_button, window.stop_button, window.settings_button):
            shown_whole(button)  # not behind the toolbar's » button
        coins = window.coins_edit
        assert coins.fontMetrics().horizontalAdvance(coins.text()) <= \
            coins.contentsRect().width() - 8, source
    window.speed_edit.setText("360000")
    qtbot.wait(100)
    speed = window.speed_edit
    room = speed.contentsRect().width() - 8  # the frame's and the text's margins
    assert speed.fontMetrics().horizontalAdvance("360000") <= room  # not "l60000"
    assert speed.fontMetrics().horizontalAdvance("max") <= room
    window.grab().save(str(tmp_path / f"live-{size[0]}x{size[1]}.png"))
    live_docks = [d for d in window.findChildren(QDockWidget) if d.isVisible()]
    assert len(live_docks) >= 3
    apart([window.modes, *[d for d in live_docks if not d.visibleRegion().isEmpty()]])

    window.modes.setCurrentWidget(window.optimization)
    tab = window.optimization
    run_search(qtbot, tab)
    tab.results_view.selectRow(0)
    qtbot.waitUntil(lambda: tab.equity.points > 0, timeout=WAIT_MS)
    qtbot.wait(100)
    window.grab().save(str(tmp_path / f"optimisation-{size[0]}x{size[1]}.png"))
    assert not any(d.isVisible() for d in live_docks if not d.isFloating())
    for widget in (tab.run_button, tab.cancel_button, tab.progress, tab.results_view,
                   tab.heatmap.plot, tab.equity.plot, tab.equity.title, tab.apply_button,
                   tab.trades_view):
        shown_whole(widget)
    apart([tab.run_button, tab.progress, tab.results_view, tab.heatmap, tab.equity,
           tab.trades_view])
    apart([tab.equity.title, tab.equity.plot])
    assert rows_in_view(tab.results_view) >= 5
    headers_whole(tab.results_view)
    assert tab.heatmap.labels and all(
        label.isVisible() == tab.heatmap.labels_fit() for label in tab.heatmap.labels)

    window.modes.setCurrentWidget(window.charts)
    qtbot.wait(50)
    assert all(d.isVisible() for d in live_docks)  # back where they were


def test_heatmap_labels_show_only_where_they_fit(qtbot, window):
    window.resize(1280, 720)
    window.modes.setCurrentWidget(window.optimization)
    tab = window.optimization
    run_search(qtbot, tab)  # 10 x 10 cells
    heatmap = tab.heatmap
    # fixed, not resized: the window's layout puts a resized widget back at its next pass,
    # which on a loaded machine came before the check
    heatmap.setFixedSize(260, 200)
    qtbot.waitUntil(lambda: not heatmap.labels_fit(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not any(label.isVisible() for label in heatmap.labels),
                    timeout=WAIT_MS)


def test_a_random_search_fills_the_heatmap_with_the_best_of_each_cell(qtbot, window):
    window.modes.setCurrentWidget(window.optimization)
    tab = window.optimization
    tab.file_box.setCurrentIndex(tab.file_box.findText(SAMPLE))
    tab.strategy_box.setCurrentText("MACD")  # three parameters varied on its default ranges
    tab.workers_box.setValue(0)
    tab.random_box.setValue(60)
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and tab.results_model.rowCount() == 60,
                    timeout=WAIT_MS)
    assert len(tab.varied) >= 3
    x_name, y_name = tab.x_box.currentText(), tab.y_box.currentText()
    best: dict[tuple[float, float], float] = {}
    for item in tab.results:
        cell = (item["params"][x_name], item["params"][y_name])
        best[cell] = max(best.get(cell, -math.inf), item["score"])
    grid, heatmap = tab.heatmap.grid, tab.heatmap
    assert int((grid == grid).sum()) == len(best) >= 20  # every sampled pair, not one dot
    for (x, y), score in best.items():
        assert grid[heatmap.xs.index(x), heatmap.ys.index(y)] == pytest.approx(score)
    assert "each cell the best of the sampled rows in it" in tab.heat_note.text()


def test_the_tab_charges_the_live_slippage_so_a_row_matches_its_replay(qtbot, make_window):
    from dataclasses import replace

    from velocitas_desktop.gui.settings import load_settings, save_settings

    save_settings(replace(load_settings(), slippage=0.0005))
    window = make_window()
    tab = window.optimization
    assert tab.slippage_box.text() == "0.05"  # from Settings, in %
    window.modes.setCurrentWidget(tab)
    run_search(qtbot, tab)
    best = tab.results[0]
    bars = load_bars(tab.current_path())
    replay = backtest("SMA_Crossover", bars, best["params"], fee=0.001, slippage=0.0005)
    assert tab.run_settings.slippage == 0.0005
    tab.results_view.selectRow(0)
    qtbot.waitUntil(lambda: "return" in tab.equity.title.text(), timeout=WAIT_MS)
    assert f"return {replay.stats['total_return_pct']:+.2f}%" in tab.equity.title.text()
    no_slip = backtest("SMA_Crossover", bars, best["params"], fee=0.001, slippage=0.0)
    assert no_slip.stats["total_return_pct"] != replay.stats["total_return_pct"]


def test_a_slippage_out_of_range_is_refused_with_its_reason(qtbot, window):
    tab = window.optimization
    window.modes.setCurrentWidget(tab)
    retype(qtbot, tab.slippage_box, "75")
    click(qtbot, tab.run_button)
    assert "75 is above the highest slippage, 10" in tab.message.text()
    assert tab.slippage_box.message.isVisible()
    assert not tab.running and tab.slippage_box.text() == "75"  # kept, not clamped
