"""A trade stream resumed with ``after_id`` after a new session has begun says which ids it
skips (the earlier session's fills after ``after_id``) in its first frame, instead of
silently jumping to the new session's first fill."""

from __future__ import annotations

import json

import httpx
import pytest
from server_helpers import ws_url
from support import wait_until
from websockets.sync.client import connect

pytestmark = pytest.mark.slow  # a real server on 127.0.0.1


def run_session(api: httpx.Client, **choice: str) -> list[int]:
    """A short simulated session run to its end; the ids of its fills."""
    started = api.post("/api/engine/start", params={"coins": "BTC", "rate": 200_000,
                                                    "max_ticks": 3_000, "seed": 11, **choice})
    assert started.status_code == 200, started.text
    wait_until(lambda: api.get("/api/engine/status").json()["status"] == "finished",
               "the session to run to its end")
    ids = [t["id"] for t in api.get("/api/trades", params={"limit": 10_000}).json()]
    assert len(ids) > 20
    return ids


@pytest.fixture
def two_sessions(api) -> tuple[list[int], list[int]]:
    api.post("/api/strategies/register", json={"name": "SMA_Crossover", "coin": "BTC",
                                               "params": {"fast": 2, "slow": 3}})
    # a new session, not the first going on (the default); carrying its open position over
    # leaves the first session's fills as they were
    return run_session(api), run_session(api, session="new", positions="carry")


def first_frame(server, query: str) -> dict:
    with connect(ws_url(server, f"/ws/trades?{query}"), max_queue=None) as ws:
        return json.loads(ws.recv(timeout=30))


def test_a_resume_from_an_earlier_session_names_the_ids_it_skips(server, two_sessions):
    earlier, current = two_sessions
    after = earlier[len(earlier) // 2]
    frame = first_frame(server, f"after_id={after}")
    assert frame["type"] == "trade" and frame["id"] == current[0]
    assert frame["skipped"]["from_id"] == after + 1
    assert frame["skipped"]["to_id"] == earlier[-1] == current[0] - 1
    assert frame["skipped"]["count"] == earlier[-1] - after
    assert "earlier session" in frame["skipped"]["reason"]


def test_in_batch_mode_the_first_frame_carries_the_note(server, two_sessions):
    earlier, current = two_sessions
    frame = first_frame(server, f"after_id={earlier[0]}&batch=true")
    assert frame["type"] == "trades" and frame["trades"][0]["id"] == current[0]
    assert frame["skipped"] == {**frame["skipped"], "from_id": earlier[0] + 1,
                                "to_id": current[0] - 1}


def test_a_resume_within_the_current_session_skips_nothing(server, two_sessions):
    _, current = two_sessions
    frame = first_frame(server, f"after_id={current[4]}")
    assert frame["id"] == current[5] and "skipped" not in frame
    plain = first_frame(server, f"after_id={current[4]}&batch=true")
    assert "skipped" not in plain
