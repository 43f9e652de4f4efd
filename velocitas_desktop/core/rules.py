"""Trading rules stated once, as crossings of indicator lines, and evaluated two ways.

A rule-based strategy returns a :class:`Rule` from ``Strategy.rule()``, e.g.
``Rule(buy=crossed_above(fast, slow), sell=crossed_below(fast, slow))``. The strategy
compiles it once into a :class:`CompiledRule`, which decides on each live price from the
indicators' current values and on a whole batch from their ``update_many`` arrays, with the
same crossing memories (:class:`Crossover`) carried from one form to the other.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from velocitas_desktop.core.errors import StrategyDefinitionError
from velocitas_desktop.core.types import Signal


class Crossover:
    """Detects when ``a`` crosses ``b``, with the tie rule of backtrader and vectorbt.

    The sign of ``a - b`` is remembered; a zero difference keeps the previous sign, and an
    undefined (nan) value forgets it. :meth:`update` returns ``+1`` when the sign turns from
    negative to positive ("crosses above"), ``-1`` for the mirror ("crosses below"), else 0.
    The first defined difference only sets the sign, so no crossing is reported until both
    series are defined on the current and the previous price.
    """

    __slots__ = ("sign",)

    def __init__(self) -> None:
        self.sign = 0

    def update(self, a: float, b: float) -> int:
        diff = a - b
        if diff > 0:
            crossed = 1 if self.sign == -1 else 0
            self.sign = 1
            return crossed
        if diff < 0:
            crossed = -1 if self.sign == 1 else 0
            self.sign = -1
            return crossed
        if diff != diff:  # nan: one side is undefined
            self.sign = 0
        return 0

    def update_many(self, a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
        """:meth:`update` over whole arrays (int8 result), carrying the sign across calls."""
        diff = np.asarray(a, dtype=float) - b
        n = diff.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int8)
        undefined = np.isnan(diff)
        code = np.sign(np.where(undefined, 0.0, diff)).astype(np.int8)
        decisive = (code != 0) | undefined  # the elements that set the remembered sign
        last = np.maximum.accumulate(np.where(decisive, np.arange(n), -1))
        after = np.where(last >= 0, code[np.maximum(last, 0)], np.int8(self.sign))
        before = np.empty(n, dtype=np.int8)
        before[0] = self.sign
        before[1:] = after[:-1]
        self.sign = int(after[-1])
        up = (code == 1) & (before == -1)
        down = (code == -1) & (before == 1)
        return up.astype(np.int8) - down.astype(np.int8)

    def reset(self) -> None:
        self.sign = 0


class Indicator(Protocol):
    """What a rule reads from an indicator: ``value`` on each price (after ``update``), and
    the array ``update_many`` returns on a batch."""

    value: float


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an indicator as a crossing operand: its ``attribute`` on each price, and
    ``update_many``'s result (its element ``position`` for a multi-line indicator) on a batch."""

    indicator: Indicator
    attribute: str = "value"
    position: int | None = None


def line(indicator: Indicator, name: str) -> Line:
    """The line ``name`` of a multi-line indicator, e.g. ``line(self.macd, "signal")``.

    The indicator declares its lines as a class attribute ``lines``: line name → the attribute
    holding its latest value, in the order ``update_many`` returns them (MACD: macd, signal,
    hist).
    """
    lines = getattr(type(indicator), "lines", None) or {}
    kind = type(indicator).__name__
    if not lines:
        raise StrategyDefinitionError(
            f"{kind} has a single line: compare the indicator itself, not line(..., {name!r})")
    if name not in lines:
        raise StrategyDefinitionError(
            f"{kind} has no line {name!r} (its lines: {', '.join(lines)})")
    return Line(indicator, lines[name], list(lines).index(name))


Operand = Line | float


def _operand(value: Indicator | Line | float) -> Operand:
    """A number (a parameter, ``-self.threshold``) as a float, an indicator as its value line."""
    if isinstance(value, Line):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    kind = type(value).__name__
    lines = getattr(type(value), "lines", None)
    if lines:
        raise StrategyDefinitionError(
            f"{kind} has several lines ({', '.join(lines)}): name the one to compare, "
            f"e.g. line(indicator, {next(iter(lines))!r})")
    if not hasattr(value, "value"):
        raise StrategyDefinitionError(
            f"a crossing compares indicators (made with self.indicator) and numbers, "
            f"not {kind} {value!r}")
    return Line(value)


@dataclass(frozen=True, slots=True)
class Crossing:
    """``a`` crossing ``b`` upwards (``way`` +1) or downwards (``way`` −1), by the tie rule
    of :class:`Crossover`."""

    a: Operand
    b: Operand
    way: int

    @property
    def pair(self) -> tuple[Any, Any]:
        """What identifies the pair (a, b): crossings of one pair share one sign memory.

        Two memories fed the same pair always hold the same sign, so sharing one (even between
        0.0 and -0.0, as Momentum's two thresholds are at 0) only saves work."""
        return _identity(self.a), _identity(self.b)


def _identity(operand: Operand) -> Any:
    if isinstance(operand, Line):
        return id(operand.indicator), operand.attribute
    return operand


Side = Indicator | Line | float


def _crossing(a: Side, b: Side, way: int) -> Crossing:
    crossing = Crossing(_operand(a), _operand(b), way)
    if not (isinstance(crossing.a, Line) or isinstance(crossing.b, Line)):
        raise StrategyDefinitionError(
            f"a crossing needs an indicator on one side at least (got {a!r} and {b!r})")
    return crossing


def crossed_above(a: Side, b: Side) -> Crossing:
    """``a`` crosses above ``b``: ``a − b`` turns from negative to positive. Each of ``a``
    and ``b`` is an indicator, a :func:`line` of one, or a number."""
    return _crossing(a, b, 1)


def crossed_below(a: Side, b: Side) -> Crossing:
    """``a`` crosses below ``b``: ``a − b`` turns from positive to negative."""
    return _crossing(a, b, -1)


@dataclass(frozen=True, slots=True)
class Rule:
    """A strategy's whole decision: BUY on the price ``buy`` happens, SELL on the price
    ``sell`` happens, BUY when both happen on one price."""

    buy: Crossing
    sell: Crossing

    def __post_init__(self) -> None:
        for side in ("buy", "sell"):
            if not isinstance(getattr(self, side), Crossing):
                raise StrategyDefinitionError(
                    f"Rule({side}=...) takes a crossing such as crossed_above(a, b), not "
                    f"{getattr(self, side)!r}; write next() for rules that are not crossings")


class _Level:
    """A fixed number read like an indicator's value, so that constants need no branch."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


def _source(operand: Operand) -> Any:
    """The object whose attribute (``_attribute``) holds the operand on the latest price."""
    return operand.indicator if isinstance(operand, Line) else _Level(operand)


def _attribute(operand: Operand) -> str:
    return operand.attribute if isinstance(operand, Line) else "value"


class CompiledRule:
    """A :class:`Rule` bound to its strategy's indicators and signals, with one
    :class:`Crossover` per pair: :attr:`decide` on each price (after the indicators are fed),
    :meth:`signal_array` on a batch (feeding the indicators itself). Both forms read and write
    the same memories, so a strategy may switch between them at any price."""

    __slots__ = ("_batch", "_combine", "_indicators", "_made_from", "_pairs", "decide")

    def __init__(self, rule: Rule, indicators: Sequence[Any], buy: Signal, sell: Signal) -> None:
        _check_fed(rule, indicators)
        self._made_from = (rule, tuple(indicators), buy, sell)
        self._indicators = tuple(indicators)
        memories: dict[tuple[Any, Any], Crossover] = {}
        for crossing in (rule.buy, rule.sell):
            memories.setdefault(crossing.pair, Crossover())
        buy_memory, sell_memory = memories[rule.buy.pair], memories[rule.sell.pair]
        # the batch form needs every indicator's update_many; one without it keeps run() on
        # the per-price path, which gives the same signals
        self._batch = all(hasattr(ind, "update_many") for ind in self._indicators)
        if buy_memory is sell_memory:
            self._pairs = ((buy_memory, rule.buy.a, rule.buy.b),)
            self.decide = _decide_one_pair(rule, buy_memory, buy, sell)
        else:
            self._pairs = ((buy_memory, rule.buy.a, rule.buy.b),
                           (sell_memory, rule.sell.a, rule.sell.b))
            self.decide = _decide_two_pairs(rule, buy_memory, sell_memory, buy, sell)
        self._combine = _combiner(rule.buy.way, rule.sell.way, len(self._pairs))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what it was made from and where its memories are, so a strategy can
        cross a process boundary (its per-price and batch forms are closures)."""
        return _rebuilt, (*self._made_from, [memory.sign for memory, _, _ in self._pairs])

    def signal_array(self, prices: np.ndarray) -> np.ndarray | None:
        """+1 (buy), −1 (sell) or 0 for each price of the batch, continuing from the state;
        None when an indicator has no ``update_many``."""
        if not self._batch:
            return None
        results = {id(ind): ind.update_many(prices) for ind in self._indicators}
        codes = [memory.update_many(_values(a, results, prices), _values(b, results, prices))
                 for memory, a, b in self._pairs]
        return self._combine(codes)


def _rebuilt(rule: Rule, indicators: Sequence[Any], buy: Signal, sell: Signal,
             signs: list[int]) -> CompiledRule:
    compiled = CompiledRule(rule, indicators, buy, sell)
    for (memory, _, _), sign in zip(compiled._pairs, signs, strict=True):
        memory.sign = sign
    return compiled


def _check_fed(rule: Rule, indicators: Sequence[Any]) -> None:
    fed = {id(ind) for ind in indicators}
    for crossing in (rule.buy, rule.sell):
        for operand in (crossing.a, crossing.b):
            if isinstance(operand, Line) and id(operand.indicator) not in fed:
                raise StrategyDefinitionError(
                    f"the rule reads a {type(operand.indicator).__name__} that was not made with "
                    f"self.indicator(...) in init(), so it would never see a price")


def _values(operand: Operand, results: dict[int, Any], prices: np.ndarray) -> Any:
    """The operand over the batch: its indicator's update_many result, or the number."""
    if not isinstance(operand, Line):
        return operand
    values = results[id(operand.indicator)]
    if operand.position is not None:
        values = values[operand.position]
    if getattr(values, "shape", None) != prices.shape:
        raise StrategyDefinitionError(
            f"{type(operand.indicator).__name__}.update_many must return one value per price "
            f"(or, for a multi-line indicator, one such array per line in its 'lines')")
    return values


# Per price, operands are read as ``x.value`` where they can be: getattr() costs ~25 ns more
# per operand, which made RSI's update() (four operands) 5% slower than its hand-written
# next() had been; only the named lines of a multi-line indicator go through getattr.

def _decide_one_pair(rule: Rule, memory: Crossover, buy: Signal, sell: Signal
                     ) -> Callable[[], Signal | None]:
    """The per-price decision when buy and sell watch the same pair (one memory)."""
    update = memory.update
    a, b = _source(rule.buy.a), _source(rule.buy.b)
    a_name, b_name = _attribute(rule.buy.a), _attribute(rule.buy.b)
    buy_way, sell_way = rule.buy.way, rule.sell.way

    def by_value() -> Signal | None:
        crossing = update(a.value, b.value)
        if crossing == buy_way:
            return buy
        if crossing == sell_way:
            return sell
        return None

    def by_name() -> Signal | None:
        crossing = update(getattr(a, a_name), getattr(b, b_name))
        if crossing == buy_way:
            return buy
        if crossing == sell_way:
            return sell
        return None

    return by_value if a_name == b_name == "value" else by_name


def _decide_two_pairs(rule: Rule, buy_memory: Crossover, sell_memory: Crossover, buy: Signal,
                      sell: Signal) -> Callable[[], Signal | None]:
    """The per-price decision when buy and sell watch different pairs (one memory each).
    Both memories see every price, whichever side fires."""
    buy_update, sell_update = buy_memory.update, sell_memory.update
    operands = (rule.buy.a, rule.buy.b, rule.sell.a, rule.sell.b)
    buy_a, buy_b, sell_a, sell_b = map(_source, operands)
    names = tuple(map(_attribute, operands))
    buy_a_name, buy_b_name, sell_a_name, sell_b_name = names
    buy_way, sell_way = rule.buy.way, rule.sell.way

    def by_value() -> Signal | None:
        bought = buy_update(buy_a.value, buy_b.value) == buy_way
        sold = sell_update(sell_a.value, sell_b.value) == sell_way
        if bought:
            return buy
        if sold:
            return sell
        return None

    def by_name() -> Signal | None:
        bought = buy_update(getattr(buy_a, buy_a_name), getattr(buy_b, buy_b_name)) == buy_way
        sold = (sell_update(getattr(sell_a, sell_a_name), getattr(sell_b, sell_b_name))
                == sell_way)
        if bought:
            return buy
        if sold:
            return sell
        return None

    return by_value if set(names) == {"value"} else by_name


def _combiner(buy_way: int, sell_way: int, pairs: int) -> Callable[[list[np.ndarray]], np.ndarray]:
    """Turns the crossing codes of each pair into the batch's +1/−1/0 signals."""
    if pairs == 1 and (buy_way, sell_way) == (1, -1):
        return lambda codes: codes[0]  # the crossing codes are the signals already
    if pairs == 1 and (buy_way, sell_way) == (-1, 1):
        return lambda codes: -codes[0]

    def combine(codes: list[np.ndarray]) -> np.ndarray:
        bought = codes[0] == buy_way
        signals = -(codes[-1] == sell_way).astype(np.int8)
        signals[bought] = 1  # buy wins on a price where both happen
        return signals

    return combine
