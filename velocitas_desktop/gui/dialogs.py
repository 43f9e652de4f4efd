"""Dialogs: the strategy form built from a parameter declaration, and the settings."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.catalog import Catalog
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.strategy import StrategySpec, check_coin
from velocitas_desktop.core.types import TICK
from velocitas_desktop.engine.request import DEFAULT_TIMEFRAME
from velocitas_desktop.gui.settings import THEMES, Settings
from velocitas_desktop.tokens import new_token

INT_LIMIT = 2_000_000_000


def param_editor(param: dict[str, Any], value: Any) -> QWidget:
    """A spin box or check box for one declared parameter, bounded by its declaration."""
    kind = param["type"]
    if kind == "bool":
        box = QCheckBox()
        box.setChecked(bool(value))
        return box
    low = param["low"] if param["low"] is not None else -INT_LIMIT
    high = param["high"] if param["high"] is not None else INT_LIMIT
    if kind == "int":
        spin = QSpinBox()
        spin.setRange(int(max(low, -INT_LIMIT)), int(min(high, INT_LIMIT)))
        spin.setSingleStep(int(param["step"] or 1))
        spin.setValue(int(value))
    else:
        spin = QDoubleSpinBox()
        spin.setDecimals(_decimals(param, value))
        spin.setRange(float(low), float(high))
        spin.setSingleStep(float(param["step"] or _step_for(value)))
        spin.setValue(float(value))
    spin.setAccelerated(True)
    spin.setMinimumWidth(120)
    return spin


def _decimals(param: dict[str, Any], value: float) -> int:
    smallest = min(abs(v) for v in (param["low"], param["step"], value, 1.0)
                   if v not in (None, 0))
    return min(10, max(2, -math.floor(math.log10(smallest)) + 2))


def _step_for(value: float) -> float:
    return 10 ** math.floor(math.log10(abs(value))) / 10 if value else 0.1


def editor_value(editor: QWidget) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        editor.interpretText()  # take what was typed even if the box still has focus
        return editor.value()
    raise TypeError(editor)


class StrategyForm(QDialog):
    """Add a strategy (or edit one's parameters) through a form generated from its schema.

    Problems (bad coin, a broken relation such as ``fast < slow``, a duplicate id) are shown
    under the form, which stays open until the values are valid. ``spec`` holds the result.
    """

    def __init__(self, catalog: Catalog, coins: list[str], existing_ids: set[str],
                 editing: dict[str, Any] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.existing_ids = existing_ids
        self.editing = editing
        self.spec: StrategySpec | None = None
        self.editors: dict[str, QWidget] = {}
        self.setWindowTitle("Edit strategy" if editing else "Add strategy")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        top = QFormLayout()
        self.name_box = QComboBox()
        self.name_box.setObjectName("strategyName")
        self.name_box.addItems(catalog.names())
        self.coin_box = QComboBox()
        self.coin_box.setObjectName("strategyCoin")
        self.coin_box.setEditable(True)
        self.coin_box.addItems(coins)
        self.id_edit = QLineEdit()
        self.id_edit.setObjectName("strategyId")
        self.id_edit.setPlaceholderText("automatic: COIN_Name")
        self.timeframe_box = QComboBox()
        self.short_box = QCheckBox("allow short selling")
        self.description = QLabel()
        self.description.setWordWrap(True)
        top.addRow("Strategy", self.name_box)
        top.addRow("", self.description)
        top.addRow("Coin", self.coin_box)
        top.addRow("Id", self.id_edit)
        top.addRow("Decides on", self.timeframe_box)
        top.addRow("", self.short_box)
        layout.addLayout(top)
        self.params_group = QGroupBox("Parameters")
        self.params_form = QFormLayout(self.params_group)
        layout.addWidget(self.params_group)
        self.constraints = QLabel()
        self.constraints.setWordWrap(True)
        layout.addWidget(self.constraints)
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save" if editing else "Add")
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name_box.currentTextChanged.connect(self._build_params)
        if editing:
            self.name_box.setCurrentText(editing["name"])
            self.coin_box.setCurrentText(editing["coin"])
            self.id_edit.setText(editing["strategy_id"])
            self.short_box.setChecked(bool(editing.get("allow_short")))
            for widget in (self.name_box, self.coin_box, self.id_edit, self.timeframe_box,
                           self.short_box):
                widget.setEnabled(False)
        self._build_params(self.name_box.currentText())

    def _build_params(self, name: str) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.editors.clear()
        if not name:
            return
        schema = self.catalog.get(name).schema()
        self.description.setText(schema.get("description", ""))
        values = dict(self.editing["params"]) if self.editing else {}
        for param in schema["params"]:
            value = values.get(param["name"], param["default"])
            editor = param_editor(param, value)
            editor.setObjectName(f"param_{param['name']}")
            bounds = _bounds_text(param)
            editor.setToolTip(f"{param['doc']}{' — ' if param['doc'] and bounds else ''}{bounds}")
            self.editors[param["name"]] = editor
            self.params_form.addRow(param["name"], editor)
        constraints = schema.get("constraints") or []
        self.constraints.setText("Rules: " + ", ".join(constraints) if constraints else "")
        self.constraints.setVisible(bool(constraints))
        current = (self.timeframe_box.currentText()
                   or (self.editing or {}).get("timeframe", DEFAULT_TIMEFRAME))
        self.timeframe_box.clear()
        self.timeframe_box.addItems(schema.get("timeframes") or [TICK])
        self.timeframe_box.setCurrentText(current)
        self.error.hide()

    def values(self) -> dict[str, Any]:
        return {name: editor_value(editor) for name, editor in self.editors.items()}

    def try_accept(self) -> None:
        """Validate against the catalogue; show the problem inline or accept."""
        try:
            coin = check_coin(self.coin_box.currentText())
            spec = StrategySpec(self.name_box.currentText(), coin, self.values(),
                                self.timeframe_box.currentText() or DEFAULT_TIMEFRAME,
                                self.id_edit.text().strip(), self.short_box.isChecked())
            spec = self.catalog.validate(spec)
        except (VelocitasError, ValueError) as exc:
            self.show_error(f"{exc}. Change the value and press {self.ok_button.text()} again.")
            return
        if not self.editing and spec.id in self.existing_ids:
            self.show_error(f"A strategy with id {spec.id} is already running: remove it first "
                            "or type another id.")
            return
        self.spec = spec
        self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


def _bounds_text(param: dict[str, Any]) -> str:
    low, high = param["low"], param["high"]
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    if low is not None:
        return f"at least {low:g}"
    if high is not None:
        return f"at most {high:g}"
    return ""


class SettingsDialog(QDialog):
    """Costs, workers, folders, theme, the embedded server and how much journal to keep."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(480)
        self.result_settings: Settings | None = None
        self.original = settings
        layout = QVBoxLayout(self)
        trading = QGroupBox("Trading")
        form = QFormLayout(trading)
        self.fee = QDoubleSpinBox()
        self.fee.setObjectName("feeBox")
        self.fee.setDecimals(3)
        self.fee.setRange(0.0, 10.0)
        self.fee.setSuffix(" %")
        self.fee.setValue(settings.fee * 100)
        self.slippage = QDoubleSpinBox()
        self.slippage.setObjectName("slippageBox")
        self.slippage.setDecimals(3)
        self.slippage.setRange(0.0, 10.0)
        self.slippage.setSuffix(" %")
        self.slippage.setValue(settings.slippage * 100)
        self.workers = QSpinBox()
        self.workers.setRange(0, 64)
        self.workers.setValue(settings.workers)
        self.workers.setToolTip("0 runs strategies in the engine thread (fastest for cheap "
                                "strategies); N spreads them over N processes")
        form.addRow("Fee per fill", self.fee)
        form.addRow("Slippage", self.slippage)
        form.addRow("Default workers", self.workers)
        layout.addWidget(trading)
        folders = QGroupBox("Folders and look")
        form = QFormLayout(folders)
        self.data_folder = QLineEdit(settings.data_folder)
        self.data_folder.setPlaceholderText("where CSV files are looked for and exports saved")
        form.addRow("Data folder", _with_browse(self.data_folder, self))
        self.strategy_folders = QPlainTextEdit("\n".join(settings.strategy_folders))
        self.strategy_folders.setPlaceholderText("one folder of your own strategy files per line")
        self.strategy_folders.setMaximumHeight(70)
        form.addRow("Strategy folders", self.strategy_folders)
        self.theme = QComboBox()
        self.theme.setObjectName("themeBox")
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(settings.theme)
        form.addRow("Theme", self.theme)
        layout.addWidget(folders)
        exchange = QGroupBox("Binance")
        form = QFormLayout(exchange)
        self.rest_url = QLineEdit(settings.binance_rest_url)
        self.rest_url.setObjectName("restUrl")
        self.ws_url = QLineEdit(settings.binance_ws_url)
        self.ws_url.setObjectName("wsUrl")
        form.addRow("REST address", self.rest_url)
        form.addRow("WebSocket address", self.ws_url)
        layout.addWidget(exchange)
        server = QGroupBox("Embedded server (browser view and API)")
        form = QFormLayout(server)
        self.server_on = QCheckBox("serve this engine over HTTP while the window is open")
        self.server_on.setObjectName("serverOn")
        self.server_on.setChecked(settings.server_enabled)
        self.host = QLineEdit(settings.server_host)
        self.port = QSpinBox()
        self.port.setObjectName("portBox")
        self.port.setRange(1, 65535)
        self.port.setValue(settings.server_port)
        self.token = QLineEdit(settings.server_token)
        self.token.setPlaceholderText("required unless the host is 127.0.0.1")
        token_row = QHBoxLayout()
        token_row.addWidget(self.token)
        generate = QPushButton("Generate")
        generate.clicked.connect(lambda: self.token.setText(new_token()))
        token_row.addWidget(generate)
        form.addRow("", self.server_on)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("Token", token_row)
        layout.addWidget(server)
        layout.addWidget(self._journal_group(settings))
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout.addWidget(buttons)

    def _journal_group(self, settings: Settings) -> QGroupBox:
        journal = QGroupBox("Journal (every session's trades, kept in the data folder)")
        form = QFormLayout(journal)
        self.keep_sessions = QSpinBox()
        self.keep_sessions.setObjectName("keepSessionsBox")
        self.keep_sessions.setRange(0, 100_000)
        self.keep_sessions.setSuffix(" sessions")
        self.keep_sessions.setSpecialValueText("all sessions")
        self.keep_sessions.setValue(settings.keep_sessions)
        self.keep_sessions.setToolTip("older sessions are deleted when a session starts; "
                                      "0 keeps them all")
        self.keep_gb = QDoubleSpinBox()
        self.keep_gb.setObjectName("keepGbBox")
        self.keep_gb.setDecimals(2)
        self.keep_gb.setRange(0.0, 100_000.0)
        self.keep_gb.setSuffix(" GB")
        self.keep_gb.setSpecialValueText("no limit")
        self.keep_gb.setValue(settings.keep_gb)
        self.keep_gb.setToolTip("the oldest sessions are deleted until the rest fit; the "
                                "running session is always kept")
        self.min_free = QDoubleSpinBox()
        self.min_free.setObjectName("minFreeBox")
        self.min_free.setDecimals(0)
        self.min_free.setRange(0.0, 10_000_000.0)
        self.min_free.setSuffix(" MB")
        self.min_free.setSpecialValueText("no guard")
        self.min_free.setValue(settings.min_free_mb)
        self.min_free.setToolTip("below this much free space on the journal's disk, trading "
                                 "pauses (no new fills) until there is 10% more")
        form.addRow("Keep the last", self.keep_sessions)
        form.addRow("Keep at most", self.keep_gb)
        form.addRow("Keep free on its disk", self.min_free)
        return journal

    def settings(self) -> Settings:
        folders = tuple(line.strip() for line in self.strategy_folders.toPlainText().splitlines()
                        if line.strip())
        return replace(self.original, fee=round(self.fee.value() / 100, 8),
                       slippage=round(self.slippage.value() / 100, 8),
                       workers=self.workers.value(), data_folder=self.data_folder.text().strip(),
                       strategy_folders=folders, theme=self.theme.currentText(),
                       server_enabled=self.server_on.isChecked(),
                       server_host=self.host.text().strip() or "127.0.0.1",
                       server_port=self.port.value(), server_token=self.token.text().strip(),
                       binance_rest_url=self.rest_url.text().strip(),
                       binance_ws_url=self.ws_url.text().strip(),
                       keep_sessions=self.keep_sessions.value(),
                       keep_gb=round(self.keep_gb.value(), 3),
                       min_free_mb=self.min_free.value())

    def try_accept(self) -> None:
        settings = self.settings()
        problems = settings.problems()
        if problems:
            self.error.setText("Please fix: " + "; ".join(problems) + ".")
            self.error.show()
            return
        self.result_settings = settings
        self.accept()


def _with_browse(edit: QLineEdit, parent: QWidget) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit)
    button = QPushButton("Browse…")

    def browse() -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    button.clicked.connect(browse)
    row.addWidget(button)
    return holder
