"""How much an optimisation service lets its jobs take: one job at a time unless configured
otherwise, and worker processes within the cores of the machine it serves from."""

from __future__ import annotations

import os

import pytest
from research_helpers import SAMPLE

from velocitas_desktop.research.backtest import load_bars
from velocitas_desktop.research.jobs import JobStateError, OptimizationService
from velocitas_desktop.research.optimize import JobStatus, OptimizeError, OptimizeSettings

SMALL = OptimizeSettings("SMA_Crossover", grid={"fast": [5, 10], "slow": [20, 30]}, workers=0)
# thousands of combinations on one thread: still running when the test acts on it
LONG = OptimizeSettings("SMA_Crossover",
                        grid={"fast": list(range(2, 80)), "slow": list(range(20, 300, 2))},
                        workers=0)


@pytest.fixture(scope="module")
def bars():
    return load_bars(SAMPLE)


def test_one_optimisation_runs_at_a_time_and_a_second_is_refused_naming_the_first(bars):
    service = OptimizationService([SAMPLE.parent])
    try:
        first = service.submit_bars(LONG, bars, "first")
        with pytest.raises(JobStateError) as refused:
            service.submit_bars(SMALL, bars, "second")
        assert str(refused.value).startswith(f"{first.id} (")
        assert str(refused.value).endswith(
            "is running already; one optimisation runs at a time here: wait for it to finish "
            "or cancel it")
        with pytest.raises(JobStateError, match=f"{first.id} .* is running already"):
            service.submit(SMALL, SAMPLE.name)  # by name too, before the file is read
        service.cancel(first.id)
        assert service.wait(first.id, 60)
        second = service.submit_bars(SMALL, bars, "second")  # room again once it ended
        assert service.wait(second.id, 60) and second.status is JobStatus.FINISHED
    finally:
        service.shutdown(timeout=60)


def test_more_jobs_run_at_once_when_the_service_is_configured_for_them(bars):
    service = OptimizationService([SAMPLE.parent], max_running=2)
    try:
        first = service.submit_bars(LONG, bars, "first")
        second = service.submit_bars(LONG, bars, "second")
        assert first.status is second.status is JobStatus.RUNNING
        with pytest.raises(JobStateError, match=f"^{first.id} .*, {second.id} .* are running "
                                                r"already; 2 optimisations run at a time"):
            service.submit_bars(SMALL, bars, "third")
    finally:
        service.shutdown(timeout=60)
    assert first.status is second.status is JobStatus.CANCELLED


def test_workers_above_the_cap_are_refused_before_any_work(bars, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    service = OptimizationService([SAMPLE.parent], max_workers=2)
    many = OptimizeSettings("SMA_Crossover", grid={"fast": [5]}, workers=64)
    with pytest.raises(OptimizeError, match="^workers must be at most 2 on this server .one "
                                            "per core; 0 runs the job in one background "
                                            r"thread., not 64$"):
        service.submit_bars(many, bars, "many")
    assert service.jobs() == []


def test_a_job_that_leaves_its_workers_to_the_default_gets_the_cap_when_it_is_lower(bars):
    service = OptimizationService([SAMPLE.parent], max_workers=0)
    default = OptimizeSettings("SMA_Crossover", grid={"fast": [5, 10], "slow": [20]})
    record = service.submit_bars(default, bars, "default")
    try:
        assert record.job.settings.workers == 0  # in one background thread: no processes
        assert service.wait(record.id, 60) and record.status is JobStatus.FINISHED
    finally:
        service.shutdown(timeout=60)


@pytest.mark.slow
def test_a_job_that_leaves_its_workers_to_the_default_gets_one_per_core_within_the_cap(
        bars, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a machine bigger than the cap
    service = OptimizationService([SAMPLE.parent], max_workers=1)
    default = OptimizeSettings("SMA_Crossover", grid={"fast": [5, 10], "slow": [20]})
    record = service.submit_bars(default, bars, "default")
    try:
        assert record.job.settings.workers == 1
        assert service.wait(record.id, 120) and record.status is JobStatus.FINISHED
    finally:
        service.shutdown(timeout=60)


def test_without_a_cap_the_caller_decides_as_on_the_command_line(bars, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    service = OptimizationService([SAMPLE.parent])  # the window's: its user chose the count
    record = service.submit_bars(SMALL, bars, "small")
    try:
        assert record.job.settings is SMALL
    finally:
        service.shutdown(timeout=60)


@pytest.mark.slow
def test_the_command_line_warns_of_workers_above_the_cores_and_runs_as_run_does(
        monkeypatch, capsys):
    from velocitas_desktop.cli import main

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    code = main(["optimize", "--csv", str(SAMPLE), "--strategy", "SMA_Crossover",
                 "--grid", "fast=5,10", "--grid", "slow=20", "--workers", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 0 and len(captured.out.strip().splitlines()) == 1  # the ranked list
    assert captured.err.startswith("velocitas optimize: warning: --workers 2 is more than the "
                                   "1 cores of this machine")
