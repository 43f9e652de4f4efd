"""Restarts: the copilot's rules (with their counters and disabled reasons), alerts, actions and
settings are kept in the journal's file, so a new engine on the same journal has them all, and
a pending action can still be decided there."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from support import wait_until

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.base import Feed, TickBatch
from velocitas_desktop.store.journal import Journal

T0 = 1_765_000_000.0


class RisingFeed(Feed):
    """Prices rising from 100 to 110 in batches of 10, each once the last was processed."""

    name = "scripted"
    replay = True

    def __init__(self, processed: Callable[[], int]) -> None:
        super().__init__(["BTC"])
        self.processed = processed

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        prices = np.linspace(100.0, 110.0, 100)
        for sent in range(0, 100, 10):
            while self.processed() < sent and not stop.is_set():
                stop.wait(0.001)
            if stop.is_set():
                return
            yield TickBatch(np.zeros(10, dtype=np.int16), prices[sent:sent + 10],
                            T0 + sent + np.arange(10.0), time.perf_counter())


def open_engine(path: Path) -> Engine:
    return Engine(journal=Journal(path), live_trend=False)


def test_rules_alerts_actions_and_settings_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    engine = open_engine(path)
    try:
        engine.register(StrategySpec("SMA_Crossover", "BTC"))
        engine.save_copilot_rule({
            "id": "btc-105", "name": "BTC above 105", "severity": "critical",
            "condition": {"type": "price_cross", "params": {"level": 105, "direction": "up"}},
            "scope": {"kind": "coin", "value": "BTC"},
            "action": {"type": "pause_strategy", "params": {"strategy_id": "BTC_SMA_Crossover"},
                       "auto": False}})
        engine.save_copilot_rule({
            "id": "quiet", "name": "quiet", "enabled": False,
            "condition": {"type": "feed_stalled", "params": {"seconds": 60}}})
        engine.update_copilot_settings({"throttle": {"count": 5, "window_s": 60},
                                        "daily_loss": {"enabled": True, "percent": 3.0}})
        engine.start(EngineConfig(coins=["BTC"]),
                     feed=RisingFeed(lambda: engine.ticks_processed))
        assert engine.wait(30)
        wait_until(lambda: engine.copilot_actions(), what="the proposed action")
        rules, alerts = engine.copilot_rules(), engine.copilot_alerts()
        actions, settings = engine.copilot_actions(), engine.copilot_settings()
    finally:
        engine.close()
    assert [a["rule_id"] for a in alerts] == ["btc-105"]
    assert actions[0]["status"] == "pending"

    again = open_engine(path)
    try:
        assert again.copilot_rules() == rules
        assert again.copilot_rule("btc-105")["fired"] == 1
        assert again.copilot_rule("quiet")["enabled"] is False
        assert again.copilot_alerts() == alerts
        assert again.copilot_actions() == actions
        assert again.copilot_settings() == settings
        assert settings["throttle"] == {"count": 5, "window_s": 60.0}
        # the pending action is decided after the restart, and that is kept too
        done = again.decide_action(actions[0]["id"], True, "window")
        assert done["status"] == "executed" and done["result"] == "BTC_SMA_Crossover paused"
        assert again.strategy("BTC_SMA_Crossover")["status"] == "paused"
        acknowledged = again.acknowledge_alert(alerts[0]["id"])
        assert acknowledged["acknowledged"] is True
    finally:
        again.close()
    third = open_engine(path)
    try:
        assert third.copilot_actions()[0]["decided_by"] == "window"
        assert third.copilot_alerts()[0]["acknowledged"] is True
    finally:
        third.close()


def test_a_rule_disabled_for_its_failure_stays_disabled_with_its_reason(tmp_path: Path,
                                                                         monkeypatch) -> None:
    from velocitas_desktop.copilot import conditions

    def broken(*args):
        raise ZeroDivisionError("no prices to divide")

    monkeypatch.setattr(conditions.PriceCross, "prices", broken)
    path = tmp_path / "journal.sqlite3"
    engine = open_engine(path)
    try:
        engine.save_copilot_rule({
            "id": "broken", "name": "broken",
            "condition": {"type": "price_cross", "params": {"level": 105}},
            "scope": {"kind": "coin", "value": "BTC"}})
        engine.start(EngineConfig(coins=["BTC"]),
                     feed=RisingFeed(lambda: engine.ticks_processed))
        assert engine.wait(30)
        wait_until(lambda: not engine.copilot_rule("broken")["enabled"],
                   what="the rule to be disabled")
    finally:
        engine.close()
    again = open_engine(path)
    try:
        rule = again.copilot_rule("broken")
        assert rule["enabled"] is False
        assert "ZeroDivisionError: no prices to divide" in rule["disabled_reason"]
    finally:
        again.close()
