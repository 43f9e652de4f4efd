"""The live engine: its strategies, the calls that control them, and what a view reads.

One instance serves the window, the server and the headless CLI (it satisfies
:class:`~velocitas_desktop.engine.contract.TradingEngine`). A session (engine/session.py) runs
the threads: its consumer thread is the only writer of the ledger, and everything else reads
copies under :attr:`Engine.lock`. Control calls (register, pause, new parameters, a position
closed...) made while a session runs are queued to its consumer and applied between batches,
so a strategy is never changed in the middle of one.

A start goes on with the last session (restored from the journal, or just stopped) when its
market goes on, or begins a new one that closes or carries the last one's open positions
(:class:`~velocitas_desktop.engine.config.SessionChoice`; docs/gui.md, "Sessions go on").
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from velocitas_desktop.copilot.notify import Notifier
from velocitas_desktop.copilot.outbox import open_outbox
from velocitas_desktop.copilot.service import Copilot
from velocitas_desktop.core.candles import Pieces
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.ledger import Book, Ledger
from velocitas_desktop.core.strategy import StrategySpec, check_coin
from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.config import (
    EngineConfig,
    PositionsChoice,
    SessionChoice,
    build_feed,
    data_clock,
    why_not_go_on,
)
from velocitas_desktop.engine.contract import (
    AttachedView,
    EngineStatus,
    Event,
    EventKind,
    JournalState,
    StrategyStatus,
    Subscribers,
)
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.engine.latency import LatencyStats
from velocitas_desktop.engine.registry import Registration
from velocitas_desktop.engine.request import check_config
from velocitas_desktop.engine.session import CANDLE_SECONDS, CANDLES_KEPT, Session
from velocitas_desktop.engine.writer import MB, Figures, free_bytes, low_space
from velocitas_desktop.feeds.base import Feed, FeedState
from velocitas_desktop.store.copilot import CopilotStore
from velocitas_desktop.store.journal import Journal, JournalError

__all__ = ["Engine", "EngineConfig", "EngineError", "Event", "NotFoundError", "Registration"]

log = logging.getLogger(__name__)

CONTROL_TIMEOUT = 30.0  # seconds a control call waits for the consumer to apply it
# What account() tells of the whole account, and of each open position (the metrics' names)
ACCOUNT_FIELDS = ("capital", "cash", "equity", "account_value", "return_pct", "net_pnl",
                  "unrealized_pnl", "fees")
POSITION_FIELDS = ("strategy_id", "coin", "strategy_name", "current_position", "entry_price",
                   "last_price", "unrealized_pnl", "capital", "cash", "carried")


class Engine:
    """The trading engine. Thread-safe: every public method may be called from any thread."""

    def __init__(self, catalog: Catalog | None = None, journal: Journal | None = None,
                 restore: bool = True, recent_trades: int = 10_000,
                 disk_free: Callable[[Path], int | None] = free_bytes,
                 live_trend: bool = True, copilot: bool = True) -> None:
        """``disk_free(path)`` reads the free bytes of the journal's disk (the free-space
        guard's one reading: the default asks the system). ``live_trend`` False: sessions
        make no trend reports (bench/live_trend.py measures what they cost). ``copilot``
        False: no copilot (bench/copilot.py's baseline); its calls raise EngineError."""
        self.catalog = catalog or load_catalog()
        self.journal = journal
        self.disk_free = disk_free
        self.live_trend = live_trend
        self.lock = threading.Lock()        # guards the ledger and the registry
        self._admin = threading.RLock()     # serialises start/stop and direct control calls
        self._status_lock = threading.Lock()  # status changes that depend on the status
        self._subscribers = Subscribers()
        self._views: list[AttachedView] = []
        self.registry: dict[str, Registration] = {}
        self._order = itertools.count()
        self.ledger = Ledger(keep_trades=False)  # the journal keeps the fills, not memory
        self.recent_trades: deque[Trade] = deque(maxlen=recent_trades)
        self.config = EngineConfig()
        self.status = EngineStatus.STOPPED
        self.status_message = ""
        self.feed_state: dict[str, str] = {"state": FeedState.IDLE, "message": ""}
        self.session_id: int | None = None
        self._session: Session | None = None  # the running session, or the last one
        self._last_config: EngineConfig | None = None  # of the session run or restored
        self._went_on = False  # the current (or last) start went on with an earlier session
        self._control: queue.SimpleQueue = queue.SimpleQueue()
        # the journal: no fills while it cannot take them; the figures it has
        self.trading_paused = False
        self.journal_state: dict[str, Any] = _journal_state(journal)
        self._saved_figures: Figures = ({}, {})
        # strategies whose spec or status the journal could not take yet: id → save_strategy's
        # arguments, saved with the next write that succeeds
        self._unsaved_specs: dict[str, tuple[dict[str, Any], str, bool]] = {}
        if journal is not None:
            self.ledger.next_trade_id = journal.max_trade_id() + 1
            if restore:
                self._restore_last_session()
        self.copilot: Copilot | None = self._make_copilot() if copilot else None

    def _make_copilot(self) -> Copilot:
        """The copilot in this process: its records beside the journal's (in memory without
        one), its webhooks' outbox too; it hears every event. Its threads start with the
        first session."""
        path = self.journal.path if self.journal is not None else None
        store = CopilotStore(path) if path is not None else CopilotStore()
        copilot = Copilot(self, store, publish=self.publish)
        copilot.notifier = Notifier(open_outbox(path) if path is not None else None,
                                    copilot.copilot_settings,
                                    status=lambda: str(self.status))
        self._subscribers.add(copilot.event)
        return copilot

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
        """Remove a strategy; an open position of its is closed first, at the last price,
        with a fill (as close_position), so no P&L leaves the account unrecorded."""
        def apply() -> None:
            entry = self._entry(strategy_id)
            session = self._live_session()
            if session is not None:
                session.unplace(entry)
            with self.lock:
                closing = (self.ledger.close_position(strategy_id)
                           if strategy_id in self.ledger.books else None)
            if closing is not None:
                self._hand_on([closing])
            with self.lock:
                del self.registry[strategy_id]
                self.ledger.close_book(strategy_id)
            self._save_spec(entry.spec.to_dict(), entry.status, removed=True)
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

    def update_params(self, strategy_id: str, params: dict[str, Any],
                      timeframe: str | None = None) -> StrategySpec:
        """New parameter values (merged over the current ones), and a new timeframe if given;
        the strategy is re-created and warmed up from recent prices, keeping its position."""
        def apply() -> StrategySpec:
            entry = self._entry(strategy_id)
            merged = {**dict(entry.spec.params), **params}
            spec = self.catalog.validate(StrategySpec(
                entry.spec.name, entry.spec.coin, merged, timeframe or entry.spec.timeframe,
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

    def pause_all(self) -> list[str]:
        """Stop all trading at once: every active strategy is paused (it keeps following
        prices, its positions stay open). Returns the ids it paused."""
        def apply() -> list[str]:
            paused = [e for e in self._ordered() if e.status == StrategyStatus.ACTIVE]
            with self.lock:
                for entry in paused:
                    entry.status = StrategyStatus.PAUSED
            for entry in paused:
                self._save(entry)
                self._publish_strategy(entry)
            return [entry.spec.id for entry in paused]

        return self._control_call(apply)

    # --- positions -----------------------------------------------------------------------

    def close_position(self, strategy_id: str) -> dict[str, Any]:
        """Close the strategy's position at its last price with a fill (slippage and fee as
        any fill), recorded and shown as the strategy's own; returns the fill. The strategy
        goes on and may open again on its next signal. NotFoundError for an unknown id,
        EngineError when it holds no position."""
        def apply() -> dict[str, Any]:
            self._entry(strategy_id)
            with self.lock:
                trade = self.ledger.close_position(strategy_id)
            if trade is None:
                raise EngineError(f"{strategy_id} holds no position to close")
            self._hand_on([trade])
            return trade.to_dict()

        return self._control_call(apply)

    def flatten_all(self) -> list[dict[str, Any]]:
        """Close every open position at its last price, each with a fill; returns them."""
        def apply() -> list[dict[str, Any]]:
            with self.lock:
                closing = [self.ledger.close_position(sid) for sid in list(self.ledger.books)]
            trades = [trade for trade in closing if trade is not None]
            self._hand_on(trades)
            return [trade.to_dict() for trade in trades]

        return self._control_call(apply)

    def account(self) -> dict[str, Any]:
        """The paper account: starting capital, cash, equity, value and return, and every
        open position with its entry price, last price and unrealised P&L."""
        with self.lock:
            ledger = self.ledger
            whole = ledger.global_metrics()
            books = [book.metrics(ledger.risk_free) for book in ledger.books.values()
                     if book.position != 0.0]
        positions = [{key: m[key] for key in POSITION_FIELDS} for m in books]
        return {**{key: whole[key] for key in ACCOUNT_FIELDS}, "positions": positions}

    def _hand_on(self, trades: list[Trade]) -> None:
        """Fills a control call made (positions closed by hand): journaled, then told to the
        subscribers, as a batch's are; through the session's writer when one runs."""
        if not trades:
            return
        with self.lock:
            self.recent_trades.extend(trades)
        session = self._live_session()
        if session is not None:
            session.hand_on(trades)
            return
        self._write_into_session()
        with self.lock:
            state = self.ledger.take_metric_state()
        self.journal_batch(trades, [], state)
        self.publish(EventKind.TRADES, [trade.to_dict() for trade in trades])

    def _write_into_session(self) -> None:
        """Point the journal at this engine's session (a restored one is only read so far)."""
        journal = self.journal
        if journal is not None and self.session_id is not None \
                and journal.session_id != self.session_id:
            journal.resume_session(self.session_id)

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
        self._save_spec(entry.spec.to_dict(), entry.status)

    def _save_spec(self, spec: dict[str, Any], status: str, removed: bool = False) -> None:
        """Keep a strategy's spec and status in the journal; if it cannot take them now, they
        are kept here and saved with the next write that succeeds (the change itself stands)."""
        if self.journal is None:
            return
        try:
            self.journal.save_strategy(spec, status, removed)
            self._unsaved_specs.pop(spec["strategy_id"], None)
        except JournalError as exc:
            self._unsaved_specs[spec["strategy_id"]] = (spec, status, removed)
            self.log("warning", f"{spec['strategy_id']} is changed but not yet saved: {exc}; "
                                "it is saved as soon as the journal can be written")

    def _save_waiting_specs(self) -> None:
        """Save the specs the journal could not take before; never raises (the records just
        committed must not look refused): what still fails waits for the next commit."""
        for waiting in list(self._unsaved_specs.values()):
            try:
                self.journal.save_strategy(*waiting)  # type: ignore[union-attr]
            except JournalError:
                return
            if self._unsaved_specs.get(waiting[0]["strategy_id"]) == waiting:
                del self._unsaved_specs[waiting[0]["strategy_id"]]

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
                result = fn()
                # no session sends figures now: every view hears of the change (KPIs too)
                self.publish(EventKind.METRICS, self.snapshot())
                return result
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
        """Run a session on ``config``'s feed (or the ``feed`` given): the last session goes
        on, or a new one begins, as ``config.session`` says. The feed is checked before
        anything runs: a bad file or symbol raises FeedError; a session asked to go on that
        cannot raises EngineError saying why."""
        config = config or EngineConfig()
        with self._admin:
            if self._live_session() is not None or self.status.busy:
                raise EngineError("the engine is already running; stop it first")
            check_config(config)
            self._check_room(config)
            going_on = self._goes_on(config)
            if going_on:
                config = self._picking_up(config)
            self.status = EngineStatus.STARTING
            try:
                # not `feed or`: a replay feed not yet opened has no prices, so len() 0, falsy
                feed = feed if feed is not None else build_feed(config)
                feed.on_status = self.feed_status
                feed.open()
            except BaseException:
                self.status = EngineStatus.STOPPED
                raise
            if self.copilot is not None:
                self.copilot.start()  # before the session: it hands prices to the monitor
            try:
                what = self._begin_session(config, feed, going_on)
            except BaseException:
                if self.copilot is not None:
                    self.copilot.session_ended()
                raise
            self.publish(EventKind.ENGINE, {"status": EngineStatus.RUNNING,
                                            "message": f"{feed.name} feed started; {what}"})

    def _check_room(self, config: EngineConfig) -> None:
        """EngineError if the journal's disk is below the free space the session keeps."""
        if self.journal is None or config.min_free_mb <= 0:
            return
        path, least = self.journal.path, config.min_free_mb * MB
        free = self.disk_free(path)
        if free is not None and free < least:
            raise EngineError(f"cannot start: {low_space(path, free, least)}; free some space "
                              "on that disk, or lower the free space to keep")

    def _goes_on(self, config: EngineConfig) -> bool:
        """Whether this start goes on with the last session (EngineError when it was asked
        to and cannot)."""
        if config.session == SessionChoice.NEW:
            return False
        reason = why_not_go_on(self._last_config, config)
        if reason is None:
            return True
        if config.session == SessionChoice.CONTINUE:
            raise EngineError(f"cannot go on with the last session: {reason}; start a new "
                              "session (session=new), its open positions closed or carried "
                              "over (positions=close or carry)")
        return False

    def _picking_up(self, config: EngineConfig) -> EngineConfig:
        """``config`` for a session that goes on: a simulated market starts at the last
        prices, and its clock goes on from the last price's time (a paced, unseeded one
        keeps the wall clock unless the session ran ahead of it)."""
        if config.source != "simulated":
            return config
        with self.lock:
            prices = {book.coin: book.last_price for book in self.ledger.books.values()
                      if book.last_price == book.last_price}
            last = self.ledger.last_timestamp
        start = config.start_time
        if last == last:
            wall_clock = config.rate is not None and config.seed is None
            # the market's own clock goes on where it stopped; starting it at a seed's date
            # or two days back would leave a gap of years, or run it backwards
            start = max(time.time(), last) if wall_clock else last
        return dataclasses.replace(config, start_time=start, start_prices=prices)

    def _begin_session(self, config: EngineConfig, feed: Feed, going_on: bool) -> str:
        """Make the session's threads, its ledger and journal ready, and start it; returns
        what became of the last session, for the log."""
        self.config = config
        session = self._session = Session(self, config, feed, self.live_trend)
        self.trading_paused = False
        self.journal_state = _journal_state(self.journal)
        try:
            what = self._go_on(config) if going_on else self._new_session(config)
        except JournalError as exc:
            feed.close()
            self.status = EngineStatus.STOPPED
            raise EngineError(f"cannot start: {exc}") from exc
        self._last_config, self._went_on = config, going_on
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
        return what

    def _go_on(self, config: EngineConfig) -> str:
        """The ledger and the journal's session go on: fills are appended, figures and the
        P&L history continue. New fees and costs apply from now; accounts keep their
        capital (a strategy added later gets the capital asked for now)."""
        if self.journal is not None and self.session_id is not None:
            # first, so that a journal that refuses (JournalError) leaves the ledger as it was
            self.journal.resume_session(self.session_id, config.to_dict())
        with self.lock:
            ledger = self.ledger
            ledger.fee_rate, ledger.slippage = config.fee, config.slippage
            ledger.capital, ledger.risk_free = config.capital, config.risk_free_rate
            ledger.continue_clock()
            self._open_books()
            self._saved_figures = self._figures()
        if self.journal is not None and self.session_id is not None:
            for entry in self._ordered():
                self._save(entry)
        return f"session {self.session_id} goes on" if self.session_id else "the session goes on"

    def _new_session(self, config: EngineConfig) -> str:
        """A new ledger and journal session. The last session's open positions are carried
        over, or closed in the last session, at its last prices and time, as its last fills:
        a round trip is the session's that opened it, and the new session begins flat, on
        its own clock (closed in the new one, its P&L chart began years before a replay)."""
        last_id = self.session_id
        closed = self._close_in_last_session() if config.positions == PositionsChoice.CLOSE else 0
        if self.journal is not None:
            # before the ledger changes, so that a refusal (JournalError) leaves it whole
            session_id = self.journal.begin_session(config.to_dict())
        with self.lock:
            old = self.ledger
            held = old.open_positions()
            # Fills live in the journal and recent_trades; a ledger that kept them all grew
            # the engine by ~450 bytes a fill (79 -> 317 MB in an 11-minute soak).
            self.ledger = Ledger(config.fee, config.slippage, config.sample_seconds,
                                 capital=config.capital, risk_free=config.risk_free_rate,
                                 keep_trades=False)
            self.ledger.next_trade_id = old.next_trade_id
            self.recent_trades.clear()
            self._open_books()
            if held:
                self.ledger.carry(held, old.last_timestamp)
            self._saved_figures = self._figures()
        if self.journal is not None:
            self.session_id = session_id
            self._unsaved_specs.clear()  # the new session saves every strategy afresh
            for entry in self._ordered():
                self._save(entry)
        what = f"new session {self.session_id}" if self.session_id else "a new session"
        if closed:
            return f"{what}; {_count(closed)} of session {last_id} closed there at the last prices"
        if not held:
            return what
        self._record_carried()
        return f"{what}, carrying {_count(len(held))} of session {last_id} over"

    def _close_in_last_session(self) -> int:
        """Close every open position of the last session at its last price and time, as that
        session's last fills (journaled there, not published: the views have moved on to the
        new session; the journal's sessions show them). Returns how many were closed."""
        with self.lock:
            ledger = self.ledger
            closing = [ledger.close_position(p.strategy_id) for p in ledger.open_positions()]
            trades = [trade for trade in closing if trade is not None]
            state = ledger.take_metric_state() if trades else None
        if trades and self.journal is not None and self.session_id is not None:
            self._write_into_session()
            self.journal_batch(trades, [], state)
        return len(trades)

    def _open_books(self) -> None:
        """A book for every strategy (lock held); a failed one is given another go."""
        for entry in self._ordered():
            spec = entry.spec
            self.ledger.open_book(spec.id, spec.coin, spec.name, spec.allow_short)
            if entry.status == StrategyStatus.ERROR:
                entry.status, entry.error = StrategyStatus.ACTIVE, None

    def _record_carried(self) -> None:
        """The positions a session began with go to the journal at once: a restart replays
        its fills over them."""
        if self.journal is None:
            return
        with self.lock:
            state = self.ledger.take_metric_state()
        if state:
            self.journal.save_metric_state(state)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the session; returns within ``timeout`` with no thread or process left."""
        with self._admin:
            session = self._session
            if (session is None or not session.running) and not self.status.stoppable:
                raise EngineError("the engine is not running")
            with self._status_lock:
                self.status = EngineStatus.STOPPING
            if session is not None:
                session.stop(timeout)
            with self._status_lock:
                if self.status == EngineStatus.STOPPING:
                    self.status = EngineStatus.STOPPED
            if session is not None:
                session.finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session ends (the data ran out, a limit was hit, or stop())."""
        session = self._session
        return True if session is None else session.finished.wait(timeout)

    def resume_trading(self) -> None:
        """Trading paused because of the journal: try it again now, and resume if it can be
        written (and its disk has room); EngineError saying why not. Nothing to do if
        trading is not paused."""
        session = self._live_session()
        if session is None:
            raise EngineError("the engine is not running")
        session.journal_writer.resume_now()

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
        if self.copilot is not None:
            self.copilot.close()  # its connections to the journal's file first
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
        """Commit trades, P&L samples and the ledger's metric state (when a sample changed
        it) in one transaction, before anyone hears of them. JournalWriteError when the
        journal cannot take them: then none of them is in it (the writer holds them)."""
        if self.journal is None:
            return
        self.journal.record(trades, pnl_rows, state)
        if self._unsaved_specs:
            self._save_waiting_specs()

    def pause_trading(self, message: str, new: bool) -> None:
        """The writer's word: the journal cannot take fills now (``message`` says why, where
        and what next). No fills from the next batch on; said once per pause or new cause."""
        self.trading_paused = True
        with self._status_lock:
            if self.status == EngineStatus.RUNNING:
                self.status = EngineStatus.PAUSED
            if self.status == EngineStatus.PAUSED:
                self.status_message = message
        self.journal_state = {**self.journal_state, "state": JournalState.PAUSED,
                              "message": message,
                              "pauses": self.journal_state["pauses"] + int(new)}
        self.log("error", message)
        self.publish(EventKind.ENGINE, {"status": self.status, "message": message})

    def trading_resumed(self, message: str) -> None:
        """The writer's word: the journal takes fills again (said once)."""
        self.trading_paused = False
        with self._status_lock:
            if self.status == EngineStatus.PAUSED:
                self.status, self.status_message = EngineStatus.RUNNING, ""
        self.journal_state = {**self.journal_state, "state": JournalState.OK}
        self.log("info", message)
        self.publish(EventKind.ENGINE, {"status": self.status, "message": message})

    def records_lost(self, message: str) -> None:
        """The writer's last word: the session ended with records the journal never took."""
        self.journal_state = {**self.journal_state, "state": JournalState.FAILED,
                              "message": message}
        with self._status_lock:
            self.status, self.status_message = EngineStatus.ERROR, message
        self.log("error", message)
        self.publish(EventKind.ENGINE, {"status": self.status, "message": message})

    def session_failed(self, message: str) -> None:
        """The session's consumer stopped on an unexpected error."""
        self.status, self.status_message = EngineStatus.ERROR, message
        self.log("error", f"the engine stopped: {message}")

    def session_ended(self, session: Session, ended: bool) -> None:
        """The session's threads are done: settle the status and tell the views."""
        self.run_controls()
        if self.copilot is not None:
            self.copilot.session_ended()
        self.trading_paused = False
        feed_failed = self.feed_state.get("state") == FeedState.FAILED
        with self._status_lock:
            if self.status.live:
                self.status_message = ""
                if feed_failed:
                    self.status = EngineStatus.ERROR
                    self.status_message = self.feed_state.get("message", "")
                else:
                    self.status = EngineStatus.FINISHED if ended else EngineStatus.STOPPED
            if self.status == EngineStatus.STOPPING:
                self.status = EngineStatus.STOPPED
        self.publish(EventKind.METRICS, self.snapshot())
        self.publish(EventKind.ENGINE, {"status": self.status, "message": self.status_message})

    # --- reading -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """``{"global": {...}, "strategies": {...}}`` in the seed's shapes. While the journal
        refuses fills the ledger holds (trading is paused, or the session ended so), the
        figures are those it last took: no view is shown a fill it has not saved."""
        with self.lock:
            session = self._session
            if session is not None and session.refused:
                figures = self._with_registry(self._saved_figures, copy=True)
            else:
                figures = self._with_registry(self._figures(), copy=False)
        return self._with_engine_state(figures)

    def figures(self) -> Figures:
        """The ledger's figures now (the session's consumer hands them to the writer)."""
        with self.lock:
            return self._figures()

    def figures_saved(self, figures: Figures) -> None:
        """The writer's word that the journal holds exactly what ``figures`` count."""
        self._saved_figures = figures

    def saved_snapshot(self) -> dict[str, Any]:
        """The snapshot of the figures last saved, with the engine's state now (the writer
        publishes it)."""
        with self.lock:
            shown = self._with_registry(self._saved_figures, copy=True)
        return self._with_engine_state(shown)

    def _figures(self) -> Figures:
        return self.ledger.global_metrics(), self.ledger.strategy_metrics()

    def _with_registry(self, figures: Figures, copy: bool) -> Figures:
        """``figures`` with each strategy's status and parameters now (the lock is held). A
        strategy registered since the figures were taken shows no fills yet; one removed
        since is left out (its fills stay in the totals)."""
        glob, by_strategy = figures
        strategies = {}
        risk_free = self.ledger.risk_free
        for sid, book in self.ledger.books.items():
            metrics = by_strategy.get(sid)
            if metrics is None:
                metrics = Book(sid, book.coin, book.strategy_name, book.allow_short,
                               book.capital).metrics(risk_free)
            elif copy:
                metrics = dict(metrics)
            entry = self.registry.get(sid)
            if entry is not None:
                metrics.update(status=entry.status, error=entry.error,
                               timeframe=entry.spec.timeframe, params=dict(entry.spec.params))
            strategies[sid] = metrics
        glob = dict(glob) if copy else glob
        glob["active_strategies"] = sum(1 for e in self.registry.values()
                                        if e.status == StrategyStatus.ACTIVE)
        glob["active_coins"] = {e.spec.coin for e in self.registry.values()}
        return glob, strategies

    def _with_engine_state(self, figures: Figures) -> dict[str, Any]:
        """The snapshot: ``figures`` (from :meth:`_with_registry`) and the engine's state."""
        glob, strategies = figures
        coins = glob["active_coins"]
        if self._live_session() is not None:
            coins |= set(self._coins())
        glob.update(
            mode="live",
            status=self.status,
            active_coins=len(coins),
            last_update=datetime.now(UTC).isoformat(timespec="seconds"),
            ticks_processed=self.ticks_processed,
            ticks_per_second=self.ticks_per_second,
            latency_ms=self.latency.summary(),
            feed=dict(self.feed_state),
            source=self.config.source,
            coins=self._coins(),
            session_id=self.session_id,
            clock=self._clock(self.ledger.last_timestamp),
            journal=dict(self.journal_state),
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
            "continued": self._went_on,
            "ticks_processed": self.ticks_processed,
            "ticks_per_second": self.ticks_per_second, "strategies": registered,
            "feed": dict(self.feed_state), "clock": self._clock(self.ledger.last_timestamp),
        }

    def _clock(self, data_time: float) -> dict[str, Any]:
        """The data clock of the session this engine ran or restored (none yet: no kind)."""
        return data_clock(self._last_config, data_time)

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

    def session_settings(self) -> dict[str, Any] | None:
        """The settings of the current (or restored) session as it was started, None before
        any: the window fills its toolbar with them."""
        config = self._last_config
        return None if config is None else config.to_dict()

    def pnl_history(self, strategy_id: str | None = None,
                    limit: int = 10_000) -> list[dict[str, Any]]:
        """Sampled P&L and position per strategy, oldest first; while the journal refuses
        fills the ledger holds, only the points it has."""
        with self.lock:
            rows = list(self.ledger.pnl_history)
            session = self._session
            unsaved = session.unsaved_points if session is not None and session.refused else 0
        if unsaved > 0:
            del rows[max(0, len(rows) - unsaved):]
        if strategy_id is not None:
            rows = [r for r in rows if r["strategy_id"] == strategy_id]
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

    def trend(self, coin: str, candles: int = 0) -> dict[str, Any]:
        """The latest live trend report of ``coin`` (see the contract)."""
        coin = check_coin(coin)
        session = self._session
        if session is None:
            raise NotFoundError(f"no live trend of {coin}: no session has run in this engine "
                                "yet; start one and its trend appears as its bars close")
        if session.trend is None:
            raise NotFoundError(f"no live trend of {coin}: this engine makes none (it was "
                                "created with live_trend=False)")
        return session.trend.report(coin, candles)

    # --- the copilot (copilot/service.py answers; see the contract) ------------------------

    def _the_copilot(self) -> Copilot:
        if self.copilot is None:
            raise EngineError("this engine runs no copilot (it was created with copilot=False)")
        return self.copilot

    def copilot_conditions(self) -> list[dict[str, Any]]:
        return self._the_copilot().copilot_conditions()

    def copilot_rules(self) -> list[dict[str, Any]]:
        return self._the_copilot().copilot_rules()

    def copilot_rule(self, rule_id: str) -> dict[str, Any]:
        return self._the_copilot().copilot_rule(rule_id)

    def save_copilot_rule(self, rule: dict[str, Any], replace: bool = False) -> dict[str, Any]:
        return self._the_copilot().save_copilot_rule(rule, replace)

    def delete_copilot_rule(self, rule_id: str) -> None:
        self._the_copilot().delete_copilot_rule(rule_id)

    def enable_copilot_rule(self, rule_id: str, enabled: bool) -> dict[str, Any]:
        return self._the_copilot().enable_copilot_rule(rule_id, enabled)

    def import_copilot_rules(self, rules: list[dict[str, Any]],
                             replace: bool = False) -> list[dict[str, Any]]:
        return self._the_copilot().import_copilot_rules(rules, replace)

    def copilot_alerts(self, after_id: int | None = None, before_id: int | None = None,
                       limit: int = 100, severity: str | None = None) -> list[dict[str, Any]]:
        return self._the_copilot().copilot_alerts(after_id, before_id, limit, severity)

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any]:
        return self._the_copilot().acknowledge_alert(alert_id)

    def copilot_actions(self, status: str | None = None,
                        limit: int = 100) -> list[dict[str, Any]]:
        return self._the_copilot().copilot_actions(status, limit)

    def decide_action(self, action_id: int, confirm: bool, who: str) -> dict[str, Any]:
        return self._the_copilot().decide_action(action_id, confirm, who)

    def copilot_settings(self) -> dict[str, Any]:
        return self._the_copilot().copilot_settings()

    def update_copilot_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return self._the_copilot().update_copilot_settings(settings)

    def copilot_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._the_copilot().copilot_deliveries(limit)

    def copilot_test_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        return self._the_copilot().copilot_test_webhook(webhook)

    # --- restoring -----------------------------------------------------------------------

    def _restore_last_session(self) -> None:
        journal = self.journal
        assert journal is not None
        session = journal.last_session()
        if session is None:
            return
        self.session_id = session
        self._restore_config(journal.config(session))
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

    def _restore_config(self, saved: dict[str, Any]) -> None:
        """The restored session's settings, and a ledger on its costs and clock, so that it
        can go on as it ran."""
        try:
            config = EngineConfig.from_dict(saved)
            ledger = Ledger(config.fee, config.slippage, config.sample_seconds,
                            capital=config.capital, risk_free=config.risk_free_rate,
                            keep_trades=False)
        except (TypeError, ValueError) as exc:
            self.log("warning", f"the settings of session {self.session_id} could not be "
                                f"read ({exc}); it is shown, and a start begins a new one")
            return
        ledger.next_trade_id = self.ledger.next_trade_id
        self.config = self._last_config = config
        self.ledger = ledger


def _count(positions: int) -> str:
    return f"{positions} open position{'s' if positions != 1 else ''}"

def _journal_state(journal: Journal | None) -> dict[str, Any]:
    """The snapshot's ``journal``: where it is, whether it takes what the session makes (and
    the message when it does not, or last did not), and how often trading paused."""
    return {"path": None if journal is None else str(journal.path), "state": JournalState.OK,
            "message": "", "pauses": 0}
