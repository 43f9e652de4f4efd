"""Fixtures of the live-engine specification: private user folders, engines stopped after use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from velocitas_desktop.engine.engine import Engine


@pytest.fixture(autouse=True)
def home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user folders: nothing touches the real ones."""
    root = tmp_path_factory.mktemp("velocitas-home")
    monkeypatch.setenv("VELOCITAS_HOME", str(root))
    return root


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test creates; whatever is still running at the end is stopped."""
    created: list[Engine] = []
    yield created
    for engine in created:
        if engine.status.stoppable:
            engine.stop()
        engine.wait(5)
        if engine.journal is not None:
            engine.journal.close()
