"""Helpers shared by the server tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import time
from collections.abc import Callable

from velocitas_desktop.server.runner import ServerThread


def ws_url(server: ServerThread, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def wait_until(condition: Callable[[], object], timeout: float = 30.0,
               message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.02)
