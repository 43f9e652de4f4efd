"""The copilot's condition types, declared with their parameters, and the Evaluator that runs them.

Each condition type is a class whose parameters are class attributes built with :class:`Field`
(kind, default, bounds, choices, doc), the way a strategy declares its :class:`Param`s: that
declaration alone validates a rule, builds the window's and the browser's form
(:func:`describe_conditions`) and documents the type.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

from velocitas_desktop.core.types import TIMEFRAMES

NUMBER, INTEGER, CHOICE, TIMEFRAME = "number", "integer", "choice", "timeframe"
COIN, STRATEGY, ALL = "coin", "strategy", "all"
PRICE_SCOPES = (COIN, ALL)
STRATEGY_SCOPES = (STRATEGY, ALL)
ENGINE_SCOPES = (ALL,)
DAY = 86_400


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
    def describe(cls) -> dict[str, Any]:
        return {"type": cls.type, "group": cls.group, "doc": " ".join((cls.__doc__ or "").split()),
                "scopes": list(cls.scopes), "one_of": [list(g) for g in cls.one_of],
                "message": cls.message,
                "params": [field.describe() for field in cls.fields.values()]}


CONDITIONS: dict[str, type[Condition]] = {}
DIRECTIONS = ("up", "down", "either")


# --- price ----------------------------------------------------------------------------------

class PriceCross(Condition):
    """The price crosses a level: up (from below to at or above it), down, or either way."""

    type, group = "price_cross", "price"
    level = Field(NUMBER, above=0, doc="the price level")
    direction = Field(CHOICE, "either", choices=DIRECTIONS, doc="which way the price crosses")
    message = "{coin} crossed {threshold} at {price}"


class PriceChannel(Condition):
    """The price enters or leaves a channel between two levels (both inclusive)."""

    type, group = "price_channel", "price"
    low = Field(NUMBER, above=0, doc="the channel's lower level")
    high = Field(NUMBER, above=0, doc="the channel's upper level")
    event = Field(CHOICE, "leave", choices=("enter", "leave"),
                  doc="fire when the price enters the channel, or leaves it")
    message = "{coin} {moved} the channel {low} to {high} at {price}"

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        if params["low"] >= params["high"]:
            return (f"price_channel's low ({_fmt(params['low'])}) must be below its high "
                    f"({_fmt(params['high'])})")
        return None


class PriceMove(Condition):
    """The price moves by at least ``percent`` against its price ``window_s`` seconds earlier
    (or the oldest price seen, before a whole window has passed)."""

    type, group = "price_move", "price"
    percent = Field(NUMBER, above=0, high=1000, doc="the move, in percent of the earlier price")
    window_s = Field(INTEGER, low=1, high=7 * DAY, doc="the window, in seconds")
    direction = Field(CHOICE, "either", choices=DIRECTIONS, doc="a rise, a fall, or either")
    message = "{coin} moved {value:+.2f}% within {window_s} s to {price}"


# --- indicators on a timeframe ----------------------------------------------------------------

class RSICondition(Condition):
    """The RSI of the timeframe's closes rises above a level, or falls below one, at a bar's
    close (give ``above`` or ``below``)."""

    type, group = "rsi", "indicator"
    timeframe = Field(TIMEFRAME, "1h", doc="the bars the RSI is computed on")
    period = Field(INTEGER, 14, low=2, high=500, doc="the RSI's period, in bars")
    above = Field(NUMBER, low=0, high=100, doc="fire when the RSI rises above this")
    below = Field(NUMBER, low=0, high=100, doc="fire when the RSI falls below this")
    one_of = (("above", "below"),)
    message = "{coin} {timeframe} RSI {value:.1f} {side} {threshold} at {price}"


class MACross(Condition):
    """A fast moving average crosses a slow one at a bar's close: golden (up), death (down)."""

    type, group = "ma_cross", "indicator"
    timeframe = Field(TIMEFRAME, "1h", doc="the bars the averages are computed on")
    fast = Field(INTEGER, 10, low=1, high=1000, doc="the fast average's period, in bars")
    slow = Field(INTEGER, 30, low=2, high=2000, doc="the slow average's period, in bars")
    average = Field(CHOICE, "sma", choices=("sma", "ema"), doc="simple or exponential")
    direction = Field(CHOICE, "either", choices=("golden", "death", "either"),
                      doc="golden: the fast crosses above the slow; death: below")
    message = "{coin} {timeframe} {fast}/{slow} {cross} cross at {price}"

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        if params["fast"] >= params["slow"]:
            return (f"ma_cross's fast period ({params['fast']}) must be shorter than its slow "
                    f"one ({params['slow']})")
        return None


class VolatilitySpike(Condition):
    """Volatility jumps at a bar's close: the bar's log return is ``threshold`` standard
    deviations from the mean of the ``window`` bars before it (zscore), or the ATR% (14 bars)
    ranks at or above the ``threshold`` percentile of the last ``window`` bars
    (atr_percentile)."""

    type, group = "volatility_spike", "indicator"
    timeframe = Field(TIMEFRAME, "1h", doc="the bars the volatility is measured on")
    method = Field(CHOICE, "zscore", choices=("zscore", "atr_percentile"),
                   doc="zscore of the return, or percentile of the ATR%")
    threshold = Field(NUMBER, 3.0, above=0, high=100,
                      doc="standard deviations (zscore) or a percentile 50..100 (atr_percentile)")
    window = Field(INTEGER, 100, low=10, high=5000, doc="the bars the spike is measured against")
    message = "{coin} volatility spike on {timeframe}: {value:.2f} (threshold {threshold})"

    @classmethod
    def relation_problem(cls, params: dict[str, Any]) -> str | None:
        if params["method"] == "atr_percentile" and params["threshold"] < 50:
            return (f"volatility_spike's threshold is a percentile with atr_percentile: it "
                    f"must be between 50 and 100 (got {_fmt(params['threshold'])})")
        if params["method"] == "zscore" and params["threshold"] > 20:
            return (f"volatility_spike's threshold is a number of standard deviations with "
                    f"zscore: it must be at most 20 (got {_fmt(params['threshold'])})")
        return None


# --- trend ------------------------------------------------------------------------------------

TREND_LABELS: dict[str, tuple[str, ...]] = {
    "direction": ("up", "down", "sideways"),
    "strength": ("weak", "moderate", "strong"),
    "volatility": ("calm", "normal", "high", "extreme"),
    "character": ("trending", "mean_reverting", "random"),
}


class TrendChange(Condition):
    """The trend analysis (the live trend's TREND events) changes a coin's regime on a
    timeframe: one field, or any, to a given label or any."""

    type, group = "trend_change", "trend"
    timeframe = Field(TIMEFRAME, "1h", doc="the timeframe whose regime is watched")
    field = Field(CHOICE, "any", choices=(*TREND_LABELS, "any"),
                  doc="the regime's field that changes")
    to = Field(CHOICE, "any", choices=("any", *sorted({x for v in TREND_LABELS.values()
                                                        for x in v})),
               doc="the label it changes to (any: every change)")
    message = "{coin} {timeframe} trend changed: {change}"

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
        return None  # fed by TREND events, not by bars the evaluator builds


# --- strategy health --------------------------------------------------------------------------

class Drawdown(Condition):
    """A strategy's (or, scoped to all, the account's) maximum drawdown passes an amount (quote
    currency) or a percentage of its peak account value, as the ledger measures it."""

    type, group = "drawdown", "strategy"
    scopes = STRATEGY_SCOPES
    amount = Field(NUMBER, above=0, doc="the drawdown, in quote currency")
    percent = Field(NUMBER, above=0, high=100, doc="the drawdown, in % of the peak value")
    one_of = (("amount", "percent"),)
    message = "{strategy}'s drawdown {value} passed {threshold}"


class LosingStreak(Condition):
    """A strategy closes ``count`` losing trades in a row."""

    type, group = "losing_streak", "strategy"
    scopes = STRATEGY_SCOPES
    count = Field(INTEGER, 3, low=1, high=1000, doc="losing trades in a row")
    message = "{strategy} lost {value} trades in a row"


class PnlTarget(Condition):
    """A strategy's P&L (realised and unrealised, net of fees) reaches a target."""

    type, group = "pnl_target", "strategy"
    scopes = STRATEGY_SCOPES
    amount = Field(NUMBER, above=0, doc="the P&L target, in quote currency")
    message = "{strategy} reached its P&L target {threshold}: {value}"


class NoTrade(Condition):
    """An active strategy makes no trade for ``seconds`` (counted from its last trade, or from
    when it was first seen active)."""

    type, group = "no_trade", "strategy"
    scopes = STRATEGY_SCOPES
    seconds = Field(INTEGER, 3600, low=1, high=30 * DAY, doc="the silence, in seconds")
    message = "{strategy} has made no trade for {value} s"


class StrategyError(Condition):
    """A strategy enters its error state (it raised; the engine stopped it)."""

    type, group = "strategy_error", "strategy"
    scopes = STRATEGY_SCOPES
    message = "{strategy} stopped on an error"


# --- engine health ----------------------------------------------------------------------------

class FeedStalled(Condition):
    """No price arrives for ``seconds`` while the feed is open."""

    type, group = "feed_stalled", "engine"
    scopes = ENGINE_SCOPES
    seconds = Field(INTEGER, 30, low=1, high=DAY, doc="the silence, in seconds")
    message = "no price for {value} s: the feed has stalled"


class FeedReconnecting(Condition):
    """The feed loses its connection and reconnects."""

    type, group = "feed_reconnecting", "engine"
    scopes = ENGINE_SCOPES
    message = "the feed is reconnecting"


class JournalPaused(Condition):
    """The journal cannot be written (or its disk is nearly full): trading is paused."""

    type, group = "journal_paused", "engine"
    scopes = ENGINE_SCOPES
    message = "the journal paused trading"


class WorkerDied(Condition):
    """A strategy worker process (or the engine's own process) exits unexpectedly."""

    type, group = "worker_died", "engine"
    scopes = ENGINE_SCOPES
    message = "a worker died"


class DailyLoss(Condition):
    """The account's loss since the start of the day (UTC; realised and unrealised) passes an
    amount or a percentage of the day's opening value: the global daily-loss limit."""

    type, group = "daily_loss", "engine"
    scopes = ENGINE_SCOPES
    amount = Field(NUMBER, above=0, doc="the day's loss, in quote currency")
    percent = Field(NUMBER, above=0, high=100, doc="the day's loss, in % of its opening value")
    one_of = (("amount", "percent"),)
    message = "the day's loss {value} passed the limit {threshold}"


def describe_conditions() -> list[dict[str, Any]]:
    """Every condition type with its group, doc, scopes and parameters (for the forms)."""
    return [kind.describe() for kind in CONDITIONS.values()]
