"""The Copilot service: one per engine, in the engine's process. It keeps the rules, raises
the alerts, proposes and runs the actions, and answers every contract call of the copilot.

Rules, alerts, actions and settings are kept in the journal's file (store/copilot.py), so
they outlive a restart; with no journal, in memory. The monitor's thread (copilot/monitor.py)
evaluates the rules on the engine's prices and events and hands its triggers here; the
kill-switch rules run on the session's consumer (copilot/guard.py). Each alert is recorded,
published as an ALERT event, given to the notifier (webhooks), and, when its rule has an
action, gets one (copilot/decisions.py). A rule whose evaluation raises is disabled with its
reason, and the others go on.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from velocitas_desktop.copilot import webhooks
from velocitas_desktop.copilot.conditions import ONCE, describe_conditions
from velocitas_desktop.copilot.decisions import PENDING_SECONDS, ActionStatus, Decisions
from velocitas_desktop.copilot.evaluator import Trigger
from velocitas_desktop.copilot.guard import BUILT_IN_GUARD, KillSwitch, is_kill_switch
from velocitas_desktop.copilot.monitor import MIN_INTERVAL, Monitor
from velocitas_desktop.copilot.rules import SEVERITIES, Rule, RuleError
from velocitas_desktop.engine.contract import EventKind, TradingEngine
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.store.copilot import MAX_LIST, CopilotStore

DEFAULT_SETTINGS: dict[str, Any] = {
    # close_positions: a guard that only pauses leaves the day's losers open and losing
    "daily_loss": {"enabled": False, "amount": None, "percent": 5.0, "close_positions": True},
    "webhooks": [],
    "heartbeat": {"url": None, "interval_s": 60},
    "throttle": {"count": 15, "window_s": 180},
}

Publish = Callable[[EventKind, Any], None]
STOP_SECONDS = 30.0  # close() waits this long for the monitor's last look (a replay's backlog)


class Notifies(Protocol):
    """What the copilot needs of its notifier (copilot/notify.py's Notifier)."""

    def alert(self, alert: dict[str, Any]) -> None: ...
    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Copilot:
    """Rules, alerts and actions of one engine (the calls of the engine contract)."""

    def __init__(self, engine: TradingEngine, store: CopilotStore | None = None,
                 notifier: Notifies | None = None, *, publish: Publish | None = None,
                 clock: Callable[[], float] = time.time,
                 pending_seconds: float = PENDING_SECONDS,
                 min_interval: float = MIN_INTERVAL) -> None:
        self.engine = engine
        self.store = store if store is not None else CopilotStore()
        self.notifier = notifier
        self._publish = publish or (lambda kind, data: None)
        self._clock = clock
        self._lock = threading.RLock()
        self._settings = self._load_settings()
        self._rules: dict[str, Rule] = {}
        self._load_rules()
        self.decisions = Decisions(engine, self.store, self._publish, clock, pending_seconds)
        self.monitor = Monitor(self._raise, self._disable, self._say, clock, min_interval,
                               tick=lambda now: self.decisions.expire())
        self.guard = KillSwitch(engine, self._killed, self._disable_soon, clock)
        self._started = False
        self._push_rules()
        self._renew_guard()

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the monitor's thread (a session begins), and the notifier's the first
        time: it goes on sending between sessions, until stop()."""
        self.monitor.start()
        with self._lock:
            if self._started:
                return
            self._started = True
        if self.notifier is not None:
            self.notifier.start()

    def session_ended(self) -> None:
        """The session is over: the monitor looks at what it was handed and ends (waited
        for briefly: a monitor behind a fast replay finishes on its own, and close() or
        the next start waits for it)."""
        self.monitor.stop(timeout=1.0)

    def stop(self) -> bool:
        """Stop the monitor and the notifier; True when the monitor's thread ended."""
        ended = self.monitor.stop(timeout=STOP_SECONDS)
        with self._lock:
            started, self._started = self._started, False
        if started and self.notifier is not None:
            self.notifier.stop()
        return ended

    def close(self) -> None:
        """Stop, and close the connections to the records (the notifier's outbox too): the
        journal's file is then left to the journal alone, which folds its log back in."""
        if not self.stop():
            self._say("warning", f"the copilot's monitor was still evaluating after "
                                 f"{STOP_SECONDS:g} s; its records are left open for it")
            return
        store = getattr(self.notifier, "store", None)
        if store is not None:
            store.close()
        self.store.close()

    def event(self, event: Any) -> None:
        """An engine event (subscribed by the engine): to the monitor, never waiting."""
        self.monitor.event(event)

    # --- rules ---------------------------------------------------------------------------

    def copilot_conditions(self) -> list[dict[str, Any]]:
        return describe_conditions()

    def copilot_rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules.values()]

    def copilot_rule(self, rule_id: str) -> dict[str, Any]:
        return self._rule(rule_id).to_json()

    def save_copilot_rule(self, rule: dict[str, Any], replace: bool = False) -> dict[str, Any]:
        """Create a rule (``replace`` False: EngineError if its id is taken) or update one
        (``replace`` True: NotFoundError if there is none). RuleError for a bad rule."""
        new = Rule.from_json(rule)
        self._not_built_in(new.id, "saved as a rule")
        with self._lock:
            old = self._rules.get(new.id)
            if old is not None and not replace:
                raise EngineError(f"a copilot rule with id {new.id!r} exists; update it, or "
                                  "give the new rule another id or name")
            if old is None and replace:
                raise NotFoundError(f"no copilot rule with id {new.id!r}")
            saved = self._stamped(new, old)
            self._keep([saved])
        return saved.to_json()

    def delete_copilot_rule(self, rule_id: str) -> None:
        self._not_built_in(rule_id, "deleted")
        with self._lock:
            self._rule(rule_id)
            self.store.delete_rule(rule_id)
            del self._rules[rule_id]
            self._push_rules()

    def enable_copilot_rule(self, rule_id: str, enabled: bool) -> dict[str, Any]:
        """Enable (clearing the reason it was disabled) or disable a rule."""
        self._not_built_in(rule_id, "enabled or disabled")
        if not isinstance(enabled, bool):
            raise RuleError(f"rule {rule_id!r}: enabled must be true or false")
        with self._lock:
            rule = self._rule(rule_id).with_(enabled=enabled, disabled_reason=None)
            self._keep([rule])
        return rule.to_json()

    def import_copilot_rules(self, rules: list[dict[str, Any]], replace: bool = False
                             ) -> list[dict[str, Any]]:
        """Save every rule of ``rules`` (all or nothing: the first bad one is a RuleError
        naming its position); a rule whose id exists is updated. ``replace``: the rules not
        in ``rules`` are deleted. The built-in daily-loss guard is left to the settings."""
        if not isinstance(rules, list):
            raise RuleError("rules must be a list of rules")
        parsed: list[Rule] = []
        seen: set[str] = set()
        for i, data in enumerate(rules):
            try:
                rule = Rule.from_json(data)
            except RuleError as exc:
                raise RuleError(f"rules[{i}]: {exc}") from None
            if rule.id == BUILT_IN_GUARD:
                continue
            if rule.id in seen:
                raise RuleError(f"rules[{i}]: a second rule with id {rule.id!r}; each rule "
                                "needs its own id")
            seen.add(rule.id)
            parsed.append(rule)
        with self._lock:
            saved = [self._stamped(rule, self._rules.get(rule.id)) for rule in parsed]
            if replace:
                guard = self._rules.get(BUILT_IN_GUARD)
                self._rules = {} if guard is None else {BUILT_IN_GUARD: guard}
                self.store.save_rules([*([] if guard is None else [guard.to_json()]),
                                       *(r.to_json() for r in saved)], replace_all=True)
                self._rules.update((r.id, r) for r in saved)
                self._push_rules()
            else:
                self._keep(saved)
        return [rule.to_json() for rule in saved]

    def _rule(self, rule_id: str) -> Rule:
        with self._lock:
            rule = self._rules.get(rule_id)
        if rule is None:
            raise NotFoundError(f"no copilot rule with id {rule_id!r}")
        return rule

    def _stamped(self, rule: Rule, old: Rule | None) -> Rule:
        """``rule`` with the service's own fields: created, counters, the disabled reason."""
        now = self._clock()
        if old is None:
            return rule.with_(created=now, fired=0, last_fired=None, disabled_reason=None)
        return rule.with_(created=old.created or now, fired=old.fired,
                          last_fired=old.last_fired,
                          disabled_reason=None if rule.enabled else old.disabled_reason)

    def _keep(self, rules: Iterable[Rule], announce: bool = True) -> None:
        """Save ``rules`` and evaluate them from now on (lock held)."""
        rules = list(rules)
        self.store.save_rules([rule.to_json() for rule in rules])
        self._rules.update((rule.id, rule) for rule in rules)
        self._push_rules(announce)

    def _push_rules(self, announce: bool = True) -> None:
        """Evaluate the enabled rules from now on; ``announce``: tell every view (a RULES
        event), so a rule made in the browser shows in the window at once, and back."""
        enabled = [rule for rule in self._rules.values() if rule.enabled]
        throttle = self._throttle()
        self.monitor.set_rules([r for r in enabled if not is_kill_switch(r)], throttle)
        self.guard.set_rules([r for r in enabled if is_kill_switch(r)], throttle)
        if announce:
            self._publish(EventKind.RULES, {"rules": [r.to_json() for r in self._rules.values()]})

    def _load_rules(self) -> None:
        for data in self.store.rules():
            try:
                rule = Rule.from_json(data)
            except RuleError as exc:
                # written by another version: kept in the file, shown in the log
                self._say("warning", f"a saved copilot rule could not be read: {exc}")
                continue
            self._rules[rule.id] = rule

    @staticmethod
    def _not_built_in(rule_id: str, what: str) -> None:
        if rule_id == BUILT_IN_GUARD:
            raise RuleError(f"rule {BUILT_IN_GUARD!r} is the built-in daily-loss guard: it is "
                            f"not {what} here; set it in the copilot settings (daily_loss)")

    # --- alerts --------------------------------------------------------------------------

    def copilot_alerts(self, after_id: int | None = None, before_id: int | None = None,
                       limit: int = 100, severity: str | None = None) -> list[dict[str, Any]]:
        """Alerts newest first (``after_id`` / ``before_id`` page through them)."""
        if severity is not None and severity not in SEVERITIES:
            raise RuleError(f"severity must be one of {', '.join(SEVERITIES)} "
                            f"(got {severity!r})")
        return self.store.alerts(_id_or_none(after_id, "after_id"),
                                 _id_or_none(before_id, "before_id"), _limit(limit), severity)

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any]:
        alert = self.store.alert(_id_or_none(alert_id, "alert_id") or 0)
        if alert is None:
            raise NotFoundError(f"no copilot alert with id {alert_id}")
        if not alert["acknowledged"]:
            alert["acknowledged"] = True
            self.store.update_alert(alert)
            self._publish(EventKind.ACKNOWLEDGED, alert)  # every view marks it seen
        return alert

    def _raise(self, triggers: list[Trigger]) -> None:
        """The monitor's triggers become alerts, each recorded, told and notified; a rule's
        action is proposed (or run, when auto). On the monitor's thread."""
        with self._lock:
            rules = [self._rules.get(t.rule.id, t.rule) for t in triggers]
        alerts = self.store.add_alerts([self._alert(t, r) for t, r in
                                        zip(triggers, rules, strict=True)])
        fired: dict[str, Rule] = {}
        for trigger, rule, alert in zip(triggers, rules, alerts, strict=True):
            action = None
            if rule.action is not None and not trigger.throttled:
                action = self.decisions.propose(alert, rule)
                alert["action_id"] = action["id"]
                self.store.update_alert(alert)
            self._tell(alert)
            if action is not None:
                self.decisions.announce(action)
                if action["auto"]:
                    self.decisions.run_auto(action)
            fired[rule.id] = self._counted(fired.get(rule.id, rule), trigger)
        self._save_fired(fired)

    def _killed(self, trigger: Trigger, result: str | None, error: str | None) -> None:
        """The kill switch acted on the consumer: record the alert and its executed action
        on the monitor's thread."""
        self.monitor.call(lambda: self._record_killed(trigger, result, error))

    def _record_killed(self, trigger: Trigger, result: str | None, error: str | None) -> None:
        with self._lock:
            rule = self._rules.get(trigger.rule.id, trigger.rule)
        [alert] = self.store.add_alerts([self._alert(trigger, rule)])
        action = None
        if rule.action is not None and not trigger.throttled:
            action = self.decisions.record_done(alert, rule, result, error)
            alert["action_id"] = action["id"]
            self.store.update_alert(alert)
        self._tell(alert)
        if action is not None:
            self.decisions.announce(action)
        self._save_fired({rule.id: self._counted(rule, trigger)})

    def _alert(self, trigger: Trigger, rule: Rule) -> dict[str, Any]:
        """The alert of ``trigger`` (its id and dedup key come with its record)."""
        return {
            "rule_id": rule.id, "rule_name": rule.name, "time": self._clock(),
            "tick_time": trigger.tick_time, "coin": trigger.coin,
            "strategy_id": trigger.strategy_id, "severity": rule.severity,
            "message": trigger.message, "price": trigger.price, "value": trigger.value,
            "threshold": trigger.threshold, "acknowledged": False, "action_id": None,
            "throttled": trigger.throttled}

    def _tell(self, alert: dict[str, Any]) -> None:
        self._publish(EventKind.ALERT, alert)
        if self.notifier is not None:
            self.notifier.alert(alert)

    def _counted(self, rule: Rule, trigger: Trigger) -> Rule:
        if trigger.throttled:
            return rule
        rule = rule.with_(fired=rule.fired + 1, last_fired=self._clock())
        if rule.frequency.mode == ONCE:  # done: a trader re-enables it to arm it again
            rule = rule.with_(enabled=False)
        return rule

    def _save_fired(self, fired: dict[str, Rule]) -> None:
        with self._lock:
            current = [rule for rule in fired.values() if rule.id in self._rules]
            if current:  # the views read the counts again as the alerts come
                self._keep(current, announce=False)

    def _disable(self, failures: list[tuple[str, str]]) -> None:
        """Rules whose evaluation raised: disabled with the reason; the others go on."""
        with self._lock:
            disabled = [self._rules[rule_id].with_(enabled=False, disabled_reason=reason)
                        for rule_id, reason in failures if rule_id in self._rules]
            if disabled:
                self._keep(disabled)
        for rule in disabled:
            self._say("warning", f"copilot rule {rule.id!r} was disabled: "
                                 f"{rule.disabled_reason}")

    def _disable_soon(self, failures: list[tuple[str, str]]) -> None:
        """A kill-switch rule raised on the consumer: disabled from the monitor's thread."""
        self.monitor.call(lambda: self._disable(failures))

    def _say(self, level: str, message: str) -> None:
        self._publish(EventKind.LOG, {"level": level, "message": message,
                                      "time": self._clock()})

    # --- actions -------------------------------------------------------------------------

    def copilot_actions(self, status: str | None = None, limit: int = 100
                        ) -> list[dict[str, Any]]:
        if status is not None and status not in ActionStatus.__members__.values():
            raise RuleError(f"status must be one of {', '.join(ActionStatus)} (got {status!r})")
        self.decisions.expire()  # no session may be running to sweep them
        return self.store.actions(status, _limit(limit))

    def decide_action(self, action_id: int, confirm: bool, who: str) -> dict[str, Any]:
        return self.decisions.decide(_id_or_none(action_id, "action_id") or 0, bool(confirm),
                                     who)

    # --- settings ------------------------------------------------------------------------

    def copilot_settings(self) -> dict[str, Any]:
        with self._lock:
            return _copy(self._settings)

    def update_copilot_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Change the parts of the settings given, and of an object part the fields given
        (the others stay); RuleError for a bad one. The amount of the daily-loss guard wins
        over its percent when both are set."""
        if not isinstance(settings, Mapping):
            raise RuleError("settings must be an object with daily_loss, webhooks, heartbeat "
                            "and throttle")
        unknown = [key for key in settings if key not in DEFAULT_SETTINGS]
        if unknown:
            raise RuleError(f"settings: unknown part {unknown[0]!r}; the parts are "
                            f"{', '.join(DEFAULT_SETTINGS)}")
        with self._lock:
            # a part given as an object changes only the fields it names
            merged = {key: ({**value, **settings[key]} if isinstance(value, dict)
                            and isinstance(settings.get(key), Mapping) else
                            _copy(settings.get(key, value)))
                      for key, value in _copy(self._settings).items()}
            checked = {"daily_loss": _daily_loss(merged["daily_loss"]),
                       **webhooks.check_settings(merged),
                       "throttle": _throttle(merged["throttle"])}
            guard = _guard_rule(checked["daily_loss"], self._rules.get(BUILT_IN_GUARD))
            self.store.save_settings(checked)
            self._settings = checked
            if guard is not None:
                self._keep([self._stamped(guard, self._rules.get(BUILT_IN_GUARD))])
            else:
                self._push_rules()
        changed = getattr(self.notifier, "settings_changed", None)
        if changed is not None:
            changed()
        return _copy(checked)

    def copilot_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        if self.notifier is None:
            return []
        return self.notifier.deliveries(_limit(limit))

    def copilot_test_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        """Send one test message to ``webhook`` (copilot/webhooks.py's send_test)."""
        from velocitas_desktop.copilot.webhooks import send_test

        return send_test(webhook)

    def _load_settings(self) -> dict[str, Any]:
        saved = self.store.settings() or {}
        settings = {**_copy(DEFAULT_SETTINGS), **{k: v for k, v in saved.items()
                                                  if k in DEFAULT_SETTINGS}}
        # settings saved before a field existed get its default (close_positions)
        settings["daily_loss"] = {**DEFAULT_SETTINGS["daily_loss"], **settings["daily_loss"]}
        return settings

    def _renew_guard(self) -> None:
        """An enabled guard saved by an earlier version (one that only paused) is made again
        as the settings now say."""
        with self._lock:
            old = self._rules.get(BUILT_IN_GUARD)
            guard = _guard_rule(self._settings["daily_loss"], old)
            if guard is not None and old is not None and old.enabled and (
                    guard.action, guard.message) != (old.action, old.message):
                self._keep([self._stamped(guard, old)])

    def _throttle(self) -> tuple[int, float]:
        throttle = self._settings["throttle"]
        return int(throttle["count"]), float(throttle["window_s"])


# --- checks ----------------------------------------------------------------------------------

def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or not low < value <= high:
        raise RuleError(f"{where}: expected a number above {low:g} and at most {high:g} "
                        f"(got {value!r})")
    return float(value)


def _daily_loss(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise RuleError("daily_loss: expected {enabled, amount, percent, close_positions}")
    unknown = [key for key in data if key not in DEFAULT_SETTINGS["daily_loss"]]
    if unknown:
        raise RuleError(f"daily_loss: unknown field {unknown[0]!r}; its fields are enabled, "
                        "amount, percent and close_positions")
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise RuleError(f"daily_loss.enabled: expected true or false (got {enabled!r})")
    close = data.get("close_positions", True)
    if not isinstance(close, bool):
        raise RuleError(f"daily_loss.close_positions: expected true (pause every strategy and "
                        f"close every open position) or false (pause only) (got {close!r})")
    amount, percent = data.get("amount"), data.get("percent")
    amount = None if amount is None else _number(amount, "daily_loss.amount", 0, 1e15)
    percent = None if percent is None else _number(percent, "daily_loss.percent", 0, 100)
    if enabled and amount is None and percent is None:
        raise RuleError("daily_loss: give an amount (quote currency) or a percent of the "
                        "day's opening value to turn the guard on")
    return {"enabled": enabled, "amount": amount, "percent": percent, "close_positions": close}


def _throttle(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise RuleError("throttle: expected {count, window_s}")
    count = data.get("count", 15)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise RuleError(f"throttle.count: expected a whole number from 1 to 10000 "
                        f"(got {count!r})")
    window = _number(data.get("window_s", 180), "throttle.window_s", 0, 86_400)
    return {"count": count, "window_s": window}


def _guard_rule(daily_loss: dict[str, Any], old: Rule | None) -> Rule | None:
    """The built-in daily-loss guard as the settings say: a daily_loss rule that pauses every
    strategy at once and, with ``close_positions``, closes every open position (the amount wins
    when both are given). None: leave it as it is."""
    if not daily_loss["enabled"]:
        return None if old is None or not old.enabled else old.with_(enabled=False)
    params = ({"amount": daily_loss["amount"]} if daily_loss["amount"] is not None
              else {"percent": daily_loss["percent"]})
    close = bool(daily_loss.get("close_positions", True))
    return Rule.from_json({
        "id": BUILT_IN_GUARD, "name": "Daily loss limit",
        "condition": {"type": "daily_loss", "params": params},
        "scope": {"kind": "all", "value": None}, "severity": "critical",
        "message": "the day's loss {value:,.2f}{unit} passed the limit {threshold:,.2f}{unit}: "
                   + ("every strategy paused, every position closed" if close
                      else "every strategy paused"),
        "action": {"type": "pause_all", "params": {"close_positions": close}, "auto": True}})


def _id_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RuleError(f"{name} must be a whole number (got {value!r})")
    return int(value)


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or \
            not 0 <= limit <= MAX_LIST:
        raise RuleError(f"limit must be a whole number from 0 to {MAX_LIST} (got {limit!r})")
    return int(limit)
