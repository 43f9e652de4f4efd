"""The notifier inside the engine: a webhook that never answers changes nothing for trading."""

from __future__ import annotations

import pytest
from fakes.webhook_receiver import Answer, Receiver, wait_until

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig

TICKS = 40_000


def fired_rule() -> dict:
    return {"id": "any-move", "name": "any move", "severity": "critical",
            "condition": {"type": "price_move",
                          "params": {"percent": 0.001, "window_s": 1, "direction": "either"}},
            "scope": {"kind": "coin", "value": "BTC"},
            "frequency": {"mode": "every_time", "cooldown_s": 0}}


@pytest.mark.slow
def test_a_session_runs_to_its_end_while_its_alerts_webhook_hangs(tmp_path) -> None:
    with Receiver(default=Answer(hang=True)) as receiver:
        engine = Engine(restore=False)
        try:
            copilot = engine.copilot
            copilot.save_copilot_rule(fired_rule())
            copilot.update_copilot_settings({"webhooks": [{"url": receiver.url}]})
            engine.register(StrategySpec("SMA_Crossover", "BTC"))
            engine.start(EngineConfig(coins=["BTC"], rate=None, workers=0, seed=7,
                                      max_ticks=TICKS, start_time=0.0))
            receiver.wait_for(1)          # the first alert's POST is now stuck
            assert engine.wait(timeout=30)
            assert engine.ticks_processed == TICKS
            assert not receiver.release.is_set()   # the whole session ran under the hang
            assert len(copilot.copilot_alerts(limit=1000)) >= 2

            def one_delivery_per_alert() -> list[dict] | None:
                owed = copilot.copilot_deliveries(1000)
                return owed if len(owed) == len(copilot.copilot_alerts(limit=1000)) else None
            owed = wait_until(one_delivery_per_alert)
            assert {d["status"] for d in owed} == {"pending"}   # kept for when it answers
        finally:
            receiver.release.set()
            engine.close()
