"""A real server on 127.0.0.1 whose journal runs out of room, and a real WebSocket client: every
trade the client receives is in the journal, before, during and after the pause; the API says
why trading is paused and where; nothing is lost or sent twice when room comes back."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from full_disk import fill_up, small_disk
from server_helpers import ws_url
from support import wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.server.runner import ServerThread
from velocitas_desktop.store.journal import Journal

pytestmark = pytest.mark.slow  # a server, and a client of it

LISTEN_SECONDS = 120  # the client's loop ends by itself after this, whatever happens


def journaled(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM fills ORDER BY id")]


class Client:
    """A /ws/trades client on its own thread, keeping every trade id it receives."""

    def __init__(self, url: str) -> None:
        self.ids: list[int] = []
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(url,), daemon=True)
        self._thread.start()
        assert self._connected.wait(30), "the WebSocket client could not connect"

    def _listen(self, url: str) -> None:
        deadline = time.monotonic() + LISTEN_SECONDS
        with connect(url, max_queue=None) as ws:
            self._connected.set()
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    message = json.loads(ws.recv(timeout=0.2))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                trades = message["trades"] if message["type"] == "trades" else [message]
                self.ids.extend(t["id"] for t in trades)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture(params=["max_page_count", "a 4 MB tmpfs"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path
              ) -> Iterator[tuple[Path, Callable[[Journal], Callable[[], None]]]]:
    """(the journal's path, ``fills(journal)`` → ``make_room``): a journal that runs out of
    room, by SQLite's page limit everywhere, or on a real small disk where one can be made."""
    if request.param == "max_page_count":
        yield tmp_path / "journal.sqlite3", fill_up
        return
    with small_disk(tmp_path / "disk", megabytes=4) as disk:
        if disk is None:
            pytest.skip("this machine does not let the test mount a small tmpfs; the "
                        "max_page_count case fails the journal the same way")
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * 2_000_000)

        def fills_by_itself(journal: Journal) -> Callable[[], None]:
            return ballast.unlink

        yield disk / "journal.sqlite3", fills_by_itself


def test_every_trade_a_websocket_client_received_is_in_the_journal_across_a_pause(
        full_disk: tuple[Path, Callable[[Journal], Callable[[], None]]],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path, run_out_of_room = full_disk
    engine = Engine(journal=Journal(path), restore=False)
    server = ServerThread(engine, port=0, engine_defaults=EngineConfig(min_free_mb=0))
    server.start()
    api = httpx.Client(base_url=server.url, timeout=30)
    client = Client(ws_url(server, "/ws/trades?batch=true"))
    try:
        for coin in ("BTC", "ETH"):
            api.post("/api/strategies/register", json={
                "name": "SMA_Crossover", "coin": coin, "params": {"fast": 2, "slow": 3},
                "timeframe": "tick"}).raise_for_status()
        api.post("/api/engine/start?rate=20000&seed=7").raise_for_status()
        wait_until(lambda: len(client.ids) > 200, what="trades before the disk fills")
        make_room = run_out_of_room(engine.journal)
        wait_until(lambda: api.get("/api/engine/status").json()["status"] == "paused",
                   what="trading to pause", timeout=60)

        status = api.get("/api/engine/status").json()
        assert status["message"].startswith(f"trading paused: the journal {path} cannot be "
                                            "written (database or disk is full). ")
        time.sleep(1.0)  # paused a while: nothing reaches the client that is not saved
        assert set(client.ids) <= set(journaled(path))
        figures = api.get("/api/metrics").json()["global"]
        assert figures["journal"]["state"] == "paused"
        assert figures["total_trades"] == len(journaled(path))

        refused = api.post("/api/engine/resume-trading")  # the window's Resume trading
        assert refused.status_code == 409 and "full" in refused.json()["detail"]

        make_room()
        wait_until(lambda: api.get("/api/engine/status").json()["status"] == "running",
                   what="trading to resume by itself", timeout=60)
        resumed_at = len(client.ids)
        wait_until(lambda: len(client.ids) > resumed_at + 100, what="trades after resuming")
        api.post("/api/engine/stop").raise_for_status()
        wait_until(lambda: len(client.ids) >= len(journaled(path)),
                   what="the client to receive the last trades")
    finally:
        client.close()
        api.close()
        server.stop()
        engine.close()
    ids = journaled(path)
    assert client.ids == ids                      # each once, in order
    assert ids == list(range(1, len(ids) + 1))    # none lost
    paused = [r for r in caplog.records if r.getMessage().startswith("trading paused")]
    assert len(paused) == 1
