"""The window's menus and keys: File, View's layout commands, Help, and a toolbar Tab reaches."""

from __future__ import annotations

import platform
import sys
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QMessageBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop import __version__
from velocitas_desktop.paths import config_dir, data_dir, log_dir

# What the keyboard does besides the menus' own shortcuts (those are read from the actions).
MORE_KEYS = (
    ("Tab / Shift+Tab", "move between the fields and buttons, the toolbar's included"),
    ("Space / Enter", "press the button or tick the box that has the focus"),
    ("Up / Down", "step a number field by its step, within its bounds"),
    ("Alt + underlined letter", "open a menu: Alt+F File, Alt+V View, Alt+J Journal, Alt+H Help"),
    ("Escape", "close a dialog without saving"),
)


def shortcut_text(action: QAction) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def _action(window: QWidget, text: str, keys: str | None,
            slot: Any, name: str, tip: str = "") -> QAction:
    action = QAction(text, window)
    action.setObjectName(name)
    if keys is not None:
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    action.setToolTip(f"{tip or text.replace('&', '')}"
                      + (f" ({shortcut_text(action)})" if keys is not None else ""))
    action.triggered.connect(slot)
    return action


def build_menus(window: Any) -> None:
    """File first, View's layout commands, Help last: the actions the toolbar and the keys
    already run, named where a trader looks for them."""
    bar = window.menuBar()
    file_menu = QMenu("&File", window)
    file_menu.setObjectName("fileMenu")
    if bar.actions():
        bar.insertMenu(bar.actions()[0], file_menu)
    else:
        bar.addMenu(file_menu)
    for action, tip in ((window.start_action, "Start a session on the toolbar's source"),
                        (window.stop_action, "Stop the session"),
                        (window.settings_action, "Costs, folders, theme, server, journal")):
        action.setToolTip(tip)
    for action in (window.start_action, window.stop_action):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(window.settings_action)
    file_menu.addSeparator()
    window.help_dialog = None
    window.quit_action = _action(window, "&Quit", "Ctrl+Q", window.close,
                                 "quitAction", "Close the window and stop the engine")
    file_menu.addAction(window.quit_action)

    view = window.view_menu
    view.addSeparator()
    window.full_screen_action = _action(window, "&Full screen", "F11",
                                        lambda: toggle_full_screen(window), "fullScreenAction")
    window.full_screen_action.setCheckable(True)
    window.reset_layout_action = _action(
        window, "&Reset layout", None, window.reset_layout, "resetLayoutAction",
        "Every panel docked back where it started")
    view.addAction(window.full_screen_action)
    view.addAction(window.reset_layout_action)
    view.addSeparator()
    view.addAction(window.open_browser_action)  # the toolbar's, enabled while the server runs

    help_menu = bar.addMenu("&Help")
    help_menu.setObjectName("helpMenu")
    window.shortcuts_action = _action(window, "&Keyboard shortcuts", "F1",
                                      lambda: open_shortcuts(window), "shortcutsAction")
    window.api_docs_action = _action(window, "&API documentation", None,
                                     lambda: open_api_docs(window), "apiDocsAction",
                                     "The embedded server's API, in the browser")
    window.about_action = _action(window, "A&bout Velocitas", None,
                                  lambda: open_about(window), "aboutAction")
    for action in (window.shortcuts_action, window.api_docs_action, window.about_action):
        help_menu.addAction(action)


def toggle_full_screen(window: Any) -> None:
    window.showNormal() if window.isFullScreen() else window.showFullScreen()
    window.full_screen_action.setChecked(window.isFullScreen())


def reach_toolbars_by_keyboard(window: Any) -> None:
    """Tab reaches every toolbar button (a toolbar's buttons take no focus by default), and
    each one's tooltip names its shortcut."""
    for bar in window.findChildren(QToolBar):
        for action in bar.actions():
            button = bar.widgetForAction(action)
            if not isinstance(button, QToolButton):
                continue
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            keys = shortcut_text(action)
            tip = action.toolTip() or action.text().strip()
            if keys and keys not in tip:
                action.setToolTip(f"{tip} ({keys})")


def shortcut_rows(window: Any) -> list[tuple[str, str]]:
    """Every shortcut of the window's actions with what it does, then the keys of Qt's own."""
    rows: dict[str, str] = {}
    for action in window.findChildren(QAction):
        keys = shortcut_text(action)
        if keys and action.text():
            what = action.text().replace("&", "").replace("▶", "").replace("■", "")
            what = what.replace("⚙", "").strip()
            rows.setdefault(keys, what)
    return [*sorted(rows.items(), key=lambda row: row[1]), *MORE_KEYS]


class ShortcutsDialog(QDialog):
    """The keyboard's shortcuts as a table (F1)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        cells = "".join(f"<tr><td style='padding:2px 16px 2px 0'><b>{keys}</b></td>"
                        f"<td>{what}</td></tr>" for keys, what in rows)
        self.table = QLabel(f"<table>{cells}</table>")
        self.table.setObjectName("shortcutsTable")
        self.table.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def open_shortcuts(window: Any) -> ShortcutsDialog:
    dialog = ShortcutsDialog(shortcut_rows(window), window)
    dialog.setObjectName("shortcutsDialog")
    window.help_dialog = dialog
    dialog.open()
    return dialog


def installation() -> str:
    """How this copy was installed: the desktop bundle (PyInstaller sets ``sys.frozen``) or
    the Python package; a bug report needs to know which."""
    return "Desktop bundle" if getattr(sys, "frozen", False) else "Python package"


def about_text() -> str:
    return (f"<h3>Velocitas {__version__}</h3>"
            "<p>A desktop trading terminal for crypto traders: live paper trading, backtests, "
            "optimisation and an API for the browser.</p>"
            f"<p>{installation()} · Python {platform.python_version()} · "
            f"Qt for Python {pyside_version}</p>"
            f"<p>Settings and layout: {config_dir()}<br>Journal and data: {data_dir()}<br>"
            f"Logs: {log_dir()}</p>"
            "<p>Help → Keyboard shortcuts (F1) lists the keys; with the embedded server on, "
            "Help → API documentation opens its reference in the browser.</p>")


def open_about(window: Any) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "About Velocitas", about_text(),
                      QMessageBox.StandardButton.Close, window)
    box.setObjectName("aboutDialog")
    box.setTextFormat(Qt.TextFormat.RichText)
    window.help_dialog = box
    box.open()
    return box


def open_api_docs(window: Any) -> bool:
    """The embedded server's /docs in the browser, or where to turn the server on."""
    server = window.server
    if server is None:
        window.show_info("The API documentation is served by the embedded server: turn it on in "
                         "Settings (Ctrl+,), then choose Help → API documentation again.")
        return False
    return QDesktopServices.openUrl(QUrl(f"{server.url.rstrip('/')}/docs"))
