"""The terminal driven as a trader drives it: clicks and typing on the real window."""

from __future__ import annotations

import csv

import pytest
from gui_helpers import (
    WAIT_MS,
    add_strategy,
    choose,
    click,
    click_row,
    remove_selected,
    retype,
    start_simulated,
    stop,
    table_column,
    table_row,
    type_number,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from velocitas_desktop.gui.candles import INTERVALS


def test_trader_adds_strategies_starts_sees_trades_pauses_and_stops(qtbot, any_window):
    window = any_window
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "5", "slow": "20"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    add_strategy(qtbot, window, "Mom", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    table = window.strategies_panel.table
    assert table_column(table, "strategy_id") == ["BTC_SMA_Crossover", "BTC_Momentum"]
    assert "fast=5, slow=20" in table_column(table, "params")[0]
    assert window.kpis.values["total_trades"].text() == "0"

    start_simulated(qtbot, window)
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() >= 5, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.kpis.values["total_trades"].text() != "0", timeout=WAIT_MS)
    assert window.kpis.values["status"].text() == "RUNNING"
    blotter = window.blotter.model
    newest = table_row(window.blotter.table, 0)
    assert newest["strategy_id"] in ("BTC_SMA_Crossover", "BTC_Momentum")
    assert newest["action"] in ("BUY", "SELL") and newest["coin"] == "BTC"
    assert blotter.value(0, "id") > blotter.value(blotter.rowCount() - 1, "id")  # newest first
    assert window.charts.charts["BTC"].series.close.size > 0  # candles are being built

    click_row(qtbot, table, 0)
    click(qtbot, window.strategies_panel.pause_button)
    qtbot.waitUntil(lambda: table_column(table, "status")[0] == "paused", timeout=WAIT_MS)
    assert window.engine.strategy("BTC_SMA_Crossover")["status"] == "paused"
    assert window.strategies_panel.resume_button.isEnabled()
    # a paused strategy makes no new fills
    paused_count = window.engine.metrics("BTC_SMA_Crossover")["total_trades"]
    qtbot.wait(600)
    assert window.engine.metrics("BTC_SMA_Crossover")["total_trades"] == paused_count

    stop(qtbot, window)
    qtbot.waitUntil(lambda: window.kpis.values["status"].text() in ("STOPPED", "FINISHED"),
                    timeout=WAIT_MS)
    trades = window.engine.metrics("BTC_Momentum")["total_trades"]
    trades += window.engine.metrics("BTC_SMA_Crossover")["total_trades"]
    # every fill reaches the blotter
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == trades, timeout=WAIT_MS)


def test_parameters_that_break_a_rule_are_explained_in_the_form(qtbot, window):
    form = add_strategy(qtbot, window, "SMA", "BTC", {"fast": "50", "slow": "20"})
    qtbot.waitUntil(form.error.isVisible, timeout=WAIT_MS)
    assert "fast (50) must be less than slow (20)" in form.error.text()
    assert form.isVisible()  # the form stays open so the trader can fix it
    assert window.strategies_panel.model.rowCount() == 0
    type_number(qtbot, form.editors["slow"], "80")
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    assert window.engine.strategy("BTC_SMA_Crossover")["params"]["slow"] == 80


def test_a_bad_coin_is_explained_and_a_taken_id_gets_the_next_number(qtbot, window):
    form = add_strategy(qtbot, window, "RSI", "BT-C")
    qtbot.waitUntil(form.error.isVisible, timeout=WAIT_MS)
    assert "not a coin symbol" in form.error.text()
    form.reject()
    add_strategy(qtbot, window, "RSI", "ETH")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    add_strategy(qtbot, window, "RSI", "ETH")  # as Apply to live does: the next free id
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    assert table_column(window.strategies_panel.table, "strategy_id") == ["ETH_RSI", "ETH_RSI_2"]


def test_editing_parameters_while_running_applies_them(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    click_row(qtbot, window.strategies_panel.table, 0)
    click(qtbot, window.strategies_panel.edit_button)
    qtbot.waitUntil(lambda: bool(window.forms), timeout=WAIT_MS)
    form = window.forms[-1]
    assert not form.name_box.isEnabled()  # only the parameters change
    type_number(qtbot, form.editors["fast"], "7")
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: window.engine.strategy("BTC_SMA_Crossover")["params"]["fast"] == 7,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "fast=7" in table_column(window.strategies_panel.table, "params")[0],
                    timeout=WAIT_MS)
    click_row(qtbot, window.strategies_panel.table, 0)
    remove_selected(qtbot, window)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 0, timeout=WAIT_MS)
    stop(qtbot, window)


def test_a_csv_replay_runs_to_the_end(qtbot, window):
    from velocitas_desktop.paths import sample_data_dir

    add_strategy(qtbot, window, "SMA", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, str(sample_data_dir() / "BTCUSD-1h-sample.csv"))
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "finished", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() > 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "finished" in window.banner.text, timeout=WAIT_MS)
    assert window.start_button.isEnabled()


def test_a_failing_strategy_shows_its_error_and_the_others_go_on(qtbot, make_window, tmp_path):
    from velocitas_desktop.catalog import load_catalog

    folder = tmp_path / "my_strategies"
    folder.mkdir()
    (folder / "fragile.py").write_text(
        "from velocitas_desktop.core.strategy import Param, Strategy\n\n"
        "class Fragile(Strategy):\n"
        "    \"\"\"Raises after a few prices.\"\"\"\n"
        "    limit = Param(50, low=1, high=1000)\n\n"
        "    def init(self):\n        self.seen = 0\n\n"
        "    def next(self):\n"
        "        self.seen += 1\n"
        "        if self.seen > self.limit:\n"
        "            raise RuntimeError('division by a zero-volume bar')\n"
        "        return None\n")
    window = make_window(catalog=load_catalog([folder]))
    add_strategy(qtbot, window, "Fragile", "BTC")
    add_strategy(qtbot, window, "SMA", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    table = window.strategies_panel.table
    qtbot.waitUntil(lambda: table_column(table, "status")[0] == "error", timeout=WAIT_MS)
    assert "division by a zero-volume bar" in table_column(table, "error")[0]
    qtbot.waitUntil(lambda: window.engine.metrics("BTC_SMA_Crossover")["total_trades"] > 0,
                    timeout=WAIT_MS)
    assert "failed" in window.log_panel.toPlainText()
    stop(qtbot, window)


def test_blotter_filters_by_strategy_and_coin_and_exports(qtbot, window, tmp_path, monkeypatch):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "3", "slow": "8"})
    add_strategy(qtbot, window, "SMA", "ETH", {"fast": "3", "slow": "8"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    start_simulated(qtbot, window, coins="BTC,ETH")
    blotter = window.blotter
    qtbot.waitUntil(lambda: {"BTC", "ETH"} <= set(table_column(blotter.table, "coin")),
                    timeout=WAIT_MS)
    stop(qtbot, window)
    fills = sum(m["total_trades"] for m in window.engine.snapshot()["strategies"].values())
    qtbot.waitUntil(lambda: blotter.model.total_rows == fills, timeout=WAIT_MS)
    total = blotter.model.rowCount()
    choose(qtbot, blotter.coin_filter, "ETH")
    coins = table_column(blotter.table, "coin")
    assert coins and set(coins) == {"ETH"} and len(coins) < total
    assert blotter.count_label.text() == f"{len(coins):,} of {total:,} fills"
    choose(qtbot, blotter.coin_filter, "All")
    choose(qtbot, blotter.strategy_filter, "BTC_SMA")
    assert set(table_column(blotter.table, "strategy_id")) == {"BTC_SMA_Crossover"}

    target = tmp_path / "exports" / "btc-trades.csv"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "CSV files (*.csv)")))
    click(qtbot, blotter.export_button)
    qtbot.waitUntil(lambda: "exported" in window.banner.text, timeout=WAIT_MS)
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == blotter.model.rowCount()
    assert {r["Strategy"] for r in rows} == {"BTC_SMA_Crossover"}
    ids = [int(r["ID"]) for r in rows]
    assert ids == sorted(ids)  # oldest first in the file
    first = window.engine.trades(strategy_id="BTC_SMA_Crossover", limit=1)[0]
    assert int(rows[0]["ID"]) == first["id"]
    assert float(rows[0]["Price"]) == pytest.approx(first["price"], abs=0.01)  # as shown


def test_every_chart_interval_holds_every_tick_of_the_session(qtbot, window):
    # the simulated market's activity swings (a quiet hour, a quiet minute: a twentieth of
    # the pace and less), so ask a pace that fills several seconds' bars even then
    start_simulated(qtbot, window, rate="50000")
    chart = window.charts.charts["BTC"]
    assert window.charts.interval_box.currentText() == "1m"  # as the strategies decide
    qtbot.waitUntil(lambda: len(chart.book[1.0]) >= 3 and chart.book[1.0].volume.sum() > 3000,
                    timeout=WAIT_MS)
    stop(qtbot, window)
    ticks = window.engine.snapshot()["global"]["ticks_processed"]
    qtbot.waitUntil(lambda: chart.book[60.0].volume.sum() == ticks, timeout=WAIT_MS)
    for name in ("1s", "15s", "1m", "15m", "1h", "1d"):
        choose(qtbot, window.charts.interval_box, name)
        assert chart.series.interval == INTERVALS[name]
        assert chart.series.volume.sum() == ticks, name  # no interval lost a tick


def test_bridge_coalesces_a_flood_of_ticks_into_frames(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "3", "slow": "8"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    events = {"ticks": 0}
    window.engine.subscribe(lambda e: events.__setitem__("ticks", events["ticks"] + (
        e.kind == "ticks")))
    emitted = {"ticks": 0, "trades": 0}
    window.bridge.ticks.connect(lambda _: emitted.__setitem__("ticks", emitted["ticks"] + 1))
    window.bridge.trades.connect(lambda _: emitted.__setitem__("trades", emitted["trades"] + 1))
    frames_before = window.bridge.frames
    start_simulated(qtbot, window, rate="50000")
    # a few seconds alone; on a machine running two suites at once it took over 20
    qtbot.waitUntil(lambda: events["ticks"] > 300, timeout=3 * WAIT_MS)
    stop(qtbot, window)
    qtbot.wait(100)
    frames = window.bridge.frames - frames_before
    # one signal per kind per frame at most, however many engine events came in
    assert emitted["ticks"] <= frames and emitted["trades"] <= frames
    assert emitted["ticks"] < events["ticks"]
    fills = window.engine.metrics("BTC_SMA_Crossover")["total_trades"]
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == fills, timeout=WAIT_MS)


def test_past_trades_come_back_when_the_window_reopens(qtbot, make_window):
    window = make_window()
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "3", "slow": "8"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() > 3, timeout=WAIT_MS)
    stop(qtbot, window)
    count = window.engine.metrics("BTC_SMA_Crossover")["total_trades"]
    qtbot.waitUntil(lambda: window.blotter.model.total_rows == count, timeout=WAIT_MS)
    window.close()
    again = make_window()
    assert table_column(again.strategies_panel.table, "strategy_id") == ["BTC_SMA_Crossover"]
    qtbot.waitUntil(lambda: again.blotter.model.total_rows == count, timeout=WAIT_MS)


def test_shortcut_keys_start_and_stop(qtbot, window):
    retype(qtbot, window.rate_edit, "2000")
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.engine.status == "running" and not window.busy,
                    timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.engine.status == "stopped", timeout=WAIT_MS)
