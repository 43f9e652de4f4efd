"""Test on history: replay a bar file through rules and see when each would have fired.

The trader picks a bar file, the rules (the engine's current ones or a rules file) and,
optionally, a strategy to backtest beside them; Run calls ``copilot.tester.test_rules`` (the
same as ``velocitas copilot test`` and ``POST /api/copilot/test``) on a pool thread with a
progress bar. The firings and, for rules with an action, what the action would have changed
on the strategy's backtest are listed below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.catalog import Catalog
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.copilot.tables import (
    EFFECT_COLUMNS,
    FIRING_COLUMNS,
    effect_row,
    firing_row,
)
from velocitas_desktop.gui.fields import job_message, job_progress
from velocitas_desktop.gui.panels import fit_columns, make_table
from velocitas_desktop.gui.table import ColumnTableModel
from velocitas_desktop.paths import sample_data_dir

SAMPLE_FILE = "BTCUSD-1h-sample.csv"
NO_STRATEGY = "none: the rules alone"


def parse_params(text: str) -> dict[str, Any]:
    """``fast=10, slow=40`` as a dict of numbers (or text); ValueError saying which part."""
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"write the parameters as name=value, not “{part}”")
        try:
            number = float(value)
            params[name.strip()] = int(number) if number.is_integer() else number
        except ValueError:
            params[name.strip()] = value.strip()
    return params


class TesterPanel(QWidget):
    """The form, Run with a progress bar, and the firings and effects tables.

    ``current_rules`` gives the engine's rules (read off the Qt thread when Run is pressed)."""

    def __init__(self, catalog: Callable[[], Catalog],
                 current_rules: Callable[[], list[dict[str, Any]]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.current_rules = current_rules
        self.running = False
        self.result: dict[str, Any] | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.bars_edit = QLineEdit(str(sample_data_dir() / SAMPLE_FILE))
        self.bars_edit.setObjectName("testBars")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_bars)
        form.addRow("Bar file", _line(self.bars_edit, browse))
        self.current_radio = QRadioButton("the current rules")
        self.current_radio.setObjectName("testCurrentRules")
        self.current_radio.setChecked(True)
        self.file_radio = QRadioButton("a rules file")
        self.file_radio.setObjectName("testRulesFile")
        self.rules_edit = QLineEdit()
        self.rules_edit.setObjectName("testRulesPath")
        self.rules_edit.setPlaceholderText("a rules file (JSON)")
        self.rules_edit.textEdited.connect(lambda _: self.file_radio.setChecked(True))
        rules_browse = QPushButton("Browse…")
        rules_browse.clicked.connect(self._browse_rules)
        row = QHBoxLayout()
        row.addWidget(self.current_radio)
        row.addWidget(self.file_radio)
        row.addWidget(self.rules_edit, 1)
        row.addWidget(rules_browse)
        form.addRow("Rules", row)
        self.strategy_box = QComboBox()
        self.strategy_box.setObjectName("testStrategy")
        self.params_edit = QLineEdit()
        self.params_edit.setObjectName("testParams")
        self.params_edit.setPlaceholderText("its parameters: fast=10, slow=40 (empty: defaults)")
        self.coin_edit = QLineEdit("BTC")
        self.coin_edit.setObjectName("testCoin")
        self.coin_edit.setMaximumWidth(90)
        row = QHBoxLayout()
        row.addWidget(self.strategy_box)
        row.addWidget(self.params_edit, 1)
        row.addWidget(QLabel("Coin"))
        row.addWidget(self.coin_edit)
        form.addRow("Strategy", row)
        layout.addLayout(form)
        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run the test")
        self.run_button.setObjectName("testRun")
        self.run_button.clicked.connect(self.run)
        self.progress = job_progress("testProgress")
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.progress, 1)
        layout.addLayout(run_row)
        self.message = job_message(
            "testMessage", "Replays the bars through the rules: when each would have fired, at "
                           "what price, and what its action would have changed.")
        layout.addWidget(self.message)
        self.firings_model = ColumnTableModel(FIRING_COLUMNS)
        self.firings = make_table(self.firings_model)
        self.firings.setObjectName("testFirings")
        self.effects_model = ColumnTableModel(EFFECT_COLUMNS)
        self.effects = make_table(self.effects_model)
        self.effects.setObjectName("testEffects")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.firings)
        split.addWidget(self.effects)
        split.setSizes([400, 140])
        layout.addWidget(split, 1)
        self.refresh_strategies()

    def refresh_strategies(self) -> None:
        current = self.strategy_box.currentText()
        self.strategy_box.clear()
        self.strategy_box.addItems([NO_STRATEGY, *self.catalog().names()])
        if current:
            self.strategy_box.setCurrentText(current)

    def _browse_bars(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a bar file",
                                              str(Path(self.bars_edit.text()).parent),
                                              "Bar files (*.csv *.csv.gz);;All files (*)")
        if path:
            self.bars_edit.setText(path)

    def _browse_rules(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a rules file", "",
                                              "Rules files (*.json);;All files (*)")
        if path:
            self.rules_edit.setText(path)
            self.file_radio.setChecked(True)

    def run(self) -> None:
        """Read the bars and the rules and run the tester, all off the Qt thread."""
        if self.running:
            return
        bars_path = self.bars_edit.text().strip()
        rules_path = self.rules_edit.text().strip() if self.file_radio.isChecked() else ""
        if not bars_path:
            self.show_message("Choose a bar file first (Browse…).", error=True)
            return
        if self.file_radio.isChecked() and not rules_path:
            self.show_message("Choose a rules file, or test the current rules.", error=True)
            return
        strategy = self.strategy_box.currentText()
        strategy = None if strategy in ("", NO_STRATEGY) else strategy
        try:
            params = parse_params(self.params_edit.text())
        except ValueError as exc:
            self.show_message(f"{exc}.", error=True)
            return
        coin = self.coin_edit.text().strip().upper() or "BTC"
        current = self.current_rules
        catalog = self.catalog()  # the window's: the trader's own strategies too

        def work(progress: Any) -> dict[str, Any]:
            from velocitas_desktop.copilot.rules import Rule, parse_rules_file
            from velocitas_desktop.copilot.tester import test_rules

            if rules_path:
                rules = parse_rules_file(Path(rules_path).read_text(encoding="utf-8"))
            else:
                rules = [Rule.from_json(r) for r in current()]
            return test_rules(bars_path, rules, strategy=strategy, params=params or None,
                              coin=coin, catalog=catalog, on_progress=progress)

        self.running = True
        self.run_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setFormat("testing…")
        self.show_message(f"Testing on {Path(bars_path).name}…", error=False)
        run_in_background(work, self._tested, self._failed, self._progress)

    def _progress(self, done: int, total: int) -> None:
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
            self.progress.setFormat("%p%")
        self.progress.setValue(done)

    def _finish(self) -> None:
        self.running = False
        self.run_button.setEnabled(True)
        self.progress.setRange(0, 100)
        self.progress.setValue(100 if self.result else 0)
        self.progress.setFormat("done" if self.result else "idle")

    def _tested(self, result: dict[str, Any]) -> None:
        self.result = result
        self._finish()
        self.show_result(result)

    def show_result(self, result: dict[str, Any]) -> None:
        firings = result.get("firings") or []
        self.firings_model.set_rows([firing_row(f) for f in firings])
        self.effects_model.set_rows([effect_row(e) for e in result.get("effects") or []])
        fit_columns(self.firings)
        fit_columns(self.effects)
        counts = result.get("counts") or {}
        per_rule = ", ".join(f"{rule} {n}×" for rule, n in counts.items() if n)
        text = f"{len(firings):,} firings" + (f": {per_rule}." if per_rule
                                              else "; no rule fired.")
        skipped = result.get("skipped") or []
        if skipped:  # a rule the bars cannot serve (a 1m RSI on hourly bars) says why
            text += " Not tested: " + "; ".join(f"{s['rule_id']}: {s['reason']}"
                                                for s in skipped) + "."
        self.show_message(text, error=False)

    def _failed(self, exc: BaseException) -> None:
        self.result = None
        self._finish()
        text = str(exc) if isinstance(exc, VelocitasError | ValueError | OSError) else \
            f"{type(exc).__name__}: {exc}"
        self.show_message(f"The test did not run: {text}", error=True)

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setProperty("error", error)
        self.message.setStyleSheet("color: #ef5350;" if error else "")


def _line(edit: QWidget, button: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


__all__: list[str] = ["TesterPanel", "parse_params"]
