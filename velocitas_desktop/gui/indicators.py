"""Indicators for the chart: core/indicators' classes and a strategy's own, fed the chart's candles.

No Qt here: what to draw (a :class:`Study`) and its values on a coin's candles
(:class:`StudyValues`), computed with the indicator classes the strategies use, so a line on
the chart is the very number the strategy compared. Each value is fed the close of a finished
bar, as a strategy deciding on bars is; the forming bar has no value yet.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from velocitas_desktop.core import indicators as core_indicators
from velocitas_desktop.core.candles import Candles
from velocitas_desktop.core.rules import Line
from velocitas_desktop.core.strategy import Strategy
from velocitas_desktop.core.types import timeframe_seconds

# Every indicator class of core/indicators, by name, for the chart's Indicators menu.
CATALOGUE: dict[str, type] = {name: getattr(core_indicators, name)
                              for name in core_indicators.__all__ if name[0].isupper()}
# Indicators in price units, drawn over the candles; every other one gets a pane of its own.
OVERLAYS: frozenset[type] = frozenset({core_indicators.SMA, core_indicators.EMA})
WARMUP_PROBE = 5_000  # bars fed to a copy to learn an indicator's warm-up; more is "over"
NAMES = {"signal_period": "signal"}  # attribute -> the constructor's name for it


@dataclass(frozen=True, eq=False)
class Study:
    """One indicator to draw: a never-fed instance (each computation feeds a copy), its
    label, its lines, whether it goes over the candles, the levels its strategy compares it
    with, the bars it is fed (``timeframe`` seconds; None: the chart's interval) and how many
    bars pass before every line has a value."""

    template: Any
    label: str
    lines: tuple[str, ...]
    overlay: bool
    needs: int
    levels: tuple[float, ...] = ()
    timeframe: float | None = None


@dataclass(frozen=True)
class StrategyStudy:
    """A strategy's indicators as its coin's chart draws them."""

    strategy_id: str
    coin: str
    timeframe: str
    studies: tuple[Study, ...] = field(default_factory=tuple)

    @property
    def note(self) -> str:
        """What the chart should say about the bars the lines are fed."""
        if self.timeframe == "tick":
            return (f"{self.strategy_id} decides on every tick: its indicators are drawn on "
                    "the chart's candles")
        return f"{self.strategy_id} decides on {self.timeframe} bars"


def parameters(kind: type) -> list[tuple[str, Any]]:
    """The constructor's parameters of an indicator class, with their defaults (None when
    it has none): what the Indicators menu asks for."""
    found = []
    for name, param in inspect.signature(kind).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        found.append((name, None if param.default is param.empty else param.default))
    return found


def label_of(indicator: Any) -> str:
    """``SMA(10)``, ``MACD(12, 26, 9)``: the class and the values it was made with."""
    values = []
    for name, _ in parameters(type(indicator)):
        attribute = next((a for a, n in NAMES.items() if n == name), name)
        value = getattr(indicator, attribute, getattr(indicator, name, None))
        if value is not None:
            values.append(f"{value:g}" if isinstance(value, float) else str(value))
    return f"{type(indicator).__name__}({', '.join(values)})"


def line_attributes(indicator: Any) -> dict[str, str]:
    """Line name -> the attribute holding its latest value (``value`` for a single line)."""
    return dict(getattr(type(indicator), "lines", None) or {"value": "value"})


def study_of(indicator: Any, levels: Iterable[float] = (), timeframe: float | None = None
             ) -> Study:
    """What to draw for ``indicator`` (which must not have been fed yet)."""
    template = copy.deepcopy(indicator)
    return Study(template, label_of(template), tuple(line_attributes(template)),
                 type(template) in OVERLAYS, warmup_bars(template),
                 tuple(sorted(set(levels))), timeframe)


def study_by_hand(kind: type, values: dict[str, Any]) -> Study:
    """A study the trader added from the Indicators menu (ParameterError if the values
    cannot make one)."""
    return study_of(kind(**values))


def strategy_study(strategy: Strategy, strategy_id: str) -> StrategyStudy:
    """The indicators a (fresh) strategy registered, with the levels its rule compares them
    to (RSI's oversold and overbought...), fed the bars it decides on."""
    seconds = timeframe_seconds(strategy.timeframe)
    levels = _rule_levels(strategy)
    studies = tuple(study_of(ind, levels.get(id(ind), ()), seconds)
                    for ind in strategy._indicators)
    return StrategyStudy(strategy_id, strategy.coin, strategy.timeframe, studies)


def _rule_levels(strategy: Strategy) -> dict[int, list[float]]:
    """The numbers the strategy's rule compares each indicator with, by indicator."""
    if not type(strategy)._has_rule:
        return {}
    rule = strategy.rule()
    levels: dict[int, list[float]] = {}
    for crossing in (rule.buy, rule.sell):
        for mine, other in ((crossing.a, crossing.b), (crossing.b, crossing.a)):
            if isinstance(mine, Line) and not isinstance(other, Line):
                levels.setdefault(id(mine.indicator), []).append(float(other) + 0.0)
    return levels


def feed(indicator: Any, bars: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Feed ``indicator`` each bar's close (or high, low and close, for an indicator whose
    ``update`` takes three values, like ATR) and return each line's value after each bar."""
    names = list(line_attributes(indicator).values())
    closes = bars["close"]
    many = getattr(indicator, "update_many", None)
    if many is not None:
        out = many(closes)
        return [np.asarray(a, dtype=float) for a in out] if isinstance(out, tuple) else [
            np.asarray(out, dtype=float)]
    arity = len(inspect.signature(indicator.update).parameters)
    columns = ([bars["high"], bars["low"], closes] if arity >= 3 else [closes])
    values = np.full((len(names), closes.shape[0]), np.nan)
    for i, row in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
        indicator.update(*row)
        for k, name in enumerate(names):
            values[k, i] = getattr(indicator, name)
    return list(values)


def warmup_bars(template: Any) -> int:
    """How many bars pass before every line of the indicator has a value (MACD(12, 26, 9):
    34), found by feeding a copy a made-up series; ``WARMUP_PROBE + 1`` if more than that."""
    steps = np.arange(WARMUP_PROBE, dtype=float)
    close = 100.0 + 10.0 * np.sin(steps / 7.0) + steps * 0.01  # rises and falls: every
    probe = copy.deepcopy(template)                            # indicator gets defined
    lines = feed(probe, {"close": close, "high": close + 1.0, "low": close - 1.0})
    defined = np.logical_and.reduce([~np.isnan(line) for line in lines])
    where = np.flatnonzero(defined)
    return int(where[0]) + 1 if where.size else WARMUP_PROBE + 1


class StudyValues:
    """A study's values over a coin's candles, fed each bar once, as it closes.

    ``values`` holds one array per line, aligned with ``times`` (the bars' start times) for
    the finished bars the candles still keep. A new interval, a backfill in front or bars
    dropped before they were fed start it over from the candles' first bar.
    """

    def __init__(self, study: Study) -> None:
        self.study = study
        self.candles: Candles | None = None
        self.times = np.zeros(0)
        self.values: list[np.ndarray] = [np.zeros(0) for _ in study.lines]
        self.fed = 0  # bars fed since the start
        self._generation = -1
        self._next = 0  # absolute index of the next bar to feed
        self._indicator: Any = None

    @property
    def warming(self) -> bool:
        return self.fed < self.study.needs

    def warm_up_text(self) -> str:
        """``MACD(12, 26, 9) warming up: 12 of 34 bars`` while it is; else empty."""
        if not self.warming:
            return ""
        needs = self.study.needs
        of = f"more than {WARMUP_PROBE:,}" if needs > WARMUP_PROBE else f"{needs:,}"
        return f"{self.study.label} warming up: {self.fed:,} of {of} bars"

    def update(self, candles: Candles) -> bool:
        """Feed the bars that closed since the last call; True if any value changed."""
        if (candles is not self.candles or candles.generation != self._generation
                or self._next < candles.dropped):
            self._start(candles)
        end = candles.dropped + candles.closed
        if end <= self._next:
            return self._trim(candles)
        lo, hi = self._next - candles.dropped, end - candles.dropped
        bars = {"close": candles.close[lo:hi], "high": candles.high[lo:hi],
                "low": candles.low[lo:hi]}
        new = feed(self._indicator, bars)
        self.times = np.r_[self.times, candles.times[lo:hi]]
        self.values = [np.r_[old, fresh] for old, fresh in zip(self.values, new, strict=True)]
        self.fed += hi - lo
        self._next = end
        self._trim(candles)
        return True

    def _start(self, candles: Candles) -> None:
        self.candles = candles
        self._generation = candles.generation
        self._indicator = copy.deepcopy(self.study.template)
        self._next = candles.dropped
        self.fed = 0
        self.times = np.zeros(0)
        self.values = [np.zeros(0) for _ in self.study.lines]

    def _trim(self, candles: Candles) -> bool:
        """Let go of the values of bars the candles no longer keep."""
        first = float(candles.times[0]) if len(candles) else math.inf
        extra = int(np.searchsorted(self.times, first))
        if extra:
            self.times = self.times[extra:]
            self.values = [v[extra:] for v in self.values]
        return bool(extra)

    def latest(self) -> list[float]:
        """Each line's newest value (nan when none)."""
        return [float(v[-1]) if v.size else math.nan for v in self.values]
