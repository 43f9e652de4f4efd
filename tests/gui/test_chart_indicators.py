"""Indicators on the chart, driven as a trader drives them: select a strategy, use the menu."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from chart_helpers import replay_sample
from gui_helpers import WAIT_MS, add_strategy, choose, click, click_row, retype, type_number
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu

from velocitas_desktop.core import indicators
from velocitas_desktop.feeds.csvdata import load_ohlcv, write_ohlcv_csv
from velocitas_desktop.paths import sample_data_dir


def select_strategy(qtbot, window, strategy_id: str) -> None:  # type: ignore[no-untyped-def]
    panel = window.strategies_panel
    click_row(qtbot, panel.table, panel.model.row_of(strategy_id))
    chart = window.charts.charts[strategy_id.split("_")[0]]
    qtbot.waitUntil(lambda: chart.indicators.strategy_id == strategy_id, timeout=WAIT_MS)


def live_values(indicator, closes: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The indicator fed one close at a time, as a strategy feeds it."""
    return np.array([indicator.update(c) for c in closes.tolist()])


def test_selecting_a_strategy_draws_its_own_indicators_with_its_fills(qtbot, window):
    add_strategy(qtbot, window, "SMA", "BTC", {"fast": "5", "slow": "20"}, timeframe="1h")
    add_strategy(qtbot, window, "RSI", "BTC", timeframe="1h")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 2, timeout=WAIT_MS)
    replay_sample(qtbot, window)
    choose(qtbot, window.charts.interval_box, "1h")
    chart = window.charts.charts["BTC"]
    select_strategy(qtbot, window, "BTC_SMA_Crossover")
    drawn = chart.indicators.drawn
    assert [d.study.label for d in drawn] == ["SMA(5)", "SMA(20)"]
    assert all(d.pane is chart.price_pane for d in drawn)  # averages go over the candles
    file = load_ohlcv(sample_data_dir() / "BTCUSD-1h-sample.csv")
    for d, period in zip(drawn, (5, 20), strict=True):
        x, y = d.items[0].getData()
        assert np.array_equal(x, file.timestamp)  # one value per hourly candle
        np.testing.assert_array_equal(y, live_values(indicators.SMA(period), file.close))
    legend = chart.indicators.overlay_legend.toPlainText()
    assert "BTC_SMA_Crossover decides on 1h bars" in legend and "SMA(20)" in legend
    # its fills alone: an arrow on each candle where it bought
    window.charts.redraw()
    qtbot.wait(300)
    window.charts.redraw()
    mine = [t for t in window.engine.trades(strategy_id="BTC_SMA_Crossover", limit=10_000)
            if t["action"] == "BUY"]
    left, right = chart.price_pane.box.viewRange()[0]
    candles = {t["timestamp"] // 3600 * 3600 for t in mine
               if left - 3600 <= t["timestamp"] <= right + 3600}
    assert candles and set(chart.buy_markers.getData()[0].tolist()) == candles

    select_strategy(qtbot, window, "BTC_RSI")
    (rsi,) = chart.indicators.drawn
    assert rsi.pane is not chart.price_pane and rsi.pane in chart.panes  # a pane under
    assert [line.value() for line in rsi.levels] == [30.0, 70.0]  # oversold, overbought
    _, y = rsi.items[0].getData()
    np.testing.assert_array_equal(y, live_values(indicators.RSI(14), file.close))
    assert len(chart.panes) == 3
    assert "RSI(14)" in rsi.pane.legend.toPlainText()


def test_a_strategy_still_warming_up_says_how_many_bars_it_has(qtbot, window, tmp_path):
    short = tmp_path / "BTCUSD-1h-short.csv"
    file = load_ohlcv(sample_data_dir() / "BTCUSD-1h-sample.csv")
    write_ohlcv_csv(short, replace(file, **{name: getattr(file, name)[:20] for name in (
        "timestamp", "open", "high", "low", "close", "volume")}))
    add_strategy(qtbot, window, "MACD", "BTC", timeframe="1h")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, f"BTC={short}")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "finished", timeout=WAIT_MS)
    select_strategy(qtbot, window, "BTC_MACD")
    chart = window.charts.charts["BTC"]
    (macd,) = chart.indicators.drawn
    qtbot.waitUntil(lambda: macd.values.fed == 20, timeout=WAIT_MS)
    chart.indicators.redraw()
    assert chart.indicators.warm_up_texts() == ["MACD(12, 26, 9) warming up: 20 of 34 bars"]
    assert "warming up: 20 of 34 bars" in macd.pane.legend.toPlainText()


def test_an_oscillator_pane_fits_the_values_in_view_as_soon_as_it_is_shown(qtbot, window):
    add_strategy(qtbot, window, "MACD", "BTC", timeframe="1h")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    replay_sample(qtbot, window)  # the session is over: no new bar will move the scales
    choose(qtbot, window.charts.interval_box, "1h")
    chart = window.charts.charts["BTC"]
    select_strategy(qtbot, window, "BTC_MACD")
    (macd,) = chart.indicators.drawn
    low, high = macd.visible_range(*chart.price_pane.box.viewRange()[0])
    bottom, top = macd.pane.box.viewRange()[1]
    assert bottom <= low and high <= top  # every value in view fits
    assert top - bottom <= 3.5 * (high - low)  # and fills the pane, not the whole history's


def pick_from_menu(qtbot, button, text: str) -> None:  # type: ignore[no-untyped-def]
    """Open a button's menu and choose an entry with the arrow keys and Enter."""
    def choose_entry() -> None:
        menu = next(w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMenu) and w.isVisible())
        entry = next(a for a in menu.actions() if a.text() == text)
        while menu.activeAction() is not entry:
            qtbot.keyClick(menu, Qt.Key.Key_Down)
        qtbot.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(300, choose_entry)
    click(qtbot, button)


def test_the_indicators_menu_adds_any_indicator_and_explains_a_bad_value(qtbot, window):
    replay_sample(qtbot, window)
    charts = window.charts
    choose(qtbot, charts.interval_box, "4h")
    pick_from_menu(qtbot, charts.indicator_button, "Add RSI…")
    qtbot.waitUntil(lambda: charts.indicator_dialog is not None
                    and charts.indicator_dialog.isVisible(), timeout=WAIT_MS)
    dialog = charts.indicator_dialog
    type_number(qtbot, dialog.editors["period"], "1")
    click(qtbot, dialog.ok_button)
    assert dialog.isVisible() and "at least 2 bars" in dialog.error.text()
    type_number(qtbot, dialog.editors["period"], "7")
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    chart = charts.charts["BTC"]
    (rsi,) = chart.indicators.drawn
    assert rsi.study.label == "RSI(7)" and rsi.pane in chart.panes
    closes = chart.series.close[:chart.series.closed]  # on the chart's own 4h candles
    _, y = rsi.items[0].getData()
    np.testing.assert_array_equal(y, live_values(indicators.RSI(7), closes))
    pick_from_menu(qtbot, charts.indicator_button, "Remove RSI(7)")
    qtbot.waitUntil(lambda: not chart.indicators.drawn, timeout=WAIT_MS)
    assert len(chart.panes) == 2  # prices and volume again
