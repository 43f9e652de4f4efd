"""Specification of the window when the journal cannot be written: a banner says why and where,
Resume trading tries again, and every fill the window was handed is in the journal."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from full_disk import fill_up
from gui_helpers import WAIT_MS, add_strategy, click, start_simulated, stop, type_number


def journaled(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM fills ORDER BY id")]


def handed_to_the_window(window: Any) -> list[int]:
    """The fill ids the bridge hands the window, as it hands them."""
    ids: list[int] = []
    window.bridge.trades.connect(lambda trades: ids.extend(t["id"] for t in trades))
    return ids


def test_a_full_journal_shows_a_banner_and_resume_trading_brings_fills_back(
        qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "2", "slow": "3"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    shown = handed_to_the_window(window)
    assert not window.resume_trading_button.isVisible()
    start_simulated(qtbot, window, rate="5000")
    qtbot.waitUntil(lambda: window.blotter.fills > 20, timeout=WAIT_MS)

    make_room = fill_up(window.engine.journal)
    qtbot.waitUntil(lambda: window.resume_trading_button.isVisible(), timeout=WAIT_MS)
    assert window.banner.text.startswith(
        f"Trading paused: the journal {path} cannot be written (database or disk is full). "
        "Free space on its disk")
    assert window.banner.text.endswith("Press Resume trading to try it now.")
    assert window.kpis.values["status"].text() == "PAUSED"
    assert window.stop_button.isEnabled() and not window.start_button.isEnabled()
    window.grab().save(str(tmp_path / "paused.png"))
    assert set(shown) <= set(journaled(path))

    click(qtbot, window.resume_trading_button)  # still full: it says so, and stays paused
    qtbot.waitUntil(lambda: window.banner.text.endswith("Trading stays paused."),
                    timeout=WAIT_MS)
    assert "cannot be written (database or disk is full)" in window.banner.text
    assert window.engine.status == "paused"

    make_room()
    click(qtbot, window.resume_trading_button)
    qtbot.waitUntil(lambda: not window.resume_trading_button.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.banner.text.startswith("Trading resumed: the journal "),
                    timeout=WAIT_MS)
    assert window.banner.property("level") == "info"
    assert window.kpis.values["status"].text() == "RUNNING"
    window.grab().save(str(tmp_path / "resumed.png"))
    resumed_at = len(shown)
    qtbot.waitUntil(lambda: len(shown) > resumed_at + 5, timeout=WAIT_MS)
    stop(qtbot, window)
    # the last frame hands over the fills the final figures count
    qtbot.waitUntil(lambda: len(shown) >= len(journaled(path)), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.blotter.pending == 0, timeout=WAIT_MS)
    assert shown == journaled(path)  # every fill, each once, in order: none lost
    assert window.blotter.fills == len(shown)


def test_the_free_space_kept_is_a_setting_the_next_session_uses(qtbot, window,
                                                                 home: Path) -> None:
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    assert (dialog.min_free.text(), dialog.min_free.unit) == ("200", "MB")
    type_number(qtbot, dialog.min_free, "750")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    saved = json.loads((home / "config" / "settings.json").read_text(encoding="utf-8"))
    assert saved["min_free_mb"] == 750.0
    assert window.engine_config().min_free_mb == 750.0
    click(qtbot, window.settings_button)
    again = window.settings_dialog
    type_number(qtbot, again.min_free, "0")
    click(qtbot, again.save_button)
    qtbot.waitUntil(lambda: not again.isVisible(), timeout=WAIT_MS)
    assert window.engine_config().min_free_mb == 0.0
    click(qtbot, window.settings_button)  # opened again, 0 reads as what it means
    assert window.settings_dialog.min_free.text() == "no guard"
