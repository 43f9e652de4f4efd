"""Connection floods do not take the server down: half-open connections are closed at the
header deadline, waiting ones make room for real requests at the cap, busy ones turn a
newcomer away with 503 and Retry-After, and WebSocket clients have a cap of their own. Every
flood here is local (127.0.0.1), bounded in count and time, and cleans up after itself."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Iterator

import httpx
import pytest
from server_helpers import ws_url
from support import wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from velocitas_desktop.server.connections import ConnectionLimits
from velocitas_desktop.server.runner import ServerThread

pytestmark = pytest.mark.slow  # real servers on 127.0.0.1

PARTIAL = b"GET /api/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # never finished


@contextlib.contextmanager
def serving(engine, **options) -> Iterator[ServerThread]:
    server = ServerThread(engine, port=0, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def half_open(port: int, count: int, payload: bytes = PARTIAL) -> Iterator[list[socket.socket]]:
    """``count`` connections that send ``payload`` and never finish; all closed at the end."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            with contextlib.suppress(OSError):
                sock.sendall(payload)
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (a read returns nothing, or a reset)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65_536, socket.MSG_PEEK) == b"" or _drained(sock)
    except OSError:
        return True


def _drained(sock: socket.socket) -> bool:
    """Read whatever reply the server wrote before closing; True if it then closed."""
    try:
        while sock.recv(65_536):
            pass
    except OSError:
        pass
    return True


def test_connections_that_never_finish_their_headers_are_closed_at_the_deadline(engine):
    limits = ConnectionLimits(header_timeout=0.5)
    with serving(engine, limits=limits) as server, half_open(server.port, 200) as held, \
            half_open(server.port, 50, payload=b"") as silent:
        began = time.monotonic()
        wait_until(lambda: all(closed_by_server(s) for s in held + silent),
                   "the server to close every half-open connection", timeout=15)
        assert time.monotonic() - began < 5  # 0.5 s deadline; loose for the shared machine
        assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200


def test_a_connection_that_goes_quiet_after_a_reply_is_held_no_longer_than_a_new_one(engine):
    with serving(engine, limits=ConnectionLimits(header_timeout=0.5)) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(65_536).startswith(b"HTTP/1.1 200")
        sock.sendall(PARTIAL)  # the next request starts and stalls
        wait_until(lambda: closed_by_server(sock), "the stalled second request to be closed",
                   timeout=15)


def test_headers_larger_than_the_limit_are_refused_with_431(engine):
    with serving(engine, limits=ConnectionLimits(max_header_bytes=8_192)) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(PARTIAL + b"a" * 20_000)
        reply = sock.recv(65_536)
    assert reply.startswith(b"HTTP/1.1 431")
    assert b"8192 bytes" in reply


def test_at_the_cap_an_authorised_request_is_served_by_closing_the_oldest_waiting_one(engine):
    limits = ConnectionLimits(header_timeout=60, max_connections=40)
    with serving(engine, token="t0ken", limits=limits) as server, \
            half_open(server.port, 40) as held:
        wait_until(lambda: len(server.connections) == 40, "the attacker to hold every seat")
        for _ in range(5):
            reply = httpx.get(server.url + "/api/metrics", timeout=10,
                              headers={"Authorization": "Bearer t0ken"})
            assert reply.status_code == 200
        # the first request took the oldest attacker's seat; each later one the seat its
        # predecessor left when it closed
        assert server.connections.evicted == 1
        assert closed_by_server(held[0])
        assert not any(closed_by_server(sock) for sock in held[1:])


def test_when_every_connection_is_busy_a_newcomer_gets_503_with_retry_after(engine):
    limits = ConnectionLimits(header_timeout=60, max_connections=4)
    stalled_body = (b"POST /api/strategies/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    with serving(engine, limits=limits) as server, \
            connect(ws_url(server, "/ws/metrics")), connect(ws_url(server, "/ws/metrics")), \
            half_open(server.port, 2, payload=stalled_body):
        wait_until(lambda: len(server.connections.busy) == 4, "every seat to be busy")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as newcomer:
            reply = b""
            while chunk := newcomer.recv(65_536):
                reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in head.lower()
    assert "4 connections open" in json.loads(body)["detail"]


def test_websocket_clients_past_their_cap_are_told_to_try_again_later(engine):
    with serving(engine, limits=ConnectionLimits(max_websockets=3)) as server, \
            contextlib.ExitStack() as clients:
        first = [clients.enter_context(connect(ws_url(server, "/ws/metrics")))
                 for _ in range(3)]
        for ws in first:
            assert json.loads(ws.recv(timeout=30))["type"] == "metrics"
        with connect(ws_url(server, "/ws/trades")) as extra, \
                pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=30)
        assert closed.value.rcvd.code == 1013
        assert "try again later" in closed.value.rcvd.reason
        first[0].close()
        wait_until(lambda: _websockets(server) == 2, "the closed client to free its seat")
        with connect(ws_url(server, "/ws/metrics")) as again:
            assert json.loads(again.recv(timeout=30))["type"] == "metrics"


def _websockets(server: ServerThread) -> int:
    guard = server.app.middleware_stack
    while not hasattr(guard, "websockets"):
        guard = guard.app
    return guard.websockets


# --- a server whose file limit is 512, flooded with more connections than that ------------

SERVER = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.server.runner import ServerThread
    server = ServerThread(Engine(restore=False), port=0, token="t0ken")
    server.start()
    print(server.port, getattr(getattr(server, "connections", None), "capacity", 0), flush=True)
    sys.stdin.read()  # until the test closes it
    server.stop()
""")


class Flood:
    """Half-open connections opened as fast as the server accepts them, the newest
    ``keep`` kept open, until stopped, ``most`` connections or ``seconds``: the attacker
    always holds more than the server's maximum."""

    def __init__(self, port: int, keep: int = 1_000, most: int = 30_000,
                 seconds: float = 30.0) -> None:
        self.port, self.keep, self.most, self.seconds = port, keep, most, seconds
        self.held: deque[socket.socket] = deque()
        self.opened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="flood", daemon=True)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while not self.stop.is_set() and self.opened < self.most \
                and time.monotonic() < deadline:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                sock.sendall(PARTIAL)
            except OSError:
                continue
            self.opened += 1
            self.held.append(sock)
            if len(self.held) > self.keep:
                self.held.popleft().close()

    def __enter__(self) -> Flood:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        while self.held:
            self.held.popleft().close()


def test_with_a_file_limit_of_512_a_flood_of_600_and_more_does_not_lock_out_the_owner(home):
    process = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        port, capacity = (int(word) for word in process.stdout.readline().split())
        assert 0 < capacity < 512 - 64  # the cap fits the file limit, with files to spare
        with Flood(port) as attacker:
            wait_until(lambda: attacker.opened >= 600, "the attacker to open 600 connections")
            owner = {"Authorization": "Bearer t0ken"}
            for _ in range(5):
                reply = httpx.get(f"http://127.0.0.1:{port}/api/metrics", headers=owner,
                                  timeout=10)
                assert reply.status_code == 200
                assert attacker.thread.is_alive()  # still flooding while the owner is served
            assert attacker.opened > capacity
    finally:
        process.stdin.close()
        process.wait(30)
