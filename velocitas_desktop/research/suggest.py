"""Strategy suggestions backed by evidence: a walk-forward of every registered strategy's
default grid over the recent bars, kept only when it beat holding and cash out of sample.

The recent bars are cut into ``folds + 1`` equal windows. Fold *j* picks each strategy's best
parameters (by the ranking metric) on window *j − 1* and scores them on window *j*, so a
choice only ever sees bars before the window it is judged on. Each combination is backtested
once on every window, by the optimiser's own :func:`~research.optimize.run_chunk` in one
process pool (spawn) for all the strategies, the bars shared as memory-mapped files. The
method, exactly: docs/suggestions.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from velocitas_desktop.core import metrics
from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.core.ledger import DEFAULT_FEE
from velocitas_desktop.core.strategy import Strategy
from velocitas_desktop.core.types import INTERVAL_SECONDS, TIMEFRAMES, timeframe_seconds
from velocitas_desktop.research.backtest import (
    DEFAULT_CASH,
    DEFAULT_COIN,
    BacktestError,
    BarSeries,
    Costs,
    backtest,
    vector_fills_arrays,
)
from velocitas_desktop.research.optimize import (
    Chunk,
    OptimizeError,
    Window,
    default_grid,
    grid_combinations,
    lookahead_check,
    rank_rows,
    run_chunk,
    share_bars,
)
from velocitas_desktop.research.ranking import DEFAULT_METRIC, METRICS, RankingMetric
from velocitas_desktop.research.trend import TrendError

# A window must hold the slowest built-in's warm-up (MACD 51 + 17 at the top of its default
# grid) and still leave room to trade: below 100 bars a window is mostly warm-up.
MIN_WINDOW_BARS = 100
# Metrics read from daily returns: null below metrics.MIN_SHARPE_DAYS days in a window.
DAILY_METRICS = ("sharpe_ratio", "sortino_ratio", "calmar_ratio")
FALLBACK_METRIC = "total_return"
CHUNK_COMBOS = 32  # at most this many combinations per worker call: progress stays fine


class SuggestError(OptimizeError, TrendError):
    """Suggestions cannot run as asked (folds, bars, metric, a strategy name); the message
    says what to change. Both an OptimizeError and a TrendError: a caller catching either
    gets it."""


@dataclass(frozen=True, slots=True)
class SuggestSettings:
    """What the suggestions search over and how they judge it."""

    bars: int = 100_000           # the most recent bars used (all if fewer)
    folds: int = 4                # walk-forward folds
    metric: str = DEFAULT_METRIC  # a key of research.ranking.METRICS
    fee: float = DEFAULT_FEE
    strategies: tuple[str, ...] = ()  # () = every strategy in the catalog (built-in + user)
    top: int = 5                  # at most this many suggestions
    workers: int | None = None    # None: one process per core; 0: inline on this thread


class _Cancel(Protocol):
    def is_set(self) -> bool: ...


ProgressCallback = Callable[[int, int], None]


@dataclass(slots=True)
class _Plan:
    """One strategy's search: its class, where a worker finds it, its combinations."""

    name: str
    cls: type[Strategy]
    ref: Any
    combos: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    done: int = 0
    error: str = ""


def suggest(bars: Any, settings: SuggestSettings = SuggestSettings(), *, catalog: Any = None,
            timeframe: str | None = None, on_progress: ProgressCallback | None = None,
            cancel: _Cancel | None = None) -> dict[str, Any]:
    """The suggestions JSON (docs/suggestions.md) for ``bars``: a research.trend.Bars (or
    anything with ``time`` (bar open), ``close`` and ``interval``), or a BarSeries.

    ``on_progress(done, total)`` counts combinations backtested; a set ``cancel`` stops
    after the work in flight and the result covers the strategies that finished.
    Raises SuggestError for settings that cannot run (folds, bars, metric, strategy names).
    """
    began = time.perf_counter()
    _check(settings)
    series = _series(bars, settings.bars)
    windows = plan_folds(len(series), settings.folds)
    frame = _timeframe(series, timeframe)
    metric, warnings = _metric(settings.metric, series, windows)
    if catalog is None:
        from velocitas_desktop.catalog import load_catalog

        catalog = load_catalog()
    plans, skipped = _plans(catalog, settings, series, windows)
    total = sum(len(plan.combos) for plan in plans)
    progress = on_progress or (lambda done, total: None)
    progress(0, total)
    workers = (os.cpu_count() or 1) if settings.workers is None else settings.workers
    cancelled = _dispatch(plans, series, windows, settings.fee, workers, progress, total,
                          cancel)
    result = {"bars": len(series), "timeframe": frame, "folds": settings.folds,
              "metric": metric.key, "requested_metric": settings.metric, "fee": settings.fee,
              "from": float(series.stamps[0] - series.interval),
              "to": float(series.stamps[-1] - series.interval),
              "windows": [_window_json(series, w) for w in windows],
              **_evidence(plans, skipped, series, windows, metric, settings, frame),
              "warnings": warnings, "combinations": total,
              "completed": sum(plan.done for plan in plans), "cancelled": cancelled}
    result["verdict"] = _verdict(result)
    result["elapsed_s"] = time.perf_counter() - began
    return finite_or_none(result)


def _evidence(plans: Sequence[_Plan], skipped: list[dict[str, str]], series: BarSeries,
              windows: Sequence[Window], metric: RankingMetric, settings: SuggestSettings,
              frame: str | None) -> dict[str, Any]:
    """Holding's figures, the suggestions, the rejected, the skipped and the look-ahead
    checks, from the finished rows."""
    hold = [_hold(series.slice(w.start, w.stop), settings.fee) for w in windows]
    candidates = []
    for plan in plans:
        if plan.error or plan.done < len(plan.combos):
            skipped.append({"strategy": plan.name, "reason": plan.error or
                            "cancelled before its grid finished"})
            continue
        candidate = _walk_forward(plan, series, windows, metric, settings.fee, hold)
        candidate["timeframe"] = frame  # what Apply registers it on
        candidates.append(candidate)
    items, rejected = _judge(candidates, metric, hold)
    lookahead = _lookahead(items, rejected, plans, series)
    items = items[:settings.top]
    for ranked in (items, rejected):
        for rank, item in enumerate(ranked, start=1):
            item["rank"] = rank
    return {"hold": {"return_pct": _hold(series, settings.fee)["return_pct"],
                     "oos_return_pct": _compound(h["return_pct"] for h in hold[1:]),
                     "fees": sum(h["fees"] for h in hold[1:])},
            "verdict": "", "items": items, "rejected": rejected, "skipped": skipped,
            "lookahead": lookahead}


# --- checks and inputs --------------------------------------------------------------------

def _check(settings: SuggestSettings) -> None:
    if isinstance(settings.folds, bool) or not isinstance(settings.folds, int) \
            or settings.folds < 1:
        raise SuggestError(f"folds must be a whole number of at least 1 (got "
                           f"{settings.folds!r})")
    if isinstance(settings.bars, bool) or not isinstance(settings.bars, int) \
            or settings.bars < 1:
        raise SuggestError(f"bars must be a whole number of at least 1 (got "
                           f"{settings.bars!r})")
    if settings.metric not in METRICS:
        raise SuggestError(f"unknown metric {settings.metric!r}: choose one of "
                           f"{', '.join(METRICS)}")
    if not (isinstance(settings.fee, int | float) and 0.0 <= settings.fee < 1.0):
        raise SuggestError(f"the fee must be a fraction from 0 to 1, like 0.001 (got "
                           f"{settings.fee!r})")
    if not isinstance(settings.top, int) or settings.top < 1:
        raise SuggestError(f"top must be at least 1 (got {settings.top!r})")
    if settings.workers is not None and settings.workers < 0:
        raise SuggestError("workers must be 0 or more")


def _series(bars: Any, count: int) -> BarSeries:
    """The last ``count`` bars as the backtester replays them: closes at close times."""
    if isinstance(bars, BarSeries):
        series = bars
    else:
        try:
            close = np.asarray(bars.close, dtype=np.float64)
            opened = np.asarray(bars.time, dtype=np.float64)
            interval = float(bars.interval)
        except (AttributeError, TypeError, ValueError):
            raise SuggestError("suggestions need bars with time, close and interval "
                               "(research.trend.Bars)") from None
        if not (interval > 0 and math.isfinite(interval)):
            raise SuggestError(f"the bars' interval must be a positive number of seconds "
                               f"(got {interval})")
        try:
            series = BarSeries.from_arrays(close, opened + interval, interval)
        except BacktestError as exc:
            raise SuggestError(str(exc)) from None
    if len(series) > count:
        series = series.slice(len(series) - count, len(series))
    if not np.all(np.isfinite(series.prices)) or not np.all(series.prices > 0):
        raise SuggestError("the bars' closes must be finite prices above zero")
    return series


def plan_folds(bars: int, folds: int) -> list[Window]:
    """``folds + 1`` equal windows (the last takes the remainder): fold *j* is fitted on
    window ``j − 1`` and scored on window ``j``; the last window is also what Apply's
    parameters are fitted on."""
    size = bars // (folds + 1)
    if size < MIN_WINDOW_BARS:
        raise SuggestError(f"too few bars for {folds} folds: {folds + 1} windows of at least "
                           f"{MIN_WINDOW_BARS} bars need {(folds + 1) * MIN_WINDOW_BARS:,} "
                           f"bars, and there are {bars:,} (use fewer folds or more bars)")
    return [Window(f"w{i}", i * size, bars if i == folds else (i + 1) * size)
            for i in range(folds + 1)]


def _timeframe(series: BarSeries, timeframe: str | None) -> str | None:
    """The timeframe a strategy registered from a suggestion decides on: the bars' own."""
    if timeframe is not None:
        try:
            seconds = timeframe_seconds(timeframe)
        except ValueError as exc:
            raise SuggestError(str(exc)) from None
        if seconds != series.interval:
            raise SuggestError(f"timeframe {timeframe!r} is {seconds:g} s but the bars are "
                               f"{series.interval:g} s apart: resample them first")
        return timeframe
    return next((name for name, seconds in INTERVAL_SECONDS.items()
                 if seconds == series.interval and name in TIMEFRAMES), None)


def _metric(key: str, series: BarSeries, windows: Sequence[Window]
            ) -> tuple[RankingMetric, list[str]]:
    """The metric folds are ranked by, and why it is not the one asked for, if it is not."""
    if key not in DAILY_METRICS:
        return METRICS[key], []
    shortest = min(windows, key=lambda w: w.stop - w.start)
    stamps = series.stamps[shortest.start:shortest.stop]
    days = metrics.daily_closes(stamps, np.ones(stamps.shape[0]), 1.0).shape[0] - 1
    if days >= metrics.MIN_SHARPE_DAYS:
        return METRICS[key], []
    fallback = METRICS[FALLBACK_METRIC]
    return fallback, [f"{METRICS[key].title} needs {metrics.MIN_SHARPE_DAYS} daily returns in "
                      f"a window and each window spans {days}: folds are ranked by "
                      f"{fallback.title.lower()} instead (more bars or fewer folds keep it)"]


def _plans(catalog: Any, settings: SuggestSettings, series: BarSeries,
           windows: Sequence[Window]) -> tuple[list[_Plan], list[dict[str, str]]]:
    """Each strategy's combinations; one that cannot be searched is skipped with why."""
    names = list(settings.strategies) or catalog.names()
    unknown = [name for name in names if name not in catalog.names()]
    if unknown:
        raise SuggestError(f"unknown strategy {unknown[0]!r}: available strategies are "
                           f"{', '.join(catalog.names()) or 'none'}")
    plans, skipped = [], []
    first = series.slice(windows[0].start, windows[0].stop)
    for name in dict.fromkeys(names):
        info = catalog.info(name)
        try:
            combos = grid_combinations(info.cls, default_grid(info.cls))
            # the same checks a backtest makes, before any work is sent out
            backtest(info.cls, first, combos[0], fee=settings.fee)
        except Exception as exc:  # a trader's own strategy may raise anything
            skipped.append({"strategy": name, "reason": str(exc) or type(exc).__name__})
            continue
        plans.append(_Plan(name, info.cls, info.ref, combos, []))
    return plans, skipped


# --- the work ---------------------------------------------------------------------------

def _chunks(plans: Sequence[_Plan], windows: Sequence[Window], fee: float, workers: int,
            total: int, inline: bool) -> list[tuple[_Plan, Chunk]]:
    size = max(1, min(CHUNK_COMBOS, math.ceil(total / max(1, workers * 8))))
    return [(plan, Chunk(plan.cls if inline else plan.ref, tuple(plan.combos[i:i + size]),
                         tuple(windows), fee, 0.0, DEFAULT_CASH, DEFAULT_COIN, True))
            for plan in plans for i in range(0, len(plan.combos), size)]


def _dispatch(plans: Sequence[_Plan], series: BarSeries, windows: Sequence[Window],
              fee: float, workers: int, progress: ProgressCallback, total: int,
              cancel: _Cancel | None) -> bool:
    """Backtest every combination of every plan on every window; True if cancelled.

    One pool for all the strategies: a pool per strategy would pay the workers' start (about
    a second with spawn) once per strategy."""
    stopped = (lambda: False) if cancel is None else cancel.is_set
    tally = _Tally(total, progress)
    work = _chunks(plans, windows, fee, workers, total, inline=workers == 0)
    if workers == 0:
        for plan, chunk in work:
            if stopped():
                return True
            tally.record(plan, chunk, _run_inline(plan, chunk, series))
        return stopped()
    folder = tempfile.mkdtemp(prefix="velocitas-suggest-")
    try:
        shared = share_bars(series, folder)
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(run_chunk, chunk, shared): (plan, chunk)
                       for plan, chunk in work}
            pending = set(futures)
            while pending:
                finished, pending = cf.wait(pending, timeout=0.1,
                                            return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    tally.record(*futures[future], future.exception() or future.result())
                if stopped():
                    pool.shutdown(wait=True, cancel_futures=True)
                    return True
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return False


def _run_inline(plan: _Plan, chunk: Chunk, series: BarSeries) -> list | BaseException | None:
    if plan.error:  # one failed batch already skips the strategy: no more of its work
        return None
    try:
        return run_chunk(chunk, series)
    except Exception as exc:  # one strategy's failure skips it, not the others
        return exc


class _Tally:
    """Each batch's rows onto its strategy, and the progress callback."""

    def __init__(self, total: int, progress: ProgressCallback) -> None:
        self.done, self.total, self.progress = 0, total, progress

    def record(self, plan: _Plan, chunk: Chunk, outcome: list | BaseException | None) -> None:
        if isinstance(outcome, BaseException):
            plan.error = plan.error or f"its backtest failed: {outcome}"
        elif outcome is not None:
            plan.rows.extend(outcome)
            plan.done += len(chunk.combos)
        self.done += len(chunk.combos)
        self.progress(self.done, self.total)


# --- the evidence -------------------------------------------------------------------------

def _hold(bars: BarSeries, fee: float) -> dict[str, float]:
    """Buy at the first close, sell at the last, each leg paying the fee: the ledger's own
    arithmetic (research.backtest.vector_fills_arrays) on the starting cash."""
    fills = vector_fills_arrays(np.array([0, len(bars) - 1]), np.array([True, False]),
                                np.array([math.nan, math.nan]), bars,
                                Costs(fee, 0.0, DEFAULT_CASH), "hold", DEFAULT_COIN, "hold")
    assert fills is not None
    return {"return_pct": fills.realized / DEFAULT_CASH * 100.0, "fees": fills.fees}


def _settled(stats: dict[str, Any], last_close: float, fee: float) -> dict[str, Any]:
    """A window's figures with a position still open at its end sold at the last close,
    paying the fee, as holding pays on its way out."""
    position = float(stats["open_position"] or 0.0)
    exit_fee = abs(position) * last_close * fee
    return {"return_pct": (stats["final_equity"] - exit_fee - DEFAULT_CASH) / DEFAULT_CASH * 100,
            "trades": int(stats["total_trades"]) + (1 if position else 0),
            "fees": float(stats["fees"]) + exit_fee}


def _walk_forward(plan: _Plan, series: BarSeries, windows: Sequence[Window],
                  metric: RankingMetric, fee: float, hold: Sequence[dict[str, float]]
                  ) -> dict[str, Any]:
    """A strategy's folds (best on window j − 1, scored on window j) and their totals."""
    stat, lower = metric.stat, not metric.higher_is_better
    folds = []
    for j in range(1, len(windows)):
        fitted, scored = windows[j - 1], windows[j]
        best = rank_rows(plan.rows, stat, lower, fitted.label)[0]
        out = best["windows"][scored.label]
        settled = _settled(out, float(series.prices[scored.stop - 1]), fee)
        folds.append({
            "fold": j, "params": best["params"],
            "in_sample_score": _number(best["windows"][fitted.label][stat]),
            "out_of_sample_score": _number(out[stat]),
            "oos_return_pct": settled["return_pct"], "trades": settled["trades"],
            "fees": settled["fees"], "hold_return_pct": hold[j]["return_pct"],
            "in_sample": _span(series, fitted), "out_of_sample": _span(series, scored)})
    last = windows[-1]
    fit = rank_rows(plan.rows, stat, lower, last.label)[0]
    return {
        "rank": 0, "strategy": plan.name, "params": fit["params"], "timeframe": None,
        "in_sample_score": _mean(f["in_sample_score"] for f in folds),
        "out_of_sample_score": _mean(f["out_of_sample_score"] for f in folds),
        "oos_return_pct": _compound(f["oos_return_pct"] for f in folds),
        "trades": sum(f["trades"] for f in folds), "fees": sum(f["fees"] for f in folds),
        "fitted_on": {**_span(series, last), "bars": last.stop - last.start,
                      "score": _number(fit["windows"][last.label][stat])},
        "combinations": len(plan.combos), "folds": folds}


def _judge(candidates: list[dict[str, Any]], metric: RankingMetric,
           hold: Sequence[dict[str, float]]) -> tuple[list[dict], list[dict]]:
    """Best out of sample first; suggested only if it beat holding and cash after fees."""
    hold_return = _compound(h["return_pct"] for h in hold[1:])

    def key(item: dict[str, Any]) -> tuple[int, float, float]:
        score = item["out_of_sample_score"]
        if score is None:
            return (1, 0.0, -item["oos_return_pct"])
        return (0, score if not metric.higher_is_better else -score, -item["oos_return_pct"])

    items, rejected = [], []
    for item in sorted(candidates, key=key):
        item["hold_return_pct"] = hold_return
        item["beats_hold"] = item["oos_return_pct"] > hold_return
        item["beats_cash"] = item["oos_return_pct"] > 0.0
        if item["beats_hold"] and item["beats_cash"]:
            items.append(item)
        else:
            item["reason"] = _shortfall(item)
            rejected.append(item)
    return items, rejected


def _lookahead(items: list[dict[str, Any]], rejected: list[dict[str, Any]],
               plans: Sequence[_Plan], series: BarSeries) -> list[dict[str, Any]]:
    """The project's look-ahead check on each suggested strategy with its parameters; one
    that fails it is no suggestion (its out-of-sample figures saw the future) and goes last
    among the rejected, whose first is then the best honest candidate."""
    classes = {plan.name: plan.cls for plan in plans}
    reports = []
    for item in list(items):
        report = lookahead_check(classes[item["strategy"]], series, item["params"])
        reports.append({"strategy": item["strategy"], **report.to_dict()})
        if not report.ok:
            items.remove(item)
            item["reason"] = report.message
            item["lookahead"] = False
            rejected.append(item)
    return reports


def _shortfall(item: dict[str, Any]) -> str:
    made, held = item["oos_return_pct"], item["hold_return_pct"]
    if not item["beats_cash"] and not item["beats_hold"]:
        return f"made {made:+.2f}% out of sample: less than holding ({held:+.2f}%) and cash (0%)"
    if not item["beats_cash"]:
        return f"made {made:+.2f}% out of sample: less than cash (0%)"
    return f"made {made:+.2f}% out of sample: less than holding ({held:+.2f}%)"


def _verdict(result: dict[str, Any]) -> str:
    """Empty when something is suggested; else why not, in plain words."""
    if result["items"]:
        return ""
    held = result["hold"]["oos_return_pct"]
    stop = " (cancelled before the end)" if result["cancelled"] else ""
    if not result["rejected"]:
        reasons = "; ".join(f"{s['strategy']}: {s['reason']}" for s in result["skipped"])
        return f"No strategy could be evaluated{stop}: {reasons or 'none is registered'}."
    best = result["rejected"][0]
    if best.get("lookahead") is False:  # every candidate that beat both peeked ahead
        names = ", ".join(r["strategy"] for r in result["rejected"])
        return (f"Nothing can be suggested{stop}: {names} beat holding and cash out of sample "
                "but failed the look-ahead check (their signals change when later bars are "
                "added, so their figures used data a trader would not have had).")
    params = ", ".join(f"{k}={_plain(v)}" for k, v in best["params"].items()
                       if not (k == "quantity" and v == 0))
    return (f"Nothing beat holding or cash out of sample after fees{stop}: the best, "
            f"{best['strategy']} ({params}), made {best['oos_return_pct']:+.2f}% over "
            f"{result['folds']} out-of-sample windows ({best['trades']} trades, "
            f"{best['fees']:,.2f} in fees) against {held:+.2f}% for holding and 0% for cash.")


def _window_json(series: BarSeries, window: Window) -> dict[str, Any]:
    return {"window": window.label, "bars": window.stop - window.start,
            **_span(series, window)}


def _span(series: BarSeries, window: Window) -> dict[str, float]:
    """First and last bar open times of a window (the report's convention)."""
    return {"from": float(series.stamps[window.start] - series.interval),
            "to": float(series.stamps[window.stop - 1] - series.interval)}


def _number(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _mean(values: Any) -> float | None:
    finite = [v for v in values if v is not None]
    return sum(finite) / len(finite) if finite else None


def _compound(returns_pct: Any) -> float:
    growth = 1.0
    for value in returns_pct:
        growth *= 1.0 + value / 100.0
    return (growth - 1.0) * 100.0


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


__all__ = ["MIN_WINDOW_BARS", "SuggestError", "SuggestSettings", "plan_folds", "suggest"]
