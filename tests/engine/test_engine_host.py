"""The engine in its own process (what the window runs): the same calls with the same answers
and errors, every event across the pipe in order, and no process left behind whatever happens
to either side."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from fakes.processes import alive, descendants
from live_engine_helpers import Recorder, nothing_left_behind
from support import wait_until

from velocitas_desktop.core.errors import ParameterError, UnknownStrategyError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import EngineConfig, EngineError, NotFoundError
from velocitas_desktop.engine.host import HostedEngine
from velocitas_desktop.server.embedded import embedded_server
from velocitas_desktop.store.journal import JournalError

FAST_SMA = {"fast": 2, "slow": 3}


@pytest.fixture
def hosted(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False)
    yield engine
    engine.close()


@pytest.mark.slow
def test_calls_answer_as_the_engine_does_with_its_own_errors(hosted):
    spec = hosted.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA))
    assert spec.id == "BTC_SMA_Crossover" and spec.params["fast"] == 2
    assert [s["strategy_id"] for s in hosted.strategies()] == ["BTC_SMA_Crossover"]
    with pytest.raises(ParameterError, match=r"fast \(5\) must be less than slow \(3\)"):
        hosted.register(StrategySpec("SMA_Crossover", "ETH", {"fast": 5, "slow": 3}))
    with pytest.raises(UnknownStrategyError, match="NoSuchThing"):
        hosted.register(StrategySpec("NoSuchThing", "BTC"))
    with pytest.raises(NotFoundError, match="ETH_RSI"):
        hosted.pause("ETH_RSI")
    with pytest.raises(EngineError, match="not running"):
        hosted.stop()
    hosted.pause("BTC_SMA_Crossover")
    assert hosted.strategy("BTC_SMA_Crossover")["status"] == "paused"
    assert hosted.update_params("BTC_SMA_Crossover", {"fast": 3, "slow": 9}).params["slow"] == 9
    assert hosted.catalog.names() == ["MACD", "Momentum", "RSI", "SMA_Crossover"]
    assert hosted.status == "stopped" and hosted.pid != os.getpid()


@pytest.mark.slow
def test_the_engine_process_yields_the_processor_to_the_window(hosted):
    from velocitas_desktop.engine.host import ENGINE_NICE

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, hosted.pid) == min(mine + ENGINE_NICE, 19)
    assert ENGINE_NICE > 0


@pytest.mark.slow
def test_every_event_crosses_in_order_and_the_state_is_mirrored(hosted):
    for coin in ("BTC", "ETH"):
        hosted.register(StrategySpec("SMA_Crossover", coin, FAST_SMA))
    recorder = Recorder()
    hosted.subscribe(recorder)
    hosted.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=7, start_time=0.0,
                              max_ticks=60_000))
    assert hosted.session_id is not None
    wait_until(lambda: hosted.status == "finished", what="the run to finish")
    wait_until(lambda: recorder.of("engine") and recorder.of("engine")[-1]["status"] == "finished",
               what="the last engine event")
    trades = recorder.trades()
    assert trades, "a fast SMA trades at once"
    assert [t["id"] for t in trades] == list(range(trades[0]["id"], trades[0]["id"] + len(trades)))
    coins, prices, _ = recorder.ticks()
    assert len(prices) == 60_000 and set(coins) == {"BTC", "ETH"}
    snapshot = hosted.snapshot()
    assert snapshot["global"]["total_trades"] == len(trades)
    assert hosted.trades(limit=len(trades) + 10) == trades  # the journal agrees with the events
    assert recorder.of("metrics")[-1]["global"]["status"] == "finished"


@pytest.mark.slow
def test_a_killed_engine_process_is_reported_and_start_opens_a_new_one(tmp_path):
    engine = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False)
    try:
        engine.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA))
        recorder = Recorder()
        engine.subscribe(recorder)
        engine.start(EngineConfig(coins=["BTC"], rate=20_000))
        wait_until(lambda: len(recorder.trades()) >= 20, what="trades before the kill")
        first_pid = engine.pid
        os.kill(first_pid, signal.SIGKILL)
        wait_until(lambda: engine.status == "error", what="the death to be noticed")
        assert "ended unexpectedly" in engine.status_message
        assert any(e["status"] == "error" and "Press Start" in e["message"]
                   for e in recorder.of("engine"))
        with pytest.raises(EngineError, match="ended unexpectedly"):
            engine.strategies()
        engine.start(EngineConfig(coins=["BTC"], rate=2_000))
        assert engine.pid != first_pid and engine.status == "running"
        # the new process restored the strategies of the session that was killed
        assert [s["strategy_id"] for s in engine.strategies()] == ["BTC_SMA_Crossover"]
        engine.stop()
    finally:
        engine.close()
    assert not alive(first_pid) and not alive(engine.pid)


@pytest.mark.slow
def test_close_ends_the_process_and_its_workers(tmp_path):
    engine = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False)
    engine.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA))
    engine.start(EngineConfig(coins=["BTC"], rate=5_000, workers=2))
    wait_until(lambda: len(descendants(engine.pid)) >= 2, what="the two worker processes")
    family = [engine.pid, *descendants(engine.pid)]
    engine.close()
    assert engine.status in ("stopped", "finished")
    wait_until(lambda: not any(alive(p) for p in family), timeout=10, what="no process left")
    nothing_left_behind()
    with pytest.raises(EngineError, match="the engine is closed"):
        engine.strategies()


@pytest.mark.slow
def test_the_engine_process_ends_when_the_window_process_dies(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        from velocitas_desktop.engine.host import HostedEngine
        from velocitas_desktop.engine.engine import EngineConfig
        from velocitas_desktop.core.strategy import StrategySpec
        if __name__ == "__main__":
            engine = HostedEngine(journal_path={str(tmp_path / "j.sqlite3")!r}, restore=False)
            engine.register(StrategySpec("RSI", "BTC"))
            engine.start(EngineConfig(coins=["BTC"], rate=2000, workers=1))
            print(engine.pid, flush=True)
            sys.stdin.readline()
    """)
    path = tmp_path / "window.py"
    path.write_text(script)
    window = subprocess.Popen([sys.executable, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        host = int(window.stdout.readline())
        wait_until(lambda: descendants(host), what="the worker of the engine process")
        family = [host, *descendants(host)]
        window.kill()  # no chance to close anything
        window.wait(10)
        wait_until(lambda: not any(alive(p) for p in family), timeout=15,
                   what="the engine process and its worker to exit")
    finally:
        if window.poll() is None:
            window.kill()


@pytest.mark.slow
def test_the_embedded_server_runs_beside_the_engine_and_serves_it(hosted):
    hosted.register(StrategySpec("RSI", "ETH"))
    server = hosted.attach(embedded_server, port=0)
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.token is None
        answer = httpx.get(f"{server.url}/api/strategies", timeout=10)
        assert answer.status_code == 200
        assert [s["strategy_id"] for s in answer.json()] == ["ETH_RSI"]
        started = httpx.post(f"{server.url}/api/engine/start",
                             json={"source": "simulated", "coins": ["ETH"], "rate": 1000},
                             timeout=10)
        assert started.status_code in (200, 202), started.text
        wait_until(lambda: hosted.status == "running", what="a start from the API")
        hosted.stop()
    finally:
        server.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/api/health", timeout=2)


@pytest.mark.slow
def test_a_journal_that_cannot_be_opened_is_a_clear_error(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    started = time.monotonic()
    with pytest.raises(JournalError):
        HostedEngine(journal_path=str(folder), restore=False)
    assert time.monotonic() - started < 30


ALTERNATING = textwrap.dedent('''
    from velocitas_desktop.core.strategy import Param, Strategy


    class Alternating(Strategy):
        """Buys and sells every ``every`` prices (a user file, for the tests)."""

        every = Param(5, low=1, high=1000)

        def init(self):
            self.seen = 0

        def next(self):
            self.seen += 1
            if self.seen % self.every:
                return None
            return self.buy() if (self.seen // self.every) % 2 else self.sell()
''')


@pytest.mark.slow
def test_user_strategy_folders_are_read_on_both_sides_and_reloaded(tmp_path):
    first, second = tmp_path / "mine", tmp_path / "more"
    first.mkdir()
    second.mkdir()
    (first / "alternating.py").write_text(ALTERNATING)
    engine = HostedEngine([str(first)], journal_path=str(tmp_path / "j.sqlite3"), restore=False)
    try:
        assert "Alternating" in engine.catalog.names()  # for the window's forms
        engine.register(StrategySpec("Alternating", "BTC", {"every": 3}))  # in the engine
        engine.start(EngineConfig(coins=["BTC"], rate=None, max_ticks=3_000, start_time=0.0))
        wait_until(lambda: engine.status == "finished", what="the run")
        assert engine.metrics("BTC_Alternating")["total_trades"] == 1_000
        (second / "broken.py").write_text("this is not python\n")
        catalog = engine.reload_catalog([str(first), str(second)])
        assert "Alternating" in catalog.names()
        assert [Path(p.path).name for p in catalog.problems] == ["broken.py"]
    finally:
        engine.close()


def test_an_event_that_cannot_cross_is_left_out_and_the_rest_arrive(tmp_path):
    import multiprocessing

    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.engine.host import _Host

    window_end, host_end = multiprocessing.Pipe()
    engine = Engine(restore=False)
    host = _Host(host_end, engine)
    sent = host._send_events([("log", {"message": "kept"}),
                              ("log", {"message": "a lambda cannot be pickled",
                                       "callback": lambda: None}),
                              ("feed", {"state": "live", "message": ""})], host.mirrored())
    assert sent
    kind, events, state = window_end.recv()
    assert kind == "events" and state["status"] == "stopped"
    assert events == [("log", {"message": "kept"}), ("feed", {"state": "live", "message": ""})]


@pytest.mark.slow
def test_a_call_that_cannot_be_sent_is_a_clear_error_and_the_next_works(hosted):
    with pytest.raises(EngineError, match=r"register\(\) could not be sent"):
        hosted.register(StrategySpec("RSI", "BTC", {"period": lambda: 14}))
    assert hosted.register(StrategySpec("RSI", "BTC")).id == "BTC_RSI"


def test_what_waits_for_a_window_that_does_not_read_is_bounded_and_counted():
    """The host's side, at any pace: ticks and fills beyond the backlog are dropped oldest
    first, every other event is kept, and the next batch starts with what was dropped."""
    import numpy as np

    from velocitas_desktop.engine.contract import Event, EventKind
    from velocitas_desktop.engine.host import _Host
    from velocitas_desktop.feeds.base import TickBatch

    host = _Host(conn=None, engine=None, backlog=(10_000, 100))  # type: ignore[arg-type]
    ids = iter(range(1, 1_000_000))
    for n in range(5_000):  # 500,000 ticks and 5,000 fills the window never reads
        batch = TickBatch(np.zeros(100, np.int16), np.full(100, 1.0), np.arange(100.0))
        host._on_event(Event(EventKind.TICKS, {"coins": ["BTC"], "batch": batch}))
        host._on_event(Event(EventKind.TRADES, [{"id": next(ids)}]))
        if n % 1_000 == 0:
            host._on_event(Event(EventKind.LOG, {"level": "info", "message": f"line {n}"}))
        assert host._held_ticks <= 10_000 and host._held_trades <= 100
        assert len(host._events) <= 10_000 // 100 + 100 + 5
    events = host._take()
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == [EventKind.GAP, EventKind.LOG]
    gap = events[0][1]
    trades = [t["id"] for kind, data in events if kind == EventKind.TRADES for t in data]
    ticks = sum(len(data["batch"]) for kind, data in events if kind == EventKind.TICKS)
    assert gap["trades"] + len(trades) == 5_000 and gap["ticks"] + ticks == 500_000
    assert (gap["first_trade_id"], gap["last_trade_id"]) == (1, trades[0] - 1)
    assert trades == list(range(trades[0], 5_001))  # the newest, none lost after the gap
    assert "the window fell behind the engine" in events[1][1]["message"]
    assert [d["message"] for kind, d in events if kind == EventKind.LOG][1:] == [
        f"line {n}" for n in range(0, 5_000, 1_000)]  # log lines are never dropped
    assert host._take() == []  # counted once


@pytest.mark.slow
def test_a_window_that_stops_reading_hears_what_it_missed_and_every_fill_is_counted(tmp_path):
    import threading

    hosted = HostedEngine(journal_path=str(tmp_path / "journal.sqlite3"), restore=False,
                          backlog=(20_000, 2_000))
    try:
        hosted.register(StrategySpec("SMA_Crossover", "BTC", FAST_SMA))
        recorder = Recorder()
        reading = threading.Event()

        def stalled_window(event):  # type: ignore[no-untyped-def]
            recorder(event)
            if event.kind == "ticks":
                reading.wait(30)  # the reader thread stops here: the pipe fills

        hosted.subscribe(stalled_window)
        hosted.start(EngineConfig(coins=["BTC"], rate=None, seed=3, start_time=0.0,
                                  max_ticks=400_000))
        time.sleep(4)  # the engine goes on, far past the backlog, with no one reading
        reading.set()
        wait_until(lambda: hosted.status == "finished", what="the run to finish")
        wait_until(lambda: recorder.of("metrics")
                   and recorder.of("metrics")[-1]["global"]["status"] == "finished",
                   what="the last metrics")
        gaps = recorder.of("gap")
        assert gaps, "nothing was dropped: the stall was too short to test the bound"
        whole = recorder.of("metrics")[-1]["global"]
        trades = [t["id"] for t in recorder.trades()]
        assert sum(g["trades"] for g in gaps) + len(trades) == whole["total_trades"]
        _, prices, _ = recorder.ticks()
        assert sum(g["ticks"] for g in gaps) + len(prices) == 400_000
        received = set(trades)
        for g in gaps:
            if g["trades"]:
                dropped = set(range(g["first_trade_id"], g["last_trade_id"] + 1))
                assert not dropped & received and len(dropped) == g["trades"]
                received |= dropped
        assert received == set(range(min(received), min(received) + whole["total_trades"]))
        assert any("fell behind" in line["message"] for line in recorder.of("log"))
    finally:
        hosted.close()
