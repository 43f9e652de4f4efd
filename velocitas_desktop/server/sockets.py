"""The WebSocket streams: ``/ws/trades`` (every fill, in order, no gaps) and ``/ws/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from velocitas_desktop.server.hub import (
    Hub,
    TradeBatch,
    TradeClient,
    batch_frame,
    trade_message,
)
from velocitas_desktop.server.schemas import MAX_ID

log = logging.getLogger(__name__)

REPLAY_PAGE = 1_000
FIRST_ID = re.compile(r'"id":(\d+)')  # a trade's id: "strategy_id" has no quote before "id"
MAX_FRAME_TRADES = 1_000  # about 250 kB: under every client library's default message limit
WS_TRY_AGAIN_LATER = 1013

router = APIRouter()


def _hub(websocket: WebSocket) -> Hub:
    hub: Hub = websocket.app.state.hub
    hub.attach(asyncio.get_running_loop())  # in case the lifespan did not run (tests, ASGI)
    return hub


@router.websocket("/ws/trades")
async def trades_socket(
    websocket: WebSocket,
    after_id: int | None = Query(None, ge=0, le=MAX_ID,
                                 description="replay the journal's trades after this id first"),
    batch: bool = Query(False, description="one frame per burst of trades instead of per trade"),
) -> None:
    hub = _hub(websocket)
    await websocket.accept()
    client = hub.add_client()  # before the replay reads the journal: no gap at the seam
    outbox = websocket if after_id is None else ResumeReport(websocket, after_id)
    try:
        sender = asyncio.create_task(_send_trades(outbox, hub, client, after_id, batch))
        client.on_drop = sender.cancel
        listener = asyncio.create_task(_until_disconnect(websocket))
        done, pending = await asyncio.wait({sender, listener},
                                           return_when=asyncio.FIRST_COMPLETED)
        gone = listener in done
        hub.remove_client(client)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if client.dropped and not gone and hub.closing:
            await _close(websocket, 1001, "the server is shutting down")
        elif client.dropped and not gone:
            hub.count_drop()
            await _close(websocket, WS_TRY_AGAIN_LATER,
                         f"too slow: more than {client.limit} trades waited for you; "
                         f"reconnect with ?after_id={client.last_id}")
        elif sender in done and not sender.cancelled() and sender.exception() is not None:
            exc = sender.exception()
            if not isinstance(exc, WebSocketDisconnect | OSError):
                log.error("the trade stream failed: %r", exc)
                await _close(websocket, 1011, "server error")
    finally:
        hub.remove_client(client)


class ResumeReport:
    """A resumed trade stream's sender: the first frame it sends says which trade ids after
    ``after_id`` the stream skips, if any, as ``"skipped": {"from_id", "to_id", "count",
    "reason"}``. The stream replays the current session's fills, and ids run on across
    sessions, so when a new session has begun since the client's last trade, the ids
    between it and the session's first fill belong to an earlier session; the client used to
    jump over them without a word."""

    def __init__(self, websocket: WebSocket, after_id: int) -> None:
        self.websocket = websocket
        self.after_id = after_id
        self.first = True

    async def send_text(self, data: str) -> None:
        if self.first:
            self.first = False
            data = with_skipped(data, self.after_id)
        await self.websocket.send_text(data)


def with_skipped(frame: str, after_id: int) -> str:
    """``frame`` (one trade, or a batch) with a ``skipped`` field when its first trade id is
    not the one after ``after_id``."""
    first = FIRST_ID.search(frame)
    if first is None or int(first.group(1)) <= after_id + 1:
        return frame
    upto = int(first.group(1)) - 1
    note = {"from_id": after_id + 1, "to_id": upto, "count": upto - after_id,
            "reason": "fills of an earlier session: this stream replays the current "
                      "session only"}
    return frame[:-1] + ',"skipped":' + json.dumps(note, separators=(",", ":")) + "}"


async def _send_trades(websocket: WebSocket, hub: Hub, client: TradeClient,
                       after_id: int | None, batch: bool) -> None:
    if after_id is not None:
        client.last_id = after_id
        await _replay(websocket, hub, client, batch)
    while True:
        await client.wake.wait()
        if client.dropped:
            return
        items = [b for b in client.take() if b.ids[-1] > client.last_id]
        if not items:
            continue
        last = client.last_id
        if batch:
            await _send_batches(websocket, client, items, last)
            continue
        for b in items:
            for trade_id, message in zip(b.ids, b.messages, strict=True):
                if trade_id > client.last_id:
                    await websocket.send_text(message)
                    client.last_id = trade_id


async def _send_batches(websocket: WebSocket, client: TradeClient, items: list[TradeBatch],
                        last: int) -> None:
    """Everything waiting, in frames of at most MAX_FRAME_TRADES trades (a client that fell
    behind must not get one frame larger than its library accepts)."""
    first = items[0]
    if len(items) == 1 and first.ids[0] > last and len(first.ids) <= MAX_FRAME_TRADES:
        await websocket.send_text(first.frame())  # the usual case: one frame for everyone
        client.last_id = first.ids[-1]
        return
    bodies: list[str] = []
    count = upto = 0
    for b in items:
        if b.ids[0] > last and count + len(b.ids) <= MAX_FRAME_TRADES:
            bodies.append(b.body())
            count, upto = count + len(b.ids), b.ids[-1]
            continue
        for trade_id, message in zip(b.ids, b.messages, strict=True):
            if trade_id <= last:
                continue  # the replay already sent it
            bodies.append(message)
            count, upto = count + 1, trade_id
            if count >= MAX_FRAME_TRADES:
                await websocket.send_text(batch_frame(bodies))
                client.last_id = upto
                bodies, count = [], 0
    if bodies:
        await websocket.send_text(batch_frame(bodies))
        client.last_id = upto


async def _replay(websocket: WebSocket, hub: Hub, client: TradeClient, batch: bool) -> None:
    """The journal's trades after ``client.last_id``, page by page, until it is caught up."""
    while True:
        rows = await run_in_threadpool(hub.engine.trades, after_id=client.last_id,
                                       limit=REPLAY_PAGE)
        if not rows:
            return
        now = time.time()
        messages = [trade_message(row, now) for row in rows]
        if batch:
            await websocket.send_text(batch_frame([",".join(messages)]))
        else:
            for message in messages:
                await websocket.send_text(message)
        client.last_id = rows[-1]["id"]
        if len(rows) < REPLAY_PAGE:
            return


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) whatever the client sends, until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        # a stuck client's socket may never drain: do not wait on it for long
        await asyncio.wait_for(websocket.close(code, reason[:120]), 1.0)


@router.websocket("/ws/metrics")
async def metrics_socket(
    websocket: WebSocket,
    interval: float = Query(1.0, ge=0.1, le=60.0, description="seconds between messages"),
) -> None:
    hub = _hub(websocket)
    await websocket.accept()
    listener = asyncio.create_task(_until_disconnect(websocket))
    try:
        while not listener.done():
            snapshot = hub.metrics.cached() or await run_in_threadpool(hub.metrics.snapshot)
            await websocket.send_text(hub.metrics.texts(snapshot)[1])
            await asyncio.wait({listener}, timeout=interval)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
