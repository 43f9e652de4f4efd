"""The server's start parameters carry the Binance endpoints, so a script can point the one
engine at Binance, its testnet or (here) the fake exchange."""

from __future__ import annotations

import time

import pytest
from fakes.fake_exchange import FakeExchange
from fastapi.testclient import TestClient

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.server.app import create_app


@pytest.mark.slow
def test_start_over_rest_streams_from_the_given_binance_endpoints():
    fake = FakeExchange(["BTCUSDT"], trade_rate=100.0)
    fake.start()
    engine = Engine(restore=False)
    engine.register(StrategySpec("SMA_Crossover", "BTC", {"fast": 2, "slow": 3}))
    try:
        with TestClient(create_app(engine), base_url="http://127.0.0.1") as client:
            started = client.post("/api/engine/start", params={
                "data_source": "binance", "coins": "BTC", "binance_rest_url": fake.rest_url,
                "binance_ws_url": fake.ws_url, "quote_asset": "usdt"})
            assert started.status_code == 200, started.text
            deadline = time.monotonic() + 20
            while engine.ticks_processed < 50 and time.monotonic() < deadline:
                time.sleep(0.05)
            status = client.get("/api/engine/status").json()
            assert engine.ticks_processed >= 50
            assert engine.feed_state["state"] == "live", status
            assert client.post("/api/engine/stop").status_code == 200
            refused = client.post("/api/engine/start", params={
                "data_source": "binance", "binance_rest_url": "ftp://example"})
            assert refused.status_code == 422
    finally:
        engine.close()
        fake.stop()
