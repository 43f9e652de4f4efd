"""``/ws/alerts``: the copilot's alerts and actions as they happen, for the browser view and
scripts. Frames are JSON ``{"type": "alert" | "action", "data": {...}}`` (the shapes of GET
/api/copilot/alerts and /actions); an action comes on its creation and on each change of its
status. ``{"type": "rules", "data": {"rules": [...]}}`` comes when the rules change in any view
(every rule, as GET /api/copilot/rules lists them), ``{"type": "acknowledged", "data": {...}}``
when an alert is acknowledged in any view (the alert, now acknowledged). ``?after_id=N`` first replays the journal's alerts after N, oldest first, then goes
live: alerts raised during the replay are held and sent after it, each alert once.

The engine's callback only hands the event to the server's loop (``call_soon_threadsafe``):
alerts are few (a runaway rule is throttled), so each client has a queue of frames and a
task that sends them. A client that lets ``MAX_QUEUED`` frames pile up, or takes nothing for
``stall_seconds``, is closed with 1013 and the id to resume after, so it never holds the
others or the engine. The access rules (host, origin, token) are the Guard's, as for every
socket (server/security.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from velocitas_desktop.engine.contract import Event, TradingEngine
from velocitas_desktop.server.hub import STALL_SECONDS, WS_GOING_AWAY, WS_TRY_AGAIN_LATER, dumps
from velocitas_desktop.server.schemas import MAX_ID

log = logging.getLogger(__name__)

# the engine's event kinds this socket carries (EventKind.ALERT, .ACTION, .RULES and
# .ACKNOWLEDGED): their values, which the StrEnum members equal
ALERT, ACTION, RULES, ACKNOWLEDGED = "alert", "action", "rules", "acknowledged"
REPLAY_PAGE = 1_000       # alerts per read of the journal during a replay
MAX_QUEUED = 10_000       # frames waiting for one client before it is dropped as too slow
WS_SERVER_ERROR = 1011

router = APIRouter()


@dataclass(eq=False)
class AlertClient:
    """One /ws/alerts connection: its frames to send, in order, and the last alert id sent
    (or replayed). While its replay runs, live frames wait in ``held``."""

    live: bool
    last_id: int = 0                    # the last alert id queued (or replayed) for it
    sent_id: int = 0                    # the last alert id its socket took: where to resume
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    close_reason: str = ""

    def end(self, code: int | None, reason: str = "") -> None:
        if not self.ended.is_set():
            self.close_code, self.close_reason = code, reason
            self.ended.set()

    def offer(self, kind: str, data: dict[str, Any]) -> None:
        """A live event: queued, held during the replay, or skipped if already sent."""
        if not self.live:
            self.held.append((kind, data))
        elif kind != ALERT or _id(data) > self.last_id:
            self.put(kind, data)

    def put(self, kind: str, data: dict[str, Any]) -> None:
        if self.queue.qsize() >= MAX_QUEUED:
            self.end(WS_TRY_AGAIN_LATER, f"too slow: {MAX_QUEUED} alerts waited for you; "
                                         f"reconnect with ?after_id={self.sent_id}")
            return
        if kind == ALERT:
            self.last_id = max(self.last_id, _id(data))
        self.queue.put_nowait((kind, data))

    def go_live(self) -> None:
        """The replay is done: the held events it did not cover, then live."""
        held, self.held = self.held, []
        self.live = True
        for kind, data in held:
            self.offer(kind, data)


def _id(alert: dict[str, Any]) -> int:
    value = alert.get("id")
    return value if isinstance(value, int) else 0


class AlertFeed:
    """The bridge from one engine's alert and action events to the /ws/alerts clients. It
    listens to the engine only while a client is connected."""

    def __init__(self, engine: TradingEngine, stall_seconds: float = STALL_SECONDS) -> None:
        self.engine = engine
        self.stall_seconds = stall_seconds
        self.clients: set[AlertClient] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def add(self, after_id: int | None) -> AlertClient:
        """A new client, subscribed before its replay reads the journal: no gap at the seam."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.detach()
            self._loop = loop
        client = AlertClient(live=after_id is None, last_id=after_id or 0,
                             sent_id=after_id or 0)
        self.clients.add(client)
        if self._unsubscribe is None:
            self._unsubscribe = self.engine.subscribe(self.on_event)
        return client

    def remove(self, client: AlertClient) -> None:
        self.clients.discard(client)
        if not self.clients and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def detach(self) -> None:
        """The server is going away: every client is closed with 1001."""
        for client in list(self.clients):
            client.end(WS_GOING_AWAY, "the server is shutting down")
        self.clients.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_event(self, event: Event) -> None:
        """Called on the engine's threads: hand off and return at once."""
        if event.kind in (ALERT, ACTION, RULES, ACKNOWLEDGED) and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone
                self._loop.call_soon_threadsafe(self._deliver, str(event.kind), event.data)

    def _deliver(self, kind: str, data: dict[str, Any]) -> None:
        for client in list(self.clients):
            client.offer(kind, data)

    async def replay(self, client: AlertClient) -> None:
        """The journal's alerts after ``client.last_id``, oldest first, then live."""
        try:
            pages: list[list[dict[str, Any]]] = []
            before: int | None = None
            while True:  # newest first, page by page back to after_id
                rows = await run_in_threadpool(self.engine.copilot_alerts,
                                               after_id=client.last_id, before_id=before,
                                               limit=REPLAY_PAGE)
                pages.append(rows)
                if len(rows) < REPLAY_PAGE:
                    break
                before = min(_id(row) for row in rows)
            for row in sorted((row for page in pages for row in page), key=_id):
                if _id(row) > client.last_id:
                    client.put(ALERT, row)
            client.go_live()
        except Exception as exc:
            log.error("the replay of alerts failed: %r", exc)
            client.end(WS_SERVER_ERROR, f"server error: the alerts could not be read: {exc}")


def _feed(websocket: WebSocket) -> AlertFeed:
    return websocket.app.state.alerts


@router.websocket("/ws/alerts")
async def alerts_socket(
    websocket: WebSocket,
    after_id: int | None = Query(None, ge=0, le=MAX_ID,
                                 description="replay the stored alerts after this id first"),
) -> None:
    feed = _feed(websocket)
    # listening before the handshake ends: a client that acts as soon as it is connected
    # (makes a rule, acknowledges an alert) is told of it
    client = feed.add(after_id)
    try:
        await websocket.accept()
    except BaseException:
        feed.remove(client)
        raise
    # over when the client leaves, or is ended (too slow, a failed replay, shutdown); the
    # sender and the replay run until then
    watched = {asyncio.create_task(_until_disconnect(websocket)),
               asyncio.create_task(client.ended.wait())}
    workers = {asyncio.create_task(_send(websocket, client, feed.stall_seconds))}
    if after_id is not None:
        workers.add(asyncio.create_task(feed.replay(client)))
    try:
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    finally:
        feed.remove(client)
        for task in watched | workers:
            task.cancel()
    if client.close_code is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(client.close_code, client.close_reason[:120]),
                                   2.0)


async def _send(websocket: WebSocket, client: AlertClient, stall_seconds: float) -> None:
    """Send the client's frames in order; one it does not take within ``stall_seconds``
    ends it (its socket's buffer is full: it stopped reading)."""
    try:
        while True:
            kind, data = await client.queue.get()
            text = dumps({"type": kind, "data": data})
            await asyncio.wait_for(websocket.send_text(text), stall_seconds)
            if kind == ALERT:
                client.sent_id = max(client.sent_id, _id(data))
    except TimeoutError:
        client.end(WS_TRY_AGAIN_LATER, f"too slow: you took nothing for {stall_seconds:g} s; "
                                       f"reconnect with ?after_id={client.sent_id}")
    except (WebSocketDisconnect, OSError, RuntimeError):
        client.end(None)


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) whatever the client sends, until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
