"""What one API caller can make the server spend on optimisation: worker processes within its
cores (as an engine start), one job at a time, and uploads kept on disk, not in memory."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.server.app import create_app

SAMPLE = "BTCUSD-1h-sample.csv"
# thousands of combinations on one thread: still running when the test acts on it
LONG_JOB = {"data_file": SAMPLE, "strategy": "SMA_Crossover", "workers": 0,
            "grid": {"fast": "2:80:1", "slow": "20:300:2"}}


@pytest.fixture
def service(tmp_path) -> Iterator[OptimizationService]:
    service = OptimizationService([sample_data_dir()], upload_dir=tmp_path / "uploads")
    yield service
    service.shutdown(timeout=60)


@pytest.fixture
def client(service, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # the server's cap: its cores
    engine = Engine(restore=False)
    with TestClient(create_app(engine, optimization=service)) as client:
        yield client
    engine.close()


def wait_for_end(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/optimization/jobs/{job_id}").json()
        if status["status"] not in ("ready", "running"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not end: {status}")


def test_workers_above_the_cores_are_a_422_as_for_an_engine_start(client, service) -> None:
    job = client.post("/api/optimization/jobs",
                      json={**LONG_JOB, "workers": 64, "grid": {"fast": [5]}})
    assert job.status_code == 422
    assert job.json()["detail"].startswith("workers must be at most 2 on this server")
    start = client.post("/api/engine/start", params={"workers": 64})
    assert start.status_code == 422
    assert start.json()["detail"] == "workers must be at most 2 on this server"
    assert service.jobs() == []


def test_a_second_job_while_one_runs_is_a_409_naming_the_running_job(client) -> None:
    first = client.post("/api/optimization/jobs", json=LONG_JOB)
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    second = client.post("/api/optimization/jobs", json={**LONG_JOB, "grid": {"fast": [5]}})
    assert second.status_code == 409
    detail = second.json()["detail"]
    assert detail.startswith(f"{job_id} (") and "is running already" in detail
    assert "one optimisation runs at a time" in detail
    client.post(f"/api/optimization/jobs/{job_id}/cancel")
    assert wait_for_end(client, job_id)["status"] == "cancelled"
    third = client.post("/api/optimization/jobs", json={**LONG_JOB, "grid": {"fast": [5]}})
    assert third.status_code == 202, third.text
