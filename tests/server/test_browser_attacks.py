"""A web page the user visits cannot drive the loopback server: the four attacks that worked
(a cross-origin text/plain start, a cross-origin upload, DNS rebinding, a cross-site
WebSocket) are refused, while the server's own pages and scripts without Origin keep working."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from server_helpers import ws_url
from support import wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from velocitas_desktop.paths import sample_data_dir

pytestmark = pytest.mark.slow  # a real server on 127.0.0.1

EVIL = "http://evil.example"
START = "/api/engine/start?data_source=simulated&coins=BTC&rate=100"
UPLOAD = "/api/optimization/jobs/upload"


def own_origin(server) -> str:
    return server.url  # http://127.0.0.1:PORT: the browser view's pages


def status(api: httpx.Client) -> str:
    return api.get("/api/engine/status").json()["status"]


def bar_file() -> bytes:
    content = (sample_data_dir() / "BTCUSD-1h-sample.csv").read_bytes()[:60_000]
    return content[: content.rfind(b"\n") + 1]


def upload(api: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    job = {"strategy": "RSI", "grid": {"period": [7, 14]}, "workers": 0}
    return api.post(UPLOAD, headers=headers, data={"job": json.dumps(job)},
                    files={"file": ("btc.csv", bar_file(), "text/csv")})


def test_a_cross_origin_text_plain_post_does_not_start_the_engine(api):
    reply = api.post(START, content=b"x",
                     headers={"Origin": EVIL, "Content-Type": "text/plain"})
    assert reply.status_code == 403
    assert "evil.example" in reply.json()["detail"] and "--cors-origin" in reply.json()["detail"]
    assert status(api) == "stopped"


def test_a_form_post_without_origin_is_refused_for_its_body_type(api):
    """What a browser too old to send Origin sends for a form: no JSON, no script header."""
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        reply = api.post(START, content=b"a=1", headers={"Content-Type": media})
        assert reply.status_code == 415
        assert "application/json" in reply.json()["detail"]
    assert status(api) == "stopped"


def test_scripts_and_the_servers_own_pages_still_start_and_stop_it(server, api):
    assert api.post(START).status_code == 200                      # curl -X POST
    assert api.post("/api/engine/stop", headers={"Origin": own_origin(server)}).status_code == 200
    registered = api.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"},
                          headers={"Origin": own_origin(server)})  # fetch() from the view
    assert registered.status_code == 200, registered.text


def test_a_cross_origin_upload_starts_no_optimisation(api):
    refused = upload(api, {"Origin": EVIL})
    assert refused.status_code == 403
    without_header = upload(api, {})
    assert without_header.status_code == 415 and "X-Velocitas" in without_header.json()["detail"]
    assert api.get("/api/optimization/jobs").json() == []


def test_an_upload_from_a_script_with_the_header_or_from_an_own_page_starts_a_job(server, api):
    first = upload(api, {"X-Velocitas": "1"})
    assert first.status_code == 202
    # one optimisation runs at a time (docs/api.md): let the first one end before the next
    job = first.json()["job_id"]
    api.post(f"/api/optimization/jobs/{job}/cancel")
    wait_until(lambda: api.get(f"/api/optimization/jobs/{job}").json()["status"]
               in ("finished", "cancelled", "error"), "the first job to end")
    assert upload(api, {"Origin": own_origin(server)}).status_code == 202
    assert len(api.get("/api/optimization/jobs").json()) == 2


def test_a_rebound_host_name_gets_no_data(server, api):
    for path in ("/api/metrics", "/api/trades", "/api/strategies", "/docs"):
        reply = api.get(path, headers={"Host": "evil.example"})
        assert reply.status_code == 403, path
        assert reply.json() == {"detail": reply.json()["detail"]}
        assert "evil.example" in reply.json()["detail"]
    assert api.get("/api/metrics", headers={"Host": "evil.example:8000"}).status_code == 403
    for name in ("localhost", "127.0.0.1", f"127.0.0.1:{server.port}",
                 f"localhost:{server.port}"):
        assert api.get("/api/metrics", headers={"Host": name}).status_code == 200, name


def refused_websocket(server, path: str, headers: dict[str, str],
                      url: str | None = None) -> tuple[int, str]:
    """The close code and reason of a handshake the server refuses; fails if it sends data.
    ``url`` is what the page asked for (its host name is sent as Host); the connection goes
    to the server on 127.0.0.1 whatever the name, as after DNS rebinding."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    with connect(url or ws_url(server, path), sock=sock, additional_headers=headers) as ws, \
            pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=30)
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_a_cross_site_websocket_receives_no_metrics(server):
    code, reason = refused_websocket(server, "/ws/metrics", {"Origin": EVIL})
    assert code == 1008 and "evil.example" in reason
    code, _ = refused_websocket(server, "/ws/trades", {"Origin": "null"})
    assert code == 1008
    rebound = f"ws://evil.example:{server.port}/ws/metrics"
    code, reason = refused_websocket(server, "/ws/metrics", {}, url=rebound)
    assert code == 1008 and "evil.example" in reason


def test_websockets_from_the_servers_own_pages_and_from_scripts_get_metrics(server):
    for headers in ({"Origin": own_origin(server)}, {}):
        with connect(ws_url(server, "/ws/metrics"), additional_headers=headers) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "metrics"


def test_named_cors_origins_may_drive_it(engine):
    from velocitas_desktop.server.runner import ServerThread

    server = ServerThread(engine, port=0, cors_origins=["http://localhost:5173"])
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            dev = {"Origin": "http://localhost:5173"}
            assert api.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"},
                            headers=dev).status_code == 200
            preflight = api.options("/api/optimization/jobs/upload", headers={
                **dev, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-velocitas"})
            assert preflight.status_code == 200
            assert api.post("/api/engine/stop", headers={"Origin": EVIL}).status_code == 403
        with connect(ws_url(server, "/ws/metrics"), additional_headers=dev) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "metrics"
    finally:
        server.stop()


def test_allowed_host_names_and_a_wildcard_bind_answer_their_addresses(engine):
    from velocitas_desktop.server.runner import ServerThread

    server = ServerThread(engine, host="0.0.0.0", port=0, token="t0ken",
                          allowed_hosts=["velocitas.lan"])
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30,
                          headers={"Authorization": "Bearer t0ken"}) as api:
            for name in ("velocitas.lan", "VELOCITAS.LAN:8000", "192.168.1.20", "[fe80::1]"):
                assert api.get("/api/metrics", headers={"Host": name}).status_code == 200, name
            assert api.get("/api/metrics", headers={"Host": "evil.example"}).status_code == 403
    finally:
        server.stop()
