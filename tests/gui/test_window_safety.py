"""The terminal answers mistakes and failures in the window, keeps its settings, and shuts down
cleanly: driven with clicks and typing on the real window."""

from __future__ import annotations

import json
import multiprocessing
import threading

import numpy as np
import pytest
from fakes.processes import alive, descendants
from gui_helpers import (
    WAIT_MS,
    add_strategy,
    answer_close,
    choose,
    click,
    retype,
    start_simulated,
    type_number,
)

from velocitas_desktop.engine.engine import EngineConfig
from velocitas_desktop.feeds.base import Feed, FeedError, FeedState, TickBatch


def test_an_unreadable_csv_file_is_explained_in_the_window(qtbot, any_window, tmp_path):
    window = any_window
    bad = tmp_path / "BTCUSD-broken.csv"
    bad.write_text("this is not,a price file\nat all\n")
    choose(qtbot, window.source_box, "CSV")
    # the file field replaces the tick-rate field in the toolbar
    assert window.csv_actions[1].isVisible() and not window.rate_actions[1].isVisible()
    retype(qtbot, window.csv_edit, f"BTC={bad}")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    text = window.banner.text
    assert text.startswith("The data could not be opened:")
    assert str(bad) in text
    assert window.engine.status == "stopped" and window.start_button.isEnabled()

    retype(qtbot, window.csv_edit, f"BTC={tmp_path / 'missing.csv'}")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: "no such file" in window.banner.text, timeout=WAIT_MS)
    assert "Browse" in window.banner.text  # says what to do


def test_bad_toolbar_values_are_explained(qtbot, window):
    retype(qtbot, window.coins_edit, "BTC,E*H")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: "not a coin symbol" in window.banner.text, timeout=WAIT_MS)
    retype(qtbot, window.coins_edit, "BTC")
    retype(qtbot, window.rate_edit, "fast")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: "Ticks/s must be a positive number or max" in window.banner.text,
                    timeout=WAIT_MS)
    assert window.engine.status == "stopped"
    retype(qtbot, window.rate_edit, "2000")
    retype(qtbot, window.workers_box, "99")  # a spin box took the 9 and dropped the next
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: "99 is above the highest number of workers, 64" in window.banner.text,
                    timeout=WAIT_MS)
    assert window.workers_box.text() == "99" and window.engine.status == "stopped"


def test_an_unreachable_exchange_is_explained(qtbot, any_window):
    import socket

    window = any_window
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    retype(qtbot, dialog.rest_url, f"http://127.0.0.1:{port}")
    retype(qtbot, dialog.ws_url, f"ws://127.0.0.1:{port}")
    click(qtbot, dialog.save_button)
    choose(qtbot, window.source_box, "Binance")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    assert "127.0.0.1" in window.banner.text
    assert window.engine.status == "stopped"


class _LostConnection(Feed):
    """A live feed whose connection drops for good after a few batches."""

    name = "test-exchange"

    def stream(self, stop):  # type: ignore[no-untyped-def]
        self.on_status(FeedState.LIVE, "connected")
        for i in range(5):
            yield TickBatch(np.zeros(10, np.int16), np.full(10, 100.0 + i),
                            np.full(10, 1.7e9 + i))
            stop.wait(0.05)
        raise FeedError("the exchange closed the connection and refused to reconnect")


def test_a_feed_that_fails_while_running_is_explained(qtbot, window):
    # started by another view of the engine (the API), as the server would
    window.engine.start(EngineConfig(coins=["BTC"]), feed=_LostConnection(["BTC"]))
    qtbot.waitUntil(lambda: "The data feed failed" in window.banner.text, timeout=WAIT_MS)
    assert "refused to reconnect" in window.banner.text
    assert "press Start again" in window.banner.text
    qtbot.waitUntil(lambda: window.feed_label.text() == "feed: failed", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.start_button.isEnabled(), timeout=WAIT_MS)


def test_settings_and_layout_persist_in_the_config_folder(qtbot, make_window, home,
                                                           cwd_untouched):
    window = make_window()
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    type_number(qtbot, dialog.fee, "0.075")
    choose(qtbot, dialog.theme, "light")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    saved = json.loads((home / "config" / "settings.json").read_text())
    assert saved["fee"] == pytest.approx(0.00075) and saved["theme"] == "light"
    assert window.palette_colours.background == "#ffffff"
    assert window.engine_config().fee == pytest.approx(0.00075)

    window.log_dock.setFloating(False)
    window.pnl_dock.hide()
    window.close()
    assert (home / "config" / "window.ini").exists()
    again = make_window()
    assert again.settings.theme == "light" and again.settings.fee == pytest.approx(0.00075)
    assert not again.pnl_dock.isVisible()  # the layout came back


def test_settings_refuse_a_public_server_without_a_token(qtbot, window):
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    click(qtbot, dialog.server_on)
    retype(qtbot, dialog.host, "0.0.0.0")
    click(qtbot, dialog.save_button)
    assert dialog.isVisible()
    assert "needs an access token" in dialog.error.text()


@pytest.mark.slow
def test_the_embedded_server_serves_the_same_engine(qtbot, any_window):
    import socket

    window = any_window
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    click(qtbot, dialog.server_on)
    type_number(qtbot, dialog.port, str(port))
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: f"127.0.0.1:{port}" in window.server_label.text(), timeout=WAIT_MS)
    add_strategy(qtbot, window, "RSI", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    answer = httpx.get(f"http://127.0.0.1:{port}/api/strategies", timeout=10)
    assert answer.status_code == 200
    assert "BTC_RSI" in answer.text

    # the same port twice: the second window's server says what to change
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    try:
        click(qtbot, window.settings_button)
        dialog = window.settings_dialog
        type_number(qtbot, dialog.port, str(taken))
        click(qtbot, dialog.save_button)
        qtbot.waitUntil(lambda: "already in use" in window.banner.text, timeout=WAIT_MS)
        assert "another port" in window.banner.text
        assert window.banner.text.lower().count("another port") == 1  # said once, not twice
    finally:
        holder.close()


@pytest.mark.slow
def test_closing_the_window_stops_the_engine_and_its_workers(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    type_number(qtbot, window.workers_box, "1")
    start_simulated(qtbot, window)
    assert multiprocessing.active_children()  # the worker process runs
    engine = window.engine
    window.close()  # it asks first: the engine runs
    answer_close(qtbot, window)
    assert engine.status in ("stopped", "finished")
    assert not multiprocessing.active_children()
    assert not [t for t in threading.enumerate() if t.name.startswith("velocitas-")]


@pytest.mark.slow
def test_closing_the_window_ends_the_engine_process_and_its_workers(qtbot, make_window):
    window = make_window(hosted=True)
    add_strategy(qtbot, window, "SMA", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    type_number(qtbot, window.workers_box, "1")
    start_simulated(qtbot, window)
    engine = window.engine
    qtbot.waitUntil(lambda: len(descendants(engine.pid)) >= 1, timeout=WAIT_MS)
    family = [engine.pid, *descendants(engine.pid)]
    window.close()  # it asks first: the engine runs
    answer_close(qtbot, window)
    assert engine.status in ("stopped", "finished")
    assert not any(alive(pid) for pid in family)
    assert not [t for t in threading.enumerate() if t.name.startswith("velocitas-")]


@pytest.mark.slow
def test_a_dead_engine_process_is_explained_and_start_brings_a_new_one(qtbot, make_window):
    import os
    import signal

    window = make_window(hosted=True)
    add_strategy(qtbot, window, "SMA", "BTC")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() > 0, timeout=WAIT_MS)
    os.kill(window.engine.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: "ended unexpectedly" in window.banner.text, timeout=WAIT_MS)
    assert "trades so far are saved" in window.banner.text
    # a metrics frame the process sent before it died, drained after: the table keeps its
    # figures, and no error reaches the Qt loop (on a loaded machine this order happens)
    shown = window.strategies_panel.model.rowCount()
    window.bridge.metrics.emit({**window.last_metrics, "global": {
        **window.last_metrics["global"], "status": "stopped"}})
    assert window.strategies_panel.model.rowCount() == shown
    # Add strategy before Start: the banner says why not, and nothing is raised
    click(qtbot, window.strategies_panel.add_button)
    assert not window.forms and "ended unexpectedly" in window.banner.text
    qtbot.waitUntil(window.start_button.isEnabled, timeout=WAIT_MS)
    start_simulated(qtbot, window)
    qtbot.waitUntil(lambda: window.kpis.values["status"].text() == "RUNNING", timeout=WAIT_MS)
    assert window.engine.alive


def test_an_unexpected_error_is_shown_and_the_window_goes_on(qtbot, window):
    import sys

    from PySide6.QtWidgets import QMessageBox

    from velocitas_desktop.gui.app import install_excepthook

    previous = sys.excepthook
    install_excepthook(window)
    try:
        try:
            raise ZeroDivisionError("a bug in a panel")
        except ZeroDivisionError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook = previous
    dialog = window.findChild(QMessageBox, "crashDialog")
    assert dialog.isVisible() and "a bug in a panel" in dialog.text()
    assert "ZeroDivisionError" in dialog.detailedText()
    assert window.isVisible()
    click(qtbot, window.strategies_panel.add_button)  # still answers
    qtbot.waitUntil(lambda: bool(window.forms), timeout=WAIT_MS)


@pytest.mark.slow
def test_the_demo_command_saves_a_screenshot_and_exits_0(tmp_path):
    import os
    import subprocess
    import sys

    from PySide6.QtGui import QImage

    shot = tmp_path / "out.png"
    env = {**os.environ, "VELOCITAS_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "velocitas_desktop", "gui", "--demo",
                           "--screenshot", str(shot), "--quit-after", "3"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1600, 960)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out.png"]
    assert (tmp_path / "home" / "data" / "journal.sqlite3").exists()
