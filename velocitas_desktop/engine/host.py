"""The engine in its own process, for the window: :class:`HostedEngine`.

Why a process: the engine's threads and the window's thread would share one interpreter lock,
and every call from Qt into Python (a paint, a table cell) waits for it. With the engine at
maximum speed that stretched repaints to 150-180 ms (bench/gui.py). Hosted, the engine (and
the embedded API server, which serves the same engine) runs in a child process on its own
core, and the window's process keeps its interpreter to itself.

``HostedEngine`` satisfies the engine contract (:class:`~velocitas_desktop.engine.contract.
TradingEngine`): every call the contract names is forwarded over a pipe, generically, and comes
back with the engine's own exceptions (ParameterError, FeedError, EngineError...); only the
calls that need more on this side (``start`` may replace a dead process, ``wait`` reads the
mirrored status, ``subscribe``, ``attach``, ``reload_catalog``, ``close``) are written out here.
Events are forwarded in batches, every ``FORWARD_SECONDS``, so their cost over the pipe is per
batch, never per tick. What waits for a window that does not read (hung, stopped, its pipe
full) is bounded: beyond ``BACKLOG_TICKS`` ticks or ``BACKLOG_TRADES`` fills the oldest are
dropped, and the window hears a ``gap`` event with their counts (and a log line) before the
rest, so its fill count stays honest and the engine's memory stays flat. A host whose process
dies is reported as an engine error (its trades are already in the journal); the next
``start()`` opens a new host that restores the last session.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from velocitas_desktop.catalog import Catalog, load_catalog
from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.contract import (
    CALL_TIMEOUT,
    LATEST_ONLY,
    AttachedView,
    EngineStatus,
    Event,
    EventKind,
    Subscribers,
    TradingEngine,
    call_timeout,
    contract_calls,
    takes_up_to,
)
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.engine.errors import EngineError

log = logging.getLogger(__name__)

_CONTEXT = mp.get_context("spawn")  # never fork a process that runs threads (Qt)
FORWARD_SECONDS = 0.015   # events are shipped to the window in batches this often
OPEN_TIMEOUT = 60.0       # the child imports numpy and opens the journal
CLOSE_TIMEOUT = 30.0
HOST_SWITCH_INTERVAL = 0.001  # as `velocitas serve`: the server's loop answers between batches
# The window comes first for the processor. At maximum speed the engine's threads keep both
# cores of a small machine busy (the GIL is released in SQLite and numpy), and a window
# thread that must wait for a core stalls however little it has to do. A lower priority
# costs the engine nothing while the window is idle (bench/gui.py measures both).
ENGINE_NICE = 10
# What may wait for the window before the oldest is dropped: about 50 MB of ticks (24 bytes
# each) and of fills (a dict each). A window that reads keeps a few frames' worth.
BACKLOG_TICKS = 2_000_000
BACKLOG_TRADES = 50_000
CONTRACT_CALLS = frozenset(contract_calls())


@dataclass(frozen=True, slots=True)
class HostOptions:
    """What the child needs to build the engine."""

    journal_path: str | None = None   # None: the default journal in the user's data folder
    restore: bool = True              # show the last session's strategies and trades
    strategy_folders: tuple[str, ...] = ()
    log_file: str | None = None       # the child's log lines are appended here
    nice: int = ENGINE_NICE           # how much lower the engine's CPU priority is
    backlog: tuple[int, int] = (BACKLOG_TICKS, BACKLOG_TRADES)  # ticks, fills waiting at most


# --- the child ------------------------------------------------------------------------------


def host_main(conn: Connection, options: HostOptions) -> None:
    """Entry point of the engine process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the window's to handle
    sys.setswitchinterval(HOST_SWITCH_INTERVAL)
    _lower_priority(options.nice)
    _log_to(options.log_file)
    try:
        from velocitas_desktop.paths import default_journal_path
        from velocitas_desktop.store.journal import Journal

        journal = Journal(options.journal_path or default_journal_path())
        engine = Engine(catalog=load_catalog(options.strategy_folders), journal=journal,
                        restore=options.restore)
    except BaseException as exc:
        try:
            conn.send(("failed", portable(exc)))
        finally:
            conn.close()
        return
    _Host(conn, engine, options.backlog).run()


class _Host:
    """Serves calls from the pipe and forwards the engine's events to it.

    A call is either one of the contract's (answered by the engine's method of that name) or
    one of the host's own ``do_*`` operations, which need something the engine alone cannot
    give back across a pipe (views attached beside it, the catalogue's problems, shutdown).
    """

    def __init__(self, conn: Connection, engine: Engine,
                 backlog: tuple[int, int] = (BACKLOG_TICKS, BACKLOG_TRADES)) -> None:
        self.conn = conn
        self.backlog_ticks, self.backlog_trades = backlog
        self.engine = engine
        self.views: dict[int, AttachedView] = {}
        self._view_ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._events: deque[tuple[str, Any]] = deque()
        self._events_lock = threading.Lock()
        self._held_ticks = self._held_trades = 0  # in _events
        self._gap = Gap()
        self._done = threading.Event()
        self._closed = False
        self._calls = ThreadPoolExecutor(4, thread_name_prefix="velocitas-host-call")

    def mirrored(self) -> dict[str, Any]:
        """The engine's state the window mirrors, sent with every message."""
        engine = self.engine
        return {"status": engine.status, "status_message": engine.status_message,
                "session_id": engine.session_id}

    def send(self, message: Any) -> bool:
        try:
            with self._send_lock:
                self.conn.send(message)
            return True
        except (OSError, EOFError):  # the window is gone (a pickling error is raised on)
            self._done.set()
            return False

    def run(self) -> None:
        unsubscribe = self.engine.subscribe(self._on_event)
        # "ready" must be the first message the window reads: the forwarder starts after it
        self.send(("ready", self.mirrored()))
        forwarder = threading.Thread(target=self._forward, name="velocitas-host-events",
                                     daemon=True)
        forwarder.start()
        try:
            while not self._done.is_set():
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    break  # the window closed its end, or died: stop everything
                if message[0] == "call":
                    self._calls.submit(self._serve, *message[1:])
                elif message[0] == "exit":
                    break
        finally:
            self._shutdown()
            unsubscribe()
            self._done.set()
            forwarder.join(1.0)
            self._calls.shutdown(wait=False, cancel_futures=True)
            self.conn.close()

    def _serve(self, call_id: int, name: str, args: tuple, kwargs: dict) -> None:
        try:
            reply = ("reply", call_id, True, self._method(name)(*args, **kwargs),
                     self.mirrored())
        except BaseException as exc:
            reply = ("reply", call_id, False, portable(exc), self.mirrored())
        self._flush()  # the events a call caused reach the window before its answer
        try:
            if not self.send(reply):
                return
        except Exception as exc:  # an answer that cannot be pickled is an error, not silence
            log.exception("the answer to %s() could not be sent", name)
            failure = EngineError(f"the answer to {name}() could not be sent: {exc}")
            if not self.send(("reply", call_id, False, failure, self.mirrored())):
                return
        if name == "shutdown":
            self._done.set()

    def _method(self, name: str) -> Callable[..., Any]:
        own = getattr(self, f"do_{name}", None)
        if own is not None:
            return own
        if name in CONTRACT_CALLS:
            return getattr(self.engine, name)
        raise EngineError(f"the engine has no call named {name!r}")

    # the host's own operations

    def do_ping(self) -> str:
        return "pong"

    def do_reload_catalog(self, folders: Sequence[str]) -> list[str]:
        """The catalogue itself holds classes loaded from files, which do not cross a pipe:
        the window loads its own copy and hears of the problems here."""
        return [str(p) for p in self.engine.reload_catalog(folders).problems]

    def do_attach(self, factory: Callable[..., AttachedView], args: tuple,
                  kwargs: dict) -> tuple[int, str, str | None]:
        view = self.engine.attach(factory, *args, **kwargs)
        view_id = next(self._view_ids)
        self.views[view_id] = view
        return view_id, view.url, view.token

    def do_detach(self, view_id: int) -> None:
        view = self.views.pop(view_id, None)
        if view is not None:
            view.stop()

    @takes_up_to(CLOSE_TIMEOUT)
    def do_shutdown(self) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.views.clear()  # the engine stops every view attached to it as it closes
        try:
            self.engine.close()
        except Exception:
            log.exception("the engine did not close cleanly")
        self._flush()

    # events

    def _on_event(self, event: Event) -> None:
        kind, data = event.kind, event.data
        with self._events_lock:
            self._events.append((kind, data))
            if kind == EventKind.TICKS:
                self._held_ticks += len(data["batch"])
            elif kind == EventKind.TRADES:
                self._held_trades += len(data)
            else:
                return
            if self._held_ticks > self.backlog_ticks or self._held_trades > self.backlog_trades:
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        """The window is not reading: drop the oldest ticks and fills until half of each
        bound is left (so this runs once per half a backlog, not per event), and count them
        (the lock is held). Every other event is kept."""
        kept: deque[tuple[str, Any]] = deque()
        ticks, trades = self._held_ticks, self._held_trades
        gap = self._gap
        for kind, data in self._events:
            if kind == EventKind.TICKS and ticks > self.backlog_ticks // 2:
                ticks -= len(data["batch"])
                gap.ticks += len(data["batch"])
            elif kind == EventKind.TRADES and trades > self.backlog_trades // 2:
                trades -= len(data)
                gap.add_trades(data)
            else:
                kept.append((kind, data))
        self._events, self._held_ticks, self._held_trades = kept, ticks, trades

    def _take(self) -> list[tuple[str, Any]]:
        with self._events_lock:
            events, self._events = list(self._events), deque()
            self._held_ticks = self._held_trades = 0
            gap, self._gap = self._gap, Gap()
        if len(events) > 1:
            last = {kind: i for i, (kind, _) in enumerate(events) if kind in LATEST_ONLY}
            events = [e for i, e in enumerate(events)
                      if e[0] not in LATEST_ONLY or last[e[0]] == i]
        if gap:  # first: what was dropped came before everything still here
            events[:0] = [(EventKind.GAP, gap.data()), (EventKind.LOG, gap.log_line())]
        return events

    def _flush(self) -> None:
        events = self._take()
        if events:
            self._send_events(events, self.mirrored())

    def _send_events(self, events: list[tuple[str, Any]], state: dict[str, Any]) -> bool:
        """Ship a batch of events; one that cannot be pickled is logged and left out, so
        the window never stops hearing from the engine because of it."""
        try:
            return self.send(("events", events, state))
        except Exception:
            kept = []
            for event in events:
                try:
                    pickle.dumps(event)
                    kept.append(event)
                except Exception:
                    log.exception("a %s event could not be sent to the window", event[0])
            return self.send(("events", kept, state))

    def _forward(self) -> None:
        sent_state = None
        while not self._done.wait(FORWARD_SECONDS):
            events = self._take()
            state = self.mirrored()
            if events or state != sent_state:
                sent_state = state
                if not self._send_events(events, state):
                    return


class Gap:
    """What a host dropped for a window that did not read: counts, and the fills' id range."""

    __slots__ = ("first_trade_id", "last_trade_id", "ticks", "trades")

    def __init__(self) -> None:
        self.ticks = self.trades = 0
        self.first_trade_id: int | None = None
        self.last_trade_id: int | None = None

    def __bool__(self) -> bool:
        return bool(self.ticks or self.trades)

    def add_trades(self, trades: list[dict[str, Any]]) -> None:
        if not trades:
            return
        self.trades += len(trades)
        if self.first_trade_id is None:
            self.first_trade_id = trades[0]["id"]
        self.last_trade_id = trades[-1]["id"]

    def data(self) -> dict[str, Any]:
        return {"ticks": self.ticks, "trades": self.trades,
                "first_trade_id": self.first_trade_id, "last_trade_id": self.last_trade_id}

    def log_line(self) -> dict[str, Any]:
        fills = (f"{self.trades:,} fills (ids {self.first_trade_id}-{self.last_trade_id}) are "
                 "not listed here, all are in the journal" if self.trades else "")
        ticks = f"{self.ticks:,} ticks are not on the charts" if self.ticks else ""
        return {"level": "warning", "time": time.time(),
                "message": "the window fell behind the engine: "
                           + "; ".join(part for part in (fills, ticks) if part)}


def _lower_priority(steps: int) -> None:
    if steps > 0 and hasattr(os, "nice"):
        try:
            os.nice(steps)
        except OSError:  # not allowed here: run at the window's priority
            log.warning("could not lower the engine process's priority", exc_info=True)


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an EngineError that says the same."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
        if isinstance(copy, BaseException) and str(copy) == str(exc):
            return exc
    except Exception:
        pass
    return EngineError(f"{type(exc).__name__}: {exc}")


def _log_to(path: str | None) -> None:
    if not path:
        return
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s engine-process %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# --- the window's side ----------------------------------------------------------------------


class HostedEngine:
    """An :class:`Engine` running in a child process; satisfies :class:`TradingEngine`.

    ``status``, ``status_message`` and ``session_id`` are mirrored from every message the host
    sends, so reading them never waits. ``catalog`` is loaded here too, from the same folders,
    for the forms; the host validates every spec against its own copy. The contract's calls
    that are not written out below are forwarded as they are (see the end of this module).
    """

    def __init__(self, strategy_folders: Iterable[str] = (), journal_path: str | None = None,
                 restore: bool = True, log_file: str | None = None,
                 open_timeout: float = OPEN_TIMEOUT,
                 backlog: tuple[int, int] = (BACKLOG_TICKS, BACKLOG_TRADES)) -> None:
        folders = tuple(str(f) for f in strategy_folders)
        self.catalog = load_catalog(folders)  # the same folders as the engine process reads
        self._options = HostOptions(journal_path, restore, folders, log_file,
                                    backlog=backlog)
        self.status = EngineStatus.STOPPED
        self.status_message = ""
        self.session_id: int | None = None
        self._subscribers = Subscribers()
        self._pending: dict[int, Future] = {}
        self._pending_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = False
        self._dead: str | None = None
        self._respawn_lock = threading.Lock()
        self._open_timeout = open_timeout
        self._spawn()
        # before multiprocessing's own exit handler, which would wait for the child forever
        atexit.register(_close_at_exit, weakref.ref(self))

    # process

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._dead is None and self._process.is_alive()

    def _spawn(self) -> None:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=host_main, args=(child, self._options),
                                   name="velocitas-engine")
        process.start()
        child.close()
        try:
            if not parent.poll(self._open_timeout):
                raise EngineError(f"the engine process did not start within "
                                  f"{self._open_timeout:g} s")
            kind, payload = parent.recv()
        except (EOFError, OSError):
            process.join(5)
            raise EngineError(f"the engine process ended while starting (exit code "
                              f"{process.exitcode}); see the log file") from None
        except BaseException:
            process.kill()
            process.join(5)
            parent.close()
            raise
        if kind == "failed":
            process.join(5)
            parent.close()
            raise payload
        self._process, self._conn, self._dead = process, parent, None
        self._apply_state(payload)
        self._reader = threading.Thread(target=self._read, args=(parent, process),
                                        name="velocitas-host-reader", daemon=True)
        self._reader.start()

    def _read(self, conn: Connection, process: Any) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "events":
                self._apply_state(message[2])
                self._deliver(message[1])
            elif kind == "reply":
                _, call_id, ok, payload, state = message
                self._apply_state(state)
                with self._pending_lock:
                    future = self._pending.pop(call_id, None)
                if future is not None:
                    if ok:
                        future.set_result(payload)
                    else:
                        future.set_exception(payload)
        if self._conn is conn and not self._closing:
            process.join(2.0)
            self._ended(f"the engine process ended unexpectedly (exit code "
                        f"{process.exitcode}); the trades so far are saved. Press Start to "
                        "open a new one")

    def _ended(self, message: str) -> None:
        self._dead = message
        self.status, self.status_message = EngineStatus.ERROR, message
        self._fail_pending(EngineError(message))
        self._deliver([(EventKind.ENGINE, {"status": EngineStatus.ERROR, "message": message}),
                       (EventKind.LOG, {"level": "error", "message": message,
                                        "time": time.time()})])

    def _fail_pending(self, exc: BaseException) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(exc)

    def _apply_state(self, state: dict[str, Any]) -> None:
        self.status = state["status"]
        self.status_message = state["status_message"]
        self.session_id = state["session_id"]

    def _deliver(self, events: list[tuple[str, Any]]) -> None:
        deliver = self._subscribers.deliver
        for kind, data in events:
            deliver(Event(EventKind(kind), data))

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``name`` in the engine process: a contract call, or a host operation."""
        if self._dead is not None:
            raise EngineError(self._dead)
        if self._closing:
            raise EngineError("the engine is closed")
        future: Future = Future()
        call_id = next(self._ids)
        with self._pending_lock:
            self._pending[call_id] = future
        try:
            with self._send_lock:
                self._conn.send(("call", call_id, name, args, kwargs))
        except Exception as exc:
            with self._pending_lock:
                self._pending.pop(call_id, None)
            if isinstance(exc, OSError):
                raise EngineError(f"the engine process cannot be reached: {exc}") from None
            raise EngineError(f"{name}() could not be sent to the engine: {exc}") from None
        timeout = _timeout(name)
        try:
            return future.result(timeout)
        except FuturesTimeout:
            with self._pending_lock:
                self._pending.pop(call_id, None)
            raise EngineError(f"the engine did not answer {name}() within {timeout:g} s") \
                from None

    # the contract's calls that need more than forwarding

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, on this object's reader thread."""
        return self._subscribers.add(callback)

    def start(self, config: EngineConfig | None = None) -> None:
        """Begin a session; a host whose process died is replaced first (restoring the last
        session from the journal)."""
        if self._dead is not None:
            with self._respawn_lock:
                if self._dead is not None:
                    self._options = replace(self._options, restore=True)
                    self._spawn()
        self._call("start", config)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session ends; True if it did within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status.busy:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def reload_catalog(self, folders: Iterable[str]) -> Catalog:
        """Read the strategy folders again, here and in the engine process."""
        folders = tuple(str(f) for f in folders)
        self._call("reload_catalog", folders)
        self.catalog = load_catalog(folders)
        self._options = replace(self._options, strategy_folders=folders)
        return self.catalog

    def attach(self, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> AttachedView:
        """Start ``factory(engine, ...)`` in the engine's process (the embedded API server)."""
        view_id, url, token = self._call("attach", factory, args, kwargs)
        return _RemoteView(self, view_id, url, token)

    def close(self) -> None:
        """Stop the session and the attached views, close the journal, end the process."""
        if self._closing:
            return
        if self._dead is None:
            try:
                self._call("shutdown")
            except EngineError:
                log.warning("the engine process did not shut down cleanly", exc_info=True)
        self._closing = True
        try:
            with self._send_lock:
                self._conn.send(("exit",))
        except (OSError, ValueError):
            pass
        self._process.join(CLOSE_TIMEOUT)
        if self._process.is_alive():
            log.error("the engine process did not exit; killing it")
            self._process.kill()
            self._process.join(5)
        self._conn.close()
        self._fail_pending(EngineError("the engine is closed"))


class _RemoteView:
    """A view attached beside a hosted engine (the embedded server), seen from the window."""

    def __init__(self, engine: HostedEngine, view_id: int, url: str, token: str | None) -> None:
        self.engine = engine
        self.view_id = view_id
        self.url = url
        self.token = token

    def stop(self) -> None:
        if self.engine.alive:
            try:
                self.engine._call("detach", self.view_id)
            except EngineError:
                log.warning("the view beside the engine did not stop cleanly", exc_info=True)


def _timeout(name: str) -> float:
    """How long the window waits for ``name``: as the contract or the host operation says."""
    own = getattr(_Host, f"do_{name}", None)
    if own is not None:
        return getattr(own, "__call_timeout__", CALL_TIMEOUT)
    return call_timeout(name) if name in CONTRACT_CALLS else CALL_TIMEOUT


def _forwarder(name: str) -> Callable[..., Any]:
    """A method that runs the contract call ``name`` in the engine process."""
    @functools.wraps(getattr(TradingEngine, name))
    def forward(self: HostedEngine, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    return forward


for _name in sorted(CONTRACT_CALLS - set(vars(HostedEngine))):
    setattr(HostedEngine, _name, _forwarder(_name))


def _close_at_exit(ref: weakref.ref) -> None:
    engine = ref()
    if engine is not None and not engine._closing:
        try:
            engine.close()
        except Exception:
            log.exception("the engine process did not close at exit")
