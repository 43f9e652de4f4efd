"""Benchmark of what the live trend costs the engine: ticks/s with it on and off, as one table.

Sessions at maximum speed, each run alternately without and with the live trend
(Engine(live_trend=False/True)), the journal on, 2 coins, workers=0:
  * simulated, 4 built-ins on each coin: the pipeline bench's market (bench/pipeline.py),
    minutes closing as its clock runs;
  * csv replay, 4 built-ins on each coin, and with no strategy (the fastest hot path, so the
    trend's share is the largest): two files of one-minute bars replayed on their
    open-high-low-close path, so a minute closes every 4 prices of a coin, tens of thousands
    of times a second of wall clock: the worst case for anything woken by closing bars. The
    files are longer than the 30 days of minutes a session holds, so the analyses run on
    full-size candles.
Each pair of runs is made back to back, alternating which goes first, and the loss is the
median of the pairs' ratios, because the machine is shared (its load average is printed): its
load drifts over minutes, and single runs vary by more than the effect. Beside ticks per second of wall clock, ticks per second of the
process's processor time: what the trend takes from trading whatever else the machine runs.

    python bench/live_trend.py [--ticks 1000000] [--bars 60000] [--fast-bars 300000]
                               [--repeat 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.engine.trend import BUDGET, MIN_SECONDS, live_timeframes
from velocitas_desktop.store.journal import Journal

COINS = ["BTC", "ETH"]
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


@dataclass
class Runs:
    """The runs of one scenario with the live trend off or on."""

    rates: list[float] = field(default_factory=list)     # ticks/s
    per_cpu: list[float] = field(default_factory=list)   # ticks per processor second
    analyses: list[int] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)      # the trend thread's seconds
    cpu: list[float] = field(default_factory=list)       # ... of processor time
    seconds: list[float] = field(default_factory=list)   # the sessions' run time
    events: list[int] = field(default_factory=list)      # TREND events

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def paired(on: list[float], off: list[float]) -> tuple[float, float, float]:
    """The median ratio of runs made back to back (the i-th of each kind), and the first and
    third quartiles of those ratios (the spread the machine's load gives them)."""
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    low, _, high = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), low, high


def write_minutes(path: str, bars: int, seed: int) -> None:
    """One-minute bars of a random walk (0.05% a minute), as a plain csv file."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, bars)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.0003, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.0003, bars))
    rows = np.column_stack([T0 + 60.0 * np.arange(bars), open_, high, low, close,
                            rng.uniform(1, 50, bars)])
    np.savetxt(path, rows, fmt="%.10g", delimiter=",",
               header="timestamp,open,high,low,close,volume", comments="")


def run_once(config: EngineConfig, strategies: bool, live_trend: bool, folder: str,
             runs: Runs) -> None:
    journal = Journal(os.path.join(folder, f"bench-{len(runs.rates)}-{live_trend}.sqlite"))
    engine = Engine(journal=journal, restore=False, live_trend=live_trend)
    events = [0]
    engine.subscribe(lambda event: events.__setitem__(0, events[0] + (event.kind == "trend")))
    for coin in COINS if strategies else ():
        for name in engine.catalog.names():
            engine.register(StrategySpec(name, coin))
    engine.start(config)
    engine.wait()
    session = engine._session
    assert session is not None
    runs.rates.append(engine.ticks_per_second)
    runs.per_cpu.append(engine.ticks_processed / session.run_cpu_seconds)
    runs.seconds.append(session.run_seconds)
    runs.events.append(events[0])
    # what the trend took while the session traded (not its last reports, made after)
    cost = session.trend.cost_while_trading if session.trend is not None else None
    if cost is not None:
        runs.analyses.append(cost.analyses)
        runs.busy.append(cost.wall_seconds)
        runs.cpu.append(cost.cpu_seconds)
    engine.close()
    os.remove(journal.path)  # tens of MB each, over dozens of runs


def scenario(config: EngineConfig, strategies: bool, repeat: int,
             folder: str) -> tuple[Runs, Runs]:
    off, on = Runs(), Runs()
    for i in range(repeat):
        # alternate which goes first, so a drift in the machine's load favours neither
        for live_trend in ((False, True) if i % 2 == 0 else (True, False)):
            run_once(config, strategies, live_trend, folder, on if live_trend else off)
            print(".", end="", flush=True)
    return off, on


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=1_000_000,
                        help="ticks of each simulated run")
    parser.add_argument("--bars", type=int, default=60_000,
                        help="one-minute bars in each replayed file (4 prices each)")
    parser.add_argument("--fast-bars", type=int, default=300_000,
                        help="one-minute bars in each file of the no-strategy replay (faster, "
                             "so longer for a run of seconds)")
    parser.add_argument("--repeat", type=int, default=8, help="runs of each kind")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="velocitas-bench-trend-") as folder:
        return bench(args, folder)


def bench(args: argparse.Namespace, folder: str) -> int:
    live_timeframes(3600.0)  # the analyzer is imported once a process: not in the first run
    files: dict[str, dict[str, str]] = {args.bars: {}, args.fast_bars: {}}
    for bars, named in files.items():
        for seed, coin in enumerate(COINS):
            named[coin] = os.path.join(folder, f"{coin}-1m-{bars}.csv")
            write_minutes(named[coin], bars, seed)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python "
          f"{sys.version.split()[0]}, numpy {np.__version__}")
    print(f"engine: {len(COINS)} coins, workers=0, journal on; live trend: "
          f"each coin at most every {MIN_SECONDS:g} s, analyses within {BUDGET:.0%} of a core")
    simulated = EngineConfig(coins=COINS, rate=None, workers=0, seed=42,
                             max_ticks=args.ticks, start_time=0.0)
    def replay(bars: int) -> EngineConfig:
        return EngineConfig(source="csv", coins=COINS, csv_files=files[bars], ohlc_path=True)

    scenarios = {
        f"simulated, {args.ticks:,} ticks, 4 built-ins a coin": (simulated, True),
        f"csv replay, 2 x {args.bars:,} 1m bars (OHLC path), 4 built-ins a coin":
            (replay(args.bars), True),
        f"csv replay, 2 x {args.fast_bars:,} 1m bars (OHLC path), no strategy":
            (replay(args.fast_bars), False),
    }
    rows = []
    for name, (config, strategies) in scenarios.items():
        print(f"{name} ", end="", flush=True)
        off, on = scenario(config, strategies, args.repeat, folder)
        print()
        seconds = sum(on.seconds)
        ratio, low, high = paired(on.rates, off.rates)
        cpu_ratio, cpu_low, cpu_high = paired(on.per_cpu, off.per_cpu)
        rows.append((name, f"{statistics.median(off.seconds):.1f}",
                     f"{off.median:,.0f}", f"{on.median:,.0f}",
                     f"{ratio:.3f} ({low:.2f}-{high:.2f})", f"{100 * (1 - ratio):+.1f}%",
                     f"{statistics.median(off.per_cpu):,.0f}",
                     f"{statistics.median(on.per_cpu):,.0f}",
                     f"{100 * (1 - cpu_ratio):+.1f}% ({100 * (1 - cpu_high):+.0f} to "
                     f"{100 * (1 - cpu_low):+.0f})",
                     f"{sum(on.analyses) / seconds:.2f}/s",
                     f"{100 * sum(on.busy) / seconds:.1f}% / {100 * sum(on.cpu) / seconds:.1f}%",
                     f"{statistics.median(on.events):.0f}",
                     " ".join(f"{r / 1000:.0f}k" for r in off.rates) + " | "
                     + " ".join(f"{r / 1000:.0f}k" for r in on.rates)))
    header = ("session", "run s", "off ticks/s", "on ticks/s", "on/off (quartiles)", "loss",
              "off ticks/cpu-s", "on ticks/cpu-s", "cpu loss", "analyses",
              "trend wall / cpu", "TREND events", "each run's ticks/s, off | on")
    widths = [max(len(str(r[i])) for r in [*rows, header]) for i in range(len(header))]
    print()
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))
    print(f"""
on/off = the median of the ratios of runs made back to back (their quartiles in brackets);
loss = 1 - on/off, of wall-clock ticks/s and of ticks per processor second (target: <= 5%);
trend wall / cpu = the trend thread's wall-clock and processor seconds over the sessions' run
time (budget {BUDGET:.0%} of wall clock). Load average now {os.getloadavg()[0]:.1f}.""")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
