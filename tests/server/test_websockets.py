"""The WebSocket streams over a real server: every trade in order without gaps, replay after a
reconnect with no gap or duplicate at the seam, metrics every second (slow clients:
test_fanout.py)."""

from __future__ import annotations

import json
import time

import pytest
from server_helpers import journal_ids, start_trading, ws_url
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# every test here talks to the server over WebSockets (uvicorn on 127.0.0.1)
pytestmark = pytest.mark.slow


def open_ws(server, path: str, **options):
    """A client that buffers whatever arrives (the default stops reading after 16 frames,
    which would stall the closing handshake behind unread trades)."""
    return connect(ws_url(server, path), max_queue=None, **options)


def collect(ws, count: int, timeout: float = 30.0) -> list[dict]:
    received: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        received.extend(message["trades"] if message["type"] == "trades" else [message])
    return received


def test_every_trade_arrives_once_in_order_as_in_the_journal(server):
    with open_ws(server, "/ws/trades") as ws:
        start_trading(server)
        trades = collect(ws, 400)
    ids = [t["id"] for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert ids == journal_ids(server, ids[0] - 1, ids[-1])
    first = trades[0]
    assert first["type"] == "trade" and first["action"] in ("BUY", "SELL")
    assert {"strategy_id", "coin", "price", "quantity", "timestamp", "profit_loss",
            "position_size", "fee", "sent_at"} <= set(first)


def test_batch_mode_sends_the_same_trades_in_fewer_frames(server):
    with open_ws(server, "/ws/trades?batch=true") as batched, \
            open_ws(server, "/ws/trades") as single:
        start_trading(server)
        frame = json.loads(batched.recv(timeout=30))
        assert frame["type"] == "trades" and frame["trades"][0]["type"] == "trade"
        first = frame["trades"][0]["id"]
        more = collect(batched, 300)
        per_trade = [t for t in collect(single, 600) if t["id"] >= first]
    ids = [first] + [t["id"] for t in frame["trades"][1:]] + [t["id"] for t in more]
    assert ids == list(range(first, first + len(ids)))
    assert [t["id"] for t in per_trade][:300] == ids[:300]


def test_reconnect_with_after_id_replays_then_goes_live_without_gap_or_duplicate(server):
    with open_ws(server, "/ws/trades") as ws:
        start_trading(server)
        seen = collect(ws, 200)
    last = seen[-1]["id"]
    time.sleep(0.3)  # trades happen while the client is away
    with open_ws(server, f"/ws/trades?after_id={last}") as ws:
        again = collect(ws, 3000)  # the replay and well past the seam into live trades
    ids = [t["id"] for t in again]
    assert ids[0] == last + 1
    assert ids == list(range(last + 1, last + 1 + len(ids)))
    assert ids == journal_ids(server, last, ids[-1])


def test_after_id_works_in_batch_mode_too(server):
    with open_ws(server, "/ws/trades") as ws:
        start_trading(server)
        last = collect(ws, 50)[-1]["id"]
    with open_ws(server, f"/ws/trades?after_id={last}&batch=1") as ws:
        ids = [t["id"] for t in collect(ws, 2000)]
    assert ids == list(range(last + 1, last + 1 + len(ids)))


def test_metrics_arrive_every_second_in_the_seed_shape(server):
    start_trading(server, rate=2000)
    with open_ws(server, "/ws/metrics") as ws:
        first = json.loads(ws.recv(timeout=30))
        began = time.monotonic()
        second = json.loads(ws.recv(timeout=30))
        gap = time.monotonic() - began
    assert first["type"] == "metrics" and set(first) == {"type", "global", "strategies"}
    assert set(first["strategies"]) == {"BTC_Momentum", "ETH_Momentum", "BTC_SMA_Crossover",
                                        "ETH_SMA_Crossover"}
    assert second["global"]["status"] == "running"
    assert 0.5 < gap < 5  # about a second (loose: the machine is shared)


def test_websockets_need_the_token_when_one_is_set(engine):
    from velocitas_desktop.server.runner import ServerThread

    server = ServerThread(engine, port=0, token="tok")
    server.start()
    try:
        for path in ("/ws/trades", "/ws/metrics", "/ws/trades?token=wrong"):
            with open_ws(server, path) as ws, pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=30)
            assert caught.value.rcvd.code == 1008
        with open_ws(server, "/ws/metrics?token=tok") as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "metrics"
        with open_ws(server, "/ws/metrics",
                     additional_headers={"Authorization": "Bearer tok"}) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "metrics"
    finally:
        server.stop()


def test_a_large_burst_is_split_into_frames_of_at_most_1000_trades(server):
    server.app.state.hub.flush_interval = 1.0  # so each fan-out carries a few thousand trades
    with open_ws(server, "/ws/trades?batch=true") as ws:
        start_trading(server, rate=20_000)
        frames = [json.loads(ws.recv(timeout=30))["trades"] for _ in range(6)]
    sizes = [len(f) for f in frames]
    assert max(sizes) == 1000 and all(size <= 1000 for size in sizes)
    ids = [t["id"] for f in frames for t in f]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
