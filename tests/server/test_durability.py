"""``velocitas serve --db PATH`` killed with SIGKILL and started again serves every trade any
WebSocket client had received: a trade is in the journal before it is published."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
from support import free_port, wait_until
from websockets.sync.client import connect


def serve(db, home, port: int) -> subprocess.Popen:
    env = {**os.environ, "VELOCITAS_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "serve", "--port", str(port), "--db",
         str(db)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert process.poll() is None, process.stdout.read().decode()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success
        except httpx.TransportError:
            return False

    wait_until(up, timeout=60, what="velocitas serve to answer")
    return process


@pytest.mark.slow
def test_every_trade_a_client_received_survives_a_kill(tmp_path):
    db, port = tmp_path / "journal.sqlite3", free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(db, tmp_path / "home", port)
    try:
        for name in ("Momentum", "SMA_Crossover"):
            reply = httpx.post(url + "/api/strategies/register", timeout=30,
                               json={"name": name, "coin": "BTC"})
            assert reply.status_code == 200, reply.text
        received: list[int] = []
        with connect(f"ws://127.0.0.1:{port}/ws/trades", max_queue=None) as ws:
            assert httpx.post(url + "/api/engine/start?coins=BTC&rate=20000",
                              timeout=30).status_code == 200
            while len(received) < 1500:
                received.append(json.loads(ws.recv(timeout=30))["id"])
            process.send_signal(signal.SIGKILL)  # mid-stream, with trades still flowing
            process.wait(30)
            try:
                while True:  # whatever was already on its way to us counts as received
                    received.append(json.loads(ws.recv(timeout=1))["id"])
            except Exception:
                pass
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL

    again = serve(db, tmp_path / "home", port)
    try:
        served: list[int] = []
        after = 0
        while True:
            page = httpx.get(url + f"/api/trades?after_id={after}&limit=10000", timeout=30).json()
            if not page:
                break
            served.extend(t["id"] for t in page)
            after = page[-1]["id"]
        assert set(received) <= set(served)
        assert len(served) >= len(received) >= 1500
        strategies = httpx.get(url + "/api/strategies", timeout=30).json()
        assert {s["strategy_id"] for s in strategies} == {"BTC_Momentum", "BTC_SMA_Crossover"}
        assert httpx.get(url + "/api/engine/status", timeout=30).json()["status"] == "stopped"
    finally:
        again.send_signal(signal.SIGTERM)
        try:
            again.wait(30)
        finally:
            if again.poll() is None:
                again.kill()
    assert again.returncode == 0
