"""The one bridge between the engine's threads and the Qt thread.

Engine callbacks only append to buffers under a lock (microseconds, never blocking). A timer
on the Qt thread drains the buffers about 30 times a second and emits one coalesced signal
per kind, so the window redraws at most ~30 times a second however fast ticks arrive.

Fills and figures show one moment: a metrics snapshot names the newest fill it counts
(``last_trade_id``), and the bridge hands the window the fills up to that one together with
the snapshot, never a fill the figures do not count yet. So the KPIs and the blotter agree in
every frame (they differed by 21 in a run of 613 fills when each went its own way).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from velocitas_desktop.core.candles import Pieces
from velocitas_desktop.engine.contract import Event, EventKind, TradingEngine
from velocitas_desktop.feeds.base import BarBatch

FRAME_MS = 33  # ~30 redraws a second
MAX_LOG_LINES = 500  # per frame; a flood of log lines is cut, not queued forever
# Copilot alerts and decisions per frame; past it they miss the live list, not the journal
# (History reads them), and a runaway rule is throttled long before (15 alerts in 3 minutes)
MAX_ALERTS = 1_000
# Fills handed to the window per frame. Beyond it they wait for the next frames, so a burst
# of fills costs a few more frames instead of one long one (they are in the journal already).
MAX_TRADES_PER_FRAME = 20_000
# What waits for a Qt thread that does not drain (a modal stall, a debugger) before the oldest
# is dropped and counted: fills as dicts, ticks as arrays (24 bytes each). A hosted engine
# bounds what waits for this process the same way and says so with a GAP event.
BACKLOG_TRADES = 200_000
BACKLOG_TICKS = 4_000_000
# A snapshot whose fills have not come after this long is shown anyway: a view that froze on
# a lost event would be worse than a count briefly ahead of the blotter.
MAX_METRICS_WAIT = 1.0


class EngineBridge(QObject):
    """Turns engine events into Qt signals on the Qt thread, coalesced per frame.

    Signals: ``trades(list[dict])`` new fills in id order; ``metrics(dict)`` the latest
    snapshot; ``ticks(dict[coin, (prices, stamps)])`` every tick since the last frame, per
    coin; ``bars(dict[coin, (Pieces, seconds)])`` the replayed file's bars those ticks close
    (a csv replay only; emitted before the ticks); ``strategies()`` the strategy list changed;
    ``feed(dict)`` / ``engine(dict)`` the latest state; ``log(list[dict])`` new log lines;
    ``missed(int)`` fills the window will never get (dropped while it did not read: they are
    in the journal), emitted before the fills that came after them; ``alerts(list[dict])``
    the copilot's new alerts and ``actions(list[dict])`` its new or changed decisions, in
    the order they came.
    """

    trades = Signal(object)
    metrics = Signal(object)
    ticks = Signal(object)
    bars = Signal(object)
    strategies = Signal()
    feed = Signal(object)
    engine_status = Signal(object)
    log = Signal(object)
    missed = Signal(int)
    alerts = Signal(object)
    actions = Signal(object)
    rules = Signal(object)   # the copilot's rules, each time they change (the newest list)
    acknowledged = Signal(object)  # alerts acknowledged (here or in another view)

    def __init__(self, engine: TradingEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._lock = threading.Lock()
        self._reset_buffers()
        self._trades: list[dict[str, Any]] = []
        self._metrics: dict[str, Any] | None = None
        self._metrics_since = 0.0
        self._counted = math.inf  # fills up to this id may be shown (inf: no snapshot says)
        self._shown = 0           # the newest fill handed to the window
        self._missed = 0          # fills dropped since the last frame (see BACKLOG_TRADES)
        self.frames = 0
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.drain)
        self._unsubscribe = engine.subscribe(self._on_event)
        self.timer.start()

    def _reset_buffers(self) -> None:
        """The buffers emptied every frame (fills and metrics wait for each other)."""
        self._ticks: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
        self._held_ticks = 0
        self._bars: list[dict[str, tuple[Pieces, float]]] = []
        self._feed: dict[str, Any] | None = None
        self._engine: list[dict[str, Any]] = []
        self._strategies_dirty = False
        self._logs: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []
        self._actions: list[dict[str, Any]] = []
        self._rules: list[dict[str, Any]] | None = None
        self._acknowledged: list[dict[str, Any]] = []

    # --- engine threads: append and return ----------------------------------------------

    def _on_event(self, event: Event) -> None:
        kind, data = event.kind, event.data
        with self._lock:
            if kind == EventKind.TICKS:
                # split by coin here, on the engine's (or the host reader's) thread: the Qt
                # thread only joins the pieces once a frame
                self._ticks.append(_split_by_coin(data["coins"], data["batch"]))
                if data["batch"].bars is not None:
                    self._bars.append(_bars_by_coin(data["coins"], data["batch"].bars))
                self._held_ticks += len(data["batch"])
                if self._held_ticks > BACKLOG_TICKS:
                    self._drop_ticks()
            elif kind == EventKind.TRADES:
                self._trades.extend(data)
                if len(self._trades) > BACKLOG_TRADES:
                    dropped = len(self._trades) - BACKLOG_TRADES // 2
                    self._shown = max(self._shown, self._trades[dropped - 1]["id"])
                    del self._trades[:dropped]
                    self._missed += dropped
            elif kind == EventKind.GAP:
                self._missed += data["trades"]
                if data["last_trade_id"] is not None:
                    self._shown = max(self._shown, data["last_trade_id"])
            elif kind == EventKind.METRICS:
                if self._metrics is None:
                    self._metrics_since = time.monotonic()
                self._metrics = data
                self._counted = _counted(data)
            elif kind == EventKind.STRATEGY:
                self._strategies_dirty = True
            elif kind == EventKind.FEED:
                self._feed = data
            elif kind == EventKind.ENGINE:
                self._engine.append(data)
            elif kind == EventKind.LOG and len(self._logs) < MAX_LOG_LINES:
                self._logs.append(data)
            elif kind == EventKind.ALERT and len(self._alerts) < MAX_ALERTS:
                self._alerts.append(data)
            elif kind == EventKind.ACTION and len(self._actions) < MAX_ALERTS:
                self._actions.append(data)
            elif kind == EventKind.RULES:
                self._rules = data["rules"]  # the newest list says it all
            elif kind == EventKind.ACKNOWLEDGED and len(self._acknowledged) < MAX_ALERTS:
                self._acknowledged.append(data)

    def _drop_ticks(self) -> None:
        """The Qt thread is not draining: keep the newest half of BACKLOG_TICKS (the lock is
        held). The charts miss the rest; a log line says so."""
        held, kept = 0, 0
        for kept in range(len(self._ticks) - 1, -1, -1):
            held += sum(p.shape[0] for p, _ in self._ticks[kept].values())
            if held > BACKLOG_TICKS // 2:
                break
        dropped = self._held_ticks - held
        del self._ticks[:kept]
        self._held_ticks = held
        self._logs.append({"level": "warning", "time": time.time(),
                           "message": f"the window fell behind the engine: {dropped:,} ticks "
                                      "are not on the charts"})

    # --- Qt thread: drain once a frame --------------------------------------------------

    def drain(self) -> None:
        with self._lock:
            ticks, bars, feed, engine, dirty, logs = (self._ticks, self._bars, self._feed,
                                                      self._engine, self._strategies_dirty,
                                                      self._logs)
            alerts, actions, rules = self._alerts, self._actions, self._rules
            acknowledged = self._acknowledged
            self._reset_buffers()
            trades = self._take_counted_trades()
            metrics = self._take_metrics()
            missed, self._missed = self._missed, 0
        self.frames += 1
        if missed:
            self.missed.emit(missed)
        if bars:  # first: a chart that gets a file's bars builds no candles from its prices
            self.bars.emit(_bars_per_coin(bars))
        if ticks:
            self.ticks.emit(_ticks_per_coin(ticks))
        if trades:
            self.trades.emit(trades)
        if dirty:
            self.strategies.emit()
        if metrics is not None:
            self.metrics.emit(metrics)
        if feed is not None:
            self.feed.emit(feed)
        for status in engine:
            self.engine_status.emit(status)
        if logs:
            self.log.emit(logs)
        if actions:  # first: an alert's row names its action's state
            self.actions.emit(actions)
        if alerts:
            self.alerts.emit(alerts)
        if rules is not None:
            self.rules.emit(rules)
        if acknowledged:
            self.acknowledged.emit(acknowledged)

    def _take_counted_trades(self) -> list[dict[str, Any]]:
        """The buffered fills the newest snapshot counts, oldest first, up to a frame's
        worth (the lock is held)."""
        buffered, counted = self._trades, self._counted
        end = min(len(buffered), MAX_TRADES_PER_FRAME)
        while end and buffered[end - 1]["id"] > counted:  # fills arrive in id order
            end -= 1
        trades, self._trades = buffered[:end], buffered[end:]
        if trades:
            self._shown = max(self._shown, trades[-1]["id"])
        return trades

    def _take_metrics(self) -> dict[str, Any] | None:
        """The newest snapshot once every fill it counts has been handed out (the lock is
        held); after MAX_METRICS_WAIT, whatever has come."""
        metrics = self._metrics
        if metrics is None:
            return None
        newest = metrics.get("global", {}).get("last_trade_id")
        waited = time.monotonic() - self._metrics_since
        if newest is not None and newest > self._shown and waited < MAX_METRICS_WAIT:
            return None
        self._metrics = None
        return metrics

    def close(self) -> None:
        self.timer.stop()
        self._unsubscribe()


def _counted(snapshot: dict[str, Any]) -> float:
    """The newest fill id the window may show once ``snapshot`` arrives: the one it counts;
    none before its session's first fill; any, for an engine that does not say."""
    figures = snapshot.get("global", {})
    if "last_trade_id" not in figures:
        return math.inf
    newest = figures["last_trade_id"]
    return -1 if newest is None else newest


def _split_by_coin(coins: list[str], batch: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One batch's ticks by coin: ``{coin: (prices, timestamps)}``."""
    if len(coins) == 1:
        return {coins[0]: (batch.prices, batch.timestamps)}
    ids = batch.coin_ids
    parts = {}
    for index, coin in enumerate(coins):
        where = ids == index
        parts[coin] = (batch.prices[where], batch.timestamps[where])
    return parts


def _ticks_per_coin(items: list[dict[str, tuple[np.ndarray, np.ndarray]]]
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The buffered batches joined per coin: ``{coin: (prices, timestamps)}`` in time order."""
    if len(items) == 1:
        return items[0]
    parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for item in items:
        for coin, (p, t) in item.items():
            prices, stamps = parts.setdefault(coin, ([], []))
            prices.append(p)
            stamps.append(t)
    return {coin: (np.concatenate(p), np.concatenate(s)) for coin, (p, s) in parts.items()}


def _bars_by_coin(coins: list[str], bars: BarBatch) -> dict[str, tuple[Pieces, float]]:
    """One batch's bars by coin: ``{coin: (bars, their length in seconds)}``."""
    parts = {}
    for index, coin in enumerate(coins):
        mine = bars.of_coin(index)
        if mine is not None:
            parts[coin] = mine
    return parts


def _bars_per_coin(items: list[dict[str, tuple[Pieces, float]]]
                   ) -> dict[str, tuple[Pieces, float]]:
    """The buffered bars joined per coin, in time order."""
    if len(items) == 1:
        return items[0]
    parts: dict[str, list[tuple[Pieces, float]]] = {}
    for item in items:
        for coin, piece in item.items():
            parts.setdefault(coin, []).append(piece)
    return {coin: (Pieces(*(np.concatenate([getattr(p, name) for p, _ in pieces])
                            for name in ("start", "open", "high", "low", "close", "volume"))),
                   pieces[-1][1])
            for coin, pieces in parts.items()}
