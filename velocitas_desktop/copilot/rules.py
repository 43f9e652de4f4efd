"""A copilot rule (condition, scope, frequency, severity, message, action) and its JSON file.

:meth:`Rule.from_json` is the one validation every surface goes through (the window's form,
the API, the command line's files): a bad rule is a :class:`RuleError` that names the rule, the
field and what to write instead.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from velocitas_desktop.copilot.conditions import (
    ALL,
    COIN,
    CONDITIONS,
    EVERY_TIME,
    FREQUENCIES,
    ONCE_PER_BAR,
    ONCE_PER_BAR_CLOSE,
    STRATEGY,
    Condition,
    describe_conditions,
)
from velocitas_desktop.copilot.templates import template_problem
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.types import TIMEFRAMES

__all__ = ["ACTIONS", "FREQUENCIES", "SEVERITIES", "Action", "Frequency", "Rule",
           "RuleCondition", "RuleError", "Scope", "describe_conditions", "parse_rules_file",
           "rules_file"]


class RuleError(VelocitasError, ValueError):
    """A rule cannot be saved as given; the message names the rule, the field and the fix."""


SEVERITIES = ("info", "warning", "critical")
BAR_MODES = (ONCE_PER_BAR, ONCE_PER_BAR_CLOSE)
MAX_COOLDOWN = 7 * 86_400
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_KEYS = ("id", "name", "enabled", "condition", "scope", "frequency", "expires", "severity",
         "message", "action", "created", "fired", "last_fired", "disabled_reason")
# action type -> {parameter: required}; strategy_id, when absent, is the alert's strategy;
# close_positions (false when absent) makes a pause a kill switch that flattens too
ACTIONS: dict[str, dict[str, bool]] = {
    "pause_strategy": {"strategy_id": False, "close_positions": False},
    "resume_strategy": {"strategy_id": False},
    "set_quantity": {"strategy_id": False, "quantity": True},
    "close_position": {"strategy_id": False},
    "pause_all": {"close_positions": False},
    "stop_engine": {},
    "apply_suggestion": {"strategy": True, "params": True, "coin": True, "timeframe": True,
                         "id": False},
}


@dataclass(frozen=True, slots=True)
class RuleCondition:
    """A rule's condition: its type (a key of :data:`CONDITIONS`) and checked parameters."""

    type: str
    params: dict[str, Any]

    @property
    def kind(self) -> type[Condition]:
        """The condition type's declaration."""
        return CONDITIONS[self.type]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class Scope:
    """What a rule watches: a coin, a strategy, or everything (``value`` None)."""

    kind: str = ALL
    value: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class Frequency:
    """How often a rule may fire: ``once``; ``once_per_bar`` / ``once_per_bar_close`` of
    ``bar``; ``every_time`` at least ``cooldown_s`` apart."""

    mode: str = EVERY_TIME
    bar: str = "1m"
    cooldown_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        if self.mode in BAR_MODES:
            return {"mode": self.mode, "bar": self.bar}
        if self.mode == EVERY_TIME:
            return {"mode": self.mode, "cooldown_s": self.cooldown_s}
        return {"mode": self.mode}


@dataclass(frozen=True, slots=True)
class Action:
    """What an alert proposes (or, ``auto``, does at once)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    auto: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "params": dict(self.params), "auto": self.auto}


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. The last four fields are the service's (read-only to a trader)."""

    id: str
    name: str
    condition: RuleCondition
    scope: Scope = Scope()
    frequency: Frequency = Frequency()
    enabled: bool = True
    expires: float | None = None
    severity: str = "warning"
    message: str = ""
    action: Action | None = None
    created: float | None = None
    fired: int = 0
    last_fired: float | None = None
    disabled_reason: str | None = None

    @property
    def template(self) -> str:
        """The message template: the rule's own, or its condition's default."""
        return self.message or self.condition.kind.message

    @classmethod
    def from_json(cls, data: Any) -> Rule:
        """The rule ``data`` describes (the JSON shape of docs/copilot.md), validated."""
        if not isinstance(data, Mapping):
            raise RuleError(f"a rule must be a JSON object (got {_kind(data)})")
        where = _where(data)
        unknown = [key for key in data if key not in _KEYS]
        if unknown:
            raise RuleError(f"{where}: unknown field {unknown[0]!r}; a rule's fields are "
                            f"{', '.join(_KEYS)}")
        name, rule_id = _name_and_id(data, where)
        where = f"rule {rule_id!r}"
        condition, params = _condition(data.get("condition"), where)
        kind = CONDITIONS[condition]
        scope = _scope(data.get("scope"), kind, where)
        return cls(
            id=rule_id, name=name, condition=RuleCondition(condition, params), scope=scope,
            frequency=_frequency(data.get("frequency"), kind, params, where),
            enabled=_bool(data.get("enabled", True), f"{where}: enabled"),
            expires=_time(data.get("expires"), f"{where}: expires"),
            severity=_severity(data.get("severity", "warning"), where),
            message=_message(data.get("message"), kind, params, where),
            action=_action(data.get("action"), scope, kind, where),
            created=_number_or_none(data.get("created"), f"{where}: created"),
            fired=_count(data.get("fired", 0), f"{where}: fired"),
            last_fired=_number_or_none(data.get("last_fired"), f"{where}: last_fired"),
            disabled_reason=_text_or_none(data.get("disabled_reason"),
                                          f"{where}: disabled_reason"),
        )

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON; ``Rule.from_json(rule.to_json()) == rule``."""
        return {"id": self.id, "name": self.name, "enabled": self.enabled,
                "condition": self.condition.to_json(),
                "scope": self.scope.to_json(), "frequency": self.frequency.to_json(),
                "expires": self.expires, "severity": self.severity, "message": self.message,
                "action": None if self.action is None else self.action.to_json(),
                "created": self.created, "fired": self.fired, "last_fired": self.last_fired,
                "disabled_reason": self.disabled_reason}

    def with_(self, **changes: Any) -> Rule:
        """A copy with ``changes`` (the service's counters, enabled, disabled_reason)."""
        return replace(self, **changes)

    def same_watch(self, other: Rule) -> bool:
        """Whether ``other`` watches exactly what this rule does (condition, scope and
        frequency), so the evaluator may keep this rule's state for it."""
        return (self.condition, self.scope, self.frequency) == (
            other.condition, other.scope, other.frequency)

    def notes(self, now: float) -> list[str]:
        """What a trader should know about a valid rule (an expiry already past)."""
        out = []
        if self.expires is not None and self.expires <= now:
            out.append(f"rule {self.id!r} expired at {_when(self.expires)}: it will not fire "
                       "until its expiry is moved or cleared")
        if not self.enabled:
            out.append(f"rule {self.id!r} is disabled"
                       + (f": {self.disabled_reason}" if self.disabled_reason else ""))
        return out


# --- the file -------------------------------------------------------------------------------

def parse_rules_file(text: str) -> list[Rule]:
    """The rules of a rules file: JSON, ``{"rules": [...]}`` or a bare list. All or nothing:
    the first bad rule is a RuleError naming its position; two rules with one id are too."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleError(f"the rules file is not JSON: {exc.msg} at line {exc.lineno}, column "
                        f"{exc.colno}") from None
    if isinstance(data, Mapping):
        if "rules" not in data:
            raise RuleError('the rules file must be {"rules": [...]} or a list of rules '
                            f"(an object with {', '.join(map(repr, data)) or 'no keys'})")
        data = data["rules"]
    if not isinstance(data, list):
        raise RuleError(f"the rules file's rules must be a list (got {_kind(data)})")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(data, 1):
        try:
            rule = Rule.from_json(item)
        except RuleError as exc:
            raise RuleError(f"rule {number} of the file: {exc}") from None
        if rule.id in seen:
            raise RuleError(f"rule {number} of the file has the id {rule.id!r} of rule "
                            f"{seen[rule.id]}: ids must be unique")
        seen[rule.id] = number
        rules.append(rule)
    return rules


def rules_file(rules: Iterable[Rule | Mapping[str, Any]]) -> str:
    """The rules as a rules file (``{"rules": [...]}``, indented), for export."""
    out = [rule.to_json() if isinstance(rule, Rule) else dict(rule) for rule in rules]
    return json.dumps({"rules": out}, indent=2) + "\n"


# --- the fields -----------------------------------------------------------------------------

def _where(data: Mapping[str, Any]) -> str:
    for key in ("id", "name"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return f"rule {value.strip()[:64]!r}"
    return "the rule"


def _name_and_id(data: Mapping[str, Any], where: str) -> tuple[str, str]:
    name, rule_id = data.get("name"), data.get("id")
    if name is not None and not isinstance(name, str):
        raise RuleError(f"{where}: name must be text (got {_kind(name)})")
    if rule_id is not None and not isinstance(rule_id, str):
        raise RuleError(f"{where}: id must be text (got {_kind(rule_id)})")
    name = (name or "").strip()
    if len(name) > 200:
        raise RuleError(f"{where}: name is {len(name)} characters; keep it to 200")
    if rule_id is None or not rule_id.strip():
        if not name:
            raise RuleError("the rule has neither a name nor an id: give it a name")
        rule_id = slug(name)
    rule_id = rule_id.strip()
    if not _ID.match(rule_id):
        raise RuleError(f"{where}: id {rule_id[:80]!r} must be 1 to 64 letters, digits, "
                        "'_', '.' or '-'")
    return name or rule_id, rule_id


def slug(name: str) -> str:
    """An id made from a rule's name: ``"BTC above 70k"`` → ``"btc-above-70k"``."""
    text = re.sub(r"[^a-z0-9_.]+", "-", name.lower()).strip("-.")[:64].strip("-.")
    return text or "rule"


def _condition(data: Any, where: str) -> tuple[str, dict[str, Any]]:
    choices = ", ".join(CONDITIONS)
    if not isinstance(data, Mapping):
        raise RuleError(f"{where}: condition must be an object like {{\"type\": "
                        f"\"price_cross\", \"params\": {{...}}}} (got {_kind(data)})")
    kind = data.get("type")
    if kind not in CONDITIONS:
        raise RuleError(f"{where}: unknown condition type {kind!r}; choose one of {choices}")
    extra = [key for key in data if key not in ("type", "params")]
    if extra:
        raise RuleError(f"{where}: condition has an unknown field {extra[0]!r}; its fields are "
                        "type and params")
    params = data.get("params") or {}
    if not isinstance(params, Mapping):
        raise RuleError(f"{where}: condition params must be an object (got {_kind(params)})")
    try:
        return kind, CONDITIONS[kind].check_params(params)
    except ValueError as exc:
        raise RuleError(f"{where}: {exc}") from None


def _scope(data: Any, kind: type[Condition], where: str) -> Scope:
    if data is None:
        data = {"kind": ALL} if ALL in kind.scopes else {}
    if not isinstance(data, Mapping):
        raise RuleError(f"{where}: scope must be an object like {{\"kind\": \"coin\", "
                        f"\"value\": \"BTC\"}} (got {_kind(data)})")
    scope_kind, value = data.get("kind"), data.get("value")
    if scope_kind not in (COIN, STRATEGY, ALL):
        raise RuleError(f"{where}: scope kind must be coin, strategy or all (got "
                        f"{scope_kind!r})")
    if scope_kind not in kind.scopes:
        allowed = " or ".join(kind.scopes)
        raise RuleError(f"{where}: a {kind.type} condition cannot be scoped to a "
                        f"{scope_kind}; its scope must be {allowed}")
    if scope_kind == ALL:
        if value not in (None, ""):
            raise RuleError(f"{where}: a scope of all takes no value (got {value!r})")
        return Scope(ALL, None)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: a {scope_kind} scope needs the {scope_kind}'s "
                        f"{'symbol' if scope_kind == COIN else 'id'} as its value")
    value = value.strip()
    return Scope(scope_kind, value.upper() if scope_kind == COIN else value)


def _frequency(data: Any, kind: type[Condition], params: dict[str, Any],
               where: str) -> Frequency:
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise RuleError(f"{where}: frequency must be an object like {{\"mode\": "
                        f"\"every_time\", \"cooldown_s\": 60}} (got {_kind(data)})")
    extra = [key for key in data if key not in ("mode", "bar", "cooldown_s")]
    if extra:
        raise RuleError(f"{where}: frequency has an unknown field {extra[0]!r}; its fields "
                        "are mode, bar and cooldown_s")
    mode = data.get("mode", EVERY_TIME)
    if mode not in FREQUENCIES:
        raise RuleError(f"{where}: frequency mode must be one of {', '.join(FREQUENCIES)} "
                        f"(got {mode!r})")
    bar = data.get("bar") or kind.bar_timeframe(params) or "1m"
    if bar not in TIMEFRAMES:
        raise RuleError(f"{where}: frequency bar must be one of {', '.join(TIMEFRAMES)} "
                        f"(got {bar!r})")
    cooldown = data.get("cooldown_s") or 0
    if isinstance(cooldown, bool) or not isinstance(cooldown, numbers.Real) or not (
            math.isfinite(cooldown) and 0 <= cooldown <= MAX_COOLDOWN):
        raise RuleError(f"{where}: cooldown_s must be between 0 and {MAX_COOLDOWN:,} seconds "
                        f"(got {cooldown!r})")
    if cooldown and mode != EVERY_TIME:
        raise RuleError(f"{where}: cooldown_s applies to every_time only (the mode is {mode}); "
                        "drop it or choose every_time")
    return Frequency(mode, bar, float(cooldown))


def _action(data: Any, scope: Scope, kind: type[Condition], where: str) -> Action | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise RuleError(f"{where}: action must be an object like {{\"type\": "
                        f"\"pause_strategy\", \"params\": {{}}, \"auto\": false}} or null "
                        f"(got {_kind(data)})")
    action = data.get("type")
    if action not in ACTIONS:
        raise RuleError(f"{where}: unknown action type {action!r}; choose one of "
                        f"{', '.join(ACTIONS)}")
    extra = [key for key in data if key not in ("type", "params", "auto")]
    if extra:
        raise RuleError(f"{where}: action has an unknown field {extra[0]!r}; its fields are "
                        "type, params and auto")
    params = data.get("params") or {}
    if not isinstance(params, Mapping):
        raise RuleError(f"{where}: action params must be an object (got {_kind(params)})")
    declared = ACTIONS[action]
    unknown = [key for key in params if key not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise RuleError(f"{where}: action {action} has no parameter {unknown[0]!r} (its "
                        f"parameters: {known})")
    missing = [key for key, required in declared.items() if required and key not in params]
    if missing:
        raise RuleError(f"{where}: action {action} needs {missing[0]}")
    params = dict(params)
    _action_params(action, params, scope, kind, f"{where}: action {action}")
    return Action(action, params, _bool(data.get("auto", False), f"{where}: action auto"))


def _action_params(action: str, params: dict[str, Any], scope: Scope, kind: type[Condition],
                   where: str) -> None:
    if "strategy_id" in params:
        sid = params["strategy_id"]
        if not isinstance(sid, str) or not sid.strip():
            raise RuleError(f"{where}: strategy_id must be a strategy's id (got {sid!r})")
        params["strategy_id"] = sid.strip()
    elif "strategy_id" in ACTIONS[action] and STRATEGY not in kind.scopes:
        raise RuleError(f"{where} needs a strategy: give params.strategy_id (a {kind.type} "
                        "alert names no strategy)")
    if "quantity" in params:
        quantity = params["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, numbers.Real) or not (
                math.isfinite(quantity) and quantity > 0):
            raise RuleError(f"{where}: quantity must be a number above 0 (got {quantity!r})")
    if "close_positions" in params and not isinstance(params["close_positions"], bool):
        closes = "its position" if action == "pause_strategy" else "every open position"
        raise RuleError(f"{where}: close_positions must be true (pause, then close {closes}) "
                        f"or false (pause only) (got {params['close_positions']!r})")
    if action == "apply_suggestion":
        for key in ("strategy", "coin", "timeframe"):
            if not isinstance(params[key], str) or not params[key].strip():
                raise RuleError(f"{where}: {key} must be text (got {params[key]!r})")
        if not isinstance(params["params"], Mapping):
            raise RuleError(f"{where}: params must be an object of the strategy's parameters")


def _message(value: Any, kind: type[Condition], params: dict[str, Any], where: str) -> str:
    if value is None:
        return ""
    problem = template_problem(value, kind.placeholders(params), kind.type)
    if problem:
        raise RuleError(f"{where}: the message {problem}")
    if len(value) > 1000:
        raise RuleError(f"{where}: the message is {len(value)} characters; keep it to 1,000")
    return value


def _severity(value: Any, where: str) -> str:
    if value not in SEVERITIES:
        raise RuleError(f"{where}: severity must be one of {', '.join(SEVERITIES)} (got "
                        f"{value!r})")
    return value


def _time(value: Any, where: str) -> float | None:
    """Epoch seconds, or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RuleError(f"{where} must be epoch seconds or an ISO time like "
                            f"2026-12-31T23:59:00Z (got {value!r})") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return _number_or_none(value, where)


def _number_or_none(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(
            value):
        raise RuleError(f"{where} must be a number or null (got {value!r})")
    return float(value)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleError(f"{where} must be a whole number, 0 or more (got {value!r})")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise RuleError(f"{where} must be true or false (got {value!r})")
    return value


def _text_or_none(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RuleError(f"{where} must be text or null (got {_kind(value)})")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {str: "text", bool: "true/false", int: "a number", float: "a number",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def rules_by_id(rules: Sequence[Rule]) -> dict[str, Rule]:
    """The rules keyed by id (the evaluator's and the service's lookup)."""
    return {rule.id: rule for rule in rules}
