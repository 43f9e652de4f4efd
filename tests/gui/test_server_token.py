"""The server's access token stays private: the settings file that holds it is readable by its
owner only, and the status bar shows it masked, with a button that copies it."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from gui_helpers import WAIT_MS, click, retype, type_number
from support import free_port

from velocitas_desktop.gui.settings import Settings, load_settings, save_settings, settings_path

TOKEN = "kP3-secret-token-that-must-not-show"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file permissions")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
def test_a_token_saved_from_the_settings_dialog_is_readable_by_its_owner_only(qtbot, window):
    old_mask = os.umask(0o000)  # the most permissive umask a desktop may run under
    try:
        click(qtbot, window.settings_button)
        dialog = window.settings_dialog
        retype(qtbot, dialog.token, TOKEN)
        click(qtbot, dialog.save_button)
    finally:
        os.umask(old_mask)
    path = settings_path()
    assert json.loads(path.read_text())["server_token"] == TOKEN
    assert mode(path) == 0o600
    assert mode(path.parent) & 0o022 == 0  # the folder: no one else may swap the file
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


@posix_only
def test_a_settings_file_left_readable_by_everyone_is_made_private_when_read(home):
    save_settings(Settings(server_token=TOKEN))
    path = settings_path()
    os.chmod(path, 0o644)  # as versions before this one wrote it
    os.chmod(path.parent, 0o777)
    assert load_settings().server_token == TOKEN
    assert mode(path) == 0o600
    save_settings(load_settings())
    assert mode(path.parent) & 0o022 == 0


@posix_only
def test_a_config_folder_the_settings_create_is_their_owners_alone(home):
    save_settings(Settings(server_token=TOKEN))
    assert mode(settings_path().parent) == 0o700


def test_allowed_host_names_are_kept_and_must_be_bare_names(home):
    save_settings(Settings(server_allowed_hosts=("trading.lan",)))
    assert load_settings().server_allowed_hosts == ("trading.lan",)
    problems = Settings(server_allowed_hosts=("http://trading.lan/",)).problems()
    assert any("bare name" in p for p in problems)


@pytest.mark.slow  # starts the embedded server
def test_the_status_bar_masks_the_token_and_copies_it_on_demand(qtbot, window):
    from PySide6.QtWidgets import QApplication

    port = free_port()
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    click(qtbot, dialog.server_on)
    type_number(qtbot, dialog.port, str(port))
    retype(qtbot, dialog.token, TOKEN)
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: f"127.0.0.1:{port}" in window.server_label.text(), timeout=WAIT_MS)
    assert TOKEN not in window.server_label.text()
    assert "token ••••" in window.server_label.text()
    button = window.copy_token_button
    assert button.isVisible() and button.text() == "Copy token"
    QApplication.clipboard().clear()
    click(qtbot, button)
    assert QApplication.clipboard().text() == TOKEN
    log = window.log_panel.toPlainText()
    assert "token copied" in log and TOKEN not in log

    click(qtbot, window.settings_button)
    click(qtbot, window.settings_dialog.server_on)  # off again
    click(qtbot, window.settings_dialog.save_button)
    qtbot.waitUntil(lambda: window.server_label.text() == "server: off", timeout=WAIT_MS)
    assert not button.isVisible()
