"""The session's writer thread: what the consumer hands over goes to the journal, then to the
subscribers, in order; when the journal cannot take it, trading pauses until it can.

Nothing is published that is not saved. A batch the journal refuses (a full disk, an I/O
error) is held here, with everything handed over after it, and none of it is published: no
trade to a WebSocket or the window, no metrics that count it. The engine pauses trading (no
new fills; prices still flow and strategies follow them) and says why once. The held records
are written again, whole, after 0.5 s, 1 s, 2 s... (at most every 10 s) or at once when the
user asks (``resume_trading``); when a write succeeds they are published, in order, and
trading resumes. A free-space guard pauses trading the same way before the disk is full.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import KW_ONLY, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.contract import EventKind
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.engine.latency import LatencyStats
from velocitas_desktop.feeds.base import TickBatch
from velocitas_desktop.store.journal import JournalError
from velocitas_desktop.store.retention import human_bytes

log = logging.getLogger(__name__)

MB = 1_000_000
FIRST_RETRY = 0.5        # seconds before a refused write is tried again; doubled each time
LAST_RETRY = 10.0        # ... up to this
POLL_SECONDS = 0.1       # while paused, how often the writer looks for a resume request
GUARD_SECONDS = 1.0      # free space is read at most this often (a statvfs call, ~2 µs)
RESUME_MARGIN = 1.1      # trading resumes by itself at 10% above the minimum free space
# Fills and samples held for a journal that refuses them. Past this the writer stops taking
# from the consumer, which then waits (a replay waits where it is; a live feed's ticks queue
# up). Paused, a session makes samples only: 8 strategies take 100,000 on live prices in
# about 8 days, and a replay at full speed within a second.
HELD_LIMIT = 100_000
RESUME_TIMEOUT = 30.0    # seconds resume_trading() waits for the writer's answer

# The ledger's figures at one moment: (global figures, figures by strategy id)
Figures = tuple[dict[str, Any], dict[str, dict[str, Any]]]


class JournalOwner(Protocol):
    """What the writer needs of the engine: the journal, the subscribers, the pause."""

    @property
    def has_subscribers(self) -> bool: ...
    def publish(self, kind: EventKind, data: Any) -> None: ...
    def journal_batch(self, trades: list[Trade], pnl_rows: list[Any],
                      state: dict[str, Any] | None = None) -> None: ...
    def figures_saved(self, figures: Figures) -> None: ...
    def saved_snapshot(self) -> dict[str, Any]: ...
    def snapshot(self) -> dict[str, Any]: ...
    def pause_trading(self, message: str, new: bool) -> None: ...
    def trading_resumed(self, message: str) -> None: ...
    def records_lost(self, message: str) -> None: ...


@dataclass(slots=True)
class Handoff:
    """What the consumer hands the writer after a batch, or on the metrics clock: records to
    journal, the ledger's figures with them, and the ticks to publish once they are saved."""

    trades: list[Trade]
    samples: list[dict[str, Any]]
    state: dict[str, Any] | None
    made: int                       # P&L points (fills and samples) the ledger made up to here
    # the ledger's figures right after these records (taken whenever there are records, so
    # the figures last saved are exactly the journal's: 62 µs for 8 strategies)
    figures: Figures | None = None
    publish: bool = False           # the metrics clock ticked: publish the figures saved
    _: KW_ONLY
    batches: list[TickBatch] = field(default_factory=list)  # as received (for latency)
    filled_at: list[int] = field(default_factory=list)      # the fills' places in the batch
    batch: TickBatch | None = None  # the ticks (None: no ticks)


@dataclass(slots=True)
class Held:
    """Records taken from the consumer and not yet in the journal."""

    trades: list[Trade] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] | None = None   # only the newest counts: each replaces the last
    figures: Figures | None = None        # likewise
    made: int = 0
    handoffs: int = 0
    publish: bool = False

    def add(self, handoff: Handoff) -> None:
        self.handoffs += 1
        self.trades.extend(handoff.trades)
        self.samples.extend(handoff.samples)
        if handoff.state:
            self.state = handoff.state
        if handoff.figures is not None:
            self.figures = handoff.figures
        self.made = handoff.made
        self.publish = self.publish or handoff.publish

    @property
    def writable(self) -> bool:
        """Something here goes to the journal (figures alone do not)."""
        return bool(self.trades or self.samples or self.state)

    @property
    def rows(self) -> int:
        return len(self.trades) + len(self.samples)


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged program may still write on the disk holding ``path``'s folder
    (None if it cannot be read)."""
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return None


def low_space(path: Path, free: int, min_free: float) -> str:
    """The words for a disk below the minimum free space (shared by start and the guard)."""
    return (f"{human_bytes(free)} free on the disk of the journal {path}, below the "
            f"{human_bytes(min_free)} kept free")


class SpaceGuard:
    """Reads the free space of the journal's disk at most every GUARD_SECONDS: below
    ``min_free`` bytes trading pauses, and it resumes at ``min_free × RESUME_MARGIN`` (or at
    ``min_free`` when the user asks), so a disk hovering at the line does not flap."""

    def __init__(self, path: Path, min_free: float,
                 read: Callable[[Path], int | None] = free_bytes) -> None:
        self.path = path
        self.min_free = min_free
        self.read = read
        self._read_at = -GUARD_SECONDS
        self._free: int | None = None

    def free(self, now: float, fresh: bool = False) -> int | None:
        if fresh or now - self._read_at >= GUARD_SECONDS:
            self._read_at = now
            self._free = self.read(self.path)
        return self._free

    def low(self, now: float, fresh: bool = False) -> str | None:
        """Why trading must pause (the disk is below the minimum), or None."""
        free = self.free(now, fresh)
        if free is None or free >= self.min_free:
            return None
        return (f"trading paused: {low_space(self.path, free, self.min_free)}; no new fills "
                f"until there is more (it resumes by itself at "
                f"{human_bytes(self.min_free * RESUME_MARGIN)} free)")

    def still_low(self, now: float, asked: bool) -> bool:
        """Paused for space: whether it must stay paused (``asked``: the user asks now)."""
        free = self.free(now, fresh=asked)
        line = self.min_free if asked else self.min_free * RESUME_MARGIN
        return free is not None and free < line


class Cause(Enum):
    SPACE = "space"   # the guard: the disk is nearly full
    WRITE = "write"   # the journal refused a write


@dataclass(frozen=True, slots=True)
class Pause:
    cause: Cause
    message: str  # what the views show: why, where, and what happens next


class JournalWriter:
    """The writer thread's loop (:meth:`run`) over the session's outbox.

    ``saved`` counts the P&L points (fills and samples) in the journal, as ``Handoff.made``
    counts those made. ``refused`` is set while it holds records the journal refused (and
    stays set if the session ends so): the engine then shows the figures last saved.
    """

    def __init__(self, engine: JournalOwner, outbox: queue.Queue, coins: list[str],
                 latency: LatencyStats, stopping: threading.Event, path: Path | None = None,
                 guard: SpaceGuard | None = None) -> None:
        self.engine = engine
        self._outbox = outbox
        self.coins = coins
        self.latency = latency
        self.stopping = stopping
        self.path = path
        self.guard = guard
        self.saved = 0
        self.refused = False
        self.held = Held()
        self.pause: Pause | None = None
        self.refusal = ""  # the journal's reason for its last refusal
        self._retry_at = 0.0
        self._retry_delay = FIRST_RETRY
        self._requests: queue.SimpleQueue[Future] = queue.SimpleQueue()
        self._done = threading.Event()

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Commit, then tell the subscribers, in order, until the session's end marker.

        It takes everything waiting at once and commits it in one transaction, so a slow
        commit makes the next one bigger instead of making a queue.
        """
        try:
            ended = False
            while not ended:
                handoffs, ended = self._take()
                for handoff in handoffs:
                    self.held.add(handoff)
                asked = self._take_requests()
                self._watch_space(time.monotonic(), bool(asked))
                committed = self._commit(time.monotonic(), bool(asked) or ended)
                self._publish(handoffs, committed)
                self._answer(asked)
            if self.held.writable:
                self.engine.records_lost(self._lost_message())
        finally:
            self._done.set()
            self._answer(self._take_requests())

    def _take(self) -> tuple[list[Handoff], bool]:
        """Everything waiting (waiting for the first only while trading is not paused), and
        whether the session's end marker came."""
        paused = self.pause is not None
        if (paused and self.held.rows >= HELD_LIMIT and not self.stopping.is_set()):
            time.sleep(POLL_SECONDS)  # the consumer waits until the journal takes these
            return [], False
        try:
            first = self._outbox.get(timeout=POLL_SECONDS if paused else None)
        except queue.Empty:
            return [], False
        items = [first]
        while True:
            try:
                items.append(self._outbox.get_nowait())
            except queue.Empty:
                break
        ended = items[-1] is None
        return [item for item in items if item is not None], ended

    def _commit(self, now: float, now_please: bool) -> Held | None:
        """Write what is held, if it is time to; the records written, or None."""
        held = self.held
        if not held.handoffs:
            return None
        if held.writable:
            waiting = self.pause is not None and self.pause.cause is Cause.WRITE
            if waiting and not now_please and now < self._retry_at:
                return None
            try:
                self.engine.journal_batch(held.trades, held.samples, held.state)
            except Exception as exc:
                self.refused = True
                self._refused(exc, now)
                return None
        self.held = Held()
        self.saved = held.made
        self.refused = False
        if self.pause is not None and self.pause.cause is Cause.WRITE:
            self._written_again(held, now)
        return held

    def _publish(self, handoffs: list[Handoff], committed: Held | None) -> None:
        """Trades and metrics once saved; ticks always (prices are not records)."""
        engine = self.engine
        if committed is not None and committed.figures is not None:
            engine.figures_saved(committed.figures)
        if committed is not None and committed.trades and engine.has_subscribers:
            engine.publish(EventKind.TRADES, [t.to_dict() for t in committed.trades])
        now = time.perf_counter()
        for handoff in handoffs:
            if handoff.batch is None:
                continue
            if handoff.filled_at and committed is not None:
                self.latency.add(self.latency.published, now, handoff.batches,
                                 handoff.filled_at)
            self.latency.add_batch(now, handoff.batches[0].received)
            engine.publish(EventKind.TICKS, {"coins": self.coins, "batch": handoff.batch})
        if committed is not None and committed.publish:
            engine.publish(EventKind.METRICS, engine.saved_snapshot())
        elif committed is None and any(h.publish for h in handoffs):
            # held: the figures the journal has, with the engine's status now
            engine.publish(EventKind.METRICS, engine.snapshot())

    # --- pausing and resuming ------------------------------------------------------------

    def _watch_space(self, now: float, asked: bool) -> None:
        guard = self.guard
        if guard is None:
            return
        if self.pause is None:
            problem = guard.low(now)
            if problem is not None:
                self._pause(Cause.SPACE, problem)
        elif self.pause.cause is Cause.SPACE and not guard.still_low(now, asked):
            free = guard.free(now) or 0
            self._resume(f"trading resumed: {human_bytes(free)} free on the disk of the "
                         f"journal {self.path}")

    def _refused(self, exc: Exception, now: float) -> None:
        """The journal refused the held records: pause (said once), retry later."""
        reason = self.refusal = getattr(exc, "cause", None) or f"{type(exc).__name__}: {exc}"
        if self.pause is not None and self.pause.cause is Cause.WRITE:
            self._retry_delay = min(self._retry_delay * 2, LAST_RETRY)
        else:
            if not isinstance(exc, JournalError):  # not a disk's refusal: keep the trace
                log.error("the journal write failed unexpectedly", exc_info=exc)
            self._pause(Cause.WRITE, (
                f"trading paused: the journal {self.path} cannot be written ({reason}). Free "
                "space on its disk: the journal is tried again every few seconds, and trading "
                "resumes when it can be written. No new fills are made meanwhile; the "
                f"{len(self.held.trades):,} made just before are held and saved then"))
            self._retry_delay = FIRST_RETRY
        self._retry_at = now + self._retry_delay

    def _written_again(self, written: Held, now: float) -> None:
        """A held write went in: resume, unless the disk is still too full to trade on."""
        problem = self.guard.low(now, fresh=True) if self.guard is not None else None
        if problem is not None:
            self._pause(Cause.SPACE, problem)
            return
        self._resume(f"trading resumed: the journal {self.path} can be written again; the "
                     f"{len(written.trades):,} fills held meanwhile are saved")

    def _pause(self, cause: Cause, message: str) -> None:
        new = self.pause is None
        self.pause = Pause(cause, message)
        self.engine.pause_trading(message, new)
        # at once, the figures views may show now: those of what the journal holds
        self.engine.publish(EventKind.METRICS, self.engine.snapshot())

    def _resume(self, message: str) -> None:
        self.pause = None
        self.engine.trading_resumed(message)

    def _lost_message(self) -> str:
        held = self.held
        return (f"the session ended with {len(held.trades):,} fills and "
                f"{len(held.samples):,} P&L samples the journal {self.path} could not take "
                f"({self.refusal}): they are not saved, and not shown")

    # --- the user's resume -----------------------------------------------------------------

    def resume_now(self, timeout: float = RESUME_TIMEOUT) -> None:
        """Try the journal (and the disk's room) again at once; EngineError saying why
        trading stays paused. Called on any thread."""
        if self.pause is None or self._done.is_set():
            return
        answer: Future = Future()
        self._requests.put(answer)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return answer.result(POLL_SECONDS)
            except FuturesTimeout:
                if self._done.is_set() and not answer.done():
                    return  # the session ended meanwhile: nothing is paused any more
                if time.monotonic() > deadline:
                    raise EngineError(f"the journal did not answer within {timeout:g} s; "
                                      "trading stays paused") from None

    def _take_requests(self) -> list[Future]:
        asked = []
        while True:
            try:
                asked.append(self._requests.get_nowait())
            except queue.Empty:
                return asked

    def _answer(self, asked: list[Future]) -> None:
        pause = self.pause
        for answer in asked:
            if pause is None:
                answer.set_result(None)
            else:
                answer.set_exception(EngineError(pause.message))
