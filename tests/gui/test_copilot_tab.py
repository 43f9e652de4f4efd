"""The Copilot tab driven as a trader would, over a real engine: a rule made in the form, a
replayed file crossing its level raising an alert (listed, toasted, badged), a pending action
confirmed or rejected, rules exported and imported, and the tray told while minimised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import WAIT_MS, choose, click, click_row, press_start, retype
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

LEVEL = 110.0


def write_rising_bars(path: Path, start: float = 100.0, end: float = 130.0,
                      bars: int = 120) -> Path:
    """One-minute bars whose closes climb evenly from ``start`` to ``end``."""
    lines = ["timestamp,open,high,low,close,volume"]
    step = (end - start) / (bars - 1)
    for i in range(bars):
        close = start + i * step
        open_ = close - step if i else close
        lines.append(f"{1_700_000_000 + 60 * i},{open_:.4f},{close + 0.01:.4f},"
                     f"{open_ - 0.01:.4f},{close:.4f},1")
    path.write_text("\n".join(lines) + "\n")
    return path


def rule(rule_id: str, level: float = LEVEL, action: dict[str, Any] | None = None,
         severity: str = "warning") -> dict[str, Any]:
    return {"id": rule_id, "name": f"BTC above {level:g}",
            "condition": {"type": "price_cross", "params": {"level": level, "direction": "up"}},
            "scope": {"kind": "coin", "value": "BTC"},
            "frequency": {"mode": "once"}, "severity": severity,
            "message": "{coin} crossed {threshold} at {price:,.2f}", "action": action}


def open_copilot(qtbot, window):  # type: ignore[no-untyped-def]
    """Click the Copilot tab and wait for it to read the engine."""
    bar = window.modes.tabBar()
    index = window.modes.indexOf(window.copilot)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(lambda: window.copilot.loaded, timeout=WAIT_MS)
    return window.copilot


def replay(qtbot, window, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Choose CSV files, type the file, replay it as fast as possible to its end."""
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, f"BTC={path}")
    retype(qtbot, window.speed_edit, "max")
    press_start(qtbot, window)
    qtbot.waitUntil(lambda: window.engine.status == "finished", timeout=WAIT_MS)


def rows(model, key: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [model.value(r, key) for r in range(model.rowCount())]


def test_a_rule_made_in_the_form_is_refused_with_the_reason_then_saved_and_listed(
        qtbot, window):
    tab = open_copilot(qtbot, window)
    click(qtbot, tab.new_button)
    qtbot.waitUntil(lambda: bool(tab.dialogs) and tab.dialogs[-1].isVisible(), timeout=WAIT_MS)
    dialog = tab.dialogs[-1]
    retype(qtbot, dialog.name_edit, "BTC above 70k")
    choose(qtbot, dialog.type_box, "price: price_cr")
    retype(qtbot, dialog.editors["level"], "0")
    retype(qtbot, dialog.message_edit, "{coin} at {prise}")
    assert dialog.message_error.isVisible()  # the template is checked as it is typed
    assert "{prise}" in dialog.message_error.text()
    retype(qtbot, dialog.message_edit, "{coin} crossed {threshold} at {price:,.2f}")
    assert not dialog.message_error.isVisible()
    click(qtbot, dialog.save_button)
    # the engine refuses a level of 0; the dialog says why and stays open
    assert dialog.isVisible()
    assert "level must be above 0" in dialog.error.text()
    assert window.engine.copilot_rules() == []

    retype(qtbot, dialog.editors["level"], "70000")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    saved = window.engine.copilot_rules()
    assert [r["name"] for r in saved] == ["BTC above 70k"]
    assert saved[0]["condition"]["params"]["level"] == 70000
    assert saved[0]["scope"] == {"kind": "coin", "value": "BTC"}
    qtbot.waitUntil(lambda: rows(tab.rules_model, "name") == ["BTC above 70k"],
                    timeout=WAIT_MS)
    assert "level=70,000" in tab.rules_model.value(0, "condition")


def test_a_replay_crossing_the_level_lists_the_alert_and_shows_a_toast_that_opens_it(
        qtbot, any_window, tmp_path):
    window = any_window  # the engine in the window's process, and hosted in its own
    window.engine.save_copilot_rule(rule("btc-110"))
    path = write_rising_bars(tmp_path / "BTCUSDT-1m.csv")
    replay(qtbot, window, path)  # the Live tab is shown: the Copilot tab is not
    tab = window.copilot
    qtbot.waitUntil(lambda: tab.alerts_model.rowCount() == 1, timeout=WAIT_MS)
    message = tab.alerts_model.value(0, "message")
    assert message.startswith("BTC crossed 110")
    assert tab.alerts_model.value(0, "severity") == "warning"
    toasts = window.toasts.visible()
    assert len(toasts) == 1 and message in toasts[0].text.text()
    assert window.alerts_badge.isVisible() and window.alerts_badge.text() == "1"

    qtbot.mouseClick(toasts[0], Qt.MouseButton.LeftButton)
    assert window.modes.currentWidget() is tab
    assert tab.selected_alert()["message"] == message
    assert not window.alerts_badge.isVisible()  # seen
    click(qtbot, tab.ack_button)
    qtbot.waitUntil(lambda: tab.alerts_model.value(0, "acknowledged") == "✔",
                    timeout=WAIT_MS)
    assert window.engine.copilot_alerts()[0]["acknowledged"]


def test_a_pending_action_confirmed_pauses_the_strategy_and_a_rejected_one_is_recorded(
        qtbot, window, tmp_path):
    from velocitas_desktop.core.strategy import StrategySpec

    window.engine.register(StrategySpec("SMA_Crossover", "BTC", {}, "1m"))
    sid = window.engine.strategies()[0]["strategy_id"]
    window.engine.save_copilot_rule(rule("pause-110", 110, {
        "type": "pause_strategy", "params": {"strategy_id": sid}, "auto": False}))
    window.engine.save_copilot_rule(rule("close-120", 120, {
        "type": "close_position", "params": {"strategy_id": sid}, "auto": False}))
    replay(qtbot, window, write_rising_bars(tmp_path / "BTCUSDT-1m.csv"))
    tab = open_copilot(qtbot, window)
    qtbot.waitUntil(lambda: tab.pending_model.rowCount() == 2, timeout=WAIT_MS)
    assert "110" in " ".join(rows(tab.pending_model, "reason"))

    pause_row = rows(tab.pending_model, "type").index("pause_strategy")
    click_row(qtbot, tab.pending_view, pause_row)
    click(qtbot, tab.confirm_button)
    qtbot.waitUntil(lambda: window.engine.strategy(sid)["status"] == "paused",
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tab.pending_model.rowCount() == 1, timeout=WAIT_MS)
    click_row(qtbot, tab.pending_view, 0)
    click(qtbot, tab.reject_button)
    qtbot.waitUntil(lambda: tab.pending_model.rowCount() == 0, timeout=WAIT_MS)

    decided = {a["type"]: a for a in window.engine.copilot_actions()}
    assert decided["pause_strategy"]["status"] == "executed"
    assert decided["close_position"]["status"] == "rejected"
    assert {a["decided_by"] for a in decided.values()} == {"window"}
    history = dict(zip(rows(tab.actions_model, "type"), rows(tab.actions_model, "status"),
                       strict=True))
    assert history == {"pause_strategy": "executed", "close_position": "rejected"}


def test_rules_exported_to_a_file_come_back_whole_when_imported(qtbot, window, tmp_path,
                                                                   monkeypatch):
    engine = window.engine
    engine.save_copilot_rule(rule("btc-110"))
    engine.save_copilot_rule(rule("btc-120", 120, {"type": "pause_all", "params": {},
                                                   "auto": True}, "critical"))
    before = {r["id"]: r for r in engine.copilot_rules()}
    tab = open_copilot(qtbot, window)
    qtbot.waitUntil(lambda: tab.rules_model.rowCount() == 2, timeout=WAIT_MS)
    target = tmp_path / "my-rules.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    click(qtbot, tab.export_button)
    qtbot.waitUntil(lambda: "Exported 2 rules" in tab.message.text(), timeout=WAIT_MS)
    assert {r["id"] for r in _rules_in(target)} == {"btc-110", "btc-120"}

    for _ in range(2):
        click_row(qtbot, tab.rules_view, 0)
        count = tab.rules_model.rowCount()
        click(qtbot, tab.delete_button)
        qtbot.waitUntil(lambda c=count: tab.rules_model.rowCount() == c - 1, timeout=WAIT_MS)
    assert engine.copilot_rules() == []

    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    click(qtbot, tab.import_button)
    qtbot.waitUntil(lambda: tab.rules_model.rowCount() == 2, timeout=WAIT_MS)
    keep = ("name", "enabled", "condition", "scope", "frequency", "expires", "severity",
            "message", "action")
    after = {r["id"]: r for r in engine.copilot_rules()}
    assert {i: {k: r[k] for k in keep} for i, r in after.items()} == \
        {i: {k: r[k] for k in keep} for i, r in before.items()}

    # a file with one bad rule adds none, and says which
    bad = tmp_path / "bad-rules.json"
    bad.write_text(json.dumps({"rules": [rule("fine-1", 130),
                                         {**rule("broken", 140), "severity": "loud"}]}))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(bad), "")))
    click(qtbot, tab.import_button)
    qtbot.waitUntil(lambda: "Nothing imported" in tab.message.text(), timeout=WAIT_MS)
    assert "broken" in tab.message.text() and "severity" in tab.message.text()
    assert len(engine.copilot_rules()) == 2


def _rules_in(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return data["rules"] if isinstance(data, dict) else data


def test_the_tray_is_told_of_alerts_while_the_window_is_minimised(qtbot, window, tmp_path,
                                                                  monkeypatch):
    told: list[tuple[str, str]] = []
    monkeypatch.setattr(window.tray, "notify",
                        lambda title, text, severity="info": told.append((title, text)))
    window.engine.save_copilot_rule(rule("btc-110", severity="critical"))
    path = write_rising_bars(tmp_path / "BTCUSDT-1m.csv")
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, f"BTC={path}")
    retype(qtbot, window.speed_edit, "max")
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized, timeout=WAIT_MS)
    window.start_engine()
    qtbot.waitUntil(lambda: bool(told), timeout=WAIT_MS)
    title, text = told[0]
    assert title == "CRITICAL · BTC above 110"
    assert text.startswith("BTC crossed 110")
    assert window.toasts.visible() == []  # nobody is looking at the window
    assert window.alerts_badge.text() == "1"  # the tab's badge waits for the trader
    assert "#ef5350" in window.alerts_badge.styleSheet()  # red: a critical alert


def edit_the_only_rule(qtbot, window):  # type: ignore[no-untyped-def]
    """Open the Copilot tab, choose its one rule and press Edit: the tab and the form."""
    tab = open_copilot(qtbot, window)
    qtbot.waitUntil(lambda: tab.rules_model.rowCount() == 1, timeout=WAIT_MS)
    click_row(qtbot, tab.rules_view, 0)
    click(qtbot, tab.edit_button)
    qtbot.waitUntil(lambda: bool(tab.dialogs) and tab.dialogs[-1].isVisible(), timeout=WAIT_MS)
    return tab, tab.dialogs[-1]


def test_a_rule_edited_in_the_form_keeps_its_id_and_changes_in_the_engine(qtbot, window):
    window.engine.save_copilot_rule(rule("btc-110"))
    tab, dialog = edit_the_only_rule(qtbot, window)
    # the form shows the rule as saved
    assert dialog.name_edit.text() == "BTC above 110"
    assert dialog.editors["level"].text() == "110"
    assert dialog.mode_box.currentData() == "once"
    retype(qtbot, dialog.editors["level"], "125.5")
    choose(qtbot, dialog.severity_box, "critical")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    [saved] = window.engine.copilot_rules()
    assert saved["id"] == "btc-110" and saved["severity"] == "critical"
    assert saved["condition"]["params"]["level"] == 125.5
    qtbot.waitUntil(lambda: tab.rules_model.value(0, "severity") == "critical",
                    timeout=WAIT_MS)

    click(qtbot, tab.disable_button)
    qtbot.waitUntil(lambda: tab.rules_model.value(0, "on") == "—", timeout=WAIT_MS)
    assert not window.engine.copilot_rules()[0]["enabled"]


def test_rules_changed_in_another_view_show_in_the_open_tab_at_once(qtbot, any_window):
    """The browser or a script changes the rules through the engine; the tab, open all along
    and never shown again, lists them as they are now (the engine here, or in its own process
    as the app runs it)."""
    window = any_window
    tab = open_copilot(qtbot, window)
    assert rows(tab.rules_model, "id") == []
    engine = window.engine  # what the server's routes call
    engine.save_copilot_rule(rule("from-browser", 120))
    qtbot.waitUntil(lambda: rows(tab.rules_model, "id") == ["from-browser"], timeout=WAIT_MS)
    engine.enable_copilot_rule("from-browser", False)
    qtbot.waitUntil(lambda: rows(tab.rules_model, "on") == ["—"], timeout=WAIT_MS)
    engine.import_copilot_rules([rule("script-1", 130), rule("script-2", 140)], replace=True)
    qtbot.waitUntil(lambda: rows(tab.rules_model, "id") == ["script-1", "script-2"],
                    timeout=WAIT_MS)
    engine.delete_copilot_rule("script-1")
    qtbot.waitUntil(lambda: rows(tab.rules_model, "id") == ["script-2"], timeout=WAIT_MS)


def test_an_alert_acknowledged_in_another_view_shows_seen_and_leaves_the_badge(
        qtbot, window, tmp_path):
    window.engine.save_copilot_rule(rule("btc-110", 110))
    replay(qtbot, window, write_rising_bars(tmp_path / "BTCUSDT-1m.csv"))
    qtbot.waitUntil(lambda: len(window.unread_alerts) == 1, timeout=WAIT_MS)
    assert window.alerts_badge.isVisible() and window.alerts_badge.text() == "1"
    (alert,) = window.engine.copilot_alerts()
    window.engine.acknowledge_alert(alert["id"])  # the browser's Acknowledge, say
    qtbot.waitUntil(lambda: not window.unread_alerts, timeout=WAIT_MS)
    assert not window.alerts_badge.isVisible()
    tab = open_copilot(qtbot, window)
    qtbot.waitUntil(lambda: rows(tab.alerts_model, "acknowledged") == ["✔"], timeout=WAIT_MS)


def test_the_daily_loss_guard_and_a_webhook_set_in_the_settings_page(qtbot, window):
    tab = open_copilot(qtbot, window)
    tab.pages.setCurrentWidget(tab.settings_panel)
    panel = tab.settings_panel
    panel.guard_box.click()
    retype(qtbot, panel.guard_percent, "3")
    click(qtbot, panel.add_hook)
    panel.webhooks.item(0, 0).setText("discord.example/hook")  # no scheme: refused
    panel.webhooks.cellWidget(0, 1).setCurrentText("discord")
    click(qtbot, panel.apply_button)
    qtbot.waitUntil(lambda: "Not applied" in panel.message.text(), timeout=WAIT_MS)
    assert "webhooks[0].url" in panel.message.text()
    assert window.engine.copilot_settings()["webhooks"] == []

    panel.webhooks.item(0, 0).setText("http://127.0.0.1:9/hook")
    click(qtbot, panel.apply_button)
    qtbot.waitUntil(lambda: panel.message.text() == "Applied.", timeout=WAIT_MS)
    settings = window.engine.copilot_settings()
    assert settings["daily_loss"]["enabled"] and settings["daily_loss"]["percent"] == 3
    assert [(h["url"], h["format"]) for h in settings["webhooks"]] == [
        ("http://127.0.0.1:9/hook", "discord")]
    # the guard is a rule of its own, listed with the others
    qtbot.waitUntil(lambda: "daily_loss" in " ".join(rows(tab.rules_model, "condition")),
                    timeout=WAIT_MS)


@pytest.mark.slow
def test_send_test_posts_the_chosen_webhook_a_test_message_and_says_what_came_of_it(
        qtbot, window):
    """As written in the form, before Apply: a trader checks the URL first."""
    from fakes.webhook_receiver import Answer, Receiver

    tab = open_copilot(qtbot, window)
    tab.pages.setCurrentWidget(tab.settings_panel)
    panel = tab.settings_panel
    click(qtbot, panel.test_hook)  # no webhook yet
    assert panel.message.text() == "Choose the webhook to send a test message to."
    with Receiver(answers=[Answer(), Answer(status=401)]) as receiver:
        click(qtbot, panel.add_hook)
        panel.webhooks.item(0, 0).setText(f"{receiver.url}/slack")
        panel.webhooks.cellWidget(0, 1).setCurrentText("slack")
        click(qtbot, panel.test_hook)
        qtbot.waitUntil(lambda: panel.test_hook.isEnabled(), timeout=WAIT_MS)
        assert panel.message.text().startswith(
            f"Test message delivered to {receiver.url}/slack (slack, ")
        (got,) = receiver.received
        assert got.path == "/slack" and "test message from Velocitas" in got.body["text"]
        click(qtbot, panel.test_hook)
        qtbot.waitUntil(lambda: panel.test_hook.isEnabled(), timeout=WAIT_MS)
        assert panel.message.text() == (f"Test message not delivered to {receiver.url}/slack: "
                                        "HTTP 401: ok")
        assert panel.message.property("error") is True
    panel.webhooks.cellWidget(0, 1).setCurrentText("telegram")  # and no chat id
    click(qtbot, panel.test_hook)
    qtbot.waitUntil(lambda: panel.test_hook.isEnabled(), timeout=WAIT_MS)
    assert panel.message.text().startswith("No test message sent: webhook.chat_id: a telegram "
                                           "webhook needs the chat id")
    assert window.engine.copilot_settings()["webhooks"] == []  # nothing was applied
    assert window.engine.copilot_deliveries() == []            # nor recorded


def test_the_decisions_export_to_csv_as_history_lists_them(qtbot, window, tmp_path,
                                                         monkeypatch):
    import csv

    window.engine.save_copilot_rule(rule("pause-all-110", 110, {
        "type": "pause_all", "params": {}, "auto": False}))
    replay(qtbot, window, write_rising_bars(tmp_path / "BTCUSDT-1m.csv"))
    tab = open_copilot(qtbot, window)
    qtbot.waitUntil(lambda: tab.pending_model.rowCount() == 1, timeout=WAIT_MS)
    click_row(qtbot, tab.pending_view, 0)
    click(qtbot, tab.reject_button)
    qtbot.waitUntil(lambda: rows(tab.actions_model, "status") == ["rejected"],
                    timeout=WAIT_MS)
    tab.pages.setCurrentIndex(1)
    target = tmp_path / "decisions.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    click(qtbot, tab.export_actions_button)
    qtbot.waitUntil(lambda: "Exported 1 actions" in tab.message.text(), timeout=WAIT_MS)
    with target.open() as handle:
        [row] = list(csv.DictReader(handle))
    assert row["Action"] == "pause_all" and row["Status"] == "rejected"
    assert row["Decided by"] == "window" and "110" in row["Reason"]
    assert tab.history_model.rowCount() == 1  # the alert that proposed it


def write_swinging_bars(path: Path, swings: int = 12) -> Path:
    """One-minute bars swinging across LEVEL and back ``swings`` times."""
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(2 * swings + 1):
        close = LEVEL - 1 if i % 2 == 0 else LEVEL + 1
        lines.append(f"{1_700_000_000 + 60 * i},{close},{close},{close},{close},1")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_history_reads_older_alerts_page_by_page_after_a_restart(qtbot, make_window, tmp_path,
                                                                  monkeypatch):
    from velocitas_desktop.gui import copilot_tab

    monkeypatch.setattr(copilot_tab, "LIVE_ALERTS", 5)   # pages small enough to turn
    monkeypatch.setattr(copilot_tab, "HISTORY_PAGE", 5)
    first = make_window()
    first.engine.save_copilot_rule({**rule("swing"), "frequency": {"mode": "every_time",
                                                                   "cooldown_s": 0}})
    replay(qtbot, first, write_swinging_bars(tmp_path / "BTCUSDT-1m.csv"))
    qtbot.waitUntil(lambda: len(first.engine.copilot_alerts()) == 12, timeout=WAIT_MS)
    first.close_without_asking()

    window = make_window()  # the same journal: the alerts are still there
    tab = open_copilot(qtbot, window)
    tab.pages.setCurrentIndex(1)
    assert tab.history_model.rowCount() == 5
    assert tab.alerts_model.rowCount() == 5  # the live list keeps the newest
    for shown in (10, 12):
        click(qtbot, tab.older_button)
        qtbot.waitUntil(lambda n=shown: tab.history_model.rowCount() == n, timeout=WAIT_MS)
    assert not tab.older_button.isEnabled() and "No older alerts" in tab.history_note.text()
    ids = rows(tab.history_model, "id")
    assert ids == sorted(ids, reverse=True) == [a["id"] for a in
                                                window.engine.copilot_alerts(limit=100)]


def tick(qtbot, box) -> None:  # type: ignore[no-untyped-def]
    """Toggle a checkbox from the keyboard, as a person tabbing to it does."""
    assert box.isVisible() and box.isEnabled()
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Space)


def test_a_closing_pause_edited_in_the_form_keeps_close_positions(qtbot, window):
    window.engine.save_copilot_rule(rule("btc-110", action={
        "type": "pause_all", "params": {"close_positions": True}, "auto": True}))
    _, dialog = edit_the_only_rule(qtbot, window)
    assert dialog.close_box.isVisible() and dialog.close_box.isChecked()
    retype(qtbot, dialog.name_edit, "BTC above 110, flatten")  # only the name changes
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    [saved] = window.engine.copilot_rules()
    assert saved["name"] == "BTC above 110, flatten"
    assert saved["action"]["type"] == "pause_all" and saved["action"]["auto"]
    assert saved["action"]["params"]["close_positions"] is True


def test_a_new_pause_all_rule_with_the_box_ticked_closes_the_positions(qtbot, window):
    tab = open_copilot(qtbot, window)
    click(qtbot, tab.new_button)
    qtbot.waitUntil(lambda: bool(tab.dialogs) and tab.dialogs[-1].isVisible(), timeout=WAIT_MS)
    dialog = tab.dialogs[-1]
    assert not dialog.close_box.isVisible()  # no action: nothing to close
    retype(qtbot, dialog.name_edit, "BTC above 70k, flatten")
    choose(qtbot, dialog.type_box, "price: price_cr")
    retype(qtbot, dialog.editors["level"], "70000")
    choose(qtbot, dialog.action_box, "Pause every")
    assert dialog.action_box.currentData() == "pause_all"
    assert not dialog.close_box.isChecked()
    tick(qtbot, dialog.close_box)
    assert dialog.close_box.isChecked()
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    [saved] = window.engine.copilot_rules()
    assert saved["action"]["type"] == "pause_all"
    assert saved["action"]["params"]["close_positions"] is True


def test_the_daily_loss_guard_unticked_to_close_saves_a_pause_only(qtbot, window):
    tab = open_copilot(qtbot, window)
    tab.pages.setCurrentWidget(tab.settings_panel)
    panel = tab.settings_panel
    assert panel.guard_close.isChecked()  # the engine's default: close every position
    panel.guard_box.click()
    retype(qtbot, panel.guard_percent, "3")
    tick(qtbot, panel.guard_close)
    click(qtbot, panel.apply_button)
    qtbot.waitUntil(lambda: panel.message.text() == "Applied.", timeout=WAIT_MS)
    guard = window.engine.copilot_settings()["daily_loss"]
    assert guard["enabled"] and guard["close_positions"] is False
    assert not panel.guard_close.isChecked()  # shown again as the engine has it
    [made] = [r for r in window.engine.copilot_rules()
              if r["condition"]["type"] == "daily_loss"]
    assert made["action"]["params"] == {"close_positions": False}
