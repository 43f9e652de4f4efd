"""The live trend: each coin's report re-made off the hot path as its bars close, a TREND event
for each regime that changes, and trend(coin) through the contract, in this process and hosted.

The planted file climbs for 1,500 one-minute bars and falls for 1,500: the analyzer reads it as
up on 1m and 15m after the climb and down after the fall (asserted, so the plant is checked too).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from live_engine_helpers import Recorder, engine_threads
from support import wait_until

from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.engine.contract import EventKind
from velocitas_desktop.engine.engine import Engine, EngineConfig, NotFoundError
from velocitas_desktop.engine.host import HostedEngine
from velocitas_desktop.engine.trend import LIVE_TIMEFRAMES, MIN_SECONDS, LiveTrend
from velocitas_desktop.feeds.base import TickBatch
from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.feeds.csvfeed import CsvFeed
from velocitas_desktop.research import trend as analyzer

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
CLIMB = FALL = 1_500


def write_bars(path: Path, drift: np.ndarray, seed: int = 3) -> Path:
    """One-minute bars whose log close moves by ``drift`` per bar plus a little noise."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(drift + rng.normal(0.0, 0.0002, drift.size)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0.0, 0.0002, close.size))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.0, 0.0002, close.size))
    stamps = T0 + 60.0 * np.arange(close.size)
    rows = np.column_stack([stamps, open_, high, low, close, rng.uniform(1, 5, close.size)])
    np.savetxt(path, rows, fmt="%.17g", delimiter=",",
               header="timestamp,open,high,low,close,volume", comments="")
    return path


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    drift = np.r_[np.full(CLIMB, 0.0005), np.full(FALL, -0.0005)]
    return write_bars(tmp_path / "BTC-1m-planted.csv", drift)


def file_report(path: Path, bars: int | None = None) -> analyzer.TrendReport:
    """What the analyzer says of the file's first ``bars`` bars, as the live trend asks."""
    whole = analyzer.Bars.from_ohlcv(load_ohlcv(path))
    part = whole if bars is None else analyzer.Bars.from_arrays(
        *(getattr(whole, name)[:bars] for name in ("time", "open", "high", "low", "close",
                                                   "volume")), whole.interval)
    return analyzer.analyze(part, list(LIVE_TIMEFRAMES), source="live", coin="BTC")


def csv_config(path: Path, **more) -> EngineConfig:
    return EngineConfig(source="csv", coins=["BTC"], csv_files={"BTC": str(path)}, **more)


class StepReplay(CsvFeed):
    """The file in parts (its first ``cut`` bars, then the rest), each sent once the live trend
    has a report of everything before it, and the end of the data once it has one of all: the
    trend sees none, all of the first part or all of the bars, whatever the timing."""

    def __init__(self, path: Path, cut: int, covered: Callable[[float], bool]) -> None:
        super().__init__({"BTC": str(path)})
        self.cut = cut
        self.covered = covered

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        whole = TickBatch.concat(list(super().stream(stop)))
        assert whole.bars is not None and len(whole.bars) == len(whole)  # a price per bar
        for lo, hi in ((0, self.cut), (self.cut, len(whole))):
            yield TickBatch(whole.coin_ids[lo:hi], whole.prices[lo:hi], whole.timestamps[lo:hi],
                            time.perf_counter(), whole.bars.part(lo, hi))
            while not self.covered(float(whole.bars.start[hi - 1])):
                if stop.wait(0.01):
                    return


def covers(engine: Engine) -> Callable[[float], bool]:
    def covered(stamp: float) -> bool:
        try:
            return engine.trend("BTC")["last"] == stamp
        except NotFoundError:
            return False

    return covered


def changes(events: list[dict]) -> list[tuple]:
    return [(e["coin"], e["timeframe"], e["previous"], e["current"]) for e in events]


def test_a_replayed_file_gets_a_live_report_of_its_bars_in_the_reports_shape(engines, planted):
    engine = Engine()
    engines.append(engine)
    engine.start(csv_config(planted))
    assert engine.wait(60)
    report = engine.trend("btc")  # a coin in any case, as everywhere
    assert report == file_report(planted).to_json()  # every bar, the forming one too
    assert report["source"] == "live" and report["coin"] == "BTC"
    assert report["bars"] == CLIMB + FALL and report["interval"] == 60.0
    frames = {frame["timeframe"]: frame for frame in report["timeframes"]}
    assert list(frames) == ["1m", "15m", "1h", "4h"]
    assert frames["1m"]["ok"] and frames["1m"]["direction"] == "down"
    assert not frames["4h"]["ok"] and "at least 60" in frames["4h"]["message"]
    with_candles = engine.trend("BTC", candles=5)
    newest = with_candles["timeframes"][0]["candles"]
    assert len(newest["time"]) == 5 and newest["close"][-1] == report["price"]
    assert not any(name == "velocitas-trend" for name in engine_threads())


def test_a_planted_regime_change_is_told_once_per_timeframe_that_changed(engines, planted):
    climbed, fell = file_report(planted, CLIMB).regimes(), file_report(planted).regimes()
    assert climbed["1m"]["direction"] == climbed["15m"]["direction"] == "up"   # the plant
    assert fell["1m"]["direction"] == fell["15m"]["direction"] == "down"
    engine = Engine()
    engines.append(engine)
    recorder = Recorder()
    engine.subscribe(recorder)
    # the end of the data analyses the same bars once more: nothing new to tell
    engine.start(csv_config(planted), feed=StepReplay(planted, CLIMB, covers(engine)))
    assert engine.wait(60)
    assert engine._session.trend.analyses >= 4  # the start, each part, the end
    expected = [("BTC", tf, None, regime) for tf, regime in climbed.items()]
    expected += [("BTC", tf, climbed.get(tf), regime) for tf, regime in fell.items()
                 if climbed.get(tf) != regime]
    events = recorder.of(EventKind.TREND)
    assert changes(events) == expected
    frames = {f["timeframe"]: f for f in file_report(planted).to_json()["timeframes"]}
    for event in events[len(climbed):]:
        assert event["time"] == frames[event["timeframe"]]["time"]
        assert event["summary"] == frames[event["timeframe"]]["summary"]
    told = [line["message"] for line in recorder.of(EventKind.LOG)
            if "trend changed" in line["message"]]
    assert len(told) == len(expected) - len(climbed)  # a line for each change, not the first
    assert any(line.startswith("BTC 1m: trend changed up → down") for line in told), told


def test_a_full_speed_replay_is_analysed_about_once_a_second_not_per_closed_minute(
        engines, tmp_path):
    rng = np.random.default_rng(11)
    path = write_bars(tmp_path / "BTC-1m-walk.csv", rng.normal(0.0, 0.0005, 60_000))
    engine = Engine()
    engines.append(engine)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.start(csv_config(path, ohlc_path=True))  # 240,000 prices, 60,000 minutes closing
    assert engine.wait(120)
    session = engine._session
    assert session is not None and engine.ticks_processed == 240_000
    trend = session.trend
    # the start, the end, and at most one a second between them
    assert trend is not None and trend.analyses <= 2 + session.run_seconds / MIN_SECONDS + 1
    assert len(recorder.of(EventKind.TREND)) <= 4 * trend.analyses
    assert engine.trend("BTC")["last"] == T0 + 60.0 * 59_999


def test_a_finished_sessions_reports_cover_its_last_bar_though_it_never_closed(engines):
    engine = Engine()
    engines.append(engine)
    engine.start(EngineConfig(source="simulated", coins=["BTC", "ETH"], rate=None, seed=5,
                              max_ticks=200_000, start_time=T0))
    assert engine.wait(60)
    for coin in ("BTC", "ETH"):
        candles = engine.candles(coin)
        report = engine.trend(coin)
        assert report["last"] == candles["time"][-1] and report["price"] == candles["close"][-1]
        assert report["bars"] == len(candles["time"])


def test_a_session_too_short_to_close_a_minute_still_reports_its_one_bar(engines):
    engine = Engine()
    engines.append(engine)
    engine.start(EngineConfig(source="simulated", coins=["BTC"], rate=None, seed=5,
                              max_ticks=50, start_time=T0))
    assert engine.wait(60)
    assert len(engine.candles("BTC")["time"]) == 1  # no bar ever closed
    report = engine.trend("BTC")
    assert report["bars"] == 1 and not any(frame["ok"] for frame in report["timeframes"])


def test_the_end_of_the_data_analyses_every_coin_once_more_with_its_forming_bar():
    asked: list[tuple[str, bool]] = []

    def candles(coin: str, final: bool) -> dict:
        asked.append((coin, final))
        count = 3 if final else 2  # the forming bar counts once the data has ended
        return {"interval": 60.0, "time": T0 + 60.0 * np.arange(count),
                **{name: np.full(count, 100.0 + count) for name in ("open", "high", "low",
                                                                     "close")}}

    live = LiveTrend(["BTC", "ETH"], candles, lambda kind, data: None, lambda *line: None)
    live.start()
    wait_until(lambda: live.analyses >= 2, what="the first analyses")
    live.finish(final=True, timeout=30)
    assert not live.alive
    assert sorted(asked) == [("BTC", False), ("BTC", True), ("ETH", False), ("ETH", True)]
    assert live.report("ETH")["bars"] == 3


def regime(direction: str) -> dict[str, str]:
    return {"direction": direction, "strength": "strong", "volatility": "normal",
            "character": "random"}


def test_a_timeframes_regime_is_told_on_its_bar_close_not_as_its_forming_bar_wavers():
    """The 15m bar forming from minute 0 leans down at minutes 5 to 8 and is up again by its
    close: nothing is told. The next one is down when it closes: told once, at the first look
    after that close. The 1m timeframe's bars close every minute: each change is told."""
    told: list[tuple[str, str, str]] = []
    live = LiveTrend(["BTC"], lambda coin, final: None,
                     lambda kind, data: told.append((data["timeframe"], data["time"],
                                                     data["current"]["direction"])),
                     lambda *line: None)
    leaning = {minute: "down" for minute in (5, 6, 7, 8)}
    leaning.update({minute: "down" for minute in range(20, 34)})
    for minute in range(0, 34):
        bar15 = T0 + 900.0 * (minute // 15)
        one = leaning.get(minute, "up")
        fifteen = leaning.get(minute, "up")
        view = {"timeframes": [{"timeframe": "1m", "time": T0 + 60.0 * minute},
                               {"timeframe": "15m", "time": bar15}]}
        live._compare("BTC", {"1m": regime(one), "15m": regime(fifteen)}, view)
    fifteen_told = [(t, d) for tf, t, d in told if tf == "15m"]
    # the first look; the bar of 15:00 closed up (not told again); the bar of 30:00 began
    # with the 15:00 bar down at its close (minutes 20 to 29)
    assert fifteen_told == [(T0, "up"), (T0 + 1800.0, "down")]
    one_told = [d for tf, _, d in told if tf == "1m"]
    assert one_told == ["up", "down", "up", "down"]  # 0, 5, 9, 20: each minute is a close

    # the end of the data: the forming bar is looked at at once
    view = {"timeframes": [{"timeframe": "15m", "time": T0 + 1800.0}]}
    live._compare("BTC", {"15m": regime("sideways")}, view, final=True)
    assert told[-1] == ("15m", T0 + 1800.0, "sideways")


def test_trend_needs_a_session_that_carries_the_coin(engines, planted):
    engine = Engine()
    engines.append(engine)
    with pytest.raises(NotFoundError, match="no session has run"):
        engine.trend("BTC")
    with pytest.raises(ParameterError, match="coin symbol"):
        engine.trend("BT-C")
    engine.start(csv_config(planted))
    assert engine.wait(60)
    with pytest.raises(NotFoundError, match=r"SOL is not in the session \(it carries BTC\)"):
        engine.trend("SOL")


def test_a_failing_analysis_is_said_once_and_trading_goes_on(engines, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the analyzer broke")

    monkeypatch.setattr(analyzer, "analyze", broken)
    engine = Engine()
    engines.append(engine)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.start(EngineConfig(source="simulated", coins=["BTC", "ETH"], rate=None, seed=5,
                              max_ticks=100_000, start_time=T0))
    assert engine.wait(60)
    assert engine.status == "finished" and engine.ticks_processed == 100_000
    for _ in range(2):  # each call tries again, and fails again, without a new line
        with pytest.raises(NotFoundError, match=r"its analysis failed \(the analyzer broke\)"):
            engine.trend("BTC")
    said = [line for line in recorder.of(EventKind.LOG) if "could not be made" in line["message"]]
    assert sorted(line["message"].split()[4] for line in said) == ["BTC", "ETH"]
    assert all(line["level"] == "warning" for line in said)
    assert recorder.of(EventKind.TREND) == []


def test_the_trend_thread_ends_with_a_stopped_session(engines):
    engine = Engine()
    engines.append(engine)
    engine.start(EngineConfig(source="simulated", coins=["BTC"], rate=2_000.0, seed=5,
                              start_time=T0))
    wait_until(lambda: "velocitas-trend" in engine_threads(), what="the trend thread")
    engine.stop()
    assert "velocitas-trend" not in engine_threads()


@pytest.mark.slow
def test_the_hosted_engine_forwards_trend_and_its_events(tmp_path, planted):
    hosted = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False)
    try:
        recorder = Recorder()
        hosted.subscribe(recorder)
        with pytest.raises(NotFoundError, match="no session has run"):
            hosted.trend("BTC")
        hosted.start(csv_config(planted))
        assert hosted.wait(60)
        wait_until(lambda: recorder.of(EventKind.ENGINE)
                   and recorder.of(EventKind.ENGINE)[-1]["status"] == "finished",
                   what="the last engine event")
        final = file_report(planted)
        assert hosted.trend("BTC") == final.to_json()
        newest = {e["timeframe"]: e["current"] for e in recorder.of(EventKind.TREND)}
        assert newest == final.regimes()
        with pytest.raises(NotFoundError, match="SOL is not in the session"):
            hosted.trend("SOL")
    finally:
        hosted.close()
