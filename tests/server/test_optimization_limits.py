"""What one API caller can make the server spend on optimisation: worker processes within its
cores (as an engine start), one job at a time, and uploads kept on disk, not in memory."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.jobs import UPLOAD_CHUNK, OptimizationService
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.optimization import UPLOAD_PATH
from velocitas_desktop.server.security import Guard

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
    with TestClient(create_app(engine, optimization=service), base_url="http://127.0.0.1",
                    headers={"X-Velocitas": "1"}) as client:
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


# --- uploads ---------------------------------------------------------------------------------

GOOD_BARS = (sample_data_dir() / SAMPLE).read_bytes()[:60_000]
GOOD_BARS = GOOD_BARS[: GOOD_BARS.rfind(b"\n") + 1]
BAD_BARS = b"timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n" \
           b"2024-01-01T01:00:00Z,1,2,0.5,abc,3\n"
SMALL_JOB = {"strategy": "RSI", "grid": {"period": [7, 14]}, "workers": 0}


def upload(client: TestClient, content: bytes, job: dict | str = SMALL_JOB,
           name: str = "my btc.csv"):
    text = job if isinstance(job, str) else json.dumps(job)
    return client.post("/api/optimization/jobs/upload",
                       files={"file": (name, content, "text/csv")}, data={"job": text})


def kept(service: OptimizationService) -> list[str]:
    """Every file in the uploads folder, partial ones included."""
    folder = service.upload_dir
    return sorted(p.name for p in folder.iterdir()) if folder and folder.is_dir() else []


def test_an_accepted_upload_is_kept_under_its_bare_name(client, service) -> None:
    reply = upload(client, GOOD_BARS)
    assert reply.status_code == 202, reply.text
    name = reply.json()["data"]
    assert name.startswith("upload-") and name.endswith("-my_btc.csv")
    assert kept(service) == [name]
    assert (service.upload_dir / name).read_bytes() == GOOD_BARS
    assert wait_for_end(client, reply.json()["job_id"])["status"] == "finished"


@pytest.mark.parametrize(("content", "job", "status", "words"), [
    (BAD_BARS, SMALL_JOB, 422, "line 3: close is not a number"),
    (b"x" * 200_000 + b"\n", SMALL_JOB, 422, "line 1: the line is longer than 131,072"),
    (GOOD_BARS, "{not json", 422, "the job field is not valid JSON"),
    (GOOD_BARS, {**SMALL_JOB, "strategy": "Nope"}, 422, "unknown strategy 'Nope'"),
    (GOOD_BARS, {**SMALL_JOB, "grid": {"period": "50:5:5"}}, 422, "above high"),
    (GOOD_BARS, {**SMALL_JOB, "workers": 64}, 422, "workers must be at most 2"),
], ids=["bad-line", "long-line", "bad-json", "unknown-strategy", "bad-grid", "too-many-workers"])
def test_a_refused_upload_leaves_nothing_behind(client, service, content, job, status,
                                                words) -> None:
    reply = upload(client, content, job)
    assert reply.status_code == status, reply.text
    assert words in reply.json()["detail"]
    assert kept(service) == []


def test_an_upload_while_a_job_runs_is_a_409_and_is_not_kept(client, service) -> None:
    running = client.post("/api/optimization/jobs", json=LONG_JOB).json()["job_id"]
    reply = upload(client, GOOD_BARS)
    assert reply.status_code == 409 and reply.json()["detail"].startswith(f"{running} (")
    assert kept(service) == []
    client.post(f"/api/optimization/jobs/{running}/cancel")


def test_an_upload_over_the_limit_is_a_413_and_its_part_is_deleted(
        client, service, monkeypatch) -> None:
    monkeypatch.setattr("velocitas_desktop.server.optimization.MAX_UPLOAD", 10_000)
    reply = upload(client, GOOD_BARS)
    assert reply.status_code == 413
    assert reply.json()["detail"] == "the file is larger than 10,000 bytes"
    assert kept(service) == []


def test_a_chunked_upload_past_the_limit_is_cut_off_with_a_413(service) -> None:
    # sent without a length, so only counting the body as it arrives can stop it
    engine = Engine(restore=False)
    app = Guard(create_app(engine, optimization=service), token=None, max_body=1_000,
                upload_limits={UPLOAD_PATH: 50_000})
    boundary = "velocitas-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"job\"\r\n\r\n"
            f"{json.dumps(SMALL_JOB)}\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(100):  # 100 × 10 kB: twenty times the limit
            yield b"1" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            reply = client.post(UPLOAD_PATH, content=body(), headers={
                "content-type": f"multipart/form-data; boundary={boundary}",
                "X-Velocitas": "1"})
    finally:
        engine.close()
    assert reply.status_code == 413
    assert reply.json()["detail"] == "request body is larger than 50000 bytes"
    assert kept(service) == []


def test_a_client_that_leaves_mid_upload_leaves_no_error_and_no_file(service) -> None:
    engine = Engine(restore=False)
    app = create_app(engine, optimization=service)
    boundary = "velocitas-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"btc.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    messages = [{"type": "http.request", "body": head, "more_body": True},
                {"type": "http.request", "body": b"1" * 10_000, "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": UPLOAD_PATH, "raw_path": UPLOAD_PATH.encode(),
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]}
    try:
        asyncio.run(app(scope, receive, send))  # raises if the cut body escapes as an error
    finally:
        engine.close()
    assert kept(service) == []
    assert not [m for m in sent if m.get("status") == 500]


def test_an_upload_reaches_the_app_as_it_arrives_and_other_bodies_whole() -> None:
    seen: dict[str, list[int]] = {}

    async def app(scope, receive, send):
        sizes = []
        while True:
            message = await receive()
            sizes.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        seen[scope["path"]] = sizes
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = Guard(app, token=None, max_body=1_000_000, upload_limits={UPLOAD_PATH: 10**9})
    for path in (UPLOAD_PATH, "/api/strategies/register"):
        chunks = [{"type": "http.request", "body": b"x" * 1000, "more_body": True}] * 3 + [
            {"type": "http.request", "body": b"", "more_body": False}]

        async def receive(chunks=chunks):
            return chunks.pop(0)

        async def send(message):
            pass

        asyncio.run(guard({"type": "http", "method": "POST", "path": path, "headers": []},
                          receive, send))
    assert seen == {UPLOAD_PATH: [1000, 1000, 1000, 0], "/api/strategies/register": [3000]}


def test_the_upload_is_copied_a_chunk_at_a_time(service) -> None:
    reads: list[int] = []

    class Recorded(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(size)
            return super().read(size)

    stream = Recorded(b"1" * (3 * UPLOAD_CHUNK + 5))
    name = service.save_upload("big.csv", stream)
    assert set(reads) == {UPLOAD_CHUNK}  # never read(-1): the whole file at once
    assert (service.upload_dir / name).stat().st_size == 3 * UPLOAD_CHUNK + 5


def test_uploads_expire_after_their_time_at_start_and_on_each_upload(tmp_path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    day = 24 * 3600
    old, fresh, partial = (folder / "upload-1-old.csv", folder / "upload-2-fresh.csv",
                           folder / ".upload-x.part")
    users = folder / "my-own.csv"  # not an upload: never deleted
    for path in (old, fresh, partial, users):
        path.write_text("x")
    for path in (old, partial, users):
        os.utime(path, (time.time() - day - 60, time.time() - day - 60))
    service = OptimizationService([], upload_dir=folder)  # start: the old ones go
    assert service.upload_ttl == day
    assert sorted(p.name for p in folder.iterdir()) == ["my-own.csv", "upload-2-fresh.csv"]
    os.utime(fresh, (time.time() - day - 1, time.time() - day - 1))
    name = service.save_upload("new.csv", io.BytesIO(b"y"))  # an upload: the stale one goes
    assert sorted(p.name for p in folder.iterdir()) == ["my-own.csv", name]


def test_error_replies_name_files_by_their_bare_name_never_a_server_path(
        client, service, home, tmp_path) -> None:
    history = tmp_path / "history"
    history.mkdir()
    (history / "damaged.csv").write_bytes(BAD_BARS)
    service.data_dirs.append(history)
    replies = [
        upload(client, BAD_BARS),
        upload(client, b"x" * 200_000),
        upload(client, b"\x00\xff binary"),
        upload(client, GOOD_BARS, {**SMALL_JOB, "grid": {"nope": [1]}}),
        client.post("/api/optimization/jobs", json={"data_file": "damaged.csv",
                                                    "strategy": "RSI", "workers": 0}),
        client.post("/api/optimization/jobs", json={"data_file": "nope.csv",
                                                    "strategy": "RSI"}),
        client.post("/api/optimization/jobs", json={"data_file": "../../etc/passwd",
                                                    "strategy": "RSI"}),
        client.get("/api/optimization/jobs/opt-999/results"),
    ]
    folders = {str(p) for p in (service.upload_dir, history, sample_data_dir(), home,
                                service.upload_dir.parent)}
    for reply in replies:
        assert 400 <= reply.status_code < 500, reply.text
        detail = reply.json()["detail"]
        assert detail and not any(folder in detail for folder in folders), detail
        assert not re.search(r"(^|[\s'\"(])/[A-Za-z]", detail), detail  # no absolute path
    assert replies[0].json()["detail"].startswith("upload-")  # the stored name, bare
    assert replies[4].json()["detail"].startswith("damaged.csv line 3: ")
