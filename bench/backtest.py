"""Benchmark of backtests and a parameter grid: Velocitas against backtesting.py and vectorbt.

One run, in one process, on a seeded random walk generated here (1,000,000 hourly bars; the
grid uses its first 100,000). Every engine runs the same rule: SMA crossover, long-only, one
unit, filled at the signal bar's close, no fees. Each engine's final equity (or best grid
equity) is checked against Velocitas's before its time is shown. Imports and data set-up are
not timed; the times are the best of ``--repeat`` runs (backtesting.py: one run, it is slow).

    python bench/backtest.py [--bars 1000000] [--grid-bars 100000] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from velocitas_desktop.research.backtest import BarSeries, backtest
from velocitas_desktop.research.optimize import OptimizationJob, OptimizeSettings

if __name__ != "__mp_main__":  # the optimiser's spawned workers need no other library
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's bars would garble the table
    import pandas as pd
    from backtesting import Backtest
    from backtesting import Strategy as BtStrategy
    from backtesting.lib import crossover

FAST = list(range(5, 50, 5))
SLOW = list(range(20, 200, 20))
COMBOS = [(f, s) for f in FAST for s in SLOW if f < s]  # 73
CASH = 1e9  # enough that no engine ever cuts an order for cash


def random_walk(n: int, seed: int = 42) -> BarSeries:
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    stamps = 1_500_000_000.0 + 3600.0 * np.arange(1, n + 1)
    return BarSeries.from_arrays(prices, stamps)


def best_of(repeat: int, fn: Callable[[], float], label: str = "") -> tuple[float, float]:
    """(best seconds, the value fn returned) over ``repeat`` calls."""
    best, value = float("inf"), float("nan")
    for _ in range(repeat):
        began = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - began)
    print(f"  {label}: {best:.3f} s", file=sys.stderr, flush=True)
    return best, value


# --- Velocitas ------------------------------------------------------------------------

def velocitas_single(bars: BarSeries, fast_path: bool) -> float:
    result = backtest("SMA_Crossover", bars, {"fast": 10, "slow": 20}, fee=0.0, cash=CASH,
                      fast=fast_path)
    return result.stats["final_equity"]


def velocitas_grid(bars: BarSeries, fast_path: bool, workers: int) -> float:
    settings = OptimizeSettings("SMA_Crossover", {"fast": FAST, "slow": SLOW}, fee=0.0,
                                cash=CASH, metric="final_equity", workers=workers,
                                fast=fast_path, check_lookahead=False)
    result = OptimizationJob(settings, bars).run()
    assert result["completed"] == len(COMBOS)
    return result["results"][0]["stats"]["final_equity"]


# --- backtesting.py -------------------------------------------------------------------

def _rolling_mean(values: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(values).rolling(n).mean().to_numpy()


def _bt_frame(bars: BarSeries) -> pd.DataFrame:
    close = bars.prices
    return pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close},
                        index=pd.to_datetime(bars.stamps, unit="s"))


if __name__ != "__mp_main__":

    class SmaCross(BtStrategy):
        """backtesting.py's form of the rule (module level: its optimiser pickles it)."""

        fast = 10
        slow = 20

        def init(self) -> None:
            self.fast_ma = self.I(_rolling_mean, self.data.Close, self.fast)
            self.slow_ma = self.I(_rolling_mean, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.fast_ma, self.slow_ma):
                if not self.position:
                    self.buy(size=1)
            elif crossover(self.slow_ma, self.fast_ma) and self.position:
                self.position.close()


def backtestingpy_single(frame: pd.DataFrame) -> float:
    run = Backtest(frame, SmaCross, cash=CASH, trade_on_close=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = run.run(fast=10, slow=20)
    return float(stats["Equity Final [$]"])


def backtestingpy_grid(frame: pd.DataFrame) -> float:
    run = Backtest(frame, SmaCross, cash=CASH, trade_on_close=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = run.optimize(fast=FAST, slow=SLOW, constraint=lambda p: p.fast < p.slow,
                             maximize="Equity Final [$]")
    return float(stats["Equity Final [$]"])


# --- vectorbt -------------------------------------------------------------------------

def vectorbt_run(close: pd.Series, fast: list[int], slow: list[int]) -> float:
    import vectorbt as vbt

    fast_ma = vbt.MA.run(close, window=fast, short_name="fast")
    slow_ma = vbt.MA.run(close, window=slow, short_name="slow")
    entries = fast_ma.ma_crossed_above(slow_ma)
    exits = fast_ma.ma_crossed_below(slow_ma)
    portfolio = vbt.Portfolio.from_signals(close, entries, exits, size=1.0, fees=0.0,
                                           init_cash=CASH, freq="1h")
    values = portfolio.final_value()
    return float(np.max(np.asarray(values)))


# --- the table ------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--grid-bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-backtestingpy", action="store_true")
    args = parser.parse_args(argv)

    bars = random_walk(args.bars)
    grid_bars = bars.slice(0, args.grid_bars)
    rows: list[tuple[str, str, float, float]] = []  # task, engine, seconds, equity

    def measure(task: str, engine: str, repeat: int, fn: Callable[[], float]) -> None:
        seconds, equity = best_of(repeat, fn, engine)
        rows.append((task, engine, seconds, equity))

    single = f"one SMA(10,20) backtest, {len(bars):,} bars"
    grid = f"grid of {len(COMBOS)} combos, {len(grid_bars):,} bars"
    velocitas_single(bars.slice(0, 1000), True)  # import the strategy modules untimed

    measure(single, "Velocitas fast path (Strategy.run)", args.repeat,
            lambda: velocitas_single(bars, True))
    measure(single, "Velocitas incremental (update per price)", args.repeat,
            lambda: velocitas_single(bars, False))
    rows += _vectorbt_rows(single, bars, [10], [20], args.repeat)
    if not args.skip_backtestingpy:
        frame = _bt_frame(bars)
        measure(single, "backtesting.py 0.6.6 (1 run)", 1, lambda: backtestingpy_single(frame))

    for workers in (0, args.workers):
        label = "inline" if workers == 0 else f"{workers} processes"
        measure(grid, f"Velocitas fast path, {label}", args.repeat,
                lambda w=workers: velocitas_grid(grid_bars, True, w))
    for workers in (0, args.workers):
        label = "inline" if workers == 0 else f"{workers} processes"
        measure(grid, f"Velocitas incremental, {label} (1 run)", 1,
                lambda w=workers: velocitas_grid(grid_bars, False, w))
    rows += _vectorbt_rows(grid, grid_bars, [f for f, _ in COMBOS], [s for _, s in COMBOS],
                           args.repeat)
    if not args.skip_backtestingpy:
        frame = _bt_frame(grid_bars)
        measure(grid, "backtesting.py 0.6.6 optimize (1 run)", 1,
                lambda: backtestingpy_grid(frame))

    _print_table(rows)
    return 0


def _vectorbt_rows(task: str, bars: BarSeries, fast: list[int], slow: list[int],
                   repeat: int) -> list[tuple[str, str, float, float]]:
    try:
        import vectorbt  # noqa: F401
    except ImportError as exc:
        print(f"vectorbt not measured: {exc}", file=sys.stderr)
        return []
    close = pd.Series(bars.prices, index=pd.to_datetime(bars.stamps, unit="s"))
    began = time.perf_counter()
    vectorbt_run(close.iloc[:1000], fast[:2], slow[:2])  # numba compiles on first use
    jit = time.perf_counter() - began
    seconds, equity = best_of(repeat, lambda: vectorbt_run(close, fast, slow), "vectorbt")
    return [(task, f"vectorbt 1.2.0 (after a {jit:.1f} s JIT warm-up)", seconds, equity)]


def _print_table(rows: list[tuple[str, str, float, float]]) -> None:
    print(f"\nBars: a seeded random walk generated in bench/backtest.py (numpy default_rng(42),"
          f" log-normal steps of 1 %); no fees; 1 unit per trade. Python "
          f"{sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} cores.\n")
    print("| task | engine | seconds | vs fastest other library | best final equity agrees |")
    print("|---|---|---|---|---|")
    for task in dict.fromkeys(r[0] for r in rows):
        group = [r for r in rows if r[0] == task]
        reference = group[0][3]
        others = {r[1].split()[0]: r[2] for r in group if not r[1].startswith("Velocitas")}
        for _, engine, seconds, equity in group:
            ratios = ", ".join(f"{other / seconds:.2f}× {name}"
                               for name, other in others.items())
            agrees = "yes" if abs(equity - reference) <= 1e-6 * abs(reference) else (
                f"no ({equity:.6f} vs {reference:.6f})")
            print(f"| {task} | {engine} | {seconds:.3f} | "
                  f"{ratios if engine.startswith('Velocitas') else ''} | {agrees} |")


if __name__ == "__main__":
    sys.exit(main())
