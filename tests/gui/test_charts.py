"""The price and P&L charts driven as a trader drives them: they never go blank and never lie."""

from __future__ import annotations

import numpy as np
from gui_helpers import WAIT_MS, add_strategy, choose, click, retype

from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.paths import sample_data_dir

SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


def replay_sample(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Choose CSV files, type the sample's path, press Start, wait for the end of the data."""
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, f"BTC={SAMPLE}")
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.engine.status == "finished" and not window.busy,
                    timeout=WAIT_MS)


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
