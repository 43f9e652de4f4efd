"""The notifier: alerts to webhooks through the persistent outbox, on threads of its own, and
the heartbeat that lets an outside monitor notice silence.

``alert()`` only puts the alert on a bounded queue (never waits: when the queue is full the
alert is counted as dropped and logged, trading goes on). The notifier's thread takes what
came within 50 ms off it, writes one delivery per enabled webhook that wants each alert's
severity into the outbox (store/outbox.py) in one transaction, and wakes those webhooks'
lanes. Each target URL has a lane, a thread with its own HTTP client that sends the target's
deliveries one at a time, so a dead endpoint holds up only itself. An attempt that fails is
tried again on the schedule of copilot/webhooks.py (1, 2, 4 ... 60 s with 10% jitter, 8
attempts; a 429's Retry-After instead of the pause), each attempt recorded (attempts,
last_error); then the delivery is ``sent`` or ``failed``. A failing target also rests, on the
same schedule by its failures in a row, before its next attempt of any delivery.

Started again on the same outbox, a notifier sends what was still pending: exactly once when
the process had stopped cleanly (stop() writes the queued alerts into the outbox first), and
possibly a second time (same key) for a delivery whose POST was under way when it died.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from velocitas_desktop import __version__
from velocitas_desktop.copilot import webhooks
from velocitas_desktop.copilot.outbox import deliveries_for
from velocitas_desktop.copilot.webhooks import Webhook
from velocitas_desktop.store.outbox import Claim, OutboxStore

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.05    # alerts gathered before they go into the outbox together
ENQUEUE_BATCH = 1_000    # alerts written to the outbox in one transaction, at most
QUEUE_LIMIT = 10_000     # alerts waiting for the notifier's thread; past this they are dropped
IDLE_BEAT = 5.0          # seconds between looks at the settings while no heartbeat is set
LANE_REST = 5.0          # seconds a lane rests after the outbox failed it
STOP_SECONDS = 2.0       # stop() waits this long for a POST under way, then leaves it
Settings = Mapping[str, Any]
Sleep = Callable[[float], None]


class Notifier:
    """Sends alerts to the webhooks ``settings_provider()`` lists (copilot settings: the
    ``webhooks`` and ``heartbeat`` parts), read afresh for each alert and each beat.

    ``store`` None keeps the outbox in memory (nothing survives a restart). ``clock`` and
    ``sleep`` let a test run the retry schedule on a clock of its own: with ``sleep`` given,
    a timed wait calls it instead of waiting; an untimed one (nothing due) still waits for a
    new alert. ``status`` is the word the heartbeat reports (the engine's state)."""

    def __init__(self, store: OutboxStore | None, settings_provider: Callable[[], Settings],
                 clock: Callable[[], float] = time.time, *, sleep: Sleep | None = None,
                 status: Callable[[], str] = lambda: "running",
                 timeout: httpx.Timeout | None = None, attempts: int = webhooks.MAX_ATTEMPTS,
                 rng: random.Random | None = None) -> None:
        self.store = store if store is not None else OutboxStore(":memory:")
        self._settings = settings_provider
        self._clock = clock
        self._sleep = sleep
        self._status = status
        self._timeout = timeout or webhooks.timeouts()
        self.attempts = attempts
        self._rng = rng or random.Random()
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE_LIMIT)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._beat_wake = threading.Event()
        self._lanes: dict[str, _Lane] = {}
        self._threads: list[threading.Thread] = []
        self.dropped = 0

    # --- what the monitor calls ----------------------------------------------------------

    def alert(self, alert: dict[str, Any]) -> None:
        """Deliver ``alert`` to every enabled webhook that wants its severity; never waits."""
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("the notifier is %d alerts behind; %d alerts were not sent to the "
                            "webhooks", QUEUE_LIMIT, self.dropped)
            return
        self._wake.set()

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest deliveries first: {id, alert_id, channel, target, format, status,
        attempts, last_error, dedup_key, created, sent}."""
        return self.store.deliveries(limit)

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread, the heartbeat, and a lane for each target still owed a delivery
        (what a previous run left pending)."""
        self._stopping.clear()
        for target in self.store.pending_targets():
            self._lane(target)
        self._spawn(self._run, "notifier")
        self._spawn(self._beat, "notifier-heartbeat")

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop every thread; a POST still under way after ``timeout`` is left to finish on
        its own (its delivery stays pending and is sent again by the next start)."""
        self._stopping.set()
        self._wake.set()
        self._beat_wake.set()
        for lane in list(self._lanes.values()):
            lane.wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._lanes.clear()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # --- the notifier's thread: alerts into the outbox -----------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait()
            # gather what comes within GATHER_SECONDS into one transaction: an alert a
            # transaction made the journal's writer wait on the file hundreds of times a second
            self._stopping.wait(GATHER_SECONDS)
            self._wake.clear()
            self._drain()
            if self._stopping.is_set():  # what was queued is in the outbox for the next run
                return

    def _drain(self) -> None:
        while not self._queue.empty():
            try:
                self._enqueue()
            except Exception:  # the outbox refused them (a full disk): the next ones may pass
                log.exception("the notifier could not keep alerts in its outbox")

    def _enqueue(self) -> None:
        """The waiting alerts' deliveries into the outbox in one transaction (hundreds of
        alerts a second wrote one each, and the journal's writer waited for them)."""
        hooks = self._webhooks()
        rows = []
        for _ in range(ENQUEUE_BATCH):
            try:
                alert = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                rows += deliveries_for(alert, hooks)
            except Exception:  # one malformed alert must not cost the others theirs
                log.exception("the notifier could not render alert %s", alert.get("id"))
        if rows and self.store.add(rows, self._clock()):
            for target in {row.target for row in rows}:
                self._lane(target).wake.set()

    def _webhooks(self) -> list[Webhook]:
        hooks = []
        for data in self._settings().get("webhooks") or []:
            try:
                hooks.append(Webhook.from_json(data))
            except webhooks.WebhookError as exc:  # the settings were checked when saved
                log.warning("a webhook is skipped: %s", exc)
        return hooks

    def _lane(self, target: str) -> _Lane:
        lane = self._lanes.get(target)
        if lane is None:
            lane = self._lanes[target] = _Lane(self, target)
            self._spawn(lane.run, f"notifier-lane-{len(self._lanes)}")
        return lane

    def _wait(self, event: threading.Event, seconds: float | None) -> None:
        if seconds is None:
            event.wait()
        elif self._sleep is not None:
            self._sleep(max(0.0, seconds))
        else:
            event.wait(max(0.0, seconds))

    # --- the heartbeat -------------------------------------------------------------------

    def settings_changed(self) -> None:
        """Read the heartbeat settings now rather than at the next beat (webhooks are read
        for each alert anyway)."""
        self._beat_wake.set()

    def _beat(self) -> None:
        # the heartbeat keeps real time even when a test gives a sleep: its beats are spaced
        # by the wall clock, and an idle heartbeat must not move a test's clock
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
            while not self._stopping.is_set():
                self._beat_wake.clear()
                began = time.monotonic()
                beat = self._settings().get("heartbeat") or {}
                url = beat.get("url")
                if url:
                    try:
                        self.heartbeat(client, url)
                    except Exception:  # a full disk must not end the heartbeat
                        log.exception("the heartbeat to %s could not be recorded", url)
                interval = float(beat.get("interval_s") or 60) if url else IDLE_BEAT
                self._beat_wake.wait(max(0.0, interval - (time.monotonic() - began)))

    def heartbeat(self, client: httpx.Client, url: str) -> bool:
        """POST one beat to ``url`` and record it (one row per URL); whether it arrived."""
        now = self._clock()
        body = {"app": "velocitas", "version": __version__, "time": now,
                "status": self._status(), "alerts_pending": self.store.pending_count()}
        outcome = webhooks.post(client, url, body, None)
        self.store.record_heartbeat(url, now, outcome.error, body)
        return outcome.delivered


class _Lane:
    """One target's deliveries, sent one at a time on a thread of their own.

    A target that fails rests before its next attempt, whichever delivery that is: the pause
    grows with its failures in a row (the same schedule as a delivery's), so a dead endpoint
    that many alerts owe deliveries is tried about once a minute, not once per alert; the
    deliveries wait in the outbox (each its own attempts counted) until it answers."""

    def __init__(self, notifier: Notifier, target: str) -> None:
        self.notifier = notifier
        self.target = target
        self.url = target.split("#chat=", 1)[0]
        self.wake = threading.Event()
        self.failures = 0          # the target's failed attempts in a row
        self.rest_until = 0.0      # no attempt before this time

    def run(self) -> None:
        n = self.notifier
        with httpx.Client(timeout=n._timeout, follow_redirects=False) as client:
            while not n._stopping.is_set():
                self.wake.clear()
                now = n._clock()
                try:
                    if now < self.rest_until:
                        due = n.store.next_due(self.target)
                        # new alerts do not end a rest: wait for it (or for stop()) alone
                        n._wait(self.wake if due is None else n._stopping,
                                None if due is None else max(due, self.rest_until) - now)
                        continue
                    due = n.store.claim(self.target, now)
                    if isinstance(due, Claim):
                        self.send(client, due)
                        continue
                except Exception:  # the outbox could not be read or written (a full disk)
                    if n._stopping.is_set():
                        return  # closed under a POST that outlived stop(): sent again later
                    log.exception("the notifier's lane for %s stumbled; trying again", self.url)
                    due = n._clock() + LANE_REST
                n._wait(self.wake, None if due is None else due - n._clock())

    def send(self, client: httpx.Client, claim: Claim) -> None:
        n = self.notifier
        outcome = webhooks.post(client, self.url, claim.body, claim.dedup_key)
        now = n._clock()
        if outcome.delivered:
            self.failures = 0
            n.store.sent(claim.id, now)
            return
        error = f"attempt {claim.attempt}: {outcome.error}"
        if outcome.retryable:
            self.failures += 1
            rest = (outcome.retry_after if outcome.retry_after is not None
                    else webhooks.pause(self.failures, n._rng))
            self.rest_until = now + rest
        if not outcome.retryable or claim.attempt >= n.attempts:
            n.store.failed(claim.id, error)
            log.warning("a webhook delivery to %s failed after %d attempts: %s",
                        self.url, claim.attempt, outcome.error)
        else:
            wait = (outcome.retry_after if outcome.retry_after is not None
                    else webhooks.pause(claim.attempt, n._rng))
            n.store.retry(claim.id, error, now + wait)
