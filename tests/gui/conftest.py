"""Fixtures for the window tests: a journal in tmp_path, the window over either engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def make_window(home: Path, tmp_path: Path, qtbot):  # type: ignore[no-untyped-def]
    """Build a window over a fresh engine with a journal in tmp_path; closed at the end."""
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.engine.host import HostedEngine
    from velocitas_desktop.gui.main_window import MainWindow
    from velocitas_desktop.gui.settings import load_settings
    from velocitas_desktop.gui.theme import apply_theme
    from velocitas_desktop.store.journal import Journal

    windows = []

    def make(restore: bool = True, catalog=None, hosted: bool = False):  # type: ignore[no-untyped-def]
        settings = load_settings()
        apply_theme(qtbot_app(), settings.theme)
        if hosted:  # as the app runs it: the engine in its own process
            assert catalog is None, "a hosted engine reads its strategies from folders"
            engine = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"),
                                  restore=restore)
        else:
            engine = Engine(catalog=catalog, journal=Journal(tmp_path / "journal.sqlite3"),
                            restore=restore)
        window = MainWindow(engine, settings, journal_path=tmp_path / "journal.sqlite3")
        qtbot.addWidget(window)
        window.resize(1600, 960)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.close_without_asking()


def qtbot_app():  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


@pytest.fixture
def window(make_window):  # type: ignore[no-untyped-def]
    return make_window()


@pytest.fixture(params=["engine in-process",
                        pytest.param("engine in its own process", marks=pytest.mark.slow)])
def any_window(request, make_window):  # type: ignore[no-untyped-def]
    """The window over each kind of engine: in its process (tests, embedding) and hosted in a
    child process (the app)."""
    return make_window(hosted="own process" in request.param)


@pytest.fixture(params=["engine in-process",
                        pytest.param("engine in its own process", marks=pytest.mark.slow)])
def make_any_window(request, make_window):  # type: ignore[no-untyped-def]
    """As ``any_window``, built when the test asks (after it has prepared the journal)."""
    return lambda: make_window(hosted="own process" in request.param)


@pytest.fixture
def cwd_untouched(home: Path) -> Iterator[None]:
    before = set(os.listdir("."))
    yield
    assert set(os.listdir(".")) == before
