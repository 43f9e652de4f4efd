"""The jobs one background service keeps: numbered in order, the newest kept, the running ones
listed, and closed to new work at shutdown (the trend's and the copilot tester's services)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from velocitas_desktop.research.jobs import JobNotFound, JobStateError
from velocitas_desktop.research.optimize import JobStatus


class ShelvedJob(Protocol):
    job_id: str
    status: JobStatus

    def wait(self, timeout: float | None = None) -> bool: ...


J = TypeVar("J", bound=ShelvedJob)


class JobShelf(Generic[J]):
    """``prefix-1``, ``prefix-2``... in the order made; past ``max_jobs`` the oldest ended one
    is forgotten (a running one never is). ``noun`` names a job in messages ("trend job")."""

    def __init__(self, prefix: str, noun: str, max_jobs: int = 20) -> None:
        self.prefix = prefix
        self.noun = noun
        self.max_jobs = max_jobs
        self.lock = threading.Lock()
        self.closed = False
        self._jobs: OrderedDict[str, J] = OrderedDict()
        self._ids = itertools.count(1)

    def busy(self) -> list[J]:
        """The jobs that have not ended (call with :attr:`lock` held)."""
        return [job for job in self._jobs.values() if not job.status.ended]

    def check_open(self, message: str) -> None:
        """JobStateError(``message``) once the shelf is closed (call with the lock held)."""
        if self.closed:
            raise JobStateError(message)

    def put(self, make: Callable[[str], J]) -> J:
        """A new job, ``make(job_id)``, kept (call with the lock held)."""
        job = make(f"{self.prefix}-{next(self._ids)}")
        self._jobs[job.job_id] = job
        while len(self._jobs) > self.max_jobs:
            oldest = next((k for k, kept in self._jobs.items() if kept.status.ended), None)
            if oldest is None:
                break
            del self._jobs[oldest]
        return job

    def drop(self, job_id: str) -> None:
        """Forget a job that was refused (it never counted as started)."""
        with self.lock:
            self._jobs.pop(job_id, None)

    def get(self, job_id: str) -> J:
        with self.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no {self.noun} {job_id!r}")
        return job

    def jobs(self) -> list[J]:
        """Newest first."""
        with self.lock:
            return list(reversed(self._jobs.values()))

    def close(self, timeout: float = 0.0, before_waiting: Callable[[J], None] | None = None
              ) -> None:
        """Take no more jobs; call ``before_waiting`` on each (a cancel), then wait up to
        ``timeout`` seconds in all for them to end."""
        with self.lock:
            self.closed = True
        deadline = time.monotonic() + timeout
        if before_waiting is not None:
            for job in self.jobs():
                before_waiting(job)
        for job in self.jobs():
            job.wait(max(0.0, deadline - time.monotonic()))
