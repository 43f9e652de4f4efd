"""The monitor: the copilot's rules evaluated on the engine's prices and events, on a thread of
its own, off the engine's hot path.

The session's consumer hands each batch's prices over with :meth:`Monitor.prices` (a lock, a
list append and, when the monitor sleeps, a notify: a few microseconds), and the engine's
subscribers hand events over with :meth:`Monitor.event`; neither ever waits for the rules.
The thread wakes at most every ``MIN_INTERVAL`` and evaluates what arrived meanwhile, one
numpy pass per coin and rule (copilot/evaluator.py's Evaluator), and keeps its share of one
core under ``BUDGET`` (a tenth) whatever the tick rate: if it falls behind, more batches are simply
evaluated together (said once in the log), and past ``MAX_WAITING_TICKS`` the oldest prices
are skipped (said once, with the count), so its memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from velocitas_desktop.copilot.evaluator import Evaluator, Trigger
from velocitas_desktop.copilot.rules import Rule
from velocitas_desktop.engine.contract import Event, EventKind

log = logging.getLogger(__name__)

# Seconds between looks at least: the rules run at most this often, whatever the tick rate
# (a look's cost is mostly per rule, not per price: 100 rules on two coins took 1.7 ms a look
# with 100 prices a coin, here, on a loaded machine), and an alert comes this much late at most
# on top of its evaluation
MIN_INTERVAL = 0.01
# The looks' share of one core at most: after a look of c seconds the next waits c / BUDGET - c
# (if longer than MIN_INTERVAL). The monitor shares the interpreter lock with the consumer, so
# what it runs in Python is taken from trading; when the market outruns it, more batches are
# evaluated per look instead of trading slowing down. At 0.25, 100 rules took 22% of the
# engine's ticks/s at maximum speed (bench/copilot.py); at 10,000 ticks/s a look of ~1.5 ms
# waits ~14 ms at 0.1, a few ms more latency.
BUDGET = 0.1
CLOCK_SECONDS = 1.0         # on_clock (no trade, feed stalled, expiry) this often
MAX_WAITING_TICKS = 2_000_000  # prices waiting for the monitor (32 MB); older ones skipped
MAX_WAITING_EVENTS = 10_000
BEHIND_SECONDS = 1.0        # the oldest waiting price this old at a look: behind (said once)
IGNORED = frozenset({EventKind.TICKS, EventKind.ALERT, EventKind.ACTION, EventKind.GAP})

Triggered = Callable[[list[Trigger]], None]
Failed = Callable[[list[tuple[str, str]]], None]
Say = Callable[[str, str], None]


@dataclass(slots=True)
class _Chunk:
    prices: np.ndarray
    stamps: np.ndarray
    arrived: float   # epoch seconds the batch's first tick arrived


class Monitor:
    """Runs the rules of :meth:`set_rules` on what the engine hands over.

    ``triggered(triggers)`` and ``failed([(rule_id, reason)])`` are called on the monitor's
    thread; so is every callable given to :meth:`call`."""

    def __init__(self, triggered: Triggered, failed: Failed, say: Say,
                 clock: Callable[[], float] = time.time, min_interval: float = MIN_INTERVAL,
                 tick: Callable[[float], None] | None = None) -> None:
        self._triggered = triggered
        self._failed = failed
        self._say = say
        self._clock = clock
        self._tick = tick    # called with the time every CLOCK_SECONDS (expiry of actions)
        self.min_interval = min_interval
        self._evaluator = Evaluator(())
        self._wake = threading.Condition()
        self._chunks: dict[str, list[_Chunk]] = {}
        self._waiting_ticks = 0
        self._waiting_batches = 0
        self._events: deque[Event] = deque()
        self._latest: dict[EventKind, Event] = {}  # metrics: only the newest matters
        self._calls: list[Callable[[], None]] = []
        self._rules: tuple[list[Rule], tuple[int, float]] | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        # perf_counter -> epoch, once: the feed stamps a batch's arrival with perf_counter
        self._epoch_offset = time.time() - time.perf_counter()
        self.evaluations = 0
        self.skipped_ticks = 0
        self.busy_seconds = 0.0
        self._said_behind = False
        self._said_skipped = False

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            if not self._stopping:
                return
            thread.join()  # the last session's last look, then a new thread for this one
        self._stopping = False
        self._said_behind = False  # said once a session
        self._thread = threading.Thread(target=self._run, name="velocitas-copilot",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """End the thread after one last look at what was handed over; True when it ended
        within ``timeout`` (a monitor far behind a fast replay may take longer)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- hand-offs (any thread; never wait) ----------------------------------------------

    def set_rules(self, rules: Sequence[Rule], throttle: tuple[int, float]) -> None:
        """The rules to evaluate from the next look on (disabled ones are left out)."""
        with self._wake:
            self._rules = (list(rules), throttle)
            self._wake.notify()

    def prices(self, per_coin: Mapping[str, tuple[np.ndarray, np.ndarray]],
               received: float) -> None:
        """A batch's prices and timestamps per coin, whose first tick arrived at
        ``received`` (time.perf_counter). The session's consumer calls this per batch."""
        arrived = received + self._epoch_offset if received else self._clock()
        with self._wake:
            chunks = self._chunks
            for coin, (prices, stamps) in per_coin.items():
                chunks.setdefault(coin, []).append(_Chunk(prices, stamps, arrived))
                self._waiting_ticks += prices.shape[0]
            self._waiting_batches += 1
            if self._waiting_ticks > MAX_WAITING_TICKS:
                self._skip_oldest()
            if self._waiting_batches == 1:
                self._wake.notify()

    def event(self, event: Event) -> None:
        """An engine event (a subscriber callback: quick)."""
        if event.kind in IGNORED:
            return
        with self._wake:
            if event.kind == EventKind.METRICS:
                self._latest[event.kind] = event
            elif len(self._events) < MAX_WAITING_EVENTS:
                self._events.append(event)
            self._wake.notify()

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the monitor's thread, in order with the evaluations."""
        with self._wake:
            self._calls.append(fn)
            self._wake.notify()

    def _skip_oldest(self) -> None:
        """Drop the oldest waiting prices until the backlog fits again (lock held)."""
        skipped = 0
        for chunks in self._chunks.values():
            while chunks and self._waiting_ticks > MAX_WAITING_TICKS // 2:
                chunk = chunks.pop(0)
                self._waiting_ticks -= chunk.prices.shape[0]
                skipped += chunk.prices.shape[0]
        self.skipped_ticks += skipped
        if not self._said_skipped:
            self._said_skipped = True
            self._say("warning", f"the copilot's monitor fell {MAX_WAITING_TICKS:,} prices "
                                 f"behind the engine and skipped the oldest {skipped:,}; "
                                 "price rules may miss what happened in them")

    # --- the thread ----------------------------------------------------------------------

    def _warm_up(self) -> None:
        """Run the rules once on made-up prices in a throwaway evaluator, so the first look
        of a session does not pay for first calls (imports, numpy's first paths, templates):
        it took 60 ms here, and the alerts of the session's first second waited for it."""
        with self._wake:
            waiting = self._rules
        rules = waiting[0] if waiting is not None else self._evaluator.rules
        if not rules:
            return
        coins = {r.scope.value for r in rules if r.scope.kind == "coin" and r.scope.value}
        prices = 100.0 * np.exp(np.cumsum(np.sin(np.arange(600.0)) * 0.01))
        stamps = np.arange(600.0) * 30.0
        try:
            warm = Evaluator(rules)
            for coin in coins or {"BTC"}:
                warm.on_prices(coin, prices, stamps, 0.0)
        except Exception:  # a rule that fails here fails for real in the first look
            log.debug("the copilot's warm-up failed", exc_info=True)

    def _run(self) -> None:
        self._warm_up()
        last_clock = 0.0
        last_look = 0.0
        gap = self.min_interval
        while True:
            with self._wake:
                while not self._stopping and not self._has_work():
                    wait = CLOCK_SECONDS - (time.monotonic() - last_clock)
                    if wait <= 0:
                        break
                    self._wake.wait(wait)
                stopping = self._stopping
            # let a few batches gather: one evaluation of many costs what one of one does
            rest = gap - (time.monotonic() - last_look)
            if rest > 0 and not stopping:
                time.sleep(rest)
            last_look = time.monotonic()
            began = time.perf_counter()
            evaluating = 0.0
            try:
                evaluating = self._look(
                    clock_due=time.monotonic() - last_clock >= CLOCK_SECONDS)
            except Exception:  # the monitor must outlive any one look
                log.exception("the copilot's monitor failed on a look; it goes on")
            if time.monotonic() - last_clock >= CLOCK_SECONDS:
                last_clock = time.monotonic()
            self.busy_seconds += time.perf_counter() - began
            # the budget paces the evaluation only: raising alerts is bounded by the rules'
            # throttle, and a burst of them (the crossings of a session's first second) made
            # the next look wait ~50 ms when it counted
            gap = max(self.min_interval, evaluating / BUDGET - evaluating)
            if stopping:  # what was handed over before stop() has been looked at
                return

    def _has_work(self) -> bool:
        return bool(self._waiting_batches or self._events or self._latest or self._calls
                    or self._rules is not None)

    def _look(self, clock_due: bool) -> float:
        """Evaluate what was handed over and act on the triggers; returns the seconds the
        evaluation took."""
        began = time.perf_counter()
        with self._wake:
            chunks, self._chunks = self._chunks, {}
            batches, self._waiting_batches, self._waiting_ticks = self._waiting_batches, 0, 0
            events = list(self._events)
            self._events.clear()
            events += self._latest.values()
            self._latest = {}
            calls, self._calls = self._calls, []
            rules, self._rules = self._rules, None
        if rules is not None:
            self._replace(*rules)
        now = self._clock()
        if chunks and not self._said_behind:
            lag = now - min(waiting[0].arrived for waiting in chunks.values())
            if lag > BEHIND_SECONDS:
                self._said_behind = True
                self._say("info", f"the copilot's monitor is {lag:.1f} s behind the market "
                                  f"({batches} batches waited for one look): the prices "
                                  "come faster than its share of the processor evaluates "
                                  "them one batch at a time, so it evaluates the waiting ones "
                                  "together and alerts come later than their ticks")
        triggers: list[Trigger] = []
        evaluator = self._evaluator
        for coin, waiting in chunks.items():
            triggers += self._on_prices(evaluator, coin, waiting)
        for event in events:
            triggers += evaluator.on_event(str(event.kind), event.data, now)
        if clock_due:
            triggers += evaluator.on_clock(now)
        self.evaluations += 1
        evaluating = time.perf_counter() - began
        if triggers:
            self._triggered(triggers)
        failures = evaluator.failures()
        if failures:
            self._failed(failures)
        for fn in calls:
            fn()
        if clock_due and self._tick is not None:
            self._tick(now)
        return evaluating

    def _replace(self, rules: list[Rule], throttle: tuple[int, float]) -> None:
        if throttle != self._evaluator.throttle:
            self._evaluator = Evaluator(rules, throttle)
        else:
            self._evaluator.replace(rules)

    def _on_prices(self, evaluator: Evaluator, coin: str, waiting: list[_Chunk]
                   ) -> list[Trigger]:
        """One evaluation of the coin's waiting batches; each trigger's ``tick_time`` is the
        arrival of the batch its tick came in."""
        if len(waiting) == 1:
            chunk = waiting[0]
            return evaluator.on_prices(coin, chunk.prices, chunk.stamps, chunk.arrived)
        prices = np.concatenate([c.prices for c in waiting])
        stamps = np.concatenate([c.stamps for c in waiting])
        found = evaluator.on_prices(coin, prices, stamps, waiting[0].arrived)
        if not found:
            return found
        # the evaluator reports a trigger's time as the running maximum of the stamps; the
        # batch it came in is the first whose running maximum reaches it
        ends = np.cumsum([c.prices.shape[0] for c in waiting]) - 1
        reach = np.maximum.accumulate(stamps)[ends]
        arrivals = [c.arrived for c in waiting]
        out = []
        for trigger in found:
            if trigger.throttled or trigger.coin != coin:
                out.append(trigger)
                continue
            k = min(int(np.searchsorted(reach, trigger.time, side="left")), len(waiting) - 1)
            out.append(replace(trigger, tick_time=arrivals[k]))
        return out

    @property
    def evaluator(self) -> Evaluator:
        return self._evaluator

