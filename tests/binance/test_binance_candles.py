"""Binance's warm-up klines reach the charts as candles, their volume counted in trades."""

from __future__ import annotations

import pytest
from fakes.clocks import JumpClock
from fakes.fake_exchange import FakeExchange
from support import wait_until

from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.binance import BinanceFeed, BinanceSettings

pytestmark = pytest.mark.slow  # a fake exchange on 127.0.0.1


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    exchange = FakeExchange(("BTCUSDT",), seed=11, trade_rate=20.0, clock=JumpClock(),
                            history_days=1).start()
    yield exchange
    exchange.stop()


def test_the_warm_up_klines_are_the_first_candles_and_live_trades_follow(fake):
    feed = BinanceFeed(["BTC"], fake.rest_url, fake.ws_url,
                       settings=BinanceSettings(warmup_klines=30, connect_timeout=5.0))
    engine = Engine()
    engine.start(EngineConfig(source="binance", coins=["BTC"]), feed=feed)
    try:
        warm = feed.history_bars("BTC")
        assert warm is not None and warm[1] == 60.0
        count = len(warm[0])  # the warm-up klines that had closed (29 of the 30 asked)
        assert count >= 29
        wait_until(lambda: len(engine.candles("BTC")["time"]) > count, "a live candle")
        engine.stop()
        candles = engine.candles("BTC")  # the last session's, after it stopped
        assert candles["interval"] == 60.0 and candles["volume_unit"] == "ticks"
        klines = fake.klines("BTCUSDT", "1m", int(candles["time"][0] * 1000), None, limit=count)
        first = [tuple(candles[k][i] for k in ("time", "open", "high", "low", "close", "volume"))
                 for i in range(count)]
        assert first == [(int(k[0]) / 1000, float(k[1]), float(k[2]), float(k[3]), float(k[4]),
                          float(k[8])) for k in klines]
        assert int(klines[-1][6]) < fake.now_ms()  # every one had closed
        # then the live trades, one tick each, in the minutes after
        assert candles["time"][count] >= candles["time"][count - 1] + 60
        assert sum(candles["volume"][count:]) == engine.ticks_processed
        assert candles["time"] == sorted(candles["time"])
    finally:
        engine.close()
