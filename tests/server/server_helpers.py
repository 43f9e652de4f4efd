"""Helpers shared by the server tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from pathlib import Path

import httpx

from velocitas_desktop.server.runner import ServerThread


def ws_url(server: ServerThread, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def start_trading(server, rate: int = 10_000, extra: str = "") -> None:
    for name in ("Momentum", "SMA_Crossover"):
        for coin in ("BTC", "ETH"):
            httpx.post(server.url + "/api/strategies/register", timeout=30,
                       json={"name": name, "coin": coin})
    reply = httpx.post(server.url + f"/api/engine/start?rate={rate}&seed=7{extra}", timeout=30)
    assert reply.status_code == 200, reply.text


def journal_ids(server, after: int, until: int) -> list[int]:
    """The ids of the session's trades after ``after`` up to ``until``, from /api/trades."""
    ids: list[int] = []
    while not ids or ids[-1] < until:
        rows = httpx.get(server.url + f"/api/trades?after_id={ids[-1] if ids else after}"
                         "&limit=10000", timeout=30).json()
        ids.extend(t["id"] for t in rows)
        if len(rows) < 10_000:
            break
    return [i for i in ids if i <= until]


class RawClient:
    """A WebSocket client on a plain socket: it completes the handshake, then reads only when
    told to, so a test decides exactly when a client stops and starts reading again."""

    def __init__(self, server: ServerThread, path: str, receive_buffer: int | None = None):
        self.sock = socket.socket()
        if receive_buffer is not None:  # before connecting, so the window stays this small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", server.port))
        self.port = self.sock.getsockname()[1]
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.messages: list[dict] = []      # every text message read, parsed
        self.ids: list[int] = []            # the trade ids in them, in order
        self.close_code: int | None = None
        self.close_reason = ""
        self.reset = False                  # the server cut the connection off

    def read(self, timeout: float = 0.0) -> bool:
        """Read what has arrived (waiting up to ``timeout`` for something); False once the
        connection is over."""
        if self.close_code is not None or self.reset:
            return False
        self.sock.settimeout(timeout or 0.001)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            return True
        except ConnectionResetError:
            self.reset = True
            return False
        if not data:
            self.reset = self.close_code is None
            return False
        self.buffer += data
        self._frames()
        return self.close_code is None

    def read_until_closed(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.read(0.1):
            assert time.monotonic() < deadline, "the server never closed the connection"

    def _frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            length, head = buffer[1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                length, head = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < head + length:
                break
            opcode, payload = buffer[0] & 0x0F, buffer[head:head + length]
            buffer = buffer[head + length:]
            if opcode == 1:
                message = json.loads(payload)
                self.messages.append(message)
                kind = message["type"]
                trades = message["trades"] if kind == "trades" else [message] * (kind == "trade")
                self.ids.extend(t["id"] for t in trades)
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big")
                self.close_reason = payload[2:].decode()
                # the closing handshake's reply (clients mask every frame)
                self.sock.sendall(b"\x88\x82\0\0\0\0" + payload[:2])
        self.buffer = buffer

    def close(self) -> None:
        self.sock.close()


def server_descriptors_to(server: ServerThread, ports: list[int]) -> int:
    """How many descriptors of this process (where the server runs) are the server's end of a
    TCP connection from one of these client ports (Linux: /proc)."""
    wanted = {f"{port:04X}" for port in ports}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (local.rsplit(":", 1)[1] == f"{server.port:04X}"
                    and remote.rsplit(":", 1)[1] in wanted):
                inodes.add(f"socket:[{inode}]")
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(fd) in inodes
        except OSError:  # closed while we looked
            continue
    return count
