"""The price and P&L charts driven as a trader drives them: they never go blank and never lie."""

from __future__ import annotations

import time

import numpy as np
from chart_helpers import SAMPLE, drag, middle_of, point_at, replay_sample, screen_point, wheel
from gui_helpers import WAIT_MS, add_strategy, choose, click, retype, start_simulated, stop
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.gui.plots import price_text
from velocitas_desktop.gui.theme import colours


def test_a_csv_replay_shows_the_files_candles_while_strategies_trade_on_its_closes(
        qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC")
    replay_sample(qtbot, window)
    file = load_ohlcv(SAMPLE)
    charts = window.charts
    choose(qtbot, charts.interval_box, "1h")
    chart = charts.charts["BTC"]
    qtbot.waitUntil(lambda: len(chart.series) == len(file.close), timeout=WAIT_MS)
    series = chart.series
    assert np.array_equal(series.times, file.timestamp)
    for column in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(series, column), getattr(file, column)), column
    # four hours: the first open, the extremes, the last close and the summed volume
    choose(qtbot, charts.interval_box, "4h")
    four = chart.series
    first = np.flatnonzero(np.floor(file.timestamp / 14400) == four.times[1] / 14400)
    assert four.open[1] == file.open[first[0]] and four.close[1] == file.close[first[-1]]
    assert four.high[1] == file.high[first].max() and four.low[1] == file.low[first].min()
    assert four.volume[1] == file.volume[first].sum()
    # shorter than the file's bars: the file's own bars, and the chart says why
    choose(qtbot, charts.interval_box, "1m")
    assert chart.series.interval == 3600.0
    qtbot.waitUntil(lambda: "the file's bars are 1h" in charts.interval_note.text(),
                    timeout=WAIT_MS)
    # the strategy traded on the closes, at the bars' close times, as a backtest does
    fills = window.engine.trades(limit=5)
    assert fills and all(f["timestamp"] in set(file.close_time.tolist()) for f in fills)


def pixels_of(widget, colour: str) -> int:  # type: ignore[no-untyped-def]
    """How many pixels of a colour the widget shows on screen."""
    image = widget.grab().toImage()
    wanted = QColor(colour).rgb() & 0xFFFFFF
    return sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
               if image.pixel(x, y) & 0xFFFFFF == wanted)


def test_the_pnl_chart_draws_each_sessions_own_curves_replay_then_simulation(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "5", "slow": "20"})
    pnl = window.pnl_chart
    replay_sample(qtbot, window)  # 2019, at full speed: one or two snapshots
    history = window.engine.pnl_history(strategy_id="BTC_SMA_Crossover", limit=100_000)
    qtbot.waitUntil(lambda: len(pnl.points.get("BTC_SMA_Crossover", ([], []))[0])
                    == len(history), timeout=WAIT_MS)
    xs = pnl.points["Total"][0]
    box = pnl.plot.getViewBox()
    qtbot.waitUntil(lambda: box.viewRange()[0][0] <= xs[0] and xs[-1] <= box.viewRange()[0][1],
                    timeout=WAIT_MS)  # the whole replay in view once it has repainted
    assert pixels_of(pnl.plot, pnl.palette.total) > 200  # and drawn

    start_simulated(qtbot, window, rate="5000")  # 2026, live
    qtbot.waitUntil(lambda: len(pnl.points.get("Total", ([], []))[0]) > 3, timeout=WAIT_MS)
    stop(qtbot, window)
    qtbot.waitUntil(lambda: len(pnl.points["Total"][0]) > 3, timeout=WAIT_MS)
    qtbot.wait(1_200)  # the next redraw
    xs = pnl.points["Total"][0]
    left, right = pnl.plot.getViewBox().viewRange()[0]
    assert xs[0] > 1.7e9 and left <= xs[-1] and xs[0] <= right  # this session's time, in view
    assert left > 1.6e9  # not the replay's 2019 range any more
    assert pixels_of(pnl.plot, pnl.palette.total) > 50
    assert "BTC_SMA_Crossover" in pnl.legend.text() and "Total" in pnl.legend.text()


def test_after_stop_and_a_failed_start_the_status_bar_and_tabs_show_the_present(
        qtbot, window, tmp_path):
    start_simulated(qtbot, window, coins="BTC,ETH", rate="5000")
    # the measured pace: the simulated market's activity swings around the 5,000 asked
    qtbot.waitUntil(lambda: window.rate_status.text().split(" ticks/s")[0] not in ("", "0"),
                    timeout=WAIT_MS)
    assert window.feed_label.text() == "feed: live"
    stop(qtbot, window)
    qtbot.waitUntil(lambda: window.rate_status.text().startswith("0 ticks/s"), timeout=WAIT_MS)
    assert window.feed_label.text() == "feed: idle"
    replay_sample(qtbot, window)  # BTC only
    assert [window.charts.tabs.tabText(i) for i in range(window.charts.tabs.count())] == ["BTC"]
    bad = tmp_path / "ETHUSD-broken.csv"
    bad.write_text("not,a price file\n")
    retype(qtbot, window.csv_edit, f"ETH={bad}")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: "could not be opened" in window.banner.text, timeout=WAIT_MS)
    assert window.feed_label.text() == "feed: idle"
    assert window.rate_status.text().startswith("0 ticks/s")
    assert [window.charts.tabs.tabText(i) for i in range(window.charts.tabs.count())] == ["ETH"]
    chart = window.charts.charts["ETH"]
    assert chart.empty_note.isVisible() and "No prices yet" in chart.empty_note.text()


def visible(chart):  # type: ignore[no-untyped-def]
    """The lows and highs of the candles in the time range shown."""
    s = chart.series
    left, right = chart.price_pane.box.viewRange()[0]
    inside = (s.times >= left) & (s.times <= right)
    return s.low[inside], s.high[inside]


def test_zoom_and_pan_move_time_and_the_price_scale_fits_the_candles_in_view(qtbot, window):
    replay_sample(qtbot, window)
    choose(qtbot, window.charts.interval_box, "1h")
    chart = window.charts.charts["BTC"]
    box = chart.price_pane.box
    window.charts.redraw()
    lows, highs = visible(chart)
    bottom, top = box.viewRange()[1]
    assert bottom <= lows.min() and highs.max() <= top  # the newest candles, fitted
    wheel(chart, middle_of(chart, chart.price_pane), -6)  # zoom out: more time in view
    left, right = box.viewRange()[0]
    assert right - left > 140 * 3600
    drag(chart, middle_of(chart, chart.price_pane),
         middle_of(chart, chart.price_pane) + QPoint(500, 40))  # a little downwards too
    assert not chart.follow
    moved_left = box.viewRange()[0][0]
    assert moved_left < left  # back in time
    lows, highs = visible(chart)
    bottom, top = box.viewRange()[1]
    assert bottom <= lows.min() and highs.max() <= top  # every candle in view fits
    assert (top - bottom) <= 3.5 * (highs.max() - lows.min())  # and fills the height
    assert window.charts.fit_button.isChecked()
    assert not any(pane.plot.autoBtn.isVisible() for pane in chart.panes)  # no second "auto"

    # Shift+drag moves the price scale by hand: it stays where the trader put it
    drag(chart, middle_of(chart, chart.price_pane),
         middle_of(chart, chart.price_pane) + QPoint(0, 120), Qt.KeyboardModifier.ShiftModifier)
    assert not window.charts.fit_button.isChecked() and not chart.fit_prices
    by_hand = box.viewRange()[1]
    drag(chart, middle_of(chart, chart.price_pane),
         middle_of(chart, chart.price_pane) + QPoint(-300, 0))
    assert box.viewRange()[1] == by_hand
    click(qtbot, window.charts.fit_button)  # fit again
    lows, highs = visible(chart)
    bottom, top = box.viewRange()[1]
    assert bottom <= lows.min() and highs.max() <= top and chart.fit_prices
    click(qtbot, window.charts.follow_button)
    assert chart.follow and box.viewRange()[0][1] >= chart.series.times[-1]


def test_the_crosshair_tags_price_and_time_and_the_legend_stays_on_the_candle(qtbot, window):
    start_simulated(qtbot, window, rate="5000")
    choose(qtbot, window.charts.interval_box, "1s")
    chart = window.charts.charts["BTC"]
    qtbot.waitUntil(lambda: len(chart.series) > 6, timeout=WAIT_MS)
    window.charts.redraw()
    s = chart.series
    old = len(s) - 4
    where = screen_point(chart, chart.price_pane, float(s.times[old]),
                         float(s.close[old]))
    point_at(qtbot, chart, where)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(s.times[old])))
    assert stamp in chart.legend.toPlainText()
    pane = chart.price_pane
    assert pane.value_tag.frame.isVisible() and pane.h_line.isVisible()
    assert pane.value_tag.label.text() == price_text(pane.value_tag.value)
    time_tag = chart.panes[-1].time_tag
    assert time_tag.frame.isVisible()
    assert stamp[11:16] in time_tag.label.text()  # hours and minutes of the hovered candle
    count = len(chart.series)
    qtbot.waitUntil(lambda: len(chart.series) > count + 3, timeout=WAIT_MS)  # > 3 s later
    window.charts.redraw()
    assert stamp in chart.legend.toPlainText()  # still the candle under the mouse
    last = chart.series.close[-1]
    assert chart.last_tag.frame.isVisible()
    assert chart.last_tag.label.text() == price_text(float(last))
    stop(qtbot, window)


def test_the_log_scale_puts_round_prices_on_the_axis(qtbot, window):
    replay_sample(qtbot, window)
    chart = window.charts.charts["BTC"]
    click(qtbot, window.charts.log_button)
    assert chart.log and chart.price_pane.axis.log and chart.candles.log
    window.charts.redraw()
    lows, highs = visible(chart)
    bottom, top = chart.price_pane.box.viewRange()[1]
    assert bottom <= np.log10(lows.min()) and np.log10(highs.max()) <= top
    axis = chart.price_pane.axis
    levels = axis.tickValues(bottom, top, 400)
    labels = axis.tickStrings(levels[0][1], 1.0, levels[0][0])
    assert labels and all("," in label for label in labels)  # prices like 8,200, not 3.91
    click(qtbot, window.charts.log_button)
    assert not chart.log and chart.price_pane.box.viewRange()[1][1] > 1_000


def test_fills_are_arrows_under_and_over_their_candle_one_per_candle(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "3", "slow": "8"})
    replay_sample(qtbot, window)
    choose(qtbot, window.charts.interval_box, "4h")
    chart = window.charts.charts["BTC"]
    window.charts.redraw()
    qtbot.wait(300)
    window.charts.redraw()
    s = chart.series
    buys = chart.buy_markers.getData()
    assert len(buys[0])
    where = np.searchsorted(s.times, buys[0])
    assert np.array_equal(s.times[where], buys[0])  # at a candle's time
    assert np.array_equal(s.low[where], buys[1])  # at its low: the arrow is drawn under it
    assert len(set(buys[0].tolist())) == len(buys[0])  # one arrow per candle
    sells = chart.sell_markers.getData()
    where = np.searchsorted(s.times, sells[0])
    assert np.array_equal(s.high[where], sells[1])


def test_a_restored_session_shows_its_fills_and_pnl_and_says_why_there_are_no_candles(
        qtbot, make_window):
    window = make_window()
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "3", "slow": "8"})
    start_simulated(qtbot, window, rate="5000")
    qtbot.waitUntil(lambda: window.blotter.model.total_rows > 3, timeout=WAIT_MS)
    stop(qtbot, window)
    fills = window.engine.metrics("BTC_SMA_Crossover")["total_trades"]
    rows = window.engine.pnl_history(strategy_id="BTC_SMA_Crossover", limit=100_000)
    window.close()

    again = make_window()
    qtbot.waitUntil(lambda: "BTC" in again.charts.charts, timeout=WAIT_MS)
    chart = again.charts.charts["BTC"]
    assert chart.fills.table().shape[0] == fills  # every restored fill, for the arrows
    pnl = again.pnl_chart
    qtbot.waitUntil(lambda: len(pnl.points.get("BTC_SMA_Crossover", ([], []))[0]) == len(rows),
                    timeout=WAIT_MS)
    served = again.engine.pnl_history(strategy_id="BTC_SMA_Crossover", limit=100_000)
    in_time = sorted(served, key=lambda row: row["timestamp"])  # stable: a fill's order kept
    assert pnl.points["BTC_SMA_Crossover"][1] == [row["pnl"] for row in in_time]
    again.charts.redraw()
    assert chart.empty_note.isVisible()
    assert "the journal keeps fills and P&L, not prices" in chart.empty_note.text()


def test_a_theme_change_repaints_the_candle_legend_in_the_new_text_colour(qtbot, window):
    replay_sample(qtbot, window)
    chart = window.charts.charts["BTC"]
    window.charts.redraw()
    point_at(qtbot, chart, middle_of(chart, chart.price_pane))  # a look at an older candle
    click(qtbot, window.settings_button)
    dialog = window.settings_dialog
    choose(qtbot, dialog.theme, "light")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    legend = chart.legend.shown_html  # the text's colour is written in its HTML
    assert colours("light").foreground in legend and colours("dark").foreground not in legend
