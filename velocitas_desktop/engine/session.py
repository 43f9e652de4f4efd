"""One trading session: the feed and the three threads that carry its ticks to the journal.

producer: feed → bounded queue (a replay may block on it; a live feed never does).
consumer: queue → strategies (inline, or one message per batch to each worker process) →
          fills in the ledger (engine/fills.py) → outbox. It is the only writer of the ledger,
          and applies the engine's control calls between batches.
writer:   outbox → journal (committed first) → subscribers, in order (engine/writer.py).
trend:    re-makes each coin's trend report as its candles close, off the hot path
          (engine/trend.py); the consumer only tells it which coins closed a bar.
copilot:  the monitor evaluates the copilot's rules on each batch's prices on its own thread
          (copilot/monitor.py; the consumer only hands the prices over), and the kill-switch
          rules are checked by the consumer right after each batch's fills
          (copilot/guard.py), so their strategies are paused before the next batch.

With workers, batch k is sent to them before batch k−1's fills are applied, so the ledger's
work in the consumer overlaps the strategies' work in the workers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from velocitas_desktop.core.candles import Candles, Pieces
from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.contract import EventKind, StrategyStatus
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.engine.fills import OrderedSignal, Positions, fill_batch, order_signals
from velocitas_desktop.engine.history import PriceHistory
from velocitas_desktop.engine.latency import LatencyStats
from velocitas_desktop.engine.registry import Registration
from velocitas_desktop.engine.shard import CoinPrices, RawSignal, Shard
from velocitas_desktop.engine.trend import LiveTrend
from velocitas_desktop.engine.workers import Worker, WorkerDied
from velocitas_desktop.engine.writer import (
    MB,
    Figures,
    Handoff,
    JournalOwner,
    JournalWriter,
    SpaceGuard,
)
from velocitas_desktop.feeds.base import Feed, FeedError, FeedState, TickBatch

if TYPE_CHECKING:
    from collections import deque
    from pathlib import Path

    from velocitas_desktop.catalog import Catalog
    from velocitas_desktop.copilot.service import Copilot
    from velocitas_desktop.core.ledger import Ledger
    from velocitas_desktop.store.journal import Journal

log = logging.getLogger(__name__)

QUEUE_BATCHES = 32           # bounded queue, in batches
OUTBOX_BATCHES = 8           # processed batches waiting for the journal and subscribers
MAX_DRAIN_TICKS = 65_536     # a natural batch: whatever is queued, up to this many ticks
# seconds between metrics events; the window shows fills with the snapshot that counts them,
# so this is also how often its blotter moves (the ledger's figures of 8 strategies take
# 62 µs here; the writer makes the snapshot of them, ~0.5 ms, once they are saved)
METRICS_INTERVAL = 0.25
WARMUP_TICKS = 5_000         # recent prices kept per coin to warm re-created strategies
CANDLE_SECONDS = 60.0        # the candles kept per coin for views that open mid-session
CANDLES_KEPT = 10_080        # a week of them: what a view is served at most by default
# what is held, for the live trend: its 4h needs 60 bars (10 days), and the volatility
# percentiles read better against a month (4 MB a coin)
CANDLES_HELD = 43_200
TREND_JOIN = 5.0             # seconds the session's end waits for the trend's last report


class SessionOwner(JournalOwner, Protocol):
    """What a session needs of the engine that runs it (:class:`~velocitas_desktop.engine.
    engine.Engine`): its strategies, its ledger under its lock, and where to report."""

    catalog: Catalog
    lock: threading.Lock
    ledger: Ledger
    registry: Mapping[str, Registration]
    recent_trades: deque[Trade]
    journal: Journal | None
    copilot: Copilot | None
    trading_paused: bool  # set by the writer: strategies follow prices, no fills are made

    def disk_free(self, path: Path) -> int | None: ...
    def log(self, level: str, message: str) -> None: ...
    def publish(self, kind: EventKind, data: object) -> None: ...
    def figures(self) -> Figures: ...
    def strategy_failed(self, strategy_id: str, message: str) -> None: ...
    def feed_status(self, state: str, message: str) -> None: ...
    def controls_waiting(self) -> bool: ...
    def run_controls(self) -> None: ...
    def session_failed(self, message: str) -> None: ...
    def session_ended(self, session: Session, ended: bool) -> None: ...


@dataclass(slots=True)
class _InFlight:
    """A batch whose inline signals are known and whose workers may still be computing."""

    batches: list[TickBatch]
    batch: TickBatch
    positions: Positions
    per_coin: CoinPrices
    signals: list[RawSignal]
    failures: list[tuple[str, str]]
    pending: list[Worker]
    began_cost: float = 0.0  # seconds the inline shard took on it


class Session:
    """The threads, shards and counters of one run of an engine on one feed."""

    def __init__(self, engine: SessionOwner, config: EngineConfig, feed: Feed,
                 live_trend: bool = True) -> None:
        self.engine = engine
        self.config = config
        self.feed = feed
        self.coins = list(feed.coins)
        self.stopping = threading.Event()   # set: the threads wind down
        self.finished = threading.Event()   # set: the session is over, its trades journaled
        self.ticks_processed = 0
        self.ticks_per_second = 0.0
        self.latency = LatencyStats()
        self.history = {coin: PriceHistory(WARMUP_TICKS) for coin in self.coins}
        for coin in self.coins:
            recent = feed.history(coin, WARMUP_TICKS)
            if recent is not None:
                self.history[coin].extend(*recent)
        self.candles_lock = threading.Lock()  # the consumer adds, views copy
        self.candles: dict[str, Candles] = {}
        # what a candle's volume counts: "ticks", or "coin" for a replayed file's own volume
        self.volume_units: dict[str, str] = {}
        for coin in self.coins:
            earlier = feed.history_bars(coin)
            if earlier is not None:
                self._add_bars(coin, *earlier)
        self.trend = (LiveTrend(self.coins, self.closed_candles, engine.publish, engine.log)
                      if live_trend else None)
        self._closes_told: dict[str, int] = {}  # each coin's candles' closed_version, told
        copilot = engine.copilot
        self.monitor = copilot.monitor if copilot is not None else None
        self.kill_switch = copilot.guard if copilot is not None else None
        self.shard = Shard()
        self.workers = [Worker(i) for i in range(config.workers)]
        self.started_at = 0.0
        self.started_cpu = 0.0
        self.run_seconds = 0.0
        self.run_cpu_seconds = 0.0
        self.limit_hit = False
        self.drain_cap = MAX_DRAIN_TICKS
        self.filled_at: list[int] = []  # positions in the batch of the last batch's fills
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self._outbox: queue.Queue = queue.Queue(maxsize=OUTBOX_BATCHES)
        self.producer = threading.Thread(target=self._produce, name="velocitas-producer",
                                         daemon=True)
        self.consumer = threading.Thread(target=self._consume, name="velocitas-consumer",
                                         daemon=True)
        # P&L points (a fill makes one, a sample one) made by the ledger, counted under the
        # engine's lock; the writer counts those saved
        self.points_made = 0
        journal = engine.journal
        path = journal.path if journal is not None else None
        guard = (SpaceGuard(path, config.min_free_mb * MB, engine.disk_free)
                 if path is not None and config.min_free_mb > 0 else None)
        self.journal_writer = JournalWriter(engine, self._outbox, self.coins, self.latency,
                                            self.stopping, path, guard)
        self.writer = threading.Thread(target=self.journal_writer.run, name="velocitas-writer",
                                       daemon=True)

    # --- life --------------------------------------------------------------------------------

    def start(self) -> None:
        self.started_at = time.perf_counter()
        self.started_cpu = time.process_time()
        self.writer.start()
        if self.trend is not None:
            self.trend.start()
        self.consumer.start()
        self.producer.start()

    @property
    def running(self) -> bool:
        return self.consumer.is_alive()

    @property
    def refused(self) -> bool:
        """The journal refused fills or samples the ledger holds (they wait in the writer,
        or the session ended without them)."""
        return self.journal_writer.refused

    @property
    def unsaved_points(self) -> int:
        """P&L points of the ledger not in the journal yet (read it under the engine's lock,
        where the ledger and ``points_made`` agree)."""
        return self.points_made - self.journal_writer.saved

    def finish_ledger(self) -> None:
        """The session's last state goes to the ledger's P&L history and metric state, and
        from there, through the writer, to the journal and the views."""
        engine = self.engine
        with engine.lock:
            ledger = engine.ledger
            if ledger.last_timestamp == ledger.last_timestamp:  # it saw a price
                ledger.finish(ledger.last_timestamp)
            rows, state = ledger.take_pending_samples(), ledger.take_metric_state()
            self.points_made += len(rows)
        if rows or state:
            self._put_outbox(Handoff([], rows, state, self.points_made, engine.figures()))

    def hand_on(self, trades: list[Trade]) -> None:
        """Fills a control call made between batches (a position closed by hand): to the
        journal and the subscribers through the writer, in order with the batches' own.
        Control calls run on the consumer thread, the only one that counts ``points_made``."""
        engine = self.engine
        with engine.lock:
            self.points_made += len(trades)  # each fill is a P&L point of the ledger
            state = engine.ledger.take_metric_state()
        figures = engine.figures()  # this thread is the ledger's only writer: still the same
        self._put_outbox(Handoff(list(trades), [], state, self.points_made, figures,
                                 publish=True))

    def join_writer(self) -> None:
        """Wait until the writer has journaled and published everything it was given."""
        if self.writer.ident is not None:
            self.writer.join()

    def stop(self, timeout: float) -> None:
        """Wind the threads down; returns within about ``timeout``."""
        deadline = time.monotonic() + timeout
        self.stopping.set()
        current = threading.current_thread()
        for thread in (self.producer, self.consumer):
            if thread.is_alive() and thread is not current:
                thread.join(max(0.05, deadline - time.monotonic() - 0.2))
        if self.writer.is_alive() and self.writer is not current:
            self.writer.join(max(0.05, deadline - time.monotonic() - 0.1))
        if self.trend is not None:
            self.trend.finish(final=False, timeout=max(0.05, deadline - time.monotonic()))
        self.stop_workers()  # in case the consumer could not

    # --- strategies in shards ------------------------------------------------------------

    def place(self, entry: Registration) -> None:
        """Create the strategy in the inline shard or the least loaded worker, warmed up."""
        spec = entry.spec
        ref = self.engine.catalog.info(spec.name).ref
        history = self.history.get(spec.coin)
        warmup = history.arrays() if history is not None else None
        if not self.workers:
            self.shard.add(spec, ref, warmup)
            entry.worker = None
            return
        worker = min(self.workers, key=lambda w: len(w.strategy_ids))
        problem = worker.call("add", spec, ref, warmup)
        if problem:
            raise EngineError(f"cannot start {spec.id}: {problem}")
        worker.strategy_ids.add(spec.id)
        worker.coins.add(spec.coin)
        entry.worker = worker.index

    def unplace(self, entry: Registration) -> None:
        if entry.worker is None:
            self.shard.remove(entry.spec.id)
            return
        registry = self.engine.registry
        worker = self.workers[entry.worker]
        worker.strategy_ids.discard(entry.spec.id)
        worker.call("remove", entry.spec.id)
        worker.coins = {registry[s].spec.coin for s in worker.strategy_ids if s in registry}

    def _replace_worker(self, dead: Worker, reason: str) -> None:
        """A worker died: start a new one and re-create its strategies from their specs."""
        if self.stopping.is_set() or dead.index >= len(self.workers):
            return  # stopping: workers are being shut down on purpose
        if self.workers[dead.index] is not dead:
            return  # already replaced (a batch in flight found it dead too)
        ids = sorted(dead.strategy_ids)
        dead.stop(0.1)
        fresh = Worker(dead.index)
        self.workers[dead.index] = fresh
        engine = self.engine
        for sid in ids:
            entry = engine.registry.get(sid)
            if entry is None:
                continue
            spec = entry.spec
            history = self.history.get(spec.coin)
            ref = engine.catalog.info(spec.name).ref
            problem = fresh.call("add", spec, ref, history.arrays() if history else None)
            if problem:
                engine.strategy_failed(sid, problem)
                continue
            fresh.strategy_ids.add(sid)
            fresh.coins.add(spec.coin)
        engine.log("warning", f"{reason}; a new worker took over {', '.join(ids) or 'nothing'}, "
                              "re-created from their specs and warmed up on recent prices")

    def stop_workers(self) -> None:
        workers, self.workers = self.workers, []
        for worker in workers:
            worker.stop(0.5)

    # --- producer ------------------------------------------------------------------------

    def _produce(self) -> None:
        feed = self.feed
        stop = self.stopping
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
            self.engine.feed_status(FeedState.FAILED, str(exc))
        except Exception as exc:
            log.exception("feed crashed")
            self.engine.feed_status(FeedState.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            try:
                feed.close()
            finally:
                _put_end(self._queue, stop)

    # --- consumer ------------------------------------------------------------------------

    def _consume(self) -> None:
        engine = self.engine
        ended = False
        last_metrics = time.perf_counter()
        last_ticks = 0
        inflight: _InFlight | None = None
        try:
            while not self.stopping.is_set():
                if inflight is not None and engine.controls_waiting():
                    self._finish(inflight)  # a control call talks to the workers: settle first
                    inflight = None
                if inflight is None:
                    engine.run_controls()
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
                    self.ticks_per_second = ((self.ticks_processed - last_ticks)
                                             / (now - last_metrics))
                    last_metrics, last_ticks = now, self.ticks_processed
                    # published by the writer once every fill they count is saved
                    self._put_outbox(Handoff([], [], None, self.points_made, engine.figures(),
                                             publish=True))
                duration = self.config.duration
                if duration is not None and now - self.started_at >= duration:
                    ended = True
                if ended or self.limit_hit:
                    ended = True
                    break
            if inflight is not None:
                self._finish(inflight)
                inflight = None
        except Exception as exc:
            log.exception("the engine stopped on an error")
            engine.session_failed(f"{type(exc).__name__}: {exc}")
        finally:
            self._wind_down(ended)

    def _wind_down(self, ended: bool) -> None:
        """The session is over: release the feed and the workers, let the writer finish,
        and tell the engine how it ended."""
        stopped = self.stopping.is_set()  # stop() was called (not the end of the data)
        self.stopping.set()
        self.stop_workers()
        try:
            self.finish_ledger()
        except Exception:  # the session is over either way: its threads must still end
            log.exception("the session's last state could not be recorded")
        self._put_outbox(None)
        # the last trades reach the journal and subscribers; stop() waits 2 s at most and
        # close() waits for the rest before it closes the journal
        self.writer.join(1.0 if stopped else None)
        self.producer.join(1.0)
        self.run_seconds = time.perf_counter() - self.started_at
        # the processor time of this process while the session ran (bench/live_trend.py)
        self.run_cpu_seconds = time.process_time() - self.started_cpu
        if self.run_seconds > 0:
            self.ticks_per_second = self.ticks_processed / self.run_seconds
        # the data ended: the last reports cover every bar before the views hear it ended
        if self.trend is not None:
            self.trend.finish(final=not stopped, timeout=0.5 if stopped else TREND_JOIN)
        self.engine.session_ended(self, ended)
        self.finished.set()

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
        while size < self.drain_cap:
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
        coins = self.coins
        if len(coins) == 1:
            positions: Positions = {coins[0]: None}
            per_coin: CoinPrices = {coins[0]: (batch.prices, batch.timestamps)}
        else:
            positions, per_coin = {}, {}
            for index, coin in enumerate(coins):
                where = np.flatnonzero(batch.coin_ids == index)
                if where.size:
                    positions[coin] = where
                    per_coin[coin] = (batch.prices[where], batch.timestamps[where])
        for coin, (prices, stamps) in per_coin.items():
            self.history[coin].extend(prices, stamps)
        self._add_candles(per_coin, batch)
        if self.monitor is not None:
            self.monitor.prices(per_coin, batch.received)
        pending = []
        for worker in list(self.workers):
            wanted = {c: per_coin[c] for c in worker.coins if c in per_coin}
            if wanted:
                try:
                    worker.send_batch(wanted)
                    pending.append(worker)
                except WorkerDied as exc:
                    self._replace_worker(worker, str(exc))
        began = time.perf_counter()
        signals, failures = self.shard.process(per_coin)
        return _InFlight(batches, batch, positions, per_coin, signals, failures, pending,
                         time.perf_counter() - began)

    def _add_candles(self, per_coin: CoinPrices, batch: TickBatch) -> None:
        """Fold the batch into each coin's kept candles: the replayed file's bars when it
        has some, else its ticks (one numpy pass per coin and batch)."""
        if batch.bars is not None:
            for index, coin in enumerate(self.coins):
                mine = batch.bars.of_coin(index)
                if mine is not None:
                    self._add_bars(coin, *mine)
        else:
            with self.candles_lock:
                for coin, (prices, stamps) in per_coin.items():
                    candles = self.candles.get(coin)
                    if candles is None:
                        candles = self.candles[coin] = Candles(CANDLE_SECONDS, CANDLES_HELD)
                        self.volume_units[coin] = "ticks"
                    candles.add_ticks(prices, stamps)
        if self.trend is not None:
            self._tell_closes(self.trend)

    def _tell_closes(self, trend: LiveTrend) -> None:
        """Tell the live trend which coins closed a bar since it was last told (a few int
        comparisons a batch; the analysis runs on its own thread)."""
        told = self._closes_told
        for coin, candles in self.candles.items():
            version = candles.closed_version
            if told.get(coin) != version:
                told[coin] = version
                trend.closed(coin)

    def _add_bars(self, coin: str, bars: Pieces, seconds: float) -> None:
        """Bars of ``seconds`` each: kept as minutes when they divide a minute, else as they
        are (an hourly file's candles are hours). A replayed file's volume is the coin's;
        a live feed's history counts trades, as its ticks do."""
        with self.candles_lock:
            candles = self.candles.get(coin)
            if candles is None:
                whole = CANDLE_SECONDS % seconds == 0
                candles = self.candles[coin] = Candles(CANDLE_SECONDS if whole else seconds,
                                                       CANDLES_HELD)
                self.volume_units[coin] = "coin" if self.feed.replay else "ticks"
                # a replayed file's own bars come closed; finer ones make minutes that are
                candles.whole_bars = self.feed.replay and candles.interval == seconds
            candles.add(bars)

    def candle_pieces(self, coin: str, limit: int) -> tuple[Pieces, float, str] | None:
        """A copy of the newest ``limit`` candles of ``coin``, their length and volume unit."""
        with self.candles_lock:
            candles = self.candles.get(coin)
            if candles is None:
                return None
            newest = slice(max(len(candles) - limit, 0), len(candles))
            kept = Pieces(*(column[newest].copy() for column in (
                candles.times, candles.open, candles.high, candles.low, candles.close,
                candles.volume)))
        return kept, candles.interval, self.volume_units[coin]

    def closed_candles(self, coin: str, final: bool = False) -> dict[str, object] | None:
        """The closed candles of ``coin`` (with ``final``, the forming one too: the data
        ended) as the live trend reads them: the dict of Engine.candles, with arrays."""
        with self.candles_lock:
            candles = self.candles.get(coin)
            if candles is None:
                return None
            count = len(candles) if final else candles.closed
            columns = [column[:count].copy() for column in (
                candles.times, candles.open, candles.high, candles.low, candles.close,
                candles.volume)]
            interval, unit = candles.interval, self.volume_units[coin]
        return {"coin": coin, "interval": interval, "volume_unit": unit,
                **dict(zip(("time", "open", "high", "low", "close", "volume"), columns,
                           strict=True))}

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
            self.engine.strategy_failed(strategy_id, message)
        trades = self._fill(signals, job.positions, job.per_coin, job.batch)
        if trades:
            self.latency.add(self.latency.fills, time.perf_counter(), job.batches,
                             self.filled_at)
        self.ticks_processed += len(job.batch)
        # batches sized to ~0.1 s of work, so stop() and control calls never wait long
        per_tick = (time.perf_counter() - began + job.began_cost) / max(1, len(job.batch))
        self.drain_cap = max(1024, min(MAX_DRAIN_TICKS, int(0.1 / max(per_tick, 1e-9))))
        ledger = self.engine.ledger  # this thread is its only writer: no lock to read it
        pnl_rows, state = ledger.take_pending_samples(), ledger.take_metric_state()
        figures = self.engine.figures() if trades or pnl_rows else None
        # journal and subscribers are served by the writer thread, in order
        self._put_outbox(Handoff(trades, pnl_rows, state, self.points_made, figures,
                                 batches=job.batches, filled_at=self.filled_at,
                                 batch=job.batch))
        if self.kill_switch is not None:  # after: the fills it closes with come after these
            self.kill_switch.after_fills(trades, figures)
        limit = self.config.max_ticks
        if limit is not None and self.ticks_processed >= limit:
            self.limit_hit = True

    def _fill(self, signals: list[RawSignal], positions: Positions, per_coin: CoinPrices,
              batch: TickBatch) -> list[Trade]:
        """Fill the active strategies' signals in tick order, under the engine's lock; none
        while trading is paused (positions are still valued and sampled)."""
        engine = self.engine
        ordered: list[OrderedSignal] = []
        if not engine.trading_paused:
            active = {sid: (entry.spec.coin, entry.order)
                      for sid, entry in engine.registry.items()
                      if entry.status == StrategyStatus.ACTIVE}
            ordered = order_signals(signals, positions, active)
        with engine.lock:
            ledger = engine.ledger
            trades, self.filled_at = fill_batch(ledger, ordered, positions, per_coin,
                                                batch.timestamps)
            engine.recent_trades.extend(trades)
            self.points_made += len(trades) + len(ledger.pending_samples)
        return trades

    def _put_outbox(self, item: Handoff | None) -> None:
        while True:
            try:
                self._outbox.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self.writer.is_alive():
                    return

def _put_end(q: queue.Queue, stop: threading.Event) -> None:
    while True:
        try:
            q.put(None, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set():
                return
