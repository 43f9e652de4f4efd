"""Specification of the strategy texts a user types (``--strategy NAME:COIN:k=v``) and of the
timeframe strategies decide on when the user does not say."""

from __future__ import annotations

import pytest

from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.request import (
    DEFAULT_TIMEFRAME,
    check_timeframe,
    default_timeframe,
    parse_strategy,
)

COINS = ("BTC", "ETH")


def test_the_default_timeframe_is_one_minute_bars():
    assert DEFAULT_TIMEFRAME == "1m"
    assert parse_strategy("RSI:BTC", COINS) == [StrategySpec("RSI", "BTC", {}, "1m")]


def test_timeframe_among_the_pairs_sets_the_bars_and_is_not_a_parameter():
    [spec] = parse_strategy("SMA_Crossover:BTC:timeframe=5m,fast=5,slow=20", COINS)
    assert spec.timeframe == "5m"
    assert spec.params == {"fast": "5", "slow": "20"}


def test_tick_stays_available():
    [spec] = parse_strategy("MACD:ETH:timeframe=tick", COINS)
    assert spec.timeframe == "tick" and spec.params == {}


def test_the_callers_default_applies_when_the_text_names_no_timeframe():
    [spec] = parse_strategy("MACD:ETH:fast=8", COINS, timeframe="1h")
    assert spec.timeframe == "1h"


def test_a_name_alone_means_every_coin_of_the_session():
    specs = parse_strategy("RSI", COINS)
    assert [(s.coin, s.timeframe) for s in specs] == [("BTC", "1m"), ("ETH", "1m")]


def test_an_empty_coin_with_parameters_means_every_coin_too():
    specs = parse_strategy("RSI::period=10,timeframe=15m", COINS)
    assert [(s.coin, s.params, s.timeframe) for s in specs] == [
        ("BTC", {"period": "10"}, "15m"), ("ETH", {"period": "10"}, "15m")]


def test_parameters_where_the_coin_belongs_are_explained():
    with pytest.raises(ParameterError) as error:
        parse_strategy("RSI:timeframe=1m", COINS)
    assert str(error.value) == ("--strategy 'RSI:timeframe=1m': the coin comes before the "
                                "parameters: RSI:COIN:timeframe=1m (or RSI::timeframe=1m for "
                                "every coin)")


def test_an_unknown_timeframe_lists_the_choices():
    with pytest.raises(ParameterError) as error:
        parse_strategy("RSI:BTC:timeframe=2m", COINS)
    message = str(error.value)
    assert message.startswith("--strategy 'RSI:BTC:timeframe=2m': unknown timeframe '2m'")
    assert "tick, 1s" in message and "1m" in message and "1d" in message


def test_check_timeframe_names_the_field():
    assert check_timeframe(" 4h ") == "4h"
    with pytest.raises(ParameterError, match=r"^--timeframe: unknown timeframe 'bars'"):
        check_timeframe("bars", "--timeframe")


def test_bars_built_from_ticks_by_default_but_a_csv_replays_rows_that_are_bars_already():
    assert default_timeframe("simulated") == DEFAULT_TIMEFRAME
    assert default_timeframe("binance") == DEFAULT_TIMEFRAME
    assert default_timeframe("csv") == "tick"
