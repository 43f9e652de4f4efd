"""The live engine: its strategies, the calls that control them, and what a view reads.

One instance serves the window, the server and the headless CLI (it satisfies
:class:`~velocitas_desktop.engine.contract.TradingEngine`). A session (engine/session.py) runs
the threads: its consumer thread is the only writer of the ledger, and everything else reads
copies under :attr:`Engine.lock`. Control calls (register, pause, new parameters...) made while
a session runs are queued to its consumer and applied between batches, so a strategy is never
changed in the middle of one.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from velocitas_desktop.catalog import Catalog, load_catalog
from velocitas_desktop.core.candles import Pieces
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.ledger import Ledger
from velocitas_desktop.core.strategy import StrategySpec, check_coin
from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.config import EngineConfig, build_feed
from velocitas_desktop.engine.contract import (
    AttachedView,
    EngineStatus,
    Event,
    EventKind,
    StrategyStatus,
    Subscribers,
)
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.engine.latency import LatencyStats
from velocitas_desktop.engine.registry import Registration
from velocitas_desktop.engine.request import check_config
from velocitas_desktop.engine.session import CANDLE_SECONDS, CANDLES_KEPT, Session
from velocitas_desktop.feeds.base import Feed, FeedState
from velocitas_desktop.store.journal import Journal

__all__ = ["Engine", "EngineConfig", "EngineError", "Event", "NotFoundError", "Registration"]

log = logging.getLogger(__name__)

CONTROL_TIMEOUT = 30.0  # seconds a control call waits for the consumer to apply it


class Engine:
    """The trading engine. Thread-safe: every public method may be called from any thread."""

    def __init__(self, catalog: Catalog | None = None, journal: Journal | None = None,
                 restore: bool = True, recent_trades: int = 10_000) -> None:
        self.catalog = catalog or load_catalog()
        self.journal = journal
        self.lock = threading.Lock()        # guards the ledger and the registry
        self._admin = threading.RLock()     # serialises start/stop and direct control calls
        self._subscribers = Subscribers()
        self._views: list[AttachedView] = []
        self.registry: dict[str, Registration] = {}
        self._order = itertools.count()
        self.ledger = Ledger()
        self.recent_trades: deque[Trade] = deque(maxlen=recent_trades)
        self.config = EngineConfig()
        self.status = EngineStatus.STOPPED
        self.status_message = ""
        self.feed_state: dict[str, str] = {"state": FeedState.IDLE, "message": ""}
        self.session_id: int | None = None
        self._session: Session | None = None  # the running session, or the last one
        self._control: queue.SimpleQueue = queue.SimpleQueue()
        if journal is not None:
            self.ledger.next_trade_id = journal.max_trade_id() + 1
            if restore:
                self._restore_last_session()

    # --- the session's figures -----------------------------------------------------------

    @property
    def ticks_processed(self) -> int:
        return self._session.ticks_processed if self._session is not None else 0

    @property
    def ticks_per_second(self) -> float:
        return self._session.ticks_per_second if self._session is not None else 0.0

    @property
    def latency(self) -> LatencyStats:
        return self._session.latency if self._session is not None else LatencyStats()

    def _coins(self) -> list[str]:
        return list(self._session.coins) if self._session is not None else []

    # --- subscribers ---------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, on the engine's threads; keep it quick."""
        return self._subscribers.add(callback)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def publish(self, kind: EventKind, data: Any) -> None:
        """Tell every subscriber; one that raises is logged and the others still hear it."""
        self._subscribers.deliver(Event(kind, data))

    def log(self, level: str, message: str) -> None:
        """A line for the log file and for the views' log panels."""
        getattr(log, level if level != "warn" else "warning")(message)
        self.publish(EventKind.LOG, {"level": level, "message": message, "time": time.time()})

    # --- strategies ----------------------------------------------------------------------

    def register(self, spec: StrategySpec) -> StrategySpec:
        """Add a strategy (validated against the catalogue); it starts trading at once if the
        engine runs. Raises ParameterError, UnknownStrategyError or EngineError."""
        spec = self.catalog.validate(spec)

        def apply() -> StrategySpec:
            if spec.id in self.registry:
                raise EngineError(f"a strategy with id {spec.id!r} is already registered; "
                                  "remove it first or give the new one another id")
            entry = Registration(spec, order=next(self._order))
            with self.lock:
                self.registry[spec.id] = entry
                self.ledger.open_book(spec.id, spec.coin, spec.name, spec.allow_short)
            session = self._live_session()
            if session is not None:
                session.place(entry)
                if spec.coin not in session.coins:
                    self.log("warning", f"{spec.id} will not trade: the running feed has no "
                                        f"prices for {spec.coin}")
            self._save(entry)
            self._publish_strategy(entry)
            return spec

        return self._control_call(apply)

    def unregister(self, strategy_id: str) -> None:
        def apply() -> None:
            entry = self._entry(strategy_id)
            session = self._live_session()
            if session is not None:
                session.unplace(entry)
            with self.lock:
                del self.registry[strategy_id]
                self.ledger.close_book(strategy_id)
            if self.journal is not None:
                self.journal.save_strategy(entry.spec.to_dict(), entry.status, removed=True)
            self.publish(EventKind.STRATEGY, {"strategy_id": strategy_id,
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
                session = self._live_session()
                if session is not None:
                    session.unplace(entry)
                    entry.status = StrategyStatus.ACTIVE
                    session.place(entry)
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
            session = self._live_session()
            if session is not None:
                session.unplace(entry)
            with self.lock:
                entry.spec = spec
                if entry.status == StrategyStatus.ERROR:
                    entry.status, entry.error = StrategyStatus.ACTIVE, None
            if session is not None:
                session.place(entry)
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

    def strategy_failed(self, strategy_id: str, message: str) -> None:
        """A strategy raised (in the session's shard or a worker): stop it and say so."""
        entry = self.registry.get(strategy_id)
        if entry is None:
            return
        with self.lock:
            entry.status, entry.error = StrategyStatus.ERROR, message
        self._save(entry)
        self._publish_strategy(entry)
        self.log("error", f"strategy {strategy_id} failed and was stopped: {message}")

    def reload_catalog(self, folders: Iterable[str | Path]) -> Catalog:
        """Read the built-in and user strategy folders again (only while stopped)."""
        if self.status.busy:
            raise EngineError("strategy folders are read when the engine is stopped")
        self.catalog = load_catalog(folders)
        return self.catalog

    def _describe(self, entry: Registration) -> dict[str, Any]:
        return {**entry.spec.to_dict(), "status": entry.status, "error": entry.error}

    def _ordered(self) -> list[Registration]:
        return sorted(self.registry.values(), key=lambda e: e.order)

    def _entry(self, strategy_id: str) -> Registration:
        try:
            return self.registry[strategy_id]
        except KeyError:
            raise NotFoundError(f"no strategy with id {strategy_id!r} is registered") from None

    def _save(self, entry: Registration) -> None:
        if self.journal is not None:
            self.journal.save_strategy(entry.spec.to_dict(), entry.status)

    def _publish_strategy(self, entry: Registration) -> None:
        self.publish(EventKind.STRATEGY, {"strategy_id": entry.spec.id,
                                          "status": entry.status, "error": entry.error})

    # --- control calls -------------------------------------------------------------------

    def _live_session(self) -> Session | None:
        """The session whose consumer thread runs, if any."""
        session = self._session
        return session if session is not None and session.running else None

    def _control_call(self, fn: Callable[[], Any], timeout: float = CONTROL_TIMEOUT) -> Any:
        """Run ``fn`` on the consumer thread between batches, or here if none runs."""
        session = self._session
        if session is not None and threading.current_thread() is session.consumer:
            return fn()
        with self._admin:
            session = self._live_session()
            if session is None:
                return fn()
            future: Future = Future()
            self._control.put((fn, future))
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(0.1)
            except FuturesTimeout:
                if not session.running:  # the session ended before it got to our call
                    self.run_controls()
                if time.monotonic() > deadline:
                    raise

    def controls_waiting(self) -> bool:
        """A control call waits for the consumer (it settles its batch in flight first)."""
        return not self._control.empty()

    def run_controls(self) -> None:
        """Apply the waiting control calls: on the consumer between batches, or directly once
        the session has ended (no batch can interleave then)."""
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

    # --- start / stop --------------------------------------------------------------------

    def start(self, config: EngineConfig | None = None, feed: Feed | None = None) -> None:
        """Begin a new session on ``config``'s feed (or the ``feed`` given). The feed is
        checked before anything runs: a bad file or symbol raises FeedError."""
        config = config or EngineConfig()
        with self._admin:
            if self._live_session() is not None or self.status.busy:
                raise EngineError("the engine is already running; stop it first")
            check_config(config)
            self.status = EngineStatus.STARTING
            try:
                feed = feed or build_feed(config)
                feed.on_status = self.feed_status
                feed.open()
            except BaseException:
                self.status = EngineStatus.STOPPED
                raise
            self._begin_session(config, feed)
            self.publish(EventKind.ENGINE, {"status": EngineStatus.RUNNING,
                                            "message": f"{feed.name} feed started"})

    def _begin_session(self, config: EngineConfig, feed: Feed) -> None:
        self.config = config
        session = self._session = Session(self, config, feed)
        with self.lock:
            next_id = self.ledger.next_trade_id
            self.ledger = Ledger(config.fee, config.slippage, config.sample_seconds,
                                 capital=config.capital, risk_free=config.risk_free_rate)
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
        try:
            for entry in self._ordered():
                session.place(entry)
        except BaseException:
            session.stop_workers()
            session.finished.set()
            self.status = EngineStatus.STOPPED
            raise
        idle = sorted({e.spec.coin for e in self.registry.values()} - set(session.coins))
        if idle:
            self.log("warning", f"no prices for {', '.join(idle)} from the {feed.name} feed "
                                f"(it carries {', '.join(session.coins)}): strategies on "
                                "those coins will not trade")
        self.status = EngineStatus.RUNNING
        self.status_message = ""
        session.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the session; returns within ``timeout`` with no thread or process left."""
        with self._admin:
            session = self._session
            if (session is None or not session.running) and not self.status.stoppable:
                raise EngineError("the engine is not running")
            self.status = EngineStatus.STOPPING
            if session is not None:
                session.stop(timeout)
            if self.status == EngineStatus.STOPPING:
                self.status = EngineStatus.STOPPED
            if session is not None:
                session.finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session ends (the data ran out, a limit was hit, or stop())."""
        session = self._session
        return True if session is None else session.finished.wait(timeout)

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
        if self._live_session() is not None:
            with contextlib.suppress(EngineError):  # it may have ended on its own meanwhile
                self.stop()
        if self._session is not None:
            self._session.join_writer()  # never close the journal under a write
        if self.journal is not None:
            self.journal.close()

    # --- what the session reports --------------------------------------------------------

    def feed_status(self, state: str, message: str) -> None:
        """The feed's state changed (called on the feed's or the producer's thread)."""
        self.feed_state = {"state": state, "message": message}
        self.publish(EventKind.FEED, dict(self.feed_state))
        if state == FeedState.FAILED:
            self.log("error", f"feed failed: {message}")

    def journal_batch(self, trades: list[Trade], pnl_rows: list[Any],
                      state: dict[str, Any] | None = None) -> None:
        """Commit a batch's trades and P&L samples before anyone hears of them, and the
        ledger's metric state when a sample changed it."""
        if self.journal is None:
            return
        try:
            self.journal.record(trades, pnl_rows)
            if state:
                self.journal.save_metric_state(state)
        except Exception as exc:
            log.exception("the journal failed")
            self.status_message = f"journal write failed: {exc}"
            self.log("error", f"the journal could not be written: {exc}")

    def session_failed(self, message: str) -> None:
        """The session's consumer stopped on an unexpected error."""
        self.status, self.status_message = EngineStatus.ERROR, message
        self.log("error", f"the engine stopped: {message}")

    def session_ended(self, session: Session, ended: bool) -> None:
        """The session's threads are done: settle the status and tell the views."""
        self.run_controls()
        feed_failed = self.feed_state.get("state") == FeedState.FAILED
        if self.status == EngineStatus.RUNNING and feed_failed:
            self.status = EngineStatus.ERROR
            self.status_message = self.feed_state.get("message", "")
        if self.status == EngineStatus.RUNNING:
            self.status = EngineStatus.FINISHED if ended else EngineStatus.STOPPED
        if self.status == EngineStatus.STOPPING:
            self.status = EngineStatus.STOPPED
        self.publish(EventKind.METRICS, self.snapshot())
        self.publish(EventKind.ENGINE, {"status": self.status, "message": self.status_message})

    # --- reading -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """``{"global": {...}, "strategies": {...}}`` in the seed's shapes."""
        with self.lock:
            strategies = self.ledger.strategy_metrics()
            for sid, metrics in strategies.items():
                entry = self.registry.get(sid)
                if entry is not None:
                    metrics.update(status=entry.status, error=entry.error,
                                   timeframe=entry.spec.timeframe, params=dict(entry.spec.params))
            glob = self.ledger.global_metrics()
            active = sum(1 for e in self.registry.values() if e.status == StrategyStatus.ACTIVE)
            coins = {e.spec.coin for e in self.registry.values()}
        if self._live_session() is not None:
            coins |= set(self._coins())
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
            coins=self._coins(),
            session_id=self.session_id,
        )
        return {"global": glob, "strategies": strategies}

    def state(self) -> dict[str, Any]:
        """The status with the session's settings and progress (GET /api/engine/status)."""
        config = self.config
        with self.lock:
            registered = len(self.registry)
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

    def pnl_history(self, strategy_id: str | None = None,
                    limit: int = 10_000) -> list[dict[str, Any]]:
        with self.lock:
            rows = [r for r in self.ledger.pnl_history
                    if strategy_id is None or r["strategy_id"] == strategy_id]
        return rows[-limit:]

    def candles(self, coin: str, limit: int = CANDLES_KEPT) -> dict[str, Any]:
        """The session's candles of ``coin`` (see the contract), oldest first."""
        coin = check_coin(coin)
        session = self._session
        kept = session.candle_pieces(coin, max(int(limit), 0)) if session is not None else None
        bars, interval, unit = kept if kept is not None else (Pieces.empty(), CANDLE_SECONDS,
                                                               "ticks")
        return {"coin": coin, "interval": interval, "volume_unit": unit,
                "time": bars.start.tolist(), "open": bars.open.tolist(),
                "high": bars.high.tolist(), "low": bars.low.tolist(),
                "close": bars.close.tolist(), "volume": bars.volume.tolist()}

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
                self.log("warning", f"could not restore strategy {spec_dict}: {exc}")
                continue
            restored = (StrategyStatus.PAUSED if status == StrategyStatus.PAUSED
                        else StrategyStatus.ACTIVE)
            entry = Registration(spec, status=restored, order=next(self._order))
            self.registry[spec.id] = entry
            self.ledger.open_book(spec.id, spec.coin, spec.name, spec.allow_short)
        trades = journal.trade_records(session)
        self.ledger.restore(trades, journal.pnl_history(session), journal.metric_state(session))
        for sid in [s for s in self.ledger.books if s not in self.registry]:
            self.ledger.close_book(sid)  # removed during the session: its trades stay listed
        self.recent_trades.extend(trades)
        self.ledger.next_trade_id = max(self.ledger.next_trade_id, journal.max_trade_id() + 1)
