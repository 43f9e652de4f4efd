"""One count everywhere: the window's KPIs, its blotter and strategies table, the API and the
command line show the same figures for the same moment, each labelled fills or round trips,
and a Sharpe ratio without enough data is "—" with the reason on hover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from gui_helpers import WAIT_MS, add_strategy, choose, click, retype, start_simulated, stop
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QToolTip

from velocitas_desktop.gui.panels import drawdown_text, ratio_text
from velocitas_desktop.paths import sample_data_dir

REPO = Path(__file__).resolve().parents[2]
SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


def kpi(window: Any, key: str) -> str:
    return window.kpis.values[key].text()


def kpi_title(window: Any, key: str) -> str:
    return window.kpis.values[key].parentWidget().findChild(type(window.kpis.values[key]),
                                                             "kpiTitle").text()


def test_the_kpis_and_the_blotter_count_the_same_fills_in_every_frame(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "2", "slow": "3"})
    add_strategy(qtbot, window, "Mom", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    seen: list[tuple[str, int, str]] = []
    # after the window's own slots: what a person sees once the frame is drawn
    window.bridge.metrics.connect(lambda _: seen.append(
        (kpi(window, "total_trades"), window.blotter.fills, window.blotter.count_label.text())))
    start_simulated(qtbot, window, rate="5000")
    qtbot.waitUntil(lambda: len(seen) >= 8 and seen[-1][1] > 100, timeout=WAIT_MS)
    stop(qtbot, window)
    qtbot.waitUntil(lambda: window.blotter.pending == 0, timeout=WAIT_MS)
    assert len({count for _, count, _ in seen}) > 3  # the counts moved while we watched
    for shown, fills, label in seen:
        assert shown == f"{fills:,}" and label == f"{fills:,} fills"
    assert kpi(window, "total_trades") == f"{window.blotter.model.total_rows:,}"


def test_counts_are_labelled_fills_and_round_trips_and_a_young_sharpe_is_a_dash(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "2", "slow": "3"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window, rate="5000")
    qtbot.waitUntil(lambda: window.blotter.fills > 20, timeout=WAIT_MS)
    stop(qtbot, window)
    qtbot.waitUntil(lambda: window.last_metrics.get("global", {}).get("status") == "stopped",
                    timeout=WAIT_MS)
    assert (kpi_title(window, "total_trades"), kpi_title(window, "closed_trades")) == (
        "FILLS", "ROUND TRIPS")
    figures = window.last_metrics["global"]
    assert kpi(window, "closed_trades") == f"{figures['closed_trades']:,}"
    assert figures["total_trades"] >= 2 * figures["closed_trades"] - 1
    # seconds of data are no year: no ratio, and the reason on hover
    assert kpi(window, "sharpe_ratio") == "—"
    assert window.kpis.values["sharpe_ratio"].toolTip() == "needs 30 daily returns, has 1"
    assert kpi(window, "max_drawdown").endswith("%)")

    panel = window.strategies_panel
    header = panel.table.horizontalHeader()
    titles = [panel.model.headerData(i, header.orientation())
              for i in range(panel.model.columnCount())]
    assert {"Fills", "Round trips", "Max DD %", "Sharpe"} <= set(titles)
    column = [c.key for c in panel.model.columns].index("sharpe_ratio")
    assert panel.model.text(0, "sharpe_ratio") == "—"
    cell = panel.table.visualRect(panel.model.index(0, column)).center()
    qtbot.mouseMove(panel.table.viewport(), cell)  # the pause that asks for a tooltip:
    QApplication.sendEvent(panel.table.viewport(), _tooltip_event(panel.table.viewport(), cell))
    qtbot.waitUntil(QToolTip.isVisible, timeout=WAIT_MS)
    assert QToolTip.text() == "needs 30 daily returns, has 1"


def _tooltip_event(widget: Any, where: QPoint) -> Any:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent

    return QHelpEvent(QEvent.Type.ToolTip, where, widget.mapToGlobal(where))


@pytest.mark.slow
def test_the_window_the_api_and_the_command_line_agree_on_a_replay(qtbot, window, tmp_path):
    from velocitas_desktop.server.runner import ServerThread

    for name in ("SMA", "RSI"):
        add_strategy(qtbot, window, name, "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, f"BTC={SAMPLE}")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "finished", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.last_metrics.get("global", {}).get("status") == "finished",
                    timeout=WAIT_MS)

    server = ServerThread(window.engine, port=0)
    server.start()
    try:
        api = httpx.get(server.url + "/api/metrics", timeout=30).json()
    finally:
        server.stop()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "velocitas_desktop", "run", "--source", "csv", "--csv",
         f"BTC={SAMPLE}", "--speed", "max", "--strategy", "SMA_Crossover:BTC", "--strategy",
         "RSI:BTC", "--db", str(tmp_path / "cli.sqlite3"), "--json"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout.splitlines()[-1])

    keys = ("total_trades", "closed_trades", "winning_trades", "net_pnl", "unrealized_pnl",
            "fees", "win_rate", "max_drawdown", "max_drawdown_pct", "sharpe_ratio",
            "capital", "return_pct")
    shown = {k: window.last_metrics["global"][k] for k in keys}
    assert {k: api["global"][k] for k in keys} == shown  # one engine: the very same floats
    # another run batches the same ticks at other boundaries, and the whole account's equity
    # is summed per batch: its drawdown may differ in the last bits, nothing else may
    loose = ("max_drawdown", "max_drawdown_pct")
    assert {k: cli["global"][k] for k in keys if k not in loose} == {
        k: shown[k] for k in keys if k not in loose}
    for k in loose:
        assert cli["global"][k] == pytest.approx(shown[k], rel=1e-12, abs=0.0)
    whole = api["global"]
    assert whole["sharpe_ratio"] is not None  # 208 days of data: a ratio to compare
    assert kpi(window, "total_trades") == f"{whole['total_trades']:,}"
    assert window.blotter.fills == whole["total_trades"]
    assert kpi(window, "closed_trades") == f"{whole['closed_trades']:,}"
    assert kpi(window, "max_drawdown") == drawdown_text(whole)
    assert kpi(window, "sharpe_ratio") == ratio_text(whole["sharpe_ratio"])
    panel = window.strategies_panel
    for row in range(panel.model.rowCount()):
        sid = panel.model.value(row, "strategy_id")
        for source in (api, cli):
            assert panel.model.value(row, "total_trades") == source["strategies"][sid][
                "total_trades"]
            assert panel.model.text(row, "sharpe_ratio") == ratio_text(
                source["strategies"][sid]["sharpe_ratio"])


def test_a_window_that_falls_behind_drops_the_oldest_and_still_counts_every_fill(
        qtbot, window, monkeypatch):
    import time as clock

    from velocitas_desktop.gui import bridge

    monkeypatch.setattr(bridge, "BACKLOG_TRADES", 400)
    monkeypatch.setattr(bridge, "BACKLOG_TICKS", 20_000)
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "2", "slow": "3"})
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window, rate="50000")
    clock.sleep(3)  # the Qt thread is busy elsewhere: nothing is drawn, the engine goes on
    qtbot.waitUntil(lambda: window.blotter.missed > 0, timeout=WAIT_MS)
    stop(qtbot, window)
    qtbot.waitUntil(lambda: window.last_metrics.get("global", {}).get("status") == "stopped"
                    and window.blotter.pending == 0, timeout=WAIT_MS)
    total = window.last_metrics["global"]["total_trades"]
    blotter = window.blotter
    assert blotter.fills == total and kpi(window, "total_trades") == f"{total:,}"
    assert blotter.model.total_rows == total - blotter.missed
    assert blotter.count_label.text() == (
        f"{total:,} fills ({blotter.missed:,} not listed: the window fell behind; all in the "
        "journal)")
    assert "WARNING the window fell behind the engine: " in window.log_panel.toPlainText()
