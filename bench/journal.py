"""Benchmark of the journal: bytes per fill, the engine's speed with it, and pruning's pauses.

  * a plain session (2 coins x the 4 built-ins, simulated at maximum speed, workers=0):
    ticks/s, fills, bytes on disk after close and bytes per fill;
  * the writer alone: fills/s committed in batches of 2,000;
  * pruning while writing: how long record() waits while old sessions are deleted
    (p50/p99/max, against the same writes with no pruning);
  * the one-time upgrade of a layout-1 journal (built here with layout 1's tables), per
    million fills.

    python bench/journal.py [--ticks 1000000] [--fills 1000000]

It uses only ``Journal``'s and ``Engine``'s public calls, so the same file measures an older
checkout for a before/after comparison (the parts an older journal lacks are skipped).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.store.journal import Journal

COINS = ["BTC", "ETH"]
BATCH = 2_000

# Layout 1 (up to the compact layout): what an older Velocitas left on users' disks.
LAYOUT_1 = """
CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL,
    config TEXT NOT NULL DEFAULT '{}');
CREATE TABLE strategies (session_id INTEGER NOT NULL, strategy_id TEXT NOT NULL,
    spec TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',
    removed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (session_id, strategy_id));
CREATE TABLE trades (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL, coin TEXT NOT NULL, strategy TEXT NOT NULL,
    action TEXT NOT NULL, price REAL NOT NULL, quantity REAL NOT NULL,
    timestamp REAL NOT NULL, profit_loss REAL NOT NULL, position_size REAL NOT NULL,
    fee REAL NOT NULL);
CREATE INDEX trades_by_session ON trades (session_id, id);
CREATE INDEX trades_by_strategy ON trades (strategy_id, id);
CREATE TABLE pnl_history (session_id INTEGER NOT NULL, timestamp REAL NOT NULL,
    strategy_id TEXT NOT NULL, pnl REAL NOT NULL, position REAL NOT NULL);
CREATE INDEX pnl_by_session ON pnl_history (session_id, timestamp);
"""


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def plain_session(folder: Path, ticks: int) -> tuple[float, int, int]:
    """ticks/s, fills and bytes on disk of one session at maximum speed."""
    path = folder / "session.sqlite3"
    engine = Engine(journal=Journal(path), restore=False)
    for coin in COINS:
        for name in engine.catalog.names():
            engine.register(StrategySpec(name, coin))
    engine.start(EngineConfig(coins=COINS, rate=None, seed=42, max_ticks=ticks,
                              start_time=0.0))
    engine.wait()
    tps, fills = engine.ticks_per_second, engine.snapshot()["global"]["total_trades"]
    engine.close()
    return tps, fills, disk_bytes(path)


def synthetic_trades(count: int, first_id: int = 1) -> list[Trade]:
    rng = np.random.default_rng(7)
    prices = 50_000 + rng.normal(0, 50, count).cumsum()
    trades = []
    for i, price in enumerate(prices.tolist()):
        coin = COINS[i % 2]
        name = ("SMA_Crossover", "Momentum", "RSI", "MACD")[(i // 2) % 4]
        opening = (i // 8) % 2 == 0
        trades.append(Trade(first_id + i, f"{coin}_{name}", coin, name,
                            "BUY" if opening else "SELL", price, 1.0, 1.7e9 + i * 0.01,
                            0.0 if opening else float(rng.normal(0, 20)),
                            1.0 if opening else 0.0, price * 0.001))
    return trades


def session(journal: Journal, trades: list[Trade]) -> None:
    journal.begin_session({"source": "simulated", "coins": COINS})
    for i in range(0, len(trades), BATCH):
        journal.record(trades[i:i + BATCH])


def writer_alone(folder: Path, fills: int) -> float:
    journal = Journal(folder / "writer.sqlite3")
    trades = synthetic_trades(fills)
    began = time.perf_counter()
    session(journal, trades)
    elapsed = time.perf_counter() - began
    journal.close()
    return fills / elapsed


def waits_while_pruning(folder: Path, fills: int) -> tuple[np.ndarray, np.ndarray] | None:
    """record() times (ms) of 1,000-fill batches, with and without old sessions being
    deleted meanwhile; None for a journal without retention."""
    if "retention" not in inspect.signature(Journal).parameters:
        return None
    from velocitas_desktop.store.retention import Retention

    path = folder / "prune.sqlite3"
    journal = Journal(path)
    next_id = 1
    for _ in range(4):  # four old sessions to delete
        trades = synthetic_trades(fills // 4, next_id)
        session(journal, trades)
        next_id += len(trades)
    journal.close()

    batches = [synthetic_trades(1_000, next_id + i * 1_000) for i in range(2_000)]

    def timed_writes(batches: list[list[Trade]], go_on: threading.Event) -> np.ndarray:
        times = []
        for batch in batches:
            began = time.perf_counter()
            journal.record(batch)
            times.append((time.perf_counter() - began) * 1000)
            time.sleep(0.002)  # the engine's writer commits a batch every few ms
            if not go_on.is_set():
                break
        return np.array(times)

    journal = Journal(path, retention=Retention(keep_sessions=1, keep_gb=0))
    journal.begin_session({"source": "simulated", "coins": COINS})
    pruning_runs, always = threading.Event(), threading.Event()
    pruning_runs.set()
    always.set()
    threading.Thread(target=lambda: (journal.wait_for_pruning(), pruning_runs.clear())).start()
    pruning = timed_writes(batches, pruning_runs)
    quiet = timed_writes(batches[len(pruning):][:max(len(pruning), 100)], always)
    journal.close()
    return quiet, pruning


def upgrade_seconds_per_million(folder: Path, fills: int) -> float | None:
    path = folder / "layout1.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(LAYOUT_1)
    conn.execute("INSERT INTO sessions (started, config) VALUES (1.7e9, '{}')")
    rows = [(t.id, 1, *t[1:]) for t in synthetic_trades(fills)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO trades VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    conn.close()
    began = time.perf_counter()
    Journal(path).close()
    elapsed = time.perf_counter() - began
    with sqlite3.connect(path) as conn:
        upgraded = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'fills'"
                                ).fetchone()[0]
    return elapsed / fills * 1e6 if upgraded else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--fills", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="velocitas-bench-journal-"))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"SQLite {sqlite3.sqlite_version}\n", flush=True)

    tps, fills, size = plain_session(folder, args.ticks)
    print(f"session, max speed, workers=0: {tps:,.0f} ticks/s, {fills:,} fills, "
          f"{size / 1e6:,.1f} MB on disk = {size / max(fills, 1):.1f} bytes per fill")
    print(f"writer alone: {writer_alone(folder, args.fills):,.0f} fills/s committed "
          f"in batches of {BATCH:,}")
    waits = waits_while_pruning(folder, args.fills)
    if waits is not None:
        for label, times in zip(("no pruning", "while pruning"), waits, strict=True):
            print(f"record() of 1,000 fills, {label}: p50 {np.percentile(times, 50):.1f} ms, "
                  f"p99 {np.percentile(times, 99):.1f} ms, max {times.max():.1f} ms")
    per_million = upgrade_seconds_per_million(folder, args.fills)
    if per_million is not None:
        print(f"upgrading a layout-1 journal: {per_million:.1f} s per million fills")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
