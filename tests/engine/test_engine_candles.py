"""The engine keeps a week of one-minute candles per coin, for a view that opens mid-session."""

from __future__ import annotations

import numpy as np
import pytest
from live_engine_helpers import SAMPLE, Recorder

from velocitas_desktop.core.candles import Candles
from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.csvdata import load_ohlcv


def test_no_session_has_no_candles():
    candles = Engine().candles("BTC")
    assert candles["coin"] == "BTC" and candles["time"] == [] and candles["close"] == []


def test_a_bad_coin_symbol_is_refused():
    with pytest.raises(ParameterError, match="coin symbol"):
        Engine().candles("BT-C")


def test_every_price_of_the_session_is_in_the_minute_candles(engines):
    engine = Engine()
    engines.append(engine)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.start(EngineConfig(source="simulated", coins=["BTC", "ETH"], rate=None,
                              max_ticks=200_000, start_time=1_700_000_000.0))
    assert engine.wait(60)
    coins, prices, stamps = recorder.ticks()
    btc = np.array([c == "BTC" for c in coins])
    expected = Candles(60.0, capacity=100_000)
    expected.add_ticks(np.array(prices)[btc], np.array(stamps)[btc])
    candles = engine.candles("btc")  # a coin in any case, as everywhere
    assert candles["interval"] == 60.0 and candles["volume_unit"] == "ticks"
    assert candles["time"] == expected.times.tolist()
    for column in ("open", "high", "low", "close", "volume"):
        assert candles[column] == getattr(expected, column).tolist(), column
    assert sum(candles["volume"]) == btc.sum()
    newest = engine.candles("BTC", limit=3)
    assert newest["time"] == candles["time"][-3:]
    assert engine.candles("SOL")["time"] == []  # not in the session


def test_a_replayed_file_keeps_its_own_bars_and_volume(engines):
    engine = Engine()
    engines.append(engine)
    engine.start(EngineConfig(source="csv", coins=["BTC"], csv_files={"BTC": str(SAMPLE)}))
    assert engine.wait(60)
    file = load_ohlcv(SAMPLE)
    candles = engine.candles("BTC", limit=100_000)
    assert candles["interval"] == 3600.0 and candles["volume_unit"] == "coin"
    assert candles["time"] == file.timestamp.tolist()
    assert candles["high"] == file.high.tolist() and candles["volume"] == file.volume.tolist()
