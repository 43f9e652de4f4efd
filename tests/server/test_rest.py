"""The REST API over a real uvicorn server: strategies, engine control, metrics, trades, errors."""

from __future__ import annotations

import httpx
import pytest
from support import wait_until

from velocitas_desktop.server.runner import ServerError, ServerThread

# every test here talks to the server over HTTP (uvicorn on 127.0.0.1)
pytestmark = pytest.mark.slow


def register(api: httpx.Client, **body) -> httpx.Response:
    return api.post("/api/strategies/register", json=body)


def test_health_and_docs_are_served(api):
    assert api.get("/api/health").json()["status"] == "ok"
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert "/api/engine/start" in paths and "/api/strategies/{strategy_id}/params" in paths
    page = api.get("/", follow_redirects=False)  # the browser view (or how to build it)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_register_list_update_pause_resume_remove(api):
    reply = register(api, name="SMA_Crossover", coin="btc", params={"fast": 5})
    assert reply.status_code == 200, reply.text
    assert reply.json()["strategy_id"] == "BTC_SMA_Crossover"
    assert reply.json()["params"] == {"fast": 5, "slow": 30, "quantity": 0.0}
    register(api, name="RSI", coin="ETH", strategy_id="my_rsi", timeframe="1m")
    ids = [s["strategy_id"] for s in api.get("/api/strategies").json()]
    assert ids == ["BTC_SMA_Crossover", "my_rsi"]

    updated = api.put("/api/strategies/BTC_SMA_Crossover/params", json={"params": {"slow": 50}})
    assert updated.json()["params"]["slow"] == 50 and updated.json()["params"]["fast"] == 5
    assert api.post("/api/strategies/my_rsi/pause").json()["status"] == "paused"
    assert api.post("/api/strategies/my_rsi/resume").json()["status"] == "active"
    assert api.delete("/api/strategies/my_rsi").json() == {"strategy_id": "my_rsi",
                                                         "status": "removed"}
    assert [s["strategy_id"] for s in api.get("/api/strategies").json()] == ["BTC_SMA_Crossover"]
    metrics = api.get("/api/metrics").json()
    assert list(metrics["strategies"]) == ["BTC_SMA_Crossover"]
    assert metrics["global"]["status"] == "stopped"


def test_available_strategies_carry_their_parameter_schema(api):
    available = {s["name"]: s for s in api.get("/api/strategies/available").json()}
    assert {"SMA_Crossover", "Momentum", "RSI", "MACD"} <= set(available)
    fast = next(p for p in available["SMA_Crossover"]["params"] if p["name"] == "fast")
    assert fast["type"] == "int" and fast["default"] == 10
    assert "fast < slow" in available["SMA_Crossover"]["constraints"]


@pytest.mark.parametrize(("call", "status", "words"), [
    (lambda api: register(api, name="Nope", coin="BTC"), 404, "unknown strategy 'Nope'"),
    (lambda api: register(api, name="RSI", coin="B-T"), 422, "not a coin symbol"),
    (lambda api: register(api, name="SMA_Crossover", coin="BTC",
                          params={"fast": 40, "slow": 20}), 422, "must be less than slow"),
    (lambda api: register(api, name="SMA_Crossover", coin="BTC", params={"speed": 1}), 422,
     "no parameter 'speed'"),
    (lambda api: register(api, name="RSI", coin="BTC", timeframe="7m"), 422, "timeframe"),
    (lambda api: api.post("/api/strategies/register", content=b"{not json",
                          headers={"content-type": "application/json"}), 422, "not valid JSON"),
    (lambda api: api.post("/api/strategies/register", content=b"[1]",
                          headers={"content-type": "application/json"}), 422, "JSON object"),
    (lambda api: api.delete("/api/strategies/ghost"), 404, "no strategy with id 'ghost'"),
    (lambda api: api.post("/api/strategies/ghost/pause"), 404, "ghost"),
    (lambda api: api.put("/api/strategies/ghost/params", json={"params": {}}), 404, "ghost"),
    (lambda api: api.get("/api/metrics/ghost"), 404, "ghost"),
    (lambda api: api.post("/api/engine/stop"), 409, "not running"),
    (lambda api: api.post("/api/engine/start?coins=BTC,$$"), 422, "not a coin symbol"),
    (lambda api: api.post("/api/engine/start?data_source=csv"), 422, "csv=COIN=PATH"),
    (lambda api: api.post("/api/engine/start?data_source=csv&csv=BTC=/no/such.csv"), 422,
     "such.csv"),
    (lambda api: api.post("/api/engine/start?data_source=fax"), 422, "data_source"),
    (lambda api: api.post("/api/engine/start?workers=999"), 422, "workers"),
    (lambda api: api.get("/api/trades?limit=0"), 422, "limit"),
    (lambda api: api.get("/api/trades?coin=%24%24"), 422, "not a coin symbol"),
])
def test_bad_input_gets_a_4xx_with_a_message(api, call, status, words):
    reply = call(api)
    assert reply.status_code == status, reply.text
    detail = reply.json()["detail"]
    assert isinstance(detail, str) and words in detail


def test_duplicate_id_and_start_while_running_are_conflicts(api):
    assert register(api, name="Momentum", coin="BTC").status_code == 200
    again = register(api, name="Momentum", coin="BTC")
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    started = api.post("/api/engine/start?coins=BTC&rate=2000&seed=1")
    assert started.status_code == 200 and started.json()["status"] == "running"
    twice = api.post("/api/engine/start?coins=BTC")
    assert twice.status_code == 409 and "already running" in twice.json()["detail"]
    assert api.get("/api/engine/status").json()["status"] == "running"
    stopped = api.post("/api/engine/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"


def test_trades_and_pnl_history_are_filtered_and_paged(api, engine):
    register(api, name="Momentum", coin="BTC")
    register(api, name="Momentum", coin="ETH")
    api.post("/api/engine/start?rate=20000&max_ticks=20000&seed=3")
    wait_until(lambda: engine.wait(0), what="the session to end")
    everything = api.get("/api/trades?limit=10000").json()
    assert len(everything) > 50
    assert [t["id"] for t in everything] == sorted(t["id"] for t in everything)
    eth = api.get("/api/trades?coin=eth&limit=10000").json()
    assert eth and {t["coin"] for t in eth} == {"ETH"}
    assert len(eth) == sum(1 for t in everything if t["coin"] == "ETH")
    first, second = (api.get(f"/api/trades?limit=10&offset={o}").json() for o in (0, 10))
    assert [t["id"] for t in first + second] == [t["id"] for t in everything[:20]]
    after = api.get(f"/api/trades?after_id={everything[9]['id']}&limit=5").json()
    assert [t["id"] for t in after] == [t["id"] for t in everything[10:15]]
    middle = everything[len(everything) // 2]["timestamp"]
    late = api.get(f"/api/trades?since={middle}&limit=10000").json()
    assert late and all(t["timestamp"] >= middle for t in late)
    newest = api.get("/api/trades?order=desc&limit=1").json()
    assert newest[0]["id"] == everything[-1]["id"]
    by_strategy = api.get("/api/trades?strategy_id=BTC_Momentum&limit=10000").json()
    assert {t["strategy_id"] for t in by_strategy} == {"BTC_Momentum"}
    metrics = api.get("/api/metrics").json()
    assert metrics["global"]["total_trades"] == len(everything)
    assert api.get("/api/metrics/BTC_Momentum").json()["total_trades"] == len(by_strategy)
    pnl = api.get("/api/pnl-history?strategy_id=ETH_Momentum").json()
    assert pnl and set(pnl[0]) == {"timestamp", "strategy_id", "pnl", "position"}


def test_request_body_over_the_limit_gets_413(api):
    huge = b'{"name": "RSI", "coin": "BTC", "params": {"x": "' + b"a" * 1_100_000 + b'"}}'
    reply = api.post("/api/strategies/register", content=huge,
                     headers={"content-type": "application/json"})
    assert reply.status_code == 413 and "larger than" in reply.json()["detail"]

    def chunks():
        yield huge[:1000]
        yield huge[1000:]

    chunked = api.post("/api/strategies/register", content=chunks(),
                       headers={"content-type": "application/json"})
    assert chunked.status_code == 413


def test_a_token_is_required_for_every_call_but_health(engine):
    server = ServerThread(engine, port=0, token="s3cret")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            assert api.get("/api/health").status_code == 200
            missing = api.get("/api/strategies")
            assert missing.status_code == 401 and "token" in missing.json()["detail"]
            assert api.get("/api/metrics", headers={"Authorization": "Bearer nope"}
                           ).status_code == 401
            assert api.post("/api/engine/stop").status_code == 401
            good = {"Authorization": "Bearer s3cret"}
            assert api.get("/api/strategies", headers=good).status_code == 200
            assert api.get("/api/strategies?token=s3cret").status_code == 200
    finally:
        server.stop()


def test_a_non_local_address_gets_a_generated_token(engine):
    server = ServerThread(engine, host="0.0.0.0", port=0)
    server.start()
    try:
        assert server.token and len(server.token) >= 20
        url = f"http://127.0.0.1:{server.port}"
        assert httpx.get(url + "/api/strategies", timeout=30).status_code == 401
        reply = httpx.get(url + "/api/strategies", timeout=30,
                          headers={"Authorization": f"Bearer {server.token}"})
        assert reply.status_code == 200
    finally:
        server.stop()


def test_cors_is_closed_by_default_and_opens_for_named_origins(server, engine):
    origin = {"Origin": "http://evil.example"}
    closed = httpx.get(server.url + "/api/health", headers=origin, timeout=30)
    assert "access-control-allow-origin" not in closed.headers
    open_server = ServerThread(engine, port=0, cors_origins=["http://localhost:5173"])
    open_server.start()
    try:
        preflight = httpx.options(open_server.url + "/api/strategies", timeout=30, headers={
            "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"})
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
        other = httpx.get(open_server.url + "/api/health", timeout=30, headers=origin)
        assert "access-control-allow-origin" not in other.headers
    finally:
        open_server.stop()


def test_a_taken_port_is_a_clear_error(server, engine):
    second = ServerThread(engine, port=server.port)
    with pytest.raises(ServerError, match="already in use"):
        second.start()


def test_stop_returns_promptly_with_a_client_connected(engine):
    import time

    from websockets.sync.client import connect

    server = ServerThread(engine, port=0)
    server.start()
    with connect(server.url.replace("http", "ws") + "/ws/metrics") as ws:
        ws.recv(timeout=30)
        began = time.monotonic()
        server.stop()
        assert time.monotonic() - began < 5  # generous: the target is about 2 s
    assert not server.running


def test_two_apps_share_one_engine(engine, server):
    """The desktop and a browser are two views of one engine: a change made through one
    server is seen through the other."""
    other = ServerThread(engine, port=0)
    other.start()
    try:
        httpx.post(server.url + "/api/strategies/register", timeout=30,
                   json={"name": "RSI", "coin": "BTC"})
        seen = httpx.get(other.url + "/api/strategies", timeout=30).json()
        assert [s["strategy_id"] for s in seen] == ["BTC_RSI"]
    finally:
        other.stop()



def test_sessions_are_listed_from_the_journal_behind_the_same_token(engine):
    server = ServerThread(engine, port=0, token="s3cret")
    server.start()
    good = {"Authorization": "Bearer s3cret"}
    try:
        with httpx.Client(base_url=server.url, timeout=30, headers=good) as api:
            assert api.get("/api/sessions").json() == []
            register(api, name="RSI", coin="BTC")
            for seed in (1, 2):  # the second begins a session of its own
                api.post(f"/api/engine/start?coins=BTC&rate=20000&max_ticks=5000&seed={seed}"
                         "&session=new")
                wait_until(lambda: engine.wait(0), what="the session to end")
            listed = api.get("/api/sessions").json()
            assert [s["id"] for s in listed] == [1, 2]
            assert listed[1]["fills"] == api.get("/api/metrics").json()["global"]["total_trades"]
            assert listed[1]["source"] == "simulated" and listed[1]["coins"] == ["BTC"]
            assert listed[1]["strategies"] == ["BTC_RSI"] and listed[1]["size_bytes"] > 0
            assert set(listed[0]) == {"id", "started", "ended", "source", "coins", "strategies",
                                      "fills", "net_pnl", "samples", "size_bytes"}
            assert api.get("/api/sessions", headers={"Authorization": "Bearer nope"}
                           ).status_code == 401
            assert api.delete("/api/sessions").status_code == 405  # read-only
    finally:
        server.stop()


def test_a_csv_start_on_loopback_finds_a_bare_file_name_in_the_data_folders(api):
    """The browser view's Engine bar takes ``BTC=BTCUSD-1h-sample.csv``, the name the
    optimisation page lists: the bundled sample, not a file in the server's working
    directory (which used to answer "no such file")."""
    reply = api.post("/api/engine/start", params={
        "data_source": "csv", "csv": "BTC=BTCUSD-1h-sample.csv", "max_ticks": 50})
    assert reply.status_code == 200, reply.text
    assert reply.json()["source"] == "csv"
    stopped = api.post("/api/engine/stop")  # 409 when its 50 ticks already ran out
    assert stopped.status_code in (200, 409)
    reply = api.post("/api/engine/start", params={
        "data_source": "csv", "csv": "BTC=no-such-file.csv", "session": "new"})
    assert reply.status_code == 422 and "no-such-file.csv" in reply.json()["detail"]
