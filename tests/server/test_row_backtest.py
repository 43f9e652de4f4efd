"""GET /api/optimization/jobs/{job_id}/results/{rank}: a ranked row backtested over the job's
whole bar file, for the optimisation page's equity curve and trades list."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.backtest import backtest, load_bars
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.security import Access

SAMPLE = "BTCUSD-1h-sample.csv"


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    engine = Engine(restore=False)
    service = OptimizationService([sample_data_dir()], catalog=engine.catalog,
                                  upload_dir=tmp_path / "uploads")
    app = create_app(engine, optimization=service,
                     access=Access.serving("127.0.0.1", allowed_hosts=["testserver"]))
    with TestClient(app) as client:
        yield client
    service.shutdown(timeout=10)
    engine.close()


def run_job(client: TestClient, **fields) -> str:
    body = {"data_file": SAMPLE, "strategy": "SMA_Crossover", "workers": 0,
            "grid": {"fast": [5, 10], "slow": [30, 40]}, "metric": "net_pnl", **fields}
    job = client.post("/api/optimization/jobs", json=body)
    assert job.status_code == 202, job.text
    job_id = job.json()["job_id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/optimization/jobs/{job_id}").json()["status"] in ("ready",
                                                                              "running"):
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.05)
    return job_id


def test_a_rows_backtest_is_its_params_over_the_whole_file(client):
    job_id = run_job(client, fee=0.002)
    ranked = client.get(f"/api/optimization/jobs/{job_id}/results").json()["results"]
    reply = client.get(f"/api/optimization/jobs/{job_id}/results/2")
    assert reply.status_code == 200, reply.text
    row = reply.json()
    assert row["rank"] == 2 and row["params"] == ranked[1]["params"]
    assert row["score"] == ranked[1]["score"]
    assert row["split_time"] is None and row["cash"] == 10_000

    bars = load_bars(sample_data_dir() / SAMPLE)
    expected = backtest("SMA_Crossover", bars, ranked[1]["params"], fee=0.002)
    assert row["time"] == bars.stamps.tolist()
    assert row["equity"] == expected.equity.tolist()
    assert len(row["trades"]) == len(expected.trades) > 0
    assert row["stats"]["total_trades"] == len(row["trades"])


def test_its_final_equity_is_the_cash_plus_the_realised_and_open_pnl(client):
    job_id = run_job(client)
    row = client.get(f"/api/optimization/jobs/{job_id}/results/1").json()
    stats = row["stats"]
    assert row["equity"][-1] == pytest.approx(row["cash"] + stats["net_pnl"]
                                              + stats["unrealized_pnl"], abs=1e-6)
    realised = sum(trade["profit_loss"] for trade in row["trades"])
    assert realised == pytest.approx(stats["net_pnl"], abs=1e-6)
    assert sum(trade["fee"] for trade in row["trades"]) == pytest.approx(stats["fees"])
    # the position after the last fill is the one still open at the end
    assert row["trades"][-1]["position_size"] == pytest.approx(stats["open_position"])
    assert {trade["action"] for trade in row["trades"]} <= {"BUY", "SELL"}
    first = row["trades"][0]
    assert set(first) == {"timestamp", "action", "price", "quantity", "profit_loss",
                          "position_size", "fee"}


def test_with_an_in_sample_split_the_cut_is_the_first_out_of_sample_bars_time(client):
    job_id = run_job(client, in_sample=0.7)
    row = client.get(f"/api/optimization/jobs/{job_id}/results/1").json()
    bars = load_bars(sample_data_dir() / SAMPLE)
    assert row["split_time"] == bars.stamps[round(len(bars) * 0.7)]


def test_an_unknown_job_or_rank_is_404(client):
    assert client.get("/api/optimization/jobs/opt-99/results/1").status_code == 404
    job_id = run_job(client)
    reply = client.get(f"/api/optimization/jobs/{job_id}/results/5")  # 4 rows
    assert reply.status_code == 404
    assert "ranked 1 to 4" in reply.json()["detail"]
    assert client.get(f"/api/optimization/jobs/{job_id}/results/0").status_code == 422


def test_while_the_job_runs_it_is_409(client):
    body = {"data_file": SAMPLE, "strategy": "MACD", "workers": 0,
            "grid": {"fast": "2:30:1", "slow": "10:60:1", "signal": [5, 9]}}
    job_id = client.post("/api/optimization/jobs", json=body).json()["job_id"]
    reply = client.get(f"/api/optimization/jobs/{job_id}/results/1")
    client.post(f"/api/optimization/jobs/{job_id}/cancel")
    assert reply.status_code == 409
    assert "still running" in reply.json()["detail"]
