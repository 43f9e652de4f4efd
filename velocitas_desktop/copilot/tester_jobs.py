"""Testing rules on a bar file as a background job, for the server (the command line and the
window call :func:`~velocitas_desktop.copilot.tester.test_rules` themselves, on their own
threads).

:class:`RuleTestService` reads its bar files through the optimisation service's data folders
(:meth:`~velocitas_desktop.research.jobs.OptimizationService.resolve`), so a remote caller
names a file and never a path, as for an optimisation or a trend analysis. A request is
checked before it becomes a job (the rules, the file, the strategy): a mistake is the
caller's error (RuleError, JobNotFound, ...), not a job that failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from velocitas_desktop.copilot.rules import Rule, RuleError
from velocitas_desktop.research.jobs import JobStateError, OptimizationService
from velocitas_desktop.research.optimize import JobStatus
from velocitas_desktop.research.shelf import JobShelf


@dataclass(frozen=True, slots=True)
class RuleTestRequest:
    """What to replay the bars through: checked rules, and optionally a strategy."""

    rules: tuple[Rule, ...]
    strategy: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    coin: str = "BTC"

    @classmethod
    def of(cls, rules: Iterable[Mapping[str, Any] | Rule], **options: Any) -> RuleTestRequest:
        """The request of ``rules`` as JSON (each checked: RuleError naming the first bad
        one by its place, ``rules[i]``, as the API's import does) or as Rules."""
        checked: list[Rule] = []
        for i, rule in enumerate(rules):
            try:
                checked.append(rule if isinstance(rule, Rule) else Rule.from_json(rule))
            except RuleError as exc:
                raise RuleError(f"rules[{i}]: {exc}") from None
        if not checked:
            raise RuleError("give at least one rule to test")
        return cls(tuple(checked), **options)


def run_rule_test(bars: Any, request: RuleTestRequest, on_progress: Any = None,
                  catalog: Any = None) -> dict[str, Any]:
    """The tester's result of ``request`` on ``bars`` (docs/copilot.md, the tester), its
    strategy looked up in ``catalog`` (default: the built-ins)."""
    from velocitas_desktop.copilot.tester import test_rules

    return test_rules(bars, list(request.rules), strategy=request.strategy,
                      params=dict(request.params) or None, coin=request.coin,
                      catalog=catalog, on_progress=on_progress)


class RuleTestJob:
    """One :func:`run_rule_test` on a background thread: poll :attr:`progress` and
    :attr:`status`, :meth:`wait` for the end."""

    def __init__(self, job_id: str, request: RuleTestRequest, bars: Any, data: str,
                 catalog: Any = None) -> None:
        self.job_id = job_id
        self.catalog = catalog
        self.request = request
        self.bars = bars
        self.data = data
        self.created = time.time()
        self.status = JobStatus.READY
        self.error: str | None = None
        self.exception: BaseException | None = None
        self.result: dict[str, Any] | None = None
        self.progress = (0, 1)
        self._started = threading.Event()   # the first progress report, or the end
        self._finished = threading.Event()

    def start(self) -> None:
        self.status = JobStatus.RUNNING
        threading.Thread(target=self._run, name=f"copilot {self.job_id}", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended, False if ``timeout`` seconds passed first."""
        return self._finished.wait(timeout)

    def wait_started(self, timeout: float | None = None) -> bool:
        return self._started.wait(timeout)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress = (done, max(total, done, 1))
        self._started.set()

    def _run(self) -> None:
        try:
            self.result = run_rule_test(self.bars, self.request, self._on_progress,
                                        self.catalog)
            total = self.progress[1]
            self.progress = (total, total)
            self.status = JobStatus.FINISHED  # last: whoever sees it finds the result
        except Exception as exc:  # on the job: the route shows it
            self.exception = exc
            self.error = str(exc) or type(exc).__name__
            self.status = JobStatus.ERROR
        finally:
            self.bars = None  # a kept job holds its result only
            self._started.set()
            self._finished.set()

    def describe(self) -> dict[str, Any]:
        done, total = self.progress
        return {"job_id": self.job_id, "status": self.status, "done": done, "total": total,
                "progress": done / total if total else 1.0, "data": self.data,
                "created": self.created, "error": self.error,
                "result": self.result if self.status is JobStatus.FINISHED else None}


class RuleTestService:
    """The test jobs of one app, the newest ``max_jobs`` kept, ``max_running`` at a time, on
    the bar files of ``optimization``'s data folders and with its catalogue's strategies."""

    def __init__(self, optimization: OptimizationService, catalog: Any = None,
                 max_jobs: int = 20, max_running: int = 1) -> None:
        self.optimization = optimization
        self.catalog = catalog if catalog is not None else optimization.catalog
        self.max_running = max_running
        self._shelf: JobShelf[RuleTestJob] = JobShelf("test", "rule test job", max_jobs)

    def submit(self, request: RuleTestRequest, data_name: str) -> RuleTestJob:
        """Replay the data file called ``data_name`` through ``request``'s rules. Returns
        once the tester has checked the request and begun, so a bad strategy or file reaches
        the caller as its error rather than a failed job."""
        from velocitas_desktop.research.trend import TrendError, load_bars

        self._check_room()  # before reading the file, which takes a while for a large one
        path = self.optimization.resolve(data_name)
        try:
            bars = load_bars(path)
        except TrendError as exc:
            raise TrendError(str(exc).replace(str(path), data_name)) from None
        with self._shelf.lock:
            self._check_room_locked()
            job = self._shelf.put(lambda job_id: RuleTestJob(
                job_id, request, bars, data_name, self.catalog))
        job.start()
        job.wait_started()
        if job.status is JobStatus.ERROR and job.progress[0] == 0:
            self._shelf.drop(job.job_id)  # refused, as a bad request: no job to show for it
            assert job.exception is not None
            raise job.exception
        return job

    def _check_room(self) -> None:
        with self._shelf.lock:
            self._check_room_locked()

    def _check_room_locked(self) -> None:
        self._shelf.check_open("the copilot's tests are shutting down; no new test starts")
        busy = [job.job_id for job in self._shelf.busy()]
        if len(busy) < self.max_running:
            return
        rule = ("one rule test runs at a time here: wait for it to finish"
                if self.max_running == 1 else
                f"{self.max_running} rule tests run at a time here: wait for one to finish")
        raise JobStateError(f"{', '.join(busy)} {'is' if len(busy) == 1 else 'are'} running "
                            f"already; {rule}")

    def get(self, job_id: str) -> RuleTestJob:
        return self._shelf.get(job_id)

    def jobs(self) -> list[RuleTestJob]:
        """Newest first."""
        return self._shelf.jobs()

    def shutdown(self, timeout: float = 0.0) -> None:
        """Start no more jobs and wait up to ``timeout`` seconds for the running ones (a test
        is a replay of seconds: it is not cut short)."""
        self._shelf.close(timeout)
