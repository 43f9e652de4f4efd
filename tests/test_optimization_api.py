"""The optimisation mode over REST: submit on a named or uploaded file, poll, rank, cancel,
and clear 4xx answers for bad input."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.server.app import create_app

SAMPLE = "BTCUSD-1h-sample.csv"


@pytest.fixture
def client(tmp_path):
    engine = Engine(restore=False)
    service = OptimizationService([sample_data_dir()], upload_dir=tmp_path / "uploads")
    app = create_app(engine, optimization=service)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client
    service.shutdown()
    engine.close()


def wait_for_end(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/optimization/jobs/{job_id}").json()
        if status["status"] not in ("ready", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end: {status}")


def test_the_bundled_sample_is_a_data_file_a_job_can_name(client) -> None:
    names = [f["name"] for f in client.get("/api/optimization/data-files").json()]
    assert SAMPLE in names


def test_a_grid_job_runs_to_the_end_and_its_results_are_ranked(client) -> None:
    body = {"data_file": SAMPLE, "strategy": "SMA_Crossover",
            "grid": {"fast": "5:20:5", "slow": [30, 40]}, "metric": "net_pnl", "workers": 0}
    submitted = client.post("/api/optimization/jobs", json=body)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["total"] == 8 and job["strategy"] == "SMA_Crossover"
    status = wait_for_end(client, job["job_id"])
    assert status["status"] == "finished" and status["done"] == 8 and status["progress"] == 1
    result = client.get(f"/api/optimization/jobs/{job['job_id']}/results").json()
    scores = [row["score"] for row in result["results"]]
    assert len(scores) == 8 and scores == sorted(scores, reverse=True)
    assert result["results"][0]["rank"] == 1 and "fast" in result["results"][0]["params"]
    listed = client.get("/api/optimization/jobs").json()
    assert listed[0]["job_id"] == job["job_id"]


def test_in_and_out_of_sample_scores_come_side_by_side(client) -> None:
    body = {"data_file": SAMPLE, "strategy": "SMA_Crossover", "in_sample": 0.7,
            "grid": {"fast": [5, 10], "slow": [30]}, "workers": 0}
    job = client.post("/api/optimization/jobs", json=body).json()
    wait_for_end(client, job["job_id"])
    row = client.get(f"/api/optimization/jobs/{job['job_id']}/results").json()["results"][0]
    assert "score" in row and "oos_score" in row


def test_a_cancelled_job_keeps_the_rows_it_finished(client) -> None:
    body = {"data_file": SAMPLE, "strategy": "MACD", "workers": 0,
            "grid": {"fast": "2:30:1", "slow": "10:60:1", "signal": [5, 9]}}
    job = client.post("/api/optimization/jobs", json=body).json()
    assert job["total"] > 500
    cancelled = client.post(f"/api/optimization/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code == 200
    status = wait_for_end(client, job["job_id"])
    assert status["status"] == "cancelled"
    result = client.get(f"/api/optimization/jobs/{job['job_id']}/results").json()
    assert result["cancelled"] is True and len(result["results"]) < job["total"]


def test_an_uploaded_file_is_kept_and_optimised(client) -> None:
    content = (sample_data_dir() / SAMPLE).read_bytes()[:150_000]
    content = content[: content.rfind(b"\n") + 1]
    job = {"strategy": "RSI", "grid": {"period": [7, 14]}, "workers": 0}
    reply = client.post("/api/optimization/jobs/upload",
                        files={"file": ("my btc.csv", content, "text/csv")},
                        headers={"X-Velocitas": "1"},
                        data={"job": json.dumps(job)})
    assert reply.status_code == 202, reply.text
    name = reply.json()["data"]
    assert name.endswith("my_btc.csv")
    assert wait_for_end(client, reply.json()["job_id"])["status"] == "finished"
    assert name in [f["name"] for f in client.get("/api/optimization/data-files").json()]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"data_file": "nope.csv", "strategy": "SMA_Crossover"}, 404, "no data file"),
    ({"data_file": "../../etc/passwd", "strategy": "SMA_Crossover"}, 404, "not a data file"),
    ({"data_file": SAMPLE, "strategy": "Nope"}, 422, "unknown strategy"),
    ({"data_file": SAMPLE, "strategy": "SMA_Crossover", "grid": {"fast": "50:5:5"}}, 422,
     "above"),
    ({"data_file": SAMPLE, "strategy": "SMA_Crossover", "grid": {"speed": [1, 2]}}, 422,
     "speed"),
    ({"data_file": SAMPLE, "strategy": "SMA_Crossover", "metric": "luck"}, 422, "metric"),
])
def test_bad_jobs_are_refused_with_a_message(client, body, status, words) -> None:
    reply = client.post("/api/optimization/jobs", json=body)
    assert reply.status_code == status, reply.text
    assert words in reply.json()["detail"].lower()


def test_the_metrics_a_job_may_name_are_the_research_rankings(client) -> None:
    from velocitas_desktop.research.ranking import METRICS

    schema = client.get("/openapi.json").json()["components"]["schemas"]["JobIn"]
    metric = schema["properties"]["metric"]
    assert metric["enum"] == list(METRICS) and metric["default"] == "sharpe_ratio"


def test_a_job_status_is_one_of_the_documented_strings(client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["JobStatus"]["enum"] == ["ready", "running", "finished", "cancelled",
                                            "error"]
    assert schemas["JobOut"]["properties"]["status"] == {"$ref": "#/components/schemas/JobStatus"}


def test_a_malformed_upload_names_its_line(client) -> None:
    content = b"timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n" \
              b"2024-01-01T01:00:00Z,1,2,0.5,abc,3\n"
    reply = client.post("/api/optimization/jobs/upload",
                        files={"file": ("bad.csv", content, "text/csv")},
                        headers={"X-Velocitas": "1"},
                        data={"job": json.dumps({"strategy": "RSI"})})
    assert reply.status_code == 422
    assert "line 3" in reply.json()["detail"]


def test_unknown_jobs_and_early_results_get_clear_answers(client) -> None:
    assert client.get("/api/optimization/jobs/opt-999").status_code == 404
    body = {"data_file": SAMPLE, "strategy": "MACD", "workers": 0,
            "grid": {"fast": "2:30:1", "slow": "10:60:1"}}
    job = client.post("/api/optimization/jobs", json=body).json()
    early = client.get(f"/api/optimization/jobs/{job['job_id']}/results")
    client.post(f"/api/optimization/jobs/{job['job_id']}/cancel")
    assert early.status_code == 409 and "still running" in early.json()["detail"]


def test_the_optimisation_routes_do_not_import_the_app_that_installs_them() -> None:
    import ast
    import inspect

    import velocitas_desktop.server.optimization as routes

    tree = ast.parse(inspect.getsource(routes))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert "velocitas_desktop.server.app" not in imported  # app imports routes: no cycle
