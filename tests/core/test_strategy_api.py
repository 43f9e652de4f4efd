"""Specification of the strategy API: parameter declarations, validation a trader can read,
coercion of typed text, the schema and grids built from the declaration alone, timeframes,
strategy specs and the crossing rule every built-in relies on."""

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocitas_desktop.core.errors import (
    ParameterError,
    StrategyDefinitionError,
    VelocitasError,
)
from velocitas_desktop.core.indicators import SMA
from velocitas_desktop.core.strategy import (
    Crossover,
    Param,
    Strategy,
    StrategySpec,
    check_coin,
    grid_values,
)
from velocitas_desktop.core.types import TIMEFRAMES, Action, Bar, Signal

nan = math.nan


class Breakout(Strategy):
    """Buy a break above the recent high.

    The second docstring line is not part of the description.
    """

    lookback = Param(20, low=2, high=200, step=2, doc="prices in the channel")
    margin = Param(0.5, low=0.0, high=5.0, step=0.25, doc="percent above the high")
    confirm = Param(False, doc="wait for a second close above")
    exit_after = Param(40, low=3, high=400, doc="prices held at most")
    constraints = ("lookback < exit_after",)

    def next(self):
        return None


class Alternating(Strategy):
    """Buy on odd prices, sell on even ones: a transparent strategy for plumbing tests."""

    def next(self):
        if self.price % 2 == 1:
            return self.buy()
        return self.sell()


def define(**attributes) -> type[Strategy]:
    """Declare a strategy class with ``attributes`` (Params, constraints) and a trivial next."""
    attributes.setdefault("next", lambda self: None)
    return type("Declared", (Strategy,), attributes)


def problem(strategy: type[Strategy], **values) -> str:
    """The ParameterError message ``validate_params(values)`` gives."""
    with pytest.raises(ParameterError) as caught:
        strategy.validate_params(values)
    return str(caught.value)


# --- declarations ---------------------------------------------------------------------------

def test_a_sound_declaration_defines_the_class_and_infers_types_from_defaults():
    params = Breakout.params
    assert (params["lookback"].type, params["margin"].type, params["confirm"].type) == (
        int, float, bool)
    assert Breakout.defaults() == {"lookback": 20, "margin": 0.5, "confirm": False,
                                   "exit_after": 40, "quantity": 0.0}


def test_the_strategys_own_parameters_come_first_in_declaration_order_and_quantity_last():
    assert list(Breakout.params) == ["lookback", "margin", "confirm", "exit_after", "quantity"]


def test_name_defaults_to_the_class_name_and_description_to_the_first_docstring_line():
    assert Breakout.name == "Breakout"
    assert Breakout.description == "Buy a break above the recent high."


@pytest.mark.parametrize(("declaration", "reason"), [
    (Param(1, low=2, high=5), r"'x': default x must be between 2 and 5 \(got 1\)"),
    (Param(9.5, high=5.0), r"'x': default x must be at most 5 \(got 9.5\)"),
    (Param(-1, low=0), r"'x': default x must be at least 0 \(got -1\)"),
    (Param(3, low=5, high=2), r"'x': low 5 is above high 2"),
    (Param(3, low=1, high=9, step=0), r"'x': step must be positive, not 0"),
    (Param(3, low=1, high=9, step=-1), r"'x': step must be positive, not -1"),
    (Param(3, low=1, high=9, step=0.5), r"'x': an int parameter needs a whole step"),
    (Param("ten"), r"'x': default x must be a number \(got 'ten'\)"),
    (Param(None), r"'x': default x must be a number \(got None\)"),
    (Param(True, type=int), r"'x': default x must be a number \(got True\)"),
    (Param(nan), r"'x': default x must be a finite number"),
    (Param("a", type=str), r"'x': type must be int, float or bool"),
])
def test_an_inconsistent_parameter_declaration_is_refused_when_the_class_is_defined(
        declaration, reason):
    with pytest.raises(StrategyDefinitionError, match=reason):
        define(x=declaration)


def test_a_constraint_must_name_declared_parameters():
    with pytest.raises(StrategyDefinitionError, match="names 'slowest', which is not a parameter"):
        define(fast=Param(5), slow=Param(10), constraints=("fast < slowest",))


def test_a_constraint_must_read_like_a_relation():
    with pytest.raises(StrategyDefinitionError, match="must read like 'fast < slow'"):
        define(fast=Param(5), slow=Param(10), constraints=("fast is below slow",))


def test_defaults_that_break_their_own_constraint_are_refused():
    with pytest.raises(StrategyDefinitionError,
                       match=r"defaults break a constraint: fast \(30\) must be less than slow"):
        define(fast=Param(30), slow=Param(10), constraints=("fast < slow",))


def test_a_constraint_against_a_number_is_checked():
    declared = define(band=Param(30.0), constraints=("band <= 50",))
    assert problem(declared, band=60) == "band (60) must be at most 50"
    assert declared.validate_params({"band": 50})["band"] == 50.0


# --- validation and coercion ----------------------------------------------------------------

def test_missing_values_take_their_defaults_and_come_back_typed():
    assert Breakout.validate_params({"margin": 1}) == {
        "lookback": 20, "margin": 1.0, "confirm": False, "exit_after": 40, "quantity": 0.0}
    assert isinstance(Breakout.validate_params({"margin": 1})["margin"], float)


def test_an_unknown_parameter_is_named_with_the_ones_that_exist():
    assert problem(Breakout, lookbak=10) == (
        "Breakout has no parameter 'lookbak' "
        "(its parameters: lookback, margin, confirm, exit_after, quantity)")


@pytest.mark.parametrize(("values", "message"), [
    ({"lookback": "ten"}, "lookback must be a number (got 'ten')"),
    ({"lookback": 12.5}, "lookback must be a whole number (got 12.5)"),
    ({"lookback": True}, "lookback must be a number (got True)"),
    ({"lookback": None}, "lookback must be a number (got None)"),
    ({"margin": [1]}, "margin must be a number (got [1])"),
    ({"margin": "inf"}, "margin must be a finite number (got inf)"),
    ({"confirm": "maybe"}, "confirm must be true or false (got 'maybe')"),
    ({"confirm": 2}, "confirm must be true or false (got 2)"),
])
def test_a_value_of_the_wrong_type_is_explained(values, message):
    assert problem(Breakout, **values) == message


@pytest.mark.parametrize(("values", "message"), [
    ({"lookback": 1}, "lookback must be between 2 and 200 (got 1)"),
    ({"lookback": 300, "exit_after": 400}, "lookback must be between 2 and 200 (got 300)"),
    ({"margin": -0.5}, "margin must be between 0 and 5 (got -0.5)"),
    ({"quantity": -1}, "quantity must be between 0 and 1e+09 (got -1)"),
])
def test_a_value_out_of_bounds_says_the_bounds_and_the_value(values, message):
    assert problem(Breakout, **values) == message


def test_a_broken_relation_names_both_parameters_and_their_values():
    assert problem(Breakout, lookback=50, exit_after=50) == (
        "lookback (50) must be less than exit_after (50)")


def test_every_problem_is_reported_at_once():
    message = problem(Breakout, lookback="x", margin=9, colour="red")
    assert message.split("; ") == [
        "Breakout has no parameter 'colour' "
        "(its parameters: lookback, margin, confirm, exit_after, quantity)",
        "lookback must be a number (got 'x')",
        "margin must be between 0 and 5 (got 9)",
    ]


def test_parameter_errors_are_value_errors_meant_for_the_user():
    with pytest.raises(ParameterError) as caught:
        Breakout.validate_params({"lookback": 1})
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, VelocitasError)


@pytest.mark.parametrize(("name", "text", "value"), [
    ("lookback", "12", 12),
    ("lookback", " 12 ", 12),
    ("lookback", "12.0", 12),
    ("lookback", "1.2e1", 12),
    ("margin", "0.25", 0.25),
    ("margin", "2", 2.0),
    ("margin", "1e-3", 0.001),
    ("confirm", "true", True),
    ("confirm", "Yes", True),
    ("confirm", "on", True),
    ("confirm", "1", True),
    ("confirm", "false", False),
    ("confirm", "no", False),
    ("confirm", "OFF", False),
    ("confirm", "0", False),
])
def test_text_typed_in_a_form_or_a_command_line_is_coerced_to_the_declared_type(
        name, text, value):
    coerced = Breakout.validate_params({name: text})[name]
    assert coerced == value
    assert type(coerced) is type(value)


def test_numpy_numbers_are_numbers_and_come_back_as_plain_python_values():
    # e.g. the best row of an optimisation table, read back with DataFrame.iloc / .at
    values = Breakout.validate_params({"lookback": np.int64(30), "margin": np.float32(1.5)})
    assert (values["lookback"], values["margin"]) == (30, 1.5)
    assert (type(values["lookback"]), type(values["margin"])) == (int, float)
    assert json.dumps(values)  # plain values: ready for the API and the journal


def test_a_strategy_is_created_with_typed_validated_parameters_as_attributes():
    strategy = Breakout(coin="BTC", lookback="30", margin=1)
    assert (strategy.lookback, strategy.margin, strategy.confirm) == (30, 1.0, False)
    assert strategy.param_values == {"lookback": 30, "margin": 1.0, "confirm": False,
                                     "exit_after": 40, "quantity": 0.0}
    with pytest.raises(ParameterError, match="lookback must be between 2 and 200"):
        Breakout(coin="BTC", lookback=1)


# --- schema and grids ------------------------------------------------------------------------

def test_the_schema_holds_everything_a_form_an_api_and_a_grid_need():
    schema = Breakout.schema()
    assert schema["name"] == "Breakout"
    assert schema["description"] == "Buy a break above the recent high."
    assert schema["params"] == [
        {"name": "lookback", "type": "int", "default": 20, "low": 2, "high": 200, "step": 2,
         "doc": "prices in the channel"},
        {"name": "margin", "type": "float", "default": 0.5, "low": 0.0, "high": 5.0,
         "step": 0.25, "doc": "percent above the high"},
        {"name": "confirm", "type": "bool", "default": False, "low": None, "high": None,
         "step": None, "doc": "wait for a second close above"},
        {"name": "exit_after", "type": "int", "default": 40, "low": 3, "high": 400,
         "step": None, "doc": "prices held at most"},
        {"name": "quantity", "type": "float", "default": 0.0, "low": 0.0, "high": 1e9,
         "step": None, "doc": "units of the coin a BUY opens; 0: the account's capital / price"},
    ]
    assert schema["constraints"] == ["lookback < exit_after"]
    assert schema["timeframes"] == ["tick", *TIMEFRAMES]
    assert json.loads(json.dumps(schema)) == schema  # plain data, ready for an API


def test_a_grid_built_from_the_schema_alone_matches_the_parameters_own_grid():
    for entry in Breakout.schema()["params"]:
        param = Breakout.params[entry["name"]]
        if entry["type"] == "bool":
            assert param.grid() == [False, True]
        elif entry["step"] is None:
            assert param.grid() == [entry["default"]]
        else:
            kind = {"int": int, "float": float}[entry["type"]]
            assert param.grid() == grid_values(entry["low"], entry["high"], entry["step"], kind)
    assert Breakout.params["lookback"].grid() == list(range(2, 201, 2))
    assert Breakout.params["margin"].grid() == [i * 0.25 for i in range(21)]


def test_a_grid_includes_its_high_end_when_it_falls_on_a_step():
    assert grid_values(5, 50, 5, int) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert grid_values(5, 52, 5, int) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert grid_values(7, 7, 1, int) == [7]


def test_a_float_grid_does_not_lose_its_last_value_to_rounding():
    assert grid_values(0.1, 0.3, 0.1) == [0.1, 0.2, 0.3]
    assert grid_values(0.0, 1.0, 0.1) == [round(i / 10, 12) for i in range(11)]


def test_int_grids_hold_ints():
    assert all(type(v) is int for v in grid_values(5, 50, 5, int))


def test_a_grid_with_no_step_or_reversed_ends_is_refused_with_a_reason():
    with pytest.raises(ParameterError, match=r"a grid step must be positive \(got 0\)"):
        grid_values(1, 10, 0)
    with pytest.raises(ParameterError, match="a grid's low end 10 is above its high end 1"):
        grid_values(10, 1, 1)


def test_iter_grid_yields_every_valid_combination_and_skips_broken_relations():
    grid = {"lookback": [10, 40, 80], "exit_after": [20, 40, 100]}
    combos = list(Breakout.iter_grid(grid))
    assert [(c["lookback"], c["exit_after"]) for c in combos] == [
        (10, 20), (10, 40), (10, 100), (40, 100), (80, 100)]
    # the parameters outside the grid keep their defaults, typed
    assert all(c["margin"] == 0.5 and c["confirm"] is False for c in combos)


def test_iter_grid_skips_values_out_of_bounds():
    combos = list(Breakout.iter_grid({"lookback": [1, 2, 3, 201]}))
    assert [c["lookback"] for c in combos] == [2, 3]


def test_iter_grid_of_an_empty_grid_is_the_defaults():
    assert list(Breakout.iter_grid({})) == [Breakout.defaults()]


# --- timeframes and bars ---------------------------------------------------------------------

def test_a_strategy_decides_on_ticks_by_default():
    assert Breakout(coin="BTC").timeframe == "tick"


@pytest.mark.parametrize("timeframe", ["1s", "1m", "5m", "1h", "4h", "1d"])
def test_a_strategy_may_decide_on_a_bar_interval(timeframe):
    assert Breakout(coin="BTC", timeframe=timeframe).timeframe == timeframe


def test_an_unknown_timeframe_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown timeframe '2m': choose one of tick, 1s, .*1d"):
        Breakout(coin="BTC", timeframe="2m")


def test_on_a_bar_interval_a_strategy_decides_on_each_closed_bars_close():
    strategy = Alternating(coin="BTC", timeframe="1m", quantity=2)
    bar = Bar(start=60.0, end=120.0, open=10.0, high=12.0, low=9.0, close=11.0)
    assert strategy.update_bar(bar) == Signal(Action.BUY, 2.0)
    assert (strategy.price, strategy.timestamp, strategy.bar) == (11.0, 120.0, bar)
    bar = Bar(start=120.0, end=180.0, open=11.0, high=13.0, low=11.0, close=12.0)
    assert strategy.update_bar(bar) == Signal(Action.SELL, 2.0)


def test_the_base_run_gives_the_signals_of_update_on_each_price_with_their_index():
    prices = np.array([3.0, 4.0, 5.0])
    signals = Alternating(coin="BTC").run(prices, np.array([1.0, 2.0, 3.0]))
    # no quantity: the ledger sizes each position by the account's capital
    assert signals == [(0, Signal(Action.BUY)), (1, Signal(Action.SELL)),
                       (2, Signal(Action.BUY))]


def test_init_may_already_feed_prices_to_its_own_indicators():
    class WarmedUp(Strategy):
        """Starts from two known prices."""

        def init(self) -> None:
            self.average = self.indicator(SMA, 2)
            self.update(1.0)
            self.update(3.0)

        def next(self):
            return None

    assert WarmedUp(coin="BTC").average.value == 2.0


def test_buy_and_sell_default_to_the_quantity_parameter():
    strategy = Alternating(coin="BTC", quantity=0.5)
    assert strategy.buy() == Signal(Action.BUY, 0.5)
    assert strategy.sell() == Signal(Action.SELL, 0.5)
    assert strategy.buy(0.1) == Signal(Action.BUY, 0.1)


# --- specs and coins -------------------------------------------------------------------------

def test_a_spec_is_named_coin_underscore_strategy_unless_the_user_names_it():
    assert StrategySpec("SMA_Crossover", "BTC").id == "BTC_SMA_Crossover"
    assert StrategySpec("RSI", "ETH", strategy_id="eth-dips").id == "eth-dips"


def test_a_spec_survives_a_round_trip_through_plain_data():
    spec = StrategySpec("SMA_Crossover", "BTC", {"fast": 5, "slow": 20}, "1m", "", True)
    data = spec.to_dict()
    assert data == {"strategy_id": "BTC_SMA_Crossover", "name": "SMA_Crossover", "coin": "BTC",
                    "params": {"fast": 5, "slow": 20}, "timeframe": "1m", "allow_short": True}
    assert StrategySpec.from_dict(json.loads(json.dumps(data))).to_dict() == data


def test_a_spec_from_minimal_data_takes_the_defaults():
    spec = StrategySpec.from_dict({"name": "RSI", "coin": "ETH"})
    assert (spec.id, spec.params, spec.timeframe, spec.allow_short) == (
        "ETH_RSI", {}, "tick", False)


def test_coin_symbols_are_upper_cased_and_anything_else_is_explained():
    assert check_coin(" btc ") == "BTC"
    with pytest.raises(ParameterError, match="'BTC/USDT' is not a coin symbol"):
        check_coin("BTC/USDT")
    with pytest.raises(ParameterError, match="not a coin symbol"):
        check_coin("")


# --- crossings ---------------------------------------------------------------------------------

def crossings(pairs) -> list[int]:
    cross = Crossover()
    return [cross.update(a, b) for a, b in pairs]


def crossings_many(pairs) -> list[int]:
    a, b = (np.array(column, dtype=float) for column in zip(*pairs, strict=True))
    return Crossover().update_many(a, b).tolist()


both_forms = pytest.mark.parametrize("form", [crossings, crossings_many],
                                     ids=["update", "update_many"])


@both_forms
def test_crossing_above_is_a_turn_of_sign_from_negative_to_positive(form):
    assert form([(1, 2), (3, 2), (4, 2), (1, 2)]) == [0, 1, 0, -1]


@both_forms
def test_the_first_defined_difference_never_signals(form):
    assert form([(nan, 2), (3, 2)]) == [0, 0]
    assert form([(1, 2)]) == [0]


@both_forms
def test_a_zero_difference_keeps_the_previous_sign(form):
    # below, touch, above: the crossing is on the price that goes above, not the touch
    assert form([(1, 2), (2, 2), (3, 2)]) == [0, 0, 1]
    # above, touch, above again: a touch is not a crossing
    assert form([(3, 2), (2, 2), (2, 2), (3, 2)]) == [0, 0, 0, 0]
    # above, touch, below: one crossing below
    assert form([(3, 2), (2, 2), (1, 2)]) == [0, 0, -1]


@both_forms
def test_a_tie_before_any_sign_sets_nothing(form):
    assert form([(2, 2), (3, 2), (1, 2)]) == [0, 0, -1]


@both_forms
def test_an_undefined_value_forgets_the_sign(form):
    # below, undefined, above: no crossing, since the previous price is undefined
    assert form([(1, 2), (nan, 2), (3, 2), (1, 2)]) == [0, 0, 0, -1]
    assert form([(1, 2), (1, nan), (3, 2)]) == [0, 0, 0]


def test_update_many_carries_the_sign_across_calls_and_accepts_a_fixed_level():
    cross = Crossover()
    assert cross.update_many(np.array([1.0, 2.0]), 2.0).tolist() == [0, 0]
    assert cross.update_many(np.array([]), 2.0).tolist() == []
    assert cross.update_many(np.array([3.0]), 2.0).tolist() == [1]
    assert cross.update(1.0, 2.0) == -1
    cross.reset()
    assert cross.update(3.0, 2.0) == 0


values = st.sampled_from([nan, -1.0, 0.0, 0.0, 1.0, 2.5])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(values, values), max_size=40), st.lists(st.integers(0, 40), max_size=5))
def test_update_many_over_any_batches_equals_update_per_value(pairs, cuts):
    expected = crossings(pairs)
    cross = Crossover()
    got: list[int] = []
    bounds = [0, *sorted(cuts), len(pairs)]
    for start, end in itertools.pairwise(bounds):
        chunk = pairs[start:max(start, end)]
        if not chunk:
            continue
        a, b = (np.array(column, dtype=float) for column in zip(*chunk, strict=True))
        got.extend(cross.update_many(a, b).tolist())
    assert got == expected
