"""The Optimisation tab's pure logic: range text, heatmap grids and live ids, without Qt."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from velocitas_desktop.core.strategy import Param
from velocitas_desktop.core.types import TICK, TIMEFRAMES
from velocitas_desktop.research.optimize import OptimizeError, parse_range, search_range

# --- ranges -------------------------------------------------------------------------------

def declared_range(param: Param) -> str:
    """The range text a parameter starts with: ``low:high:step`` from its declaration."""
    if param.type is bool:
        return "0,1"
    if param.step is None or param.low is None or param.high is None:
        return number_text(param.default)
    return f"{number_text(param.low)}:{number_text(param.high)}:{number_text(param.step)}"


def default_range(param: Param) -> str:
    """The range a parameter's row starts with: the optimiser's default search of it
    (research.optimize.search_range), as text; its default alone when it is held."""
    if param.type is bool:
        return "0,1"
    span = search_range(param)
    if span is None:
        return number_text(param.default)
    return ":".join(number_text(value) for value in span)


def number_text(value: Any) -> str:
    """A number as a trader types it in a range: ``5``, not ``5.0``; ``0.25`` as is."""
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def range_values(name: str, text: str) -> list[Any]:
    """The values of one typed range (``lo:hi:step`` or ``v1,v2,...``); OptimizeError if bad."""
    if not text.strip():
        raise OptimizeError(f"the range of {name} is empty: type LO:HI:STEP or V1,V2,...")
    _, values = parse_range(f"{name}={text.strip()}")
    return values


def params_text(params: dict[str, Any], names: list[str]) -> str:
    """``fast=10  slow=30``: the named parameters, in that order, as the tab captions them."""
    return "  ".join(f"{n}={number_text(params[n])}" for n in names if n in params)


def combinations_text(grid: Mapping[str, Sequence[Any]], rule: str = "") -> str:
    """``3 × 3 = 9 combinations before the rule fast < slow``: what a grid asks for."""
    size = math.prod(len(v) for v in grid.values())
    sizes = " × ".join(str(len(v)) for v in grid.values())
    text = f"{sizes} = {size:,} combinations" if len(grid) > 1 else f"{size:,} combinations"
    return f"{text} before the rule {rule}" if rule else text


def cell_ticks(values: list[Any], most: int = 12) -> list[tuple[float, str]]:
    """Axis labels at cell centres, thinned so that at most ``most`` show."""
    every = max(1, math.ceil(len(values) / most))
    return [(i + 0.5, number_text(v)) for i, v in enumerate(values) if i % every == 0]


# --- results ----------------------------------------------------------------------------

def varied_params(grid: Mapping[str, Sequence[Any]], results: list[dict[str, Any]]) -> list[str]:
    """The grid's parameters whose value differs between result rows (all of them if none
    does): the columns of the ranked table and the heatmap's axes."""
    varied = [n for n in grid if len({r["params"][n] for r in results}) > 1]
    return varied or list(grid)


# --- the heatmap --------------------------------------------------------------------------

def heatmap_grid(results: list[dict[str, Any]], x_name: str, y_name: str,
                 anchor: dict[str, Any] | None,
                 lower_is_better: bool = False) -> tuple[list[Any], list[Any], np.ndarray]:
    """Scores over two parameters: the others held at ``anchor`` (the best row's values), or
    with ``anchor`` None the best score of every row in the cell, whatever its others.

    A random search samples the grid, so few of its rows share the best row's other values
    (one cell of 200 MACD rows did): the best per cell shows its surface instead.
    Returns the sorted x values, the sorted y values and a (len(x), len(y)) array of scores,
    NaN where no result has that pair (not sampled, or ruled out by a constraint).
    """
    others = [n for n in (anchor or {}) if n not in (x_name, y_name)]
    rows = [r for r in results
            if anchor is None or all(r["params"].get(n) == anchor[n] for n in others)]
    xs = sorted({r["params"][x_name] for r in results})
    ys = sorted({r["params"][y_name] for r in results})
    grid = np.full((len(xs), len(ys)), np.nan)
    x_at = {v: i for i, v in enumerate(xs)}
    y_at = {v: i for i, v in enumerate(ys)}
    better = min if lower_is_better else max
    for row in rows:
        score = row.get("score")
        if score is None:
            continue
        cell = x_at[row["params"][x_name]], y_at[row["params"][y_name]]
        held = grid[cell]
        grid[cell] = score if math.isnan(held) else better(held, score)
    return xs, ys, grid


# --- going live ---------------------------------------------------------------------------

def unique_id(wanted: str, taken: set[str]) -> str:
    """``wanted`` if free, else ``wanted_2``, ``wanted_3``, … (the first one free)."""
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}_{number}" in taken:
        number += 1
    return f"{wanted}_{number}"


def bar_timeframe(interval: float | None) -> str:
    """The live timeframe of bars ``interval`` seconds long, or ``tick`` if there is none."""
    for name, seconds in TIMEFRAMES.items():
        if interval is not None and abs(seconds - interval) < 1e-6:
            return name
    return TICK
