"""Benchmark of the trend analysis, printed as one table.

Bars: 1,000,000 one-minute bars of a seeded random walk generated here (numpy default_rng(42),
1% an hour, wicks of half a bar's deviation). Rows:
  * the full analysis without suggestions (``analyze``) over four timeframes, 1m, 1h, 4h and 1d
    (resampling, ADX/DI, regression, moving averages, volatility percentiles, variance ratio and
    Hurst, levels and breakouts, the JSON report);
  * the baseline, in the same process: pandas ``resample`` to 1h, 4h and 1d plus TA-Lib's ADX,
    +DI, -DI, ATR and three SMAs and a pandas rolling deviation on each timeframe (the indicator
    part of the work only, done the usual way); its last ADX must agree with ours.
  * the suggestions (``research.suggest.suggest``) with their default settings: a 4-fold
    walk-forward of the four built-ins' default grids (1,094 combinations) over the last
    ``--suggest-bars`` bars, in ``--workers`` processes (spawn; the pool's start is timed),
    with a progress callback; and the same inline, in one process, as the baseline.
Data set-up and imports are not timed; each time is the best of ``--repeat`` runs (the inline
suggestions: of ``--suggest-repeat``). The machine is shared, so the load average is printed
with the table.

    python bench/trend.py [--bars 1000000] [--repeat 5] [--suggest-bars 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from velocitas_desktop.research.suggest import SuggestSettings, suggest
from velocitas_desktop.research.trend import Bars, analyze

TIMEFRAMES = ("1m", "1h", "4h", "1d")
RULES = {"1h": "1h", "4h": "4h", "1d": "1D"}  # pandas' names of the coarser timeframes
TARGET_SECONDS = 1.0  # issue #16: the full analysis of 1,000,000 minutes in at most 1 s
SUGGEST_TARGET_SECONDS = 10.0  # issue #16: suggestions over the last 100,000 bars in <= 10 s


@dataclass(frozen=True, slots=True)
class Row:
    task: str
    implementation: str
    seconds: float
    bars: int
    baseline: float | None = None  # seconds of the row this one is compared with
    check: str = ""


def minute_bars(count: int, seed: int = 42) -> Bars:
    rng = np.random.default_rng(seed)
    sigma = 0.01 * math.sqrt(60.0 / 3600.0)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, count)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    wicks = np.abs(rng.normal(0.0, sigma / 2, (2, count)))
    high = np.maximum(open_, close) * np.exp(wicks[0])
    low = np.minimum(open_, close) * np.exp(-wicks[1])
    start = 1_600_000_000.0 - 1_600_000_000.0 % 86_400
    return Bars.from_arrays(start + 60.0 * np.arange(count), open_, high, low, close,
                            rng.uniform(1.0, 10.0, count), 60.0)


def best_of(repeat: int, fn: Callable[[], object], label: str) -> tuple[float, object]:
    """(best seconds, what fn returned) over ``repeat`` calls."""
    best, value = math.inf, None
    for _ in range(repeat):
        began = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - began)
    print(f"  {label}: {best:.3f} s", file=sys.stderr, flush=True)
    return best, value


# --- the analysis --------------------------------------------------------------------------

def full_analysis(bars: Bars) -> dict:
    report = analyze(bars, TIMEFRAMES, source="bench")
    return report.to_json()


def pandas_talib_baseline(bars: Bars) -> dict[str, float]:
    """The indicator work of the analysis the usual way; returns each timeframe's last ADX."""
    import pandas as pd
    import talib

    frame = pd.DataFrame({"open": bars.open, "high": bars.high, "low": bars.low,
                          "close": bars.close, "volume": bars.volume},
                         index=pd.to_datetime(bars.time, unit="s"))
    frames = {"1m": frame}
    for name, rule in RULES.items():
        frames[name] = frame.resample(rule).agg({"open": "first", "high": "max", "low": "min",
                                                 "close": "last", "volume": "sum"}).dropna()
    last_adx = {}
    for name, data in frames.items():
        high, low, close = (data[c].to_numpy() for c in ("high", "low", "close"))
        adx = talib.ADX(high, low, close, 14)
        talib.PLUS_DI(high, low, close, 14)
        talib.MINUS_DI(high, low, close, 14)
        talib.ATR(high, low, close, 14)
        for period in (20, 50, 200):
            talib.SMA(close, period)
        np.log(data["close"]).diff().rolling(30).std()
        last_adx[name] = float(adx[-1])
    return last_adx


def analysis_rows(bars: Bars, repeat: int) -> list[Row]:
    full_analysis(bars.tail(10_000))  # first calls (imports, caches) untimed
    task = f"trend analysis, {len(bars):,} 1m bars, timeframes {', '.join(TIMEFRAMES)}"
    ours, report = best_of(repeat, lambda: full_analysis(bars), "analyze")
    json.dumps(report, allow_nan=False)  # the report must be valid JSON, no NaN
    rows = [Row(task, "Velocitas analyze() + to_json(), no suggestions", ours, len(bars))]
    try:
        import talib  # noqa: F401
    except ImportError as exc:
        print(f"baseline not measured: {exc}", file=sys.stderr)
        return rows
    baseline, last_adx = best_of(repeat, lambda: pandas_talib_baseline(bars), "baseline")
    ours_adx = {tf["timeframe"]: tf["adx"]["adx"] for tf in report["timeframes"]}
    agree = all(abs(ours_adx[name] - value) < 0.01 for name, value in last_adx.items())
    check = "last ADX agrees" if agree else f"ADX differs: {ours_adx} vs {last_adx}"
    rows[0] = Row(task, rows[0].implementation, ours, len(bars), baseline, check)
    rows.append(Row(task, "baseline: pandas resample + TA-Lib ADX/DI/ATR/SMA + rolling std "
                          "(indicators only)", baseline, len(bars)))
    return rows


# --- the suggestions -----------------------------------------------------------------------

def suggestions(bars: Bars, workers: int) -> tuple[dict, list[tuple[int, int]]]:
    """One suggest() with its defaults, and every progress call it made."""
    calls: list[tuple[int, int]] = []
    result = suggest(bars, SuggestSettings(bars=len(bars), workers=workers),
                     on_progress=lambda done, total: calls.append((done, total)))
    return result, calls


def suggestion_rows(bars: Bars, count: int, workers: int, repeat: int,
                    inline_repeat: int) -> list[Row]:
    recent = bars.tail(count)
    task = (f"suggestions: {SuggestSettings().folds}-fold walk-forward, four built-ins' "
            f"default grids, last {len(recent):,} 1m bars")
    pooled, (result, calls) = best_of(repeat, lambda: suggestions(recent, workers),
                                      f"suggest, {workers} workers")
    json.dumps(result, allow_nan=False)  # valid JSON, no NaN
    done, total = calls[-1]
    check = (f"{result['combinations']:,} combinations, progress {done:,}/{total:,} in "
             f"{len(calls)} calls, ranked by {result['metric']}; "
             f"{len(result['items'])} suggested" + ("" if result["items"] else
                                                    " (verdict: nothing beat hold or cash)"))
    rows = [Row(task, f"Velocitas suggest(), {workers} worker processes (spawn, one pool)",
                pooled, len(recent), None, check)]
    if inline_repeat:
        inline, _ = best_of(inline_repeat, lambda: suggestions(recent, 0), "suggest, inline")
        rows[0] = Row(task, rows[0].implementation, pooled, len(recent), inline, check)
        rows.append(Row(task, "baseline: the same suggest() inline (workers=0, one process)",
                        inline, len(recent)))
    return rows


# --- the table -----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--suggest-bars", type=int, default=100_000,
                        help="the most recent bars the suggestions search (0: none)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="the suggestions' worker processes")
    parser.add_argument("--suggest-repeat", type=int, default=1,
                        help="runs of the inline suggestions baseline (0: skip it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_before = os.getloadavg()[0]
    bars = minute_bars(args.bars)
    rows = analysis_rows(bars, args.repeat)
    if args.suggest_bars:
        rows += suggestion_rows(bars, args.suggest_bars, args.workers, args.repeat,
                                args.suggest_repeat)
    print_table(rows, load_before)
    return 0


def print_table(rows: list[Row], load_before: float) -> None:
    import pandas as pd

    print(f"\nBars: a seeded random walk of one-minute bars generated in bench/trend.py "
          f"(numpy default_rng(42)). Best of the repeats. Python {sys.version.split()[0]}, "
          f"numpy {np.__version__}, pandas {pd.__version__}, {os.cpu_count()} cores, load "
          f"average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after (a shared "
          "machine).\n")
    print("| task | implementation | seconds | bars/s | vs baseline | check |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        ratio = f"{row.baseline / row.seconds:.2f}×" if row.baseline else ""
        print(f"| {row.task} | {row.implementation} | {row.seconds:.3f} | "
              f"{row.bars / row.seconds:,.0f} | {ratio} | {row.check} |")
    analysis = [row for row in rows if row.implementation.startswith("Velocitas analyze")]
    if analysis:
        verdict = "within" if analysis[0].seconds <= TARGET_SECONDS else "OVER"
        print(f"\nFull analysis: {analysis[0].seconds:.3f} s, {verdict} the "
              f"{TARGET_SECONDS:g} s target.")
    pooled = [row for row in rows if row.implementation.startswith("Velocitas suggest")]
    if pooled:
        verdict = "within" if pooled[0].seconds <= SUGGEST_TARGET_SECONDS else "OVER"
        print(f"Suggestions: {pooled[0].seconds:.3f} s, {verdict} the "
              f"{SUGGEST_TARGET_SECONDS:g} s target.")


if __name__ == "__main__":
    sys.exit(main())
