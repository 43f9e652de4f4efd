"""The API says whose time a session's stamps are: the engine status and the metrics carry
the data clock."""

from __future__ import annotations

import pytest
from support import wait_until

from velocitas_desktop.feeds.simulated import SEEDED_START

pytestmark = pytest.mark.slow


def test_status_and_metrics_say_a_seeded_simulation_runs_on_simulated_time(api, engine):
    assert api.get("/api/engine/status").json()["clock"] == {"kind": None, "time": None,
                                                             "speed": None}
    started = api.post("/api/engine/start?coins=BTC&rate=20000&max_ticks=4000&seed=3")
    assert started.status_code == 200, started.text
    wait_until(lambda: engine.wait(0), what="the session to end")
    clock = api.get("/api/engine/status").json()["clock"]
    # seeded: dated from 2024-01-01; paced: its clock runs at real time
    assert clock["kind"] == "simulated" and clock["speed"] == 1.0
    assert SEEDED_START < clock["time"] < SEEDED_START + 3600
    assert api.get("/api/metrics").json()["global"]["clock"] == clock
