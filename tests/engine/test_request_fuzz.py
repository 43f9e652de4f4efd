"""What a user types into a strategy spec, a parameter or a file argument is accepted or refused
with the project's own error (a message), never another exception: hypothesis fuzz of the
parsers, and the numbers past float's range that used to escape as OverflowError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocitas_desktop.catalog import load_catalog
from velocitas_desktop.cli import main
from velocitas_desktop.core.errors import ParameterError, VelocitasError
from velocitas_desktop.core.strategy import Param
from velocitas_desktop.engine import request

CATALOG = load_catalog()
HUGE = 10**400  # JSON and Python carry it; a float cannot (its largest is about 1.8e308)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = ["SMA_Crossover", "RSI", "MACD", "Momentum", ":", "::", "=", ",", "BTC", "eth",
          "timeframe=", "timeframe=1m", "timeframe=tick", "fast=", "slow=", "period=",
          "quantity=", "oversold=", "1e400", "-1e400", str(HUGE), "9" * 5000, "nan", "inf",
          "True", "0x1f", "1_0", "٣", "\x00", "\ufeff", " ", "sample:", "sample:BTCUSD-1h",
          "../", "~", "~nobody-here/x", "x" * 300]
typed = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=10)),
                 max_size=8).map("".join)
# NAME:COIN:k=v,... with real names and odd values, so the catalogue's checks are reached
VALUES = ["10", "-3", "0", "2.5", "1e400", "-1e400", str(HUGE), "9" * 5000, "nan", "inf",
          "true", "", "1_0", "0x10", "٣", "tick", "1m", "2m"]
pairs = st.lists(st.tuples(
    st.sampled_from(["fast", "slow", "period", "signal", "oversold", "threshold", "quantity",
                     "timeframe", "nope"]),
    st.one_of(st.sampled_from(VALUES), st.text(max_size=6)),
), max_size=4).map(lambda items: ",".join(f"{k}={v}" for k, v in items))
specs = st.one_of(typed, st.builds(
    lambda name, coin, params: f"{name}:{coin}:{params}",
    st.sampled_from([*CATALOG.names(), "Nope", ""]), st.sampled_from(["BTC", "", "eth", "B-T"]),
    pairs))


def accepted_or_refused(call, *args, **kwargs):
    """The call's result, or None when it raised one of the project's errors; any other
    exception fails the test."""
    try:
        return call(*args, **kwargs)
    except VelocitasError:
        return None


@FUZZ
@given(text=specs)
def test_a_strategy_spec_is_parsed_and_validated_or_refused_with_a_message(text: str) -> None:
    # the --strategy NAME:COIN:k=v path of velocitas run, to the catalogue's checks
    for spec in accepted_or_refused(request.parse_strategy, text, ["BTC", "ETH"]) or []:
        accepted_or_refused(CATALOG.validate, spec)
    # the --strategy NAME:k=v path of velocitas backtest and optimize
    named = accepted_or_refused(request.parse_named_params, text.replace(":BTC:", ":"))
    if named is not None and named[0] in CATALOG.names():
        accepted_or_refused(CATALOG.get(named[0]).validate_params, named[1])


@FUZZ
@given(text=typed)
def test_every_other_typed_field_is_parsed_or_refused_with_a_message(text: str) -> None:
    accepted_or_refused(request.parse_params, text, "--strategy")
    accepted_or_refused(request.parse_coins, text)
    accepted_or_refused(request.parse_csv_files, [text], must_exist=True)
    accepted_or_refused(request.parse_csv_files, [text], must_exist=False)
    accepted_or_refused(request.parse_pace, text, "rate")
    accepted_or_refused(request.check_timeframe, text)


@FUZZ
@given(value=st.one_of(st.integers(), st.integers(min_value=10**300, max_value=10**600),
                       st.floats(), st.text(max_size=20), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=3)))
def test_every_value_of_a_parameter_is_coerced_or_refused_with_a_message(value) -> None:
    for param in CATALOG.get("SMA_Crossover").params.values():
        accepted_or_refused(param.coerce, value)


@pytest.mark.parametrize(("value", "size"), [
    (HUGE, "a number of 401 digits"), (-HUGE, "a number of 401 digits"),
    (str(HUGE), "a number of 401 digits"), ("9" * 5000, "a number of 5,000 digits"),
    (10**5000, "a number of 5,001 digits"), ("1e400", "1e400"), ("-2.5e309", "-2.5e309"),
], ids=["int", "negative", "text", "past-int-digit-limit", "5001-digits", "exponent",
        "negative-exponent"])
@pytest.mark.parametrize("kind", [int, float])
def test_a_number_past_float_range_is_too_large_not_an_overflow(value, size, kind) -> None:
    param = Param(kind(10), low=2, high=500)
    param.name = "fast"
    with pytest.raises(ParameterError) as caught:
        param.coerce(value)
    message = str(caught.value)
    assert message.startswith(f"fast is too large ({size}")
    assert message.endswith(": numbers here must be below 1.8e+308")


def test_typed_infinity_is_not_finite_rather_than_too_large() -> None:
    with pytest.raises(ParameterError, match=r"^quantity must be a finite number \(got inf\)"):
        CATALOG.get("RSI").validate_params({"quantity": "inf"})


def test_register_and_update_params_refuse_a_huge_number_in_their_messages() -> None:
    cls = CATALOG.get("SMA_Crossover")
    with pytest.raises(ParameterError, match=r"fast is too large \(a number of 401 digits"):
        cls.validate_params({"fast": HUGE, "slow": 30})
    spec = request.parse_strategy(f"SMA_Crossover:BTC:fast={HUGE}", ["BTC"])[0]
    with pytest.raises(ParameterError, match="fast is too large"):
        CATALOG.validate(spec)


def test_a_huge_whole_number_within_float_range_is_shown_short_in_a_bounds_message() -> None:
    with pytest.raises(ParameterError, match=r"fast must be between 2 and 500 \(got 1e\+300\)"):
        CATALOG.get("SMA_Crossover").validate_params({"fast": 10**300})


def test_a_long_text_is_quoted_short() -> None:
    with pytest.raises(ParameterError) as caught:
        CATALOG.get("RSI").validate_params({"period": "x" * 5000})
    assert len(str(caught.value)) < 120 and "(5,002 characters)" in str(caught.value)


def test_a_file_name_the_system_refuses_is_a_message() -> None:
    cases = {"BTC=" + "x" * 300: f"cannot use {'x' * 80}… (300 characters) as a file",
             "BTC=~nobody-here/btc.csv": "cannot use ~nobody-here/btc.csv as a file",
             "BTC=BTC\x00.csv": "no such file BTC\x00.csv"}
    for item, message in cases.items():
        with pytest.raises(ParameterError) as caught:
            request.parse_csv_files([item])
        assert str(caught.value).startswith(message)


def test_the_command_line_refuses_a_huge_parameter_in_one_line_with_exit_2(cwd, capsys) -> None:
    code = main(["run", "--strategy", f"SMA_Crossover:BTC:fast={HUGE}", "--ticks", "10",
                 "--json"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "fast is too large (a number of 401 digits)" in err
