"""Fan-out of the engine's events to WebSocket clients, without ever blocking the engine.

The engine calls :meth:`Hub.on_event` on its own threads. That callback does one thing: a
non-blocking hand-off into the server's asyncio loop (``call_soon_threadsafe``). On the loop,
at most once per ``FLUSH_INTERVAL`` (a burst of engine batches becomes one fan-out), the new
trades are encoded and framed once (server/frames.py) and each client's socket is handed all
of its frames in one write: per client and fan-out one write, whatever the number of trades.

A client whose socket holds more than ``BACKLOG_BYTES`` unsent, or that has taken nothing for
``STALL_SECONDS`` while frames waited for it, is dropped (close code 1013), so a slow or stuck
client never slows the engine or the other clients, and never keeps its socket. Metrics
snapshots are cached: the engine's periodic ``metrics`` event is kept as the latest snapshot,
and any control change invalidates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.engine.contract import Event, EventKind, TradingEngine
from velocitas_desktop.server.frames import FrameTransport, text_frame
from velocitas_desktop.server.logbook import LogBook

log = logging.getLogger(__name__)

# unsent bytes a client's socket may hold in this process (beyond the kernel's buffer) before
# it is dropped: about 14,000 trade messages (~290 bytes each), 7 s at 2,000 trades/s
BACKLOG_BYTES = 4 * 1024 * 1024
STALL_SECONDS = 10.0            # a client that takes no byte for this long while some wait
# a dropped client that has not taken its close frame this long after it was queued is cut
# off: one that stopped reading never will, and closing a socket with unsent data waits for ever
CLOSE_GRACE = 2.0
HELD_TRADES = 20_000            # live trades held for a client while its replay runs
FLUSH_INTERVAL = 0.02           # seconds: at most one fan-out per interval (bursts coalesce)
SWEEP_INTERVAL = 1.0            # seconds between looks for stalled clients
MAX_FRAME_TRADES = 1_000        # batch mode: about 290 kB, under every library's message limit
METRICS_MAX_AGE = 2.0           # seconds; the engine refreshes every 0.5 s while running
JSON_SLICE = 250                # rows per json.dumps call in a long reply: ~0.75 ms of trades
WS_TRY_AGAIN_LATER = 1013
WS_GOING_AWAY = 1001


def dumps(value: Any) -> str:
    """JSON text; NaN and infinities (not JSON) become null."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError:  # rare, so the common case pays no conversion
        return json.dumps(finite_or_none(value), allow_nan=False, separators=(",", ":"))


def dumps_rows(rows: list[dict[str, Any]]) -> str:
    """A JSON array of ``rows``, written ``JSON_SLICE`` rows per call: one json.dumps call
    holds the interpreter for all of its work, and the engine's threads wait that long."""
    return "[" + ",".join(dumps(rows[at:at + JSON_SLICE])[1:-1]
                          for at in range(0, len(rows), JSON_SLICE)) + "]"


def trade_payload(trade: dict[str, Any], sent_at: float) -> bytes:
    """The seed's ``{"type": "trade", ...}`` message of one trade, as UTF-8 JSON."""
    return dumps({"type": "trade", **trade, "sent_at": sent_at}).encode()


def trade_frames(payloads: list[bytes], batched: bool) -> bytes:
    """The frames of ``payloads``: one per trade, or (batch mode) one per up to
    ``MAX_FRAME_TRADES`` trades, ``{"type": "trades", "trades": [...]}``."""
    if not batched:
        return b"".join(map(text_frame, payloads))
    return b"".join(text_frame(b'{"type":"trades","trades":['
                               + b",".join(payloads[at:at + MAX_FRAME_TRADES]) + b"]}")
                    for at in range(0, len(payloads), MAX_FRAME_TRADES))


def skipped_note(after_id: int, first_id: int) -> bytes | None:
    """The ``"skipped"`` field of a stream resumed after ``after_id`` whose first trade is
    ``first_id``, or None when nothing is skipped. Ids run on across sessions and a stream
    replays the current session only, so the ids between belong to an earlier session."""
    if first_id <= after_id + 1:
        return None
    upto = first_id - 1
    return dumps({"from_id": after_id + 1, "to_id": upto, "count": upto - after_id,
                  "reason": "fills of an earlier session: this stream replays the current "
                            "session only"}).encode()


def noted_frames(payloads: list[bytes], batched: bool, note: bytes) -> bytes:
    """The frames of ``payloads`` with ``note`` as the first frame's ``"skipped"`` field."""
    if not batched:
        first = payloads[0][:-1] + b',"skipped":' + note + b"}"
        return trade_frames([first, *payloads[1:]], False)
    head = payloads[:MAX_FRAME_TRADES]
    return (text_frame(b'{"type":"trades","trades":[' + b",".join(head) + b'],"skipped":'
                       + note + b"}") + trade_frames(payloads[MAX_FRAME_TRADES:], True))


@dataclass(slots=True)
class TradeBatch:
    """The trades of one fan-out (ids ascending), encoded once and framed once per mode."""

    ids: list[int]
    payloads: list[bytes]
    _framed: dict[bool, bytes] = field(default_factory=dict)

    def frames(self, batched: bool, after_id: int = 0) -> bytes:
        """The frames of the trades after ``after_id``."""
        start = bisect_right(self.ids, after_id)
        if start:  # a client just past its replay: its own cut
            return trade_frames(self.payloads[start:], batched)
        framed = self._framed.get(batched)
        if framed is None:
            framed = self._framed[batched] = trade_frames(self.payloads, batched)
        return framed

    def frames_for(self, client: TradeClient) -> bytes:
        """``client``'s part of the batch; the first a resumed client gets says what its
        resume skipped (a cut of its own, made once per resumed client)."""
        resumed = client.resumed_after
        if resumed is None:
            return self.frames(client.batched, client.last_id)
        client.resumed_after = None  # said once, on the first trades it gets
        start = bisect_right(self.ids, client.last_id)
        note = skipped_note(resumed, self.ids[start])
        if note is None:
            return self.frames(client.batched, client.last_id)
        return noted_frames(self.payloads[start:], client.batched, note)


@dataclass(eq=False)
class TradeClient:
    """One /ws/trades connection. Live, its trades go straight to its socket; while its
    replay from the journal runs, the live ones are held in order (at most ``HELD_TRADES``).

    ``end()`` says why it is over: a close ``code`` and reason to send, or None when the
    connection is gone already. The endpoint does the closing."""

    frames: FrameTransport
    batched: bool = False
    live: bool = True
    last_id: int = 0                    # the last trade id written (or replayed) to it
    held: deque[TradeBatch] = field(default_factory=deque)
    held_trades: int = 0
    resumed_after: int | None = None    # a resumed client's after_id, until its first trades
    writes: int = 0                     # writes to its socket so far
    written: int = 0                    # bytes handed to its socket so far
    taken: int = 0                      # of those, bytes its socket had sent at the last look
    progress_at: float = field(default_factory=time.monotonic)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    close_reason: str = ""

    @property
    def over(self) -> bool:
        return self.ended.is_set()

    def end(self, code: int | None, reason: str = "") -> None:
        if not self.over:
            self.close_code, self.close_reason = code, reason
            self.held.clear()
            self.held_trades = 0
            self.ended.set()

    def write(self, frames: bytes, upto: int) -> None:
        """Hand ``frames`` (trades up to id ``upto``) to the socket."""
        if self.frames.write(frames):
            self.writes += 1
            self.written += len(frames)
            self.last_id = upto
        else:
            self.end(None)  # closing already: nothing more goes out

    def hold(self, batch: TradeBatch) -> bool:
        """Keep a live batch until the replay is done; False when too many wait."""
        if self.held_trades + len(batch.ids) > HELD_TRADES:
            return False
        self.held.append(batch)
        self.held_trades += len(batch.ids)
        return True

    def go_live(self) -> None:
        """The replay is done: the held trades it did not cover, then live."""
        for batch in self.held:
            if batch.ids[-1] > self.last_id and not self.over:
                self.write(batch.frames_for(self), batch.ids[-1])
        self.held.clear()
        self.held_trades = 0
        self.live = True

    def stalled_for(self, now: float) -> float:
        """Seconds since its socket last sent a byte while some waited (0: none wait)."""
        backlog = self.frames.backlog
        taken = self.written - backlog
        if backlog == 0 or taken > self.taken:
            self.progress_at = now
        self.taken = taken
        return now - self.progress_at

    async def until_writable(self) -> None:
        """Until its socket's buffer is below the high-water mark, or it is over."""
        waits = {asyncio.ensure_future(self.frames.writable.wait()),
                 asyncio.ensure_future(self.ended.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


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

    def __init__(self, engine: TradingEngine, backlog_bytes: int = BACKLOG_BYTES,
                 stall_seconds: float = STALL_SECONDS, close_grace: float = CLOSE_GRACE,
                 flush_interval: float = FLUSH_INTERVAL) -> None:
        self.engine = engine
        self.backlog_bytes = backlog_bytes
        self.stall_seconds = stall_seconds
        self.close_grace = close_grace
        self.flush_interval = flush_interval
        self.metrics = MetricsCache(engine)
        self.log = LogBook()            # the recent log lines GET /api/log serves
        self.clients: set[TradeClient] = set()
        self.dropped = 0                # clients dropped for being too slow, since start
        self.fan_outs = 0               # fan-outs of live trades, since start
        self.encoded = 0                # trades encoded for them (each once, for every client)
        self.closing = False            # the server is shutting down
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._inbox: deque[tuple[list[dict[str, Any]], float]] = deque()
        self._flush_due = False
        self._last_flush = 0.0
        self._sweeper: asyncio.TimerHandle | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Subscribe to the engine and serve clients on ``loop`` (call it on that loop)."""
        if self._loop is loop and self._unsubscribe is not None:
            return
        self.detach()
        self.closing = False
        self._loop = loop
        self._unsubscribe = self.engine.subscribe(self.on_event)
        self.metrics.invalidate()
        self.metrics.live = True
        self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)

    def detach(self) -> None:
        self.closing = True
        self.metrics.live = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for client in list(self.clients):
            client.end(WS_GOING_AWAY, "the server is shutting down")
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
            self.log.on_event(kind, event.data)
        elif kind == EventKind.LOG:
            self.log.on_event(kind, event.data)

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
        inbox = self._inbox
        handed = [inbox.popleft() for _ in range(len(inbox))]
        if not handed or not self.clients:
            return
        ids: list[int] = []
        payloads: list[bytes] = []
        for trades, sent_at in handed:
            ids.extend(t["id"] for t in trades)
            payloads.extend(trade_payload(t, sent_at) for t in trades)
        if ids:
            self.fan_outs += 1
            self.encoded += len(payloads)
            self.fan_out(TradeBatch(ids, payloads), list(self.clients))

    def fan_out(self, batch: TradeBatch, clients: Iterable[TradeClient]) -> None:
        """Each client's part of ``batch`` in one write, or held while its replay runs."""
        last = batch.ids[-1]
        for client in clients:
            if client.over or last <= client.last_id:
                continue
            if not client.live:
                if not client.hold(batch):
                    self.drop(client, f"more than {HELD_TRADES} trades came during your replay")
                continue
            backlog = client.frames.backlog
            if backlog > self.backlog_bytes:
                self.drop(client, f"{backlog} bytes waited for you")
                continue
            client.write(batch.frames_for(client), last)

    def _sweep(self) -> None:
        """Drop the clients that took nothing for ``stall_seconds`` while frames waited."""
        assert self._loop is not None
        now = time.monotonic()
        for client in list(self.clients):
            if not client.over and client.stalled_for(now) > self.stall_seconds:
                self.drop(client, f"you took nothing for {self.stall_seconds:g} s")
        self._sweeper = self._loop.call_later(SWEEP_INTERVAL, self._sweep)

    def drop(self, client: TradeClient, why: str) -> None:
        """Close ``client`` with 1013: it is too slow for the stream."""
        self.dropped += 1
        self.clients.discard(client)
        client.end(WS_TRY_AGAIN_LATER,
                   f"too slow: {why}; reconnect with ?after_id={client.last_id}")

    def add_client(self, frames: FrameTransport, batched: bool = False,
                   after_id: int | None = None) -> TradeClient:
        """A new client: live at once, or (``after_id``) holding live trades for its replay."""
        client = TradeClient(frames, batched, live=after_id is None, last_id=after_id or 0,
                             resumed_after=after_id)
        self.clients.add(client)
        return client

    def remove_client(self, client: TradeClient) -> None:
        self.clients.discard(client)
