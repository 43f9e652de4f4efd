"""The kill switch: auto-acting strategy-health and daily-loss rules, checked by the session's
consumer right after each batch's fills, so the strategies are paused (and, with the action's
``close_positions``, their positions closed with recorded fills) before the next batch.

Everything else the copilot does runs on the monitor's thread, a few milliseconds behind the
market; a loss limit that waited for it could let another batch of fills through. These rules
read only what the consumer has already made for the journal (the batch's fills, and the
ledger's figures when the batch filled or sampled), so a batch with no fills costs one
comparison, and one with fills a few per rule. When a rule fires, its action runs at once on
the consumer (between batches, as every control call does); the alert and the executed action
are recorded by the monitor's thread afterwards (:meth:`KillSwitch.fired` hands them over).

The built-in daily-loss guard (the ``daily_loss`` setting) is such a rule: pause_all, closing
every open position unless its ``close_positions`` setting is false.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from velocitas_desktop.copilot.decisions import execute
from velocitas_desktop.copilot.evaluator import Evaluator, Trigger
from velocitas_desktop.copilot.rules import Rule
from velocitas_desktop.engine.contract import TradingEngine

# condition types read from a batch's fills and figures: the ones a kill switch may use
KILL_SWITCH_TYPES = frozenset({"drawdown", "losing_streak", "pnl_target", "daily_loss"})
BUILT_IN_GUARD = "daily-loss-guard"

Fired = Callable[[Trigger, "str | None", "str | None"], None]   # trigger, result, error
Failed = Callable[[list[tuple[str, str]]], None]


def is_kill_switch(rule: Rule) -> bool:
    """A rule the session checks after each batch's fills: an auto action on a figure the
    batch's fills change."""
    return (rule.enabled and rule.action is not None and rule.action.auto
            and rule.condition.type in KILL_SWITCH_TYPES)


class KillSwitch:
    """The kill-switch rules, evaluated on the consumer thread (:meth:`after_fills`)."""

    def __init__(self, engine: TradingEngine, fired: Fired, failed: Failed,
                 clock: Callable[[], float] = time.time,
                 throttle: tuple[int, float] = (15, 180.0)) -> None:
        self.engine = engine
        self._fired = fired
        self._failed = failed
        self._clock = clock
        self._evaluator = Evaluator((), throttle)
        self._armed = False                                  # any rule to check
        self._waiting: tuple[list[Rule], tuple[int, float]] | None = None  # new rules
        self._lock = threading.Lock()
        self.checks = 0

    def set_rules(self, rules: Sequence[Rule], throttle: tuple[int, float]) -> None:
        """The kill-switch rules from now on (taken by the consumer at its next batch)."""
        with self._lock:
            self._waiting = ([r for r in rules if is_kill_switch(r)], throttle)
            self._armed = True  # until the consumer has looked at them

    def after_fills(self, trades: Sequence[Any], figures: tuple[dict, dict] | None) -> None:
        """A batch's fills (Trade records) and the ledger's figures after them (None when
        the batch neither filled nor sampled). Called by the session's consumer."""
        if not self._armed:
            return
        if self._waiting is not None:
            self._take_rules()
            if not self._armed:
                return
        if not trades and figures is None:
            return
        self.checks += 1
        now = self._clock()
        evaluator = self._evaluator
        triggers: list[Trigger] = []
        if trades:
            triggers += evaluator.on_event("trades", [t.to_dict() for t in trades], now)
        if figures is not None:
            glob, strategies = figures
            triggers += evaluator.on_metrics({"global": glob, "strategies": strategies}, now)
        for trigger in triggers:
            self._act(trigger)
        failures = evaluator.failures()
        if failures:
            self._failed(failures)
            failed = {rule_id for rule_id, _ in failures}
            evaluator.replace([r for r in evaluator.rules if r.id not in failed])
            with self._lock:
                self._armed = bool(evaluator.rules) or self._waiting is not None

    def _take_rules(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, None
        if waiting is None:
            return
        rules, throttle = waiting
        if throttle != self._evaluator.throttle:
            self._evaluator = Evaluator(rules, throttle)
        else:
            self._evaluator.replace(rules)
        with self._lock:  # rules set meanwhile keep it armed until the next batch takes them
            self._armed = bool(rules) or self._waiting is not None

    def _act(self, trigger: Trigger) -> None:
        """Run the rule's action now (not for the alert that says a rule was throttled)."""
        action = trigger.rule.action
        result = error = None
        if action is not None and not trigger.throttled:
            params = dict(action.params)
            if not params.get("strategy_id") and trigger.strategy_id:
                params["strategy_id"] = trigger.strategy_id
            try:
                if action.type == "stop_engine":
                    # stopping waits for this very thread: trading stops now, the engine
                    # after this batch
                    result = execute(self.engine, "pause_all", {})
                    threading.Thread(target=self.engine.stop, name="velocitas-copilot-stop",
                                     daemon=True).start()
                    result += "; the engine is stopping"
                else:
                    result = execute(self.engine, action.type, params)
            except Exception as exc:  # recorded as the action's error; trading goes on
                error = f"failed: {exc}"
        self._fired(trigger, result, error)
