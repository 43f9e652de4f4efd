"""The trend analyzer's API: bars, resampling, timeframes, the report's JSON and bad input."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from research_helpers import SAMPLE

from velocitas_desktop.core.indicators import sma
from velocitas_desktop.research.trend import (
    MIN_BARS,
    Bars,
    TrendError,
    analyze,
    default_timeframes,
    load_bars,
    resample,
)

START = 1_700_000_000.0 - 1_700_000_000.0 % 86_400  # a midnight UTC


def walk_bars(count: int, interval: float = 60.0, seed: int = 1, start: float = START) -> Bars:
    """OHLC bars of a seeded geometric random walk (1% per bar scaled to the interval)."""
    rng = np.random.default_rng(seed)
    sigma = 0.01 * math.sqrt(interval / 3600.0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, count)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, sigma / 2, count))
    high = np.maximum(open_, close) * np.exp(spread)
    low = np.minimum(open_, close) * np.exp(-spread)
    time = start + interval * np.arange(count)
    return Bars.from_arrays(time, open_, high, low, close, rng.uniform(1, 10, count), interval)


def strict_json(report, candles: int = 0) -> dict:
    """The report's JSON after a round trip that refuses NaN and infinities."""
    return json.loads(json.dumps(report.to_json(candles), allow_nan=False))


# --- bars ------------------------------------------------------------------------------------

def test_load_bars_reads_the_sample_file_with_its_interval():
    bars = load_bars(SAMPLE)
    assert len(bars) == 5000 and bars.interval == 3600.0
    assert bars.time.dtype == np.float64 and (np.diff(bars.time) > 0).all()


def test_load_bars_names_a_missing_file():
    with pytest.raises(TrendError, match="no such file"):
        load_bars("/nonexistent/prices.csv")


def test_bars_infer_the_interval_and_tail_keeps_the_latest():
    bars = walk_bars(100, 300.0)
    again = Bars.from_arrays(bars.time, bars.open, bars.high, bars.low, bars.close)
    assert again.interval == 300.0 and (again.volume == 0).all()
    tail = bars.tail(10)
    assert len(tail) == 10 and tail.time[-1] == bars.time[-1] and tail.interval == 300.0


def test_from_candles_takes_the_engines_dict():
    bars = walk_bars(80)
    candles = {"coin": "BTC", "interval": 60, "volume_unit": "ticks",
               **{name: getattr(bars, name).tolist()
                  for name in ("time", "open", "high", "low", "close", "volume")}}
    again = Bars.from_candles(candles)
    assert np.array_equal(again.close, bars.close) and again.interval == 60.0
    with pytest.raises(TrendError, match="no 'close' list"):
        Bars.from_candles({"time": [1.0], "open": [1.0], "high": [1.0], "low": [1.0]})


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["time"].__setitem__(5, c["time"][4]), r"bar 5 .* repeats the time of bar 4"),
    (lambda c: c["time"].__setitem__(5, c["time"][3]), r"bar 5 .* is earlier than bar 4"),
    (lambda c: c["close"].__setitem__(7, math.nan), r"bar 7 .* close is nan"),
    (lambda c: c["low"].__setitem__(8, 0.0), r"bar 8 .* low is 0.0; prices must be finite"),
    (lambda c: c["high"].__setitem__(9, -1.0), r"bar 9 .* high is -1.0"),
    (lambda c: c["high"].__setitem__(3, c["low"][3] * 0.5), r"bar 3 .* high .* below low"),
])
def test_bad_bars_are_refused_naming_the_first_bad_bar(change, message):
    bars = walk_bars(20)
    columns = {name: getattr(bars, name).copy() for name in ("time", "open", "high", "low",
                                                             "close")}
    change(columns)
    with pytest.raises(TrendError, match=message):
        Bars.from_arrays(**columns)


def test_columns_of_different_lengths_and_no_bars_are_refused():
    with pytest.raises(TrendError, match="close has 2 values for 3 bar times"):
        Bars.from_arrays([1, 2, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1])
    with pytest.raises(TrendError, match="no bars"):
        Bars.from_arrays([], [], [], [], [])
    with pytest.raises(TrendError, match="one bar and no interval"):
        Bars.from_arrays([1.0], [1.0], [1.0], [1.0], [1.0])


# --- resampling and timeframes ---------------------------------------------------------------

def test_resample_aggregates_epoch_aligned_buckets_and_skips_gaps():
    bars = walk_bars(600, 60.0, start=START + 1800)  # starts half-way into an hour
    keep = np.ones(600, bool)
    keep[120:300] = False  # three hours with no bar at all
    gappy = Bars.from_arrays(bars.time[keep], bars.open[keep], bars.high[keep], bars.low[keep],
                             bars.close[keep], bars.volume[keep], 60.0)
    hourly = resample(gappy, 3600.0)
    assert (hourly.time % 3600 == 0).all() and hourly.interval == 3600.0
    assert len(hourly) == 11 - 2  # minutes 30 to 629: 11 hours, two of them wholly missing
    first = gappy.time < START + 3600
    assert hourly.open[0] == gappy.open[first][0] and hourly.close[0] == gappy.close[first][-1]
    assert hourly.high[0] == gappy.high[first].max() and hourly.low[0] == gappy.low[first].min()
    assert hourly.volume.sum() == pytest.approx(gappy.volume.sum())


def test_weekly_bars_open_on_monday_midnight_utc():
    daily = walk_bars(70, 86_400.0)  # START is a Tuesday
    weekly = resample(daily, 604_800.0)
    opens = [dt.datetime.fromtimestamp(t, dt.UTC) for t in weekly.time]
    assert all(o.weekday() == 0 and o.hour == 0 for o in opens)
    assert weekly.time[0] == START - 86_400 and weekly.open[0] == daily.open[0]
    assert weekly.close[0] == daily.close[5]  # Tuesday to Sunday: six days in the first week


def test_default_timeframes_follow_the_input_interval_and_length():
    assert default_timeframes(60.0) == ["1m", "1h", "4h", "1d"]
    assert default_timeframes(3600.0, 8760) == ["1h", "4h", "1d"]
    assert default_timeframes(86_400.0) == ["1d", "1w"]
    assert default_timeframes(60.0, 2000) == ["1m", "15m"]


def test_analyze_refuses_a_finer_or_uneven_or_unknown_timeframe_listing_the_valid_ones():
    bars = walk_bars(200, 900.0)
    with pytest.raises(TrendError, match=r"5m is shorter than the bars' interval \(15m\): "
                                         r"choose from 15m, 30m, 1h"):
        analyze(bars, ["5m"])
    with pytest.raises(TrendError, match="unknown timeframe '2m'"):
        analyze(bars, ["2m"])
    with pytest.raises(TrendError, match="3d is not a whole multiple"):
        analyze(walk_bars(200, 172_800.0), ["3d"])
    odd = walk_bars(200, 7200.0)
    assert [tf.timeframe for tf in analyze(odd, ["1d", "2h", "4h"]).timeframes] == [
        "2h", "4h", "1d"]
    assert [tf.timeframe for tf in analyze(odd, "4h, 2h,4h").timeframes] == ["2h", "4h"]
    with pytest.raises(TrendError, match="no timeframe given"):
        analyze(odd, [])


# --- the report ------------------------------------------------------------------------------

def test_report_json_has_every_field_of_the_spec_and_no_nan():
    report = analyze(load_bars(SAMPLE), source="BTCUSD-1h-sample.csv", coin="BTC")
    data = strict_json(report, candles=50)
    assert data["source"] == "BTCUSD-1h-sample.csv" and data["coin"] == "BTC"
    assert data["bars"] == 5000 and data["interval"] == 3600
    assert data["suggestions"] is None and len(data["summary"]) == len(data["timeframes"])
    assert [tf["timeframe"] for tf in data["timeframes"]] == ["1h", "4h", "1d"]
    for tf in data["timeframes"]:
        assert tf["ok"] and tf["message"] == ""
        assert set(tf) == {"timeframe", "seconds", "bars", "ok", "message", "time", "direction",
                           "strength", "adx", "regression", "moving_averages", "volatility",
                           "character", "levels", "breakouts", "trend_line", "summary",
                           "candles"}
        assert tf["direction"] in {"up", "down", "sideways"}
        assert tf["strength"] in {"weak", "moderate", "strong"}
        assert set(tf["adx"]) == {"period", "adx", "plus_di", "minus_di"}
        assert set(tf["regression"]) == {"bars", "slope_pct_per_bar", "t_stat", "r2",
                                         "trend_noise"}
        assert tf["moving_averages"]["alignment"] in {"bullish", "bearish", "mixed"}
        assert tf["volatility"]["regime"] in {"calm", "normal", "high", "extreme"}
        assert tf["character"]["label"] in {"trending", "mean_reverting", "random"}
        assert tf["character"]["confidence"] == 0.95
        assert len(tf["levels"]) <= 8 and len(tf["breakouts"]) <= 5
        for level in tf["levels"]:
            assert level["low"] <= level["price"] <= level["high"] and level["touches"] >= 2
            assert level["kind"] == ("resistance" if level["price"] > data["price"]
                                     else "support")
        distances = [level["distance_pct"] for level in tf["levels"]]
        assert distances == sorted(distances)
        listed = {level["price"] for level in tf["levels"]}
        assert all(breakout["level"] in listed for breakout in tf["breakouts"])
        times = [breakout["time"] for breakout in tf["breakouts"]]
        assert times == sorted(times, reverse=True)
        assert len(tf["candles"]["close"]) == 50 and tf["summary"].startswith(tf["timeframe"])
    assert report.regimes()["4h"].keys() == {"direction", "strength", "volatility", "character"}
    assert "Trend of BTCUSD-1h-sample.csv BTC: 5,000 bars of 1h" in report.text()


def test_figures_match_their_definitions_on_the_sample():
    bars = load_bars(SAMPLE)
    tf = strict_json(analyze(bars, ["1h"]))["timeframes"][0]
    closes = bars.close
    assert tf["moving_averages"]["values"] == pytest.approx(
        [closes[-20:].mean(), closes[-50:].mean(), closes[-200:].mean()])
    slope = np.polyfit(np.arange(100), np.log(closes[-100:]), 1)[0]
    assert tf["regression"]["slope_pct_per_bar"] == pytest.approx(100 * math.expm1(slope),
                                                                  abs=1e-4)
    returns = np.diff(np.log(closes[-100:]))
    assert tf["regression"]["trend_noise"] == pytest.approx(
        slope * 99 / (returns.std(ddof=1) * math.sqrt(99)), abs=1e-3)
    assert tf["trend_line"]["time"] == [bars.time[-100], bars.time[-1]]
    assert tf["time"] == bars.time[-1]


def test_too_few_bars_give_ok_false_with_a_message_per_timeframe():
    bars = walk_bars(1000, 60.0)  # 1000 minutes: 17 hours
    data = strict_json(analyze(bars, ["1m", "15m", "1h"]))
    first, fifteen, hourly = data["timeframes"]
    assert first["ok"] and fifteen["ok"] and fifteen["bars"] == 67 and not hourly["ok"]
    assert hourly["message"] == (f"only 17 1h bars; at least {MIN_BARS} are needed (give "
                                 "more history or choose a finer timeframe)")
    assert set(hourly) == {"timeframe", "seconds", "bars", "ok", "message", "summary"}
    assert hourly["summary"] == "1h: " + hourly["message"]


def test_a_flat_series_is_reported_not_analysed():
    flat = np.full(300, 50.0)
    bars = Bars.from_arrays(START + 60 * np.arange(300), flat, flat, flat, flat)
    data = strict_json(analyze(bars, ["1m"]))
    assert not data["timeframes"][0]["ok"]
    assert "the price never moves on 1m" in data["timeframes"][0]["message"]


def test_a_series_flat_at_its_end_gives_none_not_nan():
    bars = walk_bars(1000)
    close = bars.close.copy()
    close[-600:] = close[-601]
    flat_end = Bars.from_arrays(bars.time, close, close, close, close)
    data = strict_json(analyze(flat_end, ["1m"]))  # would raise on NaN
    tf = data["timeframes"][0]
    assert tf["ok"] and tf["character"]["label"] == "random"
    assert tf["character"]["variance_ratio"] is None and tf["regression"]["trend_noise"] is None
    assert tf["regression"]["r2"] == 0 and tf["direction"] == "sideways"
    assert tf["trend_line"]["channel_pct"] == 0


def test_gaps_are_warned_about_with_the_largest_and_skipped():
    bars = walk_bars(3000, 60.0)
    keep = np.ones(3000, bool)
    keep[1000:1300] = False   # 5 hours missing
    keep[2000:2010] = False
    gappy = Bars.from_arrays(bars.time[keep], bars.open[keep], bars.high[keep], bars.low[keep],
                             bars.close[keep], None, 60.0)
    data = strict_json(analyze(gappy, ["1m", "1h"]))
    when = "2023-11-14 16:40 UTC"
    assert data["warnings"] == [f"2 gaps in the bars, the largest 5h from {when}: resampled "
                                "bars skip them"]
    assert data["timeframes"][0]["bars"] == 2690


def _full_history_cross(close: np.ndarray, fast: int, slow: int) -> tuple[str, int] | None:
    spread = sma(close, fast) - sma(close, slow)
    sign = np.sign(spread)
    index = np.flatnonzero(np.isfinite(spread) & (sign != 0))
    changes = np.flatnonzero(sign[index][1:] != sign[index][:-1])
    if not changes.size:
        return None
    at = index[changes[-1] + 1]
    return ("golden" if sign[at] > 0 else "death"), len(close) - 1 - int(at)


@pytest.mark.parametrize(("count", "fast", "slow"), [(30_000, 50, 200), (150, 20, 50)])
def test_last_cross_is_the_latest_sign_change_of_the_fast_minus_slow_average(count, fast, slow):
    # a slow rise for most of the history, then a fall: the last cross is a death cross far
    # back (beyond the first 4096 bars the search looks at) on the long series
    time = START + 60.0 * np.arange(count)
    trend = np.where(np.arange(count) < count * 0.6, 1.0, -1.0)
    close = 100.0 * np.exp(np.cumsum(trend * 0.001 + np.sin(np.arange(count) / 7) * 1e-4))
    bars = Bars.from_arrays(time, close, close, close, close, None, 60.0)
    cross = strict_json(analyze(bars, ["1m"]))["timeframes"][0]["moving_averages"]["last_cross"]
    kind, bars_ago = _full_history_cross(close, fast, slow)
    assert (cross["kind"], cross["bars_ago"], cross["fast"], cross["slow"]) == (
        kind, bars_ago, fast, slow)
    assert kind == "death" and cross["time"] == time[-1 - bars_ago]
    if count > 10_000:
        assert bars_ago > 4096


def test_adx_and_atr_figures_are_ta_libs_on_each_timeframe():
    talib = pytest.importorskip("talib")
    bars = load_bars(SAMPLE)
    for tf in strict_json(analyze(bars, ["1h", "4h"]))["timeframes"]:
        frame = bars if tf["timeframe"] == "1h" else resample(bars, tf["seconds"])
        high, low, close = frame.high, frame.low, frame.close
        assert tf["adx"]["adx"] == pytest.approx(talib.ADX(high, low, close, 14)[-1], abs=0.006)
        assert tf["adx"]["plus_di"] == pytest.approx(talib.PLUS_DI(high, low, close, 14)[-1],
                                                     abs=0.006)
        assert tf["adx"]["minus_di"] == pytest.approx(
            talib.MINUS_DI(high, low, close, 14)[-1], abs=0.006)
        atr_pct = 100 * talib.ATR(high, low, close, 14)[-1] / close[-1]
        assert tf["volatility"]["atr_pct"] == pytest.approx(atr_pct, abs=1e-4)


def test_odd_but_valid_bars_never_crash_nor_give_nan():
    # 150 random shapes: 2 to 400 bars, tiny and huge prices, whole-number prices (ties), flat
    # stretches, gaps of up to a week, any interval; every timeframe is either analysed or
    # says why not.
    rng = np.random.default_rng(7)
    for _ in range(150):
        count = int(rng.integers(2, 400))
        interval = float(rng.choice([60, 300, 3600, 14_400, 86_400]))
        scale = float(10.0 ** rng.uniform(-8, 9))
        close = scale * np.exp(np.cumsum(rng.normal(0.0, rng.uniform(0, 0.05), count)))
        if rng.random() < 0.3:
            close = np.maximum(np.round(close), 1.0)
        if rng.random() < 0.3:
            start = int(rng.integers(0, count))
            close[start:] = close[start]
        open_ = np.concatenate(([close[0]], close[:-1]))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, count))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, count))
        steps = interval * (1 + (rng.random(count) < 0.05) * rng.integers(1, 10_080 * 60 //
                                                                           int(interval) + 2))
        time = START + np.cumsum(steps)
        bars = Bars.from_arrays(time, open_, high, low, close, None, interval)
        report = analyze(bars)
        data = strict_json(report, candles=5)
        for tf in data["timeframes"]:
            assert tf["ok"] or tf["message"]
        report.text()
        report.regimes()
