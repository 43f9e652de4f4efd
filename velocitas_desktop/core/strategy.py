"""The strategy API: declared parameters, a rule stated once (or a free-form next), specs.

A strategy is a small class. Its parameters are class attributes built with :class:`Param`;
that declaration alone is enough to build a form, an API schema and an optimisation grid.
The engine feeds it prices one at a time through :meth:`Strategy.update`, which updates the
indicators the strategy registered in :meth:`Strategy.init` and then decides: by the
:class:`~velocitas_desktop.core.rules.Rule` that :meth:`Strategy.rule` states, or by a
free-form :meth:`Strategy.next`. A batch goes through :meth:`Strategy.run`, vectorised when
the strategy states a rule.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from velocitas_desktop.core.errors import ParameterError, StrategyDefinitionError
from velocitas_desktop.core.rules import CompiledRule, Rule
from velocitas_desktop.core.rules import Crossover as Crossover  # re-export: its old home
from velocitas_desktop.core.types import TICK, TIMEFRAMES, Action, Bar, Signal, timeframe_seconds

_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool}


def _infer_type(default: Any) -> type:
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return int
    return float


def _parse_text(text: str, kind: type, name: str) -> Any:
    raw = text.strip()
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ParameterError(f"{name} must be true or false (got {_shown(repr(text))})")
    digits = raw.lstrip("+-")
    size = f" (a number of {len(digits):,} digits)" if digits.isdigit() else f" ({_shown(raw)})"
    try:
        value = float(raw) if kind is float or "." in raw or "e" in raw.lower() else int(raw)
    except ValueError:
        if digits.isdigit():  # past Python's 4,300-digit limit on int()
            raise _too_large(name, size) from None
        raise ParameterError(f"{name} must be a number (got {_shown(repr(text))})") from None
    # float("1e400") is inf, not an error: typed that way, the number is too large
    if isinstance(value, float) and math.isinf(value) and "inf" not in raw.lower():
        raise _too_large(name, size)
    return value


def _too_large(name: str, size: str) -> ParameterError:
    return ParameterError(f"{name} is too large{size}: numbers here must be below "
                          f"{sys.float_info.max:.2g}")


def _shown(text: str, most: int = 40) -> str:
    """``text`` cut after ``most`` characters, for a message: it quotes what was typed, not
    the whole of a pasted page."""
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


def _check_finite(value: numbers.Real, name: str) -> None:
    """ParameterError unless ``value`` is a finite number a float can hold: every parameter
    ends up in float arithmetic, and a whole number past about 1.8e308 (JSON and Python
    both carry them) cannot be converted, let alone compared with a float bound."""
    try:
        as_float = float(value)
    except OverflowError:
        size = ""
        if isinstance(value, numbers.Integral):
            size = f" (a number of {math.floor(math.log10(abs(int(value)))) + 1:,} digits)"
        raise _too_large(name, size) from None
    if not math.isfinite(as_float):
        raise ParameterError(f"{name} must be a finite number (got {value!r})")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fmt(value: float) -> str:
    # a whole number of 17 digits or more reads better as 1e+300 than as its digits
    return f"{value:g}" if isinstance(value, float) or abs(value) >= 10**16 else str(value)


class Param:
    """A declared strategy parameter: default value, bounds, grid step and type.

    ``type`` is inferred from the default when omitted (``bool`` before ``int``). ``low`` and
    ``high`` are inclusive bounds; ``step`` is the default grid step of the optimiser (``None``
    means the optimiser leaves the parameter at its value unless asked).
    """

    __slots__ = ("default", "doc", "high", "low", "name", "step", "type")

    def __init__(
        self,
        default: float | int | bool,
        low: float | None = None,
        high: float | None = None,
        step: float | None = None,
        type: type | None = None,
        doc: str = "",
    ) -> None:
        self.default = default
        self.low = low
        self.high = high
        self.step = step
        self.type = type or _infer_type(default)
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return (f"Param({self.default!r}, low={self.low!r}, high={self.high!r}, "
                f"step={self.step!r}, type={self.type.__name__})")

    def check_declaration(self) -> None:
        """Raise StrategyDefinitionError if the declaration itself is inconsistent."""
        where = f"parameter {self.name!r}"
        if self.type not in (int, float, bool):
            raise StrategyDefinitionError(f"{where}: type must be int, float or bool")
        try:
            default = self.coerce(self.default)
        except ParameterError as exc:
            raise StrategyDefinitionError(f"{where}: default {exc}") from None
        if self.low is not None and self.high is not None and self.low > self.high:
            raise StrategyDefinitionError(f"{where}: low {self.low} is above high {self.high}")
        if self.step is not None and not self.step > 0:
            raise StrategyDefinitionError(f"{where}: step must be positive, not {self.step}")
        if self.type is int and self.step is not None and self.step != int(self.step):
            raise StrategyDefinitionError(f"{where}: an int parameter needs a whole step")
        problem = self.bounds_problem(default)
        if problem:
            raise StrategyDefinitionError(f"{where}: default {problem}")

    def coerce(self, value: Any) -> int | float | bool:
        """Convert ``value`` (a number, or text typed by a user) to the declared type."""
        name = self.name or "value"
        if isinstance(value, str):
            value = _parse_text(value, self.type, name)
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, int | float) and value in (0, 1):
                return bool(value)
            raise ParameterError(f"{name} must be true or false (got {value!r})")
        # numbers.Real also admits numpy's scalars (an int64 read back from a results table)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ParameterError(f"{name} must be a number (got {_shown(repr(value))})")
        _check_finite(value, name)
        if self.type is int:
            if value != int(value):
                raise ParameterError(f"{name} must be a whole number (got {value!r})")
            return int(value)
        return float(value)

    def bounds_problem(self, value: float) -> str | None:
        """A sentence saying how ``value`` breaks the bounds, or None if it is within them."""
        if self.type is bool:
            return None
        low, high = self.low, self.high
        if low is not None and high is not None and not low <= value <= high:
            return f"{self.name} must be between {_fmt(low)} and {_fmt(high)} (got {_fmt(value)})"
        if low is not None and value < low:
            return f"{self.name} must be at least {_fmt(low)} (got {_fmt(value)})"
        if high is not None and value > high:
            return f"{self.name} must be at most {_fmt(high)} (got {_fmt(value)})"
        return None

    def grid(self) -> list[int | float]:
        """The optimiser's default values: low..high by step, inclusive of high on a step."""
        if self.type is bool:
            return [False, True]
        if self.step is None or self.low is None or self.high is None:
            return [self.default]
        return grid_values(self.low, self.high, self.step, self.type)

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "step": self.step,
            "doc": self.doc,
        }


def grid_values(low: float, high: float, step: float, kind: type = float) -> list:
    """``low, low+step, ...`` up to ``high``, including ``high`` when it falls on a step."""
    if step <= 0:
        raise ParameterError(f"a grid step must be positive (got {_fmt(step)})")
    if low > high:
        raise ParameterError(f"a grid's low end {_fmt(low)} is above its high end {_fmt(high)}")
    count = math.floor((high - low) / step + 1e-9) + 1
    values = [low + i * step for i in range(count)]
    if kind is int:
        return [round(v) for v in values]
    return [round(v, 12) for v in values]


_CONSTRAINT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>|!=)\s*([A-Za-z_]\w*|-?[\d.]+)\s*$")
_RELATIONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "<": (lambda a, b: a < b, "less than"),
    "<=": (lambda a, b: a <= b, "at most"),
    ">": (lambda a, b: a > b, "greater than"),
    ">=": (lambda a, b: a >= b, "at least"),
    "!=": (lambda a, b: a != b, "different from"),
}


@dataclass(frozen=True, slots=True)
class Constraint:
    """A relation between two parameters (or a parameter and a number), e.g. ``fast < slow``."""

    left: str
    op: str
    right: str

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = _CONSTRAINT.match(text)
        if not match:
            raise StrategyDefinitionError(
                f"constraint {text!r} must read like 'fast < slow' (operators < <= > >= !=)")
        return cls(*match.groups())

    def problem(self, values: Mapping[str, Any]) -> str | None:
        left = values[self.left]
        right = values[self.right] if self.right in values else float(self.right)
        holds, words = _RELATIONS[self.op]
        if holds(left, right):
            return None
        if self.right in values:
            return (f"{self.left} ({_fmt(left)}) must be {words} "
                    f"{self.right} ({_fmt(right)})")
        return f"{self.left} ({_fmt(left)}) must be {words} {_fmt(right)}"

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


class Strategy:
    """Base class of every strategy. Subclasses declare ``Param`` attributes and ``rule``
    (or, for a rule that is not a crossing, ``next``).

    Class attributes a subclass may set: ``name`` (defaults to the class name),
    ``constraints`` (e.g. ``("fast < slow",)``). Every strategy has ``quantity``: the units a
    BUY opens, or 0 (the default) for a position worth the account's capital at the fill
    price, so that strategies on coins of any price risk the same money (see the ledger).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    constraints: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Param]] = {}
    _constraints: ClassVar[tuple[Constraint, ...]] = ()
    _has_rule: ClassVar[bool] = False
    _states_rule: ClassVar[bool] = False

    quantity = Param(0.0, low=0.0, high=1e9,
                     doc="units of the coin a BUY opens; 0: the account's capital / price")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or not cls.__dict__["name"]:
            cls.name = cls.__name__
        if "description" not in cls.__dict__:
            cls.description = (cls.__doc__ or "").strip().split("\n")[0]
        params: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Param):
                    params[attr] = value
        # the strategy's own parameters first, quantity last: forms read in that order
        quantity = params.pop("quantity")
        params["quantity"] = quantity
        for param in params.values():
            param.check_declaration()
        cls.params = params
        cls._constraints = tuple(Constraint.parse(text) for text in cls.constraints)
        for constraint in cls._constraints:
            for side in (constraint.left, constraint.right):
                if side not in params and not _is_number(side):
                    raise StrategyDefinitionError(
                        f"constraint '{constraint}' names {side!r}, which is not a parameter")
        cls._check_defaults()
        cls._has_rule = cls.rule is not Strategy.rule
        cls._states_rule = cls._decides_by_rule()

    @classmethod
    def _decides_by_rule(cls) -> bool:
        """True if ``rule()`` decides, False if ``next()`` does: the one declared nearest in
        the class hierarchy wins, so a subclass may wrap a built-in's rule in a next()."""
        for klass in cls.__mro__:
            if klass is Strategy:
                return False
            has_rule, has_next = "rule" in vars(klass), "next" in vars(klass)
            if has_rule and has_next:
                raise StrategyDefinitionError(
                    f"{klass.__name__} defines both rule() and next(): state the rule in one")
            if has_rule or has_next:
                return has_rule
        return False

    @classmethod
    def _check_defaults(cls) -> None:
        defaults = {name: p.coerce(p.default) for name, p in cls.params.items()}
        for constraint in cls._constraints:
            problem = constraint.problem(defaults)
            if problem:
                raise StrategyDefinitionError(f"the defaults break a constraint: {problem}")

    # --- declaration-driven helpers -------------------------------------------------------

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {name: p.coerce(p.default) for name, p in cls.params.items()}

    @classmethod
    def validate_params(cls, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The full, typed parameter dict for ``values`` (missing ones take their defaults).

        Raises ParameterError listing every problem: unknown names, wrong types, values out of
        bounds, and broken relations such as ``fast < slow``.
        """
        values = dict(values or {})
        problems: list[str] = []
        unknown = sorted(set(values) - set(cls.params))
        if unknown:
            known = ", ".join(cls.params)
            problems.extend(f"{cls.name} has no parameter {name!r} (its parameters: {known})"
                            for name in unknown)
        result: dict[str, Any] = {}
        for name, param in cls.params.items():
            try:
                value = param.coerce(values[name]) if name in values else param.coerce(
                    param.default)
            except ParameterError as exc:
                problems.append(str(exc))
                continue
            problem = param.bounds_problem(value)
            if problem:
                problems.append(problem)
            result[name] = value
        if not problems:
            problems.extend(p for c in cls._constraints if (p := c.problem(result)))
        if problems:
            raise ParameterError("; ".join(problems))
        return result

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The declaration as plain data: enough for a form, an API schema and a grid."""
        return {
            "name": cls.name,
            "description": cls.description,
            "params": [p.schema() for p in cls.params.values()],
            "constraints": [str(c) for c in cls._constraints],
            "timeframes": [TICK, *TIMEFRAMES],
        }

    @classmethod
    def iter_grid(cls, grid: Mapping[str, list]) -> Iterator[dict[str, Any]]:
        """Every combination of ``grid`` values (others at default) that passes validation."""
        names = list(grid)
        base = cls.defaults()

        def walk(i: int, current: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(names):
                try:
                    yield cls.validate_params(current)
                except ParameterError:
                    return
                return
            for value in grid[names[i]]:
                current[names[i]] = value
                yield from walk(i + 1, current)

        yield from walk(0, dict(base))

    # --- the incremental machinery ------------------------------------------------------

    def __init__(self, coin: str = "", timeframe: str = TICK, **params: Any) -> None:
        timeframe_seconds(timeframe)  # raises ValueError with the choices if unknown
        self.__dict__.update(self.validate_params(params))
        self.coin = coin
        self.timeframe = timeframe
        self.price = math.nan
        self.timestamp = math.nan
        self.bar: Bar | None = None
        self._feeds: list[Callable[[float], float]] = []
        self._indicators: list[Any] = []
        size = self.quantity or None  # None: the ledger sizes the position by the capital
        self._buy = Signal(Action.BUY, size)
        self._sell = Signal(Action.SELL, size)
        self._rule: CompiledRule | None = None
        # update() calls the compiled rule directly: going through next() would add a call
        # per price to every rule-based strategy
        self._decide: Callable[[], Signal | None] | None = None
        self.init()
        if self._has_rule:
            self._rule = CompiledRule(self.rule(), self._indicators, self._buy, self._sell)
            if self._states_rule:
                self._decide = self._rule.decide

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_decide"] = None  # a closure of the compiled rule: taken from it again below
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._rule is not None and self._states_rule:
            self._decide = self._rule.decide

    @property
    def param_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.params}

    def indicator(self, kind: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Create an indicator that is fed every price before the strategy decides."""
        ind = kind(*args, **kwargs)
        self._feeds.append(ind.update)
        self._indicators.append(ind)
        return ind

    def update(self, price: float, timestamp: float = 0.0) -> Signal | None:
        """Feed one price (a tick, or a closed bar's close) and return the decision."""
        self.price = price
        self.timestamp = timestamp
        for feed in self._feeds:
            feed(price)
        decide = self._decide
        return self.next() if decide is None else decide()

    def run(self, prices: np.ndarray, stamps: np.ndarray) -> list[tuple[int, Signal]]:
        """Decide on a batch of prices in order: ``(index, signal)`` for each signal.

        The same result as :meth:`update` on each price. The engine and the backtester call
        this. It uses :meth:`signal_array` when the strategy has one (every rule-based
        strategy does), else :meth:`update`.
        """
        crossings = self.signal_array(prices, stamps)
        if crossings is not None:
            return self._signals(crossings, prices, stamps)
        out: list[tuple[int, Signal]] = []
        update = self.update
        for i, (price, stamp) in enumerate(zip(prices.tolist(), stamps.tolist(), strict=True)):
            signal = update(price, stamp)
            if signal is not None:
                out.append((i, signal))
        return out

    def signal_array(self, prices: np.ndarray, stamps: np.ndarray) -> np.ndarray | None:
        """The decisions over a batch: an int8 array with +1 where it buys, −1
        where it sells, 0 elsewhere, continuing from (and updating) the strategy's state.

        A rule-based strategy gets it from its rule. For a free-form :meth:`next` the default
        is None ("no vectorised form"); such a strategy may write its own, with a test showing
        it equals :meth:`update` per price."""
        rule = self._rule
        return rule.signal_array(prices) if rule is not None and self._states_rule else None

    def _signals(self, crossings: np.ndarray, prices: np.ndarray,
                 stamps: np.ndarray) -> list[tuple[int, Signal]]:
        """Signals from a :meth:`signal_array` result (+1 buy, −1 sell)."""
        if prices.shape[0]:
            self.price = float(prices[-1])
            self.timestamp = float(stamps[-1])
        buy, sell = self._buy, self._sell
        where = np.flatnonzero(crossings)
        return [(i, buy if way > 0 else sell)
                for i, way in zip(where.tolist(), crossings[where].tolist(), strict=True)]

    def update_bar(self, bar: Bar) -> Signal | None:
        """Feed one closed bar; the strategy decides on its close."""
        self.bar = bar
        return self.update(bar.close, bar.end)

    def init(self) -> None:
        """Create indicators and state. Called once, after the parameters are set."""

    def rule(self) -> Rule:
        """State the trading rule, e.g. ``Rule(buy=crossed_above(self.fast_ma, self.slow_ma),
        sell=crossed_below(self.fast_ma, self.slow_ma))``.

        Called once, after :meth:`init`; the strategy then evaluates the rule on every price
        (:meth:`update`) and on whole batches (:meth:`run`), keeping one sign memory per pair
        of crossing operands across both."""
        raise NotImplementedError

    def next(self) -> Signal | None:
        """Decide on the latest price: return ``self.buy()``, ``self.sell()`` or None.

        The free-form alternative to :meth:`rule`, for decisions that are not crossings. By
        default it evaluates the rule, so a subclass's ``next()`` may build on an inherited
        rule with ``super().next()`` (that strategy then decides per price only)."""
        if self._rule is None:
            raise NotImplementedError
        return self._rule.decide()

    def buy(self, quantity: float | None = None) -> Signal:
        return self._buy if quantity is None else Signal(Action.BUY, quantity)

    def sell(self, quantity: float | None = None) -> Signal:
        return self._sell if quantity is None else Signal(Action.SELL, quantity)


_COIN = re.compile(r"^[A-Z0-9]{1,15}$")


def check_coin(coin: str) -> str:
    """The coin symbol in upper case, or ParameterError if it cannot be one (``BTC``, ``ETH``)."""
    text = coin.strip().upper()
    if not _COIN.match(text):
        raise ParameterError(
            f"{coin!r} is not a coin symbol: use letters and digits only, like BTC or ETH")
    return text


# A strategy's id is part of the API's addresses (/api/strategies/{id}): no spaces, no slashes.
STRATEGY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_STRATEGY_ID = re.compile(STRATEGY_ID_PATTERN)


def check_strategy_id(strategy_id: str) -> str:
    """The id as typed, or ParameterError saying what an id may hold, with one that would do."""
    text = strategy_id.strip()
    if _STRATEGY_ID.match(text):
        return text
    fixed = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_.-")[:64]
    hint = f", e.g. {fixed}" if fixed else ""
    raise ParameterError(f"the id {text!r} cannot be used: an id is up to 64 letters, digits, "
                         f"_ . or - (it is part of the API's addresses){hint}")


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """Everything needed to (re)create one running strategy, in any process.

    ``strategy_id`` defaults to ``<COIN>_<Name>``, e.g. ``BTC_SMA_Crossover``.
    """

    name: str
    coin: str
    params: Mapping[str, Any] = field(default_factory=dict)
    timeframe: str = TICK
    strategy_id: str = ""
    allow_short: bool = False

    @property
    def id(self) -> str:
        return self.strategy_id or f"{self.coin}_{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy_id": self.id,
            "name": self.name,
            "coin": self.coin,
            "params": dict(self.params),
            "timeframe": self.timeframe,
            "allow_short": self.allow_short,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StrategySpec:
        return cls(
            name=data["name"],
            coin=data["coin"],
            params=dict(data.get("params") or {}),
            timeframe=data.get("timeframe", TICK),
            strategy_id=data.get("strategy_id", ""),
            allow_short=bool(data.get("allow_short", False)),
        )
