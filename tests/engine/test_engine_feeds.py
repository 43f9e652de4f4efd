"""Specification of the live feeds through the engine: the tick limit and the csv replay."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from live_engine_helpers import BINANCE_MS, SAMPLE, T0, Recorder, nothing_left_behind
from support import drain

from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.base import FeedError
from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.feeds.csvfeed import CsvFeed
from velocitas_desktop.store.journal import Journal

HEADER = "timestamp,open,high,low,close,volume"


def write_bars(path: Path, rows: list[tuple[float, float, float, float, float]],
               start: int = T0, step: int = 60) -> Path:
    """A plain bar file: one (open, high, low, close, volume) row every ``step`` seconds."""
    lines = [HEADER] + [f"{start + i * step},{o},{h},{lo},{c},{v}"
                        for i, (o, h, lo, c, v) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def replay(files: dict[str, Path], **options: object) -> tuple[Engine, Recorder]:
    """Run an engine (no strategies) over csv files to their end; return it and its events."""
    engine = Engine()
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.start(EngineConfig(source="csv", coins=list(files),
                              csv_files={c: str(p) for c, p in files.items()}, **options))
    assert engine.wait(30), "the replay did not end"
    return engine, recorder


# --------------------------------------------------------------------------- simulated feed


def test_the_engine_stops_on_the_exact_tick_limit(engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    engine.start(EngineConfig(coins=["BTC", "ETH", "SOL"], rate=None, seed=2, max_ticks=12_345))
    assert engine.wait(30)
    assert engine.status == "finished"
    assert engine.snapshot()["global"]["ticks_processed"] == 12_345


# --------------------------------------------------------------------------- csv replay


def test_a_plain_file_replays_one_price_per_bar_its_close_at_the_close_time(tmp_path: Path) -> None:
    path = write_bars(tmp_path / "btc.csv", [(100, 104, 99, 103, 1), (103, 105, 101, 102, 2),
                                             (102, 102, 95, 96, 3), (96, 99, 96, 98, 4)])
    engine, recorder = replay({"BTC": path})
    coins, prices, stamps = recorder.ticks()
    assert coins == ["BTC"] * 4
    assert prices == [103, 102, 96, 98]
    assert stamps == [T0 + 60, T0 + 120, T0 + 180, T0 + 240]  # each bar's close time
    assert engine.status == "finished"
    assert engine.feed_state["state"] == "finished"
    assert engine.snapshot()["global"]["ticks_processed"] == 4


def test_a_binance_archive_file_replays_its_closes_at_the_close_times() -> None:
    engine, recorder = replay({"BTC": BINANCE_MS})
    _, prices, stamps = recorder.ticks()
    sample = load_ohlcv(SAMPLE)
    assert prices == sample.close[:48].tolist()
    # Binance writes close_time as open + 1 h - 1 ms; the tick is stamped at the full hour
    assert stamps == (sample.timestamp[:48] + 3600).tolist()
    assert stamps[0] == 1_553_306_400 + 3600
    assert engine.status == "finished"


def test_the_ohlc_path_replays_open_low_high_close_on_a_rising_bar_and_open_high_low_close_on_a_falling_one(
        tmp_path: Path) -> None:
    rising = (100, 110, 95, 105, 1)
    falling = (105, 108, 90, 92, 1)
    path = write_bars(tmp_path / "btc.csv", [rising, falling])
    _, recorder = replay({"BTC": path}, ohlc_path=True)
    _, prices, stamps = recorder.ticks()
    assert prices == [100, 95, 110, 105, 105, 108, 90, 92]
    # the open at the bar's open, then one and two thirds of the bar, the close at its close
    assert stamps == [T0, T0 + 20, T0 + 40, T0 + 60, T0 + 60, T0 + 80, T0 + 100, T0 + 120]


def test_two_coins_are_merged_in_time_order(tmp_path: Path) -> None:
    btc = write_bars(tmp_path / "btc.csv", [(100, 110, 90, 100 + i, 1) for i in range(5)])
    # ETH bars are 2 minutes long and start 30 s later: the closes interleave unevenly
    eth = write_bars(tmp_path / "eth.csv", [(10, 20, 5, 10 + i, 1) for i in range(3)],
                     start=T0 + 30, step=120)
    _, recorder = replay({"BTC": btc, "ETH": eth})
    coins, prices, stamps = recorder.ticks()
    assert stamps == sorted(stamps)
    assert list(zip(coins, prices, stamps, strict=True)) == [
        ("BTC", 100, T0 + 60), ("BTC", 101, T0 + 120), ("ETH", 10, T0 + 150),
        ("BTC", 102, T0 + 180), ("BTC", 103, T0 + 240), ("ETH", 11, T0 + 270),
        ("BTC", 104, T0 + 300), ("ETH", 12, T0 + 390)]


def test_a_replay_at_n_times_speed_releases_no_bar_before_its_time(tmp_path: Path) -> None:
    # 41 one-minute bars: 40 minutes of data between the first and the last close
    path = write_bars(tmp_path / "btc.csv", [(100, 101, 99, 100, 1)] * 41)
    speed = 40 * 60 / 0.4  # the whole file in 0.4 s
    feed = CsvFeed({"BTC": str(path)}, speed=speed)
    feed.open()
    began = time.perf_counter()
    batches = list(feed.stream(threading.Event()))
    elapsed = time.perf_counter() - began
    assert sum(len(b) for b in batches) == 41
    assert len(batches) > 5  # released bit by bit, not in one go
    first = float(batches[0].timestamps[0])
    for batch in batches:
        due = (float(batch.timestamps[-1]) - first) / speed
        assert batch.received - began >= due - 0.005
    assert elapsed >= 0.4 - 0.005
    assert elapsed < 10  # loose: paced, not stuck


def test_at_maximum_speed_a_replay_does_not_wait(tmp_path: Path) -> None:
    feed = CsvFeed({"BTC": str(SAMPLE)}, speed=None)
    batches = drain(feed)
    assert sum(len(b) for b in batches) == 5000
    # 5,000 hours of data replayed without waiting an hour of data time per bar
    assert batches[-1].received - batches[0].received < 5


def test_the_shipped_sample_replays_to_its_end_and_the_run_finishes(engines: list[Engine]) -> None:
    from velocitas_desktop.core.strategy import StrategySpec

    engine = Engine()
    engines.append(engine)
    engine.register(StrategySpec("SMA_Crossover", "BTC"))
    engine.start(EngineConfig(source="csv", coins=["BTC"], csv_files={"BTC": str(SAMPLE)}))
    assert engine.wait(30)
    snap = engine.snapshot()
    assert engine.status == snap["global"]["status"] == "finished"
    assert snap["global"]["ticks_processed"] == 5000
    assert snap["strategies"]["BTC_SMA_Crossover"]["total_trades"] > 10
    assert engine.trades(limit=1)[0]["timestamp"] > 1_553_306_400


MALFORMED = {
    "non-numeric price": (f"{HEADER}\n{T0},1,2,0.5,1.5,3\n{T0 + 60},1,abc,0.5,1.5,3\n", 3,
                          "high is not a number"),
    "NaN price": (f"{HEADER}\n{T0},1,2,0.5,1.5,3\n{T0 + 60},1,2,0.5,nan,3\n", 3,
                  "close is not a finite number"),
    "unsorted": (f"{HEADER}\n{T0},1,2,0.5,1.5,3\n{T0 + 120},1,2,0.5,1.5,3\n"
                 f"{T0 + 60},1,2,0.5,1.5,3\n", 4, "earlier than the bar before it"),
    "duplicate": (f"{HEADER}\n{T0},1,2,0.5,1.5,3\n{T0 + 60},1,2,0.5,1.5,3\n"
                  f"{T0 + 60},1,2,0.5,1.5,3\n", 4, "duplicate timestamp"),
    "missing column": (f"{HEADER}\n{T0},1,2,0.5,1.5,3\n{T0 + 60},1,2,0.5,1.5\n", 3,
                       "expected 6 columns, found 5"),
    "unknown layout": ("a,b,c\n1,2,3\n", 1, "missing column 'timestamp'"),
    "empty": ("", None, "the file is empty"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_file_is_refused_before_anything_starts(case: str, tmp_path: Path,
                                                            engines: list[Engine]) -> None:
    text, line, problem = MALFORMED[case]
    bad = tmp_path / "eth-bad.csv"
    bad.write_text(text, encoding="utf-8")
    journal = Journal(tmp_path / "journal.sqlite3")
    engine = Engine(journal=journal)
    engines.append(engine)
    config = EngineConfig(source="csv", coins=["BTC", "ETH"], workers=2,
                          csv_files={"BTC": str(SAMPLE), "ETH": str(bad)})
    with pytest.raises(FeedError) as refused:
        engine.start(config)
    message = str(refused.value)
    assert str(bad) in message
    assert problem in message
    if line is not None:
        assert f"line {line}:" in message
    # refused before the run: no thread, no worker process, no session in the journal
    assert engine.status == "stopped"
    nothing_left_behind()
    assert journal.last_session() is None
