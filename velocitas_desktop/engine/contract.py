"""The engine contract: what the window, the server and the command line may ask of an engine.

:class:`TradingEngine` names the calls, the readable state and the events of "an engine a view
can drive". The engine in this process (:class:`~velocitas_desktop.engine.engine.Engine`) and
the engine in a child process (:class:`~velocitas_desktop.engine.host.HostedEngine`) both
satisfy it, and every view is typed against it, never against one of them. The hosted engine
forwards the calls named here generically, with the time each may take written on the call
(:func:`takes_up_to`), so a new call is added in one place: here, and in ``Engine``.

The statuses and event kinds are defined here once; modules compare against these members,
never against strings of their own. They are ``StrEnum`` members, so JSON and the journal keep
the plain strings (``"running"``, ``"trades"``...).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from velocitas_desktop.catalog import Catalog
    from velocitas_desktop.core.strategy import StrategySpec
    from velocitas_desktop.engine.config import EngineConfig


class EngineStatus(StrEnum):
    """Where the engine is in its session's life."""

    STOPPED = "stopped"      # no session runs (none yet, or stop() ended it)
    STARTING = "starting"    # start() is opening the feed
    RUNNING = "running"
    # the session runs but makes no fills: its journal cannot be written, or its disk is
    # nearly full (the message says which, and names the file); it resumes by itself
    PAUSED = "paused"
    STOPPING = "stopping"    # stop() is winding the threads down
    FINISHED = "finished"    # the data ran out, or a tick or time limit was reached
    ERROR = "error"          # the session ended on an error (the message says which)

    @property
    def busy(self) -> bool:
        """A session is starting, running (or paused) or stopping: nothing else may start."""
        return self in (EngineStatus.STARTING, EngineStatus.RUNNING, EngineStatus.PAUSED,
                        EngineStatus.STOPPING)

    @property
    def stoppable(self) -> bool:
        """stop() has something to stop."""
        return self in (EngineStatus.STARTING, EngineStatus.RUNNING, EngineStatus.PAUSED)

    @property
    def live(self) -> bool:
        """A session's threads run: prices flow (and fills are made unless paused)."""
        return self in (EngineStatus.RUNNING, EngineStatus.PAUSED)


class JournalState(StrEnum):
    """Whether the journal takes what the session makes (the snapshot's ``journal.state``)."""

    OK = "ok"            # every fill and sample is written before anyone hears of it
    PAUSED = "paused"    # it cannot be written, or its disk is nearly full: no new fills
    FAILED = "failed"    # the session ended with fills or samples it could not take


class StrategyStatus(StrEnum):
    """A registered strategy's state."""

    ACTIVE = "active"    # its signals are filled
    PAUSED = "paused"    # it follows prices, its signals are ignored
    ERROR = "error"      # it raised; it is stopped until its parameters change or it resumes
    REMOVED = "removed"  # only in the event (and API reply) that says it was unregistered


class EventKind(StrEnum):
    """What an :class:`Event` carries (``data``)."""

    TRADES = "trades"        # list of trade dicts, in id order, each already journaled
    METRICS = "metrics"      # {"global": {...}, "strategies": {...}}, about four times a second
    STRATEGY = "strategy"    # {"strategy_id", "status", "error"}: registered, changed, removed
    FEED = "feed"            # {"state", "message"}: the feed's state changed
    ENGINE = "engine"        # {"status", "message"}: the engine's status changed, or trading
                             # paused or resumed (the message says why)
    LOG = "log"              # {"level", "message", "time"}
    TICKS = "ticks"          # {"coins": [...], "batch": TickBatch}: every tick processed
    TREND = "trend"          # {"coin", "timeframe", "time", "previous", "current", "summary"}:
                             # a coin's regime on a timeframe is new or changed (previous is
                             # None the first time); previous/current as TrendReport.regimes()
    ALERT = "alert"          # a copilot alert (docs/copilot.md's Alert JSON), just raised
    ACTION = "action"        # a copilot action (its Action JSON): proposed, or its status changed
    ACKNOWLEDGED = "acknowledged"  # a copilot alert (its Alert JSON) just acknowledged, in
                                   # any view
    RULES = "rules"          # {"rules": [...]}: the copilot's rules changed (made, updated,
                             # enabled or disabled, deleted, imported, the daily-loss guard
                             # set, a rule disabled for its failure), every rule as
                             # copilot_rules() lists them; a firing's counts send none
    GAP = "gap"              # {"ticks", "trades", "first_trade_id", "last_trade_id"}: a view
                             # fell behind and these were dropped, not delivered to it (only
                             # a hosted engine's window; in-process subscribers miss nothing)


# Events of which a view needs only the newest; a batch of events may drop the older ones.
LATEST_ONLY = frozenset({EventKind.METRICS, EventKind.FEED, EventKind.RULES})


@dataclass(frozen=True, slots=True)
class Event:
    """What the engine tells its subscribers (see :class:`EventKind` for ``data``)."""

    kind: EventKind
    data: Any


class Subscribers:
    """The callbacks an engine tells of its events, in the order they subscribed.

    Delivery reads an immutable tuple, so it takes no lock; a callback that raises is logged
    and the others still hear the event: a broken view never stops the engine."""

    def __init__(self) -> None:
        self._callbacks: tuple[Callable[[Event], None], ...] = ()
        self._lock = threading.Lock()

    def add(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Subscribe ``callback``; returns the function that unsubscribes it."""
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def remove() -> None:
            with self._lock:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)

        return remove

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def deliver(self, event: Event) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:
                logging.getLogger(__name__).exception(
                    "subscriber %r failed on a %s event", callback, event.kind)


class AttachedView(Protocol):
    """A view that runs beside the engine, wherever the engine runs (the API server)."""

    @property
    def url(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    def stop(self) -> None: ...


# How long a call may take before a caller across a process boundary gives up, unless the
# call says otherwise with @takes_up_to.
CALL_TIMEOUT = 60.0
_Call = TypeVar("_Call", bound=Callable[..., Any])


def takes_up_to(seconds: float) -> Callable[[_Call], _Call]:
    """Mark a contract call that may legitimately take longer than :data:`CALL_TIMEOUT`."""
    def mark(call: _Call) -> _Call:
        call.__call_timeout__ = seconds  # type: ignore[attr-defined]
        return call

    return mark


def call_timeout(name: str) -> float:
    """Seconds a caller waits for the contract call ``name``."""
    return getattr(getattr(TradingEngine, name), "__call_timeout__", CALL_TIMEOUT)


class TradingEngine(Protocol):
    """An engine a view can drive: the window, the server and the command line use only this.

    Every call may be made from any thread. Calls that change strategies while a session runs
    are applied between batches. Errors are the project's own: ParameterError and
    UnknownStrategyError for a bad spec, NotFoundError for an unknown id, EngineError for a
    call the engine's state does not allow, FeedError for data that cannot be opened.
    """

    # --- readable state (never waits) ---------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The strategies that can be registered, with their declared parameters."""
        ...

    @property
    def status(self) -> EngineStatus: ...

    @property
    def status_message(self) -> str:
        """Why the session ended, when it ended on an error, or why trading is paused; else
        empty."""
        ...

    @property
    def session_id(self) -> int | None:
        """The journal's id of the current (or restored) session."""
        ...

    # --- events ---------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, on an engine thread (keep it quick);
        returns the function that unsubscribes."""
        ...

    # --- strategies -------------------------------------------------------------------------

    def register(self, spec: StrategySpec) -> StrategySpec:
        """Add a strategy (validated against the catalogue); it trades at once if running."""
        ...

    def unregister(self, strategy_id: str) -> None: ...

    def pause(self, strategy_id: str) -> None:
        """Stop acting on the strategy's signals; it keeps following prices."""
        ...

    def resume(self, strategy_id: str) -> None: ...

    def update_params(self, strategy_id: str, params: dict[str, Any],
                      timeframe: str | None = None) -> StrategySpec:
        """New parameter values merged over the current ones, and a new timeframe if given;
        the strategy is re-created and warmed up from recent prices, keeping its position."""
        ...

    def pause_all(self) -> list[str]:
        """Stop all trading at once: pause every active strategy (positions stay open);
        returns the ids paused."""
        ...

    def strategies(self) -> list[dict[str, Any]]:
        """Every registered strategy: its spec, ``status`` and ``error``, in order."""
        ...

    def strategy(self, strategy_id: str) -> dict[str, Any]: ...

    def reload_catalog(self, folders: Iterable[str]) -> Catalog:
        """Read the built-in and user strategy folders again (only while stopped)."""
        ...

    # --- positions and the account ------------------------------------------------------

    def close_position(self, strategy_id: str) -> dict[str, Any]:
        """Close the strategy's position at its last price with a recorded fill; returns it
        (EngineError when it holds none)."""
        ...

    def flatten_all(self) -> list[dict[str, Any]]:
        """Close every open position at its last price, each with a recorded fill."""
        ...

    def account(self) -> dict[str, Any]:
        """Starting capital, cash, equity, account value, return, and the open positions."""
        ...

    # --- sessions --------------------------------------------------------------------------

    @takes_up_to(600.0)  # large CSV files are read and checked before the session starts
    def start(self, config: EngineConfig | None = None) -> None:
        """Run a session on ``config``'s feed: the last one goes on, or a new one begins
        (``config.session``, ``config.positions``); the feed is opened and checked first."""
        ...

    def session_settings(self) -> dict[str, Any] | None:
        """The current (or restored) session's settings as started; None before any."""
        ...

    def stop(self, timeout: float = 2.0) -> None:
        """End the session; returns within about ``timeout`` with no thread or process left."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session ends; True if it did within ``timeout``."""
        ...

    def resume_trading(self) -> None:
        """Trading paused because of the journal (status ``paused``): try it again now, and
        resume if it can be written (and its disk has room). EngineError saying why not;
        nothing to do if trading is not paused. Trading also resumes by itself."""
        ...

    def state(self) -> dict[str, Any]:
        """The engine's status with its session's settings and progress (GET /api/engine/status)."""
        ...

    # --- reading ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """``{"global": {...}, "strategies": {...}}`` in the seed's shapes."""
        ...

    def metrics(self, strategy_id: str) -> dict[str, Any]: ...

    def trades(self, strategy_id: str | None = None, coin: str | None = None,
               since: float | None = None, until: float | None = None,
               after_id: int | None = None, limit: int = 100, offset: int = 0,
               newest_first: bool = False) -> list[dict[str, Any]]:
        """Trades of the current (or restored) session, oldest first unless asked otherwise."""
        ...

    def pnl_history(self, strategy_id: str | None = None,
                    limit: int = 10_000) -> list[dict[str, Any]]:
        """Sampled P&L and position per strategy, oldest first."""
        ...

    def candles(self, coin: str, limit: int = 10_080) -> dict[str, Any]:
        """The current (or last) session's candles of ``coin``, oldest first, for a view that
        opens mid-session: ``{"coin", "interval"`` (seconds per bar), ``"volume_unit"``
        (``"ticks"``: prices counted, or ``"coin"``: a replayed file's volume), ``"time"``
        (each bar's open, epoch seconds), ``"open", "high", "low", "close", "volume"}`` as
        lists. One-minute candles of every price since the session began, after the feed's own
        history (Binance's warm-up klines, counted in trades); a replayed file's own bars when
        they are longer. The newest ``limit`` (at most a week of minutes); empty lists when no
        session ran here or the coin had no price."""
        ...

    def trend(self, coin: str, candles: int = 0) -> dict[str, Any]:
        """The latest live trend report of ``coin`` (the report JSON of docs/trend.md, source
        ``"live"``), made from the current (or last) session's closed candles on 1m, 15m, 1h
        and 4h of one-minute candles (a replayed file's longer bars: the analyzer's default
        timeframes); a timeframe with too few bars yet is ``ok`` false with a message.
        ``candles`` adds each timeframe's newest bars. Re-made off the engine's hot path as
        bars close, at most about once a second per coin; each change of regime is a TREND
        event. NotFoundError when no session ran here, or the coin is not in it or has no
        closed bar yet."""
        ...

    # --- the copilot (docs/copilot.md: rules, alerts, actions; copilot/service.py) -----------
    # Errors: RuleError for a bad rule or argument, NotFoundError for an unknown id,
    # EngineError for what the state does not allow (a taken id, a decided action).

    def copilot_conditions(self) -> list[dict[str, Any]]:
        """Every condition type with its group, doc, scopes and parameters (for forms)."""
        ...

    def copilot_rules(self) -> list[dict[str, Any]]:
        """Every rule (the Rule JSON), in the order they were created."""
        ...

    def copilot_rule(self, rule_id: str) -> dict[str, Any]: ...

    def save_copilot_rule(self, rule: dict[str, Any], replace: bool = False) -> dict[str, Any]:
        """Create a rule, or with ``replace`` update the rule of its id; returns it saved."""
        ...

    def delete_copilot_rule(self, rule_id: str) -> None: ...

    def enable_copilot_rule(self, rule_id: str, enabled: bool) -> dict[str, Any]:
        """Enable (clearing why it was disabled) or disable a rule."""
        ...

    def import_copilot_rules(self, rules: list[dict[str, Any]],
                             replace: bool = False) -> list[dict[str, Any]]:
        """Save the rules (all or nothing); ``replace`` deletes the rules not given."""
        ...

    def copilot_alerts(self, after_id: int | None = None, before_id: int | None = None,
                       limit: int = 100, severity: str | None = None) -> list[dict[str, Any]]:
        """Alerts newest first; ``after_id`` / ``before_id`` page through them."""
        ...

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any]: ...

    def copilot_actions(self, status: str | None = None,
                        limit: int = 100) -> list[dict[str, Any]]:
        """Actions newest first, of one status if given (pending, executed...)."""
        ...

    def decide_action(self, action_id: int, confirm: bool, who: str) -> dict[str, Any]:
        """Confirm (execute) or reject a pending action; ``who``: window, browser, api or
        cli. Returns the action as decided, with what executing it did."""
        ...

    def copilot_settings(self) -> dict[str, Any]:
        """daily_loss (the built-in guard), webhooks, heartbeat and throttle."""
        ...

    def update_copilot_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Change the parts of the settings given; returns them all."""
        ...

    def copilot_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The webhook deliveries newest first, with their status."""
        ...

    def copilot_test_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        """POST one test message to ``webhook`` (a settings webhook, saved or not) in its
        format, with the deliveries' timeouts (up to about 8 s for a dead one): {delivered,
        error, url, format, elapsed_ms}. RuleError for settings that cannot be used."""
        ...

    # --- views beside the engine, and the end ------------------------------------------------

    def attach(self, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> AttachedView:
        """Start ``factory(engine, *args, **kwargs)`` (a view with start/stop, such as the API
        server) where the engine runs, so it serves the engine without crossing a process;
        ``factory`` must be a module-level callable. Stopped by its ``stop()`` or by close()."""
        ...

    def close(self) -> None:
        """Stop the session and every attached view, and close the journal."""
        ...


def contract_calls() -> tuple[str, ...]:
    """The names of the contract's calls (methods, not readable state)."""
    return tuple(name for name, member in vars(TradingEngine).items()
                 if callable(member) and not name.startswith("_"))
