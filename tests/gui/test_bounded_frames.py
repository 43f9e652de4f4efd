"""Work per frame is bounded whatever the engine's pace: candles and the blotter's flushes."""

from __future__ import annotations

import numpy as np

from velocitas_desktop.gui.charts import CHUNK, FOLLOW_BARS, PriceChart
from velocitas_desktop.gui.panels import CATCH_UP_FLUSHES, FLUSH_ROWS, BlotterPanel
from velocitas_desktop.gui.theme import colours


def fill(i: int) -> dict:
    return {"id": i, "timestamp": 1_700_000_000.0 + i, "strategy_id": "BTC_RSI", "coin": "BTC",
            "action": "BUY" if i % 2 else "SELL", "price": 100.0 + i % 7, "quantity": 1.0,
            "profit_loss": 0.0, "position_size": 1.0, "fee": 0.1}


def shown_chart(qtbot, interval: float) -> PriceChart:  # type: ignore[no-untyped-def]
    """A BTC price chart on screen (offscreen), 900 x 500."""
    chart = PriceChart("BTC", colours("dark"), interval=interval)
    qtbot.addWidget(chart)
    chart.resize(900, 500)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def test_only_the_candles_in_view_are_recorded(qtbot):
    chart = shown_chart(qtbot, interval=1.0)
    stamps = 1_700_000_000.0 + np.arange(3000 * 4) / 4  # 3,000 one-second bars
    chart.add_ticks(100 + np.sin(np.arange(stamps.size) / 50), stamps)
    chart.redraw()
    chart.grab()  # paints the candles as the screen would
    recorded = set(chart.candles._chunks)
    assert recorded, "the bars in view are drawn"
    # following the price shows the newest FOLLOW_BARS bars: one or two chunks, not all 24
    assert len(recorded) <= FOLLOW_BARS // CHUNK + 2
    assert max(recorded) == (3000 - 2) // CHUNK  # the newest finished bars are among them
    # zooming out to every bar records the rest when they come into view
    chart.price_plot.setXRange(float(chart.series.times[0]), float(chart.series.times[-1]))
    chart.grab()
    assert len(chart.candles._chunks) == (3000 - 2) // CHUNK + 1


def test_a_burst_of_fills_is_shown_over_several_flushes(qtbot):
    panel = BlotterPanel()
    qtbot.addWidget(panel)
    panel.add_trades([fill(i) for i in range(1, 2 * FLUSH_ROWS + 5_001)])
    panel._flush_timer.timeout.emit()  # one flush of the timer
    assert panel.model.rowCount() == FLUSH_ROWS
    assert panel.pending == FLUSH_ROWS + 5_000
    assert panel.model.value(0, "id") == FLUSH_ROWS  # newest first, oldest fills shown first
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2 * FLUSH_ROWS + 5_000, timeout=10_000)
    assert panel.pending == 0
    assert panel.count_label.text() == f"{2 * FLUSH_ROWS + 5_000:,} fills"


def test_a_backlog_beyond_ten_flushes_is_worked_off_in_larger_ones(qtbot):
    panel = BlotterPanel()
    qtbot.addWidget(panel)
    backlog = 30 * FLUSH_ROWS
    panel.add_trades([fill(i) for i in range(1, backlog + 1)])
    panel._flush_timer.timeout.emit()
    assert panel.model.rowCount() == backlog // CATCH_UP_FLUSHES  # not FLUSH_ROWS
    flushes = 1
    while panel.pending:
        panel._flush_timer.timeout.emit()
        flushes += 1
    assert flushes <= 3 * CATCH_UP_FLUSHES and panel.model.rowCount() == backlog
    assert panel.model.value(0, "id") == backlog  # nothing lost, newest on top


def test_an_export_flushes_every_queued_fill(qtbot, tmp_path):
    panel = BlotterPanel()
    qtbot.addWidget(panel)
    panel.add_trades([fill(i) for i in range(1, FLUSH_ROWS + 101)])
    with qtbot.waitSignal(panel.export_finished, timeout=20_000) as done:
        panel.export(str(tmp_path / "fills.csv"))
    assert done.args == [str(tmp_path / "fills.csv")]
    lines = (tmp_path / "fills.csv").read_text().splitlines()
    assert len(lines) == 1 + FLUSH_ROWS + 100


def test_the_grid_is_drawn_at_the_labelled_ticks_not_by_the_axes(qtbot):
    from PySide6.QtCore import QPointF

    chart = shown_chart(qtbot, interval=60.0)
    stamps = 1_700_000_000.0 + np.arange(600) * 30.0
    chart.add_ticks(100 + np.sin(np.arange(600) / 40), stamps)
    chart.redraw()
    chart.grab()
    # pyqtgraph's grid would make each axis as large as the plot; ours stay small
    assert all(chart.price_plot.getAxis(side).grid is False for side in ("right", "bottom"))
    grid = chart.price_pane.grid
    box = chart.price_plot.getViewBox()
    view, area = box.viewRect(), box.rect()
    lines = grid.lines()
    vertical = [ln.x1() for ln in lines if ln.x1() == ln.x2()]
    horizontal = [ln.y1() for ln in lines if ln.y1() == ln.y2()]
    assert vertical and horizontal
    ruler = chart.volume_plot.getAxis("bottom")  # the date axis on screen labels these times
    ticks = [v for _, values in ruler.tickValues(view.left(), view.right(), area.width())[:2]
             for v in values]
    assert vertical == [box.mapFromView(QPointF(t, 0)).x() for t in ticks]
    assert all(area.left() <= x <= area.right() for x in vertical)
    # zooming and panning repaint it many times over (this crashed Qt once: never again)
    for step in range(40):
        chart.price_plot.setXRange(stamps[0] + step * 60, stamps[-1] - step * 60, padding=0)
        chart.grab()
    assert grid.lines()


def test_cells_show_their_text_colour_and_selection(qtbot):
    from PySide6.QtGui import QColor

    from velocitas_desktop.gui.panels import TRADE_COLUMNS, make_table
    from velocitas_desktop.gui.table import ColumnTableModel

    model = ColumnTableModel(TRADE_COLUMNS)
    view = make_table(model)
    qtbot.addWidget(view)
    view.resize(1000, 200)
    view.show()
    qtbot.waitExposed(view)
    model.append_rows([fill(1), {**fill(2), "profit_loss": -5.0}])
    side = [c.key for c in TRADE_COLUMNS].index("action")

    def colours_in(row: int, column: int) -> set[str]:
        rect = view.visualRect(model.index(row, column))
        image = view.viewport().grab(rect).toImage()
        return {QColor(image.pixel(x, y)).name() for x in range(image.width())
                for y in range(image.height())}

    up, down = model.colours["up"].name(), model.colours["down"].name()
    assert up in colours_in(0, side)       # BUY in the rising colour
    assert down in colours_in(1, side)     # SELL in the falling colour
    view.selectRow(1)
    highlight = view.palette().highlight().color().name()
    assert highlight in colours_in(1, side) and highlight not in colours_in(0, side)


def test_following_keeps_the_newest_bar_in_view_and_steps_the_range(qtbot):
    from velocitas_desktop.gui.charts import FOLLOW_MARGIN

    chart = shown_chart(qtbot, interval=60.0)
    moves = []
    chart.price_plot.getViewBox().sigXRangeChanged.connect(lambda *_: moves.append(1))
    start = 1_700_000_040.0
    bars = 10 * FOLLOW_MARGIN
    for i in range(bars):  # one new one-minute bar per redraw, as a fast replay brings them
        chart.add_ticks(np.array([100.0 + i % 5]), np.array([start + 60.0 * i]))
        chart.redraw()
        left, right = chart.price_plot.getViewBox().viewRange()[0]
        newest = start + 60.0 * i
        assert left < newest and newest + 60.0 <= right  # the newest bar is always in view
    # the time range moved once per FOLLOW_MARGIN bars, not once per bar
    assert len(moves) <= bars // FOLLOW_MARGIN + 2
