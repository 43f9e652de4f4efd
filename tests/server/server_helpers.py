"""Helpers shared by the server tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import httpx

from velocitas_desktop.server.runner import ServerThread


def ws_url(server: ServerThread, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def start_trading(server, rate: int = 10_000, extra: str = "") -> None:
    for name in ("Momentum", "SMA_Crossover"):
        for coin in ("BTC", "ETH"):
            httpx.post(server.url + "/api/strategies/register", timeout=30,
                       json={"name": name, "coin": coin})
    reply = httpx.post(server.url + f"/api/engine/start?rate={rate}&seed=7{extra}", timeout=30)
    assert reply.status_code == 200, reply.text


def journal_ids(server, after: int, until: int) -> list[int]:
    rows = httpx.get(server.url + f"/api/trades?after_id={after}&limit=10000", timeout=30).json()
    return [t["id"] for t in rows if t["id"] <= until]
