"""The live engine: feed → producer thread → bounded queue → consumer → shards → ledger → journal.

One instance serves the window, the server and the headless CLI. The consumer thread is the
only writer of the ledger; everything else reads copies under :attr:`Engine.lock`. Control
calls (register, pause, new parameters...) made while running are queued to the consumer and
applied between batches, so a strategy is never changed in the middle of one.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from velocitas_desktop.catalog import Catalog, load_catalog
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.ledger import Ledger
from velocitas_desktop.core.strategy import StrategySpec, check_coin
from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.config import EngineConfig, build_feed, check_config
from velocitas_desktop.engine.contract import (
    AttachedView,
    EngineStatus,
    Event,
    EventKind,
    StrategyStatus,
)
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.engine.history import PriceHistory
from velocitas_desktop.engine.latency import _Latency
from velocitas_desktop.engine.shard import CoinPrices, RawSignal, Shard
from velocitas_desktop.engine.workers import Worker, WorkerDied
from velocitas_desktop.feeds.base import Feed, FeedError, FeedState, TickBatch
from velocitas_desktop.store.journal import Journal

log = logging.getLogger(__name__)


QUEUE_BATCHES = 32           # bounded queue, in batches
OUTBOX_BATCHES = 8           # processed batches waiting for the journal and subscribers
MAX_DRAIN_TICKS = 65_536     # a natural batch: whatever is queued, up to this many ticks
METRICS_INTERVAL = 0.5       # seconds between metrics events
WARMUP_TICKS = 5_000         # recent prices kept per coin to warm re-created strategies


@dataclass(slots=True)
class _InFlight:
    """A batch whose inline signals are known and whose workers may still be computing."""

    batches: list[TickBatch]
    batch: TickBatch
    positions: dict[str, np.ndarray | None]
    per_coin: CoinPrices
    signals: list[RawSignal]
    failures: list[tuple[str, str]]
    pending: list[Worker]
    began_cost: float = 0.0  # seconds the inline shard took on it


@dataclass(slots=True)
class _Registered:
    spec: StrategySpec
    status: StrategyStatus = StrategyStatus.ACTIVE
    error: str | None = None
    order: int = 0
    worker: int | None = None  # index of the worker that owns it; None = inline


class Engine:
    """The trading engine. Thread-safe: every public method may be called from any thread."""

    def __init__(self, catalog: Catalog | None = None, journal: Journal | None = None,
                 restore: bool = True, recent_trades: int = 10_000) -> None:
        self.catalog = catalog or load_catalog()
        self.journal = journal
        self.lock = threading.Lock()        # guards the ledger and the registry
        self._admin = threading.RLock()     # serialises start/stop and direct control calls
        self._subscribers: list[Callable[[Event], None]] = []
        self._views: list[AttachedView] = []
        self._sub_lock = threading.Lock()
        self._registry: dict[str, _Registered] = {}
        self._order = itertools.count()
        self.ledger = Ledger()
        self.recent_trades: deque[Trade] = deque(maxlen=recent_trades)
        self.config = EngineConfig()
        self.status = EngineStatus.STOPPED
        self.status_message = ""
        self.feed_state: dict[str, str] = {"state": FeedState.IDLE, "message": ""}
        self.session_id: int | None = None
        self.ticks_processed = 0
        self.ticks_per_second = 0.0
        self.latency = _Latency()
        self._feed: Feed | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self._control: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._producer: threading.Thread | None = None
        self._consumer: threading.Thread | None = None
        self._finished = threading.Event()
        self._finished.set()
        self._shard = Shard()
        self._workers: list[Worker] = []
        self._history: dict[str, PriceHistory] = {}
        self._coins: list[str] = []
        self._started_at = 0.0
        self._run_seconds = 0.0
        self._last_positions: list[int] = []
        self._limit_hit = False
        self._drain_cap = MAX_DRAIN_TICKS
        self._outbox: queue.Queue = queue.Queue(maxsize=1)
        self._writer: threading.Thread | None = None
        if journal is not None:
            self.ledger.next_trade_id = journal.max_trade_id() + 1
            if restore:
                self._restore_last_session()

    # --- subscribers ---------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, on the engine's threads; keep it quick."""
        with self._sub_lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._sub_lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def _publish(self, kind: EventKind, data: Any) -> None:
        event = Event(kind, data)
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception:  # a broken view must not stop the engine
                log.exception("subscriber %r failed on a %s event", callback, kind)

    def _log(self, level: str, message: str) -> None:
        getattr(log, level if level != "warn" else "warning")(message)
        self._publish(EventKind.LOG, {"level": level, "message": message, "time": time.time()})

    # --- strategies ----------------------------------------------------------------------

    def register(self, spec: StrategySpec) -> StrategySpec:
        """Add a strategy (validated against the catalogue); it starts trading at once if the
        engine runs. Raises ParameterError, UnknownStrategyError or EngineError."""
        spec = self.catalog.validate(spec)

        def apply() -> StrategySpec:
            if spec.id in self._registry:
                raise EngineError(f"a strategy with id {spec.id!r} is already registered; "
                                  "remove it first or give the new one another id")
            entry = _Registered(spec, order=next(self._order))
            with self.lock:
                self._registry[spec.id] = entry
                self.ledger.open_book(spec.id, spec.coin, spec.name, spec.allow_short)
            if self._running():
                self._place(entry)
                if spec.coin not in self._coins:
                    self._log("warning", f"{spec.id} will not trade: the running feed has no "
                                         f"prices for {spec.coin}")
            self._save(entry)
            self._publish_strategy(entry)
            return spec

        return self._control_call(apply)

    def unregister(self, strategy_id: str) -> None:
        def apply() -> None:
            entry = self._entry(strategy_id)
            self._unplace(entry)
            with self.lock:
                del self._registry[strategy_id]
                self.ledger.close_book(strategy_id)
            if self.journal is not None:
                self.journal.save_strategy(entry.spec.to_dict(), entry.status, removed=True)
            self._publish(EventKind.STRATEGY, {"strategy_id": strategy_id,
                                               "status": StrategyStatus.REMOVED, "error": None})

        self._control_call(apply)

    def pause(self, strategy_id: str) -> None:
        """Stop acting on the strategy's signals; it keeps following prices."""
        self._set_status(strategy_id, StrategyStatus.PAUSED)

    def resume(self, strategy_id: str) -> None:
        self._set_status(strategy_id, StrategyStatus.ACTIVE)

    def _set_status(self, strategy_id: str, status: StrategyStatus) -> None:
        def apply() -> None:
            entry = self._entry(strategy_id)
            if entry.status == StrategyStatus.ERROR and status == StrategyStatus.PAUSED:
                raise EngineError(f"{strategy_id} has failed; change its parameters or remove it")
            if entry.status == StrategyStatus.ERROR and status == StrategyStatus.ACTIVE:
                # resuming a failed strategy re-creates it from its spec
                entry.error = None
                if self._running():
                    self._unplace(entry)
                    entry.status = StrategyStatus.ACTIVE
                    self._place(entry)
            with self.lock:
                entry.status = status
            self._save(entry)
            self._publish_strategy(entry)

        self._control_call(apply)

    def update_params(self, strategy_id: str, params: dict[str, Any]) -> StrategySpec:
        """New parameter values (merged over the current ones); the strategy is re-created
        and warmed up from recent prices, keeping its position."""
        def apply() -> StrategySpec:
            entry = self._entry(strategy_id)
            merged = {**dict(entry.spec.params), **params}
            spec = self.catalog.validate(StrategySpec(
                entry.spec.name, entry.spec.coin, merged, entry.spec.timeframe,
                entry.spec.strategy_id, entry.spec.allow_short))
            running = self._running()
            if running:
                self._unplace(entry)
            with self.lock:
                entry.spec = spec
                if entry.status == StrategyStatus.ERROR:
                    entry.status, entry.error = StrategyStatus.ACTIVE, None
            if running:
                self._place(entry)
            self._save(entry)
            self._publish_strategy(entry)
            return spec

        return self._control_call(apply)

    def strategies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._describe(e) for e in self._ordered()]

    def strategy(self, strategy_id: str) -> dict[str, Any]:
        with self.lock:
            return self._describe(self._entry(strategy_id))

    def _describe(self, entry: _Registered) -> dict[str, Any]:
        return {**entry.spec.to_dict(), "status": entry.status, "error": entry.error}

    def _ordered(self) -> list[_Registered]:
        return sorted(self._registry.values(), key=lambda e: e.order)

    def _entry(self, strategy_id: str) -> _Registered:
        try:
            return self._registry[strategy_id]
        except KeyError:
            raise NotFoundError(f"no strategy with id {strategy_id!r} is registered") from None

    def _save(self, entry: _Registered) -> None:
        if self.journal is not None:
            self.journal.save_strategy(entry.spec.to_dict(), entry.status)

    def _publish_strategy(self, entry: _Registered) -> None:
        self._publish(EventKind.STRATEGY, {"strategy_id": entry.spec.id,
                                           "status": entry.status, "error": entry.error})

    # --- control calls -------------------------------------------------------------------

    def _running(self) -> bool:
        return self._consumer is not None and self._consumer.is_alive()

    def _control_call(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run ``fn`` on the consumer thread between batches, or here if it is not running."""
        if threading.current_thread() is self._consumer:
            return fn()
        with self._admin:
            if not self._running():
                return fn()
            future: Future = Future()
            self._control.put((fn, future))
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(0.1)
            except FuturesTimeout:
                if not self._running():  # the session ended before it got to our call
                    self._fail_pending_controls()
                if time.monotonic() > deadline:
                    raise

    def _run_controls(self) -> None:
        while True:
            try:
                fn, future = self._control.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def reload_catalog(self, folders: Iterable[str | Path]) -> Catalog:
        """Read the built-in and user strategy folders again (only while stopped)."""
        if self.status.busy:
            raise EngineError("strategy folders are read when the engine is stopped")
        self.catalog = load_catalog(folders)
        return self.catalog

    # --- start / stop --------------------------------------------------------------------

    def start(self, config: EngineConfig | None = None, feed: Feed | None = None) -> None:
        """Begin a new session on ``config``'s feed (or the ``feed`` given). The feed is
        checked before anything runs: a bad file or symbol raises FeedError."""
        config = config or EngineConfig()
        with self._admin:
            if self._running() or self.status.busy:
                raise EngineError("the engine is already running; stop it first")
            check_config(config)
            self.status = EngineStatus.STARTING
            try:
                feed = feed or build_feed(config)
                feed.on_status = self._on_feed_status
                feed.open()
            except BaseException:
                self.status = EngineStatus.STOPPED
                raise
            self._begin_session(config, feed)
            self._publish(EventKind.ENGINE, {"status": EngineStatus.RUNNING,
                                             "message": f"{feed.name} feed started"})

    def _begin_session(self, config: EngineConfig, feed: Feed) -> None:
        self.config = config
        self._feed = feed
        self._coins = list(feed.coins)
        self._stop.clear()
        self._limit_hit = False
        self._finished.clear()
        self._queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self.ticks_processed = 0
        self.ticks_per_second = 0.0
        self.latency = _Latency()
        self._history = {coin: PriceHistory(WARMUP_TICKS) for coin in self._coins}
        for coin in self._coins:
            recent = feed.history(coin, WARMUP_TICKS)
            if recent is not None:
                self._history[coin].extend(*recent)
        with self.lock:
            next_id = self.ledger.next_trade_id
            self.ledger = Ledger(config.fee, config.slippage, config.sample_seconds)
            self.ledger.next_trade_id = next_id
            self.recent_trades.clear()
            for entry in self._ordered():
                spec = entry.spec
                self.ledger.open_book(spec.id, spec.coin, spec.name, spec.allow_short)
                if entry.status == StrategyStatus.ERROR:
                    entry.status, entry.error = StrategyStatus.ACTIVE, None
        if self.journal is not None:
            self.session_id = self.journal.begin_session(config.to_dict())
            for entry in self._ordered():
                self._save(entry)
        self._shard = Shard()
        self._workers = [Worker(i) for i in range(config.workers)]
        try:
            for entry in self._ordered():
                self._place(entry)
        except BaseException:
            self._stop_workers()
            self.status = EngineStatus.STOPPED
            raise
        idle = sorted({e.spec.coin for e in self._registry.values()} - set(self._coins))
        if idle:
            self._log("warning", f"no prices for {', '.join(idle)} from the {feed.name} feed "
                                 f"(it carries {', '.join(self._coins)}): strategies on "
                                 "those coins will not trade")
        self._started_at = time.perf_counter()
        self.status = EngineStatus.RUNNING
        self.status_message = ""
        self._producer = threading.Thread(target=self._produce, name="velocitas-producer",
                                          daemon=True)
        self._consumer = threading.Thread(target=self._consume, name="velocitas-consumer",
                                          daemon=True)
        self._outbox = queue.Queue(maxsize=OUTBOX_BATCHES)
        self._writer = threading.Thread(target=self._write, name="velocitas-writer", daemon=True)
        self._writer.start()
        self._consumer.start()
        self._producer.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the session; returns within ``timeout`` with no thread or process left."""
        with self._admin:
            if not self._running() and not self.status.stoppable:
                raise EngineError("the engine is not running")
            self._shutdown(timeout)

    def _shutdown(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.status = EngineStatus.STOPPING
        self._stop.set()
        for thread in (self._producer, self._consumer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.05, deadline - time.monotonic() - 0.2))
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join(max(0.05, deadline - time.monotonic() - 0.1))
        self._stop_workers()  # in case the consumer could not
        if self.status == EngineStatus.STOPPING:
            self.status = EngineStatus.STOPPED
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session ends (the data ran out, a limit was hit, or stop())."""
        return self._finished.wait(timeout)

    def attach(self, factory: Callable[..., AttachedView], *args: Any,
               **kwargs: Any) -> AttachedView:
        """Start ``factory(self, *args, **kwargs)``, a view beside the engine (the API server);
        it is stopped by its own ``stop()`` or when the engine closes."""
        view = factory(self, *args, **kwargs)
        view.start()  # type: ignore[attr-defined]
        self._views.append(view)
        return view

    def close(self) -> None:
        """Stop the attached views and the session, let the last trades reach the journal,
        and close it."""
        views, self._views = self._views, []
        for view in views:
            try:
                view.stop()
            except Exception:
                log.exception("a view attached to the engine did not stop cleanly")
        if self._running():
            with contextlib.suppress(EngineError):  # it may have ended on its own meanwhile
                self.stop()
        if self._writer is not None:
            self._writer.join()  # never close the journal under a write
        if self.journal is not None:
            self.journal.close()

    def _on_feed_status(self, state: str, message: str) -> None:
        self.feed_state = {"state": state, "message": message}
        self._publish(EventKind.FEED, dict(self.feed_state))
        if state == FeedState.FAILED:
            self._log("error", f"feed failed: {message}")

    # --- producer ------------------------------------------------------------------------

    def _produce(self) -> None:
        feed = self._feed
        assert feed is not None
        stop = self._stop
        put = self._queue.put
        try:
            for batch in feed.stream(stop):
                while not stop.is_set():
                    try:
                        put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except FeedError as exc:
            self._on_feed_status(FeedState.FAILED, str(exc))
        except Exception as exc:
            log.exception("feed crashed")
            self._on_feed_status(FeedState.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            try:
                feed.close()
            finally:
                _put_end(self._queue, stop)

    # --- consumer ------------------------------------------------------------------------

    def _consume(self) -> None:
        ended = False
        last_metrics = time.perf_counter()
        last_ticks = 0
        # With workers, batch k is sent to them before batch k−1's fills are applied, so the
        # ledger's work here overlaps the strategies' work there.
        inflight: _InFlight | None = None
        try:
            while not self._stop.is_set():
                if inflight is not None and not self._control.empty():
                    self._finish(inflight)  # a control call talks to the workers: settle first
                    inflight = None
                if inflight is None:
                    self._run_controls()
                batches, ended = self._drain(wait=inflight is None)
                if batches:
                    job = self._begin(batches)
                    if inflight is not None:
                        self._finish(inflight)
                    inflight = job
                    if not job.pending:  # nothing runs elsewhere: nothing to overlap
                        self._finish(job)
                        inflight = None
                elif inflight is not None:
                    self._finish(inflight)
                    inflight = None
                now = time.perf_counter()
                if now - last_metrics >= METRICS_INTERVAL:
                    self.ticks_per_second = (self.ticks_processed - last_ticks) / (now - last_metrics)
                    last_metrics, last_ticks = now, self.ticks_processed
                    self._publish(EventKind.METRICS, self.snapshot())
                duration = self.config.duration
                if duration is not None and now - self._started_at >= duration:
                    ended = True
                if ended or self._limit_hit:
                    ended = True
                    break
            if inflight is not None:
                self._finish(inflight)
                inflight = None
        except Exception as exc:
            log.exception("the engine stopped on an error")
            self.status, self.status_message = EngineStatus.ERROR, f"{type(exc).__name__}: {exc}"
            self._log("error", f"the engine stopped: {self.status_message}")
        finally:
            stopping = self._stop.is_set()  # stop() was called (not the end of the data)
            self._stop.set()  # the session is over: release the producer and the feed
            self._stop_workers()
            self._put_outbox(None)
            if self._writer is not None:
                # the last trades reach the journal and subscribers; stop() waits 2 s at most
                # and close() waits for the rest before it closes the journal
                self._writer.join(1.0 if stopping else None)
            if self._producer is not None:
                self._producer.join(1.0)
            self._run_seconds = time.perf_counter() - self._started_at
            if self._run_seconds > 0:
                self.ticks_per_second = self.ticks_processed / self._run_seconds
            self._fail_pending_controls()
            feed_failed = self.feed_state.get("state") == FeedState.FAILED
            if self.status == EngineStatus.RUNNING and feed_failed:
                self.status = EngineStatus.ERROR
                self.status_message = self.feed_state.get("message", "")
            if self.status == EngineStatus.RUNNING:
                self.status = EngineStatus.FINISHED if ended else EngineStatus.STOPPED
            if self.status == EngineStatus.STOPPING:
                self.status = EngineStatus.STOPPED
            self._publish(EventKind.METRICS, self.snapshot())
            self._publish(EventKind.ENGINE, {"status": self.status, "message": self.status_message})
            self._finished.set()

    def _drain(self, wait: bool = True) -> tuple[list[TickBatch], bool]:
        """Whatever is queued (waiting briefly for the first batch if asked), up to the cap."""
        try:
            first = self._queue.get(timeout=0.05) if wait else self._queue.get_nowait()
        except queue.Empty:
            return [], False
        if first is None:
            return [], True
        batches = [first]
        size = len(first)
        while size < self._drain_cap:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                break
            if batch is None:
                return batches, True
            batches.append(batch)
            size += len(batch)
        return batches, False

    def _begin(self, batches: list[TickBatch]) -> _InFlight:
        """Route a batch by coin, send it to the workers and run the inline shard on it."""
        batch = TickBatch.concat(batches)
        coins = self._coins
        if len(coins) == 1:
            positions: dict[str, np.ndarray | None] = {coins[0]: None}
            per_coin: CoinPrices = {coins[0]: (batch.prices, batch.timestamps)}
        else:
            positions, per_coin = {}, {}
            for index, coin in enumerate(coins):
                where = np.flatnonzero(batch.coin_ids == index)
                if where.size:
                    positions[coin] = where
                    per_coin[coin] = (batch.prices[where], batch.timestamps[where])
        for coin, (prices, stamps) in per_coin.items():
            self._history[coin].extend(prices, stamps)
        pending = []
        for worker in list(self._workers):
            wanted = {c: per_coin[c] for c in worker.coins if c in per_coin}
            if wanted:
                try:
                    worker.send_batch(wanted)
                    pending.append(worker)
                except WorkerDied as exc:
                    self._replace_worker(worker, str(exc))
        began = time.perf_counter()
        signals, failures = self._shard.process(per_coin)
        return _InFlight(batches, batch, positions, per_coin, signals, failures, pending,
                         time.perf_counter() - began)

    def _finish(self, job: _InFlight) -> None:
        """Collect the workers' signals for a batch, fill them, and hand on the results."""
        began = time.perf_counter()
        signals, failures = job.signals, job.failures
        for worker in job.pending:
            try:
                more, more_failures = worker.receive()
            except WorkerDied as exc:
                self._replace_worker(worker, str(exc))
                continue
            signals.extend(more)
            failures.extend(more_failures)
        for strategy_id, message in failures:
            self._strategy_failed(strategy_id, message)
        trades = self._apply(signals, job.positions, job.per_coin, job.batch)
        if trades:
            self.latency.add(self.latency.fills, time.perf_counter(), job.batches,
                             self._last_positions)
        self.ticks_processed += len(job.batch)
        # batches sized to ~0.1 s of work, so stop() and control calls never wait long
        per_tick = (time.perf_counter() - began + job.began_cost) / max(1, len(job.batch))
        self._drain_cap = max(1024, min(MAX_DRAIN_TICKS, int(0.1 / max(per_tick, 1e-9))))
        pnl_rows = self.ledger.take_pending_samples()
        # journal and subscribers are served by the writer thread, in order
        self._put_outbox((trades, pnl_rows, job.batches, self._last_positions, job.batch))
        limit = self.config.max_ticks
        if limit is not None and self.ticks_processed >= limit:
            self._limit_hit = True

    def _put_outbox(self, item: Any) -> None:
        while True:
            try:
                self._outbox.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._writer is None or not self._writer.is_alive():
                    return

    def _write(self) -> None:
        """The writer thread: commit trades, then tell the subscribers, in order.

        It takes everything waiting at once and commits it in one transaction, so a slow
        commit makes the next one bigger instead of making a queue.
        """
        coins = self._coins
        done = False
        while not done:
            items = [self._outbox.get()]
            while True:
                try:
                    items.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            if items[-1] is None:
                done = True
                items.pop()
            if not items:
                continue
            trades = [t for item in items for t in item[0]]
            try:
                if self.journal is not None:
                    # committed before anyone hears of them
                    self.journal.record(trades, [r for item in items for r in item[1]])
            except Exception as exc:
                log.exception("the journal failed")
                self.status_message = f"journal write failed: {exc}"
                self._log("error", f"the journal could not be written: {exc}")
            if trades and self._subscribers:  # no dicts to build when nobody listens
                self._publish(EventKind.TRADES, [t.to_dict() for t in trades])
            now = time.perf_counter()
            for _, _, batches, positions, batch in items:
                if positions:
                    self.latency.add(self.latency.published, now, batches, positions)
                self.latency.add_batch(now, batches[0].received)
                self._publish(EventKind.TICKS, {"coins": coins, "batch": batch})

    def _apply(self, signals: list[RawSignal], positions: dict[str, np.ndarray | None],
               per_coin: CoinPrices, batch: TickBatch) -> list[Trade]:
        """Fill the signals in tick order, valuing positions tick by tick, under the lock."""
        events = self._order_events(signals, positions)
        trades: list[Trade] = []
        self._last_positions = []
        ledger = self.ledger
        # plain floats: short slices between fills are cheaper as lists than as arrays
        price_lists = {coin: prices.tolist() for coin, (prices, _) in per_coin.items()}
        with self.lock:
            cursors: dict[str, int] = {}
            stamps = batch.timestamps
            if ledger.next_sample != ledger.next_sample:
                ledger.due_samples(float(stamps[0]))
            boundaries = self._sample_positions(stamps)
            b = 0
            for position, _, raw in events:
                while b < len(boundaries) and boundaries[b][0] <= position:
                    self._mark_until(boundaries[b][0] - 1, positions, price_lists, cursors)
                    ledger.sample(boundaries[b][1])
                    b += 1
                sid, local, signal, price, stamp = raw
                if not ledger.accepts(sid, signal):  # ignored by the rules: no work to do
                    continue
                book = ledger.books[sid]
                start = cursors.get(sid, 0)
                if local + 1 > start:
                    book.mark_values(price_lists[book.coin][start:local + 1])
                    cursors[sid] = local + 1
                trade = ledger.fill(sid, signal, price, stamp)
                if trade is not None:
                    trades.append(trade)
                    self.recent_trades.append(trade)
                    self._last_positions.append(position)
            while b < len(boundaries):
                self._mark_until(boundaries[b][0] - 1, positions, price_lists, cursors)
                ledger.sample(boundaries[b][1])
                b += 1
            self._mark_until(len(batch) - 1, positions, price_lists, cursors)
            ledger.last_timestamp = float(stamps[-1])
        return trades

    def _order_events(self, signals: list[RawSignal], positions: dict[str, np.ndarray | None]
                      ) -> list[tuple[int, int, RawSignal]]:
        """Active strategies' signals with their place in the batch, in tick order."""
        registry = self._registry
        by_coin: dict[str, list[tuple[int, RawSignal]]] = {}
        for raw in signals:
            entry = registry.get(raw[0])
            if entry is not None and entry.status == StrategyStatus.ACTIVE:
                by_coin.setdefault(entry.spec.coin, []).append((entry.order, raw))
        events: list[tuple[int, int, RawSignal]] = []
        for coin, items in by_coin.items():
            where = positions[coin]
            local = [raw[1] for _, raw in items]
            mapped = local if where is None else where[local].tolist()
            events.extend((p, order, raw) for p, (order, raw) in zip(mapped, items, strict=True))
        events.sort(key=_event_key)
        return events

    def _sample_positions(self, stamps: np.ndarray) -> list[tuple[int, float]]:
        """(position of the first tick at or after each sampling time, that tick's time)."""
        ledger = self.ledger
        top = float(stamps.max())
        if not top >= ledger.next_sample:
            return []
        clock = np.maximum.accumulate(stamps)
        result = []
        boundary = ledger.next_sample
        while boundary <= top:
            position = int(np.searchsorted(clock, boundary, side="left"))
            stamp = float(clock[position])
            result.append((position, stamp))
            # the next boundary after this tick's time (a gap jumps several at once)
            boundary = (math.floor(stamp / ledger.sample_seconds) + 1) * ledger.sample_seconds
        return result

    def _mark_until(self, position: int, positions: dict[str, np.ndarray | None],
                    price_lists: dict[str, list[float]], cursors: dict[str, int]) -> None:
        """Value every book at each of its coin's prices up to ``position`` in the batch."""
        ends: dict[str, int] = {}
        for coin in price_lists:
            where = positions[coin]
            ends[coin] = (position + 1 if where is None
                          else int(np.searchsorted(where, position, "right")))
        for sid, book in self.ledger.books.items():
            end = ends.get(book.coin)
            start = cursors.get(sid, 0)
            if end is not None and end > start:
                book.mark_values(price_lists[book.coin][start:end])
                cursors[sid] = end

    # --- placing strategies in shards --------------------------------------------------

    def _place(self, entry: _Registered) -> None:
        """Create the strategy in the inline shard or the least loaded worker, warmed up."""
        spec = entry.spec
        ref = self.catalog.info(spec.name).ref
        history = self._history.get(spec.coin)
        warmup = history.arrays() if history is not None else None
        if not self._workers:
            self._shard.add(spec, ref, warmup)
            entry.worker = None
            return
        worker = min(self._workers, key=lambda w: len(w.strategy_ids))
        problem = worker.call("add", spec, ref, warmup)
        if problem:
            raise EngineError(f"cannot start {spec.id}: {problem}")
        worker.strategy_ids.add(spec.id)
        worker.coins.add(spec.coin)
        entry.worker = worker.index

    def _unplace(self, entry: _Registered) -> None:
        if entry.worker is None:
            self._shard.remove(entry.spec.id)
            return
        worker = self._workers[entry.worker]
        worker.strategy_ids.discard(entry.spec.id)
        worker.call("remove", entry.spec.id)
        worker.coins = {self._registry[s].spec.coin for s in worker.strategy_ids
                        if s in self._registry}

    def _replace_worker(self, dead: Worker, reason: str) -> None:
        """A worker died: start a new one and re-create its strategies from their specs."""
        if self._stop.is_set() or dead.index >= len(self._workers):
            return  # stopping: workers are being shut down on purpose
        if self._workers[dead.index] is not dead:
            return  # already replaced (a batch in flight found it dead too)
        ids = sorted(dead.strategy_ids)
        dead.stop(0.1)
        fresh = Worker(dead.index)
        self._workers[dead.index] = fresh
        for sid in ids:
            entry = self._registry.get(sid)
            if entry is None:
                continue
            spec = entry.spec
            history = self._history.get(spec.coin)
            ref = self.catalog.info(spec.name).ref
            problem = fresh.call("add", spec, ref, history.arrays() if history else None)
            if problem:
                self._strategy_failed(sid, problem)
                continue
            fresh.strategy_ids.add(sid)
            fresh.coins.add(spec.coin)
        self._log("warning", f"{reason}; a new worker took over {', '.join(ids) or 'nothing'}, "
                             "re-created from their specs and warmed up on recent prices")

    def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(0.5)

    def _fail_pending_controls(self) -> None:
        while True:
            try:
                fn, future = self._control.get_nowait()
            except queue.Empty:
                return
            # the session ended: apply the change directly (no batch can interleave now)
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

    def _strategy_failed(self, strategy_id: str, message: str) -> None:
        entry = self._registry.get(strategy_id)
        if entry is None:
            return
        with self.lock:
            entry.status, entry.error = StrategyStatus.ERROR, message
        self._save(entry)
        self._publish_strategy(entry)
        self._log("error", f"strategy {strategy_id} failed and was stopped: {message}")

    # --- reading -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """``{"global": {...}, "strategies": {...}}`` in the seed's shapes."""
        with self.lock:
            strategies = self.ledger.strategy_metrics()
            for sid, metrics in strategies.items():
                entry = self._registry.get(sid)
                if entry is not None:
                    metrics.update(status=entry.status, error=entry.error,
                                   timeframe=entry.spec.timeframe, params=dict(entry.spec.params))
            glob = self.ledger.global_metrics()
            active = sum(1 for e in self._registry.values() if e.status == StrategyStatus.ACTIVE)
            coins = {e.spec.coin for e in self._registry.values()}
        if self._running():
            coins |= set(self._coins)
        glob.update(
            mode="live",
            status=self.status,
            active_strategies=active,
            active_coins=len(coins),
            last_update=datetime.now(UTC).isoformat(timespec="seconds"),
            ticks_processed=self.ticks_processed,
            ticks_per_second=self.ticks_per_second,
            latency_ms=self.latency.summary(),
            feed=dict(self.feed_state),
            source=self.config.source,
            coins=list(self._coins),
            session_id=self.session_id,
        )
        return {"global": glob, "strategies": strategies}

    def state(self) -> dict[str, Any]:
        """The status with the session's settings and progress (GET /api/engine/status)."""
        config = self.config
        with self.lock:
            registered = len(self._registry)
        return {
            "status": self.status, "message": self.status_message, "source": config.source,
            "coins": list(config.coins), "workers": config.workers, "rate": config.rate,
            "speed": config.speed, "session_id": self.session_id,
            "ticks_processed": self.ticks_processed,
            "ticks_per_second": self.ticks_per_second, "strategies": registered,
            "feed": dict(self.feed_state),
        }

    def metrics(self, strategy_id: str) -> dict[str, Any]:
        snap = self.snapshot()["strategies"]
        if strategy_id not in snap:
            raise NotFoundError(f"no strategy with id {strategy_id!r} is registered")
        return snap[strategy_id]

    def trades(self, strategy_id: str | None = None, coin: str | None = None,
               since: float | None = None, until: float | None = None,
               after_id: int | None = None, limit: int = 100, offset: int = 0,
               newest_first: bool = False) -> list[dict[str, Any]]:
        """Trades of the current (or restored) session, oldest first unless asked otherwise."""
        if coin is not None:
            coin = check_coin(coin)
        if self.journal is not None and self.session_id is not None:
            return self.journal.trades(self.session_id, strategy_id, coin, since, until,
                                       after_id, limit, offset, newest_first)
        with self.lock:
            rows = [t for t in self.recent_trades
                    if (strategy_id is None or t.strategy_id == strategy_id)
                    and (coin is None or t.coin == coin)
                    and (since is None or t.timestamp >= since)
                    and (until is None or t.timestamp <= until)
                    and (after_id is None or t.id > after_id)]
        if newest_first:
            rows.reverse()
        return [t.to_dict() for t in rows[offset:offset + limit]]

    def pnl_history(self, strategy_id: str | None = None, limit: int = 10_000) -> list[dict]:
        with self.lock:
            rows = [r for r in self.ledger.pnl_history
                    if strategy_id is None or r["strategy_id"] == strategy_id]
        return rows[-limit:]

    # --- restoring -----------------------------------------------------------------------

    def _restore_last_session(self) -> None:
        journal = self.journal
        assert journal is not None
        session = journal.last_session()
        if session is None:
            return
        self.session_id = session
        for spec_dict, status in journal.strategies(session):
            try:
                spec = self.catalog.validate(StrategySpec.from_dict(spec_dict))
            except (VelocitasError, KeyError, ValueError) as exc:
                self._log("warning", f"could not restore strategy {spec_dict}: {exc}")
                continue
            paused = status == StrategyStatus.PAUSED
            entry = _Registered(spec, status=StrategyStatus.PAUSED if paused else StrategyStatus.ACTIVE,
                                order=next(self._order))
            self._registry[spec.id] = entry
            self.ledger.open_book(spec.id, spec.coin, spec.name, spec.allow_short)
        trades = journal.trade_records(session)
        self.ledger.restore(trades, journal.pnl_history(session))
        for sid in [s for s in self.ledger.books if s not in self._registry]:
            self.ledger.close_book(sid)  # removed during the session: its trades stay listed
        self.recent_trades.extend(trades)
        self.ledger.next_trade_id = max(self.ledger.next_trade_id, journal.max_trade_id() + 1)


def _event_key(event: tuple[int, int, RawSignal]) -> tuple[int, int]:
    return event[0], event[1]


def _put_end(q: queue.Queue, stop: threading.Event) -> None:
    while True:
        try:
            q.put(None, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set():
                return
