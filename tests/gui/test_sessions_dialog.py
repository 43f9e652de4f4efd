"""The journal in the window, driven as a trader drives it: the Journal menu's Sessions dialog
(sizes, export, delete, the policy), the retention settings, and old sessions dropped as a
session starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, choose, click, click_row, start_simulated, stop, type_number
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from velocitas_desktop.cli import main
from velocitas_desktop.core.types import Trade
from velocitas_desktop.gui.sessions import upgrade_journal
from velocitas_desktop.gui.settings import Settings, save_settings, with_retention
from velocitas_desktop.store.journal import Journal
from velocitas_desktop.store.retention import Retention

LAYOUT_1_JOURNAL = Path(__file__).parents[1] / "store" / "data" / "layout1-journal.sqlite3"


def past_sessions(path: Path, fills: tuple[int, ...]) -> None:
    """Sessions already in the journal before the window opens, with these many fills."""
    journal = Journal(path)
    next_id = 1
    for count in fills:
        journal.begin_session({"source": "simulated", "coins": ["BTC"]})
        journal.save_strategy({"strategy_id": "BTC_RSI", "coin": "BTC", "name": "RSI"})
        journal.record([Trade(next_id + i, "BTC_RSI", "BTC", "RSI", ("BUY", "SELL")[i % 2],
                              100.0 + i, 1.0, 1.7e9 + i, (0.0, 0.5)[i % 2], (1.0, 0.0)[i % 2],
                              0.1) for i in range(count)])
        next_id += count
    journal.close()


def journal_sessions(path: Path) -> list[int]:
    journal = Journal(path)
    try:
        return [s.id for s in journal.sessions()]
    finally:
        journal.close()


def open_sessions(qtbot, window):  # type: ignore[no-untyped-def]
    window.sessions_action.trigger()  # Journal → Sessions…
    dialog = window.sessions_dialog
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.model.rowCount() > 0
                    and not dialog.busy, timeout=WAIT_MS)
    return dialog


def ctrl_click_row(qtbot, table, row: int) -> None:  # type: ignore[no-untyped-def]
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier, rect.center())


def test_the_journal_menu_lists_the_sessions_with_fills_pnl_and_size(qtbot, make_window,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    past_sessions(path, (400, 1200, 40))
    window = make_window()
    assert "&Journal" in [a.text() for a in window.menuBar().actions()]
    dialog = open_sessions(qtbot, window)
    model = dialog.model
    assert [model.value(r, "id") for r in range(3)] == [1, 2, 3]
    assert [model.value(r, "fills") for r in range(3)] == [400, 1200, 40]
    assert model.value(0, "net_pnl") == pytest.approx(200 * 0.5)
    assert model.value(0, "source") == "simulated" and model.value(0, "coins") == "BTC"
    # sizes in proportion to the rows, shown as people read them
    assert model.text(1, "size").endswith(("kB", "MB"))
    sizes = [s.size_bytes for s in dialog.sessions]
    assert sizes[1] == pytest.approx(3 * sizes[0], rel=0.05)
    assert dialog.summary.text().startswith(f"{path}: ")
    assert "3 sessions. Kept: the last 20 sessions, at most 2 GB" in dialog.summary.text()


def test_a_session_is_exported_to_the_folder_chosen(qtbot, make_window, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    past_sessions(tmp_path / "journal.sqlite3", (300, 50))
    window = make_window()
    dialog = open_sessions(qtbot, window)
    target = tmp_path / "chosen"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(target)))
    click_row(qtbot, dialog.table, 0)
    choose(qtbot, dialog.export_format, "JSON")
    click(qtbot, dialog.export_button)
    qtbot.waitUntil(lambda: "exported" in dialog.status.text(), timeout=WAIT_MS)
    assert dialog.status.text().startswith("Session 1 exported to ")
    trades = json.loads((target / "session-1-trades.json").read_text(encoding="utf-8"))
    assert [t["id"] for t in trades] == list(range(1, 301))
    assert (target / "session-1-pnl-history.json").exists()
    assert dialog.export_button.isEnabled() and not dialog.progress.isVisible()


def test_deleting_asks_first_never_touches_the_shown_session_and_frees_the_space(
        qtbot, make_window, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    past_sessions(path, (20_000, 20_000, 500))
    window = make_window()  # it restores and shows session 3
    dialog = open_sessions(qtbot, window)
    click_row(qtbot, dialog.table, 2)
    assert not dialog.delete_button.isEnabled()
    assert dialog.hint.isVisible() and dialog.hint.text().startswith("Session 3 is running or "
                                                                      "shown in the window")
    click_row(qtbot, dialog.table, 0)
    ctrl_click_row(qtbot, dialog.table, 1)
    assert dialog.selected_ids() == [1, 2] and not dialog.hint.isVisible()
    before = path.stat().st_size
    click(qtbot, dialog.delete_button)
    box = dialog.findChild(QMessageBox, "confirmDelete")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert "Delete sessions 1, 2 and their trades" in box.text()
    click(qtbot, dialog.confirm_delete)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Deleted"), timeout=WAIT_MS)
    assert dialog.status.text().startswith("Deleted sessions 1, 2 (about ")
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1 and not dialog.busy, timeout=WAIT_MS)
    assert journal_sessions(path) == [3]
    assert window.engine.trades(limit=1000)[0]["id"] == 40_001  # the shown session is whole
    assert path.stat().st_size < before / 4


def test_cancelling_the_question_deletes_nothing(qtbot, make_window, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    past_sessions(path, (100, 100))
    dialog = open_sessions(qtbot, make_window())
    click_row(qtbot, dialog.table, 0)
    click(qtbot, dialog.delete_button)
    box = dialog.findChild(QMessageBox, "confirmDelete")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    qtbot.wait(200)
    assert journal_sessions(path) == [1, 2] and dialog.model.rowCount() == 2


def test_the_policy_applied_from_the_dialog_keeps_what_the_settings_say(
        qtbot, make_window, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    past_sessions(path, (100, 100, 100, 100))
    save_settings(Settings(keep_sessions=2))
    dialog = open_sessions(qtbot, make_window())
    assert "Kept: the last 2 sessions, at most 2 GB" in dialog.summary.text()
    click(qtbot, dialog.prune_button)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("To keep"), timeout=WAIT_MS)
    assert dialog.status.text().startswith("To keep the last 2 sessions, at most 2 GB: "
                                           "deleted sessions 1, 2 (about ")
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=WAIT_MS)
    assert journal_sessions(path) == [3, 4]


def test_the_retention_limits_are_set_and_explained_in_the_settings(qtbot, make_window,
                                                                    home: Path) -> None:
    window = make_window()
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    assert (dialog.keep_sessions.text(), dialog.keep_sessions.unit) == ("20", "sessions")
    assert (dialog.keep_gb.text(), dialog.keep_gb.unit) == ("2", "GB")
    type_number(qtbot, dialog.keep_sessions, "5")
    type_number(qtbot, dialog.keep_gb, "0")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    saved = json.loads((home / "config" / "settings.json").read_text(encoding="utf-8"))
    assert (saved["keep_sessions"], saved["keep_gb"]) == (5, 0.0)
    assert window.settings.retention.describe() == "the last 5 sessions, no size limit"
    click(qtbot, window.settings_button)  # opened again, 0 reads as what it means
    again = window.settings_dialog
    assert again.keep_sessions.text() == "5" and again.keep_gb.text() == "no limit"


def test_starting_a_session_drops_what_the_policy_no_longer_keeps(qtbot, make_any_window,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    past_sessions(path, (300, 300, 300))
    save_settings(Settings(keep_sessions=2))
    window = make_any_window()
    start_simulated(qtbot, window)  # the restored session 3 goes on
    qtbot.waitUntil(lambda: "journal: deleted old sessions 1 " in
                    window.log_panel.toPlainText(), timeout=WAIT_MS)
    assert "to keep the last 2 sessions, at most 2 GB" in window.log_panel.toPlainText()
    stop(qtbot, window)
    assert journal_sessions(path) == [2, 3]


def test_the_command_lines_limits_override_the_saved_ones_for_one_run(capsys) -> None:
    saved = Settings(keep_sessions=7, keep_gb=1.5)
    assert with_retention(saved, 3, None).retention == Retention(3, 1.5)
    assert with_retention(saved, None, 0.0).retention == Retention(7, 0.0)
    assert with_retention(saved, None, None) == saved
    assert main(["gui", "--keep-sessions", "-1"]) == 2
    assert "argument --keep-sessions: -1 must be 0 or more" in capsys.readouterr().err


def test_a_journal_from_an_older_version_is_upgraded_behind_a_progress_dialog(
        qtbot, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    shutil.copy(LAYOUT_1_JOURNAL, path)
    shown: list[int] = []
    # the dialog shows while the work runs on a pool thread
    timer = QTimer()
    timer.timeout.connect(lambda: shown.extend(
        d.value() for d in QApplication.topLevelWidgets()
        if d.objectName() == "journalUpgrade" and d.isVisible()))
    timer.start(1)
    assert upgrade_journal(path) is True
    timer.stop()
    assert shown, "no progress dialog was shown"
    assert journal_sessions(path) == [1, 2]
    assert upgrade_journal(path) is False  # once only
    assert upgrade_journal(tmp_path / "none-yet.sqlite3") is False
    assert not (tmp_path / "none-yet.sqlite3").exists()
