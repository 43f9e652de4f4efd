"""Optimisation jobs run in the background for the API and the window: submit, poll, cancel.

One driver for every caller. A remote caller names a bar file, never a path: :meth:`submit`
reads it from the data folders (the user's history folder, uploads, the bundled samples), so
the server can never be made to read an arbitrary file. The window's user may pick any file
on their own machine; the window reads it and hands the bars to :meth:`submit_bars`, which
the server's routes never call.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.research.backtest import BarSeries, load_bars
from velocitas_desktop.research.optimize import JobStatus, OptimizationJob, OptimizeSettings

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.(csv|csv\.gz|zip)$")


class JobNotFound(VelocitasError, KeyError):
    """No optimisation job (or data file) by that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class JobStateError(VelocitasError):
    """The job cannot do that now (results before it ends, too many running...)."""


@dataclass(slots=True)
class JobRecord:
    id: str
    job: OptimizationJob
    source: str
    created: float = field(default_factory=time.time)

    @property
    def status(self) -> JobStatus:
        return self.job.status

    @property
    def progress(self) -> tuple[int, int]:
        """Combinations backtested so far, and in all."""
        return self.job.progress

    @property
    def error(self) -> str | None:
        return self.job.error

    def describe(self) -> dict[str, Any]:
        done, total = self.progress
        settings = self.job.settings
        return {
            "job_id": self.id,
            "status": self.status,
            "done": done,
            "total": total,
            "progress": done / total if total else 1.0,
            "strategy": getattr(settings.strategy, "name", settings.strategy),
            "metric": settings.metric,
            "data": self.source,
            "created": self.created,
            "error": self.error,
        }


class OptimizationService:
    """The jobs of one app (server or window), newest kept, a few running at once."""

    def __init__(self, data_dirs: Iterable[Path], catalog: Any = None, max_jobs: int = 20,
                 max_running: int = 2, upload_dir: Path | None = None) -> None:
        self.data_dirs = [Path(d) for d in data_dirs]
        self.upload_dir = upload_dir
        self.catalog = catalog
        self.max_jobs = max_jobs
        self.max_running = max_running
        self._jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False

    # --- data files ----------------------------------------------------------------------

    def data_files(self) -> list[dict[str, Any]]:
        """The bar files a job may name: ``{"name", "size", "folder"}``, first folder wins."""
        seen: dict[str, dict[str, Any]] = {}
        for folder in self._folders():
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and _NAME.match(path.name) and path.name not in seen:
                    seen[path.name] = {"name": path.name, "size": path.stat().st_size,
                                       "folder": str(folder)}
        return list(seen.values())

    def resolve(self, name: str) -> Path:
        """The path of the data file called ``name`` (a bare file name, no folders)."""
        if not _NAME.match(name):
            raise JobNotFound(f"{name!r} is not a data file name: give the bare name of a "
                              ".csv file listed by the data files endpoint")
        for folder in self._folders():
            path = folder / name
            if path.is_file():
                return path
        raise JobNotFound(f"no data file called {name!r}; available: "
                          + (", ".join(f["name"] for f in self.data_files()) or "none"))

    def save_upload(self, filename: str, content: bytes) -> str:
        """Keep an uploaded bar file in the uploads folder; its stored name."""
        if self.upload_dir is None:
            raise JobStateError("uploads are not enabled here")
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename or "upload.csv").name)[:80]
        if not stem.lower().endswith(".csv"):
            stem += ".csv"
        name = f"upload-{int(time.time() * 1000)}-{stem}"
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        (self.upload_dir / name).write_bytes(content)
        return name

    def _folders(self) -> list[Path]:
        folders = list(self.data_dirs)
        if self.upload_dir is not None:
            folders.append(self.upload_dir)
        return folders

    # --- jobs ----------------------------------------------------------------------------

    def submit(self, settings: OptimizeSettings, data_name: str) -> JobRecord:
        """Check everything (file, strategy, grid) and start the job in the background.

        ``data_name`` is the bare name of a file in the data folders: what a remote caller
        may ask for.
        """
        bars: BarSeries = load_bars(self.resolve(data_name))
        return self.submit_bars(settings, bars, data_name)

    def submit_bars(self, settings: OptimizeSettings, bars: BarSeries,
                    source: str) -> JobRecord:
        """Check the search and start it on bars the caller has read itself.

        For a trusted local caller (the window, whose user chose the file); ``source`` names
        the bars in the job's description. Slow for a large grid: call it off a GUI thread.
        """
        job = OptimizationJob(settings, bars, self.catalog)  # validates before any work
        with self._lock:
            if self._closed:
                raise JobStateError("optimisation is shutting down; no new jobs start")
            running = sum(1 for r in self._jobs.values() if r.job.status is JobStatus.RUNNING)
            if running >= self.max_running:
                raise JobStateError(f"{running} optimisations are running already; wait for "
                                    "one to finish or cancel one")
            record = JobRecord(f"opt-{next(self._ids)}", job, source)
            self._jobs[record.id] = record
            self._forget_old()
        job.start()
        return record

    def _forget_old(self) -> None:
        while len(self._jobs) > self.max_jobs:
            oldest = next((k for k, r in self._jobs.items() if r.job.status is not JobStatus.RUNNING), None)
            if oldest is None:
                return
            del self._jobs[oldest]

    def get(self, job_id: str) -> JobRecord:
        with self._lock:
            record = self._jobs.get(job_id)
        if record is None:
            raise JobNotFound(f"no optimisation job {job_id!r}")
        return record

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def cancel(self, job_id: str) -> JobRecord:
        """Stop the job after the backtests in flight; the rows it finished stay."""
        record = self.get(job_id)
        record.job.cancel()
        return record

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Block until the job has ended (True) or ``timeout`` seconds have passed."""
        return self.get(job_id).job.wait(timeout)

    def results(self, job_id: str, limit: int | None = None) -> dict[str, Any]:
        """The ranked results of a job that has ended (cancelled: the rows it finished)."""
        record = self.get(job_id)
        job = record.job
        if not job.status.ended:
            done, total = job.progress
            raise JobStateError(f"job {job_id} is still running ({done} of {total} done); "
                                "poll its status and ask again when it has finished")
        if job.status is JobStatus.ERROR or job.result is None:
            raise JobStateError(f"job {job_id} failed: {job.error or 'no result'}")
        result = dict(job.result)
        if limit is not None:
            result["results"] = result["results"][:limit]
        return result

    def shutdown(self, timeout: float = 0.0) -> None:
        """Start no more jobs, cancel the running ones and wait up to ``timeout`` for them."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + timeout
        for record in self.jobs():
            record.job.cancel()
        for record in self.jobs():
            record.job.wait(max(0.0, deadline - time.monotonic()))
