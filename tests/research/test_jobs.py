"""The one job driver of the server and the window: submit, poll, cancel, results, shutdown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from research_helpers import SAMPLE

from velocitas_desktop.research.backtest import load_bars
from velocitas_desktop.research.jobs import JobNotFound, JobStateError, OptimizationService
from velocitas_desktop.research.optimize import JobStatus, OptimizeSettings

SMALL = OptimizeSettings("SMA_Crossover", grid={"fast": [5, 10], "slow": [20, 30]}, workers=0)
# thousands of combinations on one thread: still running when the test acts on it
LONG = OptimizeSettings("SMA_Crossover",
                        grid={"fast": list(range(2, 80)), "slow": list(range(20, 300, 2))},
                        workers=0)


@pytest.fixture
def service():
    service = OptimizationService([SAMPLE.parent])
    yield service
    service.shutdown(timeout=60)


def test_a_remote_caller_names_a_file_of_the_data_folders_never_a_path(service):
    with pytest.raises(JobNotFound, match="not a data file name"):
        service.submit(SMALL, str(SAMPLE))
    record = service.submit(SMALL, SAMPLE.name)
    assert service.wait(record.id, 60) and record.status is JobStatus.FINISHED
    assert record.describe()["data"] == SAMPLE.name


def test_a_local_caller_submits_bars_it_read_itself_from_any_folder(service, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    chosen = elsewhere / "my btc.csv"  # outside the data folders, and a name the API refuses
    shutil.copy(SAMPLE, chosen)
    record = service.submit_bars(SMALL, load_bars(chosen), chosen.name)
    assert service.wait(record.id, 60)
    assert record.describe() | {"created": 0} == {
        "job_id": record.id, "status": "finished", "done": 4, "total": 4, "progress": 1.0,
        "strategy": "SMA_Crossover", "metric": "sharpe_ratio", "data": "my btc.csv",
        "created": 0, "error": None}
    scores = [row["score"] for row in service.results(record.id)["results"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    with pytest.raises(JobNotFound):
        service.resolve(chosen.name)  # naming it does not reach it


def test_progress_is_read_while_the_job_runs_and_cancel_keeps_the_rows_done(service):
    record = service.submit_bars(LONG, load_bars(SAMPLE), SAMPLE.name)
    done, total = record.progress
    assert record.status is JobStatus.RUNNING and done < total > 5000
    with pytest.raises(JobStateError, match="still running"):
        service.results(record.id)
    service.cancel(record.id)
    assert service.wait(record.id, 60) and record.status is JobStatus.CANCELLED
    result = service.results(record.id)
    assert result["cancelled"] and len(result["results"]) == record.progress[0] < total


def test_no_more_than_max_running_jobs_run_at_once():
    service = OptimizationService([SAMPLE.parent], max_running=1)
    bars = load_bars(SAMPLE)
    first = service.submit_bars(LONG, bars, "first")
    with pytest.raises(JobStateError, match="running already"):
        service.submit_bars(SMALL, bars, "second")
    service.shutdown(timeout=60)
    assert first.status is JobStatus.CANCELLED


def test_only_the_newest_jobs_are_kept():
    service = OptimizationService([SAMPLE.parent], max_jobs=1)
    bars = load_bars(SAMPLE)
    first = service.submit_bars(SMALL, bars, "first")
    assert service.wait(first.id, 60)
    second = service.submit_bars(SMALL, bars, "second")
    assert service.jobs() == [second]
    with pytest.raises(JobNotFound):
        service.get(first.id)
    service.shutdown(timeout=60)


def test_shutdown_cancels_and_waits_for_running_jobs_and_starts_no_new_one(service):
    record = service.submit_bars(LONG, load_bars(SAMPLE), SAMPLE.name)
    service.shutdown(timeout=60)
    assert record.status is JobStatus.CANCELLED
    with pytest.raises(JobStateError, match="shutting down"):
        service.submit_bars(SMALL, load_bars(SAMPLE), SAMPLE.name)


def test_a_failed_job_reports_its_error_and_has_no_results(service, monkeypatch):
    def fail(self) -> None:  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr("velocitas_desktop.research.optimize.OptimizationJob._dispatch", fail)
    record = service.submit_bars(SMALL, load_bars(SAMPLE), SAMPLE.name)
    assert service.wait(record.id, 60)
    assert record.status is JobStatus.ERROR and record.describe()["error"] == "disk full"
    with pytest.raises(JobStateError, match="failed: disk full"):
        service.results(record.id)
