"""Fixtures every test shares: a private user folder and an empty working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt draws off screen in tests, in this process and in every process a test starts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user folder (``VELOCITAS_HOME``, not created) and runs in an
    empty working directory, which the app must never write to.

    Both live outside ``tmp_path``, so a test that lists its ``tmp_path`` sees only its own files.
    """
    place = tmp_path_factory.mktemp("velocitas")
    root = place / "home"
    monkeypatch.setenv("VELOCITAS_HOME", str(root))
    working = place / "cwd"
    working.mkdir()
    monkeypatch.chdir(working)
    return root


@pytest.fixture
def cwd(home: Path) -> Path:
    """The empty working directory the test runs in (see ``home``)."""
    return home.parent / "cwd"
