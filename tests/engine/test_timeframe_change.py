"""A strategy's timeframe changes in place: re-created on the new bars, its position kept."""

from __future__ import annotations

import time

import pytest
from support import INLINE_AND_WORKERS, wait_until

from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig

FAST_SMA = {"fast": 2, "slow": 3}  # on ticks it crosses every few ticks


def metric(engine: Engine, strategy_id: str, name: str) -> float:
    return engine.snapshot()["strategies"][strategy_id][name]


def hold_a_position(engine: Engine, strategy_id: str) -> float:
    """Pause the strategy at a moment it holds a position; that position."""
    for _ in range(200):
        wait_until(lambda: metric(engine, strategy_id, "current_position") != 0,
                   what="a position to be opened")
        engine.pause(strategy_id)
        held = metric(engine, strategy_id, "current_position")
        if held != 0:
            return held
        engine.resume(strategy_id)
    pytest.fail("never caught the strategy holding a position")


@pytest.mark.parametrize("workers", INLINE_AND_WORKERS)
def test_a_new_timeframe_rules_the_strategy_and_keeps_its_position(engines, workers) -> None:
    engine = Engine()
    engines.append(engine)
    engine.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA, timeframe="tick",
                                 strategy_id="A"))
    engine.start(EngineConfig(coins=["BTC"], rate=2_000, seed=7, workers=workers))
    held = hold_a_position(engine, "A")

    spec = engine.update_params("A", {}, timeframe="1h")
    assert spec.timeframe == "1h" and dict(spec.params)["fast"] == 2
    assert engine.strategy("A")["timeframe"] == "1h"
    assert engine.snapshot()["strategies"]["A"]["timeframe"] == "1h"
    assert metric(engine, "A", "current_position") == held

    # on hourly bars it makes no decision within seconds, though the ticks flow
    engine.resume("A")
    fills, seen = metric(engine, "A", "total_trades"), engine.ticks_processed
    time.sleep(1.5)
    assert engine.ticks_processed > seen + 1_000
    assert metric(engine, "A", "total_trades") == fills

    # back on ticks, it trades again
    engine.update_params("A", {}, timeframe="tick")
    wait_until(lambda: metric(engine, "A", "total_trades") > fills + 2,
               what="A to trade on ticks again")
    engine.stop()


def test_an_unknown_timeframe_is_refused_and_nothing_changes(engines) -> None:
    engine = Engine()
    engines.append(engine)
    engine.register(StrategySpec("RSI", "BTC", timeframe="1m"))
    with pytest.raises(ParameterError, match="7x"):
        engine.update_params("BTC_RSI", {"period": 10}, timeframe="7x")
    assert engine.strategy("BTC_RSI")["timeframe"] == "1m"
    assert engine.strategy("BTC_RSI")["params"]["period"] != 10
    assert engine.update_params("BTC_RSI", {"period": 10}).timeframe == "1m"  # kept if not given
