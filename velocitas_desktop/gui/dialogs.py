"""Dialogs: the strategy form built from a parameter declaration, and the settings."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.catalog import Catalog
from velocitas_desktop.core.errors import ParameterError, VelocitasError
from velocitas_desktop.core.strategy import StrategySpec, check_coin, check_strategy_id
from velocitas_desktop.core.types import TICK
from velocitas_desktop.engine.request import DEFAULT_TIMEFRAME
from velocitas_desktop.gui.fields import FieldError, NumberField, first_problem, number_text
from velocitas_desktop.gui.optimization.helpers import unique_id
from velocitas_desktop.gui.settings import THEMES, Settings
from velocitas_desktop.paths import data_dir
from velocitas_desktop.tokens import new_token


def param_editor(param: dict[str, Any], value: Any) -> QCheckBox | NumberField:
    """A check box or a number field for one declared parameter, bounded by its declaration."""
    if param["type"] == "bool":
        box = QCheckBox()
        box.setChecked(bool(value))
        return box
    field = NumberField(value, label=param["name"], integer=param["type"] == "int",
                        low=param["low"], high=param["high"],
                        step=param["step"] or (1 if param["type"] == "int" else _step_for(value)))
    field.setMinimumWidth(120)
    return field


def _step_for(value: float) -> float:
    return 10 ** math.floor(math.log10(abs(value))) / 10 if value else 0.1


def editor_value(editor: QWidget) -> Any:
    """The editor's value; FieldError if a number field holds one that cannot be used."""
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, NumberField):
        return editor.value()
    raise TypeError(editor)


class StrategyForm(QDialog):
    """Add a strategy (or edit one's parameters and timeframe) through a form generated from
    its declaration.

    Problems (a number out of its bounds, a bad coin or id, a broken relation such as
    ``fast < slow``, a taken id) are shown under the field or the form, which stays open until
    the values are valid, and go as soon as the value is corrected. An automatic id already
    taken gets the next free number (``BTC_RSI_2``), as Apply to live does; an id typed by
    hand is the trader's choice and is refused instead. ``spec`` holds the result.
    """

    def __init__(self, catalog: Catalog, coins: list[str], existing_ids: set[str],
                 editing: dict[str, Any] | None = None, parent: QWidget | None = None,
                 feed_coins: Collection[str] | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.existing_ids = existing_ids
        self.editing = editing
        self.feed_coins = list(feed_coins) if feed_coins else None
        self.spec: StrategySpec | None = None
        self.editors: dict[str, QCheckBox | NumberField] = {}
        self.setWindowTitle("Edit strategy" if editing else "Add strategy")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_top(coins))
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
            # the parameters and the timeframe change in place; the rest makes another strategy
            for widget in (self.name_box, self.coin_box, self.id_edit, self.short_box):
                widget.setEnabled(False)
        self._build_params(self.name_box.currentText())
        for signal in (self.coin_box.currentTextChanged, self.id_edit.textChanged,
                       self.timeframe_box.currentTextChanged, self.short_box.toggled):
            signal.connect(self._recheck)
        self.coin_box.currentTextChanged.connect(self._show_coin_note)
        self._show_coin_note()

    def _build_top(self, coins: list[str]) -> QFormLayout:
        top = QFormLayout()
        self.name_box = QComboBox()
        self.name_box.setObjectName("strategyName")
        self.name_box.addItems(self.catalog.names())
        self.coin_box = QComboBox()
        self.coin_box.setObjectName("strategyCoin")
        self.coin_box.setEditable(True)
        self.coin_box.addItems(coins)
        self.coin_note = QLabel()
        self.coin_note.setObjectName("fieldError")
        self.coin_note.setProperty("warning", True)
        self.coin_note.setWordWrap(True)
        self.coin_note.hide()
        self.id_edit = QLineEdit()
        self.id_edit.setObjectName("strategyId")
        self.id_edit.setPlaceholderText("automatic: COIN_Name")
        self.id_edit.setToolTip("letters, digits, _ . or -; empty for COIN_Name (a number is "
                                "added if that is taken)")
        self.timeframe_box = QComboBox()
        self.timeframe_box.setObjectName("strategyTimeframe")
        self.short_box = QCheckBox("allow short selling")
        self.description = QLabel()
        self.description.setWordWrap(True)
        top.addRow("Strategy", self.name_box)
        top.addRow("", self.description)
        top.addRow("Coin", _stacked(self.coin_box, self.coin_note))
        top.addRow("Id", self.id_edit)
        top.addRow("Decides on", self.timeframe_box)
        top.addRow("", self.short_box)
        return top

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
            if isinstance(editor, NumberField):
                self.params_form.addRow(param["name"], editor.row())
                editor.textChanged.connect(self._recheck)
            else:
                self.params_form.addRow(param["name"], editor)
                editor.toggled.connect(self._recheck)
        constraints = schema.get("constraints") or []
        self.constraints.setText("Rules: " + ", ".join(constraints) if constraints else "")
        self.constraints.setVisible(bool(constraints))
        current = (self.timeframe_box.currentText()
                   or (self.editing or {}).get("timeframe", DEFAULT_TIMEFRAME))
        self.timeframe_box.clear()
        self.timeframe_box.addItems(schema.get("timeframes") or [TICK])
        self.timeframe_box.setCurrentText(current)
        self.error.hide()
        grow_to_fit(self)

    def values(self) -> dict[str, Any]:
        """The parameters as typed; FieldError for a number that cannot be used."""
        return {name: editor_value(editor) for name, editor in self.editors.items()}

    def read_spec(self) -> StrategySpec:
        """The strategy the form describes, validated against the catalogue; VelocitasError
        or ValueError (FieldError) saying what to change."""
        fields = {n: e for n, e in self.editors.items() if isinstance(e, NumberField)}
        problem = first_problem(fields)
        if problem is not None:
            raise FieldError(problem)
        coin = check_coin(self.coin_box.currentText())
        typed_id = self.id_edit.text().strip()
        if typed_id and not self.editing:
            check_strategy_id(typed_id)
        spec = StrategySpec(self.name_box.currentText(), coin, self.values(),
                            self.timeframe_box.currentText() or DEFAULT_TIMEFRAME,
                            typed_id, self.short_box.isChecked())
        spec = self.catalog.validate(spec)
        if self.editing or spec.id not in self.existing_ids:
            return spec
        if typed_id:
            raise ParameterError(f"a strategy with id {spec.id} is already registered: type "
                                 f"another id, or leave the id empty for "
                                 f"{unique_id(spec.id, self.existing_ids)}")
        return replace(spec, strategy_id=unique_id(spec.id, self.existing_ids))

    def try_accept(self) -> None:
        """Validate; show the problem inline, or accept."""
        try:
            spec = self.read_spec()
        except (VelocitasError, ValueError) as exc:
            self.show_error(f"{_sentence(exc)} Change the value and press "
                            f"{self.ok_button.text()} again.")
            return
        self.spec = spec
        self.accept()

    def _recheck(self, *_: Any) -> None:
        """A message already shown follows the values: it goes once they are right."""
        if not self.error.isVisible():
            return
        try:
            self.read_spec()
        except (VelocitasError, ValueError) as exc:
            self.show_error(f"{_sentence(exc)} Change the value and press "
                            f"{self.ok_button.text()} again.")
            return
        self.error.hide()
        grow_to_fit(self)

    def _show_coin_note(self, *_: Any) -> None:
        coin = self.coin_box.currentText().strip().upper()
        away = bool(self.feed_coins) and bool(coin) and coin not in (self.feed_coins or [])
        if away:
            self.coin_note.setText(f"The session's feed carries {', '.join(self.feed_coins or [])}:"
                                   f" {coin} will not trade until it is added to the toolbar's "
                                   "coins (then Stop and Start).")
        self.coin_note.setVisible(away)
        grow_to_fit(self)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        grow_to_fit(self)


def grow_to_fit(dialog: QDialog) -> None:
    """Make a dialog tall enough for every line of its messages at its width; never smaller
    (Qt's own adjustSize reflows the wrapped text at another width and may shrink it)."""
    width = dialog.width()
    needed = (dialog.heightForWidth(width) if dialog.hasHeightForWidth()
              else dialog.sizeHint().height())
    needed = max(needed, dialog.minimumSizeHint().height())
    if needed > dialog.height():
        dialog.resize(width, needed)


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text.endswith(".") else text + "."


def _stacked(top: QWidget, below: QWidget) -> QWidget:
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(top)
    column.addWidget(below)
    return holder


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
        self.setMinimumWidth(860)
        self.result_settings: Settings | None = None
        self.original = settings
        layout = QVBoxLayout(self)
        # two columns: in one the dialog was 780 px tall, more than a 720-line screen holds
        columns = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout.addLayout(columns)
        trading = QGroupBox("Trading")
        form = QFormLayout(trading)
        self.fee = NumberField(settings.fee * 100, label="fee", low=0, high=10, step=0.01,
                               unit="%", warn=_unusual_cost("fee", 0.1))
        self.fee.setObjectName("feeBox")
        self.slippage = NumberField(settings.slippage * 100, label="slippage", low=0, high=10,
                                    step=0.01, unit="%", warn=_unusual_cost("slippage", 0.05))
        self.slippage.setObjectName("slippageBox")
        self.workers = NumberField(settings.workers, label="number of workers", integer=True,
                                   low=0, high=64)
        self.workers.setObjectName("workersBox")
        self.workers.setToolTip("0 runs strategies in the engine thread (fastest for cheap "
                                "strategies); N spreads them over N processes")
        form.addRow("Fee per fill", self.fee.row())
        form.addRow("Slippage", self.slippage.row())
        form.addRow("Default workers", self.workers.row())
        left.addWidget(trading)
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
        left.addWidget(folders)
        exchange = QGroupBox("Binance")
        form = QFormLayout(exchange)
        self.rest_url = QLineEdit(settings.binance_rest_url)
        self.rest_url.setObjectName("restUrl")
        self.ws_url = QLineEdit(settings.binance_ws_url)
        self.ws_url.setObjectName("wsUrl")
        form.addRow("REST address", self.rest_url)
        form.addRow("WebSocket address", self.ws_url)
        right.addWidget(exchange)
        server = QGroupBox("Embedded server (browser view and API)")
        form = QFormLayout(server)
        self.server_on = QCheckBox("serve this engine over HTTP while the window is open")
        self.server_on.setObjectName("serverOn")
        self.server_on.setChecked(settings.server_enabled)
        self.host = QLineEdit(settings.server_host)
        self.port = NumberField(settings.server_port, label="port", integer=True, low=1,
                                high=65535)
        self.port.setObjectName("portBox")
        self.token = QLineEdit(settings.server_token)
        self.token.setPlaceholderText("required unless the host is 127.0.0.1")
        token_row = QHBoxLayout()
        token_row.addWidget(self.token)
        generate = QPushButton("Generate")
        generate.clicked.connect(lambda: self.token.setText(new_token()))
        token_row.addWidget(generate)
        form.addRow("", self.server_on)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port.row())
        form.addRow("Token", token_row)
        right.addWidget(server)
        left.addWidget(self._journal_group(settings))
        left.addStretch(1)
        right.addStretch(1)
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
        self._follow_edits()

    def _journal_group(self, settings: Settings) -> QGroupBox:
        journal = QGroupBox("Journal (every session's trades, kept in the data folder)")
        form = QFormLayout(journal)
        self.keep_sessions = NumberField(settings.keep_sessions, label="number of sessions",
                                         integer=True, low=0, high=100_000, unit="sessions",
                                         words={0: "all sessions"})
        self.keep_sessions.setObjectName("keepSessionsBox")
        self.keep_sessions.setToolTip("older sessions are deleted when a session starts; "
                                      "0 keeps them all")
        self.keep_gb = NumberField(settings.keep_gb, label="size", low=0, high=100_000,
                                   step=0.5, unit="GB", words={0: "no limit"})
        self.keep_gb.setObjectName("keepGbBox")
        self.keep_gb.setToolTip("the oldest sessions are deleted until the rest fit; the "
                                "running session is always kept")
        self.min_free = NumberField(settings.min_free_mb, label="free space", low=0,
                                    high=10_000_000, step=50, unit="MB",
                                    words={0: "no guard"})
        self.min_free.setObjectName("minFreeBox")
        self.min_free.setToolTip("below this much free space on the journal's disk, trading "
                                 "pauses (no new fills) until there is 10% more")
        form.addRow("Keep the last", self.keep_sessions.row())
        form.addRow("Keep at most", self.keep_gb.row())
        form.addRow("Keep free on its disk", self.min_free.row())
        return journal

    @property
    def fields(self) -> dict[str, NumberField]:
        return {"fee": self.fee, "slippage": self.slippage, "workers": self.workers,
                "port": self.port, "keep_sessions": self.keep_sessions, "keep_gb": self.keep_gb,
                "min_free_mb": self.min_free}

    def settings(self) -> Settings:
        """The settings as typed; FieldError for a number that cannot be used."""
        folders = tuple(line.strip() for line in self.strategy_folders.toPlainText().splitlines()
                        if line.strip())
        return replace(self.original, fee=round(self.fee.value() / 100, 8),
                       slippage=round(self.slippage.value() / 100, 8),
                       workers=int(self.workers.value()),
                       data_folder=self.data_folder.text().strip(),
                       strategy_folders=folders, theme=self.theme.currentText(),
                       server_enabled=self.server_on.isChecked(),
                       server_host=self.host.text().strip() or "127.0.0.1",
                       server_port=int(self.port.value()), server_token=self.token.text().strip(),
                       binance_rest_url=self.rest_url.text().strip(),
                       binance_ws_url=self.ws_url.text().strip(),
                       keep_sessions=int(self.keep_sessions.value()),
                       keep_gb=round(self.keep_gb.value(), 3),
                       min_free_mb=self.min_free.value())

    def problems(self) -> list[str]:
        """What stops the settings from being saved; each number's also shows under it."""
        problem = first_problem(self.fields)
        return [problem] if problem else self.settings().problems()

    def try_accept(self) -> None:
        """Save, or say what to fix."""
        if self._show_problems():
            self.result_settings = self.settings()
            self.accept()

    def _show_problems(self) -> bool:
        problems = self.problems()
        self.error.setText("Please fix: " + "; ".join(problems) + "." if problems else "")
        self.error.setVisible(bool(problems))
        grow_to_fit(self)
        return not problems

    def _follow_edits(self) -> None:
        """Once shown, the message follows every edit, and goes when nothing is left to fix."""
        def recheck(*_: Any) -> None:
            if self.error.isVisible():
                self._show_problems()

        for edit in self.findChildren(QLineEdit):
            edit.textChanged.connect(recheck)
        for box in self.findChildren(QCheckBox):
            box.toggled.connect(recheck)
        self.strategy_folders.textChanged.connect(recheck)
        self.theme.currentTextChanged.connect(recheck)


def _unusual_cost(name: str, typical: float) -> Callable[[float], str | None]:
    """A note (not a refusal) for a cost in per cent far above what an exchange charges."""
    def note(percent: float) -> str | None:
        if percent <= 1:
            return None
        return (f"{number_text(percent)} % is an unusual {name}: about {typical} % is typical "
                f"on Binance spot")
    return note


def _with_browse(edit: QLineEdit, parent: QWidget) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit)
    button = QPushButton("Browse…")

    def browse() -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Choose a folder",
                                                  str(nearest_folder(edit.text())))
        if folder:
            edit.setText(folder)

    button.clicked.connect(browse)
    row.addWidget(button)
    return holder


def nearest_folder(text: str) -> Path:
    """The folder typed, or its nearest parent that exists, or the user's data folder: a file
    dialog given a missing folder opened in the current directory, the name typed as a file."""
    path = Path(text.strip()).expanduser()
    if not text.strip() or not path.is_absolute():  # a relative name reads from the cwd
        return data_dir()
    while not path.is_dir() and path.parent != path:
        path = path.parent
    return path
