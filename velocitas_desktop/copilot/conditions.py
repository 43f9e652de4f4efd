"""The copilot's condition types, declared with their parameters, and the Evaluator that runs them.

Each condition type is a class whose parameters are class attributes built with :class:`Field`
(kind, default, bounds, choices, doc), the way a strategy declares its :class:`Param`s: that
declaration alone validates a rule, builds the window's and the browser's form
(:func:`describe_conditions`) and documents the type.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import numpy as np

from velocitas_desktop.copilot.templates import render
from velocitas_desktop.core.candles import Pieces, combine, combine_ticks
from velocitas_desktop.core.indicators import EMA, RSI, SMA, ATRPercent
from velocitas_desktop.core.statistics import percentile_rank
from velocitas_desktop.core.types import TIMEFRAMES
from velocitas_desktop.engine.contract import EngineStatus, JournalState, StrategyStatus
from velocitas_desktop.feeds.base import FeedState

NUMBER, INTEGER, CHOICE, TIMEFRAME = "number", "integer", "choice", "timeframe"
PRICES, BARS, EVENTS = "prices", "bars", "events"
COIN, STRATEGY, ALL = "coin", "strategy", "all"
PRICE_SCOPES = (COIN, ALL)
STRATEGY_SCOPES = (STRATEGY, ALL)
ENGINE_SCOPES = (ALL,)
DAY = 86_400
ONCE, ONCE_PER_BAR, ONCE_PER_BAR_CLOSE, EVERY_TIME = (
    "once", "once_per_bar", "once_per_bar_close", "every_time")
FREQUENCIES = (ONCE, ONCE_PER_BAR, ONCE_PER_BAR_CLOSE, EVERY_TIME)


# --- what conditions report -----------------------------------------------------------------

@dataclass(slots=True)
class Hits:
    """Where a condition is met in a batch: positions (ascending) with the condition's value
    there, and optionally the threshold, the price and extra template values per hit."""

    index: np.ndarray
    value: np.ndarray | None
    threshold: np.ndarray | None = None
    price: np.ndarray | None = None
    detail: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None

    def extras(self, k: int) -> dict[str, Any]:
        if self.detail is None:
            return {}
        return self.detail(k) if callable(self.detail) else self.detail

    def through(self, reveal: np.ndarray, closes: np.ndarray) -> Hits:
        """These hits on closed bars as hits on the batch: at the position that revealed each
        bar's close, with the bar's close as the price."""
        price = closes[self.index] if self.price is None else self.price
        return Hits(reveal[self.index], self.value, self.threshold, price, self.detail)


@dataclass(frozen=True, slots=True)
class PriceRun:
    """A coin's prices in order, their times (never decreasing) and their range: what a price
    condition reads of a batch (the range once for every rule)."""

    prices: np.ndarray
    times: np.ndarray
    low: float
    high: float

    @staticmethod
    def of(prices: np.ndarray, times: np.ndarray) -> PriceRun:
        return PriceRun(prices, times, float(prices.min()), float(prices.max()))


@dataclass(slots=True)
class Hit:
    """A condition met on one event."""

    value: float | None
    price: float | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    """Bars of one timeframe closed by a batch (oldest first), with the batch position that
    revealed each close (the first tick of a later bar, or a file's last bar of the bar)."""

    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    reveal: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])


_OPEN_FEED = frozenset({FeedState.CONNECTING, FeedState.LIVE, FeedState.STALLED,
                        FeedState.RECONNECTING})


@dataclass(slots=True)
class Facts:
    """What the evaluator knows of the engine: the feed's state and since when, and when the
    last price arrived."""

    feed_state: str = FeedState.IDLE
    feed_since: float | None = None
    last_tick: float | None = None

    def silent_since(self) -> float | None:
        """Since when no price arrived while the feed is open (None: it is not open)."""
        if self.feed_state not in _OPEN_FEED or self.feed_since is None:
            return None
        return self.feed_since if self.last_tick is None else max(self.feed_since,
                                                                   self.last_tick)


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class Field:
    """A declared condition parameter: its kind, default, inclusive bounds (``above`` for an
    exclusive lower bound), choices and doc. A default of None makes it optional."""

    __slots__ = ("above", "choices", "default", "doc", "high", "kind", "low", "name")

    def __init__(self, kind: str, default: Any = None, *, low: float | None = None,
                 high: float | None = None, above: float | None = None,
                 choices: tuple[str, ...] = (), doc: str = "") -> None:
        self.kind = kind
        self.default = default
        self.low = low
        self.high = high
        self.above = above
        self.choices = tuple(TIMEFRAMES) if kind == TIMEFRAME else choices
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def describe(self) -> dict[str, Any]:
        low = self.above if self.above is not None else self.low
        return {"name": self.name, "kind": self.kind, "default": self.default, "low": low,
                "high": self.high, "exclusive_low": self.above is not None,
                "choices": list(self.choices) or None, "doc": self.doc}

    def check(self, value: Any) -> Any:
        """``value`` as this parameter's type; ValueError with a sentence naming the bounds or
        the choices otherwise."""
        name = self.name
        if self.kind in (CHOICE, TIMEFRAME):
            if value not in self.choices:
                raise ValueError(f"{name} must be one of {', '.join(self.choices)} "
                                 f"(got {value!r})")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a number (got {value!r})")
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be a finite number (got {value!r})")
        if self.kind == INTEGER:
            if value != int(value):
                raise ValueError(f"{name} must be a whole number (got {_fmt(value)})")
            value = int(value)
        else:
            value = float(value)
        problem = self._bounds_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def _bounds_problem(self, value: float) -> str | None:
        name, low, high, above = self.name, self.low, self.high, self.above
        low_ok = value > above if above is not None else low is None or value >= low
        if low_ok and (high is None or value <= high):
            return None
        got = f"(got {_fmt(value)})"
        if above is not None and high is not None:
            return f"{name} must be above {_fmt(above)} and at most {_fmt(high)} {got}"
        if low is not None and high is not None:
            return f"{name} must be between {_fmt(low)} and {_fmt(high)} {got}"
        if above is not None:
            return f"{name} must be above {_fmt(above)} {got}"
        if low is not None:
            return f"{name} must be at least {_fmt(low)} {got}"
        return f"{name} must be at most {_fmt(high)} {got}"


class Condition:
    """A condition type. Subclasses declare ``type``, ``group``, ``scopes``, their parameters
    as :class:`Field` attributes, ``one_of`` (groups of which exactly one is given), a default
    message, and :meth:`relation_problem` for checks between parameters."""

    type: ClassVar[str] = ""
    group: ClassVar[str] = ""
    scopes: ClassVar[tuple[str, ...]] = PRICE_SCOPES
    one_of: ClassVar[tuple[tuple[str, ...], ...]] = ()
    message: ClassVar[str] = ""
    fields: ClassVar[dict[str, Field]] = {}
    feeds: ClassVar[str] = PRICES  # what the evaluator feeds an instance
    # the figures an alert of this type carries besides the standard placeholders, with a
    # sample of each (a template's format specs are checked against it)
    extras: ClassVar[dict[str, Any]] = {}

    # An instance watches one coin, one strategy or the engine for one rule: it holds the
    # condition's state there and reports hits; the Evaluator applies the rule's frequency.

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.p = params

    @property
    def limit(self) -> float | None:
        """The level the condition compares with (a placeholder of the message)."""
        return None

    def prices(self, run: PriceRun) -> Hits | None:
        """Hits among a coin's prices (index: the price's position in ``run``)."""
        return None

    def bars(self, bars: Closed) -> Hits | None:
        """Hits among the closed bars of the condition's timeframe (index: the bar)."""
        return None

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        """A hit on one engine event (``kind``: an EventKind value, ``"metrics"`` with one
        strategy's metrics or the snapshot's global figures, ``"clock"``)."""
        return None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Field] = {}
        for klass in reversed(cls.__mro__):
            fields.update({k: v for k, v in vars(klass).items() if isinstance(v, Field)})
        cls.fields = fields
        if cls.type:
            CONDITIONS[cls.type] = cls

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters with defaults filled in; ValueError with one clear sentence."""
        unknown = [name for name in params if name not in cls.fields]
        if unknown:
            known = ", ".join(cls.fields) or "none"
            raise ValueError(f"{cls.type} has no parameter {unknown[0]!r} (its parameters: "
                             f"{known})")
        out: dict[str, Any] = {}
        for name, field in cls.fields.items():
            value = params.get(name, field.default)
            try:
                out[name] = None if value is None else field.check(value)
            except ValueError as exc:
                raise ValueError(f"{cls.type} {exc}") from None
        for group in cls.one_of:
            given = [name for name in group if out[name] is not None]
            if len(given) != 1:
                names = " or ".join(group)
                what = "both" if len(given) > 1 else "neither"
                raise ValueError(f"{cls.type} takes exactly one of {names} ({what} given)")
        missing = [name for name, field in cls.fields.items()
                   if out[name] is None and not any(name in g for g in cls.one_of)]
        if missing:
            raise ValueError(f"{cls.type} needs {missing[0]}")
        problem = cls.relation_problem(out)
        if problem:
            raise ValueError(problem)
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        return None

    @classmethod
    def bar_timeframe(cls, params: Mapping[str, Any]) -> str | None:
        """The timeframe whose bars the condition reads (None: prices or events)."""
        return params.get("timeframe") if "timeframe" in cls.fields else None

    @classmethod
    def placeholders(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """The placeholders a rule's message may use besides the standard ones: the rule's
        parameters and this type's extras, each with a sample value."""
        return {**params, **cls.extras}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        doc = " ".join((cls.__doc__ or "").replace("``", "").split())
        return {"type": cls.type, "group": cls.group, "doc": doc,
                "scopes": list(cls.scopes), "one_of": [list(g) for g in cls.one_of],
                "message": cls.message, "placeholders": [*cls.fields, *cls.extras],
                "params": [field.describe() for field in cls.fields.values()]}


CONDITIONS: dict[str, type[Condition]] = {}
DIRECTIONS = ("up", "down", "either")


# --- price ----------------------------------------------------------------------------------

def _edges(state: bool, now: np.ndarray) -> np.ndarray:
    """Where ``now`` turns true (false before it; ``state`` is the value before the batch)."""
    before = np.empty_like(now)
    before[0] = state
    before[1:] = now[:-1]
    return np.flatnonzero(now & ~before)


class PriceCross(Condition):
    """The price crosses a level: up (from at or below it to above it), down (from at or
    above it to below it), or either way, as chart platforms' crossover. The first price seen
    only sets the side."""

    type, group = "price_cross", "price"
    level = Field(NUMBER, above=0, doc="the price level")
    direction = Field(CHOICE, "either", choices=DIRECTIONS, doc="which way the price crosses")
    message = "{coin} crossed {threshold} at {price}"

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.last = math.nan

    @property
    def limit(self) -> float:
        return self.p["level"]

    def prices(self, run: PriceRun) -> Hits | None:
        prices, level, last = run.prices, self.p["level"], self.last
        self.last = float(prices[-1])
        # most batches stay on one side of the level: decided from the range, no arrays
        low, high = run.low, run.high
        if (last <= level and high <= level) or (last >= level and low >= level) or (
                last != last and (high <= level or low >= level)):
            return None
        before = np.empty_like(prices)
        before[0] = last
        before[1:] = prices[:-1]
        direction = self.p["direction"]
        crossed = np.zeros(prices.shape[0], dtype=bool)
        if direction in ("up", "either"):
            crossed |= (before <= level) & (prices > level)
        if direction in ("down", "either"):
            crossed |= (before >= level) & (prices < level)
        index = np.flatnonzero(crossed)
        return Hits(index, prices[index]) if index.size else None


class PriceChannel(Condition):
    """The price enters or leaves a channel between two levels (both inside it). The first
    price seen only sets where the price is."""

    type, group = "price_channel", "price"
    low = Field(NUMBER, above=0, doc="the channel's lower level")
    high = Field(NUMBER, above=0, doc="the channel's upper level")
    event = Field(CHOICE, "leave", choices=("enter", "leave"),
                  doc="fire when the price enters the channel, or leaves it")
    message = "{coin} {moved} the channel {low} to {high} at {price}"
    extras: ClassVar[dict[str, Any]] = {"moved": "left"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.inside: bool | None = None

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        if params["low"] >= params["high"]:
            return (f"price_channel's low ({_fmt(params['low'])}) must be below its high "
                    f"({_fmt(params['high'])})")
        return None

    def prices(self, run: PriceRun) -> Hits | None:
        prices, low, high, was = run.prices, self.p["low"], self.p["high"], self.inside
        # most batches stay inside, or outside: decided from the range, no arrays
        if was and run.low >= low and run.high <= high:
            return None
        if was is False and (run.high < low or run.low > high):
            return None
        inside = (prices >= low) & (prices <= high)
        self.inside = bool(inside[-1])
        # the first price seen only says where the price is
        inside_before = bool(inside[0]) if was is None else was
        if self.p["event"] == "enter":
            index = _edges(inside_before, inside)
            moved = "entered"
        else:
            index = _edges(not inside_before, ~inside)
            moved = "left"
        if not index.size:
            return None
        hit_prices = prices[index]
        # the edge crossed: the nearer level
        edge = np.where(np.abs(hit_prices - low) <= np.abs(hit_prices - high), low, high)
        return Hits(index, hit_prices, threshold=edge, detail={"moved": moved})


class PriceMove(Condition):
    """The price moves by at least ``percent`` against its price ``window_s`` seconds earlier
    (before a whole window has passed: the oldest price seen). Fires when the move reaches
    the percentage, again only after it fell back below it."""

    type, group = "price_move", "price"
    percent = Field(NUMBER, above=0, high=1000, doc="the move, in percent of the earlier price")
    window_s = Field(INTEGER, low=1, high=7 * DAY, doc="the window, in seconds")
    direction = Field(CHOICE, "either", choices=DIRECTIONS, doc="a rise, a fall, or either")
    message = "{coin} moved {value:+.2f}% within {window_s} s to {price}"
    # the earlier prices are kept as the last of each 1/1000 of the window: a reference up to
    # 0.1% of the window late, and memory that does not grow with the tick rate
    RESOLUTION = 1000

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.window = float(params["window_s"])
        self.step = self.window / self.RESOLUTION
        # the kept prices: the first ``count`` of two buffers, compacted when full
        self._times = np.empty(2 * self.RESOLUTION + 16)
        self._kept = np.empty(2 * self.RESOLUTION + 16)
        self.count = 0
        self.moved = False

    @property
    def limit(self) -> float:
        return self.p["percent"]

    def prices(self, run: PriceRun) -> Hits | None:
        prices, times, window = run.prices, run.times, self.window
        count = self.count
        kept_times, kept = self._times[:count], self._kept[:count]
        if count and times[-1] - window < times[0]:
            # every reference is older than the batch (the usual case): the kept prices alone,
            # and first only the two ends, since most batches cannot move far enough
            first, last = np.searchsorted(kept_times, (times[0] - window, times[-1] - window),
                                          side="right") - 1
            if not self.moved and self._too_small(run, kept[max(first, 0):max(last, 0) + 1]):
                self._keep(times, prices)
                return None
            ref = np.searchsorted(kept_times, times - window, side="right") - 1
            base = kept[np.maximum(ref, 0, out=ref)]
        else:
            all_times = np.concatenate((kept_times, times))
            ref = np.searchsorted(all_times, times - window, side="right") - 1
            base = np.concatenate((kept, prices))[np.maximum(ref, 0, out=ref)]
        move = (prices / base - 1.0) * 100.0
        percent, direction = self.p["percent"], self.p["direction"]
        if direction == "up":
            moved = move >= percent
        elif direction == "down":
            moved = move <= -percent
        else:
            moved = np.abs(move) >= percent
        index = _edges(self.moved, moved)
        self.moved = bool(moved[-1])
        self._keep(times, prices)
        return Hits(index, move[index]) if index.size else None

    def _too_small(self, run: PriceRun, bases: np.ndarray) -> bool:
        """Whether no move of the batch can reach the percentage: its range against the
        range of the prices it is compared with (most batches, without an array op)."""
        percent, direction = self.p["percent"], self.p["direction"]
        rise = (run.high / float(bases.min()) - 1.0) * 100.0
        fall = (1.0 - run.low / float(bases.max())) * 100.0
        if direction == "up":
            return rise < percent
        if direction == "down":
            return fall < percent
        return rise < percent and fall < percent

    def _keep(self, times: np.ndarray, prices: np.ndarray) -> None:
        """Keep the batch's last price of each step after the kept ones."""
        step = self.step
        if math.floor(times[0] / step) == math.floor(times[-1] / step):
            times, prices = times[-1:], prices[-1:]
        else:
            buckets = np.floor(times / step)
            last = np.flatnonzero(np.append(buckets[1:] != buckets[:-1], True))
            times, prices = times[last], prices[last]
        count = self.count
        if count and math.floor(self._times[count - 1] / step) == math.floor(times[0] / step):
            count -= 1  # the same step: its later price
        added = times.shape[0]
        if count + added > self._times.shape[0]:
            count = self._compact(count, float(times[-1]), added)
        self._times[count:count + added] = times
        self._kept[count:count + added] = prices
        self.count = count + added

    def _compact(self, count: int, newest: float, adding: int) -> int:
        """Drop the prices older than the one before the window; grow if still full."""
        times = self._times[:count]
        first = max(int(np.searchsorted(times, newest - self.window, side="right")) - 1, 0)
        keep = count - first
        size = max(self._times.shape[0], 2 * (keep + adding))
        fresh_times, fresh_kept = np.empty(size), np.empty(size)
        fresh_times[:keep], fresh_kept[:keep] = times[first:], self._kept[first:count]
        self._times, self._kept = fresh_times, fresh_kept
        return keep


# --- indicators on a timeframe ----------------------------------------------------------------

class RSICondition(Condition):
    """The RSI of the timeframe's closes rises above a level, or falls below one, at a bar's
    close (give ``above`` or ``below``)."""

    type, group = "rsi", "indicator"
    feeds = BARS
    timeframe = Field(TIMEFRAME, "1h", doc="the bars the RSI is computed on")
    period = Field(INTEGER, 14, low=2, high=500, doc="the RSI's period, in bars")
    above = Field(NUMBER, low=0, high=100, doc="fire when the RSI rises above this")
    below = Field(NUMBER, low=0, high=100, doc="fire when the RSI falls below this")
    one_of = (("above", "below"),)
    message = "{coin} {timeframe} RSI {value:.1f} {side} {threshold} at {price}"
    extras: ClassVar[dict[str, Any]] = {"side": "rose above"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.rsi = RSI(params["period"])
        self.passed = False

    @property
    def limit(self) -> float:
        return self.p["above"] if "above" in self.p else self.p["below"]

    def bars(self, bars: Closed) -> Hits | None:
        rsi = self.rsi.update_many(bars.close)
        with np.errstate(invalid="ignore"):
            passed = rsi > self.p["above"] if "above" in self.p else rsi < self.p["below"]
        index = _edges(self.passed, passed)
        self.passed = bool(passed[-1])
        if not index.size:
            return None
        side = "rose above" if "above" in self.p else "fell below"
        return Hits(index, rsi[index], price=bars.close[index], detail={"side": side})


class MACross(Condition):
    """A fast moving average crosses a slow one at a bar's close: golden (the fast rises
    above the slow), death (it falls below), or either."""

    type, group = "ma_cross", "indicator"
    feeds = BARS
    timeframe = Field(TIMEFRAME, "1h", doc="the bars the averages are computed on")
    fast = Field(INTEGER, 10, low=1, high=1000, doc="the fast average's period, in bars")
    slow = Field(INTEGER, 30, low=2, high=2000, doc="the slow average's period, in bars")
    average = Field(CHOICE, "sma", choices=("sma", "ema"), doc="simple or exponential")
    direction = Field(CHOICE, "either", choices=("golden", "death", "either"),
                      doc="golden: the fast crosses above the slow; death: below")
    message = "{coin} {timeframe} {fast}/{slow} {cross} cross at {price}"
    extras: ClassVar[dict[str, Any]] = {"cross": "golden"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        average = SMA if params["average"] == "sma" else EMA
        self.fast, self.slow = average(params["fast"]), average(params["slow"])
        self.spread = math.nan

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        if params["fast"] >= params["slow"]:
            return (f"ma_cross's fast period ({params['fast']}) must be shorter than its slow "
                    f"one ({params['slow']})")
        return None

    def bars(self, bars: Closed) -> Hits | None:
        fast, slow = self.fast.update_many(bars.close), self.slow.update_many(bars.close)
        spread = fast - slow
        before = np.empty_like(spread)
        before[0] = self.spread
        before[1:] = spread[:-1]
        self.spread = float(spread[-1])
        direction = self.p["direction"]
        with np.errstate(invalid="ignore"):
            golden = (before <= 0) & (spread > 0)
            death = (before >= 0) & (spread < 0)
        crossed = (golden if direction != "death" else False) | (
            death if direction != "golden" else False)
        index = np.flatnonzero(crossed)
        if not index.size:
            return None
        kinds = np.where(golden[index], "golden", "death")
        return Hits(index, fast[index], threshold=slow[index], price=bars.close[index],
                    detail=lambda k: {"cross": str(kinds[k])})


class VolatilitySpike(Condition):
    """Volatility jumps at a bar's close: the bar's log return is ``threshold`` standard
    deviations or more from the mean of the ``window`` returns before it (zscore; every such
    bar), or the ATR% (14 bars) reaches the ``threshold`` percentile of the ``window`` values
    before it (atr_percentile; again only after it fell back)."""

    type, group = "volatility_spike", "indicator"
    feeds = BARS
    timeframe = Field(TIMEFRAME, "1h", doc="the bars the volatility is measured on")
    method = Field(CHOICE, "zscore", choices=("zscore", "atr_percentile"),
                   doc="zscore of the return, or percentile of the ATR%")
    threshold = Field(NUMBER, 3.0, above=0, high=100,
                      doc="standard deviations (zscore, at most 20) or a percentile 50..100 "
                          "(atr_percentile)")
    window = Field(INTEGER, 100, low=10, high=5000, doc="the bars the spike is measured against")
    message = "{coin} {timeframe} volatility spike: {value:.2f} (threshold {threshold})"
    extras: ClassVar[dict[str, Any]] = {"atr_pct": 1.5}
    ATR_PERIOD = 14

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.last_close = math.nan
        self.history = np.zeros(0)  # the last ``window`` returns (or ATR% values)
        self.atr = ATRPercent(self.ATR_PERIOD)
        self.spiking = False

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        if params["method"] == "atr_percentile" and params["threshold"] < 50:
            return (f"volatility_spike's threshold is a percentile with atr_percentile: it "
                    f"must be between 50 and 100 (got {_fmt(params['threshold'])})")
        if params["method"] == "zscore" and params["threshold"] > 20:
            return (f"volatility_spike's threshold is a number of standard deviations with "
                    f"zscore: it must be at most 20 (got {_fmt(params['threshold'])})")
        return None

    @property
    def limit(self) -> float:
        return self.p["threshold"]

    def bars(self, bars: Closed) -> Hits | None:
        if self.p["method"] == "zscore":
            return self._zscore(bars.close)
        return self._atr_rank(bars)

    def _zscore(self, closes: np.ndarray) -> Hits | None:
        window = self.p["window"]
        before = np.empty_like(closes)
        before[0] = self.last_close
        before[1:] = closes[:-1]
        self.last_close = float(closes[-1])
        returns = np.log(closes / before)
        bar_of = np.flatnonzero(np.isfinite(returns))  # the first bar seen has no return
        known = np.concatenate((self.history, returns[bar_of]))
        first = self.history.shape[0]
        self.history = known[-window:]
        ends = np.arange(first, known.shape[0])
        ready = ends >= window
        ends, bar_of = ends[ready], bar_of[ready]
        if not ends.size:
            return None
        # each new return against the ``window`` returns before it, from running sums: O(n)
        sums = np.concatenate(([0.0], np.cumsum(known)))
        squares = np.concatenate(([0.0], np.cumsum(known * known)))
        total = sums[ends] - sums[ends - window]
        mean = total / window
        variance = (squares[ends] - squares[ends - window] - total * mean) / (window - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (known[ends] - mean) / np.sqrt(np.maximum(variance, 0.0))
            hit = np.flatnonzero(np.abs(z) >= self.p["threshold"])
        return Hits(bar_of[hit], z[hit]) if hit.size else None

    def _atr_rank(self, bars: Closed) -> Hits | None:
        window, threshold = self.p["window"], self.p["threshold"]
        count = bars.close.shape[0]
        ranks = np.full(count, math.nan)
        values = np.empty(count)
        history = self.history
        for i in range(count):  # bars, not ticks: a few per batch
            value = self.atr.update(float(bars.high[i]), float(bars.low[i]),
                                    float(bars.close[i]))
            values[i] = value
            if history.shape[0] >= window:
                ranks[i] = percentile_rank(history, value)
            if math.isfinite(value):
                history = np.append(history[-(window - 1):], value)
        self.history = history
        with np.errstate(invalid="ignore"):
            spiking = ranks >= threshold
        index = _edges(self.spiking, spiking)
        self.spiking = bool(spiking[-1])
        if not index.size:
            return None
        return Hits(index, ranks[index], detail=lambda k: {"atr_pct": values[index[k]]})


# --- trend ------------------------------------------------------------------------------------

TREND_LABELS: dict[str, tuple[str, ...]] = {
    "direction": ("up", "down", "sideways"),
    "strength": ("weak", "moderate", "strong"),
    "volatility": ("calm", "normal", "high", "extreme"),
    "character": ("trending", "mean_reverting", "random"),
}


class TrendChange(Condition):
    """The live trend (its TREND events) changes a coin's regime on a timeframe: one field
    (direction, strength, volatility, character) or any, to a given label or to any."""

    type, group = "trend_change", "trend"
    feeds = EVENTS
    timeframe = Field(TIMEFRAME, "1h", doc="the timeframe whose regime is watched")
    field = Field(CHOICE, "any", choices=(*TREND_LABELS, "any"),
                  doc="the regime's field that changes")
    to = Field(CHOICE, "any", choices=("any", *sorted({x for v in TREND_LABELS.values()
                                                        for x in v})),
               doc="the label it changes to (any: every change)")
    message = "{coin} {timeframe} trend changed: {change}"
    extras: ClassVar[dict[str, Any]] = {"change": "direction up → sideways"}

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        field, to = params["field"], params["to"]
        if to == "any":
            return None
        if field == "any":
            return (f"trend_change with to={to!r} needs the field it belongs to (direction, "
                    "strength, volatility or character), not any")
        if to not in TREND_LABELS[field]:
            return (f"trend_change's {field} is one of {', '.join(TREND_LABELS[field])} "
                    f"(got to={to!r})")
        return None

    @classmethod
    def bar_timeframe(cls, params: Mapping[str, Any]) -> str | None:
        return None  # fed by the TREND events, not by bars the evaluator builds

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind != "trend" or data.get("timeframe") != self.p["timeframe"]:
            return None
        previous, current = data.get("previous"), data.get("current") or {}
        if not previous:
            return None  # the first regime seen is no change
        field, to = self.p["field"], self.p["to"]
        fields = TREND_LABELS if field == "any" else (field,)
        changed = [f for f in fields if previous.get(f) != current.get(f)]
        if not changed or (to != "any" and current.get(field) != to):
            return None
        change = ", ".join(f"{f} {previous.get(f)} → {current.get(f)}" for f in changed)
        return Hit(None, detail={"change": change})


# --- strategy health --------------------------------------------------------------------------

class _Passing(Condition):
    """A figure passing a threshold: a hit when it reaches it, again only after it fell back."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.passed = False

    def passing(self, value: float | None, threshold: float) -> Hit | None:
        if value is None or not math.isfinite(value):
            return None
        passed = value >= threshold
        was, self.passed = self.passed, passed
        return Hit(value) if passed and not was else None


class Drawdown(_Passing):
    """A strategy's maximum drawdown in the session passes an amount (quote currency) or a
    percentage of its peak value, as its ledger measures it. Scoped to all: each strategy."""

    type, group = "drawdown", "strategy"
    scopes, feeds = STRATEGY_SCOPES, EVENTS
    amount = Field(NUMBER, above=0, doc="the drawdown, in quote currency")
    percent = Field(NUMBER, above=0, high=100, doc="the drawdown, in % of the peak value")
    one_of = (("amount", "percent"),)
    message = "{strategy}'s drawdown {value}{unit} passed {threshold}{unit}"
    extras: ClassVar[dict[str, Any]] = {"unit": "%"}

    @property
    def limit(self) -> float:
        return self.p.get("amount", self.p.get("percent"))

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind != "metrics":
            return None
        key, unit = ("max_drawdown", "") if "amount" in self.p else ("max_drawdown_pct", "%")
        hit = self.passing(_number(data.get(key)), self.limit)
        if hit is not None:
            hit.detail = {"unit": unit}
        return hit


class LosingStreak(Condition):
    """A strategy closes ``count`` losing trades in a row (counted from the TRADES events;
    a winning trade starts the count again)."""

    type, group = "losing_streak", "strategy"
    scopes, feeds = STRATEGY_SCOPES, EVENTS
    count = Field(INTEGER, 3, low=1, high=1000, doc="losing trades in a row")
    message = "{strategy} lost {value} trades in a row"

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.streak = 0

    @property
    def limit(self) -> float:
        return self.p["count"]

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind != "trades":
            return None
        reached = None
        for trade in data:
            pnl = trade.get("profit_loss") or 0.0
            if pnl < 0:
                self.streak += 1
                if self.streak == self.p["count"]:
                    reached = Hit(self.streak, price=_number(trade.get("price")))
            elif pnl > 0:
                self.streak = 0
        return reached


class PnlTarget(_Passing):
    """A strategy's P&L (realised and unrealised, net of fees) reaches a target."""

    type, group = "pnl_target", "strategy"
    scopes, feeds = STRATEGY_SCOPES, EVENTS
    amount = Field(NUMBER, above=0, doc="the P&L target, in quote currency")
    message = "{strategy} reached its P&L target {threshold}: {value}"

    @property
    def limit(self) -> float:
        return self.p["amount"]

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind != "metrics":
            return None
        return self.passing(_number(data.get("equity")), self.limit)


class NoTrade(Condition):
    """An active strategy makes no trade for ``seconds``, counted from its last trade or from
    when it was first seen active (a pause or an error stops the count)."""

    type, group = "no_trade", "strategy"
    scopes, feeds = STRATEGY_SCOPES, EVENTS
    seconds = Field(INTEGER, 3600, low=1, high=30 * DAY, doc="the silence, in seconds")
    message = "{strategy} has made no trade for {value} s"

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.since: float | None = None  # the silence's start, while active
        self.trades: int | None = None
        self.told = False

    @property
    def limit(self) -> float:
        return self.p["seconds"]

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind == "metrics":
            if data.get("status", StrategyStatus.ACTIVE) != StrategyStatus.ACTIVE:
                self.since, self.told = None, False
                return None
            trades = data.get("total_trades")
            if self.since is None or trades != self.trades:
                self.since, self.told, self.trades = now, False, trades
        elif kind == "trades":
            self.since, self.told = now, False
            self.trades = None
            return None
        elif kind == "strategy":
            if data.get("status") != StrategyStatus.ACTIVE:
                self.since, self.told = None, False
            return None
        if self.since is None or self.told or now - self.since < self.p["seconds"]:
            return None
        self.told = True
        return Hit(round(now - self.since, 1))


class StrategyErrorCondition(Condition):
    """A strategy enters its error state (it raised and the engine stopped it)."""

    type, group = "strategy_error", "strategy"
    scopes, feeds = STRATEGY_SCOPES, EVENTS
    message = "{strategy} stopped on an error: {error}"
    extras: ClassVar[dict[str, Any]] = {"error": "ValueError: bad bar"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.failed = False

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind not in ("metrics", "strategy") or "status" not in data:
            return None
        failed = data.get("status") == StrategyStatus.ERROR
        was, self.failed = self.failed, failed
        if failed and not was:
            return Hit(None, detail={"error": data.get("error") or "no reason given"})
        return None


# --- engine health ----------------------------------------------------------------------------

class FeedStalled(Condition):
    """No price arrives for ``seconds`` while the feed is open (connecting, live, stalled or
    reconnecting); said once per silence."""

    type, group = "feed_stalled", "engine"
    scopes, feeds = ENGINE_SCOPES, EVENTS
    seconds = Field(INTEGER, 30, low=1, high=DAY, doc="the silence, in seconds")
    message = "no price for {value} s: the feed is {feed}"
    extras: ClassVar[dict[str, Any]] = {"feed": "live"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.told_at: float | None = None  # the start of the silence already told

    @property
    def limit(self) -> float:
        return self.p["seconds"]

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        since = facts.silent_since()
        if since is None or since == self.told_at or now - since < self.p["seconds"]:
            return None
        self.told_at = since
        return Hit(round(now - since, 1), detail={"feed": facts.feed_state})


class FeedReconnecting(Condition):
    """The feed loses its connection and reconnects (once per reconnection)."""

    type, group = "feed_reconnecting", "engine"
    scopes, feeds = ENGINE_SCOPES, EVENTS
    message = "the feed is reconnecting: {reason}"
    extras: ClassVar[dict[str, Any]] = {"reason": "connection reset"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.reconnecting = False

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind != "feed":
            return None
        now_reconnecting = data.get("state") == FeedState.RECONNECTING
        was, self.reconnecting = self.reconnecting, now_reconnecting
        if now_reconnecting and not was:
            return Hit(None, detail={"reason": data.get("message") or "no reason given"})
        return None


class JournalPaused(Condition):
    """The journal cannot be written (or its disk is nearly full), so trading is paused."""

    type, group = "journal_paused", "engine"
    scopes, feeds = ENGINE_SCOPES, EVENTS
    message = "trading paused: {reason}"
    extras: ClassVar[dict[str, Any]] = {"reason": "the disk is nearly full"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.paused = False

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind == "engine":
            paused, reason = data.get("status") == EngineStatus.PAUSED, data.get("message")
        elif kind == "global" and isinstance(data.get("journal"), Mapping):
            journal = data["journal"]
            paused, reason = journal.get("state") == JournalState.PAUSED, journal.get("message")
        else:
            return None
        was, self.paused = self.paused, paused
        if paused and not was:
            return Hit(None, detail={"reason": reason or "the journal cannot be written"})
        return None


# the engine's words when a process dies: engine/workers.py and engine/host.py
_DIED = re.compile(r"worker \d+ \(pid \d+\) exited|engine process ended unexpectedly")


class WorkerDied(Condition):
    """A strategy worker process (or the engine's own process) exits unexpectedly, as the
    engine's log says."""

    type, group = "worker_died", "engine"
    scopes, feeds = ENGINE_SCOPES, EVENTS
    message = "{reason}"
    extras: ClassVar[dict[str, Any]] = {"reason": "worker 1 (pid 42) exited with code -9"}

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        if kind != "log" or not _DIED.search(str(data.get("message", ""))):
            return None
        return Hit(None, detail={"reason": data["message"]})


class DailyLoss(_Passing):
    """The account's loss since the day began (UTC; realised and unrealised) passes an amount
    or a percentage of the day's opening value: the global daily-loss limit. Said at most
    once a day unless the loss falls back below the limit."""

    type, group = "daily_loss", "engine"
    scopes, feeds = ENGINE_SCOPES, EVENTS
    amount = Field(NUMBER, above=0, doc="the day's loss, in quote currency")
    percent = Field(NUMBER, above=0, high=100, doc="the day's loss, in % of its opening value")
    one_of = (("amount", "percent"),)
    message = "the day's loss {value}{unit} passed the limit {threshold}{unit}"
    extras: ClassVar[dict[str, Any]] = {"unit": "%"}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.day = -1
        self.opening = math.nan

    @property
    def limit(self) -> float:
        return self.p.get("amount", self.p.get("percent"))

    def event(self, kind: str, data: Any, now: float, facts: Facts) -> Hit | None:
        value = _number(data.get("account_value")) if kind == "global" else None
        if value is None:
            return None
        day = int(now // DAY)
        if day != self.day:
            self.day, self.opening, self.passed = day, value, False
        loss = self.opening - value
        if "percent" in self.p:
            loss, unit = (loss / self.opening * 100.0 if self.opening > 0 else math.nan), "%"
        else:
            unit = ""
        hit = self.passing(loss, self.limit)
        if hit is not None:
            hit.detail = {"unit": unit}
        return hit


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def describe_conditions() -> list[dict[str, Any]]:
    """Every condition type with its group, doc, scopes and parameters (for the forms)."""
    return [kind.describe() for kind in CONDITIONS.values()]


# --- bars built from the prices -------------------------------------------------------------

class _BarTrack:
    """One coin's bars of one timeframe, from ticks or from a file's finer bars: what a batch
    closed, and the bar still forming."""

    __slots__ = ("forming", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.forming: tuple[float, float, float, float, float] | None = None  # start, OHLC

    def add_ticks(self, prices: np.ndarray, stamps: np.ndarray) -> Closed:
        start = self.forming[0] if self.forming is not None else -math.inf
        pieces = combine_ticks(prices, stamps, self.seconds, start)
        first = np.zeros(len(pieces), dtype=np.int64)
        first[1:] = np.cumsum(pieces.volume[:-1]).astype(np.int64)  # volume = tick count
        return self._close(pieces, first, np.zeros(len(pieces), dtype=bool))

    def add_bars(self, time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                 close: np.ndarray, interval: float) -> Closed:
        """A file's bars (each ``interval`` long, ``interval`` at most this timeframe): a bar
        of this timeframe closes with the file's bar that ends where it ends."""
        start = self.forming[0] if self.forming is not None else -math.inf
        pieces = combine(Pieces(time, open_, high, low, close, np.ones(time.shape[0])),
                         self.seconds, start)
        buckets = np.maximum.accumulate(np.maximum(
            np.floor(time / self.seconds) * self.seconds, start))
        change = np.flatnonzero(np.append(True, buckets[1:] != buckets[:-1]))
        last = np.append(change[1:], time.shape[0]) - 1
        complete = time[last] + interval >= pieces.start + self.seconds - 1e-9
        return self._close(pieces, change, complete, last)

    def _close(self, pieces: Pieces, first: np.ndarray, complete: np.ndarray,
               last: np.ndarray | None = None) -> Closed:
        """Bars closed: each piece followed by another (revealed by that one's first
        position) or complete by itself (revealed by its ``last`` position)."""
        starts, opens = pieces.start.copy(), pieces.open.copy()
        highs, lows, closes = pieces.high.copy(), pieces.low.copy(), pieces.close.copy()
        extra = None
        forming = self.forming
        if forming is not None:
            if starts[0] == forming[0]:
                opens[0] = forming[1]
                highs[0] = max(highs[0], forming[2])
                lows[0] = min(lows[0], forming[3])
            else:
                extra = forming  # closed by the batch's first position
        count = starts.shape[0]
        reveal = np.empty(count, dtype=np.int64)
        reveal[:-1] = first[1:]
        closing = np.ones(count, dtype=bool)
        closing[-1] = False
        if last is not None:
            reveal[complete] = last[complete]
            closing |= complete
        keep = np.flatnonzero(closing)
        tail = count - 1
        self.forming = None if closing[tail] else (
            float(starts[tail]), float(opens[tail]), float(highs[tail]), float(lows[tail]),
            float(closes[tail]))
        columns = [starts[keep], opens[keep], highs[keep], lows[keep], closes[keep],
                   reveal[keep]]
        if extra is not None:
            front = (*extra, 0.0)
            columns = [np.concatenate(([value], column)) for value, column in
                       zip(front, columns, strict=True)]
            columns[5] = columns[5].astype(np.int64)
        return Closed(*columns)


# --- the evaluator --------------------------------------------------------------------------

class Rule(Protocol):
    """What the evaluator reads of a rule: :class:`copilot.rules.Rule` (which imports this
    module, so the evaluator names the shape rather than the class)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def expires(self) -> float | None: ...
    @property
    def condition(self) -> Any: ...  # .type, .params, .kind
    @property
    def scope(self) -> Any: ...  # .kind, .value
    @property
    def frequency(self) -> Any: ...  # .mode, .bar, .cooldown_s
    @property
    def action(self) -> Any: ...
    @property
    def template(self) -> str: ...
    def same_watch(self, other: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rule fired: when (the triggering price's or event's time), on what, and its message.
    ``tick_time`` is when the triggering tick arrived (for the alert's latency); ``throttled``
    marks the one trigger that says a runaway rule is silenced."""

    rule: Rule
    time: float
    tick_time: float
    coin: str | None
    strategy_id: str | None
    price: float | None
    value: float | None
    threshold: float | None
    message: str
    throttled: bool = False


@dataclass(slots=True)
class _Batch:
    """Prices with the times the rules read: ``stamps`` place them in bars, ``times`` (never
    decreasing) are reported and compared with cooldowns, throttles and expiries."""

    prices: np.ndarray
    stamps: np.ndarray
    times: np.ndarray
    arrived: float | np.ndarray
    _run: PriceRun | None = dataclasses.field(default=None, init=False)

    @property
    def run(self) -> PriceRun:
        """The prices as the price conditions read them (made once for every rule)."""
        if self._run is None:
            self._run = PriceRun.of(self.prices, self.times)
        return self._run

    def arrival(self, i: int) -> float:
        arrived = self.arrived
        return float(arrived[i]) if isinstance(arrived, np.ndarray) else float(arrived)

    @staticmethod
    def single(now: float, price: float | None) -> _Batch:
        moment = np.array([now])
        return _Batch(np.array([math.nan if price is None else price]), moment, moment, now)


class RuleState:
    """One rule's state: a condition instance per coin or strategy it watches (one for the
    engine), the frequency's last firing per watch, the throttle's window, once and expiry."""

    __slots__ = ("bar_seconds", "done", "expired", "failure", "feeds", "fires", "last", "rule",
                 "seconds", "silent_until", "timeframe_seconds", "watches")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.watches: dict[str | None, Condition] = {}
        self.last: dict[str | None, tuple[float, float]] = {}  # key -> (time, bar)
        self.fires: deque[float] = deque()
        self.silent_until = -math.inf
        self.done = self.expired = False
        self.failure: str | None = None
        self.bar_seconds = float(TIMEFRAMES[rule.frequency.bar])
        timeframe = rule.condition.kind.bar_timeframe(rule.condition.params)
        self.timeframe_seconds = float(TIMEFRAMES[timeframe]) if timeframe else None
        self.feeds = rule.condition.kind.feeds
        self.seconds = self.needed_seconds()

    @property
    def live(self) -> bool:
        return not (self.done or self.expired or self.failure)

    def covers(self, key: str | None) -> bool:
        scope = self.rule.scope
        if scope.kind == ALL:
            return True
        if key is None:
            return False
        return (key.upper() if scope.kind == COIN else key) == scope.value

    def watch(self, key: str | None) -> Condition:
        watch = self.watches.get(key)
        if watch is None:
            condition = self.rule.condition
            watch = self.watches[key] = condition.kind(condition.params)
        return watch

    def needed_seconds(self) -> float | None:
        """The timeframe of bars this rule reads from the prices, if any."""
        if self.feeds == BARS:
            return self.timeframe_seconds
        if self.feeds == PRICES and self.rule.frequency.mode == ONCE_PER_BAR_CLOSE:
            return self.bar_seconds
        return None

    def price_hits(self, coin: str, batch: _Batch, closed: dict[float, Closed]) -> Hits | None:
        watch = self.watches.get(coin) or self.watch(coin)
        seconds = self.seconds
        if seconds is None:
            return watch.prices(batch.run)
        bars = closed[seconds]
        if not len(bars):
            return None
        if self.feeds == BARS:
            hits = watch.bars(bars)
        else:  # once per bar close: the condition sees only the bars' closes
            hits = watch.prices(PriceRun.of(bars.close, batch.times[bars.reveal]))
        return None if hits is None else hits.through(bars.reveal, bars.close)

    def select(self, key: str | None, hits: Hits, batch: _Batch, coin: str | None,
               strategy: str | None, throttle: tuple[int, float]) -> list[Trigger]:
        """The triggers among ``hits`` the frequency, the throttle and the expiry let through:
        a jump from one allowed hit to the next (searchsorted), never a loop over the hits."""
        rule, mode = self.rule, self.rule.frequency.mode
        index = hits.index
        times = batch.times[index]
        bars = np.floor(batch.stamps[index] / self.bar_seconds) if mode == ONCE_PER_BAR else None
        if bars is not None:
            bars = np.maximum.accumulate(bars)
        out: list[Trigger] = []
        position, count = 0, index.shape[0]
        while position < count and self.live:
            start = position
            if self.silent_until > times[position]:
                start = max(start, int(np.searchsorted(times, self.silent_until)))
            last = self.last.get(key)
            if last is not None and mode == EVERY_TIME and rule.frequency.cooldown_s:
                start = max(start, int(np.searchsorted(
                    times, last[0] + rule.frequency.cooldown_s)))
            if last is not None and bars is not None:
                start = max(start, int(np.searchsorted(bars, last[1], side="right")))
            if start >= count:
                break
            moment = float(times[start])
            if rule.expires is not None and moment >= rule.expires:
                self.expired = True
                break
            position = start + 1
            bar = float(bars[start]) if bars is not None else math.nan
            if self._runaway(moment, throttle):
                out.append(self._trigger(key, hits, start, batch, coin, strategy, throttle))
                continue
            self.last[key] = (moment, bar)
            self.fires.append(moment)
            out.append(self._trigger(key, hits, start, batch, coin, strategy))
            if mode == ONCE:
                self.done = True
        return out

    def _runaway(self, moment: float, throttle: tuple[int, float]) -> bool:
        """Whether firing at ``moment`` would pass ``count`` firings within ``window``
        seconds; then the rule is silent for a window."""
        count, window = throttle
        fires = self.fires
        while fires and fires[0] <= moment - window:
            fires.popleft()
        if len(fires) < count:
            return False
        self.silent_until = moment + window
        fires.clear()
        return True

    def _trigger(self, key: str | None, hits: Hits, k: int, batch: _Batch, coin: str | None,
                 strategy: str | None, throttle: tuple[int, float] | None = None) -> Trigger:
        rule, watch = self.rule, self.watches.get(key)
        i = int(hits.index[k])
        price = _finite(hits.price[k] if hits.price is not None else batch.prices[i])
        value = _finite(hits.value[k]) if hits.value is not None else None
        threshold = _finite(hits.threshold[k]) if hits.threshold is not None else (
            watch.limit if watch is not None else None)
        moment = float(batch.times[i])
        if throttle is not None:
            count, window = throttle
            message = (f"{rule.name}: more than {count} alerts within {window:g} s, so the "
                       f"rule is throttled: silent until {_clock(moment + window)}, then it "
                       "fires again")
        else:
            values = {**rule.condition.params, **hits.extras(k), "coin": coin, "price": price,
                      "value": value, "threshold": threshold, "strategy": strategy,
                      "time": moment, "rule": rule.name}
            message = render(rule.template, values)
        return Trigger(rule, moment, batch.arrival(i), coin, strategy, price, value, threshold,
                       message, throttled=throttle is not None)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clock(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Evaluator:
    """Every enabled rule, evaluated incrementally on prices, bars and engine events.

    Pure: no threads, no clock reads (times come with the inputs), so a replay and a test are
    exact. A batch of prices is evaluated per rule with numpy, never per tick in Python. A rule
    whose condition raises is set aside with its reason (:meth:`failures`); the others go on.
    """

    def __init__(self, rules: Sequence[Rule] = (), throttle: tuple[int, float] = (15, 180.0)
                 ) -> None:
        count, window = throttle
        self.throttle = (int(count), float(window))
        self._states: dict[str, RuleState] = {}
        self._price_states: list[RuleState] = []
        self._tracks: dict[str, dict[float, _BarTrack]] = {}
        self._seconds: set[float] = set()
        self._facts = Facts()
        self._last_price: dict[str, float] = {}
        self._coin_of: dict[str, str] = {}  # strategy id -> coin, from the metrics
        self.replace(rules)

    # --- the rules ----------------------------------------------------------------------

    def replace(self, rules: Iterable[Rule]) -> None:
        """Evaluate ``rules`` from now on (disabled ones are left out). A rule that watches
        what it watched before (condition, scope, frequency) keeps its state: its
        indicators, its last firing, its throttle."""
        states: dict[str, RuleState] = {}
        for rule in rules:
            if not rule.enabled:
                continue
            old = self._states.get(rule.id)
            if old is not None and old.rule.same_watch(rule) and old.failure is None:
                old.rule = rule
                old.expired = False  # judged again against the (maybe new) expiry
                states[rule.id] = old
            else:
                states[rule.id] = RuleState(rule)
        self._states = states
        self._price_states = [state for state in states.values() if state.feeds != EVENTS]
        self._seconds = {state.seconds for state in states.values()
                         if state.seconds is not None}
        for tracks in self._tracks.values():
            for seconds in set(tracks) - self._seconds:
                del tracks[seconds]

    @property
    def rules(self) -> list[Rule]:
        return [state.rule for state in self._states.values()]

    def state(self, rule_id: str) -> RuleState:
        return self._states[rule_id]

    def failures(self) -> list[tuple[str, str]]:
        """``(rule_id, reason)`` of each rule whose condition raised; it is evaluated no more
        (the monitor disables it with the reason)."""
        return [(rid, s.failure) for rid, s in self._states.items() if s.failure is not None]

    def finished(self) -> list[tuple[str, str]]:
        """``(rule_id, reason)`` of each rule that will fire no more: a once rule that fired,
        a rule past its expiry."""
        out = []
        for rule_id, state in self._states.items():
            if state.done:
                out.append((rule_id, "fired once"))
            elif state.expired:
                out.append((rule_id, f"expired at {_clock(state.rule.expires or 0.0)}"))
        return out

    # --- prices and bars ----------------------------------------------------------------

    def on_prices(self, coin: str, prices: np.ndarray, stamps: np.ndarray,
                  arrived: float) -> list[Trigger]:
        """The triggers of a batch of ``coin``'s prices (in arrival order, with their
        timestamps), which arrived at ``arrived``."""
        prices = np.ascontiguousarray(prices, dtype=np.float64)
        stamps = np.ascontiguousarray(stamps, dtype=np.float64)
        if not prices.shape[0]:
            return []
        coin = coin.upper()
        self._facts.last_tick = float(arrived)
        self._last_price[coin] = float(prices[-1])
        batch = _Batch(prices, stamps, np.maximum.accumulate(stamps), float(arrived))
        tracks = self._tracks_of(coin)
        closed = {seconds: track.add_ticks(prices, stamps) for seconds, track in tracks.items()}
        return self._run_prices(coin, batch, closed)

    def on_bars(self, coin: str, time: np.ndarray, open_: np.ndarray, high: np.ndarray,
                low: np.ndarray, close: np.ndarray, interval: float,
                fire: bool = True) -> list[Trigger]:
        """The triggers of a file's bars (``time``: each bar's open; ``interval`` seconds
        long): the prices are the closes at the bars' ends, the indicators read the bars
        combined to their timeframes. ``fire=False`` only warms the indicators up (history
        before the rules start)."""
        time = np.ascontiguousarray(time, dtype=np.float64)
        if not time.shape[0]:
            return []
        coin = coin.upper()
        columns = [np.ascontiguousarray(c, dtype=np.float64) for c in (open_, high, low, close)]
        finer = [s for s in self._seconds if s < interval - 1e-9]
        if finer:
            raise ValueError(f"bars of {interval:g} s cannot make the {min(finer):g} s bars a "
                             "rule reads: give finer bars, or rules on coarser timeframes")
        ends = time + interval
        closed = {seconds: track.add_bars(time, *columns, interval)
                  for seconds, track in self._tracks_of(coin).items()}
        batch = _Batch(columns[3], time, np.maximum.accumulate(ends), ends)
        if not fire:
            for state in self._states.values():
                if state.feeds == BARS and state.covers(coin) and state.live:
                    self._guard(state, coin, lambda s=state: s.price_hits(coin, batch, closed))
            return []
        self._last_price[coin] = float(columns[3][-1])
        return self._run_prices(coin, batch, closed)

    def _tracks_of(self, coin: str) -> dict[float, _BarTrack]:
        tracks = self._tracks.setdefault(coin, {})
        for seconds in self._seconds - set(tracks):
            tracks[seconds] = _BarTrack(seconds)
        return tracks

    def _run_prices(self, coin: str, batch: _Batch, closed: dict[float, Closed]
                    ) -> list[Trigger]:
        out: list[Trigger] = []
        for state in self._price_states:
            if state.done or state.expired or state.failure or not state.covers(coin):
                continue
            try:
                hits = state.price_hits(coin, batch, closed)
            except Exception as exc:  # a rule's fault must not stop the others
                self._set_aside(state, coin, exc)
                continue
            if hits is not None:
                out += state.select(coin, hits, batch, coin, None, self.throttle)
        return out

    def _guard(self, state: RuleState, where: str | None, work: Callable[[], Any]) -> Any:
        """``work()``, or None with the rule set aside if it raises."""
        try:
            return work()
        except Exception as exc:  # a rule's fault must not stop the others
            self._set_aside(state, where, exc)
            return None

    @staticmethod
    def _set_aside(state: RuleState, where: str | None, exc: Exception) -> None:
        on = f" on {where}" if where else ""
        state.failure = (f"its {state.rule.condition.type} condition failed{on}: "
                         f"{type(exc).__name__}: {exc}")

    # --- engine events ------------------------------------------------------------------

    def on_event(self, kind: str, data: Any, now: float) -> list[Trigger]:
        """The triggers of one engine event (``kind``: an EventKind value; ``metrics`` goes
        to :meth:`on_metrics`). TREND, STRATEGY, TRADES, FEED, ENGINE and LOG are read."""
        kind = str(kind)
        if kind == "metrics":
            return self.on_metrics(data, now)
        if kind == "trend":
            coin = str(data.get("coin", "")).upper()
            return self._events(kind, data, now, coin, coin, None, self._last_price.get(coin))
        if kind == "strategy":
            sid = str(data.get("strategy_id", ""))
            return self._events(kind, data, now, sid, self._coin_of.get(sid), sid, None)
        if kind == "trades":
            by_strategy: dict[str, list[dict]] = {}
            for trade in data:
                by_strategy.setdefault(str(trade.get("strategy_id")), []).append(trade)
            out = []
            for sid, trades in by_strategy.items():
                coin = trades[-1].get("coin") or self._coin_of.get(sid)
                out += self._events(kind, trades, now, sid, coin, sid,
                                    _number(trades[-1].get("price")))
            return out
        if kind == "feed":
            self._feed(str(data.get("state", "")), now)
        if kind in ("feed", "engine", "log"):
            return self._events(kind, data, now, None, None, None, None)
        return []

    def on_metrics(self, snapshot: Mapping[str, Any], now: float) -> list[Trigger]:
        """The triggers of a METRICS snapshot: strategy health per strategy, the daily loss
        and the journal from the global figures."""
        out: list[Trigger] = []
        glob = snapshot.get("global") or {}
        feed = glob.get("feed")
        if isinstance(feed, Mapping) and feed.get("state"):
            self._feed(str(feed["state"]), now)
        for sid, metrics in (snapshot.get("strategies") or {}).items():
            coin = metrics.get("coin")
            if coin:
                self._coin_of[sid] = coin
            out += self._events("metrics", metrics, now, sid, coin, sid,
                                _number(metrics.get("last_price")))
        out += self._events("global", glob, now, None, None, None, None)
        return out

    def on_clock(self, now: float) -> list[Trigger]:
        """The triggers of time passing: no trade for a while, a stalled feed; rules past
        their expiry are marked (see :meth:`finished`)."""
        out: list[Trigger] = []
        for state in self._states.values():
            if state.rule.expires is not None and now >= state.rule.expires:
                state.expired = True
            if state.feeds != EVENTS or not state.live:
                continue
            keys = list(state.watches) or ([None] if state.rule.condition.kind.scopes ==
                                           ENGINE_SCOPES else [])
            for key in keys:
                coin = self._coin_of.get(key) if key is not None else None
                out += self._one(state, "clock", None, now, key, coin, key, None)
        return out

    def _feed(self, feed_state: str, now: float) -> None:
        facts = self._facts
        if feed_state != facts.feed_state:
            facts.feed_state, facts.feed_since = feed_state, now

    def _events(self, kind: str, data: Any, now: float, key: str | None, coin: str | None,
                strategy: str | None, price: float | None) -> list[Trigger]:
        out: list[Trigger] = []
        engine = key is None
        for state in self._states.values():
            if state.feeds != EVENTS or not state.live:
                continue
            if (state.rule.condition.kind.scopes == ENGINE_SCOPES) != engine:
                continue
            if not engine and not state.covers(key):
                continue
            out += self._one(state, kind, data, now, key, coin, strategy, price)
        return out

    def _one(self, state: RuleState, kind: str, data: Any, now: float, key: str | None,
             coin: str | None, strategy: str | None, price: float | None) -> list[Trigger]:
        if state.rule.expires is not None and now >= state.rule.expires:
            state.expired = True
            return []
        hit = self._guard(state, coin or strategy,
                          lambda: state.watch(key).event(kind, data, now, self._facts))
        if hit is None:
            return []
        hits = Hits(np.zeros(1, dtype=np.int64),
                    None if hit.value is None else np.array([float(hit.value)]),
                    price=np.array([math.nan if (p := hit.price if hit.price is not None
                                                 else price) is None else p]),
                    detail=hit.detail)
        return state.select(key, hits, _Batch.single(now, price), coin, strategy,
                            self.throttle)
