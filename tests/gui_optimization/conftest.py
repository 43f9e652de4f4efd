"""Fixtures for the Optimisation tab tests: a private VELOCITAS_HOME, an engine, the tab."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("VELOCITAS_HOME", str(root))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # the app must never write here
    return root


@pytest.fixture
def engine(home: Path) -> Iterator[object]:
    from velocitas_desktop.engine.engine import Engine

    engine = Engine()
    yield engine
    engine.close()


@pytest.fixture
def tab(engine, qtbot):  # type: ignore[no-untyped-def]
    """The tab as the window shows it: dark theme, a realistic size, on screen."""
    from PySide6.QtWidgets import QApplication

    from velocitas_desktop.gui.optimization_tab import OptimizationTab
    from velocitas_desktop.gui.theme import apply_theme

    apply_theme(QApplication.instance(), "dark")
    widget = OptimizationTab(engine)
    qtbot.addWidget(widget)
    widget.resize(1600, 960)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()
    assert os.listdir(".") == []  # nothing written to the current directory
