"""The optimiser: grids, ranking, parallel and Dask runs, sharing, cancel, splits, look-ahead."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading

import numpy as np
import pytest
from research_helpers import bars_as_a_worker_holds_them, random_walk

from velocitas_desktop.core.strategy import Param, Strategy
from velocitas_desktop.research.backtest import BarSeries, backtest
from velocitas_desktop.research.optimize import (
    ROW_STATS,
    JobStatus,
    OptimizationJob,
    OptimizeError,
    OptimizeSettings,
    grid_combinations,
    lookahead_check,
    parse_range,
    plan_windows,
    random_combinations,
    share_bars,
)
from velocitas_desktop.research.ranking import DEFAULT_METRIC, METRICS

GRID = {"fast": list(range(5, 50, 5)), "slow": list(range(20, 200, 20))}  # 73 valid


def _job(bars, **overrides) -> OptimizationJob:
    settings = {"strategy": "SMA_Crossover", "grid": GRID, "workers": 0, **overrides}
    return OptimizationJob(OptimizeSettings(**settings), bars)


def test_a_range_includes_its_high_end_when_it_falls_on_a_step():
    assert parse_range("fast=5:50:5") == ("fast", [5, 10, 15, 20, 25, 30, 35, 40, 45, 50])
    assert parse_range("slow=20:45:10") == ("slow", [20, 30, 40])
    assert parse_range("threshold=0.5,1.5") == ("threshold", [0.5, 1.5])


def test_the_grid_keeps_only_combinations_that_pass_the_constraints():
    from velocitas_desktop.catalog import load_catalog

    cls = load_catalog().get("SMA_Crossover")
    combos = grid_combinations(cls, GRID)
    assert len(combos) == 73
    assert all(c["fast"] < c["slow"] for c in combos)
    picked = random_combinations(cls, GRID, 20, seed=3)
    assert len(picked) == 20 and len({(c["fast"], c["slow"]) for c in picked}) == 20
    assert picked == random_combinations(cls, GRID, 20, seed=3)
    assert all(c in combos for c in picked)


@pytest.mark.parametrize(("grid", "message"), [
    ({"fast": []}, "empty"),
    ({"fst": [5]}, "no parameter 'fst'"),
    ({"fast": list(range(2, 400)), "slow": list(range(3, 400))}, "limit is 100,000"),
    ({"fast": [50], "slow": [20]}, "no combination"),
])
def test_bad_grids_are_refused_before_any_work(grid, message, sample_bars):
    with pytest.raises(OptimizeError, match=message):
        _job(sample_bars, grid=grid)


def test_bad_ranges_and_settings_are_refused(sample_bars):
    with pytest.raises(OptimizeError, match="above high"):
        parse_range("fast=50:5:5")
    with pytest.raises(OptimizeError, match="LO:HI:STEP"):
        parse_range("fast")
    with pytest.raises(OptimizeError, match="unknown metric"):
        _job(sample_bars, metric="luck")
    with pytest.raises(OptimizeError, match="unknown strategy"):
        _job(sample_bars, strategy="Nope")
    with pytest.raises(OptimizeError, match="too short"):
        _job(sample_bars.slice(0, 5), walk_forward=4)
    with pytest.raises(OptimizeError, match="dask://"):
        _job(sample_bars, executor="ray://x")


def test_results_are_ranked_by_the_chosen_metric(sample_bars):
    sample_bars = sample_bars.slice(0, 1500)
    for metric, stat, lower in (("sharpe_ratio", "sharpe_ratio", False),
                                ("net_pnl", "net_pnl", False),
                                ("total_return", "total_return_pct", False),
                                ("max_drawdown", "max_drawdown", True)):
        rows = _job(sample_bars, metric=metric).run()["results"]
        scores = [r["stats"][stat] for r in rows]
        assert scores == sorted(scores, reverse=not lower)
        assert [r["score"] for r in rows] == scores
    best = rows[0]
    again = backtest("SMA_Crossover", sample_bars, best["params"])
    assert again.stats["max_drawdown"] == best["score"]


def test_every_ranking_metric_reads_a_statistic_each_result_row_keeps(sample_bars):
    stats = backtest("SMA_Crossover", sample_bars.slice(0, 400)).stats
    for metric in METRICS.values():
        assert metric.stat in ROW_STATS and metric.stat in stats, metric.key
        assert metric.title and format(1234.5, metric.fmt)
    assert METRICS["total_return"].stat == "total_return_pct"
    assert DEFAULT_METRIC == OptimizeSettings("SMA_Crossover").metric == "sharpe_ratio"


def test_drawdowns_rank_lowest_first_and_every_other_metric_highest_first(sample_bars):
    lower_first = {key for key, metric in METRICS.items() if not metric.higher_is_better}
    assert lower_first == {"max_drawdown", "max_drawdown_pct"}
    rows = _job(sample_bars.slice(0, 1500), metric="max_drawdown_pct").run()["results"]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores) and scores == [r["stats"]["max_drawdown_pct"] for r in rows]


def test_profit_factor_ranking_puts_no_loss_runs_first_and_reports_null(sample_bars):
    rows = _job(sample_bars.slice(0, 400), metric="profit_factor").run()["results"]
    finite = [r["score"] for r in rows if r["score"] is not None]
    assert finite == sorted(finite, reverse=True)


@pytest.mark.slow
def test_process_pool_gives_the_inline_results_with_progress(sample_bars):
    seen: list[tuple[int, int]] = []
    job = OptimizationJob(OptimizeSettings("SMA_Crossover", GRID, workers=2), sample_bars,
                          on_progress=lambda done, total: seen.append((done, total)))
    pooled = job.run()
    inline = _job(sample_bars).run()
    assert pooled["results"] == inline["results"]
    assert pooled["combinations"] == pooled["completed"] == 73
    assert seen[-1] == (73, 73) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert job.status == "finished"
    with pytest.raises(OptimizeError, match="already run"):
        job.start()


def test_a_job_is_ready_then_running_then_ends_in_one_of_three_statuses(sample_bars):
    job = _job(sample_bars.slice(0, 400))
    assert job.status is JobStatus.READY and not job.status.ended
    job.start()
    assert job.status in (JobStatus.RUNNING, JobStatus.FINISHED)
    assert job.wait(120)
    assert job.status is JobStatus.FINISHED and job.status.ended
    assert {s for s in JobStatus if s.ended} == {JobStatus.FINISHED, JobStatus.CANCELLED,
                                                 JobStatus.ERROR}
    # the strings the API and the command line have always shown
    assert [str(s) for s in JobStatus] == ["ready", "running", "finished", "cancelled", "error"]


def test_a_failed_job_has_its_error_in_place_before_its_status_says_error(sample_bars):
    errors_seen_at_the_end: list[str | None] = []

    class Watched(OptimizationJob):
        def __setattr__(self, name, value):  # type: ignore[no-untyped-def]
            if name == "status" and value is JobStatus.ERROR:
                errors_seen_at_the_end.append(self.error)
            super().__setattr__(name, value)

    job = Watched(OptimizeSettings("SMA_Crossover", GRID, workers=0), sample_bars)

    def fail() -> None:
        raise OSError("disk full")

    job._dispatch = fail  # type: ignore[method-assign]
    job.start()
    assert job.wait(60) and job.status is JobStatus.ERROR
    assert errors_seen_at_the_end == ["disk full"]


@pytest.mark.slow
def test_cancel_stops_a_running_job_and_keeps_what_finished(sample_bars):
    grid = {"fast": list(range(2, 60)), "slow": list(range(60, 70))}  # 580 combinations
    job = OptimizationJob(OptimizeSettings("SMA_Crossover", grid, workers=2),
                          sample_bars.slice(0, 2000))
    job.on_progress = lambda done, total: job.cancel()
    job.start()
    assert job.wait(120)
    assert job.status == "cancelled"
    assert 0 < job.result["completed"] < 580
    assert job.result["cancelled"] is True


@pytest.mark.slow
def test_workers_map_the_shared_bars_instead_of_copying(tmp_path, sample_bars):
    shared = share_bars(sample_bars, str(tmp_path))
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        infos = [f.result() for f in [pool.submit(bars_as_a_worker_holds_them, shared) for _ in range(4)]]
    for info in infos:
        assert info["is_memmap"] and info["filename"] == shared.prices_path
        assert not info["owns_data"] and not info["writeable"]
        assert info["sum"] == float(np.sum(sample_bars.prices))


def test_in_sample_and_out_of_sample_scores_side_by_side(sample_bars):
    result = _job(sample_bars, in_sample=0.7, walk_forward=2).run()
    row = result["results"][0]
    cut = round(len(sample_bars) * 0.7)
    assert "oos_score" in row
    oos = backtest("SMA_Crossover", sample_bars.slice(cut, len(sample_bars)), row["params"])
    assert row["oos_score"] == oos.stats["sharpe_ratio"]
    ins = backtest("SMA_Crossover", sample_bars.slice(0, cut), row["params"])
    assert row["score"] == ins.stats["sharpe_ratio"]
    folds = result["walk_forward"]
    assert [f["fold"] for f in folds] == [1, 2]
    assert folds[0]["out_of_sample_bars"] == folds[1]["in_sample_bars"]
    windows = plan_windows(5000, 0.7, 2)
    assert [(w.label, w.start, w.stop) for w in windows] == [
        ("in_sample", 0, 3500), ("out_of_sample", 3500, 5000), ("wf1_in", 0, 1666),
        ("wf1_out", 1666, 3332), ("wf2_in", 1666, 3332), ("wf2_out", 3332, 5000)]


class PeeksAhead(Strategy):
    """Buys when the price is below the average of the WHOLE series (future data)."""

    level = Param(1.0, low=0.1, high=10.0, step=0.1)

    def next(self):
        return None

    def run(self, prices, stamps):
        below = prices < prices.mean() * self.level
        edges = np.flatnonzero(np.diff(below.astype(np.int8)) != 0) + 1
        return [(int(i), self.buy() if below[i] else self.sell()) for i in edges]


def test_lookahead_check_flags_a_strategy_that_uses_later_data(sample_bars):
    report = lookahead_check(PeeksAhead, sample_bars)
    assert not report.ok and "look-ahead" in report.message
    assert report.first_difference is not None
    for name in ("SMA_Crossover", "Momentum", "RSI", "MACD"):
        assert lookahead_check(name, sample_bars).ok
    assert _job(sample_bars).run()["lookahead"]["ok"] is True


@pytest.mark.slow
def test_dask_executor_runs_the_same_jobs_on_a_local_cluster(sample_bars):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        progress: list[int] = []
        job = OptimizationJob(
            OptimizeSettings("SMA_Crossover", GRID, executor=f"dask://{address}"),
            sample_bars, on_progress=lambda done, total: progress.append(done))
        result = job.run()
    assert result["results"] == _job(sample_bars).run()["results"]
    assert progress[-1] == 73


def test_an_unreachable_dask_scheduler_is_a_clear_error(sample_bars):
    job = _job(sample_bars, executor="dask://127.0.0.1:9", workers=None, connect_timeout=1.0)
    with pytest.raises(OptimizeError, match="cannot reach the Dask scheduler"):
        job.run()


def test_a_job_started_on_a_thread_reports_progress_while_running():
    bars: BarSeries = random_walk(3000, 4)
    job = _job(bars)
    ticks: list[str] = []
    job.on_progress = lambda done, total: ticks.append(threading.current_thread().name)
    job.start()
    assert job.wait(120) and job.status == "finished"
    assert ticks and set(ticks) == {"optimize"}
