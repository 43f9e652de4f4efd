"""WebSocket frames made once and written to many clients as bytes, under our uvicorn protocol.

A server never masks its frames (RFC 6455 §5.1), so a text frame's bytes are the same for
every client: the fan-out frames each trade once and hands each client's transport all its
waiting frames in one write. ASGI has no message for that, so :class:`FanOutProtocol` (uvicorn's
own WebSocket protocol, set in ``server/runner.py``) offers each connection's
:class:`FrameTransport` in the scope's extensions under ``FRAMES``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger(__name__)

FRAMES = "velocitas.frames"     # the scope extension holding a connection's FrameTransport
# the kernel's send buffer of a WebSocket connection: Linux doubles the figure (512 KiB) and
# stops growing it. Left to autotuning on loopback it reached ~4 MB per connection, so 100
# clients that stopped reading pinned 267 MB before they could be seen as stalled; 512 KiB is
# about 0.9 s of a per-trade stream at 2,000 trades/s, and over a 100 ms link still carries
# 5 MB/s
SEND_BUFFER = 256 * 1024


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455 §5.2) carrying ``payload`` (UTF-8)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65_536:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload


class FrameTransport:
    """One WebSocket connection's socket, for writes of ready-made frames.

    ``backlog`` is what is queued for the client in this process: the transport's buffer
    (uvicorn's protocol hands every frame of the websockets library to the transport as soon
    as it is made, so the library itself holds nothing back). What the kernel holds is capped
    by ``SEND_BUFFER``."""

    def __init__(self, protocol: FanOutProtocol) -> None:
        self._protocol = protocol
        self.lost = asyncio.Event()     # set when the connection is gone

    @property
    def open(self) -> bool:
        """False once either side has begun to close, or the socket is gone."""
        protocol = self._protocol
        return not (protocol.close_sent or protocol.disconnected
                    or protocol.transport.is_closing())

    @property
    def backlog(self) -> int:
        return self._protocol.transport.get_write_buffer_size()

    @property
    def writable(self) -> asyncio.Event:
        """Set while the transport's buffer is under its high-water mark."""
        return self._protocol.writable

    def write(self, frames: bytes) -> bool:
        """Queue complete frames after everything written before; False if closed."""
        if not self.open:
            return False
        self._protocol.transport.write(frames)
        return True

    def abort(self) -> None:
        """Drop the connection at once, discarding what is queued (a TCP reset)."""
        self._protocol.transport.abort()

    @staticmethod
    def of(websocket: WebSocket) -> FrameTransport | None:
        """The connection's frame transport, or None under another server."""
        return websocket.scope.get("extensions", {}).get(FRAMES)


class FanOutProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, with a :class:`FrameTransport` for each connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames = FrameTransport(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            except OSError as exc:  # a platform that refuses keeps its own size
                log.debug("cannot size a WebSocket's send buffer: %s", exc)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app runs from the next loop turn: it sees this
            scope["extensions"][FRAMES] = self.frames

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.frames.lost.set()
