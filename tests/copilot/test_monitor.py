"""The monitor: rules evaluated on the engine's prices and events off its hot path, alerts with
their triggering tick's arrival, waiting batches evaluated together, a failing rule disabled
with its reason while the others go on, and the copilot's calls and events across the
window's process boundary."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from support import wait_until

from velocitas_desktop.copilot import conditions
from velocitas_desktop.copilot.evaluator import Trigger
from velocitas_desktop.copilot.monitor import Monitor
from velocitas_desktop.copilot.rules import Rule, RuleError
from velocitas_desktop.engine.contract import Event, EventKind
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.feeds.base import Feed, TickBatch

T0 = 1_765_000_000.0


class ScriptedFeed(Feed):
    """Batches of given prices, each yielded once the engine has processed the last (so each
    is one engine batch), stamped one second apart."""

    name = "scripted"
    replay = True

    def __init__(self, batches: list[np.ndarray], processed: Callable[[], int],
                 coin: str = "BTC") -> None:
        super().__init__([coin])
        self.batches = batches
        self.processed = processed

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        sent = 0
        for prices in self.batches:
            while self.processed() < sent and not stop.is_set():
                stop.wait(0.001)
            if stop.is_set():
                return
            stamps = T0 + sent + np.arange(prices.shape[0], dtype=np.float64)
            yield TickBatch(np.zeros(prices.shape[0], dtype=np.int16),
                            prices.astype(np.float64), stamps, time.perf_counter())
            sent += prices.shape[0]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: EventKind) -> list[Any]:
        with self.lock:
            return [e.data for e in self.events if e.kind == kind]


def cross(rule_id: str, level: float, **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "name": rule_id,
            "condition": {"type": "price_cross", "params": {"level": level, "direction": "up"}},
            "scope": {"kind": "coin", "value": "BTC"}, **extra}


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine(live_trend=False)
    yield engine
    engine.close()


def run(engine: Engine, batches: list[np.ndarray]) -> None:
    engine.start(EngineConfig(coins=["BTC"]), feed=ScriptedFeed(
        batches, lambda: engine.ticks_processed))
    assert engine.wait(30), "the scripted session did not end"


def test_a_crossing_price_raises_one_alert_with_its_message_and_tick_arrival(engine):
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.save_copilot_rule(cross("btc-105", 105, message="{coin} crossed {threshold} at "
                                                           "{price}"))
    before = time.time()
    run(engine, [np.linspace(100, 104, 10), np.array([104.5, 105.5, 106.0, 106.5])])
    wait_until(lambda: recorder.of(EventKind.ALERT), what="the alert")
    [alert] = recorder.of(EventKind.ALERT)
    assert alert["message"] == "BTC crossed 105 at 105.50"
    assert (alert["rule_id"], alert["coin"], alert["price"], alert["threshold"]) == (
        "btc-105", "BTC", 105.5, 105)
    assert before <= alert["tick_time"] <= alert["time"] <= time.time()
    assert engine.copilot_alerts() == [alert]
    assert alert["dedup_key"] == f"btc-105:{alert['id']}"
    rule = engine.copilot_rule("btc-105")
    assert rule["fired"] == 1 and rule["last_fired"] == pytest.approx(alert["time"], abs=1)


def test_a_failing_rule_is_disabled_with_its_reason_and_the_others_go_on(engine, monkeypatch):
    def broken(*args):
        raise FloatingPointError("bad data in the channel")

    monkeypatch.setattr(conditions.PriceChannel, "prices", broken)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.save_copilot_rule({"id": "channel", "name": "channel",
                              "condition": {"type": "price_channel",
                                            "params": {"low": 90, "high": 110}},
                              "scope": {"kind": "coin", "value": "BTC"}})
    engine.save_copilot_rule(cross("btc-105", 105))
    run(engine, [np.linspace(100, 104, 10), np.linspace(104, 108, 10)])
    wait_until(lambda: recorder.of(EventKind.ALERT), what="the working rule's alert")
    channel = engine.copilot_rule("channel")
    assert channel["enabled"] is False
    assert "FloatingPointError: bad data in the channel" in channel["disabled_reason"]
    assert [a["rule_id"] for a in recorder.of(EventKind.ALERT)] == ["btc-105"]
    assert any("'channel' was disabled" in line["message"] for line in recorder.of(EventKind.LOG))
    # enabling it again clears the reason (a trader fixed what it reads)
    assert engine.enable_copilot_rule("channel", True)["disabled_reason"] is None


def test_every_change_of_the_rules_is_told_to_the_views_but_not_a_firings_counts(
        engine, monkeypatch):
    """A RULES event carries every rule as copilot_rules() lists them, so a rule made in one
    view shows in the others at once; a rule firing changes only its counts, which the views
    read again as its alert arrives."""
    recorder = Recorder()
    engine.subscribe(recorder)

    def told() -> list[list[str]]:
        return [[(r["id"], r["enabled"]) for r in data["rules"]]
                for data in recorder.of(EventKind.RULES)]

    engine.save_copilot_rule(cross("btc-105", 105))
    assert told() == [[("btc-105", True)]]
    assert recorder.of(EventKind.RULES)[-1]["rules"] == engine.copilot_rules()
    engine.save_copilot_rule({**cross("btc-105", 106), "name": "moved"}, replace=True)
    assert recorder.of(EventKind.RULES)[-1]["rules"][0]["name"] == "moved"
    engine.enable_copilot_rule("btc-105", False)
    engine.import_copilot_rules([cross("eth", 9, scope={"kind": "coin", "value": "ETH"})])
    engine.update_copilot_settings({"daily_loss": {"enabled": True, "percent": 5}})
    assert told()[2:] == [[("btc-105", False)], [("btc-105", False), ("eth", True)],
                          [("btc-105", False), ("eth", True), ("daily-loss-guard", True)]]
    engine.delete_copilot_rule("eth")
    assert told()[-1] == [("btc-105", False), ("daily-loss-guard", True)]

    engine.enable_copilot_rule("btc-105", True)
    count = len(told())
    run(engine, [np.linspace(104, 108, 10)])
    wait_until(lambda: engine.copilot_rule("btc-105")["fired"] == 1, what="the firing")
    assert len(told()) == count  # its fired count sent no RULES event

    def broken(*args):
        raise FloatingPointError("bad data")

    monkeypatch.setattr(conditions.PriceCross, "prices", broken)
    engine.save_copilot_rule(cross("btc-110", 110))
    run(engine, [np.linspace(104, 112, 10)])
    wait_until(lambda: not engine.copilot_rule("btc-110")["enabled"], what="the disabling")
    wait_until(lambda: ("btc-110", False) in told()[-1], what="the disabling told")


def test_an_acknowledgement_is_told_to_every_view_once(engine):
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.save_copilot_rule(cross("btc-105", 105))
    run(engine, [np.linspace(104, 108, 10)])
    wait_until(lambda: recorder.of(EventKind.ALERT), what="the alert")
    [alert] = recorder.of(EventKind.ALERT)
    seen = engine.acknowledge_alert(alert["id"])
    assert recorder.of(EventKind.ACKNOWLEDGED) == [seen] == [{**alert, "acknowledged": True}]
    engine.acknowledge_alert(alert["id"])  # already seen: nothing new to tell
    assert len(recorder.of(EventKind.ACKNOWLEDGED)) == 1


def test_waiting_batches_are_evaluated_together_each_alert_keeping_its_batchs_arrival():
    found: list[Trigger] = []
    looks: list[int] = []

    def triggered(triggers: list[Trigger]) -> None:
        looks.append(monitor.evaluations)
        found.extend(triggers)

    monitor = Monitor(triggered, lambda failures: None, lambda level, text: None,
                      min_interval=0.0)
    monitor.set_rules([Rule.from_json(cross("c", 105))], (15, 180.0))
    arrivals = [100.0, 200.0, 300.0, 400.0]
    paths = [np.linspace(100, 101, 5), np.linspace(101, 102, 5), np.linspace(102, 106, 5),
             np.linspace(106, 107, 5)]
    for k, (prices, arrived) in enumerate(zip(paths, arrivals, strict=True)):
        monitor.prices({"BTC": (prices, T0 + 5 * k + np.arange(5.0))}, arrived)
    monitor.start()  # the hand-offs above never waited for it
    try:
        wait_until(lambda: found, what="the trigger")
    finally:
        monitor.stop()
    [trigger] = found
    assert looks == [1]  # the four batches in the first look
    assert trigger.tick_time == pytest.approx(300.0 + monitor._epoch_offset)
    assert trigger.price == pytest.approx(106.0)  # the first price above 105


def test_a_hand_off_never_waits_for_a_busy_monitor():
    release = threading.Event()

    def slow(triggers: list[Trigger]) -> None:
        release.wait(10)

    monitor = Monitor(slow, lambda failures: None, lambda level, text: None, min_interval=0.0)
    monitor.set_rules([Rule.from_json(cross("c", 105))], (15, 180.0))
    monitor.start()
    try:
        monitor.prices({"BTC": (np.array([100.0, 106.0]), np.array([T0, T0 + 1]))}, 1.0)
        wait_until(lambda: monitor.evaluations, what="the monitor to be busy")
        began = time.perf_counter()
        for k in range(1_000):
            monitor.prices({"BTC": (np.full(100, 100.0), T0 + k + np.zeros(100))}, 1.0)
        took = time.perf_counter() - began
    finally:
        release.set()
        monitor.stop()
    assert took < 0.5, f"1,000 hand-offs took {took:.3f} s while the monitor was busy"


def test_rules_are_kept_in_order_and_bad_rules_and_ids_get_clear_errors(engine):
    engine.save_copilot_rule(cross("a", 105))
    engine.save_copilot_rule(cross("b", 110))
    assert [r["id"] for r in engine.copilot_rules()] == ["a", "b"]
    with pytest.raises(EngineError, match="'a' exists"):
        engine.save_copilot_rule(cross("a", 106))
    with pytest.raises(NotFoundError, match="no copilot rule with id 'zz'"):
        engine.save_copilot_rule(cross("zz", 106), replace=True)
    with pytest.raises(RuleError, match="astrology"):
        engine.save_copilot_rule({"name": "x", "condition": {"type": "astrology"}})
    updated = engine.save_copilot_rule(cross("a", 107), replace=True)
    assert updated["condition"]["params"]["level"] == 107
    assert updated["created"] == engine.copilot_rules()[0]["created"]
    engine.delete_copilot_rule("a")
    assert [r["id"] for r in engine.copilot_rules()] == ["b"]
    with pytest.raises(RuleError, match=r"rules\[1\]"):
        engine.import_copilot_rules([cross("c", 1), {"name": "bad"}])
    assert [r["id"] for r in engine.copilot_rules()] == ["b"]  # all or nothing
    engine.import_copilot_rules([cross("c", 1)], replace=True)
    assert [r["id"] for r in engine.copilot_rules()] == ["c"]


def test_an_engine_without_a_copilot_says_so():
    engine = Engine(copilot=False)
    try:
        with pytest.raises(EngineError, match="no copilot"):
            engine.copilot_rules()
    finally:
        engine.close()


@pytest.mark.slow
def test_the_windows_engine_process_forwards_the_copilots_calls_and_events(tmp_path):
    from velocitas_desktop.engine.host import HostedEngine

    engine = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False)
    recorder = Recorder()
    engine.subscribe(recorder)
    try:
        assert {c["type"] for c in engine.copilot_conditions()} >= {"price_cross", "daily_loss"}
        saved = engine.save_copilot_rule({
            "id": "moves", "name": "any move", "severity": "info",
            "condition": {"type": "price_move", "params": {"percent": 0.001, "window_s": 1}},
            "scope": {"kind": "coin", "value": "BTC"},
            "frequency": {"mode": "once"},
            "action": {"type": "pause_all", "params": {}, "auto": False}})
        assert engine.copilot_rules() == [saved]
        with pytest.raises(RuleError, match="astrology"):  # the engine's own error, crossed
            engine.save_copilot_rule({"name": "x", "condition": {"type": "astrology"}})
        engine.start(EngineConfig(coins=["BTC"], rate=2_000, seed=7))
        wait_until(lambda: recorder.of(EventKind.ACTION), what="the alert and its action")
        [alert] = recorder.of(EventKind.ALERT)
        assert engine.copilot_alerts() == [alert]
        [pending] = engine.copilot_actions(status="pending")
        assert pending["alert_id"] == alert["id"]
        done = engine.decide_action(pending["id"], True, "window")
        assert done["status"] == "executed" and done["decided_by"] == "window"
        wait_until(lambda: len(recorder.of(EventKind.ACTION)) == 2, what="the decision's event")
        assert recorder.of(EventKind.ACTION)[-1] == done
        assert engine.copilot_rule("moves")["enabled"] is False  # a once rule fired
    finally:
        engine.close()


def test_an_auto_stop_from_a_price_rule_stops_the_engine_and_records_it(engine):
    engine.save_copilot_rule(cross("halt", 105, action={"type": "stop_engine", "params": {},
                                                        "auto": True}))
    endless = [np.linspace(100, 104, 10), np.linspace(104, 108, 10)] + [
        np.full(10, 108.0)] * 100_000
    began = time.monotonic()
    engine.start(EngineConfig(coins=["BTC"]), feed=ScriptedFeed(
        endless, lambda: engine.ticks_processed))
    assert engine.wait(30), "the rule did not stop the engine"
    assert time.monotonic() - began < 10
    wait_until(lambda: engine.copilot_actions(status="executed"), what="the recorded stop")
    [action] = engine.copilot_actions()
    assert (action["decided_by"], action["result"]) == ("rule:halt", "the engine stopped")
    assert engine.status == "stopped"


def test_a_monitor_behind_the_market_says_so_once_and_evaluates_the_waiting_prices():
    said: list[tuple[str, str]] = []
    found: list[Trigger] = []
    monitor = Monitor(found.extend, lambda failures: None,
                      lambda level, text: said.append((level, text)), min_interval=0.0)
    monitor.set_rules([Rule.from_json(cross("c", 105))], (15, 180.0))
    long_ago = time.perf_counter() - 5.0  # these batches arrived five seconds ago
    for k in range(50):
        prices = np.full(10, 100.0 + k * 0.2)
        monitor.prices({"BTC": (prices, T0 + 10 * k + np.arange(10.0))}, long_ago)
    monitor.start()
    try:
        wait_until(lambda: found, what="the crossing among the waiting prices")
        monitor.prices({"BTC": (np.array([99.0, 106.0]), np.array([T0 + 600, T0 + 601]))},
                       long_ago)
        wait_until(lambda: len(found) == 2, what="the second crossing")
    finally:
        monitor.stop()
    [(level, text)] = said
    assert level == "info" and "s behind the market (50 batches waited" in text
