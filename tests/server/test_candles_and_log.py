"""GET /api/candles/{coin} (the chart's bars) and GET /api/log (the engine's recent lines),
which the browser view's live page reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from support import wait_until

from velocitas_desktop.engine.contract import EventKind
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.logbook import LogBook
from velocitas_desktop.server.security import Access
from velocitas_desktop.store.journal import Journal

SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


@pytest.fixture
def client(home) -> Iterator[TestClient]:
    engine = Engine(journal=Journal(home / "journal.sqlite3"), restore=False)
    app = create_app(engine, access=Access.serving("127.0.0.1", allowed_hosts=["testserver"]))
    with TestClient(app) as client:
        yield client
    if engine.status.busy:
        engine.stop()
    engine.close()


def replay_sample(client: TestClient) -> None:
    """The bundled hourly sample replayed as fast as the engine goes, to its end."""
    reply = client.post(f"/api/engine/start?data_source=csv&csv=BTC={SAMPLE}")
    assert reply.status_code == 200, reply.text
    wait_until(lambda: client.get("/api/engine/status").json()["status"] == "finished",
               timeout=60)


# --- candles ------------------------------------------------------------------------------

def test_the_candles_of_a_replayed_file_are_its_own_bars_newest_last(client):
    replay_sample(client)
    bars = load_ohlcv(SAMPLE)
    assert len(bars.timestamp) > 1440  # so the default limit cuts
    candles = client.get("/api/candles/BTC").json()
    assert candles["coin"] == "BTC" and candles["interval"] == 3600
    assert candles["volume_unit"] == "coin"
    assert candles["time"] == bars.timestamp[-1440:].tolist()  # the default: a day of minutes
    assert candles["close"] == bars.close[-1440:].tolist()
    assert candles["high"] == bars.high[-1440:].tolist()
    newest = client.get("/api/candles/btc?limit=2").json()  # what the page polls
    assert newest["time"] == bars.timestamp[-2:].tolist()
    assert newest["open"] == bars.open[-2:].tolist()
    assert newest["volume"] == bars.volume[-2:].tolist()


def test_a_coin_without_prices_has_empty_candles_and_a_bad_symbol_is_422(client):
    empty = client.get("/api/candles/SOL").json()
    assert empty["coin"] == "SOL" and empty["time"] == [] and empty["close"] == []
    reply = client.get("/api/candles/BT-C")
    assert reply.status_code == 422 and "coin symbol" in reply.json()["detail"]


@pytest.mark.parametrize("limit", ["0", "10081", "-1", "many"])
def test_the_candle_limit_is_a_count_from_1_to_a_week_of_minutes(client, limit):
    assert client.get(f"/api/candles/BTC?limit={limit}").status_code == 422
    assert client.get("/api/candles/BTC?limit=10080").status_code == 200


# --- the log ------------------------------------------------------------------------------

def test_a_sessions_status_changes_and_log_lines_are_served_with_growing_ids(client):
    replay_sample(client)
    lines = client.get("/api/log").json()
    messages = [line["message"] for line in lines]
    assert any(m.startswith("engine running: csv feed started") for m in messages), messages
    assert "engine finished" in messages
    assert any(m.startswith("feed ") for m in messages), messages
    ids = [line["id"] for line in lines]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert all(line["level"] in ("info", "warning", "error") for line in lines)
    assert client.get(f"/api/log?after_id={ids[-1]}").json() == []
    assert client.get(f"/api/log?after_id={ids[-3]}").json() == lines[-2:]
    assert client.get("/api/log?limit=1").json() == lines[-1:]  # the newest


def test_an_engine_log_line_reaches_the_page_with_its_level(client):
    client.app.state.engine.log("warning", "a warning for the page's status bar")
    line = client.get("/api/log").json()[-1]
    assert line["level"] == "warning" and line["message"] == "a warning for the page's status bar"


def test_the_log_keeps_the_last_thousand_lines_and_their_ids():
    book = LogBook()
    for n in range(1, 1_201):
        book.add("info", f"line {n}")
    kept = book.after(0)
    assert len(kept) == 1_000
    assert kept[0] == {**kept[0], "id": 201, "message": "line 201"}
    assert kept[-1]["id"] == 1_200
    assert [line["id"] for line in book.after(1_190)] == list(range(1_191, 1_201))
    # a poller that fell behind more than it asks for gets the newest, not a stale page
    assert [line["id"] for line in book.after(100, limit=3)] == [1_198, 1_199, 1_200]


def test_levels_are_read_as_the_nearest_of_info_warning_error():
    book = LogBook()
    for level in ("warn", "debug", "critical", "ERROR", "chatter"):
        book.add(level, level)
    assert [line["level"] for line in book.after(0)] == ["warning", "info", "error", "error",
                                                         "info"]


def test_status_and_feed_changes_are_written_as_the_window_writes_them():
    book = LogBook()
    book.on_event(EventKind.ENGINE, {"status": "paused", "message": "the disk is full"})
    book.on_event(EventKind.ENGINE, {"status": "stopped", "message": ""})
    book.on_event(EventKind.FEED, {"state": "reconnecting", "message": "lost the exchange"})
    book.on_event(EventKind.FEED, {"state": "reconnecting", "message": "lost the exchange"})
    book.on_event(EventKind.FEED, {"state": "live", "message": "binance BTC"})
    book.on_event(EventKind.METRICS, {"global": {}, "strategies": {}})
    book.on_event(EventKind.LOG, {"level": "error", "message": "strategy X failed",
                                  "time": 1_700_000_000.0})
    lines = book.after(0)
    assert [(line["level"], line["message"]) for line in lines] == [
        ("warning", "engine paused: the disk is full"), ("info", "engine stopped"),
        ("warning", "feed reconnecting: lost the exchange"), ("info", "feed live: binance BTC"),
        ("error", "strategy X failed")]
    assert lines[-1]["time"] == 1_700_000_000.0
