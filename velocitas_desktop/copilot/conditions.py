"""The copilot's condition types, declared with their parameters (copilot/evaluator.py runs them).

Each condition type is a class whose parameters are class attributes built with :class:`Field`
(kind, default, bounds, choices, doc), the way a strategy declares its :class:`Param`s: that
declaration alone validates a rule, builds the window's and the browser's form
(:func:`describe_conditions`) and documents the type.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

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
