"""The paper account dock (cash, equity, return, open positions) and the session questions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.engine.config import PositionsChoice
from velocitas_desktop.gui.panels import make_table, paint_now
from velocitas_desktop.gui.table import CATEGORY, FLOAT, MONEY, TEXT, Column, ColumnTableModel

# The account's figures, as the metrics define them (docs/metrics.md), left to right.
ACCOUNT_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("capital", "Starting capital", "Each strategy's starting capital, added up"),
    ("cash", "Cash", "Capital + realised P&L − what the open positions cost (a short adds its "
                     "proceeds); no cash check, so it may go below zero"),
    ("positions_value", "Positions", "The open positions at their last prices"),
    ("account_value", "Account value", "Cash + positions = capital + equity"),
    ("equity", "Equity (P&L)", "Realised + unrealised P&L"),
    ("return_pct", "Return", "Equity / starting capital"),
)
POSITION_COLUMNS = (
    Column("strategy_id", "Strategy"),
    Column("coin", "Coin", CATEGORY),
    Column("direction", "Side", CATEGORY, align="center"),
    Column("current_position", "Position", FLOAT, ",.6g"),
    Column("entry_price", "Entry", FLOAT),
    Column("last_price", "Mark", FLOAT),
    Column("unrealized_pnl", "Unrealised P&L", MONEY),
    Column("origin", "Opened", TEXT),
)
POSITION_WIDTHS = (130, 45, 45, 85, 85, 85, 105)  # all eight fit the dock at 1600 px


def open_positions(strategies: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the strategies that hold a position, from a metrics snapshot's
    ``strategies``, in the engine's order."""
    rows = []
    for sid, m in strategies.items():
        position = m.get("current_position") or 0.0
        if position:
            rows.append({**m, "strategy_id": sid,
                         "direction": "Long" if position > 0 else "Short",
                         "origin": "last session" if m.get("carried") else "this session"})
    return rows


class AccountPanel(QWidget):
    """The account in one line of figures, the open positions below, and the three actions a
    trader needs at once: close one position, flatten everything, stop all trading."""

    close_requested = Signal(str)
    flatten_requested = Signal()
    stop_trading_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        figures = QFrame()
        figures.setObjectName("accountFigures")
        grid = QGridLayout(figures)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(0)
        self.values: dict[str, QLabel] = {}
        for column, (key, title, tip) in enumerate(ACCOUNT_FIGURES):
            name = QLabel(title.upper())
            name.setObjectName("kpiTitle")
            value = QLabel("—")
            value.setObjectName("kpiValue")
            value.setAccessibleName(title)
            for label in (name, value):
                label.setToolTip(tip)
            grid.addWidget(name, 0, column)
            grid.addWidget(value, 1, column)
            self.values[key] = value
        layout.addWidget(figures)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(6, 0, 6, 0)
        self.close_button = QPushButton("Close position")
        self.close_button.setObjectName("closePositionButton")
        self.close_button.setToolTip("Sell (or buy back) the selected position at its last "
                                     "price, with the fee, as a fill of its strategy")
        self.flatten_button = QPushButton("Flatten all")
        self.flatten_button.setObjectName("flattenButton")
        self.flatten_button.setToolTip("Close every open position at its last price")
        self.stop_button = QPushButton("Stop all trading")
        self.stop_button.setObjectName("stopTradingButton")
        self.stop_button.setToolTip("Pause every strategy at once: they keep following prices "
                                    "and their positions stay open; Resume restarts one")
        for button in (self.close_button, self.flatten_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.model = ColumnTableModel(POSITION_COLUMNS, key="strategy_id")
        self.table = make_table(self.model)
        self.table.setObjectName("positionsTable")
        for i, width in enumerate(POSITION_WIDTHS):
            self.table.setColumnWidth(i, width)
        layout.addWidget(self.table, 1)
        self.empty = QLabel("No open positions")
        self.empty.setObjectName("noPositions")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.empty)
        self.active_strategies = 0
        self.close_button.clicked.connect(self._close_selected)
        self.flatten_button.clicked.connect(self.flatten_requested)
        self.stop_button.clicked.connect(self.stop_trading_requested)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self.up, self.down = "#26a69a", "#ef5350"
        self._update_buttons()

    def set_colours(self, up: str, down: str) -> None:
        self.up, self.down = up, down

    def show_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Show a metrics snapshot (``{"global": ..., "strategies": ...}``)."""
        glob = snapshot.get("global", {})
        self._show_figures(glob)
        rows = open_positions(snapshot.get("strategies", {}))
        selected = self.selected_id()
        self.model.set_rows(rows)
        if selected is not None and self.model.row_of(selected) is not None:
            self.table.selectRow(self.model.row_of(selected))
        self.empty.setVisible(not rows)
        self.active_strategies = int(glob.get("active_strategies", 0) or 0)
        self._update_buttons()
        paint_now(self.table)

    def _show_figures(self, glob: dict[str, Any]) -> None:
        capital = glob.get("capital")
        if not capital:  # no strategy has an account yet
            for label in self.values.values():
                label.setText("—")
            return
        cash, value = glob.get("cash", capital), glob.get("account_value", capital)
        equity = glob.get("equity", 0.0)
        texts = {"capital": f"{capital:,.2f}", "cash": f"{cash:,.2f}",
                 "positions_value": f"{value - cash:,.2f}", "account_value": f"{value:,.2f}",
                 "equity": f"{equity:+,.2f}" if equity else "0.00",
                 "return_pct": f"{glob.get('return_pct', 0.0):+.2f}%"}
        for key, text in texts.items():
            self.values[key].setText(text)
        for key in ("equity", "return_pct"):
            self.values[key].setStyleSheet(self._sign_style(equity))

    def _sign_style(self, value: float) -> str:
        if value > 0:
            return f"color: {self.up};"
        return f"color: {self.down};" if value < 0 else ""

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.value(rows[0].row(), "strategy_id") if rows else None

    def select(self, strategy_id: str) -> None:
        row = self.model.row_of(strategy_id)
        if row is not None:
            self.table.selectRow(row)

    def _close_selected(self) -> None:
        sid = self.selected_id()
        if sid is not None:
            self.close_requested.emit(sid)

    def _update_buttons(self, *_: Any) -> None:
        self.close_button.setEnabled(self.selected_id() is not None)
        self.flatten_button.setEnabled(self.model.rowCount() > 0)
        self.stop_button.setEnabled(self.active_strategies > 0)


def position_text(row: dict[str, Any]) -> str:
    """``BTC_SMA_Crossover: long 0.1549 BTC from 64,010.50 (unrealised −12.30)``."""
    position = row.get("current_position") or 0.0
    side = "long" if position > 0 else "short"
    pnl = row.get("unrealized_pnl") or 0.0
    return (f"{row['strategy_id']}: {side} {abs(position):,.6g} {row.get('coin', '')} from "
            f"{row.get('entry_price') or 0.0:,.2f} (unrealised {pnl:+,.2f})")


class NewSessionDialog(QDialog):
    """Asks what a new session does with the last one's open positions: close them at their
    last prices, as the last session's last fills, or carry them over at their entry
    prices."""

    def __init__(self, session_id: int | None, positions: list[dict[str, Any]],
                 reason: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newSessionDialog")
        self.setWindowTitle("New session")
        layout = QVBoxLayout(self)
        last = f"session {session_id}" if session_id is not None else "the last session"
        intro = (f"{reason[0].upper()}{reason[1:]}, so a new session begins. " if reason
                 else "")
        intro += (f"The new session's fills, figures and P&L chart start afresh; {last} "
                  "stays in the journal as it ended (Journal → Sessions…).")
        text = QLabel(intro)
        text.setWordWrap(True)
        layout.addWidget(text)
        self.close_choice = QRadioButton()
        self.carry_choice = QRadioButton()
        self.choices = QButtonGroup(self)
        if positions:
            listed = QLabel(f"{last[0].upper()}{last[1:]} holds {len(positions)} open "
                            f"position{'s' if len(positions) != 1 else ''}:\n"
                            + "\n".join(f"  • {position_text(p)}" for p in positions))
            listed.setObjectName("openPositionsText")
            listed.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(listed)
            self.close_choice.setText("Close them at their last prices")
            self.carry_choice.setText("Carry them over")
            explained = (
                (self.close_choice, "Each is sold (or bought back) with the fee, as the last "
                 "fills of the session that opened it; the new session begins flat."),
                (self.carry_choice, "The new session holds them at their entry prices and "
                 "marks them at the new prices; its drawdown and returns start from its "
                 "opening value."))
            for choice, why in explained:
                self.choices.addButton(choice)
                # only as wide as its text: a click beside a short label would miss it
                layout.addWidget(choice, 0, Qt.AlignmentFlag.AlignLeft)
                layout.addWidget(_indented(why))
            self.close_choice.setChecked(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.start_button = QPushButton("Start new session")
        self.start_button.setObjectName("startNewSessionButton")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.start_button)
        layout.addLayout(buttons)
        self.start_button.clicked.connect(self.accept)
        self.cancel_button.clicked.connect(self.reject)
        self.resize(560, self.sizeHint().height())

    @property
    def positions(self) -> PositionsChoice:
        """What the trader chose for the open positions."""
        return PositionsChoice.CARRY if self.carry_choice.isChecked() else PositionsChoice.CLOSE


def _indented(text: str) -> QLabel:
    """A choice's explanation: wrapped, under the choice's own text."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setContentsMargins(24, 0, 0, 6)
    return label
