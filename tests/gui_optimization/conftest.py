"""Fixtures for the Optimisation tab tests: an engine and the tab."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


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
