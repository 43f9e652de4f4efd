"""Fixtures every test shares: a private user folder, an empty working directory, and the rule
that only a test marked ``slow`` may start a process or a server."""

from __future__ import annotations

import multiprocessing.process
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


@pytest.fixture(autouse=True)
def _only_slow_tests_start_processes_or_servers(request: pytest.FixtureRequest,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps ``pytest -m "not slow"`` quick: a test that starts a process (an engine host, a
    worker, a ``velocitas`` command) or a server (uvicorn, the fake exchange) fails unless it
    is marked ``slow``."""
    if request.node.get_closest_marker("slow") is not None:
        return
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse("a process"))
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", _refuse("a process"))
    monkeypatch.setattr(socket.socket, "listen", _refuse("a server"))


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"this test starts {what}: mark it @pytest.mark.slow")
    return refuse
