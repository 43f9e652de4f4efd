"""The strategy form and the settings as a trader fills them: a value out of range is refused
with its reason at the field and kept as typed, never replaced by another."""

from __future__ import annotations

import json
from pathlib import Path

from gui_helpers import (
    WAIT_MS,
    add_strategy,
    choose,
    click,
    click_row,
    retype,
    start_simulated,
    table_column,
    type_number,
)
from PySide6.QtCore import Qt


def open_settings(qtbot, window):  # type: ignore[no-untyped-def]
    click(qtbot, window.settings_button)
    qtbot.waitUntil(lambda: window.settings_dialog is not None
                    and window.settings_dialog.isVisible(), timeout=WAIT_MS)
    return window.settings_dialog


def test_a_period_below_its_lowest_is_refused_with_the_reason_and_kept_as_typed(qtbot, window):
    form = add_strategy(qtbot, window, "RSI", "BTC", {"period": "1"})
    period = form.editors["period"]
    assert form.isVisible()  # refused: the form stays open
    assert period.text() == "1"  # what was typed stays, nothing silently put in its place
    assert period.message.isVisible()
    assert period.message.text() == "1 is below the lowest period, 2"
    assert "1 is below the lowest period, 2" in form.error.text()
    assert window.engine.strategies() == []

    type_number(qtbot, period, "14")  # corrected: both messages go at once
    assert not period.message.isVisible() and not form.error.isVisible()
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    assert window.engine.strategy("BTC_RSI")["params"]["period"] == 14


def test_letters_and_half_numbers_are_refused_where_a_whole_number_goes(qtbot, window):
    form = add_strategy(qtbot, window, "SMA", "BTC", {"fast": "7.5"})
    assert form.editors["fast"].message.text() == "the fast is a whole number, not 7.5"
    type_number(qtbot, form.editors["fast"], "ten")
    click(qtbot, form.ok_button)
    assert form.editors["fast"].message.text() == "the fast is a number, not “ten”"
    assert window.engine.strategies() == []


def test_the_quantity_reads_as_a_trader_types_it(qtbot, window):
    form = add_strategy(qtbot, window, "Momentum", "BTC", {"quantity": "0.25"}, press_ok=False)
    # as declared, without trailing zeros or ten decimals
    assert (form.editors["period"].text(), form.editors["threshold"].text()) == ("20", "0")
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    click_row(qtbot, window.strategies_panel.table, 0)
    click(qtbot, window.strategies_panel.edit_button)
    qtbot.waitUntil(lambda: len(window.forms) == 1, timeout=WAIT_MS)
    assert window.forms[-1].editors["quantity"].text() == "0.25"


def test_an_id_with_spaces_is_refused_with_one_that_would_do(qtbot, window):
    form = add_strategy(qtbot, window, "SMA", "BTC", press_ok=False)
    retype(qtbot, form.id_edit, "BTC SMA tick")
    click(qtbot, form.ok_button)
    assert form.isVisible()
    assert "the id 'BTC SMA tick' cannot be used" in form.error.text()
    assert "e.g. BTC_SMA_tick" in form.error.text()
    retype(qtbot, form.id_edit, "BTC_SMA_tick")
    assert not form.error.isVisible()
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    assert table_column(window.strategies_panel.table, "strategy_id") == ["BTC_SMA_tick"]


def test_a_taken_id_typed_by_hand_is_refused_with_the_free_one_named(qtbot, window):
    add_strategy(qtbot, window, "RSI", "ETH")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    form = add_strategy(qtbot, window, "RSI", "ETH", press_ok=False)
    retype(qtbot, form.id_edit, "ETH_RSI")
    click(qtbot, form.ok_button)
    assert form.isVisible()
    assert ("a strategy with id ETH_RSI is already registered: type another id, or leave the "
            "id empty for ETH_RSI_2") in form.error.text()
    assert "running" not in form.error.text()  # the engine is stopped: it is only registered


def test_a_coin_the_feed_does_not_carry_is_warned_in_the_form(qtbot, window):
    retype(qtbot, window.coins_edit, "BTC,ETH")
    form = add_strategy(qtbot, window, "RSI", "SOL", press_ok=False)
    assert form.coin_note.isVisible()
    assert form.coin_note.text().startswith("The session's feed carries BTC, ETH: SOL will "
                                            "not trade")
    choose(qtbot, form.coin_box, "ETH")
    assert not form.coin_note.isVisible()
    choose(qtbot, form.coin_box, "SOL")
    click(qtbot, form.ok_button)  # a warning, not a refusal: the trader may add SOL later
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)


def test_the_form_grows_with_its_message_instead_of_squeezing_its_fields(qtbot, window):
    form = add_strategy(qtbot, window, "MACD", "BTC", press_ok=False)  # the longest form
    qtbot.waitExposed(form)
    description, id_field = form.description.height(), form.id_edit.height()
    height = form.height()
    # a message of several lines: the id is quoted back, with one that would do
    retype(qtbot, form.id_edit, "my BTC trend follower for the slow hours of the weekend book")
    click(qtbot, form.ok_button)
    qtbot.waitUntil(form.error.isVisible, timeout=WAIT_MS)
    qtbot.wait(50)
    assert form.error.text().count(" ") > 40
    assert form.height() > height
    assert (form.description.height(), form.id_edit.height()) == (description, id_field)
    error = form.error
    assert error.height() >= error.heightForWidth(error.width())  # every line of it shows


def test_a_strategys_timeframe_changes_in_the_edit_form_keeping_its_position(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "2", "slow": "3"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    engine, sid = window.engine, "BTC_SMA_Crossover"

    def position() -> float:
        return engine.snapshot()["strategies"][sid]["current_position"]

    click_row(qtbot, window.strategies_panel.table, 0)
    for _ in range(100):  # pause it while it holds a position
        qtbot.waitUntil(lambda: position() != 0, timeout=WAIT_MS)
        qtbot.waitUntil(window.strategies_panel.pause_button.isEnabled, timeout=WAIT_MS)
        click(qtbot, window.strategies_panel.pause_button)
        qtbot.waitUntil(lambda: engine.strategy(sid)["status"] == "paused", timeout=WAIT_MS)
        if position() != 0:
            break
        qtbot.waitUntil(window.strategies_panel.resume_button.isEnabled, timeout=WAIT_MS)
        click(qtbot, window.strategies_panel.resume_button)
    held = position()
    assert held != 0

    click(qtbot, window.strategies_panel.edit_button)
    qtbot.waitUntil(lambda: bool(window.forms), timeout=WAIT_MS)
    form = window.forms[-1]
    assert form.timeframe_box.isEnabled() and not form.coin_box.isEnabled()
    choose(qtbot, form.timeframe_box, "5m")
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: engine.strategy(sid)["timeframe"] == "5m", timeout=WAIT_MS)
    assert position() == held  # not removed and added again: the position is still there
    assert table_column(window.strategies_panel.table, "strategy_id") == [sid]
    qtbot.waitUntil(lambda: "it now decides on 5m bars" in window.log_panel.toPlainText(),
                    timeout=WAIT_MS)


def test_settings_refuse_numbers_out_of_range_with_the_reason_at_the_field(qtbot, window,
                                                                          home: Path):
    dialog = open_settings(qtbot, window)
    type_number(qtbot, dialog.port, "99999")
    type_number(qtbot, dialog.slippage, "75")
    click(qtbot, dialog.save_button)
    assert dialog.isVisible()
    assert dialog.port.text() == "99999" and dialog.slippage.text() == "75"  # kept, not cut
    assert dialog.port.message.text() == "99999 is above the highest port, 65535"
    assert dialog.slippage.message.text() == "75 is above the highest slippage, 10"
    assert dialog.error.text().startswith("Please fix: ")

    type_number(qtbot, dialog.port, "8123")
    assert not dialog.port.message.isVisible()  # corrected: its message goes
    type_number(qtbot, dialog.slippage, "7")  # possible, but not what an exchange charges
    assert dialog.slippage.message.isVisible() and dialog.slippage.message.property("warning")
    assert "7 % is an unusual slippage" in dialog.slippage.message.text()
    assert not dialog.error.isVisible()
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    saved = json.loads((home / "config" / "settings.json").read_text(encoding="utf-8"))
    assert (saved["server_port"], saved["slippage"]) == (8123, 0.07)


def test_the_data_folder_must_exist(qtbot, window, tmp_path: Path):
    dialog = open_settings(qtbot, window)
    missing = tmp_path / "no such folder"
    retype(qtbot, dialog.data_folder, str(missing))
    click(qtbot, dialog.save_button)
    assert dialog.isVisible()
    assert f"data folder {missing} does not exist" in dialog.error.text()
    missing.mkdir()
    retype(qtbot, dialog.data_folder, str(missing))
    assert not dialog.error.isVisible()
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert window.settings.csv_folder == missing


def test_up_and_down_step_a_number_within_its_bounds(qtbot, window):
    dialog = open_settings(qtbot, window)
    type_number(qtbot, dialog.port, "65534")
    for _ in range(3):
        qtbot.keyClick(dialog.port, Qt.Key.Key_Up)
    assert dialog.port.text() == "65535"


def test_browse_opens_at_the_nearest_folder_that_exists(qtbot, window, tmp_path: Path,
                                                        monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from velocitas_desktop.paths import data_dir

    opened: list[str] = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",  # the system's folder picker
                        lambda parent, title, start: opened.append(start) or "")
    dialog = open_settings(qtbot, window)
    browse = next(button for button in dialog.data_folder.parentWidget()
                  .findChildren(QPushButton) if button.text() == "Browse…")
    for typed, start in ((str(tmp_path / "gone" / "deeper"), tmp_path), ("folder", data_dir()),
                         ("", data_dir())):
        retype(qtbot, dialog.data_folder, typed)
        click(qtbot, browse)
        assert opened[-1] == str(start), typed  # never the current directory
