"""Trend analysis as one call and as background jobs: the analysis of a bar file, then the
strategy suggestions, for the command line, the window and the server alike.

:func:`run_trend` is the one function every surface calls: the command line on its own thread
with a progress bar, the window on its background thread, the server inside a
:class:`TrendJob`. :class:`TrendService` keeps the server's jobs and reads its bar files
through the optimisation service's data folders, :meth:`~OptimizationService.resolve` and
uploads, so a remote caller names a file and never a path, exactly as for an optimisation.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from velocitas_desktop.research.jobs import JobStateError, OptimizationService
from velocitas_desktop.research.optimize import JobStatus
from velocitas_desktop.research.shelf import JobShelf

if TYPE_CHECKING:
    from velocitas_desktop.research.trend import Bars, TrendReport

ProgressCallback = Callable[[int, int], None]
MAX_CANDLES = 5000  # bars per timeframe a report may carry for its chart


@dataclass(frozen=True, slots=True)
class TrendRequest:
    """What to analyse and whether to suggest strategies (the same fields on every surface)."""

    timeframes: tuple[str, ...] | None = None  # None: the input's own and coarser ones
    suggest: bool = True
    suggest_bars: int = 100_000  # the most recent bars the suggestions optimise over
    folds: int = 4               # walk-forward folds of the suggestions
    coin: str | None = None
    candles: int = 0             # each timeframe's last N bars in the report, for a chart
    workers: int | None = None   # the suggestions' worker processes, as an optimisation's


def run_trend(bars: Bars, request: TrendRequest, *, source: str = "", catalog: Any = None,
              on_progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> dict[str, Any]:
    """The report JSON of ``bars`` (docs/trend.md), with ``"suggestions"`` filled when the
    request asks for them (else None).

    Progress ``(done, total)`` covers both steps: the analysis counts as one, the
    suggestions' own steps follow it. TrendError for bad input: a timeframe the bars cannot
    make, or no timeframe with enough bars (or any price movement) to analyse. A set ``cancel`` stops the suggestions; the report then carries
    what they finished, or None."""
    return run_trend_report(bars, request, source=source, catalog=catalog,
                            on_progress=on_progress, cancel=cancel)[1]


def run_trend_report(bars: Bars, request: TrendRequest, *, source: str = "",
                     catalog: Any = None, on_progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> tuple[TrendReport, dict[str, Any]]:
    """:func:`run_trend`, with the analysis's TrendReport beside its JSON (for its
    ``text()``, which the command line prints)."""
    from velocitas_desktop.research.trend import TrendError, analyze

    progress = on_progress or (lambda done, total: None)
    progress(0, 1)
    report = analyze(bars, request.timeframes, source=source, coin=request.coin)
    if not any(timeframe.ok for timeframe in report.timeframes):
        # nothing to show and nothing to suggest on: the first reason is the answer
        raise TrendError(f"{source or 'the bars'}: {report.timeframes[0].message}")
    result = report.to_json(candles=request.candles)
    result["suggestions"] = None
    if not request.suggest or (cancel is not None and cancel.is_set()):
        progress(1, 1)
        return report, result
    # the next report comes from the suggestions once they have checked and planned their
    # search: a job counts as started from then on (research/trend_jobs.TrendService)
    result["suggestions"] = _suggestions(bars, request, catalog, progress, cancel)
    return report, result


def _suggestions(bars: Bars, request: TrendRequest, catalog: Any, progress: ProgressCallback,
                 cancel: threading.Event | None) -> dict[str, Any]:
    from velocitas_desktop.research.suggest import SuggestSettings, suggest

    settings = SuggestSettings(bars=request.suggest_bars, folds=request.folds,
                               workers=request.workers)
    return suggest(bars, settings, catalog=catalog,
                   on_progress=lambda done, total: progress(1 + done, 1 + total),
                   cancel=cancel)


class TrendJob:
    """One :func:`run_trend` on a background thread: poll :attr:`progress` and
    :attr:`status`, :meth:`wait` for the end, :meth:`cancel` the suggestions."""

    def __init__(self, job_id: str, request: TrendRequest, bars: Bars, data: str,
                 source: str = "", catalog: Any = None) -> None:
        self.job_id = job_id
        self.request = request
        self.bars = bars
        self.data = data  # the data file's name, or what the caller called its bars
        self.source = source or data
        self.catalog = catalog
        self.created = time.time()
        self.status = JobStatus.READY
        self.error: str | None = None
        self.exception: BaseException | None = None
        self.report: dict[str, Any] | None = None
        self._progress = (0, 1)
        self._cancel = threading.Event()
        self._analysed = threading.Event()  # set once the analysis is done (or failed)
        self._finished = threading.Event()

    @property
    def progress(self) -> tuple[int, int]:
        """Steps done and in all: the analysis is one, each suggestion backtest another."""
        return self._progress

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self) -> None:
        if self.status is not JobStatus.READY:
            raise JobStateError(f"trend job {self.job_id} has already run (it is "
                                f"{self.status})")
        self.status = JobStatus.RUNNING
        threading.Thread(target=self._run, name=f"trend {self.job_id}", daemon=True).start()

    def cancel(self) -> None:
        """Stop the suggestions after the backtests in flight; the analysis stays."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended, False if ``timeout`` seconds passed first."""
        return self._finished.wait(timeout)

    def wait_analysed(self, timeout: float | None = None) -> bool:
        return self._analysed.wait(timeout)

    def _on_progress(self, done: int, total: int) -> None:
        self._progress = (done, max(total, done, 1))
        if done >= 1:  # analysed, and the suggestions (if any) have planned their search
            self._analysed.set()

    def _run(self) -> None:
        try:
            self.report = run_trend(self.bars, self.request, source=self.source,
                                    catalog=self.catalog, on_progress=self._on_progress,
                                    cancel=self._cancel)
            if not self.cancelled:
                total = self._progress[1]
                self._progress = (total, total)
            # the status last: whoever polls it and sees the end finds the report in place
            self.status = JobStatus.CANCELLED if self.cancelled else JobStatus.FINISHED
        except Exception as exc:  # reported on the job: a route or the window shows it
            self.exception = exc
            self.error = str(exc) or type(exc).__name__
            self.status = JobStatus.ERROR
        finally:
            self.bars = None  # type: ignore[assignment]  # a kept job holds its report only
            self._analysed.set()
            self._finished.set()

    def describe(self, report: bool = True) -> dict[str, Any]:
        """The job as the API shows it; ``report=False`` leaves the report out (a list)."""
        done, total = self._progress
        return {"job_id": self.job_id, "status": self.status, "done": done, "total": total,
                "progress": done / total if total else 1.0, "data": self.data,
                "created": self.created, "error": self.error,
                "report": self.report if report and self.status.ended else None}


class TrendService:
    """The trend jobs of one app, newest kept, one running at a time, on the bar files of
    ``optimization``'s data folders and uploads (its worker cap applies to them too)."""

    def __init__(self, optimization: OptimizationService, catalog: Any = None,
                 max_jobs: int = 20, max_running: int = 1) -> None:
        self.optimization = optimization
        self.catalog = catalog if catalog is not None else optimization.catalog
        self.max_running = max_running
        self._shelf: JobShelf[TrendJob] = JobShelf("trend", "trend job", max_jobs)

    def submit(self, request: TrendRequest, data_name: str) -> TrendJob:
        """Analyse the data file called ``data_name`` (a bare name, as the optimisation's
        data files endpoint lists them). TrendError (named as the caller named it, no server
        path) for a file that cannot be read or a request the bars cannot serve."""
        from velocitas_desktop.research.trend import TrendError, load_bars

        self.check_room()  # before reading the file, which takes a while for a large one
        path = self.optimization.resolve(data_name)
        try:
            bars = load_bars(path)
        except TrendError as exc:
            raise TrendError(str(exc).replace(str(path), data_name)) from None
        return self.submit_bars(request, bars, data_name)

    def submit_upload(self, request: TrendRequest, filename: str, stream: BinaryIO,
                      limit: int | None = None) -> TrendJob:
        """Keep an uploaded bar file (as an optimisation's upload) and analyse it; a refused
        job deletes the file."""
        self.check_room()
        name = self.optimization.save_upload(filename, stream, limit)
        try:
            return self.submit(request, name)
        except BaseException:
            self.optimization.discard_upload(name)
            raise

    def submit_bars(self, request: TrendRequest, bars: Bars, name: str) -> TrendJob:
        """Start a job on bars the caller has read itself (``name`` names them). Returns once
        the analysis is done and the suggestions have planned their search, so a bad request
        (TrendError, OptimizeError) reaches the caller rather than a failed job; the
        suggestions go on in the background."""
        request = self._within_cores(request)
        with self._shelf.lock:
            self._check_room()
            job = self._shelf.put(lambda job_id: TrendJob(
                job_id, request, bars, name, source=Path(name).name, catalog=self.catalog))
        job.start()
        job.wait_analysed()
        if job.status is JobStatus.ERROR and job.progress[0] == 0:
            self._shelf.drop(job.job_id)  # refused, as a bad request: no job to show for it
            assert job.exception is not None
            raise job.exception
        return job

    def check_room(self) -> None:
        """JobStateError (naming the job that runs) unless a new job may start now."""
        with self._shelf.lock:
            self._check_room()

    def _check_room(self) -> None:
        self._shelf.check_open("trend analysis is shutting down; no new jobs start")
        busy = self._shelf.busy()
        if len(busy) < self.max_running:
            return
        names = ", ".join(f"{job.job_id} ({job.progress[0]:,} of {job.progress[1]:,} done)"
                          for job in busy)
        if self.max_running == 1:
            rule = "one trend analysis runs at a time here: wait for it to finish or cancel it"
        else:
            rule = (f"{self.max_running} trend analyses run at a time here: wait for one to "
                    "finish or cancel one")
        raise JobStateError(f"{names} {'is' if len(busy) == 1 else 'are'} running already; "
                            + rule)

    def _within_cores(self, request: TrendRequest) -> TrendRequest:
        """``request`` with its worker processes within the optimisation service's cap."""
        from dataclasses import replace

        from velocitas_desktop.research.trend import TrendError

        cap = self.optimization.max_workers
        if cap is None or not request.suggest:
            return request
        if request.workers is None:
            return replace(request, workers=min(os.cpu_count() or 1, cap))
        if request.workers > cap:
            raise TrendError(f"workers must be at most {cap} on this server (one per core; "
                             f"0 runs the suggestions in one background thread), not "
                             f"{request.workers}")
        return request

    def get(self, job_id: str) -> TrendJob:
        return self._shelf.get(job_id)

    def jobs(self) -> list[TrendJob]:
        """Newest first."""
        return self._shelf.jobs()

    def cancel(self, job_id: str) -> TrendJob:
        job = self.get(job_id)
        job.cancel()
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        return self.get(job_id).wait(timeout)

    def shutdown(self, timeout: float = 0.0) -> None:
        """Start no more jobs, cancel the running ones and wait up to ``timeout`` for them."""
        self._shelf.close(timeout, before_waiting=TrendJob.cancel)
