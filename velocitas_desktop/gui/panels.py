"""The window's panels: KPI bar, message banner, strategies, trades blotter and log."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.engine.contract import EngineStatus, StrategyStatus
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.table import (
    CATEGORY,
    FLOAT,
    INT,
    MONEY,
    PERCENT,
    PRICE,
    QUANTITY,
    SIDE,
    SORT_ROOM,
    STATUS,
    TEXT,
    TIME,
    Column,
    ColumnTableModel,
    ColumnTableView,
)

# --- KPI bar ------------------------------------------------------------------------------

KPIS: tuple[tuple[str, str], ...] = (
    ("net_pnl", "Net P&L"), ("unrealized_pnl", "Unrealised"), ("return_pct", "Return"),
    ("total_trades", "Fills"), ("closed_trades", "Round trips"), ("win_rate", "Win rate"),
    ("max_drawdown", "Max drawdown"), ("sharpe_ratio", "Sharpe"), ("fees", "Fees"),
    ("active_strategies", "Active strategies"), ("active_coins", "Coins"), ("status", "Engine"),
)
# What each count and ratio means, on hover (docs/metrics.md has the formulas).
KPI_TIPS = {
    "total_trades": "Fills: every trade in the blotter; opening and closing a position are two",
    "closed_trades": "Round trips: fills that closed a position (the win rate's base)",
    "win_rate": "Winning round trips / round trips",
    "max_drawdown": "Largest fall of the session's equity from a peak, and that fall as a "
                    "percentage of the peak account value",
    "sharpe_ratio": "Annualised Sharpe ratio of daily account returns",
}


class KpiBar(QFrame):
    """The seed's global metrics in a row of tiles; P&L coloured by its sign."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("kpiBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(0)
        self.values: dict[str, QLabel] = {}
        self.up, self.down = "#26a69a", "#ef5350"
        for key, title in KPIS:
            tile = QFrame()
            tile.setObjectName("kpiTile")
            box = QVBoxLayout(tile)
            box.setContentsMargins(12, 2, 12, 2)
            box.setSpacing(0)
            label = QLabel(title.upper())
            label.setObjectName("kpiTitle")
            value = QLabel("—")
            value.setObjectName("kpiValue")
            value.setAccessibleName(title)
            tile.setToolTip(KPI_TIPS.get(key, ""))
            box.addWidget(label)
            box.addWidget(value)
            layout.addWidget(tile, 1)
            self.values[key] = value

    def set_colours(self, up: str, down: str) -> None:
        self.up, self.down = up, down

    def show_metrics(self, glob: dict[str, Any]) -> None:
        texts = {
            "net_pnl": _money(glob.get("net_pnl", 0.0)),
            "unrealized_pnl": _money(glob.get("unrealized_pnl", 0.0)),
            "return_pct": f"{glob.get('return_pct', 0.0):+.2f}%",
            "win_rate": f"{glob.get('win_rate', 0.0):.1f}%",
            "total_trades": f"{glob.get('total_trades', 0):,}",
            "closed_trades": f"{glob.get('closed_trades', 0):,}",
            "max_drawdown": drawdown_text(glob),
            "sharpe_ratio": ratio_text(glob.get("sharpe_ratio")),
            "fees": f"{glob.get('fees', 0.0):,.2f}",
            "active_strategies": f"{glob.get('active_strategies', 0)}",
            "active_coins": f"{glob.get('active_coins', 0)}",
            "status": str(glob.get("status", EngineStatus.STOPPED)).upper(),
        }
        for key, text in texts.items():
            self.values[key].setText(text)
        capital = glob.get("capital")
        self.values["return_pct"].setToolTip(
            f"Equity over a starting capital of {capital:,.2f}" if capital else "")
        self.values["sharpe_ratio"].setToolTip(glob.get("sharpe_note") or "")
        for key in ("net_pnl", "unrealized_pnl", "return_pct"):
            style = self._sign_style(glob.get(key, 0.0))
            if self.values[key].styleSheet() != style:  # re-styling a label re-polishes it
                self.values[key].setStyleSheet(style)
        self.show_status(glob.get("status", EngineStatus.STOPPED))

    def show_status(self, status: str) -> None:
        colour = {EngineStatus.RUNNING: self.up, EngineStatus.ERROR: self.down,
                  EngineStatus.STARTING: "#f0b90b", EngineStatus.STOPPING: "#f0b90b",
                  EngineStatus.PAUSED: "#f0b90b"}.get(status, "")
        self.values["status"].setText(status.upper())
        self.values["status"].setStyleSheet(f"color: {colour};" if colour else "")

    def _sign_style(self, value: float) -> str:
        if value > 0:
            return f"color: {self.up};"
        if value < 0:
            return f"color: {self.down};"
        return ""


def _money(value: float) -> str:
    return f"{value:+,.2f}" if value else "0.00"


def ratio_text(value: float | None) -> str:
    """A ratio with two decimals, or "—" when there is none (the reason is on hover)."""
    return "—" if value is None else f"{value:.2f}"


def drawdown_text(metrics: dict[str, Any]) -> str:
    """``1,234.56 (2.3%)``: the largest fall in quote currency and in percent."""
    text = f"{metrics.get('max_drawdown', 0.0):,.2f}"
    pct = metrics.get("max_drawdown_pct")
    return text if pct is None else f"{text} ({pct:.1f}%)"


# --- message banner -----------------------------------------------------------------------

class Banner(QFrame):
    """A message across the top of the window saying what went wrong and what to do."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.close_button = QPushButton("Dismiss")
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        self.setProperty("level", level)
        for widget in (self, self.label):  # the label's colour hangs on the banner's level too
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self.label.setText(text)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


# --- tables -------------------------------------------------------------------------------

def paint_now(view: QTableView) -> None:
    """Repaint a table that just changed, now, in the event that changed it. Left to Qt, the
    repaints of every widget changed in one turn of the event loop are merged into one paint
    of the window, and a frame in which the blotter, the strategies and the P&L chart all
    changed stalled the Qt thread for 45-50 ms; painted as they change, each costs its own
    10-20 ms (bench/gui.py)."""
    if view.isVisible():
        view.viewport().repaint()


def make_table(model: ColumnTableModel) -> ColumnTableView:
    """A view of ``model`` as every table in the window looks: rows selected whole, each
    column as wide as its kind needs, sorted by a click on a header (again: the other way;
    a third time: the table's own order)."""
    view = ColumnTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setShowGrid(False)
    view.verticalHeader().setVisible(False)
    # fixed row heights and interactive column widths: the view never measures rows
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(22)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    header.setSortIndicatorClearable(True)
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # unsorted until a click
    view.setSortingEnabled(True)
    view.setWordWrap(False)
    for i, column in enumerate(model.columns):
        view.setColumnWidth(i, column.natural_width(view.fontMetrics(), header.fontMetrics()))
    return view


def fit_columns(view: QTableView, sample: int = 50) -> None:
    """Size each column to its title and its first rows: never measures every row."""
    model = view.model()
    metrics = view.fontMetrics()
    header = view.horizontalHeader().fontMetrics()
    rows = min(model.rowCount(), sample)
    for column in range(model.columnCount()):
        title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
        widest = header.horizontalAdvance(title) + SORT_ROOM
        for row in range(rows):
            text = model.data(model.index(row, column))
            widest = max(widest, metrics.horizontalAdvance(str(text or "")))
        view.setColumnWidth(column, widest + 24)


STRATEGY_COLUMNS = (
    Column("strategy_id", "Strategy", TEXT, width=150),
    Column("coin", "Coin", CATEGORY),
    Column("status", "Status", STATUS),
    Column("total_trades", "Fills", INT),
    Column("closed_trades", "Round trips", INT),
    Column("win_rate", "Win %", PERCENT),
    Column("net_pnl", "Net P&L", MONEY),
    Column("unrealized_pnl", "Unrealised", MONEY),
    Column("return_pct", "Return", PERCENT, "+.2f"),
    Column("current_position", "Position", QUANTITY),
    Column("max_drawdown", "Max DD", FLOAT),
    Column("max_drawdown_pct", "Max DD %", PERCENT, ".1f"),
    # "—" when there is no ratio, with the reason on hover
    Column("sharpe_ratio", "Sharpe", FLOAT, ".2f", missing="—"),
    Column("params", "Parameters", TEXT, width=220),
    Column("error", "Error", TEXT),
)

TRADE_COLUMNS = (
    Column("timestamp", "Time (UTC)", TIME),
    Column("id", "ID", INT, "d"),
    Column("strategy_id", "Strategy", CATEGORY, width=150),
    Column("coin", "Coin", CATEGORY),
    Column("action", "Side", SIDE),
    Column("price", "Price", PRICE),
    Column("quantity", "Qty", QUANTITY),
    Column("profit_loss", "Realised P&L", MONEY),
    Column("position_size", "Position", QUANTITY),
    Column("fee", "Fee", FLOAT, ",.4f"),
)


class StrategiesPanel(QWidget):
    """The registered strategies with their status, error and P&L, and what to do with them."""

    add_requested = Signal()
    edit_requested = Signal(str)
    remove_requested = Signal(str)
    pause_requested = Signal(str)
    resume_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(6, 4, 6, 0)
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.remove_button = QPushButton("Remove")
        for button in (self.add_button, self.edit_button, self.pause_button, self.resume_button,
                       self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.model = ColumnTableModel(STRATEGY_COLUMNS, key="strategy_id")
        self.table = make_table(self.model)
        self.table.setObjectName("strategiesTable")
        self.sharpe_notes: dict[str, str] = {}
        self.table.viewport().installEventFilter(self)
        layout.addWidget(self.table)
        self.add_button.clicked.connect(self.add_requested)
        self.edit_button.clicked.connect(lambda: self._with_selected(self.edit_requested))
        self.remove_button.clicked.connect(lambda: self._with_selected(self.remove_requested))
        self.pause_button.clicked.connect(lambda: self._with_selected(self.pause_requested))
        self.resume_button.clicked.connect(lambda: self._with_selected(self.resume_requested))
        self.table.doubleClicked.connect(lambda _: self._with_selected(self.edit_requested))
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self._update_buttons()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """On hover over a Sharpe of "—", the reason there is none (elsewhere the table's own
        tooltip: the whole text of a cell too narrow for it)."""
        if event.type() == QEvent.Type.ToolTip and watched is self.table.viewport():
            index = self.table.indexAt(event.pos())  # type: ignore[attr-defined]
            note = self.sharpe_note(index.row()) if index.isValid() else ""
            if note and self.model.columns[index.column()].key == "sharpe_ratio":
                QToolTip.showText(event.globalPos(), note, self.table)  # type: ignore[attr-defined]
                return True
        return super().eventFilter(watched, event)

    def sharpe_note(self, row: int) -> str:
        """Why the strategy shown at ``row`` has no Sharpe ratio ("" when it has one)."""
        return self.sharpe_notes.get(self.model.value(row, "strategy_id"), "")

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.value(rows[0].row(), "strategy_id") if rows else None

    def select(self, strategy_id: str) -> None:
        row = self.model.row_of(strategy_id)
        if row is not None:
            self.table.selectRow(row)

    def _with_selected(self, signal: Any) -> None:
        sid = self.selected_id()
        if sid is not None:
            signal.emit(sid)

    def _update_buttons(self, *_: Any) -> None:
        sid = self.selected_id()
        status = self.model.value(self.model.row_of(sid), "status") if sid else None
        self.edit_button.setEnabled(sid is not None)
        self.remove_button.setEnabled(sid is not None)
        self.pause_button.setEnabled(status == StrategyStatus.ACTIVE)
        self.resume_button.setEnabled(status in (StrategyStatus.PAUSED, StrategyStatus.ERROR))

    def show_strategies(self, strategies: list[dict[str, Any]],
                        metrics: dict[str, dict[str, Any]]) -> None:
        rows = []
        self.sharpe_notes = {}
        for spec in strategies:
            sid = spec["strategy_id"]
            m = metrics.get(sid, {})
            params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in spec.get("params", {}).items())
            self.sharpe_notes[sid] = m.get("sharpe_note") or ""
            rows.append({**m, "strategy_id": sid, "coin": spec["coin"],
                         "status": spec["status"], "error": spec.get("error") or "",
                         "params": params})
        selected = self.selected_id()
        self.model.set_rows(rows)
        if selected is not None and self.selected_id() is None:
            self.select(selected)
        self._update_buttons()
        self.table.widen_to_content()  # a P&L or a Sharpe that grew a digit is never clipped
        paint_now(self.table)


FLUSH_MS = 50
FLUSH_ROWS = 2_500   # 50,000 fills a second, in inserts of a few ms each
CATCH_UP_FLUSHES = 10  # a backlog beyond 10 flushes is shown within ~10 flushes
# Placing a batch of fills in a sorted blotter of a million rows copies its order: 5-10 ms
# on the window's thread however few fills the batch holds (2-3 ms unsorted), so a large
# sorted blotter takes its fills in every fourth flush, four batches at once.
SORTED_FLUSH_EVERY = 4
# The blotter keeps the newest million fills (~110 bytes each in the window: a flat-out
# session made 1.5 million in a 30-minute soak and grew the window without end); the oldest
# tenth leaves at once when it is full, so the move of the rest (~20 ms) is rare. Every fill
# stays in the journal (Journal → Sessions… exports them all).
BLOTTER_ROWS = 1_000_000
BLOTTER_SLACK = 100_000


class BlotterPanel(QWidget):
    """Every fill of the session, newest first or sorted by a column; filter by strategy and
    coin; export to CSV, readable or raw."""

    export_finished = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.addWidget(QLabel("Strategy"))
        self.strategy_filter = QComboBox()
        self.strategy_filter.setObjectName("strategyFilter")
        self.strategy_filter.setMinimumContentsLength(16)
        bar.addWidget(self.strategy_filter)
        bar.addWidget(QLabel("Coin"))
        self.coin_filter = QComboBox()
        self.coin_filter.setObjectName("coinFilter")
        self.coin_filter.setMinimumContentsLength(6)
        bar.addWidget(self.coin_filter)
        self.count_label = QLabel("0 fills")
        bar.addWidget(self.count_label)
        bar.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        bar.addWidget(self.progress)
        bar.addWidget(self._export_button())
        layout.addLayout(bar)
        self.model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
        self.table = make_table(self.model)
        self.table.setObjectName("blotterTable")
        self.table.arrival_nouns = ("new fill", "new fills")
        layout.addWidget(self.table)
        for box in (self.strategy_filter, self.coin_filter):
            box.addItem("All")
            box.currentTextChanged.connect(self._filter_changed)
        self.default_folder = Path.home()
        # fills are shown in a few batches a second: each insert repaints the whole view
        self._pending: list[dict[str, Any]] = []
        self.forgotten = 0  # the session's oldest fills, no longer held here (BLOTTER_ROWS)
        self.missed = 0  # fills never received: dropped while the window did not read
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush_due)
        self._flushes_due = 0
        self._flush_timer.start()

    def _export_button(self) -> QToolButton:
        """Export CSV…: readable values on a click; the arrow offers raw values too."""
        self.export_button = QToolButton()
        self.export_button.setObjectName("exportButton")
        self.export_button.setText("Export CSV…")
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.export_button)
        self.export_readable_action = menu.addAction(
            "Readable: times in UTC, numbers rounded as shown…")
        self.export_raw_action = menu.addAction(
            "Raw values: epoch seconds, full precision…")
        self.export_button.setMenu(menu)
        self.export_button.setToolTip("Write the fills shown to a CSV file, oldest first")
        self.export_button.clicked.connect(lambda: self._ask_export(raw=False))
        self.export_readable_action.triggered.connect(lambda: self._ask_export(raw=False))
        self.export_raw_action.triggered.connect(lambda: self._ask_export(raw=True))
        return self.export_button

    def add_trades(self, trades: list[dict[str, Any]]) -> None:
        """Queue fills for the next flush (within FLUSH_MS); the count includes them at once,
        so it always says what the KPIs count."""
        self._pending.extend(trades)
        self._count()

    def add_missed(self, count: int) -> None:
        """Count fills the window will never list (dropped while it fell behind the engine;
        they are in the journal), so the count still says what the KPIs count."""
        self.missed += count
        self._count()

    def _flush_due(self) -> None:
        # at most FLUSH_ROWS a flush, so a burst costs a few more flushes instead of one
        # long stall; a backlog that grows anyway (fills faster than 50,000 a second) is
        # worked off in larger inserts, so the table never falls behind for long
        self._flushes_due += 1
        limit = max(FLUSH_ROWS, len(self._pending) // CATCH_UP_FLUSHES)
        model = self.model
        if model.sort_order is not None and model.rowCount() > model.inline_sort_rows:
            if self._flushes_due % SORTED_FLUSH_EVERY:
                return
            limit *= SORTED_FLUSH_EVERY
        self.flush(limit)

    def flush(self, limit: int | None = None) -> None:
        """Show the queued fills (at most ``limit`` of them, oldest first)."""
        if not self._pending:
            return
        if limit is None or len(self._pending) <= limit:
            trades, self._pending = self._pending, []
        else:
            trades = self._pending[:limit]
            del self._pending[:limit]
        self.model.append_rows(trades)
        if self.model.total_rows > BLOTTER_ROWS + BLOTTER_SLACK:
            surplus = self.model.total_rows - BLOTTER_ROWS
            self.model.drop_oldest(surplus)
            self.forgotten += surplus
        self._refresh_choices()
        self._count()
        self.table.widen_to_content()
        paint_now(self.table)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def clear(self) -> None:
        self._pending = []
        self.forgotten = self.missed = 0
        self.model.clear()
        self._count()

    @property
    def fills(self) -> int:
        """Every fill of the session: shown, about to be, or older than the newest
        BLOTTER_ROWS or missed while the window fell behind (those only in the journal)."""
        return self.model.total_rows + len(self._pending) + self.forgotten + self.missed

    def _count(self) -> None:
        filtered = any(self.model.filter_value(key) for _, key in self._filters())
        total = self.fills
        text = (f"{self.model.rowCount():,} of {total:,} fills" if filtered
                else f"{total:,} fills")
        if self.forgotten:
            text += f" (the newest {BLOTTER_ROWS:,} here; all in the journal)"
        if self.missed:
            text += (f" ({self.missed:,} not listed: the window fell behind; all in the "
                     "journal)")
        self.count_label.setText(text)

    def _filters(self) -> tuple[tuple[QComboBox, str], ...]:
        return ((self.strategy_filter, "strategy_id"), (self.coin_filter, "coin"))

    def _refresh_choices(self) -> None:
        """Offer every strategy and coin seen, and keep the one chosen even when it has no
        fills (yet): a new session must not show "All" while it filters on a strategy."""
        for box, key in self._filters():
            current = box.currentText()
            names = sorted(set(self.model.categories(key)) | ({current} - {"All", ""}))
            if [box.itemText(i) for i in range(1, box.count())] != names:
                box.blockSignals(True)
                box.clear()
                box.addItems(["All", *names])
                box.setCurrentText(current)
                box.blockSignals(False)

    def _filter_changed(self, _: str) -> None:
        for box, key in self._filters():
            text = box.currentText()
            self.model.set_filter(key, None if text in ("", "All") else text)
        self._count()

    def _ask_export(self, raw: bool) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"trades-raw-{stamp}.csv" if raw else f"trades-{stamp}.csv"
        title = "Export trades (raw values)" if raw else "Export trades"
        path, _ = QFileDialog.getSaveFileName(self, title, str(self.default_folder / name),
                                              "CSV files (*.csv)")
        if path:
            self.export(path, raw=raw)

    def export(self, path: str, raw: bool = False) -> None:
        """Write the shown trades to ``path`` on a pool thread, with progress, oldest first.

        Readable (the default): the window's column titles, times in UTC as the window
        shows them (``2024-03-25 14:02:11.250``), numbers rounded as it shows them and
        without thousands separators. ``raw``: the column keys, epoch seconds and every
        digit, as the API and the journal's exports give them."""
        self.flush()
        rows = self.model.export_rows(readable=not raw)  # a copy: the table may grow meanwhile
        header = self.model.export_header(readable=not raw)
        total = self.model.rowCount()
        self.export_button.setEnabled(False)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.progress.show()

        def write(progress: Any) -> str:
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                for i, row in enumerate(rows, 1):
                    writer.writerow(row)
                    if i % 20_000 == 0:
                        progress(i, total)
            progress(total, total)
            return path

        run_in_background(write, self._exported, self._export_failed, self._export_progress)

    def _export_progress(self, done: int, total: int) -> None:
        self.progress.setValue(done)

    def _exported(self, path: str) -> None:
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.export_finished.emit(path)

    def _export_failed(self, exc: BaseException) -> None:
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.export_finished.emit(f"!{exc}")


class LogPanel(QPlainTextEdit):
    """The engine's log lines and the window's own messages, newest at the bottom."""

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setMaximumBlockCount(5_000)
        self.setObjectName("logPanel")

    def add(self, level: str, message: str, when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(when or time.time()))
        self.appendPlainText(f"{stamp}  {level.upper():<7} {message}")
