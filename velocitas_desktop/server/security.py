"""Who may use the server, checked before any route runs (a plain ASGI layer): the host a
request names, the page it comes from, how its body is declared, its token and its size.

A web page the user visits can send requests to 127.0.0.1 too. Four checks keep it out:

* **Host.** A page that renames 127.0.0.1 (DNS rebinding: ``evil.example`` resolving to
  127.0.0.1) sends ``Host: evil.example``. Only the names and addresses this server answers
  to pass (:class:`Access`); anything else gets 403, reads included.
* **Origin.** Browsers name the page behind every state-changing request and every WebSocket
  handshake. Only this server's own pages and ``--cors-origin`` ones pass; a request without
  ``Origin`` comes from a script (curl, httpx) and passes.
* **Body type.** A state-changing request with a body must say it is JSON (a page can only
  send that to another origin after a CORS preflight, which fails), or carry the header
  ``X-Velocitas`` (file uploads from scripts), or come from an allowed page; 415 otherwise.
  This covers browsers old enough to send no ``Origin`` on a form post.
* **Token.** With a token, every REST call and WebSocket must present it: an
  ``Authorization: Bearer T`` header, or ``?token=T`` in the URL (browsers cannot set headers
  on a WebSocket). Tokens are compared in constant time; a REST call without one gets 401.

A path may take a file too (``upload_aliases``): a multipart POST to it is served by its
upload route, with that route's size limit, after the same checks.

A refused WebSocket is accepted and at once closed with 1008 (policy violation) or 1013 (too
many clients: try again later), which a browser can see, unlike a refused handshake. The API
reference, the health check and the browser view's page and files need no token: they reveal
nothing private.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from velocitas_desktop.core.errors import VelocitasError

# open without a token: they hold nothing private (the browser view's page asks for the token
# before it calls the API; its files are scripts and styles anyone could build from web/)
OPEN_PATHS = frozenset({"/", "/optimize", "/docs", "/docs/oauth2-redirect", "/redoc",
                        "/openapi.json", "/api/health"})
OPEN_PREFIXES = ("/assets/",)  # the browser view's built files
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # the ones that change state
SCRIPT_HEADER = b"x-velocitas"  # a page cannot add it to another origin's request unasked
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
MAX_WEBSOCKETS = 200  # clients of /ws/*; bench/api.py runs 100

Scope = dict[str, Any]


class Forbidden(VelocitasError):
    """A request this server will not carry out for a caller on the network (403)."""


def is_local(host: str) -> bool:
    """True for the loopback addresses only: anything else is reachable from the network."""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def host_name(authority: str) -> str:
    """``"[::1]:8000"`` → ``"::1"``, ``"Example.COM.:80"`` → ``"example.com"``: the name in a
    Host header, without its port, brackets, case or trailing dot."""
    text = authority.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``name`` spells, or None for a name (``127.0.0.1.nip.io`` is a name)."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def origin_of(url: str) -> str | None:
    """``"HTTP://LocalHost:80/"`` → ``"http://localhost"``: an origin as browsers compare them
    (scheme, host, port; the scheme's default port left out). None for ``"null"`` or junk."""
    if "://" not in url:
        return None
    parts = urlsplit(url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".")
    host = f"[{host}]" if ":" in host else host
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Access:
    """What the server allows: the host names it answers to, the pages that may drive it, and
    whether it is reachable from the network (then a csv start reads only from
    ``data_folders`` and the exchange URLs are the configured ones)."""

    hosts: frozenset[str] = LOOPBACK_NAMES
    any_address: bool = False           # bound to 0.0.0.0 or ::: every address of this machine
    origins: frozenset[str] = frozenset()
    network: bool = False
    data_folders: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def serving(cls, bind: str, allowed_hosts: Iterable[str] = (),
                cors_origins: Iterable[str] = (),
                data_folders: Iterable[Path | str] = ()) -> Access:
        """The access of a server bound to ``bind``: loopback names, the bound address, and
        (bound to every address) this machine's name, plus ``allowed_hosts``."""
        names = set(LOOPBACK_NAMES) | {host_name(h) for h in allowed_hosts if h.strip()}
        wildcard = bind.strip() in WILDCARDS
        if wildcard:
            machine = socket.gethostname().lower()
            names |= {machine, f"{machine}.local"}
        else:
            names.add(host_name(bind))
        origins = {o for o in (origin_of(text) for text in cors_origins) if o}
        return cls(hosts=frozenset(names), any_address=wildcard, origins=frozenset(origins),
                   network=not is_local(bind),
                   data_folders=tuple(Path(f).expanduser() for f in data_folders))

    def allows_host(self, authority: str | None) -> bool:
        """True if a request naming ``authority`` (its Host header) is meant for this server.
        Without a Host header (HTTP/1.0 scripts) there is no name to rebind."""
        if authority is None:
            return True
        name = host_name(authority)
        if name in self.hosts:
            return True
        address = ip_literal(name)
        # a rebinding page always uses a name: an address typed as such reached us directly
        return address is not None and (address.is_loopback or self.any_address)

    def allows_origin(self, origin: str, scheme: str, authority: str | None) -> bool:
        """True if the page at ``origin`` may drive this server: it is one of the server's own
        pages (same scheme, host and port as the request) or a ``--cors-origin`` one."""
        seen = origin_of(origin)
        if seen is None:
            return False  # "null": a sandboxed frame or a file, never one of ours
        if seen in self.origins:
            return True
        own = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        return authority is not None and seen == origin_of(f"{own}://{authority}")


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


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def declares_json(scope: Scope) -> bool:
    """True if the request has no body, or says its body is JSON."""
    declared = header(scope, b"content-type")
    if declared is None:
        length = header(scope, b"content-length")
        chunked = header(scope, b"transfer-encoding") is not None
        return not chunked and (length is None or length.strip() in ("", "0"))
    media = declared.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


def is_multipart(scope: Scope) -> bool:
    """True if the request says its body is a form with files (multipart/form-data)."""
    declared = header(scope, b"content-type") or ""
    return declared.partition(";")[0].strip().lower() == "multipart/form-data"


class Guard:
    """ASGI middleware: checks the host, the page, the body type and the token (when one is
    set), caps request bodies and counts WebSocket clients."""

    def __init__(self, app: Any, token: str | None, max_body: int,
                 open_paths: Iterable[str] = OPEN_PATHS,
                 open_prefixes: Iterable[str] = OPEN_PREFIXES,
                 upload_limits: dict[str, int] | None = None,
                 access: Access | None = None, max_websockets: int = MAX_WEBSOCKETS,
                 upload_aliases: dict[str, str] | None = None) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = tuple(open_prefixes)
        self.upload_limits = dict(upload_limits or {})  # paths that take files: their limit
        # a path that takes a JSON body or a file: its multipart POSTs go to the upload path
        self.upload_aliases = {path: upload.encode() for path, upload in
                               (upload_aliases or {}).items()}
        self.access = access or Access()
        self.max_websockets = max_websockets
        self.websockets = 0                             # open /ws/* clients

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why a request or handshake with ``scope`` is refused as coming from the wrong
        place (a 403 or a 1008), or None."""
        names = [value for key, value in scope.get("headers", ()) if key == b"host"]
        if len(names) > 1:
            return "more than one Host header: send one"
        authority = names[0].decode("latin-1") if names else None
        if not self.access.allows_host(authority):
            return (f"unknown host name {host_name(authority or '')!r}: use the server's "
                    "address, or allow the name with --allow-host")
        changes_state = scope["type"] == "websocket" or scope.get("method") in BODY_METHODS
        origin = header(scope, b"origin")
        if changes_state and origin is not None and not self.access.allows_origin(
                origin, scope.get("scheme", "http"), authority):
            return (f"pages at {origin} may not use this server (allow them with "
                    "--cors-origin)")
        return None

    def is_open(self, scope: Scope) -> bool:
        """True for a read of a path that needs no token. Only reads: a POST to an open path
        is not a page load."""
        if scope.get("method") not in ("GET", "HEAD"):
            return False
        path = scope["path"]
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def _websocket(self, scope: Scope, receive: Any, send: Any) -> None:
        refused = self.refusal(scope)
        if refused is None and self.token is not None \
                and not token_matches(presented_token(scope), self.token):
            refused = "missing or wrong access token: add ?token=<token>"
        if refused is not None:
            await _close_websocket(receive, send, WS_POLICY_VIOLATION, refused)
            return
        if self.websockets >= self.max_websockets:
            await _close_websocket(receive, send, WS_TRY_AGAIN_LATER,
                                   f"{self.websockets} WebSocket clients are connected, the "
                                   "most this server takes: try again later")
            return
        self.websockets += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.websockets -= 1

    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        upload = self.upload_aliases.get(scope["path"])
        if upload is not None and scope.get("method") == "POST" and is_multipart(scope):
            scope = {**scope, "path": upload.decode(), "raw_path": upload}
        refused = self.refusal(scope)
        if refused is not None:
            await _reply(send, 403, refused)
            return
        if (self.token is not None and not self.is_open(scope)
                and scope.get("method") != "OPTIONS"
                and not token_matches(presented_token(scope), self.token)):
            await _reply(send, 401, "missing or wrong access token: send the header "
                         "'Authorization: Bearer <token>' (or ?token=<token>)",
                         [(b"www-authenticate", b"Bearer")])
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if not (declares_json(scope) or header(scope, b"origin") is not None
                or header(scope, SCRIPT_HEADER) is not None):
            await _reply(send, 415, "send the body as JSON with 'Content-Type: "
                         "application/json'; a file upload from a script adds the header "
                         "'X-Velocitas: 1'")
            return
        await self._with_body(scope, receive, send)

    async def _with_body(self, scope: Scope, receive: Any, send: Any) -> None:
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


async def _close_websocket(receive: Any, send: Any, code: int, reason: str) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    # a close reason is at most 123 bytes
    await send({"type": "websocket.close", "code": code,
                "reason": reason.encode()[:123].decode(errors="ignore")})
