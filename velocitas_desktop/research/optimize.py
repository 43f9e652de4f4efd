"""The optimiser: grid or random search of a strategy's parameters, in parallel, ranked.

An :class:`OptimizationJob` checks everything before any work starts (file, strategy, ranges,
metric, size), then runs one backtest per parameter combination in a process pool (spawn), on
a Dask cluster (``executor="dask://HOST:PORT"``) or inline (``workers=0``). Workers share the
bars: the process pool maps one ``.npy`` file per column from a temporary folder (each worker
sees the same pages, read-only), Dask gets them scattered once to each worker.

The job object is what a CLI, a server route or a Qt tab drives: ``start()`` runs it on a
thread, ``progress`` and the ``on_progress`` callback (called on that thread) report done/total,
``cancel()`` stops it between chunks, ``wait()``/``result`` give the ranked rows.

Scores side by side: with ``in_sample < 1`` each combination is also backtested on the later
part of the data it was not ranked on; with ``walk_forward = k`` the data is cut into k+1 equal
windows and fold j picks the best combination on window j and scores it on window j+1.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from velocitas_desktop.core.errors import ParameterError, VelocitasError
from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.core.indicators import shared_results
from velocitas_desktop.core.ledger import DEFAULT_FEE
from velocitas_desktop.core.strategy import Param, Strategy, grid_values
from velocitas_desktop.research.backtest import (
    DEFAULT_CASH,
    DEFAULT_COIN,
    MIN_BARS,
    BacktestError,
    BarSeries,
    backtest,
    decide,
    resolve_strategy,
)
from velocitas_desktop.research.ranking import DEFAULT_METRIC, METRICS, RankingMetric

MAX_COMBINATIONS = 100_000
# stats kept per window in a result row (numbers only: rows cross process boundaries);
# open_position lets the trend suggestions charge the sale of a position open at a window's end
ROW_STATS = ("final_equity", "total_return_pct", "net_pnl", "total_trades", "closed_trades",
             "win_rate", "max_drawdown", "max_drawdown_pct", "sharpe_ratio", "sortino_ratio",
             "calmar_ratio", "profit_factor", "expectancy", "exposure_pct", "fees",
             "open_position")


class OptimizeError(VelocitasError, ValueError):
    """An optimisation cannot start as asked; the message says what to change."""


class JobStatus(StrEnum):
    """Where an optimisation job is in its life; the API replies with these strings."""

    READY = "ready"          # checked, not started
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"  # stopped early: the rows it finished are in its result
    ERROR = "error"

    @property
    def ended(self) -> bool:
        return self in (JobStatus.FINISHED, JobStatus.CANCELLED, JobStatus.ERROR)


# --- ranges and grids -------------------------------------------------------------------

def parse_range(text: str) -> tuple[str, list[float]]:
    """``name=lo:hi:step`` (hi included when on a step), ``name=v1,v2,...`` or ``name=v``."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise OptimizeError(f"grid {text!r}: write it as NAME=LO:HI:STEP, like fast=5:50:5")
    try:
        if ":" in spec:
            parts = [float(p) for p in spec.split(":")]
            if len(parts) != 3:
                raise OptimizeError(f"grid {text!r}: a range is LO:HI:STEP, like fast=5:50:5")
            low, high, step = parts
            if low > high:
                raise OptimizeError(f"grid {text!r}: low {low:g} is above high {high:g}")
            if not step > 0:
                raise OptimizeError(f"grid {text!r}: the step must be positive")
            if (high - low) / step + 1 > MAX_COMBINATIONS:
                raise OptimizeError(f"grid {text!r}: more than {MAX_COMBINATIONS:,} values")
            values = grid_values(low, high, step, float)
        else:
            values = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError as exc:
        if isinstance(exc, OptimizeError):
            raise
        raise OptimizeError(f"grid {text!r}: values must be numbers") from None
    if not values:
        raise OptimizeError(f"grid {text!r} has no values")
    return name, [int(v) if float(v).is_integer() else v for v in values]


def _typed_grid(cls: type[Strategy], grid: Mapping[str, Sequence[Any]]) -> dict[str, list]:
    """The grid with names checked against the strategy and values coerced to their types."""
    unknown = [name for name in grid if name not in cls.params]
    if unknown:
        known = ", ".join(cls.params)
        raise OptimizeError(f"{cls.name} has no parameter {unknown[0]!r} (its parameters: "
                            f"{known})")
    typed: dict[str, list] = {}
    for name, values in grid.items():
        values = list(values)
        if not values:
            raise OptimizeError(f"the grid of {name} is empty")
        param = cls.params[name]
        try:
            typed[name] = list(dict.fromkeys(param.coerce(v) for v in values))
        except ParameterError as exc:
            raise OptimizeError(f"grid of {name}: {exc}") from None
    return typed


# Values per parameter in the search an optimisation starts with when it is given no ranges.
# The declared bounds say what a value may be, not what is worth trying: searched whole,
# SMA_Crossover's are 499 × 1,998 = 997,002 combinations and RSI's 220,059, over the 100,000
# limit. About ten values each keeps every built-in's first search at 560 combinations or
# fewer (MACD's: 0.9 s on the 5,000-bar sample, two workers). The command line, the API and
# the window's tab all start from it.
SEARCH_VALUES = 10


def search_range(param: Param) -> tuple[float, float, float] | None:
    """``(first, last, step)`` of a parameter's default search: about ``SEARCH_VALUES``
    values from half its default to twice it (from its lowest value up, for a default of
    zero), within its bounds, on a step that is a multiple of its declared one, and through
    the default itself, so the search can only find the default or better. None for a
    parameter held at its default: a switch, or one without a step and both bounds."""
    if param.type is bool or param.step is None or param.low is None or param.high is None:
        return None
    default, declared = float(param.default), float(param.step)
    if default > 0:
        low, high = default / 2, default * 2
    else:
        low, high = default, default + (SEARCH_VALUES - 1) * declared
    low, high = max(low, float(param.low)), min(high, float(param.high))
    step = math.ceil((high - low) / (SEARCH_VALUES - 1) / declared - 1e-9) * declared
    step = max(step, declared)
    below = math.floor((default - low) / step + 1e-9)
    above = math.floor((high - default) / step + 1e-9)
    return (round(default - below * step, 10), round(default + above * step, 10),
            round(step, 10))


def searched_by_default(name: str, param: Param) -> bool:
    """Whether a search without ranges varies this parameter: those that declare a step,
    but never the order size (``quantity``), which changes what is traded, not the rule."""
    return param.step is not None and name != "quantity"


def default_grid(cls: type[Strategy]) -> dict[str, list]:
    """The search an optimisation runs when it is given no ranges: each parameter that
    :func:`searched_by_default` over its :func:`search_range`; the others at their default."""
    grid: dict[str, list] = {}
    for name, param in cls.params.items():
        if not searched_by_default(name, param):
            continue
        span = search_range(param)
        grid[name] = [False, True] if param.type is bool else (
            [param.default] if span is None else grid_values(*span, param.type))
    return grid


def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    return math.prod(len(v) for v in grid.values()) if grid else 0


def grid_combinations(cls: type[Strategy], grid: Mapping[str, Sequence[Any]],
                      fixed: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every valid combination (constraints such as ``fast < slow`` applied), in grid order.

    Raises OptimizeError for an empty grid, a grid over MAX_COMBINATIONS, or one that no
    combination of which passes the strategy's checks.
    """
    typed = _typed_grid(cls, grid)
    size = grid_size(typed)
    if size == 0:
        raise OptimizeError("the grid is empty: give at least one --grid NAME=LO:HI:STEP")
    if size > MAX_COMBINATIONS:
        raise OptimizeError(f"the grid has {size:,} combinations; the limit is "
                            f"{MAX_COMBINATIONS:,} (use wider steps or --random N)")
    base = _check_fixed(cls, fixed, typed)
    combos = [dict(c) for c in cls.iter_grid({**{k: [v] for k, v in base.items()}, **typed})]
    if not combos:
        raise OptimizeError(_no_valid_message(cls, typed))
    return combos


def random_combinations(cls: type[Strategy], grid: Mapping[str, Sequence[Any]], count: int,
                        seed: int | None = None,
                        fixed: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """``count`` distinct valid combinations drawn uniformly from the grid's values.

    Fewer when the grid holds fewer valid combinations. Never enumerates the whole grid.
    """
    if not 1 <= count <= MAX_COMBINATIONS:
        raise OptimizeError(f"--random must be between 1 and {MAX_COMBINATIONS:,}")
    typed = _typed_grid(cls, grid)
    if grid_size(typed) == 0:
        raise OptimizeError("the grid is empty: give at least one --grid NAME=LO:HI:STEP")
    if grid_size(typed) <= max(4 * count, 10_000):  # small: sample the valid ones exactly
        combos = grid_combinations(cls, typed, fixed)
        return random.Random(seed).sample(combos, min(count, len(combos)))
    base = _check_fixed(cls, fixed, typed)
    rng = random.Random(seed)
    seen: dict[tuple, dict[str, Any]] = {}
    attempts = 0
    while len(seen) < count and attempts < 50 * count:
        attempts += 1
        pick = {**base, **{name: rng.choice(values) for name, values in typed.items()}}
        try:
            params = cls.validate_params(pick)
        except ParameterError:
            continue
        seen.setdefault(tuple(params.values()), params)
    if not seen:
        raise OptimizeError(_no_valid_message(cls, typed))
    return list(seen.values())


def _check_fixed(cls: type[Strategy], fixed: Mapping[str, Any] | None,
                 typed: Mapping[str, list]) -> dict[str, Any]:
    fixed = dict(fixed or {})
    unknown = [name for name in fixed if name not in cls.params]
    if unknown:
        raise OptimizeError(f"{cls.name} has no parameter {unknown[0]!r}")
    try:
        return {name: cls.params[name].coerce(v) for name, v in fixed.items() if name not in typed}
    except ParameterError as exc:
        raise OptimizeError(str(exc)) from None


def _no_valid_message(cls: type[Strategy], grid: Mapping[str, list]) -> str:
    first = {name: values[0] for name, values in grid.items()}
    try:
        cls.validate_params(first)
        reason = ""
    except ParameterError as exc:
        reason = f" (e.g. {exc})"
    return f"no combination of the grid is valid for {cls.name}{reason}"


# --- windows ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Window:
    """A slice of the bars a combination is scored on."""

    label: str  # "in_sample", "out_of_sample", "wf1_in", "wf1_out", ...
    start: int
    stop: int


def plan_windows(bars: int, in_sample: float = 1.0, walk_forward: int = 0) -> list[Window]:
    """The windows every combination is backtested on (see the module docstring)."""
    if not 0.0 < in_sample <= 1.0:
        raise OptimizeError(f"the in-sample share must be above 0 and at most 1 (got "
                            f"{in_sample})")
    if walk_forward < 0:
        raise OptimizeError("walk-forward folds must be 0 or more")
    cut = round(bars * in_sample)
    windows = [Window("in_sample", 0, cut)]
    if cut < bars:
        windows.append(Window("out_of_sample", cut, bars))
    if walk_forward:
        size = bars // (walk_forward + 1)
        for fold in range(1, walk_forward + 1):
            windows.append(Window(f"wf{fold}_in", (fold - 1) * size, fold * size))
            windows.append(Window(f"wf{fold}_out", fold * size,
                                  bars if fold == walk_forward else (fold + 1) * size))
    short = [w for w in windows if w.stop - w.start < MIN_BARS]
    if short:
        raise OptimizeError(f"the {short[0].label} window has {short[0].stop - short[0].start} "
                            f"bars; the data is too short for this split")
    return windows


# --- the work done in a worker ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SharedBars:
    """Where a worker finds the bars: two ``.npy`` files it memory-maps (read-only)."""

    prices_path: str
    stamps_path: str
    interval: float


@dataclass(frozen=True, slots=True)
class Chunk:
    """A batch of combinations for one worker call."""

    strategy: Any  # a StrategyRef (loaded in the worker) or a class (inline)
    combos: tuple[dict[str, Any], ...]
    windows: tuple[Window, ...]
    fee: float
    slippage: float
    cash: float
    coin: str
    fast: bool


_MAPPED: dict[str, BarSeries] = {}  # per worker process: bars mapped once, reused by each chunk


def attach_bars(shared: SharedBars) -> BarSeries:
    """The shared bars as read-only views on the mapped files (no copy in this process)."""
    key = shared.prices_path
    bars = _MAPPED.get(key)
    if bars is None:
        prices = np.load(shared.prices_path, mmap_mode="r")
        stamps = np.load(shared.stamps_path, mmap_mode="r")
        bars = BarSeries(prices, stamps, shared.interval, shared.prices_path)
        _MAPPED.clear()  # one job's data at a time per worker
        _MAPPED[key] = bars
    return bars


def run_chunk(chunk: Chunk, data: SharedBars | BarSeries | tuple) -> list[dict[str, Any]]:
    """Backtest each combination of ``chunk`` on each window; one result row per combination."""
    if isinstance(data, SharedBars):
        bars = attach_bars(data)
    elif isinstance(data, tuple):  # Dask: the scattered arrays themselves
        bars = BarSeries(data[0], data[1], data[2])
    else:
        bars = data
    cls = _load_strategy(chunk.strategy)
    rows = []
    # each distinct average over a window is computed once per process and job
    with shared_results(_results_store(bars)):
        for params in chunk.combos:
            rows.append(_run_combo(cls, params, chunk, bars))
    return rows


_STORE: dict[int, dict] = {}


def _results_store(bars: BarSeries) -> dict:
    """The indicator results kept for these bars (one job's at a time per process)."""
    key = id(bars.prices)
    if key not in _STORE:
        _STORE.clear()
        _STORE[key] = {"bars": bars}  # holding the bars keeps their id from being reused
    return _STORE[key]


def _run_combo(cls: type[Strategy], params: dict[str, Any], chunk: Chunk,
               bars: BarSeries) -> dict[str, Any]:
    """One combination backtested on each window: its result row."""
    scores = {}
    for window in chunk.windows:
        result = backtest(cls, bars.slice(window.start, window.stop), params,
                          fee=chunk.fee, slippage=chunk.slippage, cash=chunk.cash,
                          coin=chunk.coin, fast=chunk.fast)
        scores[window.label] = {key: result.stats[key] for key in ROW_STATS}
    return {"params": dict(params), "windows": scores}


def _load_strategy(strategy: Any) -> type[Strategy]:
    if isinstance(strategy, type):
        return strategy
    from velocitas_desktop.catalog import resolve

    return resolve(strategy)


# --- look-ahead ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LookaheadReport:
    """Whether a strategy's past signals change when later bars are added."""

    ok: bool
    prefix_bars: int
    message: str
    first_difference: int | None = None  # bar index of the first signal that differs

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "prefix_bars": self.prefix_bars, "message": self.message,
                "first_difference": self.first_difference}


def lookahead_check(strategy: type[Strategy] | str, bars: BarSeries,
                    params: Mapping[str, Any] | None = None, prefix: float = 0.5,
                    fast: bool = True, catalog: Any = None) -> LookaheadReport:
    """Run a fresh strategy on the first ``prefix`` share of the bars and another on all of
    them; the signals inside the prefix must be identical, else the strategy peeks ahead."""
    cls = resolve_strategy(strategy, catalog)
    cut = max(MIN_BARS, round(len(bars) * prefix))
    short = decide(cls(**dict(params or {})), bars.prices[:cut], bars.stamps[:cut], fast)
    full = decide(cls(**dict(params or {})), bars.prices, bars.stamps, fast)
    full_in_prefix = [(i, s) for i, s in full if i < cut]
    short_keys = [(i, s.action.value, s.quantity) for i, s in short]
    full_keys = [(i, s.action.value, s.quantity) for i, s in full_in_prefix]
    if short_keys == full_keys:
        return LookaheadReport(True, cut, f"no look-ahead: the {len(short_keys)} signals in "
                                          f"the first {cut:,} bars do not change with later data")
    first = next((a[0] if a != b else None for a, b in zip(short_keys, full_keys, strict=False)
                  if a != b), None)
    if first is None:
        longer = short_keys if len(short_keys) > len(full_keys) else full_keys
        first = longer[min(len(short_keys), len(full_keys))][0]
    return LookaheadReport(False, cut, f"look-ahead: {cls.name}'s signals in the first {cut:,} "
                                       f"bars change when later bars are added (first at bar "
                                       f"{first})", first)


# --- the job ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OptimizeSettings:
    """Everything an optimisation needs besides the bars."""

    strategy: str | type[Strategy]
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # empty: default_grid()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    random: int | None = None
    seed: int | None = None
    metric: str = DEFAULT_METRIC  # a key of research.ranking.METRICS
    fee: float = DEFAULT_FEE
    slippage: float = 0.0
    cash: float = DEFAULT_CASH
    coin: str = DEFAULT_COIN
    workers: int | None = None  # None: one per core; 0: inline on the job's thread
    executor: str = "process"  # "process" or "dask://HOST:PORT"
    in_sample: float = 1.0
    walk_forward: int = 0
    fast: bool = True
    check_lookahead: bool = True
    connect_timeout: float = 5.0  # seconds to reach a Dask scheduler


ProgressCallback = Callable[[int, int], None]


class OptimizationJob:
    """One optimisation: validated at construction, run by :meth:`run` or :meth:`start`."""

    def __init__(self, settings: OptimizeSettings, bars: BarSeries, catalog: Any = None,
                 on_progress: ProgressCallback | None = None) -> None:
        self.settings = settings
        self.bars = bars
        self.on_progress = on_progress
        if settings.metric not in METRICS:
            raise OptimizeError(f"unknown metric {settings.metric!r}: choose one of "
                                f"{', '.join(METRICS)}")
        self.metric: RankingMetric = METRICS[settings.metric]
        if catalog is None and isinstance(settings.strategy, str):
            from velocitas_desktop.catalog import load_catalog

            catalog = load_catalog()
        try:
            self.cls = resolve_strategy(settings.strategy, catalog)
        except VelocitasError as exc:
            raise OptimizeError(str(exc)) from None
        self.ref = _strategy_ref(self.cls, settings.strategy, catalog)
        grid = dict(settings.grid) or default_grid(self.cls)
        if settings.random is not None:
            self.combos = random_combinations(self.cls, grid, settings.random, settings.seed,
                                              settings.fixed)
        else:
            self.combos = grid_combinations(self.cls, grid, settings.fixed)
        self.windows = plan_windows(len(bars), settings.in_sample, settings.walk_forward)
        if settings.workers is not None and settings.workers < 0:
            raise OptimizeError("workers must be 0 or more")
        if not (settings.executor == "process" or settings.executor.startswith("dask://")):
            raise OptimizeError(f"executor {settings.executor!r}: use process or "
                                "dask://HOST:PORT")
        try:  # the same checks a backtest makes, before any work
            backtest(self.cls, bars.slice(0, MIN_BARS), self.combos[0], fee=settings.fee,
                     slippage=settings.slippage, cash=settings.cash, coin=settings.coin)
        except (BacktestError, ParameterError) as exc:
            raise OptimizeError(str(exc)) from None
        self.total = len(self.combos)
        self.done = 0
        self.status = JobStatus.READY
        self.error: str | None = None
        self.rows: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- control ------------------------------------------------------------------------

    @property
    def progress(self) -> tuple[int, int]:
        return self.done, self.total

    def start(self) -> None:
        """Run on a background thread; poll :attr:`progress`, :meth:`wait` for the end."""
        if self.status is not JobStatus.READY:
            raise OptimizeError(f"this job has already run (it is {self.status})")
        self.status = JobStatus.RUNNING
        self._thread = threading.Thread(target=self._run_safely, name="optimize", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop after the chunks in flight; the rows finished so far stay in the result."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def run(self) -> dict[str, Any]:
        """Run to the end on this thread and return the ranked result."""
        if self.status is not JobStatus.READY:
            raise OptimizeError(f"this job has already run (it is {self.status})")
        self._run_safely()
        if self.status is JobStatus.ERROR:
            raise OptimizeError(self.error or "the optimisation failed")
        assert self.result is not None
        return self.result

    def _run_safely(self) -> None:
        self.status = JobStatus.RUNNING
        began = time.perf_counter()
        try:
            self._dispatch()
            self.result = self._summarise(time.perf_counter() - began)
            self.status = JobStatus.CANCELLED if self.cancelled else JobStatus.FINISHED
        except Exception as exc:  # reported on the job: a GUI or route shows it
            self.error = str(exc) or type(exc).__name__
            # the status last: whoever polls it and sees the end finds the error in place
            self.status = JobStatus.ERROR
        finally:
            self._finished.set()

    # --- dispatch ----------------------------------------------------------------------

    def _chunks(self, workers: int, strategy: Any) -> list[Chunk]:
        size = max(1, min(64, math.ceil(self.total / max(1, workers * 8))))
        s = self.settings
        return [Chunk(strategy, tuple(self.combos[i:i + size]), tuple(self.windows), s.fee,
                      s.slippage, s.cash, s.coin, s.fast)
                for i in range(0, self.total, size)]

    def _collect(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self.rows.extend(rows)
            self.done += len(rows)
            done = self.done
        if self.on_progress is not None:
            self.on_progress(done, self.total)

    def _dispatch(self) -> None:
        s = self.settings
        if s.executor.startswith("dask://"):
            self._dispatch_dask(s.executor.removeprefix("dask://"))
            return
        workers = (os.cpu_count() or 1) if s.workers is None else s.workers
        if workers == 0:
            for chunk in self._chunks(1, self.cls):
                if self.cancelled:
                    return
                self._collect(run_chunk(chunk, self.bars))
            return
        folder = tempfile.mkdtemp(prefix="velocitas-opt-")
        try:
            shared = share_bars(self.bars, folder)
            context = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(run_chunk, c, shared)
                           for c in self._chunks(workers, self.ref)]
                self._drain(futures, pool)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _drain(self, futures: list[cf.Future], pool: cf.ProcessPoolExecutor) -> None:
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, timeout=0.1, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                self._collect(future.result())
            if self.cancelled:
                for future in pending:
                    future.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
                return

    def _dispatch_dask(self, address: str) -> None:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise OptimizeError("the dask executor needs dask[distributed] installed") from None
        try:
            client = Client(f"tcp://{address}", timeout=self.settings.connect_timeout,
                            set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise OptimizeError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            data = client.scatter((np.asarray(self.bars.prices), np.asarray(self.bars.stamps),
                                   self.bars.interval), broadcast=True)
            futures = [client.submit(run_chunk, c, data, pure=False)
                       for c in self._chunks(max(1, _dask_threads(client)), self.ref)]
            done = as_completed(futures, loop=client.loop)
            for future in done:
                self._collect(future.result())
                if self.cancelled:
                    client.cancel(futures)
                    return
        finally:
            client.close()

    # --- results ------------------------------------------------------------------------

    def _summarise(self, elapsed: float) -> dict[str, Any]:
        s = self.settings
        stat = self.metric.stat
        ranked = rank_rows(self.rows, stat, not self.metric.higher_is_better, "in_sample")
        out_rows = []
        for position, row in enumerate(ranked, start=1):
            windows = row["windows"]
            item = {"rank": position, "params": row["params"],
                    "score": finite_or_none(windows["in_sample"][stat]),
                    "stats": finite_or_none(windows["in_sample"])}
            if "out_of_sample" in windows:
                item["oos_score"] = finite_or_none(windows["out_of_sample"][stat])
                item["oos_stats"] = finite_or_none(windows["out_of_sample"])
            out_rows.append(item)
        result: dict[str, Any] = {
            "strategy": self.cls.name, "metric": s.metric, "combinations": self.total,
            "completed": len(self.rows), "cancelled": self.cancelled,
            "elapsed_s": elapsed, "results": out_rows,
        }
        if s.walk_forward:
            result["walk_forward"] = self._walk_forward(stat)
        if s.check_lookahead and out_rows:
            result["lookahead"] = lookahead_check(self.cls, self.bars, out_rows[0]["params"],
                                                  fast=s.fast).to_dict()
        return result

    def _walk_forward(self, stat: str) -> list[dict[str, Any]]:
        folds = []
        lower = not self.metric.higher_is_better
        for window in self.windows:
            if not window.label.endswith("_in"):
                continue
            fold = window.label[2:-3]
            best = rank_rows(self.rows, stat, lower, window.label)[:1]
            if not best:
                continue
            out = next(w for w in self.windows if w.label == f"wf{fold}_out")
            folds.append({
                "fold": int(fold), "in_sample_bars": [window.start, window.stop],
                "out_of_sample_bars": [out.start, out.stop], "params": best[0]["params"],
                "in_sample_score": finite_or_none(best[0]["windows"][window.label][stat]),
                "out_of_sample_score": finite_or_none(best[0]["windows"][out.label][stat]),
            })
        return folds


def rank_rows(rows: Iterable[dict[str, Any]], stat: str, lower_is_better: bool,
              window: str) -> list[dict[str, Any]]:
    """Rows best first by ``stat`` on ``window``; nan and None rank last, ties keep grid order."""
    def key(row: dict[str, Any]) -> tuple[int, float]:
        value = row["windows"][window][stat]
        if value is None or value != value:
            return (1, 0.0)
        return (0, value if lower_is_better else -value)

    return sorted(rows, key=key)


def share_bars(bars: BarSeries, folder: str) -> SharedBars:
    """Write the bars once as ``.npy`` files that every worker maps instead of copying."""
    prices_path = os.path.join(folder, "prices.npy")
    stamps_path = os.path.join(folder, "stamps.npy")
    np.save(prices_path, np.ascontiguousarray(bars.prices, dtype=np.float64))
    np.save(stamps_path, np.ascontiguousarray(bars.stamps, dtype=np.float64))
    return SharedBars(prices_path, stamps_path, bars.interval)


def _strategy_ref(cls: type[Strategy], strategy: Any, catalog: Any) -> Any:
    """How a worker process finds the class: the catalog's ref, or its module."""
    from velocitas_desktop.catalog import StrategyRef, load_catalog

    if isinstance(strategy, str):
        return (catalog or load_catalog()).info(strategy).ref
    return StrategyRef(cls.__name__, module=cls.__module__)


def _dask_threads(client: Any) -> int:
    try:
        return sum(client.nthreads().values())
    except Exception:  # an old scheduler without the call: one chunk per worker is fine
        return 1
