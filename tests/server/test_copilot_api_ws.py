"""``/ws/alerts`` over a real server: alerts and actions as they happen, a resume after an id
that replays the stored alerts and goes live with each alert once and none missing at the
seam, and the access rules of every socket off loopback (token, Host, Origin)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from server_helpers import ws_url
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from velocitas_desktop.server.runner import ServerThread

pytestmark = pytest.mark.slow  # uvicorn on 127.0.0.1 and a session on the simulated market


def moving(i: int, **extra) -> dict:
    """A rule that fires on the first tick the price moves at all (once), or on every batch
    of ticks that moves it (``frequency`` every_time)."""
    return {"id": f"move-{i}", "name": f"move {i}", "frequency": {"mode": "once"},
            "condition": {"type": "price_move", "params": {"percent": 0.000001, "window_s": 60}},
            "scope": {"kind": "coin", "value": "BTC"}, **extra}


def start_session(api: httpx.Client) -> None:
    reply = api.post("/api/engine/start?coins=BTC&rate=2000&seed=7")
    assert reply.status_code == 200, reply.text


def frames(ws, count: int, timeout: float = 30.0) -> list[dict]:
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        out.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    return out


def alert_ids_until(ws, last: int, timeout: float = 30.0) -> list[int]:
    """The ids of the alert frames read until one with id ``last`` or more."""
    ids: list[int] = []
    deadline = time.monotonic() + timeout
    while not ids or ids[-1] < last:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["type"] == "alert":
            ids.append(frame["data"]["id"])
    return ids


def test_alerts_and_actions_arrive_as_they_happen(server, api) -> None:
    api.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"})
    pause = {"type": "pause_strategy", "params": {"strategy_id": "BTC_RSI"}}
    api.post("/api/copilot/rules", json=moving(1))
    api.post("/api/copilot/rules", json=moving(2, action=pause, severity="critical"))
    with connect(ws_url(server, "/ws/alerts")) as ws:
        start_session(api)
        received = frames(ws, 3)  # two alerts and the action one of them proposed
        alerts = [f["data"] for f in received if f["type"] == "alert"]
        (proposed,) = [f["data"] for f in received if f["type"] == "action"]
        assert {a["rule_id"] for a in alerts} == {"move-1", "move-2"}
        assert sorted(alerts, key=lambda a: a["id"]) == list(reversed(
            api.get("/api/copilot/alerts").json()))
        assert proposed["status"] == "pending" and proposed["type"] == "pause_strategy"
        assert proposed["alert_id"] == next(a["id"] for a in alerts if a["rule_id"] == "move-2")

        decided = api.post(f"/api/copilot/actions/{proposed['id']}/confirm").json()
        (changed,) = [f for f in frames(ws, 1) if f["type"] == "action"]
        assert changed == {"type": "action", "data": decided}
        assert decided["status"] == "executed" and decided["decided_by"] == "api"


def test_a_change_of_the_rules_in_any_view_arrives_with_every_rule(server, api) -> None:
    with connect(ws_url(server, "/ws/alerts")) as ws:
        made = api.post("/api/copilot/rules", json=moving(1)).json()
        (frame,) = frames(ws, 1)
        assert frame == {"type": "rules", "data": {"rules": [made]}}
        api.post("/api/copilot/rules/move-1/disable")
        api.post("/api/copilot/rules", json=moving(2))
        got = [f["data"]["rules"] for f in frames(ws, 2)]
        assert [[(r["id"], r["enabled"]) for r in rules] for rules in got] == [
            [("move-1", False)], [("move-1", False), ("move-2", True)]]
        assert got[-1] == api.get("/api/copilot/rules").json()
        api.delete("/api/copilot/rules/move-1")
        (frame,) = frames(ws, 1)
        assert [r["id"] for r in frame["data"]["rules"]] == ["move-2"]


def test_an_alert_acknowledged_in_any_view_arrives_as_acknowledged(server, api) -> None:
    api.post("/api/copilot/rules", json=moving(1))
    with connect(ws_url(server, "/ws/alerts")) as ws:
        start_session(api)
        (raised,) = [f["data"] for f in frames(ws, 1) if f["type"] == "alert"]
        seen = api.post(f"/api/copilot/alerts/{raised['id']}/acknowledge").json()
        (frame,) = frames(ws, 1)
        assert frame == {"type": "acknowledged", "data": seen}
        assert seen == {**raised, "acknowledged": True}


def test_a_resume_after_an_id_replays_then_goes_live_without_gap_or_duplicate(server,
                                                                            api) -> None:
    api.post("/api/copilot/rules", json=moving(0))
    with connect(ws_url(server, "/ws/alerts")) as ws:
        start_session(api)
        (last,) = alert_ids_until(ws, 1)
    # alerts raised while no one listens (each new rule fires once, at the next tick)...
    for i in range(1, 31):
        api.post("/api/copilot/rules", json=moving(i))

    def newest() -> list[dict]:
        return api.get("/api/copilot/alerts", params={"limit": 1}).json()

    deadline = time.monotonic() + 30
    while newest()[0]["id"] < last + 30:
        assert time.monotonic() < deadline, "the new rules did not fire"
        time.sleep(0.02)
    with connect(ws_url(server, f"/ws/alerts?after_id={last}")) as ws:
        # ... and while the replay runs and after it
        for i in range(31, 61):
            api.post("/api/copilot/rules", json=moving(i))
        ids = alert_ids_until(ws, last + 60)
        with pytest.raises(TimeoutError):  # and nothing twice after the last
            ws.recv(timeout=0.5)
    assert ids == list(range(last + 1, last + 61))


def test_a_resume_with_nothing_stored_after_the_id_goes_live(server, api) -> None:
    api.post("/api/copilot/rules", json=moving(1))
    with connect(ws_url(server, "/ws/alerts?after_id=0")) as ws:
        start_session(api)
        (frame,) = frames(ws, 1)
    assert frame["type"] == "alert" and frame["data"]["id"] == 1


def refused(server: ServerThread, path: str, headers: dict[str, str],
            host: str | None = None) -> tuple[int, str]:
    """The close code and reason of a handshake the server refuses, sent to 127.0.0.1 with
    ``host`` as the Host header's name."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    url = f"ws://{host or '127.0.0.1'}:{server.port}{path}"
    with connect(url, sock=sock, additional_headers=headers) as ws, \
            pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=30)
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_off_loopback_the_socket_needs_the_token_the_servers_name_and_its_own_pages(
        engine) -> None:
    server = ServerThread(engine, host="0.0.0.0", port=0, token="t0ken")
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30,
                          headers={"Authorization": "Bearer t0ken"}) as api:
            assert api.post("/api/copilot/rules", json=moving(1)).status_code == 201
            start_session(api)
            deadline = time.monotonic() + 30
            while not api.get("/api/copilot/alerts").json():
                assert time.monotonic() < deadline, "no alert"
                time.sleep(0.02)
        for token in ("", "?token=wrong"):
            code, reason = refused(server, f"/ws/alerts{token}", {})
            assert (code, reason) == (1008, "missing or wrong access token: add ?token=<token>")
        code, reason = refused(server, "/ws/alerts?token=t0ken", {}, host="evil.example")
        assert code == 1008 and "unknown host name 'evil.example'" in reason
        code, reason = refused(server, "/ws/alerts?token=t0ken",
                               {"Origin": "http://evil.example"})
        assert code == 1008 and reason.startswith("pages at http://evil.example may not use")
        url = f"ws://127.0.0.1:{server.port}/ws/alerts?after_id=0&token=t0ken"
        with connect(url) as ws:
            (frame,) = frames(ws, 1)
        assert frame["type"] == "alert" and frame["data"]["rule_id"] == "move-1"
        with connect(f"ws://127.0.0.1:{server.port}/ws/alerts?after_id=0",
                     additional_headers={"Authorization": "Bearer t0ken"}) as ws:
            assert frames(ws, 1) == [frame]
    finally:
        server.stop()


def test_the_windows_engine_process_serves_the_same_alerts_and_actions(tmp_path) -> None:
    from velocitas_desktop.engine.host import HostedEngine

    hosted = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False)
    server = ServerThread(hosted, port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            api.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"})
            pause = {"type": "pause_strategy", "params": {"strategy_id": "BTC_RSI"}}
            assert api.post("/api/copilot/rules", json=moving(1, action=pause)
                            ).status_code == 201
            with connect(ws_url(server, "/ws/alerts")) as ws:
                start_session(api)
                alert, proposed = sorted(frames(ws, 2), key=lambda f: f["type"] != "alert")
                assert alert["type"] == "alert" and proposed["type"] == "action"
                decided = api.post(f"/api/copilot/actions/{proposed['data']['id']}/reject",
                                   headers={"X-Velocitas-Client": "browser"}).json()
                assert frames(ws, 1) == [{"type": "action", "data": decided}]
            assert (decided["status"], decided["decided_by"]) == ("rejected", "browser")
            with connect(ws_url(server, "/ws/alerts?after_id=0")) as ws:
                assert frames(ws, 1) == [alert]
            assert api.get("/api/copilot/alerts").json() == [alert["data"]]
    finally:
        server.stop()
        hosted.close()
