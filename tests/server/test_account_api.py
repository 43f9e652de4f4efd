"""The account over HTTP: capital, cash, equity and the open positions; closing one position,
flattening all, stopping all trading; and a start that goes on or begins a new session."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support import wait_until

from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.server.runner import ServerThread

pytestmark = pytest.mark.slow

SESSION = "/api/engine/start?coins=BTC,ETH&rate=20000&seed=3&max_ticks=20000"
SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


def a_session_with_open_positions(api: httpx.Client, engine: Any) -> dict[str, Any]:
    for coin in ("BTC", "ETH"):
        api.post("/api/strategies/register", json={"name": "SMA_Crossover", "coin": coin,
                                                   "params": {"fast": 2, "slow": 3}})
        api.post("/api/strategies/register", json={"name": "RSI", "coin": coin, "params": {
            "period": 3, "oversold": 45, "overbought": 55}})
    assert api.post(SESSION).status_code == 200
    wait_until(lambda: engine.wait(0), what="the session to end")
    account = api.get("/api/account").json()
    assert len(account["positions"]) >= 2, "the seed leaves positions open"
    return account


def test_the_account_shows_capital_cash_equity_and_each_open_position(api, engine):
    account = a_session_with_open_positions(api, engine)
    whole = api.get("/api/metrics").json()["global"]
    for key in ("capital", "cash", "equity", "account_value", "return_pct", "net_pnl"):
        assert account[key] == pytest.approx(whole[key])
    held = sum(p["current_position"] * p["last_price"] for p in account["positions"])
    assert account["account_value"] == pytest.approx(account["cash"] + held)
    assert account["account_value"] == pytest.approx(account["capital"] + account["equity"])
    first = account["positions"][0]
    assert set(first) == {"strategy_id", "coin", "strategy_name", "current_position",
                          "entry_price", "last_price", "unrealized_pnl", "capital", "cash",
                          "carried"}
    assert first["unrealized_pnl"] == pytest.approx(
        api.get(f"/api/metrics/{first['strategy_id']}").json()["unrealized_pnl"])


def test_one_position_is_closed_and_the_rest_flattened_with_fills(api, engine):
    account = a_session_with_open_positions(api, engine)
    sid = account["positions"][0]["strategy_id"]
    closed = api.post(f"/api/positions/{sid}/close")
    assert closed.status_code == 200, closed.text
    fill = closed.json()
    assert (fill["strategy_id"], fill["position_size"]) == (sid, 0.0)
    assert fill["price"] == account["positions"][0]["last_price"]
    again = api.post(f"/api/positions/{sid}/close")
    assert again.status_code == 409 and "holds no position" in again.json()["detail"]
    assert api.post("/api/positions/NOPE/close").status_code == 404
    flattened = api.post("/api/positions/flatten").json()
    assert [t["strategy_id"] for t in flattened] == [
        p["strategy_id"] for p in account["positions"][1:]]
    assert api.get("/api/account").json()["positions"] == []
    assert api.post("/api/positions/flatten").json() == []
    newest = api.get("/api/trades?order=desc&limit=1").json()[0]
    assert newest["id"] == flattened[-1]["id"]


def test_all_trading_stops_with_one_call(api, engine):
    for coin in ("BTC", "ETH"):
        api.post("/api/strategies/register", json={"name": "RSI", "coin": coin})
    api.post("/api/strategies/BTC_RSI/pause")
    reply = api.post("/api/strategies/pause-all")
    assert reply.status_code == 200 and reply.json() == {"paused": ["ETH_RSI"]}
    assert {s["status"] for s in api.get("/api/strategies").json()} == {"paused"}
    assert api.get("/api/metrics").json()["global"]["active_strategies"] == 0


def test_a_start_goes_on_with_the_session_or_begins_a_new_one_as_asked(api, engine):
    account = a_session_with_open_positions(api, engine)
    first = api.get("/api/engine/status").json()["session_id"]
    went_on = api.post(SESSION + "&seed=4&max_ticks=2000")
    assert went_on.status_code == 200
    assert (went_on.json()["session_id"], went_on.json()["continued"]) == (first, True)
    wait_until(lambda: engine.wait(0), what="the session to end")

    for sid in (p["strategy_id"] for p in account["positions"]):
        api.post(f"/api/strategies/{sid}/pause")  # what is open now stays open
    held = api.get("/api/account").json()["positions"]
    new = api.post(SESSION + "&max_ticks=1&session=new&positions=carry")
    assert new.status_code == 200
    assert (new.json()["session_id"], new.json()["continued"]) == (first + 1, False)
    wait_until(lambda: engine.wait(0), what="the session to end")
    carried = api.get("/api/account").json()["positions"]
    assert [(p["strategy_id"], p["entry_price"]) for p in carried] == [
        (p["strategy_id"], p["entry_price"]) for p in held]
    assert all(p["carried"] for p in carried)


@pytest.mark.parametrize(("query", "status", "words"), [
    (f"data_source=csv&csv=BTC={SAMPLE}&session=continue", 409,
     "the last session ran on simulated prices, not csv"),
    ("coins=BTC&session=later", 422, "session"),
    ("coins=BTC&positions=sell", 422, "positions"),
])
def test_a_start_that_cannot_be_as_asked_says_why(api, engine, query, status, words):
    api.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"})
    api.post("/api/engine/start?coins=BTC&rate=20000&max_ticks=500&seed=1")
    wait_until(lambda: engine.wait(0), what="the session to end")
    reply = api.post(f"/api/engine/start?{query}")
    assert reply.status_code == status
    assert words in reply.json()["detail"]


def test_the_account_calls_need_the_token_as_every_other(engine):
    server = ServerThread(engine, port=0, token="s3cret")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            for method, path in (("GET", "/api/account"), ("POST", "/api/positions/flatten"),
                                 ("POST", "/api/positions/BTC_RSI/close"),
                                 ("POST", "/api/strategies/pause-all")):
                assert api.request(method, path).status_code == 401
            good = {"Authorization": "Bearer s3cret"}
            assert api.get("/api/account", headers=good).json()["positions"] == []
    finally:
        server.stop()
