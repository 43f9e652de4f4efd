"""The Copilot tab's tables declared as columns: rules, alerts, actions, test firings, effects.

Rows are read from the copilot's JSON (docs/copilot.md: Rule, Alert, Action) as the engine
returns it; a field the JSON leaves out stays an empty cell.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from velocitas_desktop.gui.table import (
    CATEGORY,
    CODES,
    FLOAT,
    INT,
    PRICE,
    TEXT,
    TIME,
    Column,
    Kind,
)

SEVERITIES = ("info", "warning", "critical")
FREQUENCIES = {"once": "once", "once_per_bar": "once per bar",
               "once_per_bar_close": "once per bar close", "every_time": "every time"}


def _as_text(value: Any, fmt: str) -> str:
    return str(value)


def _by_severity(value: str) -> str | None:
    # the table's colours: "down" (red) for critical, "warning" (amber) for warning
    return {"critical": "down", "warning": "warning"}.get(value)


def _by_status(value: str) -> str | None:
    return {"pending": "warning", "executed": "up", "failed": "down"}.get(value)


def _by_problem(value: str) -> str | None:
    return "down" if value else None


SEVERITY = Kind("severity", CODES, _as_text, align="left", colour=_by_severity,
                sample="critical")
ACTION_STATUS = Kind("action_status", CODES, _as_text, align="left", colour=_by_status,
                     sample="executed")
PROBLEM = Kind("problem", CODES, _as_text, align="left", colour=_by_problem,
               sample="x" * 24, elide=True)
SEVERITY_COLOURS = {"warning": "#ff9800"}  # added to the table's up/down colours

RULE_COLUMNS = (
    Column("on", "On", CATEGORY, align="center", width=44),
    Column("name", "Name", TEXT),
    Column("condition", "Condition", TEXT),
    Column("scope", "Scope", CATEGORY),
    Column("frequency", "Frequency", CATEGORY),
    Column("severity", "Severity", SEVERITY),
    Column("action", "Action", TEXT),
    Column("fired", "Fired", INT),
    Column("last_fired", "Last fired", TIME, "%Y-%m-%d %H:%M:%S"),
    Column("disabled_reason", "Disabled because", PROBLEM),
    Column("id", "Id", CATEGORY),
)

ALERT_COLUMNS = (
    Column("time", "Time (UTC)", TIME, "%Y-%m-%d %H:%M:%S"),
    Column("severity", "Severity", SEVERITY),
    Column("message", "Message", TEXT),
    Column("rule_name", "Rule", CATEGORY),
    Column("coin", "Coin", CATEGORY),
    Column("strategy_id", "Strategy", CATEGORY),
    Column("price", "Price", PRICE),
    Column("acknowledged", "Seen", CATEGORY, align="center", width=44),
    Column("action", "Action", TEXT),
    Column("id", "#", INT),
)

ACTION_COLUMNS = (
    Column("type", "Action", CATEGORY),
    Column("target", "On", CATEGORY),
    Column("reason", "Reason", TEXT),
    Column("status", "Status", ACTION_STATUS),
    Column("created", "Proposed (UTC)", TIME, "%Y-%m-%d %H:%M:%S"),
    Column("decided_by", "Decided by", CATEGORY),
    Column("decided", "Decided (UTC)", TIME, "%Y-%m-%d %H:%M:%S"),
    Column("result", "Result", TEXT),
    Column("rule_id", "Rule", CATEGORY),
    Column("id", "#", INT),
)

FIRING_COLUMNS = (
    Column("time", "Time (UTC)", TIME, "%Y-%m-%d %H:%M"),
    Column("rule_id", "Rule", CATEGORY),
    Column("price", "Price", PRICE),
    Column("value", "Value", FLOAT, ",.6g"),
    Column("message", "Message", TEXT),
    Column("action", "Action", CATEGORY),
)

EFFECT_COLUMNS = (
    Column("rule_id", "Rule", CATEGORY),
    Column("action", "Action", TEXT),
    Column("strategy", "Strategy", CATEGORY),
    Column("return_without", "Return without", FLOAT, "+,.2f"),
    Column("return_with", "Return with", FLOAT, "+,.2f"),
    Column("drawdown_without", "Max DD without", FLOAT, ",.2f"),
    Column("drawdown_with", "Max DD with", FLOAT, ",.2f"),
    Column("drawdown_saved_pct", "DD saved (pts)", FLOAT, "+,.2f"),
    Column("trades_without", "Trades without", INT),
    Column("trades_with", "Trades with", INT),
)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.10g}" if abs(value) >= 1000 else f"{value:g}"
    return str(value)


def condition_text(condition: dict[str, Any]) -> str:
    """``price_cross: level=70,000 direction=up``, the parameters left out when unset."""
    params = condition.get("params") or {}
    shown = "  ".join(f"{k}={_number(v)}" for k, v in params.items() if v is not None)
    return f"{condition.get('type', '?')}: {shown}" if shown else str(condition.get("type"))


def scope_text(scope: dict[str, Any] | None) -> str:
    scope = scope or {}
    kind = scope.get("kind") or "all"
    return "all" if kind == "all" else f"{kind} {scope.get('value') or ''}".strip()


def frequency_text(frequency: dict[str, Any] | None) -> str:
    frequency = frequency or {}
    mode = frequency.get("mode") or "every_time"
    text = FREQUENCIES.get(mode, mode)
    if mode == "every_time" and frequency.get("cooldown_s"):
        text += f", {_number(frequency['cooldown_s'])} s apart"
    elif mode in ("once_per_bar", "once_per_bar_close") and frequency.get("bar"):
        text += f" ({frequency['bar']})"
    return text


def action_text(action: dict[str, Any] | None) -> str:
    """``pause_strategy BTC_SMA (auto)``: the action and what it acts on."""
    if not action:
        return ""
    params = action.get("params") or {}
    target = params.get("strategy_id") or params.get("strategy") or ""
    extra = f" qty {_number(params['quantity'])}" if params.get("quantity") is not None else ""
    auto = " (auto)" if action.get("auto") else ""
    return f"{action.get('type')} {target}{extra}".strip() + auto


def rule_row(rule: dict[str, Any]) -> dict[str, Any]:
    """One rule as a row of :data:`RULE_COLUMNS`."""
    return {"on": "✔" if rule.get("enabled", True) else "—", "name": rule.get("name") or "",
            "condition": condition_text(rule.get("condition") or {}),
            "scope": scope_text(rule.get("scope")),
            "frequency": frequency_text(rule.get("frequency")),
            "severity": rule.get("severity") or "warning",
            "action": action_text(rule.get("action")), "fired": rule.get("fired") or 0,
            "last_fired": rule.get("last_fired"),
            "disabled_reason": rule.get("disabled_reason") or "", "id": rule["id"]}


def alert_row(alert: dict[str, Any], actions: dict[int, dict[str, Any]] | None = None
              ) -> dict[str, Any]:
    """One alert as a row of :data:`ALERT_COLUMNS`; ``actions`` by id name its action's
    status."""
    action = ""
    if alert.get("action_id") is not None:
        known = (actions or {}).get(alert["action_id"])
        action = (f"{known['type']}: {known['status']}" if known
                  else f"action #{alert['action_id']}")
    message = alert.get("message") or ""
    if alert.get("throttled"):
        message = f"⏸ {message}"
    return {"id": alert["id"], "time": alert.get("time"), "severity": alert.get("severity"),
            "rule_name": alert.get("rule_name") or alert.get("rule_id"),
            "coin": alert.get("coin") or "", "strategy_id": alert.get("strategy_id") or "",
            "message": message, "price": alert.get("price"),
            "acknowledged": "✔" if alert.get("acknowledged") else "",
            "action": action}


def action_row(action: dict[str, Any]) -> dict[str, Any]:
    """One action (a decision) as a row of :data:`ACTION_COLUMNS`."""
    params = action.get("params") or {}
    target = params.get("strategy_id") or params.get("strategy") or (
        "every strategy" if action.get("type") in ("pause_all", "stop_engine") else "")
    result = action.get("result")
    return {"id": action["id"], "created": action.get("created"), "type": action.get("type"),
            "target": target, "reason": action.get("reason") or "",
            "status": action.get("status"), "decided_by": action.get("decided_by") or "",
            "decided": action.get("decided"),
            "result": "" if result is None else str(result),
            "rule_id": action.get("rule_id") or ""}


def effect_row(effect: dict[str, Any]) -> dict[str, Any]:
    """One action's effect on a backtest (the tester's ``effects``) as a row."""
    without, with_ = effect.get("without") or {}, effect.get("with") or {}
    action = effect.get("action")
    return {"rule_id": effect.get("rule_id"),
            "action": action_text(action) if isinstance(action, dict) else action or "",
            "strategy": effect.get("strategy") or "",
            "return_without": without.get("return_pct"), "return_with": with_.get("return_pct"),
            "drawdown_without": without.get("max_drawdown_pct"),
            "drawdown_with": with_.get("max_drawdown_pct"),
            "drawdown_saved_pct": effect.get("drawdown_saved_pct"),
            "trades_without": without.get("trades"), "trades_with": with_.get("trades")}


def firing_row(firing: dict[str, Any]) -> dict[str, Any]:
    action = firing.get("action")
    if isinstance(action, dict):
        action = action.get("type")
    return {"time": firing.get("time"), "rule_id": firing.get("rule_id"),
            "price": firing.get("price"), "value": firing.get("value"),
            "message": firing.get("message") or "", "action": action or ""}


def utc_text(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


__all__: list[str] = ["ACTION_COLUMNS", "ALERT_COLUMNS", "EFFECT_COLUMNS", "FIRING_COLUMNS",
                      "FREQUENCIES", "RULE_COLUMNS", "SEVERITIES", "SEVERITY_COLOURS",
                      "action_row", "action_text", "alert_row", "condition_text",
                      "effect_row", "firing_row", "frequency_text", "rule_row", "scope_text",
                      "utc_text"]
