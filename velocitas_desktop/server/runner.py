"""Runs the app under uvicorn on a background thread: for the desktop window and ``serve``."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.connections import (
    ConnectionLimits,
    ConnectionTable,
    connection_budget,
    guarded_protocols,
)
from velocitas_desktop.server.security import Access, is_local
from velocitas_desktop.tokens import new_token

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 2.0


class ServerError(VelocitasError):
    """The server cannot start (port taken, bad address); the message says what to change."""


class ServerThread:
    """The API server for ``engine`` on a daemon thread. ``start()`` returns once the socket
    is bound; binding any address but loopback needs a token (one is generated if none is
    given, and exposed as ``.token``). It answers to the loopback names, the bound address
    and ``allowed_hosts``, and holds its connections to ``limits`` (the cap lowered to fit
    the process's file limit). Reachable from the network, a csv start reads only from the
    user's data folder, the samples and ``data_folders``."""

    def __init__(self, engine: TradingEngine, host: str = "127.0.0.1", port: int = 8000,
                 token: str | None = None, cors_origins: Sequence[str] = (), *,
                 engine_defaults: EngineConfig | None = None,
                 max_body: int = 1_000_000, log_level: str = "warning",
                 allowed_hosts: Iterable[str] = (),
                 data_folders: Iterable[Path | str] = (),
                 limits: ConnectionLimits | None = None) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.token = token
        self.cors_origins = tuple(cors_origins)
        self.allowed_hosts = tuple(allowed_hosts)
        self.data_folders = tuple(Path(folder) for folder in data_folders)
        self.engine_defaults = engine_defaults
        self.max_body = max_body
        self.log_level = log_level
        self.limits = limits or ConnectionLimits()
        self.connections = ConnectionTable(self.limits.max_connections)
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            raise ServerError(f"the server already runs on {self.url}")
        if not is_local(self.host) and not self.token:
            self.token = new_token()
        sock = self._bind()
        self.port = sock.getsockname()[1]
        capacity = connection_budget(self.limits.max_connections)
        self.connections = ConnectionTable(capacity)
        # WebSocket clients may take half the seats at most: requests always find room
        websockets = min(self.limits.max_websockets, capacity // 2)
        self.app = create_app(self.engine, self.token, self.cors_origins, self.max_body,
                              engine_defaults=self.engine_defaults, access=self.access(),
                              max_websockets=websockets)
        http, ws = guarded_protocols(self.limits, self.connections)
        config = uvicorn.Config(self.app, log_level=self.log_level, access_log=False,
                                # guarded HTTP (connections.py), and WebSockets whose
                                # frames are made once for every /ws/trades client (frames.py)
                                http=http, ws=ws,
                                timeout_graceful_shutdown=1, ws_ping_interval=20.0,
                                # one frame goes to many clients: compressing it per client
                                # would cost more CPU than everything else in the fan-out
                                ws_per_message_deflate=False)
        server = uvicorn.Server(config)
        self._server = server
        self._failure = None
        self._thread = threading.Thread(target=self._run, args=(server, sock),
                                        name="velocitas-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                reason = self._failure or "it did not start in time"
                raise ServerError(f"the server on {self.url} could not start: {reason}")
            time.sleep(0.01)

    def access(self) -> Access:
        """Who this server answers, from where it listens and what it was told."""
        from velocitas_desktop import paths

        folders = (paths.data_dir(), paths.sample_data_dir(), *self.data_folders)
        return Access.serving(self.host, self.allowed_hosts, self.cors_origins, folders)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise ServerError(f"port {self.port} on {self.host} is already in use: stop the "
                                  "other server or choose another port") from None
            raise ServerError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") \
                from None
        sock.listen(2048)
        sock.setblocking(False)
        return sock

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by start() or logged
            self._failure = exc
            log.exception("the API server stopped on an error")
        finally:
            sock.close()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close every connection and stop; returns within about ``timeout`` seconds."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout * 0.75)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout * 0.25)
        self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (True) or ``timeout`` passes (False)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
