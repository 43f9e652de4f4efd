"""The dates a trader sees for a simulated session: real-looking ones, and a clock that says
it is simulated."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

from gui_helpers import WAIT_MS, start_simulated, stop
from PySide6.QtCore import Qt

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.engine.request import SessionRequest, session_config
from velocitas_desktop.store.journal import Journal


def seeded_session(journal: Path) -> int:
    """What ``velocitas run --seed 7 --ticks 20000`` leaves in the journal: its trades."""
    engine = Engine(journal=Journal(journal), restore=False)
    engine.register(StrategySpec("SMA_Crossover", "BTC", {"fast": 2, "slow": 3}))
    engine.start(session_config(SessionRequest(coins=("BTC",), seed=7, rate=None,
                                               ticks=20_000)))
    assert engine.wait(30)
    count = engine.snapshot()["global"]["total_trades"]
    engine.close()
    return count


def test_a_restored_seeded_session_shows_its_2024_dates(qtbot, make_window, tmp_path):
    count = seeded_session(tmp_path / "journal.sqlite3")
    window = make_window()  # opens that journal and restores its last session
    model = window.blotter.model
    qtbot.waitUntil(lambda: model.total_rows == count, timeout=WAIT_MS)
    shown = {model.data(model.index(row, 0), Qt.ItemDataRole.DisplayRole)
             for row in range(model.rowCount())}
    assert shown and all(text.startswith("2024-01-01 00:") for text in shown), sorted(shown)[:3]


def test_the_status_bar_says_the_time_is_simulated_and_how_fast_it_runs(qtbot, any_window):
    window = any_window
    label = window.clock_label
    assert label.text() == ""  # no session yet: no clock to speak of
    start_simulated(qtbot, window, coins="BTC,ETH", rate="max")
    qtbot.waitUntil(lambda: "faster than real time" in label.text(), timeout=WAIT_MS)
    assert label.text().startswith("simulated time ")
    # unseeded at maximum speed: it began two days back, not in 1970 or next week
    shown = calendar.timegm(time.strptime(label.text()[15:31], "%Y-%m-%d %H:%M"))
    assert time.time() - 3 * 86_400 < shown < time.time() + 86_400
    stop(qtbot, window)
    start_simulated(qtbot, window, coins="BTC", rate="2000")
    qtbot.waitUntil(lambda: "real-time pace" in label.text(), timeout=WAIT_MS)
    assert time.strftime("%Y-%m-%d", time.gmtime()) in label.text()
    stop(qtbot, window)
