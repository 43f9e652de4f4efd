"""The rule form: built from the declared condition types, saved through the engine.

Each condition type declares its parameters (kind, default, bounds, choices, doc) in
``copilot.conditions``; the engine hands them out as ``copilot_conditions()``. The form makes
one field per parameter as the strategy form does from a strategy's Params: numbers are typed
and refused with their reason under the field, never clamped; choices are drop-downs; a
parameter without a default is optional (left empty, it is not sent). The engine validates
the whole rule (RuleError names the field and what to fix); its message is written in the
dialog, which stays open for the trader to correct it.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QDateTime, QTimeZone
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.copilot.conditions import CONDITIONS
from velocitas_desktop.copilot.templates import PLACEHOLDERS, template_problem
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.types import TIMEFRAMES
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.gui.copilot.tables import FREQUENCIES, SEVERITIES
from velocitas_desktop.gui.dialogs import grow_to_fit
from velocitas_desktop.gui.fields import FieldError, NumberField, first_problem
from velocitas_desktop.gui.theme import DARK, ChartColours

SCOPES = (("A coin", "coin"), ("A strategy", "strategy"), ("Everything", "all"))
# the actions a rule can propose from the form (apply_suggestion comes from the Trend tab's
# suggestions and rules files, with its whole suggestion as parameters)
ACTIONS = {"pause_strategy": "Pause the strategy", "resume_strategy": "Resume the strategy",
           "set_quantity": "Set the strategy's quantity",
           "close_position": "Close the strategy's position",
           "pause_all": "Pause every strategy", "stop_engine": "Stop the engine"}
# the pauses that also close (close_positions): a kill switch that flattens
CLOSING = ("pause_strategy", "pause_all")
NUMBER_KINDS = ("integer", "number", "int", "float")
OPTIONAL = "—"  # a drop-down's entry for an optional parameter left out
THE_ALERTS = "(the alert's strategy)"

Editor = NumberField | QComboBox | QCheckBox | QLineEdit


def param_editor(param: dict[str, Any], value: Any, hint: str = "") -> Editor:
    """A field for one declared condition parameter, bounded by its declaration; ``hint``
    is the empty field's placeholder for a parameter without a default."""
    kind = str(param.get("kind") or "")
    no_default = param.get("default") is None
    if param.get("choices"):
        box = QComboBox()
        choices = [str(c) for c in param["choices"]]
        box.addItems(([OPTIONAL] if no_default else []) + choices)
        box.setCurrentText(OPTIONAL if value is None else str(value))
        return box
    if kind == "bool":
        check = QCheckBox()
        check.setChecked(bool(value))
        return check
    if kind in NUMBER_KINDS:
        words = {None: ""} if no_default else None  # empty: not given
        field = NumberField(value, label=param["name"], integer=kind in ("int", "integer"),
                            low=param.get("low"), high=param.get("high"),
                            words=words)  # type: ignore[arg-type]
        if no_default:
            field.setPlaceholderText(hint)
        field.setMinimumWidth(140)
        return field
    edit = QLineEdit("" if value is None else str(value))
    edit.setPlaceholderText(hint if no_default else "")
    return edit


def editor_value(editor: Editor, param: dict[str, Any], required: bool = False) -> Any:
    """What the field holds as the JSON wants it; FieldError for a number that cannot be
    used or a required one left empty; None for a parameter left out."""
    if isinstance(editor, NumberField):
        value = editor.value()
    elif isinstance(editor, QComboBox):
        text = editor.currentText()
        value = None if text == OPTIONAL else next(
            (c for c in param.get("choices") or [] if str(c) == text), text)
    elif isinstance(editor, QCheckBox):
        value = editor.isChecked()
    else:
        value = editor.text().strip() or None
    if value is None and required:
        raise FieldError(f"type the {param['name']}")
    return value


def bounds_text(param: dict[str, Any]) -> str:
    low, high = param.get("low"), param.get("high")
    above = "above" if param.get("exclusive_low") else "at least"
    if low is not None and high is not None:
        return f"{above} {low:g}, at most {high:g}"
    if low is not None:
        return f"{above} {low:g}"
    if high is not None:
        return f"at most {high:g}"
    return ""


class RuleDialog(QDialog):
    """Create a rule (or edit one) through a form generated from ``conditions``; ``saved``
    holds the rule as the engine stored it once it accepted it."""

    def __init__(self, engine: TradingEngine, conditions: list[dict[str, Any]],
                 coins: list[str], strategies: list[str], editing: dict[str, Any] | None = None,
                 palette: ChartColours | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.conditions = {c["type"]: c for c in conditions}
        self.editing = editing
        self.palette = palette or DARK
        self.saved: dict[str, Any] | None = None
        self.editors: dict[str, Editor] = {}
        self.setWindowTitle("Edit rule" if editing else "New rule")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_condition(conditions))
        layout.addWidget(self._build_when(coins, strategies))
        layout.addWidget(self._build_message())
        layout.addWidget(self._build_action(strategies))
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {self.palette.down};")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.addButton("Save" if editing else "Create",
                                             QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("ruleSave")
        self.save_button.setDefault(True)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if editing:
            self._fill(editing)
        else:
            self._build_params(self.type_box.currentData())
        self._scope_changed()
        self._frequency_changed()
        self._action_changed()

    # --- building ------------------------------------------------------------------------

    def _build_condition(self, conditions: list[dict[str, Any]]) -> QWidget:
        group = QGroupBox("Condition")
        form = QFormLayout(group)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("ruleName")
        self.name_edit.setPlaceholderText("e.g. BTC above 70k")
        form.addRow("Name", self.name_edit)
        self.type_box = QComboBox()
        self.type_box.setObjectName("ruleType")
        for condition in conditions:
            self.type_box.addItem(f"{condition.get('group', '')}: {condition['type']}",
                                  condition["type"])
        self.type_box.currentIndexChanged.connect(
            lambda _: self._build_params(self.type_box.currentData()))
        form.addRow("Type", self.type_box)
        self.type_doc = QLabel()
        self.type_doc.setObjectName("mutedLabel")
        self.type_doc.setWordWrap(True)
        form.addRow("", self.type_doc)
        self.params_holder = QWidget()
        self.params_form = QFormLayout(self.params_holder)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.params_holder)
        return group

    def _build_when(self, coins: list[str], strategies: list[str]) -> QWidget:
        group = QGroupBox("Where and how often")
        form = QFormLayout(group)
        self.coins, self.strategies = coins, strategies
        self.scope_box = QComboBox()
        self.scope_box.setObjectName("ruleScope")
        for text, kind in SCOPES:
            self.scope_box.addItem(text, kind)
        self.scope_value = QComboBox()
        self.scope_value.setObjectName("ruleScopeValue")
        self.scope_value.setEditable(True)
        self.scope_box.currentIndexChanged.connect(self._scope_changed)
        row = QHBoxLayout()
        row.addWidget(self.scope_box)
        row.addWidget(self.scope_value, 1)
        form.addRow("Scope", row)
        self.mode_box = QComboBox()
        self.mode_box.setObjectName("ruleFrequency")
        for mode, text in FREQUENCIES.items():
            self.mode_box.addItem(text, mode)
        self.mode_box.setCurrentIndex(self.mode_box.findData("every_time"))
        self.mode_box.currentIndexChanged.connect(self._frequency_changed)
        self.cooldown = NumberField(60, label="cooldown", low=0, high=86_400 * 7, unit=" s")
        self.cooldown.setObjectName("ruleCooldown")
        self.cooldown.setToolTip("every time: at least this long between two alerts")
        self.bar_box = QComboBox()
        self.bar_box.setObjectName("ruleBar")
        self.bar_box.addItems(list(TIMEFRAMES))
        self.bar_box.setCurrentText("1m")
        self.bar_box.setToolTip("the bars counted by once per bar and once per bar close")
        line = QHBoxLayout()
        line.addWidget(self.mode_box)
        line.addWidget(self.cooldown.row(), 1)
        line.addWidget(self.bar_box)
        form.addRow("Frequency", line)
        self.expires_box = QCheckBox("expires")
        self.expires_box.setObjectName("ruleExpires")
        self.expires_edit = QDateTimeEdit()
        self.expires_edit.setObjectName("ruleExpiry")
        self.expires_edit.setTimeZone(QTimeZone.utc())
        self.expires_edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.expires_edit.setCalendarPopup(True)
        self.expires_edit.setDateTime(QDateTime.fromSecsSinceEpoch(
            int(time.time()) + 7 * 86_400, QTimeZone.utc()))
        self.expires_edit.setEnabled(False)
        self.expires_box.toggled.connect(self.expires_edit.setEnabled)
        line = QHBoxLayout()
        line.addWidget(self.expires_box)
        line.addWidget(self.expires_edit, 1)
        form.addRow("Expiry", line)
        self.severity_box = QComboBox()
        self.severity_box.setObjectName("ruleSeverity")
        self.severity_box.addItems(list(SEVERITIES))
        self.severity_box.setCurrentText("warning")
        form.addRow("Severity", self.severity_box)
        return group

    def _build_message(self) -> QWidget:
        group = QGroupBox("Message")
        column = QVBoxLayout(group)
        self.message_edit = QLineEdit()
        self.message_edit.setObjectName("ruleMessage")
        self.message_edit.setPlaceholderText("empty: the rule's own description")
        column.addWidget(self.message_edit)
        self.placeholders_hint = QLabel()
        self.placeholders_hint.setObjectName("mutedLabel")
        self.placeholders_hint.setWordWrap(True)
        self.placeholders_hint.setToolTip("\n".join(f"{{{name}}}: {doc}"
                                                    for name, doc in PLACEHOLDERS.items()))
        column.addWidget(self.placeholders_hint)
        self.message_error = QLabel()
        self.message_error.setObjectName("fieldError")
        self.message_error.setWordWrap(True)
        self.message_error.setStyleSheet(f"color: {self.palette.down};")
        self.message_error.hide()
        column.addWidget(self.message_error)
        self.message_edit.textChanged.connect(self._check_message)
        return group

    def _placeholders(self) -> dict[str, Any]:
        """The chosen condition's own placeholders (its parameters and figures) with a
        sample of each: what is typed, else the default, else a value of the kind."""
        kind = self.type_box.currentData()
        condition = self.conditions.get(kind or "")
        if condition is None:
            return {}
        samples: dict[str, Any] = {}
        for param in condition.get("params") or []:
            try:
                value = editor_value(self.editors[param["name"]], param)
            except (FieldError, KeyError):
                value = None
            if value is None:
                value = param.get("default")
            samples[param["name"]] = value if value is not None else (
                param.get("choices") or [1.0])[0]
        declared = CONDITIONS.get(kind)
        if declared is not None:
            samples.update(declared.extras)
        return samples

    def _check_message(self, *_: Any) -> None:
        """The template checked as it is typed (a pure check, microseconds): its problem
        under the field until it renders."""
        text = self.message_edit.text()
        problem = (template_problem(text, self._placeholders(), self.type_box.currentData())
                   if text else None)
        self.message_error.setText(f"The message {problem}." if problem else "")
        self.message_error.setVisible(bool(problem))
        grow_to_fit(self)

    def _build_action(self, strategies: list[str]) -> QWidget:
        group = QGroupBox("Action (optional)")
        form = QFormLayout(group)
        self.action_box = QComboBox()
        self.action_box.setObjectName("ruleAction")
        self.action_box.addItem("None: alert only", None)
        for kind, text in ACTIONS.items():
            self.action_box.addItem(text, kind)
        self.action_box.currentIndexChanged.connect(self._action_changed)
        form.addRow("Propose", self.action_box)
        self.action_strategy = QComboBox()
        self.action_strategy.setObjectName("ruleActionStrategy")
        self.action_strategy.setEditable(True)
        self.action_strategy.addItems([THE_ALERTS, *strategies])
        form.addRow("Strategy", self.action_strategy)
        self.action_quantity = NumberField(1, label="quantity", low=0)
        self.action_quantity.setObjectName("ruleActionQuantity")
        form.addRow("Quantity", self.action_quantity.row())
        self.close_box = QCheckBox("Close the position(s) too")
        self.close_box.setObjectName("ruleClosePositions")
        self.close_box.setToolTip("after pausing, close the strategy's position (pause every "
                                  "strategy: every open position) with recorded fills")
        form.addRow("", self.close_box)
        self.auto_box = QCheckBox("run automatically, without asking (a kill switch)")
        self.auto_box.setObjectName("ruleAuto")
        form.addRow("", self.auto_box)
        self.action_form = form
        self.kept_action: dict[str, Any] | None = None  # one the form cannot show (a suggestion)
        return group

    def _build_params(self, kind: str | None, values: dict[str, Any] | None = None) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.editors = {}
        condition = self.conditions.get(kind or "")
        if condition is None:
            return
        self.type_doc.setText(condition.get("doc") or "")
        one_of = {name: group for group in condition.get("one_of") or [] for name in group}
        for param in condition.get("params") or []:
            name = param["name"]
            value = (values or {}).get(name, param.get("default"))
            group = one_of.get(name)
            hint = (f"one of {' or '.join(group)}" if group else "required")
            editor = param_editor(param, value, hint)
            editor.setObjectName(f"param_{name}")
            bounds = bounds_text(param)
            doc = param.get("doc") or ""
            editor.setToolTip(f"{doc}{' — ' if doc and bounds else ''}{bounds}")
            self.editors[name] = editor
            self.params_form.addRow(name, editor.row()
                                    if isinstance(editor, NumberField) else editor)
        self.message_edit.setPlaceholderText(condition.get("message")
                                             or "empty: the condition's own message")
        names = " ".join("{" + name + "}" for name in PLACEHOLDERS)
        own = " ".join("{" + name + "}" for name in condition.get("placeholders") or []
                       if name not in PLACEHOLDERS)
        self.placeholders_hint.setText(f"Placeholders: {names}" + (f"; this type's own: {own}"
                                                                  if own else "")
                                       + "; a format after a colon: {price:,.2f}")
        self._check_message()
        self._limit_scopes(condition.get("scopes") or [k for _, k in SCOPES])
        self.error.hide()
        grow_to_fit(self)

    def _limit_scopes(self, allowed: list[str]) -> None:
        """Offer only the scopes the condition type takes (a drawdown has no coin)."""
        current = self.scope_box.currentData()
        self.scope_box.blockSignals(True)
        self.scope_box.clear()
        for text, kind in SCOPES:
            if kind in allowed:
                self.scope_box.addItem(text, kind)
        self.scope_box.setCurrentIndex(max(self.scope_box.findData(current), 0))
        self.scope_box.blockSignals(False)
        self._scope_changed()

    def _scope_changed(self, *_: Any) -> None:
        kind = self.scope_box.currentData()
        current = self.scope_value.currentText()
        self.scope_value.clear()
        if kind == "coin":
            self.scope_value.addItems(self.coins)
        elif kind == "strategy":
            self.scope_value.addItems(self.strategies)
        if current and kind != "all":
            self.scope_value.setCurrentText(current)
        self.scope_value.setEnabled(kind != "all")

    def _frequency_changed(self, *_: Any) -> None:
        mode = self.mode_box.currentData()
        self.cooldown.setEnabled(mode == "every_time")
        self.bar_box.setEnabled(mode in ("once_per_bar", "once_per_bar_close"))

    def _action_changed(self, *_: Any) -> None:
        kind = self.action_box.currentData()
        per_strategy = kind in ("pause_strategy", "resume_strategy", "set_quantity",
                                "close_position")
        self.action_strategy.setEnabled(per_strategy)
        self.action_quantity.setEnabled(kind == "set_quantity")
        self.action_form.setRowVisible(self.close_box, kind in CLOSING)
        grow_to_fit(self)
        self.auto_box.setEnabled(kind is not None)

    # --- filling and reading -------------------------------------------------------------

    def _fill(self, rule: dict[str, Any]) -> None:
        self.name_edit.setText(rule.get("name") or "")
        condition = rule.get("condition") or {}
        index = self.type_box.findData(condition.get("type"))
        self.type_box.blockSignals(True)
        self.type_box.setCurrentIndex(max(index, 0))
        self.type_box.blockSignals(False)
        self._build_params(self.type_box.currentData(), condition.get("params") or {})
        scope = rule.get("scope") or {}
        self.scope_box.setCurrentIndex(max(self.scope_box.findData(scope.get("kind")), 0))
        self._scope_changed()
        if scope.get("value"):
            self.scope_value.setCurrentText(str(scope["value"]))
        frequency = rule.get("frequency") or {}
        self.mode_box.setCurrentIndex(max(self.mode_box.findData(frequency.get("mode")), 0))
        if frequency.get("cooldown_s") is not None:
            self.cooldown.setValue(frequency["cooldown_s"])
        if frequency.get("bar"):
            self.bar_box.setCurrentText(frequency["bar"])
        if rule.get("expires"):
            self.expires_box.setChecked(True)
            self.expires_edit.setDateTime(QDateTime.fromSecsSinceEpoch(
                int(rule["expires"]), QTimeZone.utc()))
        self.severity_box.setCurrentText(rule.get("severity") or "warning")
        self.message_edit.setText(rule.get("message") or "")
        action = rule.get("action")
        if action:
            index = self.action_box.findData(action.get("type"))
            if index < 0:  # shown as it is and kept unless another is chosen
                self.kept_action = action
                self.action_box.addItem(f"{action.get('type')} (from the rules file)",
                                        action.get("type"))
                index = self.action_box.count() - 1
            self.action_box.setCurrentIndex(index)
            params = action.get("params") or {}
            if params.get("strategy_id"):
                self.action_strategy.setCurrentText(params["strategy_id"])
            if params.get("quantity") is not None:
                self.action_quantity.setValue(params["quantity"])
            self.close_box.setChecked(params.get("close_positions") is True)
            self.auto_box.setChecked(bool(action.get("auto")))

    def rule(self) -> dict[str, Any]:
        """The rule the form describes (Rule JSON); FieldError for a field that cannot be
        used (the field says why)."""
        numbers = {n: e for n, e in self.editors.items() if isinstance(e, NumberField)}
        if self.mode_box.currentData() == "every_time":
            numbers["cooldown"] = self.cooldown
        if self.action_box.currentData() == "set_quantity":
            numbers["quantity"] = self.action_quantity
        problem = first_problem(numbers)
        if problem is not None:
            raise FieldError(problem)
        condition = self.conditions[self.type_box.currentData()]
        params = {}
        one_of = {n for group in condition.get("one_of") or [] for n in group}
        for param in condition.get("params") or []:
            required = param.get("default") is None and param["name"] not in one_of
            value = editor_value(self.editors[param["name"]], param, required)
            if value is not None:
                params[param["name"]] = value
        name = self.name_edit.text().strip()
        rule: dict[str, Any] = {
            "name": name, "enabled": (self.editing or {}).get("enabled", True),
            "condition": {"type": condition["type"], "params": params},
            "scope": self._scope(), "frequency": self._frequency(),
            "expires": (self.expires_edit.dateTime().toSecsSinceEpoch()
                        if self.expires_box.isChecked() else None),
            "severity": self.severity_box.currentText(),
            "message": self.message_edit.text(), "action": self._action()}
        if self.editing:
            rule["id"] = self.editing["id"]
        return rule

    def _scope(self) -> dict[str, Any]:
        kind = self.scope_box.currentData()
        value = self.scope_value.currentText().strip()
        if kind == "coin":
            value = value.upper()
        return {"kind": kind, "value": None if kind == "all" else value or None}

    def _frequency(self) -> dict[str, Any]:
        mode = self.mode_box.currentData()
        frequency: dict[str, Any] = {"mode": mode}
        if mode == "every_time":
            frequency["cooldown_s"] = self.cooldown.value()
        elif mode in ("once_per_bar", "once_per_bar_close"):
            frequency["bar"] = self.bar_box.currentText()
        return frequency

    def _action(self) -> dict[str, Any] | None:
        kind = self.action_box.currentData()
        if kind is None:
            return None
        if self.kept_action is not None and kind == self.kept_action.get("type") \
                and kind not in ACTIONS:
            return {**self.kept_action, "auto": self.auto_box.isChecked()}
        params: dict[str, Any] = {}
        strategy = self.action_strategy.currentText().strip()
        if self.action_strategy.isEnabled() and strategy and strategy != THE_ALERTS:
            params["strategy_id"] = strategy
        if kind == "set_quantity":
            params["quantity"] = self.action_quantity.value()
        if kind in CLOSING:
            params["close_positions"] = self.close_box.isChecked()
        return {"type": kind, "params": params, "auto": self.auto_box.isChecked()}

    # --- saving --------------------------------------------------------------------------

    def save(self) -> None:
        """Check the fields, then the engine's validation; on a refusal say why and stay."""
        if not self.name_edit.text().strip():
            self.show_error("Type a name for the rule (e.g. BTC above 70k).")
            return
        try:
            rule = self.rule()
            self.saved = self.engine.save_copilot_rule(rule, replace=self.editing is not None)
        except (VelocitasError, ValueError) as exc:
            self.show_error(str(exc))
            return
        self.accept()

    def show_error(self, text: str) -> None:
        """The problem under the form, and under the message too when it is the template's."""
        text = text.strip()
        text = text if text.endswith(".") else text + "."
        self.error.setText(f"Not saved: {text}")
        self.error.show()
        if "message" in text.lower() or "placeholder" in text.lower():
            self.message_error.setText(text)
            self.message_error.show()
        grow_to_fit(self)


__all__: list[str] = ["ACTIONS", "PLACEHOLDERS", "RuleDialog", "param_editor"]
