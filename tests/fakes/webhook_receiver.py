"""A webhook receiver on 127.0.0.1 for the notifier's tests: records each POST, answers as the
test scripts it (a status with headers, a hang until released, a dropped connection)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer one request: ``status`` with ``headers``; ``hang`` waits for the test's
    release before answering; ``drop`` closes the connection without a word."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    drop: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    arrived: float   # time.monotonic()


class Receiver:
    """``with Receiver() as r:`` serves on ``r.url``. ``answers`` is consumed one per request
    (then ``default``); ``received`` lists the requests; ``wait_for(n)`` waits for n of them."""

    def __init__(self, answers: list[Answer] | None = None, default: Answer = Answer()) -> None:
        self.answers = list(answers or [])
        self.default = default
        self.received: list[Received] = []
        self.release = threading.Event()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                answer = receiver._record(self.path, dict(self.headers), raw)
                if answer.hang:
                    receiver.release.wait(30)
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        with self._changed:
            self.received.append(Received(path, headers, body, time.monotonic()))
            answer = self.answers.pop(0) if self.answers else self.default
            self._changed.notify_all()
        return answer

    def wait_for(self, count: int, timeout: float = 10.0,
                 where: Callable[[Received], bool] = lambda r: True) -> list[Received]:
        """The requests matching ``where`` once there are ``count`` of them (AssertionError
        after ``timeout`` seconds)."""
        with self._changed:
            if not self._changed.wait_for(
                    lambda: len([r for r in self.received if where(r)]) >= count, timeout):
                raise AssertionError(f"{len(self.received)} requests arrived, not {count}")
            return [r for r in self.received if where(r)]

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a hanging answer: what the tests arrange


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` until it is true (its value), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.01)
