"""Fixtures for the server tests: a real engine with a journal, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.server.runner import ServerThread
from velocitas_desktop.store.journal import Journal


@pytest.fixture
def engine(home) -> Iterator[Engine]:
    engine = Engine(journal=Journal(home / "journal.sqlite3"), restore=False)
    yield engine
    if engine.status in ("running", "starting"):
        engine.stop()
    engine.close()


@pytest.fixture
def server(engine) -> Iterator[ServerThread]:
    server = ServerThread(engine, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client
