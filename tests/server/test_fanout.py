"""The trade fan-out over a real server: each trade encoded once and written once per client
and fan-out, every client served in order, and clients that stop reading dropped with 1013
and their sockets freed while the others go on."""

from __future__ import annotations

import sys
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from server_helpers import RawClient, journal_ids, server_descriptors_to, start_trading
from starlette.websockets import WebSocketDisconnect
from support import wait_until

from velocitas_desktop.server import frames
from velocitas_desktop.server.app import create_app

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="counts the server's descriptors in /proc")


def test_the_trade_stream_says_it_needs_velocitas_own_server_elsewhere(engine) -> None:
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as client, \
            client.websocket_connect("ws://127.0.0.1/ws/trades") as ws, \
            pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert closed.value.code == 1011 and "velocitas serve" in closed.value.reason


def read_all(clients: list[RawClient], until: Callable[[], bool]) -> None:
    """Read every client in turn until ``until()`` holds (bounded: 60 s)."""

    def step() -> bool:
        for client in clients:
            client.read(0.005)
        return until()

    wait_until(step, timeout=60, what="the clients' trades")


@pytest.mark.slow
def test_each_trade_is_encoded_once_and_reaches_every_client_in_order_in_one_write_per_fan_out(
        server) -> None:
    hub = server.app.state.hub
    per_trade = [RawClient(server, "/ws/trades") for _ in range(12)]
    batched = [RawClient(server, "/ws/trades?batch=true") for _ in range(4)]
    clients = per_trade + batched
    try:
        wait_until(lambda: len(hub.clients) == len(clients), what="the clients to connect")
        start_trading(server, rate=5_000)
        read_all(clients, lambda: min(len(c.ids) for c in clients) >= 1_500)
        httpx.post(server.url + "/api/engine/stop", timeout=30).raise_for_status()
        total = httpx.get(server.url + "/api/metrics", timeout=30).json()["global"]
        session = journal_ids(server, 0, total["last_trade_id"])
        assert len(session) == total["total_trades"]
        read_all(clients, lambda: all(len(c.ids) == len(session) for c in clients))
        writes = sorted(c.writes for c in hub.clients)
    finally:
        for client in clients:
            client.close()
    for client in clients:
        assert client.ids == session  # all of them, once, in order, as in the journal
    assert all(m["type"] == "trade" and {"id", "action", "price", "sent_at"} <= set(m)
               for c in per_trade for m in c.messages)  # the seed's message, one per frame
    assert all(m["type"] == "trades" for c in batched for m in c.messages)
    assert hub.encoded == len(session)               # once for all 16 clients
    assert writes == [hub.fan_outs] * len(clients)   # one write per client and fan-out


@linux_only
@pytest.mark.slow
def test_clients_that_stop_reading_are_dropped_and_their_sockets_freed_while_others_go_on(
        server, engine) -> None:
    hub = server.app.state.hub
    stuck = [RawClient(server, "/ws/trades", receive_buffer=4096) for _ in range(5)]
    healthy = RawClient(server, "/ws/trades")
    ports = [client.port for client in stuck]
    try:
        wait_until(lambda: len(hub.clients) == 6, what="the clients to connect")
        assert server_descriptors_to(server, ports) == 5
        start_trading(server, rate=20_000)
        read_all([healthy], lambda: hub.dropped == 5)
        read_all([healthy], lambda: server_descriptors_to(server, ports) == 0)
        seen = len(healthy.ids)
        read_all([healthy], lambda: len(healthy.ids) > seen + 500)
        for client in stuck:  # the server ended each one: its socket reads to the end
            client.read_until_closed()
    finally:
        for client in [*stuck, healthy]:
            client.close()
    wait_until(lambda: not hub.clients, what="the server to see the healthy client leave")
    assert hub.dropped == 5
    assert healthy.close_code is None and not healthy.reset
    ids = healthy.ids
    assert ids == journal_ids(server, ids[0] - 1, ids[-1])
    assert engine.status == "running"


@pytest.mark.slow
def test_a_client_that_falls_behind_gets_its_trades_then_1013_and_resumes_after_them(
        server) -> None:
    hub = server.app.state.hub
    hub.backlog_bytes = 256 * 1024
    hub.close_grace = 30.0  # the test reads at its own pace once the client is dropped
    slow = RawClient(server, "/ws/trades")
    try:
        wait_until(lambda: len(hub.clients) == 1, what="the client to connect")
        start_trading(server, rate=20_000)
        wait_until(lambda: hub.dropped == 1, timeout=60, what="the drop of the slow client")
        slow.read_until_closed()
    finally:
        slow.close()
    last = slow.ids[-1]
    assert slow.close_code == 1013
    assert "too slow" in slow.close_reason and f"after_id={last}" in slow.close_reason
    assert slow.ids == list(range(slow.ids[0], last + 1))
    again = RawClient(server, f"/ws/trades?after_id={last}")
    try:
        read_all([again], lambda: len(again.ids) >= 1_000)
    finally:
        again.close()
    assert again.ids == list(range(last + 1, last + 1 + len(again.ids)))


@pytest.mark.slow
def test_a_client_that_takes_nothing_for_the_stall_time_is_dropped_though_little_waits(
        server) -> None:
    hub = server.app.state.hub
    hub.backlog_bytes = 1 << 30  # never reached: only the stall bound can drop it
    hub.stall_seconds = 1.0
    hub.close_grace = 30.0
    stuck = RawClient(server, "/ws/trades", receive_buffer=4096)
    try:
        wait_until(lambda: len(hub.clients) == 1, what="the client to connect")
        start_trading(server, rate=5_000)
        wait_until(lambda: hub.dropped == 1, timeout=60, what="the drop of the stalled client")
        stuck.read_until_closed()
    finally:
        stuck.close()
    assert stuck.close_code == 1013 and "took nothing for 1 s" in stuck.close_reason
    assert stuck.ids == list(range(stuck.ids[0], stuck.ids[-1] + 1))


@linux_only
@pytest.mark.slow
def test_a_metrics_client_that_stops_reading_is_dropped_and_its_socket_freed(
        server, monkeypatch) -> None:
    monkeypatch.setattr(frames, "SEND_BUFFER", 4096)  # full in a second, not a minute
    hub = server.app.state.hub
    hub.stall_seconds = 1.0
    hub.close_grace = 30.0
    start_trading(server, rate=1_000)
    stuck = RawClient(server, "/ws/metrics?interval=0.1", receive_buffer=4096)
    try:
        wait_until(lambda: hub.dropped == 1, timeout=60, what="the drop of the metrics client")
        stuck.read_until_closed()
        wait_until(lambda: server_descriptors_to(server, [stuck.port]) == 0,
                   what="the server to let its socket go")
    finally:
        stuck.close()
    assert stuck.close_code == 1013 and "took nothing for 1 s" in stuck.close_reason
    assert stuck.messages and all(m["type"] == "metrics" for m in stuck.messages)
