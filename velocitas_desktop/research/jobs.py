"""Optimisation jobs run in the background for the API and the window: submit, poll, cancel.

One driver for every caller. A remote caller names a bar file, never a path: :meth:`submit`
reads it from the data folders (the user's history folder, uploads, the bundled samples), so
the server can never be made to read an arbitrary file, and its messages name files by their
bare name, never by a path on the server. An upload is copied to the uploads folder in
chunks (:meth:`submit_upload`), deleted if its job is refused, and expires after
``upload_ttl``. The window's user may pick any file on their own machine; the window reads it
and hands the bars to :meth:`submit_bars`, which the server's routes never call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.research.backtest import BacktestError, BarSeries, backtest, load_bars
from velocitas_desktop.research.optimize import (
    JobStatus,
    OptimizationJob,
    OptimizeError,
    OptimizeSettings,
    plan_windows,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.(csv|csv\.gz|zip)$")
UPLOAD_PREFIX = "upload-"
_PARTIAL_PREFIX = ".upload-"  # an upload being written: not a data file until renamed
UPLOAD_TTL = 24 * 3600.0  # seconds an uploaded file is kept
# An upload is copied this much at a time: the server holds one chunk of it, not the file
# (with the body passed on as it arrives, a 150 MB upload peaks the server at 116 MB, 111 idle;
# read whole, as before, it took it to 686 MB).
UPLOAD_CHUNK = 1 << 20


class JobNotFound(VelocitasError, KeyError):
    """No optimisation job (or data file) by that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class JobStateError(VelocitasError):
    """The job cannot do that now (results before it ends, too many running...)."""


class UploadTooLarge(VelocitasError):
    """An uploaded file is over the size limit; nothing of it is kept."""


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
    """The jobs of one app (server or window), newest kept, one running at a time.

    ``max_running`` allows more at once: each job runs its own process pool, so two jobs on
    one machine only take turns on its cores. ``max_workers`` caps the worker processes a job
    may ask for (None: no cap, as on the command line; the server sets it to its core count,
    as for an engine start); a job that leaves its workers to the default gets one per core,
    within the cap.
    """

    def __init__(self, data_dirs: Iterable[Path], catalog: Any = None, max_jobs: int = 20,
                 max_running: int = 1, upload_dir: Path | None = None,
                 max_workers: int | None = None, upload_ttl: float = UPLOAD_TTL) -> None:
        self.data_dirs = [Path(d) for d in data_dirs]
        self.upload_dir = upload_dir
        self.upload_ttl = upload_ttl
        self.catalog = catalog
        self.max_jobs = max_jobs
        self.max_running = max_running
        self.max_workers = max_workers
        self._jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self.expire_uploads()  # what a previous run left past its time

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

    def save_upload(self, filename: str, stream: BinaryIO, limit: int | None = None) -> str:
        """Keep an uploaded bar file in the uploads folder; its stored name.

        ``stream`` is copied ``UPLOAD_CHUNK`` bytes at a time into a partial file that is
        renamed once whole; past ``limit`` bytes, UploadTooLarge and nothing is kept. Uploads
        past their time are deleted first."""
        folder = self._uploads()
        self.expire_uploads()
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename or "upload.csv").name)[:80]
        if not stem.lower().endswith(".csv"):
            stem += ".csv"
        try:
            fd, partial = tempfile.mkstemp(dir=folder, prefix=_PARTIAL_PREFIX, suffix=".part")
        except OSError as exc:
            raise JobStateError(f"cannot keep the upload: {exc.strerror or exc}") from None
        name = None
        try:
            with os.fdopen(fd, "wb") as out:
                _copy(stream, out, limit)
            name = self._keep(Path(partial), stem)
            return name
        except OSError as exc:  # a full disk, say: said without the server's folder
            raise JobStateError(f"cannot keep the upload: {exc.strerror or exc}") from None
        finally:
            if name is None:
                with contextlib.suppress(OSError):
                    os.unlink(partial)

    def _keep(self, partial: Path, stem: str) -> str:
        """The partial upload renamed to a data file name no other upload has."""
        with self._lock:
            stamp = int(time.time() * 1000)
            name = f"{UPLOAD_PREFIX}{stamp}-{stem}"
            for number in itertools.count(2):
                if not (partial.parent / name).exists():
                    break
                name = f"{UPLOAD_PREFIX}{stamp}-{number}-{stem}"
            os.replace(partial, partial.parent / name)
        return name

    def submit_upload(self, settings: OptimizeSettings, filename: str, stream: BinaryIO,
                      limit: int | None = None) -> JobRecord:
        """Keep an uploaded bar file (see :meth:`save_upload`) and start a job on it. If the
        job is refused (a bad file, a bad search, another job running) the file is deleted:
        a refused upload takes no disk."""
        self.check_room()  # before the copy: a refusal costs the caller nothing more
        name = self.save_upload(filename, stream, limit)
        try:
            return self.submit(settings, name)
        except BaseException:
            self.discard_upload(name)
            raise

    def discard_upload(self, name: str) -> None:
        """Delete the upload called ``name`` (a bare name, nothing outside the folder)."""
        if self.upload_dir is None or not name.startswith(UPLOAD_PREFIX) or not _NAME.match(
                name):
            return
        with contextlib.suppress(OSError):
            (self.upload_dir / name).unlink()

    def expire_uploads(self, now: float | None = None) -> list[str]:
        """Delete the uploads (and partial uploads) older than ``upload_ttl``; their names.
        Called at start and before each upload is kept."""
        folder = self.upload_dir
        if folder is None or not folder.is_dir():
            return []
        cutoff = (time.time() if now is None else now) - self.upload_ttl
        expired = []
        for path in folder.iterdir():
            if not path.name.startswith((UPLOAD_PREFIX, _PARTIAL_PREFIX)):
                continue
            with contextlib.suppress(OSError):  # gone already, or not ours to delete
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    expired.append(path.name)
        return expired

    def _uploads(self) -> Path:
        if self.upload_dir is None:
            raise JobStateError("uploads are not enabled here")
        try:
            self.upload_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobStateError(f"cannot keep the upload: {exc.strerror or exc}") from None
        return self.upload_dir

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
        self.check_room()  # before reading the file, which takes a while for a large one
        path = self.resolve(data_name)
        try:
            bars: BarSeries = load_bars(path)
        except BacktestError as exc:  # named as the caller named it: no server path shown
            raise BacktestError(str(exc).replace(str(path), data_name)) from None
        return self.submit_bars(settings, bars, data_name)

    def submit_bars(self, settings: OptimizeSettings, bars: BarSeries,
                    source: str) -> JobRecord:
        """Check the search and start it on bars the caller has read itself.

        For a trusted local caller (the window, whose user chose the file); ``source`` names
        the bars in the job's description. Slow for a large grid: call it off a GUI thread.
        """
        self.check_room()  # before the checks, which take a while for a large grid
        job = OptimizationJob(self._within_cores(settings), bars, self.catalog)
        with self._lock:
            self._check_room()
            record = JobRecord(f"opt-{next(self._ids)}", job, source)
            self._jobs[record.id] = record
            self._forget_old()
        job.start()
        return record

    def check_room(self) -> None:
        """JobStateError (naming the jobs that run) unless a new job may start now."""
        with self._lock:
            self._check_room()

    def _check_room(self) -> None:
        if self._closed:
            raise JobStateError("optimisation is shutting down; no new jobs start")
        # a job is counted from its record on: between the record and start() it is READY
        busy = [r for r in self._jobs.values() if not r.job.status.ended]
        if len(busy) < self.max_running:
            return
        names = ", ".join(f"{r.id} ({r.progress[0]:,} of {r.progress[1]:,} done)"
                          for r in busy)
        if self.max_running == 1:
            rule = "one optimisation runs at a time here: wait for it to finish or cancel it"
        else:
            rule = (f"{self.max_running} optimisations run at a time here: wait for one to "
                    "finish or cancel one")
        raise JobStateError(f"{names} {'is' if len(busy) == 1 else 'are'} running already; "
                            + rule)

    def _within_cores(self, settings: OptimizeSettings) -> OptimizeSettings:
        """``settings`` with its worker processes within ``max_workers``: OptimizeError if it
        asks for more, one per core (within the cap) if it does not say."""
        cap = self.max_workers
        if cap is None or settings.executor != "process":
            return settings
        if settings.workers is None:
            return dataclasses.replace(settings, workers=min(os.cpu_count() or 1, cap))
        if settings.workers > cap:
            raise OptimizeError(f"workers must be at most {cap} on this server (one per "
                                f"core; 0 runs the job in one background thread), not "
                                f"{settings.workers}")
        return settings

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

    def row_backtest(self, job_id: str, rank: int) -> dict[str, Any]:
        """A backtest of the result ranked ``rank`` over the job's whole bar file, as the
        window's tab shows a selected row: ``{"rank", "params", "score", "stats", "time"``
        (bar closes), ``"equity"`` (at each), ``"split_time"`` (the first out-of-sample bar's
        time, or None), ``"cash", "trades"}``. JobStateError while the job runs, JobNotFound
        for a rank it does not have. Takes a few hundred ms on 10,000 bars: off an event loop
        or a GUI thread."""
        rows = self.results(job_id)["results"]
        if not 1 <= rank <= len(rows):
            raise JobNotFound(f"job {job_id} has no rank {rank}: its results are ranked 1 to "
                              f"{len(rows)}" if rows else f"job {job_id} has no results")
        row = rows[rank - 1]
        job = self.get(job_id).job
        settings, bars = job.settings, job.bars
        result = backtest(job.cls, bars, row["params"], fee=settings.fee,
                          slippage=settings.slippage, cash=settings.cash, coin=settings.coin)
        split = None
        if settings.in_sample < 1.0:
            out_of_sample = plan_windows(len(bars), settings.in_sample)[1]
            split = float(bars.stamps[out_of_sample.start])
        return {"rank": rank, "params": row["params"], "score": row["score"],
                "stats": finite_or_none(result.stats), "time": result.stamps.tolist(),
                "equity": result.equity.tolist(), "split_time": split, "cash": settings.cash,
                "trades": result.trade_dicts()}

    def shutdown(self, timeout: float = 0.0) -> None:
        """Start no more jobs, cancel the running ones and wait up to ``timeout`` for them."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + timeout
        for record in self.jobs():
            record.job.cancel()
        for record in self.jobs():
            record.job.wait(max(0.0, deadline - time.monotonic()))


def _copy(stream: BinaryIO, out: BinaryIO, limit: int | None) -> None:
    """``stream`` into ``out``, UPLOAD_CHUNK bytes at a time; UploadTooLarge past ``limit``."""
    size = 0
    while chunk := stream.read(UPLOAD_CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            raise UploadTooLarge(f"the file is larger than {limit:,} bytes")
        out.write(chunk)
