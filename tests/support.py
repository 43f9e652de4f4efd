"""Helpers the test folders share: waiting for what runs elsewhere, a free local port, the
engine's two ways of running strategies, and draining a feed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from velocitas_desktop.feeds.base import Feed, TickBatch

# ``workers``: strategies inline in the engine's thread, and in two worker processes (slow)
INLINE_AND_WORKERS = (0, pytest.param(2, marks=pytest.mark.slow))


def wait_until(condition: Callable[[], Any], what: str = "", *, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it is truthy and return its value; fail, naming ``what``, after
    ``timeout`` seconds. Generous by design: other engineers' tests share the two cores."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.01)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (closed again at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drain(feed: Feed) -> list[TickBatch]:
    """Every batch ``feed`` yields until it ends by itself."""
    feed.open()
    return list(feed.stream(threading.Event()))


def prices_of(batches: list[TickBatch]) -> np.ndarray:
    return np.concatenate([b.prices for b in batches])
