"""Sessions that go on, and the account, driven as a trader drives the window: a restart with
open positions and Start, the new-session question, the account dock's buttons, and the
questions before removing a strategy that holds a position or closing while running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gui_helpers import (
    WAIT_MS,
    add_strategy,
    answer_close,
    choose,
    click,
    click_row,
    retype,
    start_simulated,
    stop,
    table_column,
)
from PySide6.QtWidgets import QLabel

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.gui.account import NewSessionDialog
from velocitas_desktop.gui.panels import KpiBar
from velocitas_desktop.gui.settings import Settings, save_settings
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.store.journal import Journal

# the figures a restart gives back exactly, as the KPI bar shows them
KPI_FIGURES = ("net_pnl", "unrealized_pnl", "return_pct", "total_trades", "closed_trades",
               "win_rate", "max_drawdown", "fees", "active_strategies", "active_coins")


def a_session_with_open_positions(path: Path) -> dict[str, Any]:
    """A session run before the window opens (simulated BTC and ETH at 20,000 ticks/s), left
    with open positions: what it showed when it ended."""
    engine = Engine(journal=Journal(path))
    for coin in ("BTC", "ETH"):
        engine.register(StrategySpec("SMA_Crossover", coin, {"fast": 2, "slow": 3}))
        engine.register(StrategySpec("RSI", coin, {"period": 3, "oversold": 45,
                                                   "overbought": 55}))
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=20_000, seed=3, max_ticks=20_000))
    assert engine.wait(60)
    shown = {"snapshot": engine.snapshot(), "account": engine.account(),
             "fills": len(engine.trades(limit=10**7)), "session": engine.session_id}
    engine.close()
    assert len(shown["account"]["positions"]) >= 2, "the seed leaves positions open"
    return shown


def kpi_texts(snapshot: dict[str, Any]) -> dict[str, str]:
    bar = KpiBar()
    bar.show_metrics(snapshot["global"])
    return {key: bar.values[key].text() for key in KPI_FIGURES}


def shown_kpis(window: Any) -> dict[str, str]:
    return {key: window.kpis.values[key].text() for key in KPI_FIGURES}


def fills_shown(window: Any) -> int:
    return int(window.kpis.values["total_trades"].text().replace(",", ""))


def test_a_restart_shows_the_session_as_it_ended_and_start_goes_on_with_it(
        qtbot, make_any_window, tmp_path):
    shown = a_session_with_open_positions(tmp_path / "journal.sqlite3")
    save_settings(Settings(workers=2))  # the default for a session of the window's own
    window = make_any_window()
    # the toolbar as the session ran
    assert window.source_box.currentData() == "simulated"
    assert (window.coins_edit.text(), window.rate_edit.text()) == ("BTC,ETH", "20000")
    assert window.workers_box.value() == 0
    # its figures, its open positions, its fills and its P&L chart
    assert shown_kpis(window) == kpi_texts(shown["snapshot"])
    held = [p["strategy_id"] for p in shown["account"]["positions"]]
    assert table_column(window.account_panel.table, "strategy_id") == held
    assert window.account_panel.values["account_value"].text() == \
        f"{shown['account']['account_value']:,.2f}"
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == shown["fills"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(window.pnl_chart.points.get("Total", ([], []))[0]) > 10,
                    timeout=WAIT_MS)
    history = len(window.pnl_chart.points["Total"][0])

    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "running" and not window.busy,
                    timeout=WAIT_MS)
    assert not window.dialogs  # nothing to ask: the session goes on
    assert window.engine.session_id == shown["session"]
    qtbot.waitUntil(lambda: fills_shown(window) > shown["fills"] + 20, timeout=WAIT_MS)
    stop(qtbot, window)
    total = window.engine.snapshot()["global"]["total_trades"]
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == total, timeout=WAIT_MS)
    assert len(window.pnl_chart.points["Total"][0]) > history  # the P&L chart went on


def test_a_new_session_asks_about_the_open_positions_and_closes_them_in_the_last_one(
        qtbot, make_window, tmp_path):
    shown = a_session_with_open_positions(tmp_path / "journal.sqlite3")
    window = make_window()
    click(qtbot, window.new_session_button)
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    dialog = window.dialogs[-1]
    assert isinstance(dialog, NewSessionDialog)
    held = shown["account"]["positions"]
    listed = dialog.findChild(QLabel, "openPositionsText")
    for position in held:
        assert position["strategy_id"] in listed.text()
    assert dialog.close_choice.isChecked()
    for sid in ("BTC_SMA_Crossover", "ETH_SMA_Crossover", "BTC_RSI", "ETH_RSI"):
        window.engine.pause(sid)  # the new session makes no fill of its own
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "running" and not window.busy,
                    timeout=WAIT_MS)
    assert window.engine.session_id == shown["session"] + 1
    qtbot.waitUntil(lambda: window.account_panel.empty.isVisible(), timeout=WAIT_MS)
    assert window.blotter.model.total_rows == 0  # the new session begins flat
    stop(qtbot, window)
    # the last session ends with the closing fills, at its last prices (Journal → Sessions)
    closing = Journal(tmp_path / "journal.sqlite3").trades(shown["session"], limit=-1)
    closing = closing[-len(held):]
    assert {t["strategy_id"] for t in closing} == {p["strategy_id"] for p in held}
    assert {t["position_size"] for t in closing} == {0.0}


def test_a_new_session_can_carry_the_positions_over_at_their_entry_prices(
        qtbot, make_window, tmp_path):
    shown = a_session_with_open_positions(tmp_path / "journal.sqlite3")
    window = make_window()
    for sid in ("BTC_SMA_Crossover", "ETH_SMA_Crossover", "BTC_RSI", "ETH_RSI"):
        window.engine.pause(sid)
    click(qtbot, window.new_session_button)
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    dialog = window.dialogs[-1]
    click(qtbot, dialog.carry_choice)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "running" and not window.busy,
                    timeout=WAIT_MS)
    table = window.account_panel.table
    held = shown["account"]["positions"]
    qtbot.waitUntil(lambda: table_column(table, "origin") == ["last session"] * len(held),
                    timeout=WAIT_MS)
    assert table_column(table, "entry_price") == [p["entry_price"] for p in held]
    assert window.kpis.values["total_trades"].text() == "0"
    stop(qtbot, window)


def test_a_replay_after_a_simulation_says_why_a_new_session_begins_and_can_be_cancelled(
        qtbot, make_window, tmp_path):
    a_session_with_open_positions(tmp_path / "journal.sqlite3")
    window = make_window()
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, str(sample_data_dir() / "BTCUSD-1h-sample.csv"))
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    dialog = window.dialogs[-1]
    text = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "The last session ran on simulated prices, not csv, so a new session begins" in text
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: not window.dialogs, timeout=WAIT_MS)
    assert window.engine.status == "stopped" and window.start_button.isEnabled()


def test_the_account_dock_closes_a_position_flattens_the_rest_and_stops_all_trading(
        qtbot, make_window, tmp_path):
    shown = a_session_with_open_positions(tmp_path / "journal.sqlite3")
    window = make_window()
    panel = window.account_panel
    held = [p["strategy_id"] for p in shown["account"]["positions"]]
    assert not panel.close_button.isEnabled()  # nothing selected yet
    click_row(qtbot, panel.table, 0)
    click(qtbot, panel.close_button)
    qtbot.waitUntil(lambda: table_column(panel.table, "strategy_id") == held[1:],
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == shown["fills"] + 1,
                    timeout=WAIT_MS)
    assert window.blotter.model.value(0, "strategy_id") == held[0]  # the newest fill
    assert fills_shown(window) == shown["fills"] + 1

    click(qtbot, panel.flatten_button)
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    click(qtbot, window.confirm_flatten)
    qtbot.waitUntil(panel.empty.isVisible, timeout=WAIT_MS)
    assert panel.model.rowCount() == 0 and not panel.flatten_button.isEnabled()
    qtbot.waitUntil(lambda: fills_shown(window) == shown["fills"] + len(held), timeout=WAIT_MS)
    assert window.kpis.values["unrealized_pnl"].text() == "0.00"

    assert window.kpis.values["active_strategies"].text() == "4"
    click(qtbot, panel.stop_button)  # one click
    qtbot.waitUntil(lambda: window.kpis.values["active_strategies"].text() == "0",
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: set(table_column(window.strategies_panel.table, "status"))
                    == {"paused"}, timeout=WAIT_MS)
    assert not panel.stop_button.isEnabled()


def test_removing_a_strategy_that_holds_a_position_asks_first_and_closes_it_with_a_fill(
        qtbot, make_window, tmp_path):
    shown = a_session_with_open_positions(tmp_path / "journal.sqlite3")
    window = make_window()
    strategies = window.strategies_panel
    flat = next(s for s in ("BTC_SMA_Crossover", "BTC_RSI", "ETH_SMA_Crossover", "ETH_RSI")
                if s not in {p["strategy_id"] for p in shown["account"]["positions"]})
    click_row(qtbot, strategies.table, table_column(strategies.table, "strategy_id").index(flat))
    click(qtbot, strategies.remove_button)  # no position: removed at once
    qtbot.waitUntil(lambda: flat not in table_column(strategies.table, "strategy_id"),
                    timeout=WAIT_MS)
    assert not window.dialogs
    qtbot.waitUntil(lambda: window.kpis.values["active_strategies"].text() == "3",
                    timeout=WAIT_MS)  # the KPIs follow, though no session runs

    holder = shown["account"]["positions"][0]
    click_row(qtbot, strategies.table,
              table_column(strategies.table, "strategy_id").index(holder["strategy_id"]))
    click(qtbot, strategies.remove_button)
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    question = window.dialogs[-1]
    assert question.objectName() == "removeStrategyDialog"
    assert f"{holder['strategy_id']} holds {holder['current_position']:,.6g}" in question.text()
    click(qtbot, window.confirm_remove)
    qtbot.waitUntil(lambda: holder["strategy_id"] not in table_column(strategies.table,
                                                                      "strategy_id"),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == shown["fills"] + 1,
                    timeout=WAIT_MS)
    assert window.blotter.model.value(0, "strategy_id") == holder["strategy_id"]
    assert window.blotter.model.value(0, "position_size") == 0.0


def test_closing_the_window_while_running_asks_first_unless_told_not_to(qtbot, make_window):
    window = make_window()
    add_strategy(qtbot, window, "RSI", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    window.close()
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    question = window.dialogs[-1]
    assert question.objectName() == "closeWindowDialog"
    assert "Closing the window stops it" in question.text()
    click(qtbot, question.button(question.StandardButton.Cancel))  # changed my mind
    qtbot.waitUntil(lambda: not window.dialogs, timeout=WAIT_MS)
    assert window.isVisible() and window.engine.status == "running"

    window.close()
    answer_close(qtbot, window, dont_ask_again=True)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert window.engine.status == "stopped"

    again = make_window()
    click(qtbot, again.start_button)  # the restored session goes on
    qtbot.waitUntil(lambda: again.engine.status == "running" and not again.busy,
                    timeout=WAIT_MS)
    again.close()  # told not to ask: it closes at once
    assert not again.isVisible() and again.engine.status == "stopped"


def test_a_restart_fills_the_toolbar_as_the_last_replay_ran(qtbot, make_window):
    window = make_window()
    add_strategy(qtbot, window, "RSI", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    sample = str(sample_data_dir() / "BTCUSD-1h-sample.csv")
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, sample)
    retype(qtbot, window.speed_edit, "60")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "running" and not window.busy,
                    timeout=WAIT_MS)
    stop(qtbot, window)
    window.close()

    again = make_window()
    assert again.source_box.currentData() == "csv"
    assert again.csv_edit.text() == f"BTC={sample}"
    assert again.speed_edit.text() == "60"
