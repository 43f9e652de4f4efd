"""The fake Binance exchange speaks Binance Spot's public market-data protocol, faults included."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.fake_exchange import DEFAULT_SYMBOLS, FakeExchange
from support import wait_until
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

# every test here runs the fake exchange (some share one per module)
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DECIMAL = re.compile(r"-?\d+\.\d{8}")
TRADE_KEYS = ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
AGG_TRADE_KEYS = ["e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"]
KLINE_KEYS = ["t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"]
TICKER_24HR_KEYS = [
    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice",
    "lastPrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice",
    "lowPrice", "volume", "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count",
]  # fmt: skip
TICKER_MINI_KEYS = [
    "symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume",
    "openTime", "closeTime", "firstId", "lastId", "count",
]  # fmt: skip
MINUTE = 60_000
PING, PONG, CLOSE = 0x9, 0xA, 0x8


# --------------------------------------------------------------------------- helpers


def recv_json(ws: ClientConnection, timeout: float = 10.0) -> Any:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws: ClientConnection, matches: Callable[[Any], bool], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = recv_json(ws, timeout=max(0.1, deadline - time.monotonic()))
        if matches(message):
            return message
    raise AssertionError("no matching message arrived")


def recv_until_closed(ws: ClientConnection, timeout: float = 15.0) -> ConnectionClosed:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed
    raise AssertionError("the server kept the connection open")


def drain(ws: ClientConnection, into: list[str], done: threading.Event) -> None:
    """Keep reading `ws` until `done` is set, as a live client does."""
    while not done.is_set():
        try:
            into.append(ws.recv(timeout=0.2))
        except TimeoutError:
            continue
        except ConnectionClosed:
            return


def fresh_minute_clock() -> Callable[[], int]:
    """An exchange clock 5 s into a minute, so per-minute weight counters don't reset mid-test."""
    now = time.time_ns() // 1_000_000
    offset = (5_000 - now % MINUTE) % MINUTE
    return lambda: time.time_ns() // 1_000_000 + offset


def is_reply(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and "id" in message
        and ("result" in message or "error" in message)
    )


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def d(value: str) -> Decimal:
    return Decimal(value)


class RawWebSocket:
    """A bare-socket WebSocket client that answers nothing unless told, to watch the server."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "server closed during the handshake"
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _frame(self) -> tuple[int, bytes] | None:
        """One complete server frame from the buffer, if there is one."""
        if len(self.buffer) < 2:
            return None
        opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            length, start = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            length, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if len(self.buffer) < start + length:
            return None
        payload = self.buffer[start : start + length]
        self.buffer = self.buffer[start + length :]
        return opcode, payload

    def next_frame(self) -> tuple[int, bytes] | None:
        """The next frame; None once the server has closed TCP. Socket timeouts propagate."""
        while (frame := self._frame()) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        return frame

    def send_frame(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def frames_until_closed(
        self, timeout: float = 15.0, heartbeat: Callable[[], None] | None = None
    ) -> list[int]:
        """Opcodes received until the server sends a close frame or drops TCP."""
        self.sock.settimeout(0.2)
        opcodes: list[int] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if heartbeat is not None:
                heartbeat()
            try:
                frame = self.next_frame()
            except TimeoutError:
                continue
            except ConnectionError:
                return opcodes
            if frame is None:
                return opcodes
            opcodes.append(frame[0])
            if frame[0] == CLOSE:
                return opcodes
        raise AssertionError("the server kept a connection open that never answered a ping")

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def exchange() -> Iterator[FakeExchange]:
    """A fault-free exchange shared by the protocol-shape tests."""
    with FakeExchange(
        DEFAULT_SYMBOLS, trade_rate=50.0, history_days=3, max_incoming_per_s=50
    ) as shared:
        yield shared


@pytest.fixture(scope="module")
def rest(exchange: FakeExchange) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        yield client


@pytest.fixture
def make_exchange() -> Iterator[Callable[..., FakeExchange]]:
    """A private exchange per test, for faults and settings that would disturb the shared one."""
    started: list[FakeExchange] = []

    def make(**options: Any) -> FakeExchange:
        options.setdefault("symbols", ("BTCUSDT", "ETHUSDT"))
        options.setdefault("trade_rate", 50.0)
        options.setdefault("history_days", 1)
        started.append(FakeExchange(**options).start())
        return started[-1]

    yield make
    for running in started:
        running.stop()


def klines(client: httpx.Client, **params: Any) -> list[list[Any]]:
    response = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", **params})
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------- REST


def test_ping_and_time_answer_with_documented_bodies_and_weight_headers(
    rest: httpx.Client, exchange: FakeExchange
) -> None:
    ping = rest.get("/api/v3/ping")
    assert ping.status_code == 200
    assert ping.json() == {}
    assert int(ping.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    assert ping.headers["Content-Type"].startswith("application/json")
    server_time = rest.get("/api/v3/time").json()["serverTime"]
    assert type(server_time) is int
    assert abs(server_time - exchange.now_ms()) < 10_000


def test_exchange_info_lists_symbols_filters_and_rate_limits(rest: httpx.Client) -> None:
    info = rest.get("/api/v3/exchangeInfo").json()
    assert info["timezone"] == "UTC"
    assert type(info["serverTime"]) is int
    weight_limit = {
        "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000,
    }  # fmt: skip
    assert weight_limit in info["rateLimits"]
    assert [s["symbol"] for s in info["symbols"]] == list(DEFAULT_SYMBOLS)

    (btc,) = rest.get("/api/v3/exchangeInfo", params={"symbol": "BTCUSDT"}).json()["symbols"]
    assert (btc["status"], btc["baseAsset"], btc["quoteAsset"]) == ("TRADING", "BTC", "USDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert btc["permissionSets"] == [["SPOT", "MARGIN"]]

    both = rest.get("/api/v3/exchangeInfo", params={"symbols": '["ETHUSDT","XRPUSDT"]'}).json()
    assert [s["symbol"] for s in both["symbols"]] == ["ETHUSDT", "XRPUSDT"]


@pytest.mark.parametrize("params", [{"symbol": "NOPEUSDT"}, {"symbols": '["BTCUSDT","NOPEUSDT"]'}])
def test_exchange_info_rejects_an_unknown_symbol_with_1121(
    rest: httpx.Client, params: dict[str, str]
) -> None:
    response = rest.get("/api/v3/exchangeInfo", params=params)
    assert response.status_code == 400
    assert response.json() == {"code": -1121, "msg": "Invalid symbol."}


def test_bad_parameters_get_binance_error_codes(rest: httpx.Client) -> None:
    def error(path: str, **params: Any) -> tuple[int, dict[str, Any]]:
        response = rest.get(path, params=params)
        return response.status_code, response.json()

    status, body = error("/api/v3/klines", symbol="btcusdt", interval="1m")
    assert (status, body["code"]) == (400, -1100)
    assert error("/api/v3/klines", symbol="BTCUSDT", interval="2m") == (
        400, {"code": -1120, "msg": "Invalid interval."},
    )  # fmt: skip
    assert error("/api/v3/klines", interval="1m")[1]["code"] == -1102
    assert error("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=1001) == (
        400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."},
    )  # fmt: skip
    assert error("/api/v3/ticker/24hr", symbol="NOPEUSDT")[1]["code"] == -1121


@pytest.mark.parametrize("path", ["/api/v3/nothing", "/api/v1/ping", "/index.html"])
def test_unknown_paths_are_404(rest: httpx.Client, path: str) -> None:
    assert rest.get(path).status_code == 404


def test_klines_are_twelve_field_rows_with_prices_as_strings(rest: httpx.Client) -> None:
    before = rest.get("/api/v3/time").json()["serverTime"]
    rows = klines(rest, interval="1m", limit=5)
    after = rest.get("/api/v3/time").json()["serverTime"]
    assert len(rows) == 5
    for row in rows:
        assert len(row) == 12
        open_time, o, h, low, c, volume, close_time, quote, count, taker, taker_quote, _ = row
        assert all(type(x) is int for x in (open_time, close_time, count))
        assert all(DECIMAL.fullmatch(x) for x in (o, h, low, c, volume, quote, taker, taker_quote))
        assert row[11] == "0"
        assert open_time % MINUTE == 0
        assert close_time == open_time + MINUTE - 1
        assert d(low) <= min(d(o), d(c)) <= max(d(o), d(c)) <= d(h)
        assert d(taker) <= d(volume)
    assert [r[0] for r in rows] == [rows[0][0] + i * MINUTE for i in range(5)]
    # Without endTime the last kline is the one still open.
    assert rows[-1][0] <= after
    assert rows[-1][6] >= before


def test_klines_follow_the_documented_ordering_rules(rest: httpx.Client) -> None:
    latest = klines(rest, interval="1m", limit=10)
    t0 = latest[0][0]

    forward = klines(rest, interval="1m", startTime=t0 - 30 * MINUTE + 1, limit=5)
    assert [r[0] for r in forward] == [t0 - (29 - i) * MINUTE for i in range(5)]

    backward = klines(rest, interval="1m", endTime=t0 + 30_000, limit=3)
    assert [r[0] for r in backward] == [t0 - 2 * MINUTE, t0 - MINUTE, t0]

    bounded = klines(rest, interval="1m", startTime=t0 - 5 * MINUTE, endTime=t0 - MINUTE, limit=100)
    assert [r[0] for r in bounded] == [t0 - (5 - i) * MINUTE for i in range(5)]

    micro = klines(rest, interval="1m", startTime=(t0 - 5 * MINUTE) * 1000, limit=1)
    assert micro[0][0] == t0 - 5 * MINUTE

    assert len(klines(rest, interval="1m")) == 500
    assert len(klines(rest, interval="1m", limit=1000)) == 1000


def test_klines_page_through_the_whole_history_without_gaps(
    rest: httpx.Client, exchange: FakeExchange
) -> None:
    opens: list[int] = []
    cursor = 0  # before the history: the first page starts at the oldest kline
    while True:
        page = klines(rest, interval="1m", startTime=cursor, limit=1000)
        opens += [row[0] for row in page]
        if len(page) < 1000:
            break
        cursor = page[-1][0] + MINUTE
    assert opens[0] == exchange.history_start_ms
    assert all(b - a == MINUTE for a, b in itertools.pairwise(opens))
    # The last page ends with the kline still open (or the one before, if a minute just ended).
    assert opens[-1] + MINUTE >= exchange.now_ms() // MINUTE * MINUTE


def test_larger_intervals_aggregate_their_minutes_and_open_on_calendar_boundaries(
    rest: httpx.Client, exchange: FakeExchange
) -> None:
    hour_open = exchange.history_start_ms + 5 * 3_600_000
    (hour,) = klines(rest, interval="1h", startTime=hour_open, limit=1)
    minutes = klines(rest, interval="1m", startTime=hour_open, endTime=hour_open + 3_599_999)
    assert hour[0] == hour_open
    assert len(minutes) == 60
    assert hour[1] == minutes[0][1]
    assert hour[4] == minutes[-1][4]
    assert d(hour[2]) == max(d(m[2]) for m in minutes)
    assert d(hour[3]) == min(d(m[3]) for m in minutes)
    for column in (5, 7, 9, 10):
        assert d(hour[column]) == sum(d(m[column]) for m in minutes)
    assert hour[8] == sum(m[8] for m in minutes)

    for week in klines(rest, interval="1w", limit=2):
        opened = datetime.fromtimestamp(week[0] / 1000, UTC)
        assert (opened.weekday(), opened.hour, opened.minute) == (0, 0, 0)
    month = klines(rest, interval="1M", limit=1)[0]
    assert datetime.fromtimestamp(month[0] / 1000, UTC).day == 1
    assert datetime.fromtimestamp((month[6] + 1) / 1000, UTC).day == 1


def test_ticker_price_and_24hr_have_the_documented_shapes(rest: httpx.Client) -> None:
    price = rest.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"}).json()
    assert list(price) == ["symbol", "price"]
    assert DECIMAL.fullmatch(price["price"])
    every = rest.get("/api/v3/ticker/price").json()
    assert [p["symbol"] for p in every] == list(DEFAULT_SYMBOLS)
    some = rest.get("/api/v3/ticker/price", params={"symbols": '["SOLUSDT","BNBUSDT"]'}).json()
    assert [p["symbol"] for p in some] == ["SOLUSDT", "BNBUSDT"]

    full = rest.get("/api/v3/ticker/24hr", params={"symbol": "ETHUSDT"}).json()
    assert list(full) == TICKER_24HR_KEYS
    assert all(
        type(full[k]) is int for k in ("openTime", "closeTime", "firstId", "lastId", "count")
    )
    assert all(
        DECIMAL.fullmatch(full[k]) for k in TICKER_24HR_KEYS[1:16] if k != "priceChangePercent"
    )
    assert re.fullmatch(r"-?\d+\.\d{3}", full["priceChangePercent"])
    assert full["closeTime"] - full["openTime"] == 86_400_000
    assert full["count"] == full["lastId"] - full["firstId"] + 1
    assert d(full["lowPrice"]) <= d(full["lastPrice"]) <= d(full["highPrice"])

    mini = rest.get("/api/v3/ticker/24hr", params={"symbol": "ETHUSDT", "type": "MINI"}).json()
    assert list(mini) == TICKER_MINI_KEYS


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [("BTCUSDT", 30_000, 120_000), ("ETHUSDT", 1_500, 6_000), ("SOLUSDT", 75, 300),
     ("BNBUSDT", 300, 1_200), ("XRPUSDT", 0.3, 1.2)],
)  # fmt: skip
def test_prices_sit_at_realistic_levels(
    rest: httpx.Client, symbol: str, low: float, high: float
) -> None:
    price = rest.get("/api/v3/ticker/price", params={"symbol": symbol}).json()["price"]
    assert low < float(price) < high


def test_microsecond_time_unit_header_switches_timestamps(rest: httpx.Client) -> None:
    micro = {"X-MBX-TIME-UNIT": "MICROSECOND"}
    assert rest.get("/api/v3/time", headers=micro).json()["serverTime"] > 10**15
    (row,) = rest.get(
        "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 1}, headers=micro
    ).json()
    assert row[0] % (MINUTE * 1000) == 0
    assert row[6] == row[0] + MINUTE * 1000 - 1
    bad = rest.get("/api/v3/time", headers={"X-MBX-TIME-UNIT": "NANOSECOND"})
    assert (bad.status_code, bad.json()["code"]) == (400, -1194)


def test_used_weight_header_counts_documented_weights(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange(clock=fresh_minute_clock())
    calls = [
        ("/api/v3/ping", {}, 1),
        ("/api/v3/time", {}, 1),
        ("/api/v3/exchangeInfo", {}, 20),
        ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"}, 2),
        ("/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/price", {}, 4),
        ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/24hr", {}, 80),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 100}, 5),
        ("/api/v3/trades", {"symbol": "BTCUSDT"}, 25),
        ("/api/v3/aggTrades", {"symbol": "BTCUSDT"}, 4),
    ]
    used = 0
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        for path, params, weight in calls:
            response = client.get(path, params=params)
            used += weight
            assert response.status_code == 200, (path, response.text)
            assert response.headers["X-MBX-USED-WEIGHT-1M"] == str(used), path
            assert response.headers["X-MBX-USED-WEIGHT"] == str(used), path
    assert exchange.stats().used_weight == used


def test_exceeding_the_weight_limit_gives_429_then_418_when_429s_are_ignored(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange(
        weight_limit=30, ban_after=2, ban_seconds=90, clock=fresh_minute_clock()
    )
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        assert client.get("/api/v3/exchangeInfo").status_code == 200

        limited = client.get("/api/v3/exchangeInfo")
        assert limited.status_code == 429
        assert limited.json() == {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 30 request weight per 1 "
            "MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
        }
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-MBX-USED-WEIGHT-1M"] == "20"
        assert client.get("/api/v3/ping").status_code == 200  # a light request still fits

        assert client.get("/api/v3/exchangeInfo").status_code == 429
        banned = client.get("/api/v3/exchangeInfo")
        assert banned.status_code == 418
        assert banned.json()["code"] == -1003
        assert banned.json()["msg"].startswith("Way too much request weight used; IP banned until")
        assert banned.headers["Retry-After"] == "90"
        assert client.get("/api/v3/ping").status_code == 418


def test_rate_limit_fault_answers_429_until_retry_after_has_passed(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    exchange.rate_limit(retry_after=1.0)
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        limited = client.get("/api/v3/ping")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.json()["code"] == -1003
        time.sleep(float(limited.headers["Retry-After"]) + 0.3)
        assert client.get("/api/v3/ping").status_code == 200


def test_admin_endpoint_injects_faults_and_reports_what_happened(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        injected = client.post("/_fake/fault", params={"kind": "rate_limit", "retry_after": "30"})
        assert injected.json() == {"ok": True, "kind": "rate_limit"}
        assert client.get("/api/v3/ping").status_code == 429
        assert client.post("/_fake/clear").status_code == 200
        assert client.get("/api/v3/ping").status_code == 200
        assert client.post("/_fake/fault", params={"kind": "meteor"}).status_code == 400
        wait_until(lambda: len(exchange.stats().last_trade_id) == 2, "trades on both symbols")
        stats = client.get("/_fake/stats").json()
    assert stats["rest_requests"]["/api/v3/ping"] == 2
    assert stats["rest_statuses"] == {"200": 1, "429": 1}
    assert set(stats["last_trade_id"]) == {"BTCUSDT", "ETHUSDT"}


# --------------------------------------------------------------------------- WebSocket streams


def test_raw_trade_stream_sends_exact_trade_payloads_with_consecutive_ids(
    exchange: FakeExchange,
) -> None:
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        trades = [recv_json(ws) for _ in range(25)]
    for trade in trades:
        assert list(trade) == TRADE_KEYS
        assert (trade["e"], trade["s"], trade["M"]) == ("trade", "BTCUSDT", True)
        assert isinstance(trade["m"], bool)
        assert DECIMAL.fullmatch(trade["p"]) and DECIMAL.fullmatch(trade["q"])
        assert all(type(trade[k]) is int for k in ("E", "t", "T"))
        assert 10**12 < trade["T"] <= trade["E"] < 10**13  # epoch milliseconds
    ids = [trade["t"] for trade in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert exchange.last_trade_id("BTCUSDT") >= ids[-1]


def test_combined_stream_wraps_events_with_their_stream_name(exchange: FakeExchange) -> None:
    seen: dict[str, Any] = {}
    url = f"{exchange.ws_url}/stream?streams=btcusdt@trade/ethusdt@aggTrade"
    with connect(url) as ws:
        while len(seen) < 2:
            message = recv_json(ws)
            assert list(message) == ["stream", "data"]
            seen.setdefault(message["stream"], message["data"])
    assert seen["btcusdt@trade"]["e"] == "trade"
    agg = seen["ethusdt@aggTrade"]
    assert list(agg) == AGG_TRADE_KEYS
    assert (agg["e"], agg["s"]) == ("aggTrade", "ETHUSDT")
    assert agg["f"] <= agg["l"]
    assert DECIMAL.fullmatch(agg["p"]) and DECIMAL.fullmatch(agg["q"])


def test_microsecond_streams_carry_microsecond_times(exchange: FakeExchange) -> None:
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade?timeUnit=MICROSECOND") as ws:
        trade = recv_json(ws)
    assert trade["T"] > 10**15 and trade["E"] > 10**15


def test_live_subscribe_unsubscribe_and_properties_get_documented_replies(
    exchange: FakeExchange,
) -> None:
    with connect(f"{exchange.ws_url}/ws") as ws:

        def call(request: Any) -> Any:
            ws.send(request if isinstance(request, str) else json.dumps(request))
            return recv_until(ws, is_reply)

        subscribe = {
            "method": "SUBSCRIBE",
            "params": ["btcusdt@trade", "btcusdt@aggTrade"],
            "id": 1,
        }
        assert call(subscribe) == {"result": None, "id": 1}
        assert recv_json(ws)["e"] in ("trade", "aggTrade")
        assert call({"method": "LIST_SUBSCRIPTIONS", "id": 2}) == {
            "result": ["btcusdt@trade", "btcusdt@aggTrade"], "id": 2,
        }  # fmt: skip

        assert call({"method": "SET_PROPERTY", "params": ["combined", True], "id": 3}) == {
            "result": None, "id": 3,
        }  # fmt: skip
        assert recv_json(ws)["stream"] in ("btcusdt@trade", "btcusdt@aggTrade")
        assert call({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}) == {
            "result": True, "id": 4,
        }  # fmt: skip

        unsubscribe = {"method": "UNSUBSCRIBE", "params": subscribe["params"], "id": "unsub-5"}
        assert call(unsubscribe) == {"result": None, "id": "unsub-5"}
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.0)
        # A well-formed stream of a symbol that does not exist is accepted and stays silent.
        assert call({"method": "SUBSCRIBE", "params": ["dogeusdt@trade"], "id": 6}) == {
            "result": None, "id": 6,
        }  # fmt: skip

        unknown = call({"method": "FETCH", "id": 7})
        assert (unknown["error"]["code"], unknown["id"]) == (2, 7)
        assert call({"method": "SUBSCRIBE", "params": ["BTCUSDT@trade"], "id": 8}) == {
            "error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 8,
        }  # fmt: skip
        assert call("{not json")["error"]["code"] == 3
        assert call({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9}) == {
            "error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 9,
        }  # fmt: skip
        assert (
            call({"method": "GET_PROPERTY", "params": ["colour"], "id": 10})["error"]["code"] == 0
        )
        assert call({"method": "LIST_SUBSCRIPTIONS", "id": {"a": 1}})["error"]["code"] == 2


def test_kline_stream_pushes_open_and_closed_klines_that_match_rest(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange(kline_push_interval=0.5)
    with connect(f"{exchange.ws_url}/ws/btcusdt@kline_1s") as ws:
        first = recv_json(ws)
        assert list(first) == ["e", "E", "s", "k"]
        assert list(first["k"]) == KLINE_KEYS
        closed = recv_until(ws, lambda m: m["k"]["x"])
        exchange.drop_kline_close(1)
        later_closes = [closed["k"]["t"]]
        while len(later_closes) < 3:
            later_closes.append(recv_until(ws, lambda m: m["k"]["x"])["k"]["t"])
    # One closing push was dropped, so somewhere a closed kline never arrived.
    assert any(b - a >= 2000 for a, b in itertools.pairwise(later_closes))

    k = closed["k"]
    assert (k["i"], k["s"], k["T"]) == ("1s", "BTCUSDT", k["t"] + 999)
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        (row,) = klines(client, interval="1s", startTime=k["t"], limit=1)
    assert row[0] == k["t"]
    assert row[1:6] == [k["o"], k["h"], k["l"], k["c"], k["v"]]
    assert (row[7], row[8], row[9], row[10]) == (k["q"], k["n"], k["V"], k["Q"])
    assert k["L"] - k["f"] + 1 == k["n"]


def test_one_minute_kline_stream_reports_the_current_minute(exchange: FakeExchange) -> None:
    with connect(f"{exchange.ws_url}/stream?streams=ethusdt@kline_1m") as ws:
        message = recv_json(ws)
    assert message["stream"] == "ethusdt@kline_1m"
    k = message["data"]["k"]
    assert k["t"] == message["data"]["E"] // MINUTE * MINUTE
    assert (k["T"], k["i"], k["x"], k["B"]) == (k["t"] + MINUTE - 1, "1m", False, "0")


def test_klines_aggregate_exactly_the_trades_that_were_streamed(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    trades: list[dict[str, Any]] = []
    aggs: list[dict[str, Any]] = []
    url = f"{exchange.ws_url}/stream?streams=btcusdt@trade/btcusdt@aggTrade"
    with connect(url) as ws:
        while not trades or trades[-1]["T"] < (trades[0]["T"] // 1000 + 3) * 1000:
            message = recv_json(ws)
            (trades if message["stream"].endswith("@trade") else aggs).append(message["data"])
    ids = [t["t"] for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))

    # Seconds whose every trade was seen: after the first trade's second, before the last's.
    first_second = (trades[0]["T"] // 1000 + 1) * 1000
    last_second = (trades[-1]["T"] // 1000 - 1) * 1000
    with httpx.Client(base_url=exchange.rest_url, timeout=20) as client:
        rows = klines(client, interval="1s", startTime=first_second, endTime=last_second)
        rest_aggs = client.get(
            "/api/v3/aggTrades", params={"symbol": "BTCUSDT", "fromId": aggs[0]["a"], "limit": 5}
        ).json()
    assert len(rows) >= 1
    for row in rows:
        inside = [t for t in trades if row[0] <= t["T"] < row[0] + 1000]
        prices = [d(t["p"]) for t in inside]
        assert (d(row[1]), d(row[4])) == (prices[0], prices[-1])
        assert (d(row[2]), d(row[3])) == (max(prices), min(prices))
        assert d(row[5]) == sum(d(t["q"]) for t in inside)
        assert d(row[7]) == sum(d(t["p"]) * d(t["q"]) for t in inside)
        assert row[8] == len(inside)
        assert d(row[9]) == sum(d(t["q"]) for t in inside if not t["m"])

    by_id = {t["t"]: t for t in trades}
    complete = [a for a in aggs if a["f"] in by_id and a["l"] in by_id]
    assert complete
    for agg in complete:
        fills = [by_id[i] for i in range(agg["f"], agg["l"] + 1)]
        assert {(f["p"], f["T"], f["m"]) for f in fills} == {(agg["p"], agg["T"], agg["m"])}
        assert d(agg["q"]) == sum(d(f["q"]) for f in fills)
    assert rest_aggs == [{k: a[k] for k in AGG_TRADE_KEYS[3:]} for a in aggs[:5]]

    window = exchange.trades("BTCUSDT", trades[0]["T"], trades[-1]["T"] + 1)
    streamed = {t["t"]: (t["p"], t["q"], t["T"], t["m"]) for t in trades}
    for trade in window:
        if trade["id"] in streamed:
            assert streamed[trade["id"]] == (
                trade["price"],
                trade["qty"],
                trade["time"],
                trade["isBuyerMaker"],
            )


def test_same_seed_gives_the_same_market_and_another_seed_does_not(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    origin, started = 1_750_000_000_000, time.monotonic_ns()

    def clock() -> int:
        return origin + (time.monotonic_ns() - started) // 1_000_000

    first, twin, other = (make_exchange(seed=s, clock=clock) for s in (7, 7, 8))
    start = first.history_start_ms
    assert first.klines("BTCUSDT", "1h", start, limit=24) == twin.klines(
        "BTCUSDT", "1h", start, limit=24
    )
    assert first.klines("BTCUSDT", "1h", start, limit=24) != other.klines(
        "BTCUSDT", "1h", start, limit=24
    )


# --------------------------------------------------------------------------- ping/pong and limits


def test_server_pings_and_drops_clients_that_do_not_answer_with_a_pong(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange(ping_interval=0.3, pong_timeout=1.0, close_timeout=1.0)
    silent = RawWebSocket(exchange.port, "/ws")
    unsolicited = RawWebSocket(exchange.port, "/ws")
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as polite:
        # websockets answers pings only while its reader keeps up, so keep consuming trades.
        received: list[str] = []
        done = threading.Event()
        reader = threading.Thread(target=drain, args=(polite, received, done))
        reader.start()
        try:
            # Unsolicited pongs are allowed but do not keep a connection alive.
            opcodes = unsolicited.frames_until_closed(
                heartbeat=lambda: unsolicited.send_frame(PONG)
            )
            assert PING in opcodes
            assert PING in silent.frames_until_closed()
        finally:
            done.set()
            reader.join(15)
            silent.close()
            unsolicited.close()
        assert len(received) > 10
        assert polite.ping().wait(10)
        assert recv_json(polite)["e"] == "trade"
    assert exchange.stats().disconnects["pong_timeout"] == 2


def test_more_than_five_control_messages_a_second_disconnects(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with connect(f"{exchange.ws_url}/ws") as ws:
        try:
            for request_id in range(8):
                ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
        except ConnectionClosed:
            pass
        closed = recv_until_closed(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1008
    assert exchange.stats().disconnects["message_rate"] == 1


def test_connections_are_closed_at_their_maximum_age(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange(max_connection_age=1.0)
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        closed = recv_until_closed(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1001
    assert exchange.stats().disconnects["max_age"] == 1


# --------------------------------------------------------------------------- faults


def test_drop_closes_connections_without_a_close_frame(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        recv_json(ws)
        exchange.drop()
        closed = recv_until_closed(ws)
    assert isinstance(closed, ConnectionClosedError)
    assert closed.rcvd is None
    wait_until(lambda: exchange.stats().connections_open == 0, "the server to forget the client")
    assert exchange.stats().disconnects == {"drop": 1}


def test_stall_keeps_tcp_open_but_sends_nothing_and_answers_no_pings(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        recv_json(ws)
        exchange.stall()
        for _ in range(100):  # let through what was already on the wire
            try:
                ws.recv(timeout=0.7)
            except TimeoutError:
                break
        pong = ws.ping()
        assert not pong.wait(0.5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        assert exchange.stats().connections_open == 1
        exchange.clear_stall()
        assert recv_json(ws)["e"] == "trade"
        assert pong.wait(10)


def test_malformed_fault_sends_invalid_json_then_recovers(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        recv_json(ws)
        exchange.malformed(3)
        texts = [ws.recv(timeout=10) for _ in range(60)]
    assert sum(not parses(text) for text in texts) == 3
    assert parses(texts[-1])


def test_duplicate_fault_resends_the_last_trades(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        ids = [recv_json(ws)["t"] for _ in range(10)]
        exchange.duplicate(3)
        ids += [recv_json(ws)["t"] for _ in range(40)]
    repeats = [count for count in Counter(ids).values() if count > 1]
    assert repeats == [2, 2, 2]


def test_out_of_order_fault_sends_older_trades_after_newer_ones(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
        recv_json(ws)
        exchange.out_of_order(3)
        trades = [recv_json(ws) for _ in range(40)]
    ids = [t["t"] for t in trades]
    late = [
        (newer, older) for newer, older in itertools.pairwise(trades) if older["t"] < newer["t"]
    ]
    assert late
    assert all(older["T"] <= newer["T"] for newer, older in late)
    assert sorted(ids) == list(range(min(ids), min(ids) + len(ids)))  # nothing lost


def test_server_shutdown_event_is_sent_raw_and_combined_then_connections_close(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    with (
        connect(f"{exchange.ws_url}/ws/btcusdt@trade") as raw,
        connect(f"{exchange.ws_url}/stream?streams=btcusdt@trade") as combined,
    ):
        recv_json(raw)
        recv_json(combined)
        exchange.server_shutdown(grace=0.5)
        event = recv_until(raw, lambda m: m.get("e") == "serverShutdown")
        assert list(event) == ["e", "E"] and type(event["E"]) is int
        wrapped = recv_until(combined, lambda m: m["stream"] == "!serverShutdown")
        assert wrapped["data"] == {"e": "serverShutdown", "E": wrapped["data"]["E"]}
        recv_until_closed(raw)
        recv_until_closed(combined)
    assert exchange.stats().disconnects["server_shutdown"] == 2


def test_refused_handshakes_get_an_http_error_until_the_fault_ends(
    make_exchange: Callable[..., FakeExchange],
) -> None:
    exchange = make_exchange()
    url = f"{exchange.ws_url}/ws/btcusdt@trade"
    exchange.refuse_handshakes(count=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=10):
            pass
        assert refused.value.response.status_code == 503
    with connect(url) as ws:
        assert recv_json(ws)["e"] == "trade"

    exchange.refuse_handshakes(seconds=60, status=429)
    with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=10):
        pass
    assert refused.value.response.status_code == 429
    exchange.clear_faults()
    with connect(url) as ws:
        assert recv_json(ws)["e"] == "trade"
    assert exchange.stats().handshakes_refused == 3


# --------------------------------------------------------------------------- ways to run it


def test_async_context_manager_serves_on_the_callers_loop() -> None:
    async def scenario() -> tuple[dict[str, Any], int]:
        async with FakeExchange(("SOLUSDT",), trade_rate=50.0, history_days=1) as exchange:
            async with async_connect(f"{exchange.ws_url}/ws/solusdt@aggTrade") as ws:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            async with httpx.AsyncClient(base_url=exchange.rest_url, timeout=20) as client:
                status = (await client.get("/api/v3/ping")).status_code
            assert exchange.stats().connections_total == 1
            return message, status

    message, status = asyncio.run(scenario())
    assert (message["e"], message["s"], status) == ("aggTrade", "SOLUSDT", 200)


def test_script_mode_prints_its_urls_and_serves_until_interrupted() -> None:
    # as its docstring and docs/binance.md say to run it by hand
    command = [
        sys.executable, "tests/fakes/fake_exchange.py",
        "--port", "0", "--symbols", "BTCUSDT,ETHUSDT", "--history-days", "1",
    ]  # fmt: skip
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
        reader.start()
        try:
            rest_url, ws_url = lines.get(timeout=30).strip(), lines.get(timeout=30).strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", rest_url)
            assert ws_url == "ws" + rest_url[len("http") :]
            assert httpx.get(f"{rest_url}/api/v3/ping", timeout=20).json() == {}
            with connect(f"{ws_url}/ws/ethusdt@trade") as ws:
                assert recv_json(ws)["s"] == "ETHUSDT"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
            reader.join(10)
        errors = process.stderr.read()
    assert lines.empty()  # nothing printed but the two URLs
    assert errors == ""
