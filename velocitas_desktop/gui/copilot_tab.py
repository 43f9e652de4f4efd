"""The Copilot tab: the rules a trader wrote, the alerts they raised, the actions they propose.

Rules are listed with their state (on, fired, why the monitor disabled one) and edited in a
form built from the declared condition types (gui/copilot/rule_dialog.py). Alerts arrive as
the bridge's coalesced ALERT events and are listed newest first in their severity's colour;
actions waiting for the trader are listed with their reason and Confirm / Reject. History
pages back through the journal's alerts and lists every decision; both export to CSV. Test on
history and the copilot's settings have a page each. Every engine call runs on the GUI's
thread pool; the engine's refusals are written where the trader acted.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.copilot.rule_dialog import RuleDialog
from velocitas_desktop.gui.copilot.settings_panel import SettingsPanel
from velocitas_desktop.gui.copilot.tables import (
    ACTION_COLUMNS,
    ALERT_COLUMNS,
    RULE_COLUMNS,
    SEVERITY_COLOURS,
    action_row,
    alert_row,
    rule_row,
)
from velocitas_desktop.gui.copilot.tester_panel import TesterPanel
from velocitas_desktop.gui.panels import fit_columns, make_table
from velocitas_desktop.gui.table import ColumnTableModel
from velocitas_desktop.gui.theme import DARK, ChartColours

LIVE_ALERTS = 500     # alerts kept in the live list (the journal keeps them all: History)
HISTORY_PAGE = 200    # alerts read per page of History
ACTIONS_LISTED = 500  # decisions listed in History


def _model(columns: Any, key: str, palette: ChartColours) -> ColumnTableModel:
    model = ColumnTableModel(columns, key=key)
    model.colours.update({name: QColor(c) for name, c in SEVERITY_COLOURS.items()})
    model.colours.update({"up": QColor(palette.up), "down": QColor(palette.down)})
    return model


def _button(text: str, name: str, tip: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


class CopilotTab(QWidget):
    """Rules, live alerts, pending actions, history, test on history and settings."""

    def __init__(self, engine: TradingEngine, parent: QWidget | None = None,
                 palette: ChartColours | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.palette = palette or DARK
        self.conditions: list[dict[str, Any]] = []
        self.rules: list[dict[str, Any]] = []
        self.alerts: dict[int, dict[str, Any]] = {}    # the live list, by id
        self.history: dict[int, dict[str, Any]] = {}   # History's alerts, by id
        self.actions: dict[int, dict[str, Any]] = {}   # every decision read, by id
        self.dialogs: list[QWidget] = []
        self.loaded = False
        self._closed = False
        self._refreshing_rules = False
        self._rules_again = False
        self._build()

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.pages = QTabWidget()
        self.pages.setObjectName("copilotPages")
        self.pages.setDocumentMode(True)
        self.pages.addTab(self._build_monitor(), "Rules and alerts")
        self.pages.addTab(self._build_history(), "History")
        self.tester = TesterPanel(lambda: self.engine.catalog, self._current_rules)
        self.pages.addTab(self.tester, "Test on history")
        self.settings_panel = SettingsPanel()
        self.settings_panel.apply_requested.connect(self.apply_settings)
        self.settings_panel.test_requested.connect(self.send_webhook_test)
        self.pages.addTab(self.settings_panel, "Settings")
        layout.addWidget(self.pages, 1)
        self.message = QLabel()
        self.message.setObjectName("copilotMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)

    def _build_monitor(self) -> QWidget:
        """Rules above; the alerts and the actions waiting for the trader side by side."""
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self._build_alerts())
        lower.addWidget(self._build_pending())
        lower.setSizes([1000, 600])
        page = QSplitter(Qt.Orientation.Vertical)
        page.addWidget(self._build_rules())
        page.addWidget(lower)
        page.setSizes([340, 560])
        self._rule_selected()
        self._alert_selected()
        self._pending_selected()
        return page

    def _build_rules(self) -> QWidget:
        rules = QGroupBox("Rules")
        column = QVBoxLayout(rules)
        buttons = QHBoxLayout()
        self.new_button = _button("New…", "ruleNew", "Write a rule in a form", self.new_rule)
        self.edit_button = _button("Edit…", "ruleEdit", "Change the selected rule",
                                   self.edit_rule)
        self.delete_button = _button("Delete", "ruleDelete", "Delete the selected rule",
                                     self.delete_rule)
        self.enable_button = _button("Enable", "ruleEnable", "Let the selected rule fire "
                                     "again (clears the reason the monitor disabled it)",
                                     lambda: self.enable_rule(True))
        self.disable_button = _button("Disable", "ruleDisable", "Keep the rule, but let it "
                                      "not fire", lambda: self.enable_rule(False))
        self.import_button = _button("Import…", "ruleImport", "Add the rules of a rules file "
                                     "(all or none: a bad rule is named)", self.ask_import)
        self.export_button = _button("Export…", "ruleExport", "Write every rule to a file",
                                     self.ask_export)
        for button in (self.new_button, self.edit_button, self.delete_button,
                       self.enable_button, self.disable_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.export_button)
        column.addLayout(buttons)
        self.rules_model = _model(RULE_COLUMNS, "id", self.palette)
        self.rules_view = make_table(self.rules_model)
        self.rules_view.setObjectName("rulesTable")
        self.rules_view.doubleClicked.connect(lambda _: self.edit_rule())
        self.rules_view.selectionModel().selectionChanged.connect(self._rule_selected)
        column.addWidget(self.rules_view, 1)
        return rules

    def _build_alerts(self) -> QWidget:
        alerts = QGroupBox("Alerts")
        column = QVBoxLayout(alerts)
        buttons = QHBoxLayout()
        self.alerts_note = QLabel("Newest first.")
        self.alerts_note.setObjectName("mutedLabel")
        buttons.addWidget(self.alerts_note, 1)
        self.ack_button = _button("Acknowledge", "alertAck", "Mark the selected alert as seen",
                                  self.acknowledge_selected)
        self.ack_all_button = _button("Acknowledge all", "alertAckAll",
                                      "Mark every alert listed as seen", self.acknowledge_all)
        buttons.addWidget(self.ack_button)
        buttons.addWidget(self.ack_all_button)
        column.addLayout(buttons)
        self.alerts_model = _model(ALERT_COLUMNS, "id", self.palette)
        self.alerts_view = make_table(self.alerts_model)
        self.alerts_view.setObjectName("alertsTable")
        self.alerts_view.selectionModel().selectionChanged.connect(self._alert_selected)
        column.addWidget(self.alerts_view, 1)
        return alerts

    def _build_pending(self) -> QWidget:
        pending = QGroupBox("Actions waiting for you")
        column = QVBoxLayout(pending)
        buttons = QHBoxLayout()
        self.pending_note = QLabel("None.")
        self.pending_note.setObjectName("mutedLabel")
        self.pending_note.setWordWrap(True)
        buttons.addWidget(self.pending_note, 1)
        self.confirm_button = _button("Confirm", "actionConfirm", "Do the selected action now",
                                      lambda: self.decide(True))
        self.reject_button = _button("Reject", "actionReject", "Do not do it (recorded)",
                                     lambda: self.decide(False))
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.reject_button)
        column.addLayout(buttons)
        self.pending_model = _model(ACTION_COLUMNS, "id", self.palette)
        self.pending_view = make_table(self.pending_model)
        self.pending_view.setObjectName("pendingTable")
        self.pending_view.selectionModel().selectionChanged.connect(self._pending_selected)
        column.addWidget(self.pending_view, 1)
        return pending

    def _build_history(self) -> QWidget:
        alerts = QGroupBox("Alerts")
        column = QVBoxLayout(alerts)
        buttons = QHBoxLayout()
        self.history_note = QLabel()
        self.history_note.setObjectName("mutedLabel")
        buttons.addWidget(self.history_note, 1)
        self.older_button = _button("Older…", "historyOlder",
                                    f"Read the {HISTORY_PAGE} alerts before the oldest listed",
                                    self.load_older)
        self.export_alerts_button = _button("Export CSV…", "historyExportAlerts",
                                            "Write the alerts listed to a CSV file",
                                            lambda: self.ask_export_csv("alerts"))
        buttons.addWidget(self.older_button)
        buttons.addWidget(self.export_alerts_button)
        column.addLayout(buttons)
        self.history_model = _model(ALERT_COLUMNS, "id", self.palette)
        self.history_view = make_table(self.history_model)
        self.history_view.setObjectName("historyAlerts")
        column.addWidget(self.history_view, 1)

        actions = QGroupBox("Decisions and actions")
        column = QVBoxLayout(actions)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.export_actions_button = _button("Export CSV…", "historyExportActions",
                                             "Write the decisions listed to a CSV file",
                                             lambda: self.ask_export_csv("actions"))
        buttons.addWidget(self.export_actions_button)
        column.addLayout(buttons)
        self.actions_model = _model(ACTION_COLUMNS, "id", self.palette)
        self.actions_view = make_table(self.actions_model)
        self.actions_view.setObjectName("historyActions")
        column.addWidget(self.actions_view, 1)
        page = QSplitter(Qt.Orientation.Vertical)
        page.addWidget(alerts)
        page.addWidget(actions)
        return page

    # --- reading the engine (off the Qt thread) ------------------------------------------

    def load(self) -> None:
        """Read the conditions, rules, alerts, decisions and settings (once, then events)."""
        engine = self.engine

        def read() -> dict[str, Any]:
            return {"conditions": engine.copilot_conditions(),
                    "rules": engine.copilot_rules(),
                    "alerts": engine.copilot_alerts(limit=LIVE_ALERTS),
                    "actions": engine.copilot_actions(limit=ACTIONS_LISTED),
                    "settings": engine.copilot_settings()}

        run_in_background(read, self._loaded, self._failed)

    def _loaded(self, state: dict[str, Any]) -> None:
        if self._closed:
            return
        self.loaded = True
        self.conditions = state["conditions"]
        self.show_rules(state["rules"])
        # events that came while reading are newer than what was read: they stay
        self.add_actions([a for a in state["actions"] if a["id"] not in self.actions])
        alerts = [a for a in state["alerts"] if a["id"] not in self.alerts]
        self.history.update({a["id"]: a for a in alerts})
        self.history.update(self.alerts)
        self.add_alerts(alerts, shown=True)
        self._show_history()
        self.settings_panel.show_settings(state["settings"])

    def _failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self.show_message(_problem(exc), error=True)

    def _call(self, call: Callable[[], Any], done: Callable[[Any], None] | None = None,
              what: str = "") -> None:
        """An engine call on the pool; its refusal written in the tab."""
        def failed(exc: BaseException) -> None:
            if not self._closed:
                self.show_message(f"{what}: {_problem(exc)}" if what else _problem(exc),
                                  error=True)
                self.refresh_rules()

        def finished(result: Any) -> None:
            if not self._closed and done is not None:
                done(result)

        run_in_background(call, finished, failed)

    def refresh_rules(self) -> None:
        """Read the rules again (their fired counts and states change as alerts come); one
        read at a time, and one more if asked meanwhile."""
        if self._refreshing_rules:
            self._rules_again = True
            return
        self._refreshing_rules = True

        def done(rules: list[dict[str, Any]]) -> None:
            self._refreshing_rules = False
            self.show_rules(rules)
            if self._rules_again:
                self._rules_again = False
                self.refresh_rules()

        def failed(exc: BaseException) -> None:
            self._refreshing_rules = False
            self._failed(exc)

        run_in_background(self.engine.copilot_rules,
                          lambda rules: None if self._closed else done(rules), failed)

    def rules_changed(self, rules: list[dict[str, Any]]) -> None:
        """The engine's rules changed, here or in another view (the browser, the API): show
        them as they are now."""
        if self.loaded and not self._closed:
            self.show_rules(rules)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # the fired counts of rules that fired while the tab was hidden (a firing sends no
        # RULES event; the alerts refresh them while it is shown)
        if self.loaded:
            self.refresh_rules()

    def _current_rules(self) -> list[dict[str, Any]]:
        return self.engine.copilot_rules()

    # --- rules ---------------------------------------------------------------------------

    def show_rules(self, rules: list[dict[str, Any]]) -> None:
        self.rules = list(rules)
        self.rules_model.set_rows([rule_row(r) for r in self.rules])
        fit_columns(self.rules_view)
        self._rule_selected()

    def selected_rule(self) -> dict[str, Any] | None:
        rows = self.rules_view.selectionModel().selectedRows()
        if not rows:
            return None
        rule_id = self.rules_model.value(rows[0].row(), "id")
        return next((r for r in self.rules if r["id"] == rule_id), None)

    def _rule_selected(self, *_: Any) -> None:
        rule = self.selected_rule()
        for button in (self.edit_button, self.delete_button):
            button.setEnabled(rule is not None)
        self.enable_button.setEnabled(rule is not None and (not rule.get("enabled")
                                                            or bool(rule.get("disabled_reason"))))
        self.disable_button.setEnabled(rule is not None and bool(rule.get("enabled"))
                                       and not rule.get("disabled_reason"))

    def _coins_and_strategies(self) -> tuple[list[str], list[str]]:
        strategies = self.engine.strategies()
        coins = list(dict.fromkeys([*self.engine.snapshot()["global"].get("coins", []),
                                    *(s["coin"] for s in strategies)])) or ["BTC", "ETH"]
        return coins, [s["strategy_id"] for s in strategies]

    def new_rule(self) -> RuleDialog | None:
        return self._open_rule_dialog(None)

    def edit_rule(self) -> RuleDialog | None:
        rule = self.selected_rule()
        return self._open_rule_dialog(rule) if rule is not None else None

    def _open_rule_dialog(self, rule: dict[str, Any] | None) -> RuleDialog | None:
        if not self.conditions:
            self.show_message("The copilot's condition types are still being read; try again "
                              "in a moment.", error=True)
            self.load()
            return None
        coins, strategies = self._coins_and_strategies()
        dialog = RuleDialog(self.engine, self.conditions, coins, strategies, rule,
                            self.palette, self)
        dialog.setObjectName("ruleDialog")
        dialog.accepted.connect(lambda: self._rule_saved(dialog))
        self.dialogs.append(dialog)
        dialog.open()
        return dialog

    def _rule_saved(self, dialog: RuleDialog) -> None:
        if dialog.saved is not None:
            self.show_message(f"Saved rule {dialog.saved['name']} ({dialog.saved['id']}).",
                              error=False)
        self.refresh_rules()

    def delete_rule(self) -> None:
        rule = self.selected_rule()
        if rule is None:
            return
        rule_id = rule["id"]
        self._call(lambda: self.engine.delete_copilot_rule(rule_id),
                   lambda _: (self.show_message(f"Deleted rule {rule['name']}.", error=False),
                              self.refresh_rules()), f"Rule {rule['name']} not deleted")

    def enable_rule(self, enabled: bool) -> None:
        rule = self.selected_rule()
        if rule is None:
            return
        rule_id = rule["id"]
        self._call(lambda: self.engine.enable_copilot_rule(rule_id, enabled),
                   lambda _: self.refresh_rules(),
                   f"Rule {rule['name']} not {'enabled' if enabled else 'disabled'}")

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import rules", "",
                                              "Rules files (*.json);;All files (*)")
        if path:
            self.import_rules(path)

    def import_rules(self, path: str) -> None:
        """Add a rules file's rules: every one is validated first, all or none."""
        engine = self.engine

        def read_and_import() -> list[dict[str, Any]]:
            from velocitas_desktop.copilot.rules import parse_rules_file

            rules = parse_rules_file(Path(path).read_text(encoding="utf-8"))
            return engine.import_copilot_rules([r.to_json() for r in rules])

        self._call(read_and_import, lambda added: (
            self.show_message(f"Imported {len(added)} rule{'s' if len(added) != 1 else ''} "
                              f"from {Path(path).name}.", error=False),
            self.refresh_rules()), f"Nothing imported from {Path(path).name}")

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export rules", "copilot-rules.json",
                                              "Rules files (*.json)")
        if path:
            self.export_rules(path)

    def export_rules(self, path: str) -> None:
        """Write every rule to a rules file (the file Import and ``velocitas copilot add``
        read)."""
        engine = self.engine

        def write() -> int:
            from velocitas_desktop.copilot.rules import Rule, rules_file

            rules = [Rule.from_json(r) for r in engine.copilot_rules()]
            Path(path).write_text(rules_file(rules), encoding="utf-8")
            return len(rules)

        self._call(write, lambda count: self.show_message(
            f"Exported {count} rule{'s' if count != 1 else ''} to {path}.", error=False),
            "The rules were not exported")

    # --- alerts --------------------------------------------------------------------------

    def add_alerts(self, alerts: list[dict[str, Any]], shown: bool = False) -> None:
        """New alerts (a frame's, or the first read): into the live list, newest first."""
        if not alerts:
            return
        for alert in alerts:
            self.alerts[alert["id"]] = alert
            if self.loaded:  # newer than every page History read (before: merged on load)
                self.history[alert["id"]] = alert
        if len(self.alerts) > LIVE_ALERTS:
            for old in sorted(self.alerts)[:len(self.alerts) - LIVE_ALERTS]:
                del self.alerts[old]
        self._show_alerts()
        if not shown:
            self.refresh_rules()  # their fired counts moved
        if self.loaded:
            self._show_history()

    def alerts_acknowledged(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts acknowledged in any view: the rows listed here show them seen."""
        changed = False
        for alert in alerts:
            for held in (self.alerts, self.history):
                if alert["id"] in held and not held[alert["id"]].get("acknowledged"):
                    held[alert["id"]] = {**held[alert["id"]], "acknowledged": True}
                    changed = True
        if changed:
            self._show_alerts()
            if self.loaded:
                self._show_history()

    def _show_alerts(self) -> None:
        selected = self.selected_alert()
        ordered = sorted(self.alerts.values(), key=lambda a: a["id"], reverse=True)
        self.alerts_model.set_rows([alert_row(a, self.actions) for a in ordered])
        if selected is not None:
            self.select_alert(selected["id"])
        unseen = sum(1 for a in self.alerts.values() if not a.get("acknowledged"))
        self.alerts_note.setText(f"Newest first · {len(self.alerts):,} listed, {unseen:,} not "
                                 "acknowledged.")
        if self.alerts:
            fit_columns(self.alerts_view)
        self._alert_selected()

    def selected_alert(self) -> dict[str, Any] | None:
        rows = self.alerts_view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.alerts.get(int(self.alerts_model.value(rows[0].row(), "id")))

    def select_alert(self, alert_id: int) -> bool:
        """Select and show an alert of the live list (a toast's click leads here)."""
        row = self.alerts_model.row_of(alert_id)
        if row is None:
            return False
        self.pages.setCurrentIndex(0)
        self.alerts_view.selectRow(row)
        self.alerts_view.scrollTo(self.alerts_model.index(row, 0))
        return True

    def _alert_selected(self, *_: Any) -> None:
        alert = self.selected_alert()
        self.ack_button.setEnabled(alert is not None and not alert.get("acknowledged"))
        self.ack_all_button.setEnabled(any(not a.get("acknowledged")
                                           for a in self.alerts.values()))

    def acknowledge_selected(self) -> None:
        alert = self.selected_alert()
        if alert is not None:
            self._acknowledge([alert["id"]])

    def acknowledge_all(self) -> None:
        self._acknowledge([i for i, a in self.alerts.items() if not a.get("acknowledged")])

    def _acknowledge(self, ids: list[int]) -> None:
        engine = self.engine

        def acknowledge() -> list[dict[str, Any]]:
            return [engine.acknowledge_alert(i) for i in ids]

        def done(alerts: list[dict[str, Any]]) -> None:
            for alert in alerts:
                self.alerts[alert["id"]] = alert
                if alert["id"] in self.history:
                    self.history[alert["id"]] = alert
            self._show_alerts()
            self._show_history()

        self._call(acknowledge, done, "Not acknowledged")

    # --- actions -------------------------------------------------------------------------

    def add_actions(self, actions: list[dict[str, Any]]) -> None:
        """New decisions or new states of known ones (the bridge's ACTION events)."""
        if not actions:
            return
        for action in actions:
            self.actions[action["id"]] = action
        pending = sorted((a for a in self.actions.values() if a.get("status") == "pending"),
                         key=lambda a: a["id"], reverse=True)
        self.pending_model.set_rows([action_row(a) for a in pending])
        if pending:
            fit_columns(self.pending_view)
            newest = pending[0]
            self.pending_note.setText(f"{len(pending)} waiting. Newest: {newest['reason']}")
        else:
            self.pending_note.setText("None.")
        ordered = sorted(self.actions.values(), key=lambda a: a["id"], reverse=True)
        self.actions_model.set_rows([action_row(a) for a in ordered[:ACTIONS_LISTED]])
        self._pending_selected()
        if self.alerts:
            self._show_alerts()  # an alert's action column names its action's state

    def selected_action(self) -> dict[str, Any] | None:
        rows = self.pending_view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.actions.get(int(self.pending_model.value(rows[0].row(), "id")))

    def _pending_selected(self, *_: Any) -> None:
        action = self.selected_action()
        waiting = action is not None and action.get("status") == "pending"
        self.confirm_button.setEnabled(waiting)
        self.reject_button.setEnabled(waiting)

    def decide(self, confirm: bool) -> None:
        """Confirm or reject the selected pending action (the window decides)."""
        action = self.selected_action()
        if action is None:
            return
        action_id = action["id"]
        self.confirm_button.setEnabled(False)
        self.reject_button.setEnabled(False)

        def done(decided: dict[str, Any]) -> None:
            self.add_actions([decided])
            verb = "Confirmed" if confirm else "Rejected"
            outcome = f": {decided['result']}" if decided.get("result") else ""
            self.show_message(f"{verb} {decided['type']} (#{action_id}){outcome}.",
                              error=decided.get("status") == "failed")

        self._call(lambda: self.engine.decide_action(action_id, confirm, "window"), done,
                   f"Action #{action_id} not decided")

    # --- history -------------------------------------------------------------------------

    def _show_history(self) -> None:
        ordered = sorted(self.history.values(), key=lambda a: a["id"], reverse=True)
        self.history_model.set_rows([alert_row(a, self.actions) for a in ordered])
        if ordered:
            fit_columns(self.history_view)
        self.history_note.setText(f"{len(ordered):,} alerts read from the journal, newest "
                                  "first.")

    def load_older(self) -> None:
        before = min(self.history) if self.history else None
        engine = self.engine

        def done(alerts: list[dict[str, Any]]) -> None:
            self.history.update({a["id"]: a for a in alerts})
            self._show_history()
            if len(alerts) < HISTORY_PAGE:
                self.older_button.setEnabled(False)
                self.history_note.setText(self.history_note.text() + " No older alerts.")

        self._call(lambda: engine.copilot_alerts(before_id=before, limit=HISTORY_PAGE), done,
                   "Older alerts not read")

    def ask_export_csv(self, which: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {which}", f"copilot-{which}.csv",
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(which, path)

    def export_csv(self, which: str, path: str) -> None:
        """Write the history's alerts or decisions as the window lists them (oldest first),
        off the Qt thread."""
        model = self.history_model if which == "alerts" else self.actions_model
        header = model.export_header(readable=True)
        rows = model.export_rows(readable=True)  # a copy: the table may change meanwhile

        def write() -> int:
            count = 0
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                for row in rows:
                    writer.writerow(row)
                    count += 1
            return count

        self._call(write, lambda count: self.show_message(
            f"Exported {count:,} {which} to {path}.", error=False), f"The {which} not exported")

    # --- settings ------------------------------------------------------------------------

    def apply_settings(self, settings: dict[str, Any]) -> None:
        engine = self.engine

        def failed(exc: BaseException) -> None:
            if not self._closed:
                self.settings_panel.refused(_problem(exc))

        def done(applied: dict[str, Any]) -> None:
            if not self._closed:
                self.settings_panel.applied(applied)
                self.refresh_rules()  # the daily-loss guard is a rule of its own

        run_in_background(lambda: engine.update_copilot_settings(settings), done, failed)

    def send_webhook_test(self, webhook: dict[str, Any]) -> None:
        """Send ``webhook`` a test message off the Qt thread (a dead endpoint takes seconds)."""
        engine = self.engine

        def failed(exc: BaseException) -> None:
            if not self._closed:
                self.settings_panel.test_refused(_problem(exc))

        def done(result: dict[str, Any]) -> None:
            if not self._closed:
                self.settings_panel.tested(result)

        run_in_background(lambda: engine.copilot_test_webhook(webhook), done, failed)

    # --- messages, theme and shutdown ----------------------------------------------------

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        colour = self.palette.down if error else self.palette.foreground
        self.message.setStyleSheet(f"color: {colour};")
        self.message.setProperty("error", error)

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        for view in self.views():
            model = view.model()
            model.colours.update({"up": QColor(palette.up), "down": QColor(palette.down)})
            view.viewport().update()

    def views(self) -> list[QTableView]:
        return [self.rules_view, self.alerts_view, self.pending_view, self.history_view,
                self.actions_view]

    def shutdown(self) -> None:
        self._closed = True


def _problem(exc: BaseException) -> str:
    """What to tell the trader: our errors' message, the kind and message of others."""
    if isinstance(exc, VelocitasError | ValueError | OSError | KeyError):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return text if text.endswith(".") else text + "."
    return f"{type(exc).__name__}: {exc}"


__all__: list[str] = ["CopilotTab"]
