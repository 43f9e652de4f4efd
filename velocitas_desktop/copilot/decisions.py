"""The decision engine: an alert's proposed action, its confirmation or rejection, and what
executing it did, each recorded and told to the views.

A rule with an action makes an :data:`Action <ActionStatus>` record for each alert: ``pending``
until a trader confirms or rejects it (in the window, the browser, the API or the command
line), or ``executed`` at once when the rule says ``auto`` (a kill switch). A pending action
not decided within ``pending_seconds`` is ``expired``: the market it was proposed for has
moved on. Executing calls the engine through its contract only (pause, resume,
update_params, close_position, pause_all, flatten_all, stop, register); what it did, or the
error it got, is the action's ``result``. A pause with ``close_positions`` also closes the
position (or, for pause_all, every open position) with recorded fills: the engine's pause alone
leaves it open and losing. Every change is an ACTION event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from velocitas_desktop.copilot.rules import Rule, RuleError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import EventKind, TradingEngine
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.store.copilot import CopilotStore

PENDING_SECONDS = 3600.0   # a proposal older than this is expired, not executed
DECIDERS = ("window", "browser", "api", "cli")

Publish = Callable[[EventKind, Any], None]


class ActionStatus(StrEnum):
    """Where an action is in its life (the one place these words are defined)."""

    PENDING = "pending"
    EXECUTED = "executed"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"


def action_params(rule: Rule, alert: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's action parameters for ``alert``: a strategy action names the alert's
    strategy when the rule gives none."""
    assert rule.action is not None
    params = dict(rule.action.params)
    if rule.action.type in ("pause_strategy", "resume_strategy", "set_quantity",
                            "close_position") and not params.get("strategy_id"):
        params["strategy_id"] = alert.get("strategy_id")
    return params


def describe(action_type: str, params: Mapping[str, Any]) -> str:
    """What executing the action would do, in a trader's words."""
    sid = params.get("strategy_id")
    if params.get("close_positions") and action_type in ("pause_strategy", "pause_all"):
        return (f"pause {sid} and close its position" if action_type == "pause_strategy"
                else "pause every strategy and close every open position")
    return {
        "pause_strategy": f"pause {sid}",
        "resume_strategy": f"resume {sid}",
        "set_quantity": f"set {sid}'s quantity to {params.get('quantity')}",
        "close_position": f"close {sid}'s position",
        "pause_all": "pause every strategy",
        "stop_engine": "stop the engine",
        "apply_suggestion": (f"register {params.get('strategy')} on {params.get('coin')} "
                             f"{params.get('timeframe')}"),
    }.get(action_type, action_type)


def execute(engine: TradingEngine, action_type: str, params: Mapping[str, Any]) -> str:
    """Do the action through the engine contract; returns what happened. Raises the
    engine's errors (NotFoundError, EngineError, ParameterError...) when it cannot."""
    sid = params.get("strategy_id")
    if action_type in ("pause_strategy", "resume_strategy", "set_quantity", "close_position") \
            and not sid:
        raise EngineError(f"{action_type} names no strategy: the alert came from no strategy "
                          "and the rule gives no strategy_id")
    if action_type == "pause_strategy":
        engine.pause(sid)
        if not params.get("close_positions"):
            return f"{sid} paused"
        if not any(p["strategy_id"] == sid for p in engine.account()["positions"]):
            return f"{sid} paused; it held no position to close"
        return f"{sid} paused and its position closed: {_fill(engine.close_position(sid))}"
    if action_type == "resume_strategy":
        engine.resume(sid)
        return f"{sid} resumed"
    if action_type == "set_quantity":
        spec = engine.update_params(sid, {"quantity": params["quantity"]})
        return f"{sid}'s quantity is now {spec.params.get('quantity')}"
    if action_type == "close_position":
        return f"{sid}'s position closed: {_fill(engine.close_position(sid))}"
    if action_type == "pause_all":
        paused = engine.pause_all()
        said = f"paused {', '.join(paused)}" if paused else "no active strategy to pause"
        if not params.get("close_positions"):
            return said
        fills = engine.flatten_all()  # after the pause: nothing reopens them
        if not fills:
            return f"{said}; no open position to close"
        return f"{said}; closed " + ", ".join(f"{f['strategy_id']}'s {_fill(f)}" for f in fills)
    if action_type == "stop_engine":
        engine.stop()
        return "the engine stopped"
    if action_type == "apply_suggestion":
        spec = engine.register(StrategySpec(
            str(params["strategy"]), str(params["coin"]), dict(params["params"]),
            str(params["timeframe"]), str(params.get("id") or "")))
        return f"registered {spec.id}"
    raise EngineError(f"unknown action type {action_type!r}")


def _fill(fill: Mapping[str, Any]) -> str:
    """A closing fill (a Trade's dict) as the result says it: ``SELL 0.5 at 70000``."""
    return f"{fill['action']} {fill['quantity']:g} at {fill['price']:g}"


class Decisions:
    """The actions of one copilot: made from alerts, decided, executed and recorded."""

    def __init__(self, engine: TradingEngine, store: CopilotStore, publish: Publish,
                 clock: Callable[[], float] = time.time,
                 pending_seconds: float = PENDING_SECONDS) -> None:
        self.engine = engine
        self.store = store
        self._publish = publish
        self._clock = clock
        self.pending_seconds = pending_seconds
        self._lock = threading.Lock()  # one decision at a time: confirm, reject and expiry

    def propose(self, alert: Mapping[str, Any], rule: Rule) -> dict[str, Any]:
        """Record the action ``rule`` proposes for ``alert`` (pending); not yet told."""
        assert rule.action is not None
        params = action_params(rule, alert)
        return self.store.add_action({
            "alert_id": alert.get("id"), "rule_id": rule.id, "type": rule.action.type,
            "params": params, "reason": f"{alert.get('message')} (rule {rule.name}: "
                                        f"{describe(rule.action.type, params)})",
            "status": ActionStatus.PENDING.value, "auto": rule.action.auto,
            "created": self._clock(), "decided": None, "decided_by": None, "result": None})

    def announce(self, action: dict[str, Any]) -> None:
        self._publish(EventKind.ACTION, action)

    def run_auto(self, action: dict[str, Any]) -> None:
        """Execute an auto action now, decided by its rule. Stopping the engine runs on a
        thread of its own: the session's end waits for the monitor, which calls this."""
        def run() -> None:
            with self._lock:
                self._execute(action, f"rule:{action['rule_id']}")

        if action["type"] == "stop_engine":
            threading.Thread(target=run, name="velocitas-copilot-stop", daemon=True).start()
        else:
            run()

    def record_done(self, alert: Mapping[str, Any], rule: Rule, result: str | None,
                    error: str | None) -> dict[str, Any]:
        """Record an auto action the kill switch already executed on the engine's thread."""
        action = self.propose(alert, rule)
        action.update(status=(ActionStatus.EXECUTED if error is None
                              else ActionStatus.FAILED).value,
                      decided=self._clock(), decided_by=f"rule:{rule.id}",
                      result=result if error is None else error)
        self.store.update_action(action)
        return action

    def decide(self, action_id: int, confirm: bool, who: str) -> dict[str, Any]:
        """Confirm (execute) or reject a pending action. NotFoundError for an unknown id,
        RuleError for an unknown decider, EngineError when it is no longer pending."""
        if who not in DECIDERS:
            raise RuleError(f"who decides must be one of {', '.join(DECIDERS)} (got {who!r})")
        with self._lock:
            action = self.store.action(action_id)
            if action is None:
                raise NotFoundError(f"no copilot action with id {action_id}")
            self._expire_one(action, self._clock())
            if action["status"] != ActionStatus.PENDING:
                by = f" by {action['decided_by']}" if action.get("decided_by") else ""
                raise EngineError(f"action {action_id} is already {action['status']}{by}; "
                                  "only a pending action can be confirmed or rejected")
            if confirm:
                return self._execute(action, who)
            action.update(status=ActionStatus.REJECTED.value, decided=self._clock(),
                          decided_by=who, result=f"rejected by {who}")
            self.store.update_action(action)
        self.announce(action)
        return action

    def expire(self) -> list[dict[str, Any]]:
        """Mark the pending actions older than ``pending_seconds`` expired (told)."""
        now = self._clock()
        done = []
        with self._lock:
            for action in self.store.actions(ActionStatus.PENDING, limit=10_000):
                if self._expire_one(action, now):
                    done.append(action)
        for action in done:
            self.announce(action)
        return done

    def _expire_one(self, action: dict[str, Any], now: float) -> bool:
        if action["status"] != ActionStatus.PENDING or \
                now - action["created"] < self.pending_seconds:
            return False
        action.update(status=ActionStatus.EXPIRED.value, decided=now, decided_by=None,
                      result=f"not decided within {self.pending_seconds:g} s")
        self.store.update_action(action)
        return True

    def _execute(self, action: dict[str, Any], who: str) -> dict[str, Any]:
        """Run ``action`` (lock held), record the result or error, and tell."""
        try:
            result, status = execute(self.engine, action["type"], action["params"]), \
                ActionStatus.EXECUTED
        except Exception as exc:  # the engine's refusal, or anything else: recorded
            result, status = f"failed: {exc}", ActionStatus.FAILED
        action.update(status=status.value, decided=self._clock(), decided_by=who,
                      result=result)
        self.store.update_action(action)
        self.announce(action)
        return action
