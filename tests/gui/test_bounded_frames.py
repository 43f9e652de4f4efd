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


def test_only_the_candles_in_view_are_recorded(qtbot):
    chart = PriceChart("BTC", colours("dark"), interval=1.0)
    qtbot.addWidget(chart)
    chart.resize(900, 500)
    chart.show()
    qtbot.waitExposed(chart)
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
    assert panel.count_label.text() == f"{2 * FLUSH_ROWS + 5_000:,} trades"


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
