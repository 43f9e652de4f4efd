"""The window's "Open in browser" (toolbar and View menu) opens the embedded server's browser
view, with the server's token in the link's fragment, and is off while no server runs."""

from __future__ import annotations

import httpx
import pytest
from gui_helpers import WAIT_MS, click, retype, type_number
from support import free_port

TOKEN = "kP3-secret/token"  # a "/" to see it escaped in the fragment


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The URLs the window asked the system to open (the OS boundary: nothing opens)."""
    from PySide6.QtGui import QDesktopServices

    urls: list[str] = []

    def open_url(url) -> bool:
        urls.append(url.toString())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    return urls


def turn_server_on(qtbot, window, port: int, token: str = "") -> None:
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    click(qtbot, dialog.server_on)
    type_number(qtbot, dialog.port, str(port))
    retype(qtbot, dialog.token, token)
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: f"127.0.0.1:{port}" in window.server_label.text(), timeout=WAIT_MS)


def test_the_action_is_in_the_view_menu_and_off_without_a_server(window):
    action = window.open_browser_action
    assert action in window.view_menu.actions()
    assert action.text().replace("&", "") == "Open in browser"
    assert window.open_browser_button.text() == "Browser"  # the toolbar's room at 1280 px
    assert window.server is None and not action.isEnabled()
    assert not window.open_browser_button.isEnabled()


@pytest.mark.slow  # starts the embedded server
def test_it_opens_the_servers_page_with_the_token_in_the_fragment(qtbot, window, opened):
    port = free_port()
    turn_server_on(qtbot, window, port, TOKEN)
    button = window.open_browser_button
    assert button.isEnabled()
    click(qtbot, button)
    assert opened == [f"http://127.0.0.1:{port}/#token=kP3-secret%2Ftoken"]
    # what it opens is the page, served without the token the page will then present
    page = httpx.get(opened[0].partition("#")[0], timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert TOKEN not in window.log_panel.toPlainText()

    click(qtbot, window.settings_button)
    click(qtbot, window.settings_dialog.server_on)  # off again
    click(qtbot, window.settings_dialog.save_button)
    qtbot.waitUntil(lambda: window.server_label.text() == "server: off", timeout=WAIT_MS)
    assert not window.open_browser_action.isEnabled()


@pytest.mark.slow  # starts the embedded server
def test_without_a_token_it_opens_the_bare_page_from_the_view_menu(qtbot, window, opened):
    port = free_port()
    turn_server_on(qtbot, window, port)
    window.open_browser_action.trigger()  # what View → Open in browser does
    assert opened == [f"http://127.0.0.1:{port}/"]
