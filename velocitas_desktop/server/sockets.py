"""The WebSocket streams: ``/ws/trades`` (every fill, in order, no gaps) and ``/ws/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from velocitas_desktop.server.frames import FrameTransport
from velocitas_desktop.server.hub import (
    WS_TRY_AGAIN_LATER,
    Hub,
    TradeBatch,
    TradeClient,
    trade_payload,
)
from velocitas_desktop.server.schemas import MAX_ID

log = logging.getLogger(__name__)

REPLAY_PAGE = 1_000
WS_SERVER_ERROR = 1011

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
    frames = FrameTransport.of(websocket)
    await websocket.accept()
    if frames is None:
        await websocket.close(WS_SERVER_ERROR, "the trade stream needs Velocitas's own server "
                                               "(velocitas serve, or the window's)")
        return
    # added before the replay reads the journal: no gap at the seam
    client = hub.add_client(frames, batch, after_id)
    listener = asyncio.create_task(_until_disconnect(websocket))
    ended = asyncio.create_task(client.ended.wait())
    replay = asyncio.create_task(_replay(hub, client)) if after_id is not None else None
    try:
        await asyncio.wait({listener, ended}, return_when=asyncio.FIRST_COMPLETED)
        gone = listener.done()
    finally:
        hub.remove_client(client)
        for task in (listener, ended, replay):
            if task is not None:
                task.cancel()
    if not gone:
        await _close(websocket, frames, client.close_code, client.close_reason, hub.close_grace)


async def _replay(hub: Hub, client: TradeClient) -> None:
    """The journal's trades after ``client.last_id``, page by page, then the held live ones."""
    try:
        while not client.over:
            rows = await run_in_threadpool(hub.engine.trades, after_id=client.last_id,
                                           limit=REPLAY_PAGE)
            if rows:
                now = time.time()
                page = TradeBatch([row["id"] for row in rows],
                                  [trade_payload(row, now) for row in rows])
                client.write(page.frames_for(client), page.ids[-1])
            if len(rows) < REPLAY_PAGE:
                break
            await client.until_writable()  # a long replay waits for the client, page by page
        client.go_live()
    except Exception as exc:
        log.error("the replay of trades failed: %r", exc)
        client.end(WS_SERVER_ERROR, "server error: the journal could not be read")


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) whatever the client sends, until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _close(websocket: WebSocket, frames: FrameTransport | None, code: int | None,
                 reason: str, grace: float) -> None:
    """Send the close frame (after what is queued), then cut the connection off if the client
    has not taken it and gone within ``grace`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    if code is not None:
        with contextlib.suppress(Exception):  # a stuck client's socket never drains
            await asyncio.wait_for(websocket.close(code, reason[:120]), grace)
    if frames is None:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(frames.lost.wait(), max(deadline - loop.time(), 0.0))
    if not frames.lost.is_set():
        frames.abort()


@router.websocket("/ws/metrics")
async def metrics_socket(
    websocket: WebSocket,
    interval: float = Query(1.0, ge=0.1, le=60.0, description="seconds between messages"),
) -> None:
    hub = _hub(websocket)
    frames = FrameTransport.of(websocket)
    await websocket.accept()
    listener = asyncio.create_task(_until_disconnect(websocket))
    stalled = False
    try:
        while not listener.done():
            snapshot = hub.metrics.cached() or await run_in_threadpool(hub.metrics.snapshot)
            # a send waits while the socket's buffer is full: one that stopped reading
            # would hold it (and its socket) for ever
            await asyncio.wait_for(websocket.send_text(hub.metrics.texts(snapshot)[1]),
                                   hub.stall_seconds)
            await asyncio.wait({listener}, timeout=interval)
    except TimeoutError:
        stalled = True
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    if stalled:
        hub.dropped += 1
        await _close(websocket, frames, WS_TRY_AGAIN_LATER,
                     f"too slow: you took nothing for {hub.stall_seconds:g} s", hub.close_grace)
