"""The decision engine: an alert's action proposed with its reason, confirmed or rejected by a
named decider, run through the engine contract (auto at once), expired when left undecided,
and every change recorded and told as an ACTION event."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from support import wait_until

from velocitas_desktop.copilot.decisions import Decisions, execute
from velocitas_desktop.copilot.rules import Rule, RuleError
from velocitas_desktop.copilot.service import Copilot
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import EventKind
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.store.copilot import CopilotStore


class FakeEngine:
    """The contract calls an action may make, recorded; ``fail`` makes the next one raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail: Exception | None = None
        self.holding = ["BTC_SMA", "X"]  # the strategies with an open position

    def _did(self, name: str, *args: Any) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((name, args))

    def pause(self, sid: str) -> None:
        self._did("pause", sid)

    def resume(self, sid: str) -> None:
        self._did("resume", sid)

    def update_params(self, sid: str, params: dict[str, Any]) -> StrategySpec:
        self._did("update_params", sid, params)
        return StrategySpec("SMA_Crossover", "BTC", params, strategy_id=sid)

    def close_position(self, sid: str) -> dict[str, Any]:
        self._did("close_position", sid)
        self.holding.remove(sid)
        return fill(sid)

    def pause_all(self) -> list[str]:
        self._did("pause_all")
        return ["BTC_SMA", "ETH_RSI"]

    def flatten_all(self) -> list[dict[str, Any]]:
        self._did("flatten_all")
        fills, self.holding = [fill(sid) for sid in self.holding], []
        return fills

    def account(self) -> dict[str, Any]:
        return {"positions": [{"strategy_id": sid} for sid in self.holding]}

    def stop(self) -> None:
        self._did("stop")

    def register(self, spec: StrategySpec) -> StrategySpec:
        self._did("register", spec)
        return spec


def fill(sid: str) -> dict[str, Any]:
    """A closing fill as the engine returns it (a Trade's dict)."""
    return {"id": 1, "strategy_id": sid, "coin": "BTC", "strategy": "SMA_Crossover",
            "action": "SELL", "price": 70_000.0, "quantity": 0.5, "timestamp": 1.0,
            "profit_loss": -12.5, "position_size": 0.0, "fee": 35.0}


class Clock:
    def __init__(self, now: float = 1_765_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Told:
    def __init__(self) -> None:
        self.events: list[tuple[EventKind, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, kind: EventKind, data: Any) -> None:
        with self.lock:
            self.events.append((kind, dict(data)))

    def of(self, kind: EventKind) -> list[dict[str, Any]]:
        with self.lock:
            return [data for k, data in self.events if k == kind]


def rule(action: dict[str, Any] | None, **extra: Any) -> Rule:
    return Rule.from_json({
        "id": "dd-guard", "name": "drawdown guard",
        "condition": {"type": "drawdown", "params": {"percent": 10}},
        "scope": {"kind": "all", "value": None}, "action": action, **extra})


ALERT = {"id": 17, "strategy_id": "BTC_SMA", "message": "BTC_SMA's drawdown 12.3% passed 10%"}


@pytest.fixture
def parts() -> tuple[Decisions, FakeEngine, Told, Clock]:
    engine, told, clock = FakeEngine(), Told(), Clock()
    return Decisions(engine, CopilotStore(), told, clock, pending_seconds=600), engine, told, clock


def test_a_proposed_action_names_the_alerts_strategy_and_gives_the_reason(parts):
    decisions, engine, _, _ = parts
    action = decisions.propose(ALERT, rule({"type": "pause_strategy"}))
    assert action["status"] == "pending" and action["auto"] is False
    assert action["params"] == {"strategy_id": "BTC_SMA"}
    assert action["alert_id"] == 17 and action["rule_id"] == "dd-guard"
    assert action["reason"] == ("BTC_SMA's drawdown 12.3% passed 10% (rule drawdown guard: "
                                "pause BTC_SMA)")
    assert engine.calls == []  # nothing runs before a trader confirms
    assert decisions.store.actions("pending") == [action]


def test_confirming_runs_the_action_on_the_engine_and_records_who_when_and_what(parts):
    decisions, engine, told, clock = parts
    action = decisions.propose(ALERT, rule({"type": "pause_strategy"}))
    clock.now += 30
    done = decisions.decide(action["id"], confirm=True, who="browser")
    assert engine.calls == [("pause", ("BTC_SMA",))]
    assert done["status"] == "executed" and done["decided_by"] == "browser"
    assert done["decided"] == clock.now and done["result"] == "BTC_SMA paused"
    assert decisions.store.action(action["id"]) == done
    assert told.of(EventKind.ACTION) == [done]


def test_rejecting_records_the_decider_and_runs_nothing(parts):
    decisions, engine, _, _ = parts
    action = decisions.propose(ALERT, rule({"type": "close_position"}))
    done = decisions.decide(action["id"], confirm=False, who="window")
    assert done["status"] == "rejected" and done["decided_by"] == "window"
    assert engine.calls == []
    with pytest.raises(EngineError, match="already rejected by window"):
        decisions.decide(action["id"], confirm=True, who="api")


def test_an_action_left_undecided_expires_and_can_no_longer_be_confirmed(parts):
    decisions, engine, told, clock = parts
    action = decisions.propose(ALERT, rule({"type": "pause_all"}))
    clock.now += 599
    assert decisions.expire() == []
    clock.now += 2
    expired = decisions.expire()
    assert [a["id"] for a in expired] == [action["id"]]
    assert expired[0]["status"] == "expired" and "600 s" in expired[0]["result"]
    assert told.of(EventKind.ACTION)[-1]["status"] == "expired"
    with pytest.raises(EngineError, match="already expired"):
        decisions.decide(action["id"], confirm=True, who="cli")
    assert engine.calls == []


def test_confirming_an_action_past_its_time_finds_it_expired_even_before_the_sweep(parts):
    decisions, engine, _, clock = parts
    action = decisions.propose(ALERT, rule({"type": "pause_all"}))
    clock.now += 601
    with pytest.raises(EngineError, match="already expired"):
        decisions.decide(action["id"], confirm=True, who="api")
    assert engine.calls == []


def test_an_action_the_engine_refuses_is_failed_with_the_engines_words(parts):
    decisions, engine, _, _ = parts
    action = decisions.propose(ALERT, rule({"type": "close_position"}))
    engine.fail = EngineError("BTC_SMA holds no position to close")
    done = decisions.decide(action["id"], confirm=True, who="api")
    assert done["status"] == "failed"
    assert done["result"] == "failed: BTC_SMA holds no position to close"


def test_bad_decisions_get_clear_errors(parts):
    decisions, _, _, _ = parts
    action = decisions.propose(ALERT, rule({"type": "pause_all"}))
    with pytest.raises(RuleError, match="window, browser, api, cli"):
        decisions.decide(action["id"], confirm=True, who="someone")
    with pytest.raises(NotFoundError, match="no copilot action with id 999"):
        decisions.decide(999, confirm=True, who="api")


@pytest.mark.parametrize(("action", "params", "call", "result"), [
    ("resume_strategy", {"strategy_id": "X"}, ("resume", ("X",)), "X resumed"),
    ("set_quantity", {"strategy_id": "X", "quantity": 0.25},
     ("update_params", ("X", {"quantity": 0.25})), "X's quantity is now 0.25"),
    ("close_position", {"strategy_id": "X"}, ("close_position", ("X",)),
     "X's position closed: SELL 0.5 at 70000"),
    ("pause_all", {}, ("pause_all", ()), "paused BTC_SMA, ETH_RSI"),
    ("pause_all", {"close_positions": False}, ("pause_all", ()), "paused BTC_SMA, ETH_RSI"),
    ("pause_strategy", {"strategy_id": "X", "close_positions": False}, ("pause", ("X",)),
     "X paused"),
    ("stop_engine", {}, ("stop", ()), "the engine stopped"),
])
def test_each_action_type_makes_its_contract_call(action, params, call, result):
    engine = FakeEngine()
    assert execute(engine, action, params) == result
    assert engine.calls == [call]


@pytest.mark.parametrize(("action", "params", "calls", "result"), [
    ("pause_strategy", {"strategy_id": "X", "close_positions": True},
     [("pause", ("X",)), ("close_position", ("X",))],
     "X paused and its position closed: SELL 0.5 at 70000"),
    ("pause_strategy", {"strategy_id": "ETH_RSI", "close_positions": True},
     [("pause", ("ETH_RSI",))], "ETH_RSI paused; it held no position to close"),
    ("pause_all", {"close_positions": True}, [("pause_all", ()), ("flatten_all", ())],
     "paused BTC_SMA, ETH_RSI; closed BTC_SMA's SELL 0.5 at 70000, X's SELL 0.5 at 70000"),
])
def test_a_pause_with_close_positions_pauses_first_then_closes_with_fills(
        action, params, calls, result):
    engine = FakeEngine()
    assert execute(engine, action, params) == result
    assert engine.calls == calls


def test_a_pause_all_that_finds_nothing_open_says_so():
    engine = FakeEngine()
    engine.holding = []
    assert execute(engine, "pause_all", {"close_positions": True}) == (
        "paused BTC_SMA, ETH_RSI; no open position to close")


def test_a_confirmed_pause_with_close_positions_records_what_it_paused_and_closed(parts):
    decisions, engine, told, _ = parts
    action = decisions.propose(ALERT, rule({"type": "pause_strategy",
                                            "params": {"close_positions": True}}))
    assert action["params"] == {"close_positions": True, "strategy_id": "BTC_SMA"}
    assert action["reason"].endswith("(rule drawdown guard: pause BTC_SMA and close its "
                                     "position)")
    done = decisions.decide(action["id"], confirm=True, who="api")
    assert engine.calls == [("pause", ("BTC_SMA",)), ("close_position", ("BTC_SMA",))]
    assert (done["status"], done["result"]) == (
        "executed", "BTC_SMA paused and its position closed: SELL 0.5 at 70000")
    assert decisions.store.action(action["id"]) == done
    assert told.of(EventKind.ACTION) == [done]


def test_a_suggestion_is_registered_as_the_strategy_it_names():
    engine = FakeEngine()
    params = {"strategy": "RSI", "coin": "ETH", "params": {"period": 10}, "timeframe": "15m",
              "id": "ETH_RSI_trend"}
    assert execute(engine, "apply_suggestion", params) == "registered ETH_RSI_trend"
    [(name, (spec,))] = engine.calls
    assert (name, spec.name, spec.coin, dict(spec.params), spec.timeframe, spec.id) == (
        "register", "RSI", "ETH", {"period": 10}, "15m", "ETH_RSI_trend")


def test_a_strategy_action_with_no_strategy_to_name_fails_clearly():
    with pytest.raises(EngineError, match="names no strategy"):
        execute(FakeEngine(), "pause_strategy", {"strategy_id": None})


# --- through the service: alerts from the monitor get their actions ----------------------------

def cross_rule(rule_id: str, level: float, action: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": rule_id, "name": rule_id,
            "condition": {"type": "price_cross", "params": {"level": level, "direction": "up"}},
            "scope": {"kind": "coin", "value": "BTC"}, "severity": "critical",
            "action": action}


@pytest.fixture
def copilot() -> tuple[Copilot, FakeEngine, Told]:
    engine, told = FakeEngine(), Told()
    service = Copilot(engine, CopilotStore(), publish=told, min_interval=0.0)
    service.start()
    yield service, engine, told
    service.close()


def rise(service: Copilot, low: float, high: float) -> None:
    prices = np.linspace(low, high, 50)
    service.monitor.prices({"BTC": (prices, 1_765_000_000.0 + np.arange(50.0))}, 0.0)


def test_an_auto_action_runs_at_once_decided_by_its_rule(copilot):
    service, engine, told = copilot
    service.save_copilot_rule(cross_rule("kill", 105, {"type": "pause_all", "auto": True}))
    rise(service, 100, 110)
    wait_until(lambda: [a for a in told.of(EventKind.ACTION) if a["status"] == "executed"],
               what="the auto action")
    assert engine.calls == [("pause_all", ())]
    [alert] = told.of(EventKind.ALERT)
    [pending, executed] = told.of(EventKind.ACTION)
    assert pending["status"] == "pending" and pending["id"] == alert["action_id"]
    assert executed["decided_by"] == "rule:kill" and executed["result"] == (
        "paused BTC_SMA, ETH_RSI")
    assert service.copilot_actions() == [executed]


def test_an_alert_with_a_proposed_action_waits_for_a_trader(copilot):
    service, engine, told = copilot
    service.save_copilot_rule(cross_rule("ask", 105, {"type": "stop_engine"}))
    rise(service, 100, 110)
    wait_until(lambda: told.of(EventKind.ACTION), what="the proposed action")
    [alert] = service.copilot_alerts()
    [action] = service.copilot_actions(status="pending")
    assert alert["action_id"] == action["id"] and engine.calls == []
    done = service.decide_action(action["id"], True, "cli")
    assert done["status"] == "executed" and engine.calls == [("stop", ())]
    assert service.copilot_actions(status="pending") == []


def test_settings_change_only_what_is_given_and_bad_ones_get_clear_errors(copilot):
    service, _, _ = copilot
    assert service.copilot_settings()["throttle"] == {"count": 15, "window_s": 180}
    changed = service.update_copilot_settings({"throttle": {"count": 5}})
    assert changed["throttle"] == {"count": 5, "window_s": 180.0}
    assert changed["daily_loss"] == {"enabled": False, "amount": None, "percent": 5.0,
                                     "close_positions": True}
    for bad, words in [({"daily_loss": {"enabled": "yes"}}, "daily_loss.enabled"),
                       ({"daily_loss": {"close_positions": "yes"}},
                        r"^daily_loss.close_positions: expected true \(pause every strategy "
                        r"and close every open position\) or false \(pause only\) "
                        r"\(got 'yes'\)$"),
                       ({"daily_loss": {"percent": 150}}, "daily_loss.percent"),
                       ({"daily_loss": {"enabled": True, "percent": None}},
                        "give an amount"),
                       ({"throttle": {"count": 0}}, "throttle.count"),
                       ({"alarms": {}}, "unknown part 'alarms'"),
                       ({"webhooks": [{"url": "ftp://x"}]}, "http")]:
        with pytest.raises(RuleError, match=words):
            service.update_copilot_settings(bad)
    assert service.copilot_settings() == changed  # a refused change leaves them as they were
    with pytest.raises(RuleError, match="built-in daily-loss guard"):
        service.delete_copilot_rule("daily-loss-guard")


def test_alerts_are_listed_newest_first_and_paged_by_id(copilot):
    service, _, told = copilot
    service.save_copilot_rule(cross_rule("low", 101, None))
    service.save_copilot_rule({**cross_rule("high", 108, None), "severity": "info"})
    rise(service, 100, 110)
    wait_until(lambda: len(told.of(EventKind.ALERT)) == 2, what="both alerts")
    newest, oldest = service.copilot_alerts()
    assert newest["id"] > oldest["id"] and newest["rule_id"] == "high"
    assert service.copilot_alerts(before_id=newest["id"]) == [oldest]
    assert service.copilot_alerts(after_id=oldest["id"]) == [newest]
    assert service.copilot_alerts(severity="info") == [newest]
    assert service.copilot_alerts(limit=1) == [newest]
    with pytest.raises(RuleError, match="severity"):
        service.copilot_alerts(severity="loud")
    with pytest.raises(RuleError, match="limit"):
        service.copilot_alerts(limit=-1)
    with pytest.raises(NotFoundError):
        service.acknowledge_alert(12345)


def test_a_listing_shows_actions_past_their_time_expired_with_no_session_to_sweep_them():
    engine, told, clock = FakeEngine(), Told(), Clock()
    service = Copilot(engine, CopilotStore(), publish=told, clock=clock, pending_seconds=60)
    decisions = service.decisions
    action = decisions.propose(ALERT, rule({"type": "pause_all"}))
    assert [a["status"] for a in service.copilot_actions()] == ["pending"]
    clock.now += 61
    assert service.copilot_actions(status="pending") == []
    assert [a["id"] for a in service.copilot_actions(status="expired")] == [action["id"]]
    service.close()


def test_a_guard_saved_before_close_positions_existed_closes_them_after_a_restart():
    store = CopilotStore()
    store.save_settings({"daily_loss": {"enabled": True, "amount": None, "percent": 3.0}})
    old = Copilot(FakeEngine(), store)
    old.update_copilot_settings({"daily_loss": {"enabled": True, "percent": 3.0,
                                                "close_positions": False}})
    # what an earlier version saved: no close_positions anywhere
    store.save_settings({**old.copilot_settings(),
                         "daily_loss": {"enabled": True, "amount": None, "percent": 3.0}})
    guard = old.copilot_rule("daily-loss-guard")
    store.save_rules([{**guard, "action": {"type": "pause_all", "params": {}, "auto": True},
                       "message": "the day's loss {value:,.2f}{unit} passed the limit "
                                  "{threshold:,.2f}{unit}: every strategy paused"}])
    old.stop()
    service = Copilot(FakeEngine(), store)
    assert service.copilot_settings()["daily_loss"] == {
        "enabled": True, "amount": None, "percent": 3.0, "close_positions": True}
    renewed = service.copilot_rule("daily-loss-guard")
    assert renewed["action"] == {"type": "pause_all", "params": {"close_positions": True},
                                 "auto": True}
    assert renewed["created"] == guard["created"]
    assert renewed["message"].endswith("every strategy paused, every position closed")
    service.stop()
