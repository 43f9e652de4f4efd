"""The window's layout: dock titles, the layout and place kept between runs, and Reset layout."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QRect, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow

from velocitas_desktop.gui.settings import layout_store

LAYOUT_VERSION = 1


def docks(window: QMainWindow) -> list[QDockWidget]:
    """Every dock of the window, in the order they were made (the View menu's order)."""
    return window.findChildren(QDockWidget)


def keep_title(dock: QDockWidget, title: str) -> None:
    """Title ``dock`` as ``title`` (``P&L — …``) wherever it is read. A docked title bar and
    the View menu read ``&`` as a mnemonic marker and need it doubled; the window manager of a
    floating dock shows the text as it is, and a doubled one read ``P&&L``."""
    escaped = title.replace("&", "&&")

    def follow(floating: bool) -> None:
        dock.setWindowTitle(title if floating else escaped)
        dock.toggleViewAction().setText(escaped)

    dock.topLevelChanged.connect(follow)
    follow(dock.isFloating())


class WindowLayout:
    """Saves and restores the docks and the window's place, and puts the docks back as built.

    The place is kept as the window's own rectangle without the frame. Qt's saveGeometry
    keeps the frame's corner and, restored before the window manager has drawn a frame,
    puts the window the frame's height lower (5 px a run under openbox)."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.default_state = QByteArray()
        self._titled: set[QDockWidget] = set()
        self.live_state: QByteArray | None = None  # the live layout, while research has room
        self.set_aside: list[QDockWidget] = []

    def restore(self) -> None:
        """Remember the layout as built (for Reset layout), then the one of the last run."""
        window = self.window
        self.default_state = window.saveState(LAYOUT_VERSION)
        store = layout_store()
        place, state = store.value("place"), store.value("state")
        if isinstance(place, QRect) and _on_a_screen(place):
            window.setGeometry(place)
        elif isinstance(store.value("geometry"), QByteArray):  # a window.ini of an older run
            window.restoreGeometry(store.value("geometry"))
        if _truthy(store.value("maximized")):
            window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)
        if isinstance(state, QByteArray):
            window.restoreState(state, LAYOUT_VERSION)
        self.retitle()

    def save(self) -> None:
        window = self.window
        store = layout_store()
        store.setValue("place", window.normalGeometry() if window.isMaximized()
                       or window.isFullScreen() else window.geometry())
        store.setValue("maximized", window.isMaximized())
        state = self.live_state if self.live_state is not None else window.saveState(
            LAYOUT_VERSION)  # closed on the Optimisation tab: its docks come back next run
        store.setValue("state", state)
        store.remove("geometry")
        store.sync()

    def make_room(self, research: bool) -> None:
        """The whole window for research, or the live docks back where they were.

        Beside the P&L dock and under the bottom docks the Optimisation tab had about a
        sixth of a 1280x720 window: one result row, the Run button out of sight. Docked
        panels step aside while it is shown; floating ones take no room and stay."""
        window = self.window
        if research and self.live_state is None:
            self.live_state = window.saveState(LAYOUT_VERSION)
            self.set_aside = [dock for dock in docks(window)
                              if dock.isVisible() and not dock.isFloating()]
            for dock in self.set_aside:
                dock.hide()
        elif not research and self.live_state is not None:
            for dock in self.set_aside:
                dock.show()
            self.live_state, self.set_aside = None, []

    def reset(self) -> None:
        """Every dock back where the window first put it, docked and shown."""
        window = self.window
        self.live_state, self.set_aside = None, []
        for dock in docks(window):
            if dock.isFloating():
                dock.setFloating(False)
        window.restoreState(self.default_state, LAYOUT_VERSION)
        for dock in docks(window):
            dock.show()
        self.retitle()

    def retitle(self) -> None:
        """Titles that read right docked and floating, for docks not yet seen to."""
        for dock in docks(self.window):
            if dock not in self._titled:
                keep_title(dock, dock.windowTitle().replace("&&", "&"))
                self._titled.add(dock)

    def raise_floating(self) -> None:
        """Floating docks in front of the window. Restored before the window is shown, they
        were mapped first and the window manager put the window over them."""
        for dock in docks(self.window):
            if dock.isFloating() and dock.isVisible():
                dock.raise_()

    def shown(self) -> None:
        """Call when the window is first shown: floating docks come up over it."""
        QTimer.singleShot(0, self.raise_floating)


def _on_a_screen(place: QRect) -> bool:
    """Whether enough of ``place`` is on a screen to grab it (a monitor may have gone)."""
    return any(screen.availableGeometry().intersected(place).height() >= 40
               for screen in QGuiApplication.screens())


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
