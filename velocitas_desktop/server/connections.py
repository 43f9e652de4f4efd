"""Connection limits under uvicorn: a deadline and a size limit for a request's headers, and
a cap on open connections under which waiting connections make room for new ones.

uvicorn holds a connection that never finishes its headers for as long as the client likes:
a probe held 1,000 of them for over a minute, and with a file limit of 512, 600 of them left
no file for ``accept()``, so every request was refused, authorised ones included. Here each
connection must finish its headers within ``header_timeout`` of connecting (or of its last
reply, on a kept-alive connection), and the server keeps at most ``max_connections`` open, a
number that fits the process's file limit. At the cap, a new connection closes the oldest one
that is waiting for headers (connections that never sent a request first, then idle
kept-alive ones), so an attacker holding the maximum cannot keep anyone else out; only when
every connection is busy (a request running, a WebSocket) is the newcomer turned away with
a 503 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from velocitas_desktop.server.frames import FanOutProtocol
from velocitas_desktop.server.security import MAX_WEBSOCKETS

HEADER_TIMEOUT = 10.0       # seconds; a browser or script sends its headers in milliseconds
MAX_CONNECTIONS = 1_000
MAX_HEADER_BYTES = 65_536   # uvicorn's h11 allows 16 kB; httptools sets no limit of its own
# Files kept free for what the engine opens after the server starts: measured, a session
# with 8 worker processes opened 25 (pipes, about 3 a worker), the journal 3, a feed 1-2.
SPARE_FILES = 128
FEWEST_CONNECTIONS = 16
RETRY_AFTER = 1             # seconds, in a 503 at the cap


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a request may take to send its headers, how large they may be, how many
    connections the server keeps open and how many of them may be WebSocket clients."""

    header_timeout: float = HEADER_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    max_header_bytes: int = MAX_HEADER_BYTES
    max_websockets: int = MAX_WEBSOCKETS


def open_files() -> int:
    """Files this process has open now (0 where the system does not list them)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 0


def connection_budget(wanted: int, spare: int = SPARE_FILES) -> int:
    """``wanted``, lowered to fit the process's file limit (``ulimit -n``) with ``spare``
    files left for everything else the engine opens."""
    try:
        import resource
    except ImportError:  # Windows: no per-process file limit of this kind
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, max(FEWEST_CONNECTIONS, soft - open_files() - spare))


class ConnectionTable:
    """The open connections of one server: the ones waiting for a request's headers, oldest
    first (new ones apart from kept-alive ones), and the busy ones."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.fresh: OrderedDict[Any, None] = OrderedDict()   # no request yet
        self.idle: OrderedDict[Any, None] = OrderedDict()    # kept alive after a reply
        self.busy: set[Any] = set()                          # a request or a WebSocket
        self.evicted = 0                                     # closed to make room, since start
        self.refused = 0                                     # turned away at the cap

    def __len__(self) -> int:
        return len(self.fresh) + len(self.idle) + len(self.busy)

    def admit(self, transport: Any) -> bool:
        """Take ``transport`` in, closing the oldest waiting connection if the table is full;
        False if every connection is busy."""
        if len(self) >= self.capacity:
            waiting = self.fresh or self.idle
            if not waiting:
                self.refused += 1
                return False
            victim, _ = waiting.popitem(last=False)
            self.evicted += 1
            victim.close()
        self.fresh[transport] = None
        return True

    def working(self, transport: Any) -> None:
        if self._forget(transport):
            self.busy.add(transport)

    def waiting(self, transport: Any) -> None:
        if self._forget(transport):
            self.idle[transport] = None

    def release(self, transport: Any) -> None:
        self._forget(transport)

    def _forget(self, transport: Any) -> bool:
        """Take ``transport`` out of whichever group holds it; False if none did (it was
        evicted, or turned away)."""
        for waiting in (self.fresh, self.idle):
            if transport in waiting:
                del waiting[transport]
                return True
        if transport in self.busy:
            self.busy.remove(transport)
            return True
        return False


def refusal(status: int, reason: str, detail: str, headers: dict[str, str]) -> bytes:
    """A whole HTTP/1.1 reply that closes the connection, written before any request."""
    body = json.dumps({"detail": detail}).encode()
    lines = [f"HTTP/1.1 {status} {reason}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def guarded_protocols(limits: ConnectionLimits,
                      table: ConnectionTable) -> tuple[type[asyncio.Protocol],
                                                       type[asyncio.Protocol]]:
    """uvicorn's HTTP protocol (httptools) and our WebSocket one (websockets-sansio), bound to
    ``table`` and held to ``limits``: pass them as ``Config(http=..., ws=...)``."""

    class GuardedHttp(HttpToolsProtocol):
        """uvicorn's HTTP protocol with a header deadline, a header size limit and a seat in
        the connection table."""

        _deadline: asyncio.TimerHandle | None = None
        _awaiting_headers = True
        _header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not table.admit(transport):
                transport.write(refusal(
                    503, "Service Unavailable",
                    f"the server has {table.capacity} connections open, every one busy: "
                    f"try again in {RETRY_AFTER} s", {"retry-after": str(RETRY_AFTER)}))
                transport.close()
                return
            self._await_headers()

        def data_received(self, data: bytes) -> None:
            awaiting = self._awaiting_headers
            super().data_received(data)
            if awaiting and self._awaiting_headers:  # this chunk did not end the headers
                self._header_bytes += len(data)
                if self._header_bytes > limits.max_header_bytes:
                    self._cancel_deadline()
                    self.transport.write(refusal(
                        431, "Request Header Fields Too Large",
                        f"request headers over {limits.max_header_bytes} bytes", {}))
                    self.transport.close()

        def on_message_begin(self) -> None:
            self._awaiting_headers = True  # until this request's headers are complete
            self._header_bytes = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._awaiting_headers = False
            self._cancel_deadline()
            table.working(self.transport)
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:  # no pipelined request
                table.waiting(self.transport)
                self._arm_deadline()  # the next request's headers, if one begins

        def handle_websocket_upgrade(self) -> None:
            self._cancel_deadline()
            table.working(self.transport)
            super().handle_websocket_upgrade()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_deadline()
            table.release(self.transport)
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            self._awaiting_headers = True
            self._header_bytes = 0
            self._arm_deadline()

        def _arm_deadline(self) -> None:
            self._cancel_deadline()
            self._deadline = self.loop.call_later(limits.header_timeout, self._headers_late)

        def _headers_late(self) -> None:
            self._deadline = None
            if self._awaiting_headers and not self.transport.is_closing():
                self.transport.close()

        def _cancel_deadline(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

    class GuardedWebSocket(FanOutProtocol):
        """Our WebSocket protocol (frames made once for many clients, frames.py), giving up
        its connection's seat when it closes (an upgraded connection is closed here, not by
        the HTTP protocol)."""

        def connection_lost(self, exc: Exception | None) -> None:
            table.release(self.transport)
            super().connection_lost(exc)

    return GuardedHttp, GuardedWebSocket
