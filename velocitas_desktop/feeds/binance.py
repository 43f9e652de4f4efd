"""The binance feed: live trades over one combined WebSocket, with REST backfill and recovery.

The socket runs on its own asyncio thread and only appends to a buffer, so it is never held up
by a full engine queue. The producer thread takes what has arrived as one batch. Trades are
de-duplicated and ordered by their trade id per symbol: nothing a strategy sees is repeated or
older than what it saw. After a reconnect, the gap is filled from closed 1-minute klines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection, connect

from velocitas_desktop.core.candles import Pieces
from velocitas_desktop.feeds.base import Feed, FeedError, FeedState, TickBatch
from velocitas_desktop.feeds.binance_rest import (
    MAX_KLINES,
    BinanceRest,
    Patience,
    UnknownSymbolError,
)
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL, BINANCE_WS_URL

log = logging.getLogger(__name__)

KLINE_MS = 60_000            # backfill uses closed 1-minute klines
RECENT_IDS = 4096            # trade ids remembered per symbol to name duplicates
SERVER_SHUTDOWN = "server shutdown"
PLANNED = "planned reconnect before Binance's 24-hour limit"
# A live start fails fast rather than sit behind a long ban: two waits of up to a minute each,
# and no retry of a network failure (the stream's own reconnects take over once it runs).
REST_PATIENCE = Patience(max_wait=60.0, refusals=2, retries=0)


@dataclass(slots=True)
class BinanceSettings:
    """Endpoints and the recovery policy. Tests point the URLs at a fake exchange."""

    rest_url: str = BINANCE_REST_URL
    ws_url: str = BINANCE_WS_URL
    quote_asset: str = "USDT"
    stream: str = "trade"                  # or "aggTrade"
    connect_timeout: float = 10.0          # REST and WebSocket handshakes
    stall_seconds: float = 30.0            # no message for this long = a dead connection
    backoff_cap: float = 60.0              # seconds, the longest wait between reconnects
    backoff_base: float = 1.0
    max_attempts: int | None = None        # reconnect attempts in a row before failing
    first_connect_attempts: int | None = 5  # a stream never reached once fails after these
    planned_reconnect: float = 23.5 * 3600  # before Binance's 24-hour cut
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    warmup_klines: int = 500


class BinanceFeed(Feed):
    """Ticks from Binance's ``<symbol>@trade`` streams for ``coins`` (BTC → BTCUSDT)."""

    name = "binance"
    replay = False

    def __init__(self, coins: list[str], rest_url: str | None = None, ws_url: str | None = None,
                 quote_asset: str = "USDT", settings: BinanceSettings | None = None) -> None:
        super().__init__(coins)
        self.settings = settings or BinanceSettings()
        if rest_url:
            self.settings.rest_url = rest_url
        if ws_url:
            self.settings.ws_url = ws_url
        if quote_asset:
            self.settings.quote_asset = quote_asset.upper()
        self.settings.rest_url = self.settings.rest_url.rstrip("/")
        self.settings.ws_url = _stream_base(self.settings.ws_url)
        self.symbols = [f"{coin}{self.settings.quote_asset}" for coin in coins]
        self._index = {symbol: i for i, symbol in enumerate(self.symbols)}
        self._last_id = [-1] * len(coins)       # last trade id delivered, per symbol
        self._last_time = [0.0] * len(coins)    # its time, in seconds
        # ids delivered lately, to tell a repeated trade (duplicate) from a late one
        self._recent = [_RecentIds(RECENT_IDS) for _ in coins]
        self._buffer: list[tuple[int, float, float]] = []
        self._buffer_lock = threading.Lock()
        self._arrived = threading.Event()
        self._warmup: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._warmup_bars: dict[str, Pieces] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.state = FeedState.IDLE
        self._failure = ""
        self._last_message = 0.0
        self.stats = {"messages": 0, "malformed": 0, "duplicates": 0, "out_of_order": 0,
                      "reconnects": 0, "backfilled": 0}

    # --- before the run ------------------------------------------------------------------

    def open(self) -> None:
        """Check the symbols with exchangeInfo and fetch warm-up klines; FeedError if not."""
        self._set_state(FeedState.CONNECTING, f"checking {', '.join(self.symbols)} on {self.rest_host}")
        with self._rest() as rest:
            self._check_symbols(rest)
            for coin, symbol in zip(self.coins, self.symbols, strict=True):
                rows = self._kline_rows(rest, symbol, None, self.settings.warmup_klines)
                closes, stamps = _closes(rows)
                self._warmup[coin] = (closes, stamps)
                self._warmup_bars[coin] = _bars(rows)
                if stamps.size:
                    self._last_time[self._index[symbol]] = float(stamps[-1])

    @property
    def rest_host(self) -> str:
        return self.settings.rest_url

    def _rest(self) -> BinanceRest:
        return BinanceRest(self.settings.rest_url, timeout=self.settings.connect_timeout,
                           patience=REST_PATIENCE, wait=self._pause)

    def _pause(self, seconds: float, note: str) -> bool:
        """Wait as Binance asks, unless the feed is closed meanwhile (then False)."""
        return not self._stop.wait(seconds)

    def _check_symbols(self, rest: BinanceRest) -> None:
        known: dict[str, str] = {}
        for symbol in self.symbols:
            try:
                info = rest.exchange_info(symbol)
            except UnknownSymbolError:
                coin = self.coins[self._index[symbol]]
                raise FeedError(f"Binance has no {symbol} market, so {coin} cannot be "
                                f"traded against {self.settings.quote_asset}; check the "
                                "coin or the quote asset") from None
            for item in info.get("symbols", []):  # type: ignore[union-attr]
                known[item["symbol"]] = item.get("status", "")
        for symbol in self.symbols:
            status = known.get(symbol)
            if status is None:
                raise FeedError(f"Binance has no {symbol} market")
            if status != "TRADING":
                raise FeedError(f"{symbol} is not trading on Binance now (status {status})")

    def _closed_klines(self, rest: BinanceRest, symbol: str, start_ms: int | None,
                       limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(close prices, close times in s) of closed 1m klines, oldest first, paged."""
        return _closes(self._kline_rows(rest, symbol, start_ms, limit))

    def _kline_rows(self, rest: BinanceRest, symbol: str, start_ms: int | None,
                    limit: int) -> list[list]:
        """Closed 1m klines as Binance sends them, oldest first, paged."""
        kept: list[list] = []
        now_ms = rest.server_time_ms()
        while True:
            params: dict = {"symbol": symbol, "interval": "1m",
                            "limit": min(MAX_KLINES, limit - len(kept))}
            if start_ms is not None:
                params["startTime"] = start_ms
            rows = rest.get("/api/v3/klines", params)
            if not isinstance(rows, list):
                raise FeedError(f"Binance sent an unexpected klines answer for {symbol}")
            # the still-open kline is left out
            kept.extend(row for row in rows if int(row[6]) < now_ms)
            if start_ms is None or len(rows) < params["limit"] or len(kept) >= limit:
                break
            start_ms = int(rows[-1][0]) + KLINE_MS
        return kept

    def history(self, coin: str, count: int) -> tuple[np.ndarray, np.ndarray] | None:
        closes, stamps = self._warmup.get(coin, (np.empty(0), np.empty(0)))
        return closes[-count:], stamps[-count:]

    def history_bars(self, coin: str) -> tuple[Pieces, float] | None:
        """The warm-up klines as one-minute candles, their volume the number of trades (as
        the live trades are counted, one tick each)."""
        bars = self._warmup_bars.get(coin)
        return (bars, KLINE_MS / 1000.0) if bars is not None and len(bars) else None

    # --- the run ------------------------------------------------------------------------

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_socket, name="velocitas-binance",
                                        daemon=True)
        self._thread.start()
        try:
            while not stop.is_set() and self.state != FeedState.FAILED:
                if not self._arrived.wait(0.05):
                    continue
                with self._buffer_lock:
                    ticks, self._buffer = self._buffer, []
                    self._arrived.clear()
                if ticks:
                    ids, prices, stamps = zip(*ticks, strict=True)
                    yield TickBatch(np.array(ids, dtype=np.int16), np.array(prices),
                                    np.array(stamps), time.perf_counter())
            if self.state == FeedState.FAILED:
                raise FeedError(self._failure)
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(lambda: None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run_socket(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._socket_loop())
        except Exception as exc:  # never let the socket thread die silently
            log.exception("binance socket loop crashed")
            self._fail(f"the Binance connection failed: {exc}")
        finally:
            loop.close()

    @property
    def stream_url(self) -> str:
        names = "/".join(f"{s.lower()}@{self.settings.stream}" for s in self.symbols)
        return f"{self.settings.ws_url}/stream?streams={quote(names, safe='/@')}"

    async def _socket_loop(self) -> None:
        attempt = 0
        first = True  # no connection has been made yet
        while not self._stop.is_set():
            if not first:
                await self._backfill_gap()
            self._set_state(FeedState.CONNECTING if first else FeedState.RECONNECTING,
                            f"connecting to {self.settings.ws_url}")
            try:
                async with connect(self.stream_url, open_timeout=self.settings.connect_timeout,
                                   ping_interval=self.settings.ping_interval,
                                   ping_timeout=self.settings.ping_timeout,
                                   close_timeout=1.0, max_size=2**20) as socket:
                    attempt = 0
                    first = False
                    self._set_state(FeedState.LIVE, f"live: {', '.join(self.symbols)}")
                    reason = await self._read(socket)
            except (TimeoutError, OSError, websockets.InvalidHandshake, websockets.ConnectionClosed, websockets.InvalidURI) as exc:
                reason = _describe(exc)
            if self._stop.is_set():
                return
            self.stats["reconnects"] += 1
            if reason in (SERVER_SHUTDOWN, PLANNED):
                # not a failure: the old connection worked, so the new one goes at once
                self._set_state(FeedState.RECONNECTING, f"{reason}; reconnecting now")
                continue
            attempt += 1
            never = self.settings.first_connect_attempts
            if first and never is not None and attempt >= never:
                self._fail(f"cannot reach the Binance stream at {self.settings.ws_url} after "
                           f"{attempt} attempts ({reason}); check the WebSocket address "
                           "(--binance-ws-url) and your connection")
                return
            if self.settings.max_attempts is not None and attempt > self.settings.max_attempts:
                self._fail(f"lost Binance and could not reconnect after {attempt - 1} "
                           f"attempts ({reason})")
                return
            wait = self._backoff(attempt)
            self._set_state(FeedState.RECONNECTING, f"{reason}; reconnecting in {wait:.1f} s "
                                          f"(attempt {attempt})")
            await self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter: base + U(0, min(cap, 2^n − 1))."""
        span = min(self.settings.backoff_cap, 2.0 ** min(attempt, 30) - 1.0)
        return self.settings.backoff_base * (0.5 + 0.5 * random.random()) + random.random() * span

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, deadline - time.monotonic()))

    async def _read(self, socket: ClientConnection) -> str:
        """Read until the connection must be replaced; returns why."""
        opened = self._last_message = time.monotonic()
        stall = self.settings.stall_seconds
        while not self._stop.is_set():
            if time.monotonic() - opened > self.settings.planned_reconnect:
                await socket.close()
                return PLANNED
            try:
                raw = await asyncio.wait_for(socket.recv(), timeout=min(stall, 0.25))
            except TimeoutError:
                if time.monotonic() - self._last_message > stall:
                    self._set_state(FeedState.STALLED, f"no data for {stall:g} s")
                    socket.transport.abort()  # the peer is not answering: do not wait for it
                    return f"stalled (no data for {stall:g} s)"
                continue
            self._last_message = time.monotonic()
            if self._handle(raw) == "shutdown":
                await socket.close()
                return SERVER_SHUTDOWN
        return "stopped"

    def _handle(self, raw: str | bytes) -> str | None:
        self.stats["messages"] += 1
        try:
            message = json.loads(raw)
            data = message.get("data", message) if isinstance(message, dict) else None
            kind = data.get("e") if isinstance(data, dict) else None
        except (ValueError, AttributeError):
            self.stats["malformed"] += 1
            return None
        if kind == "serverShutdown":
            return "shutdown"
        if kind not in ("trade", "aggTrade"):
            return None
        try:
            index = self._index[data["s"]]
            trade_id = int(data["t"] if kind == "trade" else data["a"])
            price = float(data["p"])
            stamp = int(data["T"]) / 1000.0
        except (KeyError, TypeError, ValueError):
            self.stats["malformed"] += 1
            return None
        if trade_id <= self._last_id[index]:
            repeated = trade_id in self._recent[index]
            self.stats["duplicates" if repeated else "out_of_order"] += 1
            return None
        if stamp < self._last_time[index]:
            stamp = self._last_time[index]  # never let time run backwards for a strategy
        self._last_id[index] = trade_id
        self._last_time[index] = stamp
        self._recent[index].add(trade_id)
        self._push([(index, price, stamp)])
        return None

    def _push(self, ticks: list[tuple[int, float, float]]) -> None:
        with self._buffer_lock:
            self._buffer.extend(ticks)
            self._arrived.set()

    async def _backfill_gap(self) -> None:
        """Fill the time since the last tick with closed 1-minute klines (REST)."""
        try:
            await asyncio.to_thread(self._backfill_blocking)
        except FeedError as exc:
            self._set_state(FeedState.RECONNECTING, f"could not backfill the gap: {exc}")

    def _backfill_blocking(self) -> None:
        with self._rest() as rest:
            for index, symbol in enumerate(self.symbols):
                since = self._last_time[index]
                if since <= 0:
                    continue
                # from the kline holding the last tick: its close is news if it closed later
                start_ms = int(since * 1000) // KLINE_MS * KLINE_MS
                closes, stamps = self._closed_klines(rest, symbol, start_ms, 24 * 60)
                fresh = stamps > since
                ticks = [(index, float(p), float(t))
                         for p, t in zip(closes[fresh], stamps[fresh], strict=True)]
                if ticks:
                    self._last_time[index] = ticks[-1][2]
                    self.stats["backfilled"] += len(ticks)
                    self._push(ticks)

    # --- state ---------------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        self._failure = message
        self._set_state(FeedState.FAILED, message)
        self._arrived.set()

    def _set_state(self, state: str, message: str) -> None:
        if state == self.state and state == FeedState.LIVE:
            return
        self.state = state
        self.on_status(state, message)


class _RecentIds:
    """The last ``size`` ids added, for membership tests (a bounded set)."""

    def __init__(self, size: int) -> None:
        self._order: deque[int] = deque()
        self._ids: set[int] = set()
        self._size = size

    def add(self, trade_id: int) -> None:
        self._order.append(trade_id)
        self._ids.add(trade_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())

    def __contains__(self, trade_id: int) -> bool:
        return trade_id in self._ids


def _stream_base(url: str) -> str:
    """The host part of a stream URL: Binance's pages often quote it with ``/ws`` or
    ``/stream`` on the end, and the feed adds ``/stream?streams=...`` itself."""
    url = url.strip().rstrip("/")
    for suffix in ("/ws", "/stream"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _describe(exc: BaseException) -> str:
    if isinstance(exc, websockets.ConnectionClosed):
        return "the connection closed"
    if isinstance(exc, websockets.InvalidHandshake):
        return f"the handshake was refused ({exc})"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "the connection timed out"
    with contextlib.suppress(Exception):
        return f"cannot connect ({exc.strerror or exc})"  # type: ignore[attr-defined]
    return f"cannot connect ({exc})"


def _closes(rows: list[list]) -> tuple[np.ndarray, np.ndarray]:
    """(close prices, close times in s) of klines: each close is a tick at the full minute."""
    return (np.array([float(row[4]) for row in rows], dtype=float),
            np.array([(int(row[6]) + 1) / 1000.0 for row in rows], dtype=float))


def _bars(rows: list[list]) -> Pieces:
    """Klines as candles: open time in s, OHLC, and the number of trades as the volume."""
    table = np.array([[int(r[0]) / 1000.0, float(r[1]), float(r[2]), float(r[3]), float(r[4]),
                       float(r[8])] for r in rows], dtype=float).reshape(-1, 6)
    return Pieces(*table.T.copy())
