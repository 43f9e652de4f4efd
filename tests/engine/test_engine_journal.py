"""Specification of the journal: SQLite in WAL mode, committed before anyone hears of a trade,
complete after the process is killed, and restoring the last session when reopened."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from live_engine_helpers import REPO
from support import wait_until

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.config import SessionChoice
from velocitas_desktop.engine.engine import Engine, EngineConfig, Event
from velocitas_desktop.paths import default_journal_path
from velocitas_desktop.store.journal import Journal

FAST_SMA = {"fast": 2, "slow": 3}


def journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


def journaled_ids(path: Path) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM trades")}


def test_the_default_journal_is_an_sqlite_wal_file_in_the_user_data_folder(home: Path) -> None:
    assert default_journal_path() == home / "data" / "journal.sqlite3"
    journal = Journal(default_journal_path())
    journal.close()
    assert journal_mode(home / "data" / "journal.sqlite3") == "wal"


def test_a_trade_is_committed_before_any_subscriber_hears_of_it(tmp_path: Path,
                                                                 engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    engine = Engine(journal=Journal(path))
    engines.append(engine)
    for coin in ("BTC", "ETH"):
        engine.register(StrategySpec("SMA_Crossover", coin, FAST_SMA))
    heard: list[int] = []
    missing: list[int] = []
    reader: dict[str, sqlite3.Connection] = {}

    def check(event: Event) -> None:
        if event.kind != "trades":
            return
        # another connection, as another process would see the file
        conn = reader.setdefault("conn", sqlite3.connect(path, check_same_thread=False))
        ids = [t["id"] for t in event.data]
        found = {row[0] for row in conn.execute(
            f"SELECT id FROM trades WHERE id IN ({','.join('?' * len(ids))})", ids)}
        heard.extend(ids)
        missing.extend(i for i in ids if i not in found)

    engine.subscribe(check)
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=4, max_ticks=20_000))
    assert engine.wait(60)
    reader["conn"].close()
    assert len(heard) > 1000
    assert missing == []


CHILD = textwrap.dedent('''
    import sys

    from velocitas_desktop.core.strategy import StrategySpec
    from velocitas_desktop.engine.engine import Engine, EngineConfig
    from velocitas_desktop.store.journal import Journal


    def tell(event):
        if event.kind == "trades":  # every trade id a subscriber receives, as it receives it
            sys.stdout.write("".join(f"{t['id']}\\n" for t in event.data))
            sys.stdout.flush()


    engine = Engine(journal=Journal(sys.argv[1]))
    for coin in ("BTC", "ETH"):
        engine.register(StrategySpec("SMA_Crossover", coin, {"fast": 2, "slow": 3}))
        engine.register(StrategySpec("RSI", coin, {"period": 3, "oversold": 45,
                                                   "overbought": 55}))
    engine.subscribe(tell)
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=20_000, seed=8))
    engine.wait()
''')


@pytest.mark.slow
def test_every_trade_a_subscriber_received_survives_a_sigkill_and_is_restored(
        tmp_path: Path, home: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=tmp_path,
                             env={**os.environ, "VELOCITAS_HOME": str(home),
                                  "PYTHONPATH": str(REPO)})
    watchdog = threading.Timer(60, child.kill)  # never hang the suite on a stuck child
    watchdog.start()
    try:
        received: list[int] = []
        assert child.stdout is not None
        while len(received) < 2000:
            line = child.stdout.readline()
            assert line, f"the child ended early: {child.stderr.read().decode() if child.stderr else ''}"
            received.append(int(line))
        os.kill(child.pid, signal.SIGKILL)  # mid-run: it is trading at 20,000 ticks/s
        rest = child.stdout.read().decode()
        child.wait(10)
    finally:
        watchdog.cancel()
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    complete = rest.split("\n")[:-1]  # a line cut by the kill has no newline: not received
    received.extend(int(line) for line in complete)

    assert set(received) <= journaled_ids(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # reopening restores the killed session: its strategies and every trade received
    engine = Engine(journal=Journal(path))
    engines.append(engine)
    assert [(s["strategy_id"], s["status"]) for s in engine.strategies()] == [
        ("BTC_SMA_Crossover", "active"), ("BTC_RSI", "active"),
        ("ETH_SMA_Crossover", "active"), ("ETH_RSI", "active")]
    restored = {t["id"] for t in engine.trades(limit=10**7)}
    assert set(received) <= restored
    assert engine.snapshot()["global"]["total_trades"] == len(restored)


def restorable(s: dict[str, Any]) -> dict[str, Any]:
    """The per-strategy figures a journal can rebuild exactly (not the tick-by-tick drawdown,
    the sampled Sharpe ratio, or the last price, which the journal does not keep)."""
    keys = ("strategy_id", "coin", "strategy_name", "total_trades", "winning_trades",
            "losing_trades", "current_position", "entry_price", "status", "params", "timeframe")
    sums = ("total_profit", "total_loss", "net_pnl", "fees")
    return {**{k: s[k] for k in keys}, **{k: pytest.approx(s[k]) for k in sums}}


def first_session(path: Path, engines: list[Engine]) -> dict[str, Any]:
    """A finished session on a fresh journal: what the engine showed when it was closed."""
    first = Engine(journal=Journal(path))
    engines.append(first)
    first.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA))
    first.register(StrategySpec("RSI", "ETH", {"period": 5, "oversold": 40, "overbought": 60}))
    first.register(StrategySpec("MACD", "BTC", {"fast": 3, "slow": 6, "signal": 2},
                                timeframe="5s", strategy_id="BTC_MACD_5s"))
    first.register(StrategySpec("Momentum", "ETH", {"period": 5}))
    first.pause("ETH_Momentum")
    first.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=21, start_time=0.0,
                             max_ticks=50_000))
    assert first.wait(60)
    shown = {"strategies": first.strategies(), "trades": first.trades(limit=10**7),
             "pnl": first.pnl_history(limit=10**7), "snapshot": first.snapshot()}
    first.close()
    assert len(shown["trades"]) > 500 and len(shown["pnl"]) > len(shown["trades"])
    return shown


def test_reopening_the_journal_restores_the_last_session(tmp_path: Path,
                                                         engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = first_session(path, engines)

    again = Engine(journal=Journal(path))
    engines.append(again)
    assert again.strategies() == shown["strategies"]
    assert [s["status"] for s in again.strategies()] == ["active", "active", "active", "paused"]
    assert [s["params"] for s in again.strategies()][2] == {"fast": 3, "slow": 6, "signal": 2,
                                                            "quantity": 0.0}
    assert again.trades(limit=10**7) == shown["trades"]
    snap, restored = shown["snapshot"], again.snapshot()
    assert restored["global"]["total_trades"] == snap["global"]["total_trades"]
    assert set(restored["strategies"]) == set(snap["strategies"])
    for sid, metrics in restored["strategies"].items():
        assert restorable(metrics) == restorable(snap["strategies"][sid])
    # the P&L history's clock samples (every 60 s of data, each strategy) are back
    pnl = again.pnl_history(limit=10**7)
    assert all(row in shown["pnl"] for row in pnl)
    assert {(r["timestamp"], r["strategy_id"]) for r in pnl} >= {
        (float(t), sid) for t in (60, 120, 180, 240) for sid in snap["strategies"]}

    # a new session continues the trade ids, and becomes the one restored next time
    again.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=22, max_ticks=5_000,
                             session=SessionChoice.NEW))
    assert again.wait(60)
    newer = again.trades(limit=10**7)
    assert newer and min(t["id"] for t in newer) > max(t["id"] for t in shown["trades"])
    again.close()
    third = Engine(journal=Journal(path))
    engines.append(third)
    assert third.trades(limit=10**7) == newer


def test_reopening_the_journal_restores_the_whole_pnl_history(tmp_path: Path,
                                                              engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    shown = first_session(path, engines)
    again = Engine(journal=Journal(path))
    engines.append(again)
    restored = again.pnl_history(limit=10**7)
    # every point comes back; restored in time order (the live history is in the order things
    # happened: a bar strategy's fill carries its bar's close time, ties fall by tick order)
    def content(row: dict[str, Any]) -> tuple:
        return row["timestamp"], row["strategy_id"], row["position"], row["pnl"]

    assert sorted(restored, key=content) == sorted(shown["pnl"], key=content)
    assert [row["timestamp"] for row in restored] == sorted(r["timestamp"] for r in restored)


def test_a_removed_strategy_is_not_restored(tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Engine(journal=Journal(path))
    engines.append(first)
    first.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA))
    first.register(StrategySpec("RSI", "BTC"))
    first.start(EngineConfig(coins=["BTC"], rate=4_000, seed=2, duration=60))
    wait_until(lambda: len(first.trades(strategy_id="BTC_SMA_Crossover")) > 10,
               what="the strategy to be removed to trade")
    first.unregister("BTC_SMA_Crossover")
    first.stop()
    shown = first.snapshot()
    first.close()
    again = Engine(journal=Journal(path))
    engines.append(again)
    assert [s["strategy_id"] for s in again.strategies()] == ["BTC_RSI"]
    assert set(again.snapshot()["strategies"]) == set(shown["strategies"]) == {"BTC_RSI"}
    assert again.snapshot()["global"]["total_trades"] == shown["global"]["total_trades"]
    # its trades stay in the session's list
    assert len(again.trades(strategy_id="BTC_SMA_Crossover", limit=10**7)) > 10
