"""Specification of trading when the journal cannot take fills: nothing is published that is
not saved, trading pauses with one message naming the cause and the file, and resumes (by
itself, or when asked) with nothing lost and nothing twice; a free-space guard pauses before
the disk is full."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from full_disk import fill_up, small_disk
from live_engine_helpers import Recorder
from support import wait_until

from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine import writer
from velocitas_desktop.engine.config import DEFAULT_MIN_FREE_MB
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.engine.host import HostedEngine
from velocitas_desktop.engine.request import (
    SessionRequest,
    Vocabulary,
    check_config,
    session_config,
)
from velocitas_desktop.engine.writer import GUARD_SECONDS
from velocitas_desktop.store.journal import Journal

FAST_SMA = {"fast": 2, "slow": 3}
MB = 1_000_000


def journaled(path: Path) -> list[int]:
    """The fill ids in the journal, as another program reading the file sees them."""
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM fills ORDER BY id")]


def published(recorder: Recorder) -> list[int]:
    return [t["id"] for t in recorder.trades()]


def trading_engine(path: Path, engines: list[Engine],
                   disk_free: Callable[[Path], int | None] | None = None) -> tuple[Engine,
                                                                                  Recorder]:
    """An engine on a journal at ``path`` with two quick strategies, heard by a recorder."""
    engine = (Engine(journal=Journal(path), restore=False) if disk_free is None
              else Engine(journal=Journal(path), restore=False, disk_free=disk_free))
    engines.append(engine)
    recorder = Recorder()
    engine.subscribe(recorder)
    for coin in ("BTC", "ETH"):
        engine.register(StrategySpec("SMA_Crossover", coin, FAST_SMA))
    return engine, recorder


def start(engine: Engine, min_free_mb: float = 0.0, **config: Any) -> None:
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=20_000, seed=5,
                              min_free_mb=min_free_mb, **config))


def ticks_still(engine: Engine, seconds: float) -> bool:
    """No tick was processed for ``seconds``."""
    before = engine.ticks_processed
    time.sleep(seconds)
    return engine.ticks_processed == before


def lines(caplog: pytest.LogCaptureFixture, start_text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start_text)]


def test_a_full_journal_pauses_trading_and_publishes_nothing_it_has_not_saved(
        tmp_path: Path, engines: list[Engine], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "journal.sqlite3"
    engine, recorder = trading_engine(path, engines)
    start(engine)
    wait_until(lambda: len(published(recorder)) > 100, what="fills before the disk fills")
    make_room = fill_up(engine.journal)
    wait_until(lambda: engine.status == "paused", what="trading to pause")

    message = engine.status_message
    assert message.startswith(f"trading paused: the journal {path} cannot be written "
                              "(database or disk is full). Free space on its disk")
    assert {"status": "paused", "message": message} in recorder.of("engine")
    # everything a subscriber heard of is in the journal, and that stays so while paused
    ticks_then, heard = engine.ticks_processed, len(published(recorder))
    wait_until(lambda: engine.ticks_processed > ticks_then + 5_000,
               what="prices to flow on while trading is paused")
    assert len(published(recorder)) == heard
    assert set(published(recorder)) <= set(journaled(path))
    figures = engine.snapshot()["global"]
    assert figures["status"] == "paused"
    assert figures["journal"] == {"path": str(path), "state": "paused", "message": message,
                                  "pauses": 1}
    # the figures are those of the journal, exactly: no more, and no fewer
    assert figures["total_trades"] == len(journaled(path))
    assert figures["last_trade_id"] == max(journaled(path))
    assert recorder.of("metrics")[-1]["global"]["total_trades"] == len(journaled(path))
    assert all(m["global"]["last_trade_id"] is None
               or m["global"]["last_trade_id"] <= max(journaled(path))
               for m in recorder.of("metrics"))

    make_room()  # no one asks: it is tried again by itself
    wait_until(lambda: engine.status == "running", what="trading to resume by itself")
    wait_until(lambda: len(published(recorder)) > heard + 100, what="fills after resuming")
    engine.stop()

    ids = journaled(path)
    assert ids == list(range(1, len(ids) + 1))        # nothing lost
    assert published(recorder) == ids                  # each once, in order, all of them
    assert engine.snapshot()["global"]["total_trades"] == len(ids)
    assert len(lines(caplog, "trading paused")) == 1   # once, not per batch
    (resumed,) = lines(caplog, "trading resumed")
    held = re.fullmatch(f"trading resumed: the journal {re.escape(str(path))} can be written "
                        r"again; the (\d+) fills held meanwhile are saved", resumed)
    # those held when it paused, and those of batches already filled on their way to it
    assert held is not None
    assert int(held[1]) >= int(re.search(r"the (\d+) made just before", message)[1])


def test_resume_trading_tries_the_journal_at_once_and_says_why_not(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    engine, recorder = trading_engine(path, engines)
    start(engine)
    wait_until(lambda: len(published(recorder)) > 50, what="fills before the disk fills")
    make_room = fill_up(engine.journal)
    wait_until(lambda: engine.status == "paused", what="trading to pause")
    with pytest.raises(EngineError, match=r"cannot be written \(database or disk is full\)"):
        engine.resume_trading()
    assert engine.status == "paused"
    make_room()
    engine.resume_trading()
    assert engine.status == "running"
    engine.resume_trading()  # not paused: nothing to do
    engine.stop()
    assert published(recorder) == journaled(path)


def test_a_session_ending_while_the_journal_refuses_says_what_was_not_saved(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    engine, recorder = trading_engine(path, engines)
    start(engine, duration=30)
    wait_until(lambda: len(published(recorder)) > 50, what="fills before the disk fills")
    fill_up(engine.journal)
    wait_until(lambda: engine.status == "paused", what="trading to pause")
    engine.stop()

    assert engine.status == "error"
    assert engine.status_message.startswith("the session ended with ")
    assert (f"P&L samples the journal {path} could not take (database or disk is full): "
            "they are not saved, and not shown") in engine.status_message
    assert recorder.of("engine")[-1] == {"status": "error", "message": engine.status_message}
    ids = journaled(path)
    assert published(recorder) == ids
    # the figures, and the P&L history, are the journal's: not one fill more
    snapshot = engine.snapshot()
    assert snapshot["global"]["total_trades"] == len(ids)
    assert snapshot["global"]["journal"]["state"] == "failed"
    journal = engine.journal
    points = len(ids) + len(journal.pnl_history(engine.session_id))
    assert len(engine.pnl_history(limit=10**9)) == points


def test_strategies_registered_while_the_journal_is_full_are_saved_once_it_has_room(
        tmp_path: Path, engines: list[Engine], caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "journal.sqlite3"
    engine, recorder = trading_engine(path, engines)
    start(engine)
    wait_until(lambda: len(published(recorder)) > 50, what="fills before the disk fills")
    make_room = fill_up(engine.journal)
    wait_until(lambda: engine.status == "paused", what="trading to pause")
    ids = [f"BTC_RSI_{i}" for i in range(60)]  # rows a few pages long: some must be refused
    for strategy_id in ids:
        engine.register(StrategySpec("RSI", "BTC", strategy_id=strategy_id))
    refused = [r.getMessage() for r in caplog.records if "is changed but not yet saved" in
               r.getMessage()]
    assert refused, "the journal took every strategy: the test did not fill it"
    assert refused[0].endswith("it is saved as soon as the journal can be written")
    def saved() -> set[str]:
        return {spec["strategy_id"] for spec, _ in engine.journal.strategies(engine.session_id)}

    assert not set(ids) <= saved()
    make_room()
    engine.resume_trading()
    # saved with the next commit that succeeds
    wait_until(lambda: set(ids) <= saved(), what="the waiting strategies to be saved")
    engine.stop()


def test_samples_and_metric_state_held_during_a_pause_are_written_once(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    engine, recorder = trading_engine(path, engines)
    # the equity clock samples every second of the (wall-clock) prices, paused or not
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=2_000, seed=5, min_free_mb=0,
                              sample_seconds=1.0))
    wait_until(lambda: len(published(recorder)) > 20, what="fills before the disk fills")
    make_room = fill_up(engine.journal)
    wait_until(lambda: engine.status == "paused", what="trading to pause")
    samples_then = len(engine.journal.pnl_history(engine.session_id))
    ticks_then = engine.ticks_processed
    wait_until(lambda: engine.ticks_processed > ticks_then + 5_000, what="2.5 s of pause")
    make_room()
    engine.resume_trading()
    engine.stop()
    rows = engine.journal.pnl_history(engine.session_id)
    clock = [(r["strategy_id"], r["timestamp"]) for r in rows[:-2]]  # the last two: the end
    assert len(clock) == len(set(clock))
    assert len(rows) >= samples_then + 2 * 2  # two strategies sampled at least twice paused
    states = engine.journal.metric_state(engine.session_id)
    assert set(states) == {"", "BTC_SMA_Crossover", "ETH_SMA_Crossover"}
    assert engine.pnl_history(limit=10**9)[-2:] == rows[-2:]


# --- the free-space guard -------------------------------------------------------------------


class Disk:
    """The free space the engine reads (its ``disk_free`` seam), set by the test."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.readings = 0

    def __call__(self, path: Path) -> int:
        self.readings += 1
        return self.free


def test_the_free_space_kept_is_200_mb_unless_asked_and_never_negative() -> None:
    words = Vocabulary({"min_free_mb": "--min-free-mb"}, assign=" ")
    assert session_config(SessionRequest()).min_free_mb == DEFAULT_MIN_FREE_MB == 200.0
    assert session_config(SessionRequest(min_free_mb=0)).min_free_mb == 0.0  # no guard
    assert session_config(SessionRequest(min_free_mb=1_500)).min_free_mb == 1_500.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ParameterError, match=r"--min-free-mb is the free space to keep on "
                                                 r"the journal's disk, in MB: 0 or more"):
            session_config(SessionRequest(min_free_mb=bad), words=words)
    with pytest.raises(ParameterError, match="min_free_mb is the free space"):
        check_config(EngineConfig(min_free_mb=-5))


def test_start_is_refused_when_the_journals_disk_has_less_room_than_kept(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    engine, _ = trading_engine(path, engines)
    above = shutil.disk_usage(tmp_path).free / MB + 1_000_000  # a terabyte more than there is
    with pytest.raises(EngineError, match=rf"cannot start: .* free on the disk of the journal "
                                          rf"{path}, below the .* kept free; free some space"):
        start(engine, min_free_mb=above)
    assert engine.status == "stopped"


def test_trading_pauses_below_the_free_space_kept_and_resumes_ten_percent_above(
        tmp_path: Path, engines: list[Engine], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "journal.sqlite3"
    disk = Disk(free=5_000 * MB)
    engine, recorder = trading_engine(path, engines, disk_free=disk)
    start(engine, min_free_mb=200)
    wait_until(lambda: len(published(recorder)) > 50, what="fills with room to spare")

    disk.free = 150 * MB
    wait_until(lambda: engine.status == "paused", what="the guard to pause trading",
               timeout=10 * GUARD_SECONDS + 20)
    assert engine.status_message == (
        f"trading paused: 150 MB free on the disk of the journal {path}, below the 200 MB "
        "kept free; no new fills until there is more (it resumes by itself at 220 MB free)")
    # nothing is held: the fills already made on their way are written and published...
    readings = disk.readings
    wait_until(lambda: disk.readings > readings + 1, what="the guard to look again")
    heard = len(published(recorder))
    assert published(recorder) == journaled(path)
    # ... and no new one is made
    wait_until(lambda: disk.readings > readings + 3, what="the guard to look again")
    assert len(published(recorder)) == heard

    disk.free = 210 * MB  # above the minimum, not by 10%: no flapping at the line
    readings = disk.readings
    wait_until(lambda: disk.readings > readings + 2, what="the guard to look again")
    assert engine.status == "paused"
    disk.free = 230 * MB
    wait_until(lambda: engine.status == "running", what="trading to resume at 220 MB free")
    wait_until(lambda: len(published(recorder)) > heard, what="fills after resuming")
    engine.stop()
    assert published(recorder) == journaled(path)
    assert len(lines(caplog, "trading paused")) == 1
    assert lines(caplog, "trading resumed") == [
        f"trading resumed: 230 MB free on the disk of the journal {path}"]


def test_asked_to_resume_the_guard_needs_only_the_minimum(
        tmp_path: Path, engines: list[Engine]) -> None:
    disk = Disk(free=150 * MB)
    engine, _ = trading_engine(tmp_path / "journal.sqlite3", engines, disk_free=disk)
    disk.free = 5_000 * MB
    start(engine, min_free_mb=200)
    disk.free = 150 * MB
    wait_until(lambda: engine.status == "paused", what="the guard to pause trading")
    with pytest.raises(EngineError, match="150 MB free on the disk of the journal"):
        engine.resume_trading()
    disk.free = 205 * MB
    engine.resume_trading()
    assert engine.status == "running"


def test_a_guard_of_zero_never_reads_the_disk(tmp_path: Path, engines: list[Engine]) -> None:
    disk = Disk(free=0)
    engine, recorder = trading_engine(tmp_path / "journal.sqlite3", engines, disk_free=disk)
    start(engine, min_free_mb=0)
    wait_until(lambda: len(published(recorder)) > 50, what="fills")
    assert engine.status == "running"
    assert disk.readings == 0


def test_past_the_held_limit_the_session_waits_for_the_journal_instead_of_growing(
        tmp_path: Path, engines: list[Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "HELD_LIMIT", 40)
    path = tmp_path / "journal.sqlite3"
    engine, recorder = trading_engine(path, engines)
    # at full speed the clock samples often: paused, the held samples pass the limit at once
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=5, min_free_mb=0,
                              start_time=0.0))
    wait_until(lambda: len(published(recorder)) > 50, what="fills before the disk fills")
    make_room = fill_up(engine.journal)
    wait_until(lambda: engine.status == "paused", what="trading to pause")
    held = engine._session.journal_writer.held
    wait_until(lambda: held.rows >= 40, what="the held rows to reach 40")
    # the batches already filled fill the outbox; then the consumer waits
    wait_until(lambda: ticks_still(engine, 0.5), what="the consumer to wait")
    ticks, rows = engine.ticks_processed, held.rows
    time.sleep(1.0)
    assert (engine.ticks_processed, held.rows) == (ticks, rows)  # nothing taken, nothing grows
    make_room()
    engine.resume_trading()
    wait_until(lambda: engine.ticks_processed > ticks, what="prices to flow again")
    engine.stop()
    assert published(recorder) == journaled(path)


@pytest.mark.slow
def test_the_windows_engine_process_pauses_and_resumes_trading_the_same_way(
        tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", megabytes=4) as disk:
        if disk is None:
            pytest.skip("this machine does not let the test mount a small tmpfs (the engine "
                        "process's journal cannot be reached from here to fill it)")
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * 2_000_000)
        path = disk / "journal.sqlite3"
        engine = HostedEngine(journal_path=str(path), restore=False)
        recorder = Recorder()
        engine.subscribe(recorder)
        try:
            with pytest.raises(EngineError, match="the engine is not running"):
                engine.resume_trading()
            for coin in ("BTC", "ETH"):
                engine.register(StrategySpec("SMA_Crossover", coin, FAST_SMA))
            start(engine, min_free_mb=0)
            wait_until(lambda: engine.status == "paused", what="the tmpfs to fill", timeout=60)
            assert engine.status_message.startswith(
                f"trading paused: the journal {path} cannot be written (database or disk is "
                "full)")
            with pytest.raises(EngineError, match="database or disk is full"):
                engine.resume_trading()
            ballast.unlink()
            engine.resume_trading()
            assert engine.status == "running"
            engine.stop()
            wait_until(lambda: published(recorder) == journaled(path),
                       what="the last trades to cross the pipe")
        finally:
            engine.close()
        assert journaled(path) == list(range(1, len(journaled(path)) + 1))
