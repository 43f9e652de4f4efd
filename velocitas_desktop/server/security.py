"""Access tokens and request-size limits, enforced before any route runs (a plain ASGI layer).

With a token, every REST call and WebSocket must present it: an ``Authorization: Bearer T``
header, or ``?token=T`` in the URL (browsers cannot set headers on a WebSocket). Tokens are
compared in constant time. A REST call without it gets 401; a WebSocket is accepted and at
once closed with code 1008 (policy violation), which a browser can see, unlike a refused
handshake. The API reference and the health check stay open: they reveal nothing private.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

OPEN_PATHS = frozenset({"/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
                        "/api/health"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WS_POLICY_VIOLATION = 1008

Scope = dict[str, Any]


def is_local(host: str) -> bool:
    """True for the loopback addresses only: anything else is reachable from the network."""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def presented_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    query = scope.get("query_string", b"").decode("latin-1")
    if "token=" in query:
        for key, value in parse_qsl(query):
            if key == "token":
                return value
    return None


def token_matches(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class Guard:
    """ASGI middleware: checks the token (when one is set) and caps request bodies."""

    def __init__(self, app: Any, token: str | None, max_body: int,
                 open_paths: Iterable[str] = OPEN_PATHS,
                 upload_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body
        self.open_paths = frozenset(open_paths)
        self.upload_limits = dict(upload_limits or {})  # paths that take files: their limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            if self.token is not None and not token_matches(presented_token(scope), self.token):
                await _refuse_websocket(receive, send)
                return
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        if (self.token is not None and scope["path"] not in self.open_paths
                and scope.get("method") != "OPTIONS"
                and not token_matches(presented_token(scope), self.token)):
            await _reply(send, 401, "missing or wrong access token: send the header "
                         "'Authorization: Bearer <token>' (or ?token=<token>)",
                         [(b"www-authenticate", b"Bearer")])
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.upload_limits.get(scope["path"], self.max_body)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _reply(send, 413, f"request body is larger than {limit} bytes")
                return
        if scope["path"] in self.upload_limits:
            await _stream_within(self.app, scope, receive, send, limit)
            return
        # read the whole (small) body here, so a chunked upload cannot slip past the limit
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, f"request body is larger than {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _stream_within(app: Any, scope: Scope, receive: Any, send: Any, limit: int) -> None:
    """Pass a file upload's body on as it arrives, counted, instead of reading it whole
    here: buffered (its chunks, then their join), a 150 MB upload took the server from
    111 MB to 686 MB; passed on, to 116 MB. Past ``limit`` the app sees the client leave and
    the caller gets a 413."""
    size = 0
    over = False
    replied = False

    async def counted() -> dict[str, Any]:
        nonlocal size, over
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                over = True
                return {"type": "http.disconnect"}
        return message

    async def unless_over(message: dict[str, Any]) -> None:
        nonlocal replied
        if not over:
            replied = True
            await send(message)

    try:
        await app(scope, counted, unless_over)
    except Exception:
        if not over:
            raise
    if over and not replied:
        await _reply(send, 413, f"request body is larger than {limit} bytes")


async def _reply(send: Any, status: int, detail: str,
                 headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _refuse_websocket(receive: Any, send: Any) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION,
                "reason": "missing or wrong access token: add ?token=<token>"})
