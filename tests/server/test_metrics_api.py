"""The metrics over HTTP: a starting capital asked for in the start query, the capital base's
figures, and a Sharpe ratio that is null with its reason until there is data to mean it."""

from __future__ import annotations

import pytest
from support import wait_until

from velocitas_desktop.paths import sample_data_dir

pytestmark = pytest.mark.slow

SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


def test_a_session_started_with_a_capital_sizes_and_measures_on_it(api, engine):
    api.post("/api/strategies/register", json={"name": "SMA_Crossover", "coin": "BTC"})
    api.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"})
    started = api.post(f"/api/engine/start?data_source=csv&csv=BTC={SAMPLE}&capital=2500"
                       "&risk_free_rate=0.02")
    assert started.status_code == 200, started.text
    wait_until(lambda: engine.wait(0), what="the replay to end")
    figures = api.get("/api/metrics").json()
    whole, sma = figures["global"], figures["strategies"]["BTC_SMA_Crossover"]
    assert (whole["capital"], sma["capital"]) == (5000.0, 2500.0)
    assert sma["return_pct"] == pytest.approx(sma["equity"] / 2500 * 100)
    assert whole["closed_trades"] <= whole["total_trades"] and whole["last_trade_id"] > 0
    assert sma["sharpe_ratio"] is not None and sma["sharpe_note"] == ""
    first = api.get("/api/trades?strategy_id=BTC_SMA_Crossover&limit=1").json()[0]
    assert first["quantity"] * first["price"] == pytest.approx(2500.0)


def test_a_young_session_has_no_sharpe_only_the_reason(api, engine):
    api.post("/api/strategies/register", json={"name": "Momentum", "coin": "BTC"})
    api.post("/api/engine/start?coins=BTC&rate=20000&max_ticks=5000&seed=2")
    wait_until(lambda: engine.wait(0), what="the session to end")
    whole = api.get("/api/metrics").json()["global"]
    assert whole["sharpe_ratio"] is None
    assert whole["sharpe_note"].startswith("needs 30 daily returns")


@pytest.mark.parametrize(("query", "words"), [
    ("capital=0", "capital"), ("capital=-10", "capital"), ("risk_free_rate=3", "risk_free_rate"),
])
def test_a_bad_capital_or_rate_is_a_422_that_names_it(api, query, words):
    reply = api.post(f"/api/engine/start?coins=BTC&{query}")
    assert reply.status_code == 422
    assert words in reply.json()["detail"]
