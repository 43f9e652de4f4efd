"""Specification of sessions that go on: a start after a restart (or a stop) continues the last
session with its positions, figures and P&L history; a new session closes the open positions
with recorded fills or carries them over; positions are closed by hand as fills; one call stops
all trading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import wait_until

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.config import EngineConfig, PositionsChoice, SessionChoice
from velocitas_desktop.engine.contract import Event, EventKind
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.engine.host import HostedEngine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.store.journal import Journal

FAST_SMA = {"fast": 2, "slow": 3}
QUICK_RSI = {"period": 3, "oversold": 45, "overbought": 55}
FEE = 0.001
# the ledger's figures a restart gives back exactly (the rest are about the run: ticks, time)
FIGURES = ("total_trades", "closed_trades", "winning_trades", "losing_trades", "net_pnl",
           "unrealized_pnl", "equity", "capital", "cash", "account_value", "return_pct", "fees",
           "max_drawdown", "max_drawdown_pct", "sharpe_ratio", "last_trade_id")


def register_four(engine: Engine) -> None:
    for coin in ("BTC", "ETH"):
        engine.register(StrategySpec("SMA_Crossover", coin, FAST_SMA))
        engine.register(StrategySpec("RSI", coin, QUICK_RSI))


def figures(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"global": {key: snapshot["global"][key] for key in FIGURES},
            "strategies": snapshot["strategies"]}


def a_session_with_open_positions(path: Path, engines: list[Engine]) -> dict[str, Any]:
    """A finished simulated session on a fresh journal, some of its positions open: what the
    engine showed when it was closed."""
    first = Engine(journal=Journal(path))
    engines.append(first)
    register_four(first)
    first.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=3, max_ticks=20_000))
    assert first.wait(60)
    shown = {"snapshot": first.snapshot(), "account": first.account(),
             "trades": first.trades(limit=10**7), "pnl": first.pnl_history(limit=10**7),
             "session": first.session_id, "clock": first.state()["clock"]["time"]}
    first.close()
    assert len(shown["account"]["positions"]) >= 2, "the seed leaves positions open"
    return shown


def reopened(path: Path, engines: list[Engine]) -> Engine:
    engine = Engine(journal=Journal(path))
    engines.append(engine)
    return engine


def ticks_heard(engine: Engine) -> list[Any]:
    batches: list[Any] = []

    def hear(event: Event) -> None:
        if event.kind == EventKind.TICKS:
            batches.append(event.data)

    engine.subscribe(hear)
    return batches


def test_a_restart_shows_the_same_positions_and_figures_and_start_goes_on_with_them(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    assert figures(again.snapshot()) == figures(shown["snapshot"])
    assert again.account() == shown["account"]
    assert again.session_settings()["coins"] == ["BTC", "ETH"]

    heard = ticks_heard(again)
    again.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=4, max_ticks=5_000))
    assert again.wait(60)
    assert again.session_id == shown["session"] and again.state()["continued"]
    # the fills go on: every earlier one is still the session's, the new ones after them
    trades = again.trades(limit=10**7)
    ids = [t["id"] for t in trades]
    assert ids == sorted(set(ids)) and trades[:len(shown["trades"])] == shown["trades"]
    assert len(trades) > len(shown["trades"])
    assert again.snapshot()["global"]["total_trades"] == len(trades)
    # the P&L history goes on from where it was
    pnl = again.pnl_history(limit=10**7)
    assert pnl[:len(shown["pnl"])] == shown["pnl"] and len(pnl) > len(shown["pnl"])
    # the simulated market goes on from the last prices and the last time
    first_batch = heard[0]["batch"]
    last_prices = {p["coin"]: p["last_price"] for p in shown["account"]["positions"]}
    for index, coin in enumerate(heard[0]["coins"]):
        if coin in last_prices:
            price = first_batch.prices[first_batch.coin_ids == index][0]
            assert price == pytest.approx(last_prices[coin], rel=0.005)
    assert shown["clock"] <= first_batch.timestamps[0] < shown["clock"] + 60  # no gap


def test_stop_then_start_goes_on_in_the_same_process(engines: list[Engine]) -> None:
    engine = Engine(restore=False)
    engines.append(engine)
    register_four(engine)
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=3, max_ticks=20_000))
    assert engine.wait(60)
    before = engine.snapshot()["global"]
    held = engine.account()["positions"]
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=5, max_ticks=2_000))
    assert engine.wait(60)
    after = engine.snapshot()["global"]
    assert engine.state()["continued"]
    assert after["total_trades"] >= before["total_trades"]
    assert after["capital"] == before["capital"] and held


def test_a_new_session_closes_the_open_positions_in_the_last_one_at_its_last_prices(
        tmp_path: Path, engines: list[Engine]) -> None:
    """Each position is closed where it was opened: the last session's last fills, at its
    last prices and time; the new session begins flat, on its own clock."""
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    for sid in ("BTC_SMA_Crossover", "ETH_SMA_Crossover", "BTC_RSI", "ETH_RSI"):
        again.pause(sid)  # no fill of the new session's own
    again.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=4, max_ticks=1,
                             session=SessionChoice.NEW, positions=PositionsChoice.CLOSE))
    assert again.wait(60)
    assert again.session_id == shown["session"] + 1 and not again.state()["continued"]
    assert again.trades(limit=10) == [] and again.account()["positions"] == []
    held = shown["account"]["positions"]
    last = Journal(path).trades(shown["session"], limit=-1)
    assert last[:-len(held)] == shown["trades"]  # what it had, then the closing fills
    closing = last[-len(held):]
    assert [t["strategy_id"] for t in closing] == [p["strategy_id"] for p in held]
    last_id = shown["trades"][-1]["id"]
    for number, (fill, position) in enumerate(zip(closing, held, strict=True), 1):
        quantity = position["current_position"]
        entry_fee = next(t["fee"] for t in reversed(shown["trades"])
                         if t["strategy_id"] == position["strategy_id"])
        assert fill["id"] == last_id + number
        assert fill["action"] == "SELL" and fill["position_size"] == 0.0
        assert fill["price"] == position["last_price"]  # no slippage asked for
        assert fill["quantity"] == pytest.approx(quantity)
        assert fill["fee"] == pytest.approx(fill["price"] * quantity * FEE)
        assert fill["profit_loss"] == pytest.approx(
            (fill["price"] - position["entry_price"]) * quantity - entry_fee - fill["fee"])
        assert fill["timestamp"] == shown["clock"]


def test_a_new_session_carries_the_positions_over_at_their_entry_prices_across_a_restart(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    for sid in ("BTC_SMA_Crossover", "ETH_SMA_Crossover", "BTC_RSI", "ETH_RSI"):
        again.pause(sid)  # nothing trades: the carried positions stay as they came
    again.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=4, max_ticks=1,
                             session=SessionChoice.NEW, positions=PositionsChoice.CARRY))
    assert again.wait(60)
    carried = again.account()["positions"]
    keys = ("strategy_id", "current_position", "entry_price")
    assert [{k: p[k] for k in keys} for p in carried] == [
        {k: p[k] for k in keys} for p in shown["account"]["positions"]]
    assert all(p["carried"] for p in carried)
    whole = again.snapshot()["global"]
    assert whole["total_trades"] == 0 and whole["net_pnl"] == 0.0
    assert whole["equity"] == pytest.approx(sum(p["unrealized_pnl"] for p in carried))
    again.close()
    third = reopened(path, engines)
    assert third.account()["positions"] == carried


def test_a_replay_after_a_simulation_begins_a_new_session_and_closes_the_positions_first(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    sample = str(sample_data_dir() / "BTCUSD-1h-sample.csv")
    again.start(EngineConfig(source="csv", coins=["BTC"], csv_files={"BTC": sample},
                             max_ticks=10))
    assert again.wait(60)
    assert again.session_id == shown["session"] + 1 and not again.state()["continued"]
    held = shown["account"]["positions"]
    closing = Journal(path).trades(shown["session"], limit=-1)[-len(held):]
    assert all(t["position_size"] == 0.0 for t in closing)
    assert {t["strategy_id"] for t in closing} == {p["strategy_id"] for p in held}


@pytest.mark.parametrize(("config", "reason"), [
    (EngineConfig(source="csv", coins=["BTC"],
                  csv_files={"BTC": str(sample_data_dir() / "BTCUSD-1h-sample.csv")}),
     "the last session ran on simulated prices, not csv"),
    (EngineConfig(coins=["BTC"], sample_seconds=300.0), "sampled its equity every 60 s"),
])
def test_asking_to_go_on_where_the_market_does_not_is_refused_with_the_reason(
        tmp_path: Path, engines: list[Engine], config: EngineConfig, reason: str) -> None:
    path = tmp_path / "journal.sqlite3"
    a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    config.session = SessionChoice.CONTINUE
    with pytest.raises(EngineError, match=reason) as refused:
        again.start(config)
    assert "session=new" in str(refused.value)
    assert again.status == "stopped"


def test_there_is_no_session_to_go_on_with_on_a_fresh_journal(tmp_path: Path,
                                                             engines: list[Engine]) -> None:
    fresh = reopened(tmp_path / "journal.sqlite3", engines)
    with pytest.raises(EngineError, match="no session has run yet"):
        fresh.start(EngineConfig(coins=["BTC"], session=SessionChoice.CONTINUE))


def test_trading_stops_at_once_and_positions_close_one_by_one_or_all_while_running(
        engines: list[Engine]) -> None:
    engine = Engine(restore=False)
    engines.append(engine)
    register_four(engine)
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=4_000, seed=3, duration=60))
    for _ in range(5):
        wait_until(lambda: len(engine.account()["positions"]) >= 2, what="two open positions")
        paused = engine.pause_all()
        assert sorted(paused) == sorted(s["strategy_id"] for s in engine.strategies())
        assert {s["status"] for s in engine.strategies()} == {"paused"}
        assert engine.pause_all() == []  # nothing is left trading
        held = engine.account()["positions"]
        if len(held) >= 2:
            break
        # a batch in flight when the pause came closed one: trade on and try again (a loaded
        # machine can leave a whole batch between the wait and the pause)
        for strategy_id in paused:
            engine.resume(strategy_id)
    else:
        pytest.fail("the strategies never held two positions when paused")
    sid = held[0]["strategy_id"]
    fill = engine.close_position(sid)
    assert fill["strategy_id"] == sid and fill["position_size"] == 0.0
    assert fill["quantity"] == pytest.approx(held[0]["current_position"])
    wait_until(lambda: engine.trades(strategy_id=sid, after_id=fill["id"] - 1, limit=1),
               what="the closing fill in the journal")
    flattened = engine.flatten_all()
    assert [t["strategy_id"] for t in flattened] == [p["strategy_id"] for p in held[1:]]
    assert all(t["position_size"] == 0.0 for t in flattened)
    assert engine.account()["positions"] == []
    wait_until(lambda: engine.snapshot()["global"]["last_trade_id"] == flattened[-1]["id"],
               what="the figures to count the fills")
    fills = engine.snapshot()["global"]["total_trades"]
    engine.stop()
    assert engine.snapshot()["global"]["total_trades"] == fills  # paused: no fill since
    with pytest.raises(EngineError, match="holds no position"):
        engine.close_position(sid)


def test_closing_a_restored_position_while_stopped_is_journaled_in_its_session(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    sid = shown["account"]["positions"][0]["strategy_id"]
    fill = again.close_position(sid)
    assert fill["id"] == shown["trades"][-1]["id"] + 1 and again.session_id == shown["session"]
    again.close()
    third = reopened(path, engines)
    assert third.trades(limit=10**7)[-1] == fill
    assert sid not in {p["strategy_id"] for p in third.account()["positions"]}


def test_removing_a_strategy_that_holds_a_position_closes_it_with_a_fill(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    again = reopened(path, engines)
    held = shown["account"]["positions"][0]
    again.unregister(held["strategy_id"])
    fill = again.trades(limit=10**7)[-1]
    assert (fill["strategy_id"], fill["position_size"]) == (held["strategy_id"], 0.0)
    whole = again.snapshot()["global"]
    assert whole["total_trades"] == len(shown["trades"]) + 1
    # its realised P&L stays in the account; its unrealised P&L is gone with the position
    assert whole["net_pnl"] == pytest.approx(shown["snapshot"]["global"]["net_pnl"]
                                             + fill["profit_loss"])


def test_a_change_while_stopped_tells_every_view_the_new_figures(engines: list[Engine]) -> None:
    engine = Engine(restore=False)
    engines.append(engine)
    register_four(engine)
    heard: list[dict[str, Any]] = []
    engine.subscribe(lambda e: heard.append(e.data) if e.kind == EventKind.METRICS else None)
    engine.pause("BTC_RSI")
    assert heard[-1]["global"]["active_strategies"] == 3
    engine.unregister("ETH_RSI")
    assert heard[-1]["global"]["active_strategies"] == 2
    assert "ETH_RSI" not in heard[-1]["strategies"]


@pytest.mark.slow
def test_the_engine_in_its_own_process_restores_goes_on_and_closes_as_the_engine_does(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = a_session_with_open_positions(path, engines)
    hosted = HostedEngine(journal_path=str(path))  # the window's engine
    try:
        assert hosted.account() == shown["account"]
        assert hosted.session_settings()["coins"] == ["BTC", "ETH"]
        sid = shown["account"]["positions"][0]["strategy_id"]
        fill = hosted.close_position(sid)
        assert fill["strategy_id"] == sid and fill["position_size"] == 0.0
        hosted.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=4, max_ticks=2_000))
        assert hosted.wait(60)
        assert hosted.session_id == shown["session"] and hosted.state()["continued"]
        assert hosted.pause_all() == [s["strategy_id"] for s in hosted.strategies()]
        closed = hosted.flatten_all()
        assert not hosted.account()["positions"]
        assert {t["position_size"] for t in closed} <= {0.0}
    finally:
        hosted.close()
