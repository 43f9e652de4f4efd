"""Specification of a strategy's rule stated once: ``crossed_above`` / ``crossed_below`` of
indicator lines and numbers, decided the same way per price (``update``) and per batch
(``run``), with the crossing memory carried from one form to the other at any price."""

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from velocitas_desktop.core import indicators
from velocitas_desktop.core.errors import StrategyDefinitionError
from velocitas_desktop.core.rules import Crossover, Rule, crossed_above, crossed_below, line
from velocitas_desktop.core.strategy import Param, Strategy
from velocitas_desktop.core.types import Action, Signal

nan = math.nan
CODES = {None: 0, Action.BUY: 1, Action.SELL: -1}


class Replay:
    """An indicator that gives the next value of a fixed series on each price, whatever the
    price: it lets a test write both sides of a crossing down directly."""

    def __init__(self, values: list[float]) -> None:
        self.values = [float(v) for v in values]
        self.seen = 0
        self.value = nan
        self.batches = 0

    def update(self, price: float) -> float:
        self.value = self.values[self.seen]
        self.seen += 1
        return self.value

    def update_many(self, prices: np.ndarray) -> np.ndarray:
        out = np.array(self.values[self.seen:self.seen + len(prices)], dtype=float)
        self.seen += len(prices)
        if len(prices):
            self.value = float(out[-1])
        self.batches += 1
        return out


def replaying(rule: Callable[[Strategy], Rule], **series: list[float]) -> Callable[[], Strategy]:
    """A factory of strategies whose indicators replay ``series`` (attributes of the same
    names) and whose rule is ``rule(strategy)``."""

    class Replaying(Strategy):
        """Crossings of replayed series."""

        def init(self) -> None:
            for name, values in series.items():
                setattr(self, name, self.indicator(Replay, values))

        def rule(self) -> Rule:
            return rule(self)

    return lambda: Replaying(coin="BTC")


def code(signal: Signal | None) -> int:
    return CODES[None if signal is None else signal.action]


def per_price(strategy: Strategy, start: int, end: int) -> list[int]:
    return [code(strategy.update(float(i), float(i))) for i in range(start, end)]


def per_batch(strategy: Strategy, start: int, end: int) -> list[int]:
    out = [0] * (end - start)
    prices = np.arange(start, end, dtype=float)
    for i, signal in strategy.run(prices, prices):
        out[i] = code(signal)
    return out


def decisions(make: Callable[[], Strategy], length: int) -> list[int]:
    """+1 (BUY), −1 (SELL) or 0 on each price, after checking that per price, one batch, and
    every switch between the two forms at any price all give the same answer."""
    expected = per_price(make(), 0, length)
    assert per_batch(make(), 0, length) == expected
    for cut in range(length + 1):
        for first, second in ((per_price, per_batch), (per_batch, per_price)):
            strategy = make()
            assert first(strategy, 0, cut) + second(strategy, cut, length) == expected
    return expected


def above_and_below(s: Strategy) -> Rule:
    return Rule(buy=crossed_above(s.a, s.b), sell=crossed_below(s.a, s.b))


def against(level: float) -> Callable[[Strategy], Rule]:
    return lambda s: Rule(buy=crossed_above(s.a, level), sell=crossed_below(s.a, level))


# --- the crossing rule -----------------------------------------------------------------------

def test_a_crossing_is_where_the_difference_changes_sign():
    make = replaying(above_and_below, a=[1, 3, 4, 1], b=[2, 2, 2, 2])
    assert decisions(make, 4) == [0, 1, 0, -1]


@pytest.mark.parametrize(("a", "expected"), [
    ([1, 2, 3], [0, 0, 1]),  # below, touch, above: the crossing is where it goes above
    ([3, 2, 2, 3], [0, 0, 0, 0]),  # above, touches, above again: a touch is not a crossing
    ([3, 2, 1], [0, 0, -1]),  # above, touch, below: one crossing below
    ([2, 3, 1], [0, 0, -1]),  # a tie before any side is known sets nothing
])
def test_a_tie_keeps_the_side_the_line_was_on(a, expected):
    assert decisions(replaying(against(2.0), a=a), len(a)) == expected


def test_an_undefined_value_forgets_the_side():
    assert decisions(replaying(against(2.0), a=[1, nan, 3, 1]), 4) == [0, 0, 0, -1]
    make = replaying(above_and_below, a=[1, 1, 3], b=[2, nan, 2])
    assert decisions(make, 3) == [0, 0, 0]


def test_no_crossing_until_both_sides_are_defined_on_this_and_the_previous_price():
    assert decisions(replaying(against(2.0), a=[nan, 3, 1]), 3) == [0, 0, -1]
    assert decisions(replaying(above_and_below, a=[1, 3], b=[nan, 2]), 2) == [0, 0]
    assert decisions(replaying(against(2.0), a=[3]), 1) == [0]


class Band(Strategy):
    """Buy when the line crosses above +threshold; sell when it crosses below −threshold."""

    threshold = Param(5.0)

    def init(self) -> None:
        self.a = self.indicator(Replay, [0, -4, -5, -6, -4, -7, 6])

    def rule(self) -> Rule:
        return Rule(buy=crossed_above(self.a, self.threshold),
                    sell=crossed_below(self.a, -self.threshold))


def test_a_level_may_be_a_parameter_or_its_negative():
    # a + 5: +5, +1, 0 (tie keeps +), -1 (SELL), +1, -2 (SELL); a - 5 first turns + at 6 (BUY)
    assert decisions(lambda: Band(coin="BTC"), 7) == [0, 0, 0, -1, 0, -1, 1]


def test_a_level_may_stand_on_the_left():
    rule = lambda s: Rule(buy=crossed_above(2.0, s.a), sell=crossed_below(2.0, s.a))  # noqa: E731
    # 2 - a: +, -, +  -> 2 crosses below a at 1, above it at 2
    assert decisions(replaying(rule, a=[1, 3, 1]), 3) == [0, -1, 1]


def test_a_rule_may_buy_on_a_crossing_below_and_sell_on_one_above():
    rule = lambda s: Rule(buy=crossed_below(s.a, s.b), sell=crossed_above(s.a, s.b))  # noqa: E731
    assert decisions(replaying(rule, a=[1, 3, 4, 1], b=[2, 2, 2, 2]), 4) == [0, -1, 0, 1]


def test_each_pair_has_its_own_memory_and_sees_every_price_whichever_side_fires():
    def rule(s: Strategy) -> Rule:
        return Rule(buy=crossed_above(s.a, 1.0), sell=crossed_below(s.a, -1.0))

    # at 1 the buy fires, and the sell pair must still learn that a is above -1: so that
    # at 2, a falling to -2 is a crossing below -1
    assert decisions(replaying(rule, a=[-2, 2, -2]), 3) == [0, 1, -1]


def test_buy_wins_when_both_sides_fire_on_one_price():
    def rule(s: Strategy) -> Rule:
        return Rule(buy=crossed_above(s.a, 1.0), sell=crossed_above(s.a, 0.0))

    assert decisions(replaying(rule, a=[-1, 2, -1, 2]), 4) == [0, 1, 0, 1]
    same = lambda s: Rule(buy=crossed_above(s.a, s.b), sell=crossed_above(s.a, s.b))  # noqa: E731
    assert decisions(replaying(same, a=[1, 3], b=[2, 2]), 2) == [0, 1]


# --- multi-line indicators -------------------------------------------------------------------

class MacdLines(Strategy):
    """Buy when the MACD line crosses above its signal line; sell when it crosses below."""

    def init(self) -> None:
        self.macd = self.indicator(indicators.MACD, 3, 7, 3)

    def rule(self) -> Rule:
        macd, signal = line(self.macd, "macd"), line(self.macd, "signal")
        return Rule(buy=crossed_above(macd, signal), sell=crossed_below(macd, signal))


class MacdHistogram(MacdLines):
    """Buy when the MACD histogram crosses above zero; sell when it crosses below."""

    def rule(self) -> Rule:
        hist = line(self.macd, "hist")
        return Rule(buy=crossed_above(hist, 0.0), sell=crossed_below(hist, 0.0))


def random_walk(seed: int, size: int = 400, decimals: int | None = None) -> np.ndarray:
    prices = 100.0 + np.cumsum(np.random.default_rng(seed).normal(0.0, 1.0, size))
    return prices if decimals is None else np.round(prices, decimals)


def signal_codes(strategy: Strategy, prices: np.ndarray, batch: bool) -> list[int]:
    if batch:
        out = [0] * prices.size
        for i, signal in strategy.run(prices, prices):
            out[i] = code(signal)
        return out
    return [code(strategy.update(p, p)) for p in prices.tolist()]


@pytest.mark.parametrize("batch", [False, True], ids=["update", "run"])
def test_named_lines_are_the_lines_the_vectorised_macd_computes(batch):
    prices = random_walk(3)
    macd, signal, _ = indicators.macd(prices, 3, 7, 3)
    expected = Crossover().update_many(macd, signal).tolist()
    assert any(expected)
    assert signal_codes(MacdLines(coin="BTC"), prices, batch) == expected


@pytest.mark.parametrize("batch", [False, True], ids=["update", "run"])
def test_the_macd_crossing_its_signal_line_is_the_histogram_crossing_zero(batch):
    prices = random_walk(4)
    lines = signal_codes(MacdLines(coin="BTC"), prices, batch)
    assert any(lines)
    assert signal_codes(MacdHistogram(coin="BTC"), prices, batch) == lines


# --- how the strategy runs its rule ----------------------------------------------------------

def test_each_indicator_is_fed_once_per_batch_even_one_the_rule_does_not_read():
    make = replaying(above_and_below, a=[1, 3, 1, 3], b=[2, 2, 2, 2], shown=[0, 0, 0, 0])
    strategy = make()
    strategy.run(np.zeros(2), np.zeros(2))
    strategy.run(np.zeros(2), np.zeros(2))
    assert [(s.batches, s.seen) for s in (strategy.a, strategy.b, strategy.shown)] == [(2, 4)] * 3


class DeviationBreakout(Strategy):
    """Buy when the 5-price deviation rises above 1; sell when it falls back below."""

    def init(self) -> None:
        self.deviation = self.indicator(indicators.RollingStd, 5)

    def rule(self) -> Rule:
        return Rule(buy=crossed_above(self.deviation, 1.0),
                    sell=crossed_below(self.deviation, 1.0))


def test_an_indicator_without_update_many_keeps_run_on_the_per_price_path():
    prices = random_walk(5)
    strategy = DeviationBreakout(coin="BTC")
    assert strategy.signal_array(prices[:0], prices[:0]) is None
    expected = signal_codes(DeviationBreakout(coin="BTC"), prices, batch=False)
    assert any(expected)
    assert signal_codes(strategy, prices, batch=True) == expected


class TrendFilteredMacd(MacdLines):
    """MACD's rule, but buying only above 100."""

    def next(self) -> Signal | None:
        signal = super().next()  # the inherited rule, evaluated on every price
        if signal is not None and signal.action is Action.BUY and self.price <= 100.0:
            return None
        return signal


def test_a_next_method_may_wrap_an_inherited_rule_and_then_decides_per_price():
    prices = random_walk(6)
    rule_only = signal_codes(MacdLines(coin="BTC"), prices, batch=False)
    expected = [0 if way == 1 and price <= 100.0 else way
                for way, price in zip(rule_only, prices.tolist(), strict=True)]
    assert expected != rule_only  # the filter does filter something
    strategy = TrendFilteredMacd(coin="BTC")
    assert strategy.signal_array(prices[:0], prices[:0]) is None
    assert signal_codes(strategy, prices, batch=True) == expected
    assert signal_codes(TrendFilteredMacd(coin="BTC"), prices, batch=False) == expected


class FreeForm(Strategy):
    """Sells every price."""

    def init(self) -> None:
        self.sma = self.indicator(indicators.SMA, 2)

    def next(self) -> Signal | None:
        return self.sell()


class RuleOverFreeForm(FreeForm):
    """A rule declared below a free-form parent: the nearest declaration decides."""

    def rule(self) -> Rule:
        return Rule(buy=crossed_above(self.sma, 2.0), sell=crossed_below(self.sma, 2.0))


def test_the_declaration_nearest_in_the_class_hierarchy_decides():
    prices = np.array([1.0, 1.0, 3.0, 3.0, 1.0, 1.0])
    assert signal_codes(FreeForm(coin="BTC"), prices, batch=True) == [-1] * 6
    assert signal_codes(RuleOverFreeForm(coin="BTC"), prices, batch=True) == [0, 0, 0, 1, 0, -1]


# --- mistakes a strategy author gets told about ----------------------------------------------

def test_a_class_with_both_a_rule_and_a_next_is_refused():
    with pytest.raises(StrategyDefinitionError, match="defines both rule\\(\\) and next\\(\\)"):
        type("Both", (Strategy,), {"rule": lambda self: None, "next": lambda self: None})


def rule_error(rule: Callable[[Strategy], Rule], **series: list[float]) -> str:
    with pytest.raises(StrategyDefinitionError) as caught:
        replaying(rule, **series)()
    return str(caught.value)


def test_a_multi_line_indicator_must_name_its_line():
    def rule(s: Strategy) -> Rule:
        macd = s.indicator(indicators.MACD, 3, 7, 3)
        return Rule(buy=crossed_above(macd, 0.0), sell=crossed_below(macd, 0.0))

    assert rule_error(rule) == ("MACD has several lines (macd, signal, hist): name the one to "
                                "compare, e.g. line(indicator, 'macd')")


def test_a_line_must_be_one_the_indicator_declares():
    assert rule_error(lambda s: line(s.indicator(indicators.MACD, 3, 7, 3), "slow")) == (
        "MACD has no line 'slow' (its lines: macd, signal, hist)")
    assert rule_error(lambda s: line(s.indicator(indicators.SMA, 3), "value")) == (
        "SMA has a single line: compare the indicator itself, not line(..., 'value')")


def test_a_crossing_compares_indicators_and_numbers_with_an_indicator_on_one_side():
    assert rule_error(lambda s: crossed_above(1.0, 2)) == (
        "a crossing needs an indicator on one side at least (got 1.0 and 2)")
    assert rule_error(lambda s: crossed_above("close", 2)) == (
        "a crossing compares indicators (made with self.indicator) and numbers, not str 'close'")
    assert rule_error(lambda s: crossed_above(s.a, True), a=[1]) == (
        "a crossing compares indicators (made with self.indicator) and numbers, not bool True")


def test_a_rule_takes_crossings_and_points_to_next_for_anything_else():
    assert rule_error(lambda s: Rule(buy=s.a.value < 30, sell=crossed_above(s.a, 70)),
                      a=[1]) == ("Rule(buy=...) takes a crossing such as crossed_above(a, b), not "
                                 "False; write next() for rules that are not crossings")


def test_a_rule_reads_only_indicators_the_strategy_feeds():
    def rule(s: Strategy) -> Rule:
        unfed = indicators.SMA(3)
        return Rule(buy=crossed_above(unfed, 1.0), sell=crossed_below(unfed, 1.0))

    assert rule_error(rule) == ("the rule reads a SMA that was not made with "
                                "self.indicator(...) in init(), so it would never see a price")


class Pairs:
    """An indicator whose update_many returns a tuple without declaring its lines."""

    value = nan

    def update(self, price: float) -> float:
        return self.value

    def update_many(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return prices, prices


def test_a_batch_from_an_indicator_that_returns_several_arrays_undeclared_is_refused():
    def rule(s: Strategy) -> Rule:
        pairs = s.indicator(Pairs)
        return Rule(buy=crossed_above(pairs, 1.0), sell=crossed_below(pairs, 1.0))

    strategy = replaying(rule)()
    with pytest.raises(StrategyDefinitionError,
                       match=r"Pairs\.update_many must return one value per price"):
        strategy.run(np.zeros(3), np.zeros(3))


# --- a rule decides as one Crossover per crossing would ---------------------------------------

line_values = st.sampled_from([nan, -1.0, 0.0, 0.0, 1.0, 2.5])  # ties and gaps are common
sides = st.sampled_from(["a", "b", -1.0, 0.0, 1.0])


def operand(strategy: Strategy, side: str | float):
    return getattr(strategy, side) if isinstance(side, str) else side


def oracle(rows: list[tuple[float, float]], buy: tuple, sell: tuple) -> list[int]:
    """The decisions of a rule, computed with one Crossover per crossing, buy first."""
    crossings = [(Crossover(), *buy), (Crossover(), *sell)]
    out = []
    for a, b in rows:
        lines = {"a": a, "b": b}
        hits = [cross.update(lines.get(x, x), lines.get(y, y)) == way
                for cross, x, y, way in crossings]
        out.append(1 if hits[0] else -1 if hits[1] else 0)
    return out


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(line_values, line_values), min_size=1, max_size=30),
       buy=st.tuples(sides, sides, st.sampled_from([1, -1])),
       sell=st.tuples(sides, sides, st.sampled_from([1, -1])),
       cuts=st.lists(st.integers(0, 30), max_size=5), one_by_one=st.lists(st.booleans(),
                                                                          min_size=6, max_size=6))
def test_any_rule_over_any_batches_decides_as_one_crossover_per_crossing(
        rows, buy, sell, cuts, one_by_one):
    # a crossing of two numbers is refused (tested above)
    assume(any(isinstance(x, str) for x in buy[:2]) and any(isinstance(x, str) for x in sell[:2]))
    cross = {1: crossed_above, -1: crossed_below}

    def rule(s: Strategy) -> Rule:
        return Rule(buy=cross[buy[2]](operand(s, buy[0]), operand(s, buy[1])),
                    sell=cross[sell[2]](operand(s, sell[0]), operand(s, sell[1])))

    a, b = (list(column) for column in zip(*rows, strict=True))
    strategy = replaying(rule, a=a, b=b)()
    got: list[int] = []
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    for (start, end), single in zip(itertools.pairwise(bounds), one_by_one, strict=False):
        got += (per_price if single else per_batch)(strategy, start, end)
    assert got == oracle(rows, buy, sell)


@pytest.mark.parametrize("name", ["SMA_Crossover", "Momentum", "RSI", "MACD"])
def test_a_strategy_crosses_a_process_boundary_with_its_state(name):
    """Pickled mid-stream (as a process pool does), a strategy goes on exactly as the one
    that stayed: same indicators, same crossing memories, same signals per price and batch."""
    import pickle

    from velocitas_desktop.catalog import load_catalog

    cls = load_catalog().get(name)
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 3_000)))
    stamps = np.arange(prices.size, dtype=float)
    stayed = cls(coin="BTC")
    stayed.run(prices[:1_500], stamps[:1_500])
    moved = pickle.loads(pickle.dumps(stayed))
    assert moved.run(prices[1_500:2_200], stamps[1_500:2_200]) == \
        stayed.run(prices[1_500:2_200], stamps[1_500:2_200])
    expected = [stayed.update(p, t) for p, t in zip(prices[2_200:], stamps[2_200:], strict=True)]
    assert [moved.update(p, t) for p, t in zip(prices[2_200:], stamps[2_200:], strict=True)] \
        == expected
    assert any(expected)
