"""The kill switch: an auto-acting strategy-health or daily-loss rule is checked by the session
right after each batch's fills, so the strategies are paused before the next batch; the alert
and the executed action are recorded (by the rule, with the result) and told."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import INLINE_AND_WORKERS, wait_until

from velocitas_desktop.catalog import load_catalog
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import Event, EventKind
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.base import Feed, TickBatch

T0 = 1_765_000_000.0
BATCH = 10

ALTERNATING = textwrap.dedent('''
    from velocitas_desktop.core.strategy import Param, Strategy


    class Alternating(Strategy):
        """Buys and sells every ``every`` prices (a user file, for the tests)."""

        every = Param(2, low=1, high=1000)

        def init(self):
            self.seen = 0

        def next(self):
            self.seen += 1
            if self.seen % self.every:
                return None
            return self.buy() if (self.seen // self.every) % 2 else self.sell()
''')


class ScriptedFeed(Feed):
    """Batches of BATCH prices, each yielded once the engine has processed the one before
    (so each is one engine batch), stamped one second apart: a fill's batch is
    ``(timestamp - T0) // BATCH``."""

    name = "scripted"
    replay = True

    def __init__(self, prices: np.ndarray, processed: Callable[[], int]) -> None:
        super().__init__(["BTC"])
        self.prices = prices
        self.processed = processed

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        for sent in range(0, self.prices.shape[0], BATCH):
            while self.processed() < sent and not stop.is_set():
                stop.wait(0.001)
            if stop.is_set():
                return
            prices = self.prices[sent:sent + BATCH]
            stamps = T0 + sent + np.arange(prices.shape[0], dtype=np.float64)
            yield TickBatch(np.zeros(prices.shape[0], dtype=np.int16), prices, stamps,
                            time.perf_counter())


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


def rise_then_fall(up: int = 5, down: int = 10) -> np.ndarray:
    """``up`` batches rising 1% a price (every round trip wins), then ``down`` falling 1%."""
    steps = np.r_[np.full(up * BATCH, 1.01), np.full(down * BATCH, 0.99)]
    return 100.0 * np.cumprod(steps)


@pytest.fixture
def engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "alternating.py").write_text(ALTERNATING, encoding="utf-8")
    engine = Engine(catalog=load_catalog(user_dirs=[folder]), live_trend=False)
    yield engine
    engine.close()


def batch_of(trade: dict[str, Any]) -> int:
    return int((trade["timestamp"] - T0) // BATCH)


@pytest.mark.parametrize("workers", INLINE_AND_WORKERS)
def test_a_losing_streak_kill_switch_pauses_the_strategy_before_the_next_batch(
        engine: Engine, workers: int) -> None:
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.register(StrategySpec("Alternating", "BTC", {"every": 2}))
    engine.save_copilot_rule({
        "id": "streak", "name": "one loss stops it", "severity": "critical",
        "condition": {"type": "losing_streak", "params": {"count": 1}},
        "scope": {"kind": "strategy", "value": "BTC_Alternating"},
        "action": {"type": "pause_strategy", "params": {}, "auto": True}})
    engine.start(EngineConfig(coins=["BTC"], workers=workers),
                 feed=ScriptedFeed(rise_then_fall(), lambda: engine.ticks_processed))
    assert engine.wait(60), "the scripted session did not end"

    trades = engine.trades(limit=10_000)
    losing = [t for t in trades if t["profit_loss"] < 0]
    assert losing, "the plant makes a losing trade"
    trigger = batch_of(losing[0])
    assert trigger >= 5  # every round trip won while prices rose
    # fills in the batch of the first loss, and none after it: paused within one batch
    assert max(batch_of(t) for t in trades) == trigger
    assert engine.strategy("BTC_Alternating")["status"] == "paused"
    wait_until(lambda: engine.copilot_actions(), what="the recorded action")
    [alert] = engine.copilot_alerts()
    [action] = engine.copilot_actions()
    assert (alert["rule_id"], alert["strategy_id"], alert["severity"]) == (
        "streak", "BTC_Alternating", "critical")
    assert alert["action_id"] == action["id"]
    assert (action["type"], action["status"], action["decided_by"], action["result"]) == (
        "pause_strategy", "executed", "rule:streak", "BTC_Alternating paused")
    assert action["params"] == {"strategy_id": "BTC_Alternating"} and action["auto"] is True
    assert recorder.of(EventKind.ALERT) == [alert]
    assert recorder.of(EventKind.ACTION) == [action]


def start_guarded(engine: Engine, daily_loss: dict[str, Any]) -> Recorder:
    """Two alternating strategies under the daily-loss guard, run on prices that rise for 5
    batches and fall for 30."""
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.register(StrategySpec("Alternating", "BTC", {"every": 2}))
    engine.register(StrategySpec("Alternating", "BTC", {"every": 3}, strategy_id="BTC_Alt3"))
    engine.update_copilot_settings({"daily_loss": daily_loss})
    engine.start(EngineConfig(coins=["BTC"]),
                 feed=ScriptedFeed(rise_then_fall(down=30), lambda: engine.ticks_processed))
    assert engine.wait(60), "the scripted session did not end"
    return recorder


def test_the_daily_loss_guard_pauses_every_strategy_and_closes_every_position_within_one_batch(
        engine: Engine) -> None:
    recorder = start_guarded(engine, {"enabled": True, "amount": 500.0})
    assert engine.copilot_settings()["daily_loss"] == {
        "enabled": True, "amount": 500.0, "percent": 5.0, "close_positions": True}
    guard = engine.copilot_rule("daily-loss-guard")
    assert guard["action"] == {"type": "pause_all", "params": {"close_positions": True},
                               "auto": True}
    assert {s["status"] for s in engine.strategies()} == {"paused"}
    assert engine.account()["positions"] == []  # flat: nothing left losing
    wait_until(lambda: engine.copilot_actions(), what="the recorded action")
    [alert] = engine.copilot_alerts()
    assert alert["rule_id"] == "daily-loss-guard" and alert["severity"] == "critical"
    assert alert["value"] >= 500.0
    assert alert["message"].endswith("every strategy paused, every position closed")
    trades = engine.trades(limit=10_000)  # oldest first
    last = max(batch_of(t) for t in trades)
    assert last < 5 + 30 - 1  # trading stopped well before the data ended
    [action] = engine.copilot_actions()
    assert action["decided_by"] == "rule:daily-loss-guard"
    # the closing fills: the session's last, after the fills of the batch after which the
    # guard fired, at that batch's last price, one per strategy that held a position
    closes = trades[-action["result"].count("'s SELL "):]
    assert closes, "the plant holds a position when the guard fires"
    assert len({t["strategy_id"] for t in closes}) == len(closes)
    assert all(t["action"] == "SELL" and t["position_size"] == 0.0 for t in closes)
    assert {t["timestamp"] for t in closes} == {T0 + last * BATCH + BATCH - 1}
    closed = ", ".join(f"{t['strategy_id']}'s SELL {t['quantity']:g} at {t['price']:g}"
                       for t in closes)
    assert action["result"] == f"paused BTC_Alternating, BTC_Alt3; closed {closed}"
    # recorded and told like any fill, after the batch's own
    told = [t for batch in recorder.of(EventKind.TRADES) for t in batch]
    assert told == trades
    # turned off in the settings, the guard rule stays listed, disabled
    engine.update_copilot_settings({"daily_loss": {"enabled": False, "amount": 500.0}})
    assert engine.copilot_rule("daily-loss-guard")["enabled"] is False


def test_a_daily_loss_guard_told_not_to_close_only_pauses(engine: Engine) -> None:
    start_guarded(engine, {"enabled": True, "amount": 500.0, "close_positions": False})
    guard = engine.copilot_rule("daily-loss-guard")
    assert guard["action"] == {"type": "pause_all", "params": {"close_positions": False},
                               "auto": True}
    assert {s["status"] for s in engine.strategies()} == {"paused"}
    wait_until(lambda: engine.copilot_actions(), what="the recorded action")
    [alert] = engine.copilot_alerts()
    assert alert["message"].endswith("every strategy paused")
    [action] = engine.copilot_actions()
    assert action["result"] == "paused BTC_Alternating, BTC_Alt3"
    assert max(batch_of(t) for t in engine.trades(limit=10_000)) < 5 + 30 - 1
