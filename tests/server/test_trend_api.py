"""The trend analysis mode over REST: analyse a named or uploaded bar file as a job (and wait
for its report), poll and cancel it, the live engine's report of a coin, clear 4xx answers for
bad input, and the same access rules as every other route."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.research.trend import load_bars
from velocitas_desktop.research.trend_jobs import TrendRequest, TrendService, run_trend
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.security import Access
from velocitas_desktop.store.journal import Journal

SAMPLE = "BTCUSD-1h-sample.csv"
SCRIPT = {"X-Velocitas": "1"}  # a script's upload (docs/api.md, Security)
TOKEN = "t0ken"
LONG_FILE = "walk-1h.csv"  # 40,000 hourly bars of a random walk (the fixture writes it)
# a search that runs for many seconds on one thread: still running when the test acts on it
LONG = {"data_file": LONG_FILE, "suggest": True, "folds": 4, "workers": 0}


def write_walk(path, count: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high, low = np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998
    stamps = 1_600_000_000 + 3600 * np.arange(count)
    rows = "\n".join(f"{t},{o:.4f},{h:.4f},{lo:.4f},{c:.4f},1"
                     for t, o, h, lo, c in zip(stamps, open_, high, low, close, strict=True))
    path.write_text("timestamp,open,high,low,close,volume\n" + rows + "\n")


@pytest.fixture
def services(tmp_path) -> Iterator[tuple[OptimizationService, TrendService]]:
    data = tmp_path / "data"
    data.mkdir()
    write_walk(data / LONG_FILE, 40_000)
    optimization = OptimizationService([sample_data_dir(), data],
                                       upload_dir=tmp_path / "uploads")
    trend = TrendService(optimization)
    yield optimization, trend
    trend.shutdown(timeout=60)
    optimization.shutdown()


@pytest.fixture
def engine(home) -> Iterator[Engine]:
    engine = Engine(journal=Journal(home / "journal.sqlite3"), restore=False)
    yield engine
    if engine.status in ("running", "starting"):
        engine.stop()
    engine.close()


@pytest.fixture
def client(engine, services) -> Iterator[TestClient]:
    optimization, trend = services
    app = create_app(engine, optimization=optimization, trend=trend, max_workers=2)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def sample_report(**request) -> dict:
    path = sample_data_dir() / SAMPLE
    return run_trend(load_bars(path), TrendRequest(**request), source=SAMPLE)


def wait_for_end(client: TestClient, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/trend/jobs/{job_id}").json()
        if status["status"] not in ("ready", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end: {status}")


def sample_head(lines: int) -> bytes:
    content = (sample_data_dir() / SAMPLE).read_bytes()
    return b"".join(content.splitlines(keepends=True)[:lines + 1])


# --- analyse a data file -----------------------------------------------------------------

def test_a_data_file_analysed_with_wait_answers_with_its_report(client) -> None:
    reply = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False,
                                                    "coin": "btc", "wait": 30})
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["status"] == "finished" and job["data"] == SAMPLE
    assert job["done"] == job["total"] and job["progress"] == 1.0 and job["error"] is None
    # the report exactly as the analyser makes it: the response model drops and adds nothing
    assert job["report"] == sample_report(suggest=False, coin="BTC")
    assert [t["timeframe"] for t in job["report"]["timeframes"]] == ["1h", "4h", "1d"]


def test_without_wait_the_job_answers_at_once_and_its_report_comes_when_it_ends(
        client) -> None:
    reply = client.post("/api/trend/analyze", json={
        "data_file": SAMPLE, "timeframes": ["4h"], "suggest": False, "candles": 50})
    assert reply.status_code == 202
    job = wait_for_end(client, reply.json()["job_id"])
    assert job["status"] == "finished"
    (timeframe,) = job["report"]["timeframes"]
    assert timeframe["timeframe"] == "4h" and timeframe["ok"]
    assert {key: len(values) for key, values in timeframe["candles"].items()} == {
        key: 50 for key in ("time", "open", "high", "low", "close", "volume")}


def test_a_small_suggestion_job_reports_progress_and_its_evidence(client) -> None:
    reply = client.post("/api/trend/analyze", json={
        "data_file": SAMPLE, "timeframes": ["1h"], "suggest_bars": 600, "folds": 2,
        "workers": 0})
    job_id = reply.json()["job_id"]
    seen = []
    while (job := client.get(f"/api/trend/jobs/{job_id}").json())["status"] == "running":
        seen.append((job["done"], job["total"]))
        assert job["report"] is None
        time.sleep(0.02)
    assert job["status"] == "finished", job
    assert all(1 <= done <= total for done, total in seen)  # the analysis is done first
    assert job["done"] == job["total"] > 2
    suggestions = job["report"]["suggestions"]
    assert suggestions["bars"] == 600 and suggestions["folds"] == 2
    assert bool(suggestions["items"]) != bool(suggestions["verdict"])
    # the evidence as the search made it ("from" included): the response model drops nothing
    expected = sample_report(timeframes=("1h",), suggest_bars=600, folds=2, workers=0)
    for report in (job["report"], expected):
        report["suggestions"].pop("elapsed_s")
    assert job["report"] == expected


def test_a_cancelled_job_keeps_its_analysis(client) -> None:
    job = client.post("/api/trend/analyze", json=LONG).json()
    assert job["status"] == "running"
    cancelled = client.post(f"/api/trend/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code == 200
    job = wait_for_end(client, job["job_id"])
    assert job["status"] == "cancelled"
    report = job["report"]
    assert [t["timeframe"] for t in report["timeframes"]] == ["1h", "4h", "1d", "1w"]
    assert all(t["ok"] for t in report["timeframes"])
    suggestions = report["suggestions"]  # what the search finished, said to be partial
    assert suggestions["cancelled"] is True
    assert suggestions["completed"] < suggestions["combinations"]


def test_a_second_job_while_one_runs_is_a_409_naming_it(client) -> None:
    running = client.post("/api/trend/analyze", json=LONG).json()["job_id"]
    try:
        reply = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False})
        assert reply.status_code == 409
        assert reply.json()["detail"].startswith(f"{running} (")
    finally:
        client.post(f"/api/trend/jobs/{running}/cancel")


def test_the_list_of_jobs_is_newest_first_without_reports(client) -> None:
    first = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False,
                                                    "wait": 30}).json()
    second = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False,
                                                     "wait": 30}).json()
    jobs = client.get("/api/trend/jobs").json()
    assert [job["job_id"] for job in jobs] == [second["job_id"], first["job_id"]]
    assert all(job["report"] is None and job["status"] == "finished" for job in jobs)


# --- uploads -------------------------------------------------------------------------------

# a file may be posted to its own route or, as a multipart body, to /api/trend/analyze itself
UPLOADS = ["/api/trend/analyze/upload", "/api/trend/analyze"]


@pytest.mark.parametrize("path", UPLOADS)
def test_an_uploaded_file_is_kept_and_analysed(client, path) -> None:
    reply = client.post(path, headers=SCRIPT,
                        files={"file": ("my btc.csv", sample_head(1000), "text/csv")},
                        data={"request": json.dumps({"suggest": False, "wait": 30})})
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["data"].startswith("upload-") and job["data"].endswith("my_btc.csv")
    assert job["status"] == "finished"
    assert job["report"]["bars"] == 1000
    names = [f["name"] for f in client.get("/api/optimization/data-files").json()]
    assert job["data"] in names  # named again later, as an optimisation's upload


def test_a_refused_upload_says_why_and_is_not_kept(client, services) -> None:
    optimization, _ = services
    bad = b"timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n" \
          b"2024-01-01T01:00:00Z,1,2,0.5,abc,3\n"
    reply = client.post("/api/trend/analyze/upload", headers=SCRIPT,
                        files={"file": ("bad.csv", bad, "text/csv")},
                        data={"request": json.dumps({"suggest": False})})
    assert reply.status_code == 422
    assert "line 3" in reply.json()["detail"]
    assert "/" not in reply.json()["detail"].split("line 3")[0]  # no server path in it
    reply = client.post("/api/trend/analyze/upload", headers=SCRIPT,
                        files={"file": ("good.csv", sample_head(500), "text/csv")},
                        data={"request": "{not json"})
    assert reply.status_code == 422 and "not valid JSON" in reply.json()["detail"]
    assert not any(f["name"].startswith("upload-") for f in optimization.data_files())


def test_a_file_too_short_for_any_timeframe_or_for_the_folds_is_a_422_saying_so(
        client, services) -> None:
    optimization, _ = services
    short = client.post("/api/trend/analyze/upload", headers=SCRIPT,
                        files={"file": ("short.csv", sample_head(20), "text/csv")},
                        data={"request": json.dumps({"suggest": False})})
    assert short.status_code == 422
    detail = short.json()["detail"]  # the file as the server keeps it: upload-<ms>-short.csv
    assert detail.startswith("upload-") and detail.endswith(
        "-short.csv: only 20 1h bars; at least 60 are needed (give more history or choose a "
        "finer timeframe)")
    folds = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest_bars": 150,
                                                    "folds": 4, "workers": 0})
    assert folds.status_code == 422
    assert folds.json()["detail"].startswith("too few bars for 4 folds")
    assert client.get("/api/trend/jobs").json() == []
    assert not any(f["name"].startswith("upload-") for f in optimization.data_files())


def test_an_upload_over_the_limit_is_a_413_and_is_not_kept(client, services,
                                                          monkeypatch) -> None:
    optimization, _ = services
    monkeypatch.setattr("velocitas_desktop.server.trend.MAX_UPLOAD", 10_000)
    reply = client.post("/api/trend/analyze/upload", headers=SCRIPT,
                        files={"file": ("big.csv", sample_head(1000), "text/csv")},
                        data={"request": json.dumps({"suggest": False})})
    assert reply.status_code == 413
    assert reply.json()["detail"] == "the file is larger than 10,000 bytes"
    assert not any(f["name"].startswith("upload-") for f in optimization.data_files())


@pytest.mark.parametrize("path", UPLOADS)
def test_an_upload_may_pass_the_body_limit_and_a_json_body_may_not(engine, services,
                                                                   path) -> None:
    optimization, trend = services
    app = create_app(engine, optimization=optimization, trend=trend, max_body=1_000)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        upload = client.post(path, headers=SCRIPT,
                             files={"file": ("btc.csv", sample_head(500), "text/csv")},
                             data={"request": json.dumps({"suggest": False, "wait": 30})})
        assert upload.status_code == 202, upload.text
        big = client.post("/api/trend/analyze", json={"data_file": SAMPLE,
                                                      "coin": "B" * 2_000})
        assert big.status_code == 413
        assert big.json()["detail"] == "request body is larger than 1000 bytes"


def test_a_multipart_body_to_analyze_keeps_the_upload_rules(client, services,
                                                            monkeypatch) -> None:
    optimization, _ = services
    file = {"file": ("btc.csv", sample_head(500), "text/csv")}
    # a form post with no sign of a script or a page of this server: refused, as an upload's
    refused = client.post("/api/trend/analyze", files=file)
    assert refused.status_code == 415 and "X-Velocitas: 1" in refused.json()["detail"]
    # from another site's page: refused before anything is read
    evil = client.post("/api/trend/analyze", files=file,
                       headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    # the upload's own size limit, not the JSON body's
    monkeypatch.setattr("velocitas_desktop.server.trend.MAX_UPLOAD", 10_000)
    big = client.post("/api/trend/analyze", headers=SCRIPT,
                      files={"file": ("big.csv", sample_head(1000), "text/csv")})
    assert big.status_code == 413
    assert big.json()["detail"] == "the file is larger than 10,000 bytes"
    assert not any(f["name"].startswith("upload-") for f in optimization.data_files())
    assert client.get("/api/trend/jobs").json() == []
    # and a JSON body still names a server file
    named = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False,
                                                    "wait": 30})
    assert named.status_code == 202 and named.json()["data"] == SAMPLE


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "status", "words"), [
    ({"data_file": "nope.csv"}, 404, "no data file called 'nope.csv'"),
    ({"data_file": "../../etc/passwd"}, 404, "not a data file name"),
    ({"data_file": SAMPLE, "timeframes": ["7x"]}, 422, "7x"),
    ({"data_file": SAMPLE, "timeframes": ["15m"]}, 422, "15m"),
    ({"data_file": SAMPLE, "folds": 0}, 422, "folds"),
    ({"data_file": SAMPLE, "candles": 5001}, 422, "candles"),
    ({"data_file": SAMPLE, "coin": "BTC/USD"}, 422, "coin"),
    ({"data_file": SAMPLE, "suggest": True, "workers": 64}, 422, "workers must be at most 2"),
    ({"data_file": SAMPLE, "speed": 2}, 422, "speed"),
])
def test_bad_requests_are_refused_with_a_message(client, body, status, words) -> None:
    reply = client.post("/api/trend/analyze", json={"suggest": False, **body})
    assert reply.status_code == status, reply.text
    assert words in reply.json()["detail"]
    assert client.get("/api/trend/jobs").json() == []  # a refused request leaves no job


def test_an_unknown_job_is_a_404_naming_it(client) -> None:
    for reply in (client.get("/api/trend/jobs/trend-99"),
                  client.post("/api/trend/jobs/trend-99/cancel")):
        assert reply.status_code == 404
        assert reply.json()["detail"] == "no trend job 'trend-99'"


# --- the contract ----------------------------------------------------------------------------

def test_the_openapi_document_describes_the_report(client) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path, method in (("/api/trend/analyze", "post"), ("/api/trend/analyze/upload", "post"),
                         ("/api/trend/jobs", "get"), ("/api/trend/jobs/{job_id}", "get"),
                         ("/api/trend/jobs/{job_id}/cancel", "post"),
                         ("/api/trend/{coin}", "get")):
        assert method in paths[path], path
    # /api/trend/analyze takes a server file's name as JSON, or a file as a form
    bodies = paths["/api/trend/analyze"]["post"]["requestBody"]["content"]
    assert bodies["application/json"]["schema"] == {"$ref": "#/components/schemas/TrendIn"}
    assert set(bodies["multipart/form-data"]["schema"]["properties"]) == {"file", "request"}
    schemas = document["components"]["schemas"]
    assert set(schemas["TrendReportOut"]["properties"]) >= {
        "source", "coin", "bars", "interval", "first", "last", "price", "warnings", "summary",
        "timeframes", "suggestions"}
    assert set(schemas["TimeframeOut"]["properties"]) >= {
        "timeframe", "ok", "direction", "strength", "adx", "regression", "moving_averages",
        "volatility", "character", "levels", "breakouts", "trend_line", "summary"}
    assert set(schemas["SuggestionOut"]["properties"]) >= {
        "rank", "strategy", "params", "in_sample_score", "out_of_sample_score", "trades",
        "fees", "hold_return_pct"}
    assert schemas["TrendJobOut"]["properties"]["status"] == {
        "$ref": "#/components/schemas/JobStatus"}


# --- access rules --------------------------------------------------------------------------

@pytest.fixture
def network(engine, services) -> Iterator[TestClient]:
    """The server as it listens off loopback: a token, and its own host names only."""
    optimization, trend = services
    app = create_app(engine, TOKEN, optimization=optimization, trend=trend,
                     access=Access.serving("0.0.0.0", allowed_hosts=["testserver"]))
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_off_loopback_every_trend_call_needs_the_token(network) -> None:
    calls = [("post", "/api/trend/analyze", {"json": {"data_file": SAMPLE, "suggest": False}}),
             ("post", "/api/trend/analyze/upload",
              {"files": {"file": ("b.csv", sample_head(100), "text/csv")}, "headers": SCRIPT}),
             ("post", "/api/trend/analyze",
              {"files": {"file": ("b.csv", sample_head(100), "text/csv")}, "headers": SCRIPT}),
             ("get", "/api/trend/jobs", {}), ("get", "/api/trend/jobs/trend-1", {}),
             ("post", "/api/trend/jobs/trend-1/cancel", {}), ("get", "/api/trend/BTC", {})]
    for method, path, extra in calls:
        reply = getattr(network, method)(path, **extra)
        assert reply.status_code == 401, path
        assert "missing or wrong access token" in reply.json()["detail"]
    allowed = network.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False,
                                                       "wait": 30},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 202 and allowed.json()["status"] == "finished"


def test_the_trend_page_is_open_but_answers_only_to_the_servers_names(network) -> None:
    assert network.get("/trend").status_code == 200
    assert network.get("/trend").headers["content-type"].startswith("text/html")
    for method, path in (("get", "/trend"), ("get", "/api/trend/jobs"),
                         ("post", "/api/trend/analyze")):
        reply = getattr(network, method)(path, headers={
            "Host": "evil.example", "Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 403, path
        assert "unknown host name 'evil.example'" in reply.json()["detail"]


def test_a_page_from_another_origin_may_not_start_an_analysis(client) -> None:
    reply = client.post("/api/trend/analyze", json={"data_file": SAMPLE, "suggest": False},
                        headers={"Origin": "https://evil.example"})
    assert reply.status_code == 403
    assert client.get("/api/trend/jobs").json() == []


# --- the live engine -------------------------------------------------------------------------

def test_a_running_sessions_coins_have_a_live_report_and_others_a_404(client) -> None:
    path = sample_data_dir() / SAMPLE
    started = client.post("/api/engine/start", params={"data_source": "csv",
                                                       "csv": f"BTC={path}"})
    assert started.status_code == 200, started.text
    deadline = time.monotonic() + 60
    while client.get("/api/engine/status").json()["status"] in ("starting", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    reply = client.get("/api/trend/btc", params={"candles": 20})
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["source"] == "live" and report["coin"] == "BTC"
    assert report["bars"] > 0 and report["timeframes"]
    ok = [t for t in report["timeframes"] if t["ok"]]
    assert ok and all(len(t["candles"]["close"]) == 20 for t in ok)
    missing = client.get("/api/trend/DOGE")
    assert missing.status_code == 404
    assert "DOGE" in missing.json()["detail"]


def test_without_a_session_a_coin_has_no_live_report(client) -> None:
    reply = client.get("/api/trend/BTC")
    assert reply.status_code == 404
    assert reply.json()["detail"]
