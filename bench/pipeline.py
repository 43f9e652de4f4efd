"""Benchmark of the live pipeline (feed → strategies → ledger → journal), printed as one table.

Runs, in one process, on the simulated feed with 2 coins and the 4 built-ins on each coin:
  * end-to-end ticks/s at maximum speed for workers = 0, 2 and 4 (>= 1,000,000 ticks each);
  * tick-to-fill latency p50/p99 at a paced 10,000 ticks/s (feed produced → trade journaled
    and published to subscribers);
  * the baseline: a naive implementation of the seed's sketch (one executor.submit per tick per
    strategy, metrics in a multiprocessing.Manager dict under a Manager lock).

    python bench/pipeline.py [--ticks 1000000] [--naive-ticks 2000] [--paced-seconds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from velocitas_desktop.catalog import load_catalog
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.simulated import SimulatedFeed
from velocitas_desktop.store.journal import Journal

COINS = ["BTC", "ETH"]


def engine_run(workers: int, ticks: int, rate: float | None, folder: str,
               seconds: float | None = None) -> Engine:
    engine = Engine(journal=Journal(os.path.join(folder, f"bench-{workers}-{rate}.sqlite")),
                    restore=False)
    for coin in COINS:
        for name in engine.catalog.names():
            engine.register(StrategySpec(name, coin))
    engine.start(EngineConfig(coins=COINS, rate=rate, workers=workers, seed=42,
                              max_ticks=ticks, duration=seconds, start_time=0.0))
    engine.wait()
    return engine


# --- the seed's sketch, naively --------------------------------------------------------

def naive_step(strategy, price):  # runs in a pool process: state travels with every call
    signal = strategy.update(price)
    return strategy, signal


def naive_run(ticks: int) -> tuple[float, int]:
    catalog = load_catalog()
    strategies = {(coin, name): catalog.create(StrategySpec(name, coin))
                  for coin in COINS for name in catalog.names()}
    feed = SimulatedFeed(COINS, seed=42, max_ticks=ticks, start_time=0.0)
    coin_ids, prices, _ = feed.take(ticks)
    manager = mp.Manager()
    metrics = manager.dict(total_trades=0, ticks=0)
    lock = manager.Lock()
    long = {key: False for key in strategies}  # the sketch only needs the side, not the size
    start = time.perf_counter()
    with ProcessPoolExecutor(4, mp_context=mp.get_context("spawn")) as pool:
        for coin_id, price in zip(coin_ids.tolist(), prices.tolist(), strict=True):
            coin = COINS[coin_id]
            futures = {key: pool.submit(naive_step, strategy, price)
                       for key, strategy in strategies.items() if key[0] == coin}
            for key, future in futures.items():
                strategy, signal = future.result()
                strategies[key] = strategy
                if signal is not None:
                    buy = signal.action.value == "BUY"
                    if buy != long[key]:
                        long[key] = buy
                        with lock:
                            metrics["total_trades"] += 1
            with lock:
                metrics["ticks"] += 1
    elapsed = time.perf_counter() - start
    trades = metrics["total_trades"]
    manager.shutdown()
    return ticks / elapsed, trades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--naive-ticks", type=int, default=2_000)
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, str, str]] = []
    folder = tempfile.mkdtemp(prefix="velocitas-bench-")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}")
    print(f"engine: 2 coins x 4 built-ins (tick timeframe), journal on, {args.ticks:,} ticks\n",
          flush=True)

    naive_tps, naive_trades = naive_run(args.naive_ticks)
    rows.append(("naive seed sketch (submit per tick, Manager dict)", f"{args.naive_ticks:,}",
                 f"{naive_tps:,.0f}", "1.0x", f"{naive_trades:,} trades"))
    best = 0.0
    for workers in (0, 2, 4):
        engine = engine_run(workers, args.ticks, None, folder)
        snap = engine.snapshot()["global"]
        tps = engine.ticks_per_second
        best = max(best, tps)
        rows.append((f"Velocitas, max speed, workers={workers}", f"{engine.ticks_processed:,}",
                     f"{tps:,.0f}", f"{tps / naive_tps:,.0f}x", f"{snap['total_trades']:,} trades"))
        engine.close()
    for workers in (0, 2):
        engine = engine_run(workers, None, 10_000.0, folder, seconds=args.paced_seconds)
        fills = list(engine.latency.fills)
        p50 = float(np.percentile(fills, 50)) if fills else float("nan")
        p99 = float(np.percentile(fills, 99)) if fills else float("nan")
        rows.append((f"Velocitas, paced 10,000 ticks/s, workers={workers}",
                     f"{engine.ticks_processed:,}", f"{engine.ticks_per_second:,.0f}", "",
                     f"tick-to-fill p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(fills):,} fills)"))
        engine.close()
    widths = [max(len(r[i]) for r in [*rows, HEADER]) for i in range(5)]
    for row in (HEADER, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
    print("\nThe paced rate is the simulated market's average: its first hours (midnight UTC) are quiet,"
          "\nso a paced run delivers less than 10,000 ticks/s (docs/simulation.md, Coins and rates).")
    print(f"\nbest end-to-end: {best:,.0f} ticks/s = {best / naive_tps:,.0f}x the naive baseline"
          " (targets: >= 200,000 ticks/s, >= 50x)")
    return 0


HEADER = ("run", "ticks", "ticks/s", "vs naive", "notes")

if __name__ == "__main__":
    raise SystemExit(main())
