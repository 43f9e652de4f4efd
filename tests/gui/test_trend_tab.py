"""The Trend tab driven as a trader would: a file, timeframes, Analyze, the table, the chart's
levels, the suggestions and Apply on a real engine, and a bad file's dialog."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import click, click_row, retype
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from velocitas_desktop.research.trend import LEVEL_BARS, analyze, load_bars

WAIT_MS = 60_000  # generous: the suggestions backtest on a machine shared by seven people
SAMPLE = "BTCUSD-1h-sample.csv"


@pytest.fixture
def engine(home: Path) -> Iterator[object]:
    from velocitas_desktop.engine.engine import Engine

    engine = Engine()
    yield engine
    engine.close()


def shown_tab(engine, qtbot):  # type: ignore[no-untyped-def]
    """The tab as the window shows it: dark theme, a realistic size, on screen (its file
    being read); the suggestions on this thread (no worker processes to start)."""
    from velocitas_desktop.gui.theme import apply_theme
    from velocitas_desktop.gui.trend_tab import TrendTab

    apply_theme(QApplication.instance(), "dark")
    widget = TrendTab(engine)
    widget.workers = 0
    qtbot.addWidget(widget)
    widget.resize(1600, 960)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def tab(engine, qtbot):  # type: ignore[no-untyped-def]
    """The shown tab with the sample read."""
    widget = shown_tab(engine, qtbot)
    qtbot.waitUntil(lambda: widget.bars is not None, timeout=WAIT_MS)
    yield widget
    widget.shutdown()
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    assert os.listdir(".") == []  # nothing written to the current directory


def tick(qtbot, box, checked: bool) -> None:  # type: ignore[no-untyped-def]
    """Click a checkbox on its indicator until it is as wanted."""
    if box.isChecked() != checked:
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert box.isChecked() == checked


def open_file(qtbot, tab, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Type a file's path in the file box and press Enter."""
    retype(qtbot, tab.file_box.lineEdit(), str(path))
    qtbot.keyClick(tab.file_box.lineEdit(), Qt.Key.Key_Return)


def press_analyze(qtbot, tab) -> None:  # type: ignore[no-untyped-def]
    click(qtbot, tab.analyze_button)
    assert tab.running
    qtbot.waitUntil(lambda: not tab.running, timeout=WAIT_MS)


def timeframes_shown(tab) -> list[str]:  # type: ignore[no-untyped-def]
    return [tab.table_model.value(r, "timeframe") for r in range(tab.table_model.rowCount())]


def write_bars(path: Path, close: np.ndarray, interval: int = 3600) -> Path:
    """A bar file of these closes (each bar opening at the last close)."""
    open_ = np.r_[close[0], close[:-1]]
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(len(close)):
        lines.append(f"{1_600_000_000 + i * interval},{open_[i]:.4f},{high[i]:.4f},"
                     f"{low[i]:.4f},{close[i]:.4f},1")
    path.write_text("\n".join(lines) + "\n")
    return path


def swinging_and_falling(bars: int = 2000) -> np.ndarray:
    """A price that swings ±8% every 60 bars while it drifts down: holding loses, buying the
    lows and selling the highs does not."""
    i = np.arange(bars)
    noise = np.random.default_rng(3).normal(0, 0.002, bars)
    return 10_000 * np.exp(-0.0002 * i + 0.08 * np.sin(2 * np.pi * i / 60) + noise)


def test_the_sample_offers_its_timeframes_and_analyze_fills_the_table_and_summary(qtbot, tab):
    assert tab.file_box.currentText() == SAMPLE
    # the input's own and the coarser ones it divides into; the analyzer's defaults ticked
    assert list(tab.timeframe_boxes) == ["1h", "4h", "1d", "1w"]
    assert tab.chosen_timeframes() == ["1h", "4h", "1d"]
    tick(qtbot, tab.timeframe_boxes["1d"], False)
    tick(qtbot, tab.timeframe_boxes["1w"], True)
    tick(qtbot, tab.suggest_box, False)
    press_analyze(qtbot, tab)

    assert timeframes_shown(tab) == ["1h", "4h", "1w"]
    expected = analyze(load_bars(tab.current_path()), ["1h", "4h", "1w"]).to_json()
    by_name = {f["timeframe"]: f for f in expected["timeframes"]}
    for row, name in enumerate(["1h", "4h"]):
        assert tab.table_model.value(row, "direction") == by_name[name]["direction"]
        assert tab.table_model.value(row, "adx") == pytest.approx(by_name[name]["adx"]["adx"])
        assert tab.table_model.value(row, "summary") == by_name[name]["summary"]
        assert by_name[name]["summary"] in tab.summary.text()
    # 5,000 hourly bars make 30 weekly ones: too few, and the row says so
    assert not by_name["1w"]["ok"]
    assert tab.table_model.value(2, "summary") == (by_name["1w"]["summary"]
                                                   or by_name["1w"]["message"])
    assert "Analysed: 5,000 bars, 2 of 3 timeframes" in tab.message.text()
    assert "not asked for" in tab.verdict.text()


def test_the_chart_draws_the_chosen_timeframes_levels_trend_line_and_breakouts(qtbot, tab):
    tick(qtbot, tab.suggest_box, False)
    press_analyze(qtbot, tab)
    click_row(qtbot, tab.table, timeframes_shown(tab).index("4h"))
    assert tab.chart_box.currentText() == "4h"
    frame = tab.frame("4h")
    assert frame is not None and frame["levels"]
    drawn = sorted(line.value() for line in tab.chart.level_lines)
    assert drawn == pytest.approx(sorted(level["price"] for level in frame["levels"]))
    labels = [text for _, text, _ in tab.chart.level_labels.placed()]
    assert f"×{frame['levels'][0]['touches']}" in " ".join(labels)
    centre = tab.chart.trend_curves[0]
    xs, ys = centre.getData()
    assert (xs[0], xs[-1]) == tuple(frame["trend_line"]["time"])
    assert (ys[0], ys[-1]) == pytest.approx(tuple(frame["trend_line"]["price"]))
    assert len(tab.chart.trend_curves) == 3  # the line and its channel's two edges
    marks = tab.chart.breakout_marks
    assert marks is not None and len(marks.data) == len(frame["breakouts"])
    # the 4h bars are charted whole: 5,000 hourly bars make 1,251 four-hour ones
    assert len(tab.chart.bars.time) == frame["bars"]

    def bars_in_view() -> int:
        lo, hi = tab.chart.bars.in_view(*tab.chart.box.viewRange()[0])
        return hi - lo

    assert bars_in_view() == frame["bars"]
    click(qtbot, tab.recent_button)  # the bars the levels were found in
    assert bars_in_view() == pytest.approx(LEVEL_BARS, abs=2)
    click(qtbot, tab.all_button)
    assert bars_in_view() == frame["bars"]


def test_suggestions_list_the_evidence_and_apply_registers_on_the_engine(qtbot, tab, engine,
                                                                          tmp_path):
    open_file(qtbot, tab, write_bars(tmp_path / "swings.csv", swinging_and_falling()))
    qtbot.waitUntil(lambda: tab.bars_path.endswith("swings.csv"), timeout=WAIT_MS)
    tick(qtbot, tab.suggest_box, True)
    press_analyze(qtbot, tab)

    suggestions = tab.analysis.report["suggestions"]
    items = suggestions["items"]
    assert items, suggestions["verdict"]
    assert f"{len(items)} beat holding and cash" in tab.verdict.text()
    assert tab.suggestions_model.rowCount() == len(items) + len(suggestions["rejected"])
    assert tab.suggestions_model.value(0, "strategy") == items[0]["strategy"]
    assert tab.suggestions_model.value(0, "vs_hold") == pytest.approx(
        items[0]["oos_return_pct"] - items[0]["hold_return_pct"])

    assert not tab.apply_button.isEnabled()
    click_row(qtbot, tab.suggestions_view, 0)
    click(qtbot, tab.apply_button)
    dialog = tab.dialogs[-1]
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    retype(qtbot, dialog.coin_box.lineEdit(), "ETH")
    retype(qtbot, dialog.id_edit, "ETH_swings")
    click(qtbot, dialog.register_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)

    registered = engine.strategy("ETH_swings")
    assert registered["name"] == items[0]["strategy"]
    assert registered["coin"] == "ETH"
    assert registered["params"] == items[0]["params"]
    assert registered["timeframe"] == "1h"  # the bars its parameters were tested on
    assert "Registered ETH_swings on ETH (1h)" in tab.applied.text()

    # the same id again: the engine's refusal is written in the dialog, which stays open
    click(qtbot, tab.apply_button)
    again = tab.dialogs[-1]
    qtbot.waitUntil(again.isVisible, timeout=WAIT_MS)
    retype(qtbot, again.id_edit, "ETH_swings")
    click(qtbot, again.register_button)
    assert again.isVisible()
    assert again.message.isVisible()
    assert again.message.text().startswith("Not registered: ")
    assert "ETH_swings" in again.message.text()
    again.reject()


def test_when_nothing_beats_holding_the_verdict_says_so_and_nothing_applies(qtbot, tab,
                                                                            tmp_path):
    rising = 10_000 * np.exp(np.linspace(0, 1.2, 700))  # a steady rise: nothing beats holding
    open_file(qtbot, tab, write_bars(tmp_path / "rising.csv", rising))
    qtbot.waitUntil(lambda: tab.bars_path.endswith("rising.csv"), timeout=WAIT_MS)
    press_analyze(qtbot, tab)
    suggestions = tab.analysis.report["suggestions"]
    assert suggestions["items"] == []
    assert tab.verdict.text() == suggestions["verdict"]
    assert tab.verdict.text().startswith("Nothing beat holding or cash")
    if tab.suggestions_model.rowCount():  # the rejected ones, as evidence
        click_row(qtbot, tab.suggestions_view, 0)
        assert not tab.apply_button.isEnabled()


def test_a_bad_file_is_a_dialog_with_the_reason_not_a_traceback(qtbot, tab, tmp_path):
    bad = tmp_path / "unsorted.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n"
                   "1600003600,10,11,9,10,1\n1600000000,10,11,9,10,1\n1600007200,10,11,9,10,1\n")
    open_file(qtbot, tab, bad)
    qtbot.waitUntil(lambda: bool(tab.dialogs) and tab.dialogs[-1].isVisible(),
                    timeout=WAIT_MS)
    dialog = tab.dialogs[-1]
    assert dialog.windowTitle() == "The bar file could not be read"
    assert "Traceback" not in dialog.text()
    # the reader's own words: the file, the line and what to do
    assert "unsorted.csv line 3" in dialog.text() and "must be sorted" in dialog.text()
    assert "could not be read" in tab.message.text()
    assert tab.bars is None and not tab.timeframe_boxes
    dialog.accept()

    missing = tmp_path / "nowhere.csv"
    open_file(qtbot, tab, missing)
    qtbot.waitUntil(lambda: len(tab.dialogs) == 2 and tab.dialogs[-1].isVisible(),
                    timeout=WAIT_MS)
    assert "no such file" in tab.dialogs[-1].text()
    tab.dialogs[-1].accept()


def test_the_window_has_a_trend_tab_after_optimisation_that_reads_the_sample_when_opened(
        qtbot, window):
    bar = window.modes.tabBar()
    assert [bar.tabText(i) for i in range(bar.count())] == ["Live", "Optimisation", "Trend",
                                                          "Copilot"]
    assert window.trend.bars is None  # nothing read before the tab is opened
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(2).center())
    assert window.modes.currentWidget() is window.trend
    qtbot.waitUntil(lambda: window.trend.bars is not None, timeout=WAIT_MS)
    assert len(window.trend.chart.bars.time) == len(window.trend.bars) == 5000
    assert not window.welcome.isVisible()  # the tab takes the room, as Optimisation does


def open_on_a_live_coin(qtbot, window):  # type: ignore[no-untyped-def]
    """A simulated BTC session at full speed until the engine has a live trend report of it;
    then the Trend tab, clicked open."""
    from gui_helpers import start_simulated

    from velocitas_desktop.core.errors import VelocitasError

    start_simulated(qtbot, window, coins="BTC", rate="max")

    def reported() -> bool:
        try:
            return bool(window.engine.trend("BTC")["timeframes"])
        except VelocitasError:  # no candle closed yet
            return False

    qtbot.waitUntil(reported, timeout=WAIT_MS)
    bar = window.modes.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(2).center())
    return window.trend


def test_a_live_coin_shows_the_engines_own_report_and_its_candles(qtbot, window):
    tab = open_on_a_live_coin(qtbot, window)
    tick(qtbot, tab.live_radio, True)
    assert tab.coin_box.isEnabled() and not tab.file_box.isEnabled()
    assert tab.chosen_timeframes() == ["1m", "15m", "1h", "4h"]  # the engine's, not editable
    assert not tab.timeframe_boxes["1m"].isEnabled()
    retype(qtbot, tab.coin_box.lineEdit(), "BTC")
    tick(qtbot, tab.suggest_box, False)
    press_analyze(qtbot, tab)
    report = tab.analysis.report
    assert report["source"] == "live" and report["coin"] == "BTC"
    assert timeframes_shown(tab) == [f["timeframe"] for f in report["timeframes"]]
    assert timeframes_shown(tab)[0] == "1m"
    # the chart holds the session's one-minute candles (the newest, as the engine keeps them)
    assert tab.chart_box.currentText() == "1m"
    assert 0 < len(tab.chart.bars.time) <= len(window.engine.candles("BTC")["time"])


def test_a_live_coin_is_followed_while_the_engine_runs_keeping_the_view_and_timeframe(
        qtbot, window):
    """As the browser's page: the report is read again while the engine runs; the chosen
    timeframe and a view the trader zoomed to stay; a view at the newest bar moves on with it;
    the session's end stops the reading and says so."""
    from gui_helpers import stop

    tab = open_on_a_live_coin(qtbot, window)
    tick(qtbot, tab.live_radio, True)
    retype(qtbot, tab.coin_box.lineEdit(), "BTC")
    tick(qtbot, tab.suggest_box, False)
    press_analyze(qtbot, tab)
    assert tab.following == "BTC" and tab.follow_timer.isActive()
    assert "Following BTC: read again every 5 s while the engine runs." in tab.message.text()
    tab.follow_timer.setInterval(100)  # the trader's patience is the test's: 5 s in the app

    def last() -> float:
        return float(tab.analysis.report["last"])

    # the chosen timeframe stays
    tab.chart_box.setCurrentText("15m")
    first = last()
    qtbot.waitUntil(lambda: last() > first, timeout=WAIT_MS)
    assert tab.chart_box.currentText() == "15m"
    assert tab.message.text().startswith("Following BTC: ")

    # a view zoomed away from the newest bar stays put
    tab.chart_box.setCurrentText("1m")
    times = tab.chart.bars.time
    assert len(times) > 20
    left, right = float(times[2]), float(times[12])
    tab.chart.show_range(left, right)
    seen = last()
    qtbot.waitUntil(lambda: last() > seen, timeout=WAIT_MS)
    assert tab.chart_box.currentText() == "1m"
    assert tab.chart.box.viewRange()[0] == pytest.approx([left, right])

    # a view that shows the newest bar moves on with the new ones
    tab.chart.show_all()
    edge = float(tab.chart.bars.time[-1])
    seen = last()
    qtbot.waitUntil(lambda: float(tab.chart.bars.time[-1]) > edge and last() > seen,
                    timeout=WAIT_MS)
    assert tab.chart.box.viewRange()[0][1] >= float(tab.chart.bars.time[-1])

    stop(qtbot, window)
    qtbot.waitUntil(lambda: not tab.following, timeout=WAIT_MS)
    assert tab.message.text() == "The session ended: BTC's report is its last."
    assert not tab.follow_timer.isActive()


class HeldRead:
    """The tab's first file read, held until the test lets it go (a slow disk, a busy
    machine): the real ``load_bars`` runs once released. Later reads are not held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import threading

        from velocitas_desktop.gui import trend_tab

        self.release, self.done, self.calls = threading.Event(), threading.Event(), 0
        real = trend_tab.load_bars

        def held(path):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls > 1:
                return real(path)
            try:
                assert self.release.wait(WAIT_MS / 1000)
                return real(path)
            finally:
                self.done.set()

        monkeypatch.setattr(trend_tab, "load_bars", held)

    def let_go(self, qtbot) -> None:  # type: ignore[no-untyped-def]
        """Release the read and let its (late) answer reach the tab."""
        self.release.set()
        qtbot.waitUntil(self.done.is_set, timeout=WAIT_MS)
        qtbot.wait(300)  # the answer is queued to the Qt thread


@pytest.fixture
def held_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldRead]:
    held = HeldRead(monkeypatch)
    yield held
    held.release.set()  # a test that failed early must not leave the read waiting


def test_a_file_read_finishing_after_a_live_analysis_leaves_the_live_chart(
        qtbot, window, held_read):
    """Opening the tab starts reading the sample; a trader who switches to the live coin and
    analyses before that read ends keeps the live report, its candles and its timeframes."""
    from velocitas_desktop.gui.trend_tab import LIVE

    held = held_read
    tab = open_on_a_live_coin(qtbot, window)
    qtbot.waitUntil(lambda: held.calls == 1, timeout=WAIT_MS)  # the sample's read has begun
    tick(qtbot, tab.live_radio, True)
    retype(qtbot, tab.coin_box.lineEdit(), "BTC")
    tick(qtbot, tab.suggest_box, False)
    press_analyze(qtbot, tab)
    live_bars = len(tab.chart.bars.time)
    assert 0 < live_bars <= len(window.engine.candles("BTC")["time"])
    held.let_go(qtbot)
    assert tab.bars_path == LIVE and tab.analysis.report["source"] == "live"
    assert len(tab.chart.bars.time) == live_bars  # not the sample's 5,000 hours
    assert tab.chosen_timeframes() == ["1m", "15m", "1h", "4h"]
    assert not tab.timeframe_boxes["1m"].isEnabled()
    assert "5,000" not in tab.timeframes_note.text()
    assert tab.message.text().startswith("Analysed")


def test_a_file_read_finishing_after_the_files_analysis_leaves_the_analysis(
        qtbot, engine, held_read):
    """Analyze pressed while the file is still being read: the analysis reads it itself, and
    the late read neither wipes the drawn levels nor resets the ticked timeframes."""
    held = held_read
    widget = shown_tab(engine, qtbot)
    qtbot.waitUntil(lambda: held.calls == 1, timeout=WAIT_MS)
    assert widget.bars is None and widget.timeframe_boxes == {}
    tick(qtbot, widget.suggest_box, False)
    press_analyze(qtbot, widget)
    assert timeframes_shown(widget) == ["1h", "4h", "1d"]  # the sample's defaults
    assert widget.chosen_timeframes() == ["1h", "4h", "1d"]
    assert widget.timeframes_note.text().startswith("5,000 bars of 1h")
    tick(qtbot, widget.timeframe_boxes["1w"], True)
    drawn = len(widget.chart.overlays)
    assert drawn > 0
    held.let_go(qtbot)
    assert len(widget.chart.overlays) == drawn  # the analysis is still drawn
    assert widget.chosen_timeframes() == ["1h", "4h", "1d", "1w"]  # the trader's ticks stay
    assert widget.message.text().startswith("Analysed")
    widget.shutdown()


def test_cancel_stops_the_suggestions_and_keeps_the_analysis(qtbot, tab):
    click(qtbot, tab.analyze_button)
    assert tab.progress.maximum() == 0  # busy until the steps are known
    # the analysis is the first step; the suggestions' backtests follow it
    qtbot.waitUntil(lambda: tab.progress.maximum() > 2 and tab.progress.value() >= 1,
                    timeout=WAIT_MS)
    click(qtbot, tab.cancel_button)
    assert "Cancelling" in tab.message.text()
    qtbot.waitUntil(lambda: not tab.running, timeout=WAIT_MS)
    assert tab.message.text().startswith("Cancelled: 5,000 bars, 3 of 3 timeframes")
    assert timeframes_shown(tab) == ["1h", "4h", "1d"]
    assert tab.analyze_button.isEnabled() and not tab.cancel_button.isEnabled()
