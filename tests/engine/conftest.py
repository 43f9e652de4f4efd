"""Fixtures of the live-engine specification: engines stopped after use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from velocitas_desktop.engine.engine import Engine


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
