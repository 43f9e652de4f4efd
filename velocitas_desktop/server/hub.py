"""Fan-out of the engine's events to WebSocket clients, without ever blocking the engine.

The engine calls :meth:`Hub.on_event` on its own threads. That callback does one thing: a
non-blocking hand-off into the server's asyncio loop (``call_soon_threadsafe``). On the loop,
trades are serialised once and appended to every client's own bounded buffer, at most once
per ``FLUSH_INTERVAL`` (a burst of engine batches becomes one frame per client, not dozens);
a client whose buffer is full is dropped, so a slow or stuck client never slows the engine
or the other clients. Metrics snapshots are cached the same way: the engine's periodic
``metrics`` event is kept as the latest snapshot, and any control change invalidates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.engine.contract import Event, EventKind, TradingEngine

log = logging.getLogger(__name__)

CLIENT_BUFFER_TRADES = 20_000   # trades waiting for one client before it is dropped
FLUSH_INTERVAL = 0.02           # seconds: at most one fan-out per interval (bursts coalesce)
METRICS_MAX_AGE = 2.0           # seconds; the engine refreshes every 0.5 s while running


def dumps(value: Any) -> str:
    """JSON text; NaN and infinities (not JSON) become null."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError:  # rare, so the common case pays no conversion
        return json.dumps(finite_or_none(value), allow_nan=False, separators=(",", ":"))


@dataclass(slots=True)
class TradeBatch:
    """The trades of one fan-out, serialised once for every client."""

    ids: list[int]
    messages: list[str]                 # one ``{"type": "trade", ...}`` JSON text per trade
    joined: str = ""                    # the messages joined by commas, made on first use
    whole: str = ""                     # the batch-mode frame of just this batch, on first use

    def body(self) -> str:
        if not self.joined:
            self.joined = ",".join(self.messages)
        return self.joined

    def frame(self) -> str:
        if not self.whole:
            self.whole = batch_frame([self.body()])
        return self.whole


def trade_message(trade: dict[str, Any], sent_at: float) -> str:
    return dumps({"type": "trade", **trade, "sent_at": sent_at})


def batch_frame(bodies: list[str]) -> str:
    return '{"type":"trades","trades":[' + ",".join(b for b in bodies if b) + "]}"


@dataclass(eq=False)
class TradeClient:
    """One /ws/trades connection's bounded buffer, filled on the loop, drained by its sender."""

    limit: int
    pending: deque[TradeBatch] = field(default_factory=deque)
    pending_trades: int = 0
    last_id: int = 0                    # the last trade id sent (or replayed) to the client
    dropped: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    on_drop: Callable[[], None] | None = None

    def offer(self, batch: TradeBatch) -> None:
        if self.dropped:
            return
        if self.pending_trades + len(batch.ids) > self.limit:
            self.dropped = True
            self.pending.clear()
            self.pending_trades = 0
            if self.on_drop is not None:
                self.on_drop()
        else:
            self.pending.append(batch)
            self.pending_trades += len(batch.ids)
        self.wake.set()

    def take(self) -> list[TradeBatch]:
        items = list(self.pending)
        self.pending.clear()
        self.pending_trades = 0
        self.wake.clear()
        return items


class MetricsCache:
    """The latest ``{"global", "strategies"}`` snapshot and its JSON, shared by every reader."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.generation = 0             # bumped on every change that is not periodic
        self.live = False               # True while subscribed: only then is a cache trusted
        self._entry: tuple[int, float, dict[str, Any]] | None = None
        self._texts: tuple[dict[str, Any], str, str] | None = None
        self._refresh = threading.Lock()

    def invalidate(self) -> None:
        self.generation += 1

    def offer(self, snapshot: dict[str, Any]) -> None:
        """A snapshot the engine made anyway (its periodic metrics event)."""
        self._entry = (self.generation, time.monotonic(), snapshot)

    def _fresh(self) -> tuple[int, float, dict[str, Any]] | None:
        entry = self._entry
        if entry is None or entry[0] != self.generation or not self.live:
            return None
        if time.monotonic() - entry[1] > METRICS_MAX_AGE:
            return None
        return entry

    def snapshot(self) -> dict[str, Any]:
        """The cached snapshot, or a new one. Blocking (takes the engine's lock): call it from
        a worker thread, not the event loop."""
        entry = self._fresh()
        if entry is None:
            with self._refresh:             # one refresh at a time; the others reuse it
                entry = self._fresh()
                if entry is None:
                    generation = self.generation
                    entry = (generation, time.monotonic(), self.engine.snapshot())
                    self._entry = entry
        return entry[2]

    def cached(self) -> dict[str, Any] | None:
        entry = self._fresh()
        return None if entry is None else entry[2]

    def texts(self, snapshot: dict[str, Any]) -> tuple[str, str]:
        """(REST body, WebSocket message) for ``snapshot``, serialised once."""
        memo = self._texts
        if memo is None or memo[0] is not snapshot:
            body = dumps(snapshot)
            memo = (snapshot, body, '{"type":"metrics",' + body[1:])
            self._texts = memo
        return memo[1], memo[2]


class Hub:
    """The bridge from one engine to the server's loop: trade fan-out and the metrics cache."""

    def __init__(self, engine: TradingEngine, client_buffer: int = CLIENT_BUFFER_TRADES,
                 flush_interval: float = FLUSH_INTERVAL) -> None:
        self.engine = engine
        self.client_buffer = client_buffer
        self.flush_interval = flush_interval
        self.metrics = MetricsCache(engine)
        self.clients: set[TradeClient] = set()
        self.dropped = 0                # clients dropped for being too slow, since start
        self.closing = False            # the server is shutting down
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._inbox: deque[tuple[list[dict[str, Any]], float]] = deque()
        self._flush_due = False
        self._last_flush = 0.0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop and self._unsubscribe is not None:
            return
        self.detach()
        self.closing = False
        self._loop = loop
        self._unsubscribe = self.engine.subscribe(self.on_event)
        self.metrics.invalidate()
        self.metrics.live = True

    def detach(self) -> None:
        self.closing = True
        self.metrics.live = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for client in list(self.clients):
            client.dropped = True
            client.wake.set()
        self.clients.clear()

    # --- engine threads ------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Called on the engine's threads: hand off and return at once, never block."""
        kind = event.kind
        if kind == EventKind.TRADES:
            if self.clients and self._loop is not None:
                self._inbox.append((event.data, time.time()))
                if not self._flush_due:
                    self._flush_due = True
                    # a closed loop raises RuntimeError: the server is going away
                    with contextlib.suppress(RuntimeError):
                        self._loop.call_soon_threadsafe(self._schedule_flush)
        elif kind == EventKind.METRICS:
            self.metrics.offer(event.data)
        elif kind in (EventKind.STRATEGY, EventKind.ENGINE, EventKind.FEED):
            self.metrics.invalidate()

    # --- the loop ------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        loop = self._loop
        assert loop is not None
        delay = self._last_flush + self.flush_interval - loop.time()
        if delay > 0:
            loop.call_later(delay, self._flush)
        else:
            self._flush()

    def _flush(self) -> None:
        """Fan out everything the engine handed over since the last flush, as one batch."""
        self._flush_due = False  # before draining: a later hand-off schedules a new flush
        assert self._loop is not None
        self._last_flush = self._loop.time()
        ids: list[int] = []
        messages: list[str] = []
        inbox = self._inbox
        while inbox:
            trades, sent_at = inbox.popleft()
            ids.extend(t["id"] for t in trades)
            messages.extend(trade_message(t, sent_at) for t in trades)
        if not ids or not self.clients:
            return
        batch = TradeBatch(ids, messages)
        for client in list(self.clients):
            client.offer(batch)

    def add_client(self) -> TradeClient:
        client = TradeClient(self.client_buffer)
        self.clients.add(client)
        return client

    def remove_client(self, client: TradeClient) -> None:
        self.clients.discard(client)

    def count_drop(self) -> None:
        self.dropped += 1
