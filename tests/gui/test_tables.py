"""The window's tables worked as a trader works them: sorted by a click on a header, filters
that say what they hide, a blotter that holds still while it is read, exports a spreadsheet
reads, and columns wide enough for their numbers."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from gui_helpers import (
    WAIT_MS,
    add_strategy,
    choose,
    click,
    click_header,
    click_row,
    remove_selected,
    start_simulated,
    stop,
    table_column,
)
from PySide6.QtCore import QPoint, QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QFileDialog, QToolTip

from velocitas_desktop.core.types import Trade
from velocitas_desktop.store.journal import Journal

ASCENDING, DESCENDING = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


def in_order(values: list[float], descending: bool = False) -> bool:
    """Sorted as a trader reads it: each number after the one above it, blanks at the end."""
    numbers = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if any(isinstance(v, float) and math.isnan(v) for v in values[:len(numbers)]):
        return False
    pairs = pairwise(numbers)
    return all(a >= b for a, b in pairs) if descending else all(a <= b for a, b in pairs)


def indicator(table: Any) -> tuple[str | None, Qt.SortOrder]:
    """The column title the header's sort arrow is on, and which way it points."""
    header = table.horizontalHeader()
    section = header.sortIndicatorSection()
    title = table.model().headerData(section, Qt.Orientation.Horizontal) if section >= 0 else None
    return title, header.sortIndicatorOrder()


def trading(qtbot: Any, window: Any, coins: str = "BTC", fills: int = 40) -> None:
    """A tick strategy per coin, the simulated market, and fills in the blotter."""
    for coin in coins.split(","):
        add_strategy(qtbot, window, "SMA", coin, {"fast": "3", "slow": "8"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == len(coins.split(",")),
                    timeout=WAIT_MS)
    start_simulated(qtbot, window, coins=coins, rate="3000")
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() >= fills, timeout=WAIT_MS)


def stopped_with_every_fill_shown(qtbot: Any, window: Any) -> None:
    """Stop, and wait until the blotter shows every fill of the session: the last ones are
    still on their way to the window when the engine says it has stopped."""
    stop(qtbot, window)
    qtbot.waitUntil(lambda: window.blotter.model.total_rows
                    == window.engine.snapshot()["global"]["total_trades"], timeout=WAIT_MS)


# --- sorting ------------------------------------------------------------------------------

def test_a_click_on_price_pnl_or_time_sorts_the_blotter_and_new_fills_land_in_order(
        qtbot, window):
    trading(qtbot, window)
    table = window.blotter.table
    click_header(qtbot, table, "Price")
    assert indicator(table) == ("Price", ASCENDING)
    assert in_order(table_column(table, "price"))
    click_header(qtbot, table, "Price")
    assert indicator(table) == ("Price", DESCENDING)
    assert in_order(table_column(table, "price"), descending=True)

    click_header(qtbot, table, "Realised P&L")
    click_header(qtbot, table, "Realised P&L")  # the biggest wins on top
    shown = window.blotter.model.rowCount()
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() >= shown + 30, timeout=WAIT_MS)
    assert in_order(table_column(table, "profit_loss"), descending=True)  # and the new ones
    stopped_with_every_fill_shown(qtbot, window)
    assert in_order(table_column(table, "profit_loss"), descending=True)

    click_header(qtbot, table, "Time (UTC)")
    ids = table_column(table, "id")
    assert ids == sorted(ids)  # oldest first
    click_header(qtbot, table, "Time (UTC)")
    click_header(qtbot, table, "Time (UTC)")  # a third click: the blotter's own order again
    assert indicator(table)[0] is None
    assert table_column(table, "id") == sorted(ids, reverse=True)


def test_strategies_sort_by_net_pnl_and_drawdown_and_stay_sorted_as_figures_change(
        qtbot, window):
    for coin in ("BTC", "ETH"):
        for name, params in (("SMA", {"fast": "3", "slow": "8"}), ("Mom", {})):
            add_strategy(qtbot, window, name, coin, params)
    panel = window.strategies_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=WAIT_MS)
    start_simulated(qtbot, window, coins="BTC,ETH", rate="3000")
    qtbot.waitUntil(lambda: len(set(table_column(panel.table, "net_pnl"))) == 4,
                    timeout=WAIT_MS)
    click_header(qtbot, panel.table, "Net P&L")
    click_header(qtbot, panel.table, "Net P&L")
    assert indicator(panel.table) == ("Net P&L", DESCENDING)
    click_row(qtbot, panel.table, 0)
    best = panel.selected_id()
    for _ in range(3):  # the figures change a few times a second: the order follows them
        before = table_column(panel.table, "net_pnl")
        qtbot.waitUntil(lambda b=before: table_column(panel.table, "net_pnl") != b,
                        timeout=WAIT_MS)
        assert in_order(table_column(panel.table, "net_pnl"), descending=True)
    assert panel.selected_id() == best  # the row chosen stays chosen wherever it moves
    stop(qtbot, window)
    click_header(qtbot, panel.table, "Max DD")
    assert indicator(panel.table) == ("Max DD", ASCENDING)
    assert in_order(table_column(panel.table, "max_drawdown"))
    click_header(qtbot, panel.table, "Strategy")
    assert table_column(panel.table, "strategy_id") == [
        "BTC_Momentum", "BTC_SMA_Crossover", "ETH_Momentum", "ETH_SMA_Crossover"]


def test_optimisation_results_sort_by_any_column_and_the_heatmap_still_finds_its_row(
        qtbot, window):
    bar = window.modes.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    tab = window.optimization
    tab.file_box.setCurrentIndex(tab.file_box.findText("BTCUSD-1h-sample.csv"))
    tab.strategy_box.setCurrentText("SMA_Crossover")
    tab.workers_box.setValue(0)
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and tab.results_model.rowCount() == 76,
                    timeout=WAIT_MS)
    view = tab.results_view
    click_header(qtbot, view, "Net P&L")
    click_header(qtbot, view, "Net P&L")
    assert in_order(table_column(view, "net_pnl"), descending=True)
    click_row(qtbot, view, 0)
    assert tab.selected_result()["stats"]["net_pnl"] == max(table_column(view, "net_pnl"))
    click_header(qtbot, view, "Trades")
    assert in_order(table_column(view, "trades"))

    plot = tab.heatmap.plot  # the cell of fast 6, slow 15: its row, wherever it is now
    scene_point = plot.getPlotItem().vb.mapViewToScene(QPointF(0.5, 0.5))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot.mapFromScene(scene_point))
    chosen = view.selectionModel().selectedRows()
    assert len(chosen) == 1
    assert (tab.results_model.value(chosen[0].row(), "p_fast"),
            tab.results_model.value(chosen[0].row(), "p_slow")) == (6, 15)

    click(qtbot, tab.run_button)  # a new search shows its own ranking, best first
    qtbot.waitUntil(lambda: not tab.running and tab.result is not None
                    and tab.results_model.value(0, "rank") == 1, timeout=WAIT_MS)
    assert indicator(view)[0] is None
    assert table_column(view, "rank") == list(range(1, 77))


def test_journal_sessions_sort_by_fills_and_by_size_on_disk(qtbot, make_window,
                                                            tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    first = 1
    for count in (400, 1_200, 40):  # sizes in kB and MB: as text "972 kB" > "1.2 MB"
        journal.begin_session({"source": "simulated", "coins": ["BTC"]})
        journal.save_strategy({"strategy_id": "BTC_RSI", "coin": "BTC", "name": "RSI"})
        journal.record([Trade(i, "BTC_RSI", "BTC", "RSI", ("BUY", "SELL")[i % 2], 100.0 + i,
                              1.0, 1.7e9 + i, (0.0, 0.5)[i % 2], (1.0, 0.0)[i % 2], 0.1)
                        for i in range(first, first + count)])
        first += count
    journal.close()
    window = make_window()
    window.sessions_action.trigger()  # Journal → Sessions…
    dialog = window.sessions_dialog
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.model.rowCount() == 3
                    and not dialog.busy, timeout=WAIT_MS)
    click_header(qtbot, dialog.table, "Fills")
    click_header(qtbot, dialog.table, "Fills")
    assert table_column(dialog.table, "fills") == [1_200, 400, 40]
    click_header(qtbot, dialog.table, "Size")
    sizes = table_column(dialog.table, "size")
    assert sizes == sorted(sizes) and table_column(dialog.table, "fills") == [40, 400, 1_200]
    dialog.close()


# --- filters ------------------------------------------------------------------------------

def test_a_strategy_filter_kept_across_a_new_session_shows_in_its_box(qtbot, window):
    """M2: filtered on one strategy, a new session began; the box said "All" while the
    blotter showed "0 of 70 trades"."""
    trading(qtbot, window, coins="BTC,ETH", fills=20)
    blotter = window.blotter
    qtbot.waitUntil(lambda: "ETH_SMA_Crossover" in table_column(blotter.table, "strategy_id"),
                    timeout=WAIT_MS)
    choose(qtbot, blotter.strategy_filter, "ETH_SMA")
    stop(qtbot, window)
    click_row(qtbot, window.strategies_panel.table,
              window.strategies_panel.model.row_of("ETH_SMA_Crossover"))
    remove_selected(qtbot, window)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)

    asked = len(window.dialogs)
    click(qtbot, window.new_session_button)  # a new session: BTC only
    qtbot.waitUntil(lambda: len(window.dialogs) > asked or window.engine.status == "running",
                    timeout=WAIT_MS)
    if len(window.dialogs) > asked:  # BTC holds a position: closed, as the first fill
        click(qtbot, window.dialogs[-1].start_button)
    qtbot.waitUntil(lambda: blotter.fills >= 30, timeout=WAIT_MS)
    stopped_with_every_fill_shown(qtbot, window)
    assert blotter.strategy_filter.currentText() == "ETH_SMA_Crossover"  # what it filters on
    assert blotter.model.rowCount() == 0
    assert blotter.count_label.text() == f"0 of {blotter.fills:,} fills"
    choose(qtbot, blotter.strategy_filter, "All")
    assert blotter.count_label.text() == f"{blotter.fills:,} fills"
    assert set(table_column(blotter.table, "strategy_id")) == {"BTC_SMA_Crossover"}


# --- holding the rows being read ----------------------------------------------------------

def test_a_scrolled_blotter_holds_the_rows_being_read_and_counts_the_new_fills(qtbot, window):
    """m1: scrolled down, the top row went from #4769 to #5049 in two seconds."""
    trading(qtbot, window, fills=120)
    blotter = window.blotter
    table = blotter.table
    click_row(qtbot, table, 0)
    for _ in range(3):
        qtbot.keyClick(table, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: table.verticalScrollBar().value() > 0, timeout=WAIT_MS)
    reading = [table.model().value(table.rowAt(0) + r, "id") for r in range(5)]
    shown = blotter.model.rowCount()
    qtbot.waitUntil(lambda: blotter.model.rowCount() >= shown + 20, timeout=WAIT_MS)
    stopped_with_every_fill_shown(qtbot, window)
    assert [table.model().value(table.rowAt(0) + r, "id") for r in range(5)] == reading
    arrived = blotter.model.rowCount() - shown
    button = table.arrivals_button
    assert button.isVisible() and button.text() == f"{arrived:,} new fills ↑"
    assert button.geometry().top() < table.viewport().geometry().top() + 20  # over the top

    click(qtbot, button)  # back to the newest
    assert table.verticalScrollBar().value() == 0
    assert table.model().value(table.rowAt(0), "id") == max(table_column(table, "id"))
    assert not button.isVisible()


def test_at_the_top_the_blotter_follows_the_newest_fills_without_counting(qtbot, window):
    trading(qtbot, window, fills=10)
    blotter = window.blotter
    shown = blotter.model.rowCount()
    qtbot.waitUntil(lambda: blotter.model.rowCount() >= shown + 10, timeout=WAIT_MS)
    stopped_with_every_fill_shown(qtbot, window)
    table = blotter.table
    assert table.model().value(table.rowAt(0), "id") == max(table_column(table, "id"))
    assert not table.arrivals_button.isVisible()


# --- export -------------------------------------------------------------------------------

def save_as(monkeypatch: Any, path: Path) -> None:
    """The file a person would pick in the save dialog."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), "CSV files (*.csv)")))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_writes_readable_utc_times_and_rounded_numbers_or_on_request_raw_values(
        qtbot, window, tmp_path: Path, monkeypatch):
    trading(qtbot, window, fills=30)
    stopped_with_every_fill_shown(qtbot, window)
    blotter = window.blotter
    trades = {t["id"]: t for t in window.engine.trades(limit=10_000)}

    readable = tmp_path / "readable.csv"
    save_as(monkeypatch, readable)
    click(qtbot, blotter.export_button)
    qtbot.waitUntil(lambda: "exported" in window.banner.text, timeout=WAIT_MS)
    rows = read_csv(readable)
    assert list(rows[0]) == ["Time (UTC)", "ID", "Strategy", "Coin", "Side", "Price", "Qty",
                             "Realised P&L", "Position", "Fee"]
    assert len(rows) == len(trades)
    for row in rows:
        trade = trades[int(row["ID"])]
        at = datetime.fromisoformat(row["Time (UTC)"]).replace(tzinfo=UTC)
        # to the millisecond shown (times are read to the microsecond, as datetime keeps them)
        assert -1e-6 <= trade["timestamp"] - at.timestamp() < 0.001
        assert row["Price"] == f"{trade['price']:.2f}"  # BTC: cents
        assert row["Realised P&L"] == f"{trade['profit_loss']:.2f}"
        assert row["Fee"] == f"{trade['fee']:.4f}"

    window.banner.hide()
    raw = tmp_path / "raw.csv"
    save_as(monkeypatch, raw)
    menu = blotter.export_button.menu()

    def pick_raw() -> None:
        qtbot.waitUntil(menu.isVisible, timeout=WAIT_MS)
        where = menu.actionGeometry(blotter.export_raw_action).center()
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=where)

    QTimer.singleShot(0, pick_raw)
    button = blotter.export_button  # the arrow beside "Export CSV…" opens the choices
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton,
                     pos=QPoint(button.width() - 6, button.height() // 2))
    qtbot.waitUntil(lambda: "exported" in window.banner.text, timeout=WAIT_MS)
    for row in read_csv(raw):
        trade = trades[int(row["id"])]
        assert float(row["timestamp"]) == trade["timestamp"]  # epoch seconds, every digit
        assert float(row["profit_loss"]) == trade["profit_loss"]
        assert float(row["price"]) == trade["price"]


# --- widths -------------------------------------------------------------------------------

def text_fits(table: Any, row: int, key: str) -> bool:
    model = table.model()
    column = [c.key for c in model.columns].index(key)
    room = table.columnWidth(column) - 8
    return table.fontMetrics().horizontalAdvance(model.text(row, key)) <= room


def test_strategy_numbers_are_never_clipped_and_long_parameters_end_in_an_ellipsis(
        qtbot, window, tmp_path: Path):
    """p3: at 1600 px the Parameters column was cut and a Sharpe of -1,509.68 read ".,509"."""
    add_strategy(qtbot, window, "MACD", "BTC")
    panel = window.strategies_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)
    spec = window.engine.strategies()[0]
    metrics = {"net_pnl": -192_826.25, "unrealized_pnl": -12_345.67, "total_trades": 3_132,
               "closed_trades": 1_566, "win_rate": 0.1, "return_pct": -1_928.26,
               "max_drawdown": 221_894.12, "max_drawdown_pct": 99.9, "sharpe_ratio": -1_509.68,
               "current_position": 1.0}  # the figures of the trial's worst minute
    extra = {"stop_loss_pct": 2.5, "take_profit_pct": 5.0, "trailing_stop_pct": 1.25}
    panel.show_strategies([{**spec, "params": {**spec["params"], **extra}}],
                          {spec["strategy_id"]: metrics})
    table = panel.table
    for key in metrics:
        assert text_fits(table, 0, key), key
    assert table.model().text(0, "sharpe_ratio") == "-1509.68"

    params = [c.key for c in panel.model.columns].index("params")
    assert not text_fits(table, 0, "params")  # too long: elided, the whole on hover
    table.scrollTo(panel.model.index(0, params))
    cell = table.visualRect(panel.model.index(0, params)).center()
    QApplication.sendEvent(table.viewport(), _tooltip_event(table.viewport(), cell))
    qtbot.waitUntil(QToolTip.isVisible, timeout=WAIT_MS)
    assert QToolTip.text() == panel.model.text(0, "params")
    assert window.grab().save(str(tmp_path / "strategies.png"))


def _tooltip_event(widget: Any, where: QPoint) -> Any:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent

    return QHelpEvent(QEvent.Type.ToolTip, where, widget.mapToGlobal(where))


def ink_runs(image: Any) -> list[tuple[int, int]]:
    """The runs of pixel columns where something is drawn on a header section's background
    (its letters and its arrow), left to right; the section's borders left out. The
    background is a vertical gradient: each line's commonest colour."""
    rows, columns = range(3, image.height() - 3), range(2, image.width() - 2)

    def background(y: int) -> QColor:
        line = [image.pixel(x, y) for x in columns]
        return QColor(max(set(line), key=line.count))

    def inked(x: int, y: int, under: QColor) -> bool:
        seen = image.pixelColor(x, y)
        return abs(seen.lightness() - under.lightness()) > 24

    behind = {y: background(y) for y in rows}
    ink = [any(inked(x, y, behind[y]) for y in rows) for x in columns]
    runs, start = [], None
    for x, on in enumerate([*ink, False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            runs.append((start, x))
            start = None
    return runs


def test_a_sorted_number_column_shows_its_whole_title_beside_the_arrow(qtbot, window):
    """Titles of number columns are aligned right, where the sort arrow goes: the arrow
    covered the last letter ("Realised P&L" read "Realised P&")."""
    table = window.blotter.table
    click_header(qtbot, table, "Realised P&L")
    header = table.horizontalHeader()
    section = header.sortIndicatorSection()
    image = header.grab(QRect(header.sectionViewportPosition(section), 0,
                              header.sectionSize(section), header.height())).toImage()
    runs = ink_runs(image)
    (*_, (_, title_ends)), (arrow_starts, _) = runs[:-1], runs[-1]
    assert arrow_starts - title_ends >= 4  # a clear gap, wider than between two letters
