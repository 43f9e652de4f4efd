"""Test rules on history: replay a bar file through the Evaluator, list the firings, and show
what a rule's action would have changed on a backtest of a strategy.

The replay is the monitor's own evaluation: each bar's close is a price at the bar's close
time, the indicator conditions read the bars combined to their timeframes, and, with a
strategy, its backtest's trades and figures at every bar feed the strategy-health and
daily-loss conditions as the engine's events would. An action's effect is the strategy
backtested again with the action applied at its rule's firing: pause_strategy, pause_all and
stop_engine stop new fills from that bar on (the open position stays open, as the engine's
pause leaves it, unless the pause says close_positions: then it is closed at the firing bar's
close, its fee charged); close_position closes the position at the firing bar's close (the
strategy trades on); set_quantity sizes the fills after the firing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from velocitas_desktop.copilot.conditions import ALL, EVENTS, STRATEGY
from velocitas_desktop.copilot.evaluator import Evaluator, Trigger
from velocitas_desktop.copilot.rules import Rule, RuleError, Scope
from velocitas_desktop.core import metrics
from velocitas_desktop.core.ledger import DEFAULT_FEE
from velocitas_desktop.core.types import TIMEFRAMES, Action, Signal
from velocitas_desktop.research.backtest import (
    DEFAULT_CASH,
    BarSeries,
    Costs,
    _equity_curve,
    decide,
    ledger_fills,
    resolve_strategy,
)
from velocitas_desktop.research.trend import Bars

CHUNK = 2_000  # bars per step of the replay: a progress report each
# conditions a bar file cannot show: they read the live engine's events
_LIVE_ONLY = {"trend_change": "it reads the live trend's events",
              "feed_stalled": "a bar file has no feed", "feed_reconnecting": "a bar file has no feed",
              "journal_paused": "a bar file has no journal",
              "worker_died": "a bar file has no workers"}
_STOPPING = ("pause_strategy", "pause_all", "stop_engine")


@dataclass(frozen=True, slots=True)
class _Run:
    """A strategy's backtest on the bars: its signals, and what it made of them."""

    strategy_id: str
    name: str
    signals: list[tuple[int, Signal]]
    fills: Any
    equity: np.ndarray  # the P&L at each bar close (capital excluded)


def test_rules(bars: Any, rules: Sequence[Rule | Mapping[str, Any]], *,
               strategy: str | type | None = None, params: Mapping[str, Any] | None = None,
               coin: str = "BTC", fee: float = DEFAULT_FEE, cash: float = DEFAULT_CASH,
               throttle: tuple[int, float] = (15, 180.0), catalog: Any = None,
               on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """When each rule would have fired on ``bars`` (a bar file's path, :class:`Bars` or a
    :class:`BarSeries`) and, with a ``strategy``, what each action would have changed.

    Returns ``{"bars", "interval", "start", "end", "coin", "strategy", "firings": [{"rule_id",
    "time", "price", "value", "message", "action", "throttled"}], "counts": {rule_id: n},
    "effects": [...], "skipped": [{"rule_id", "reason"}]}``. RuleError for a bad rule or one
    the bars cannot serve; ParameterError / UnknownStrategyError for the strategy."""
    rules = [rule if isinstance(rule, Rule) else Rule.from_json(rule) for rule in rules]
    time, open_, high, low, close, interval = _columns(bars)
    series = BarSeries.from_arrays(close, time + interval, interval)
    run = _backtest(strategy, params, series, coin, fee, cash, catalog) if strategy else None
    watched, skipped = _watchable(rules, interval, run is not None)
    evaluator = Evaluator(watched, throttle)
    total = time.shape[0]
    figures = _figures(run, series, cash) if run is not None and any(
        r.condition.kind.feeds == EVENTS for r in watched) else None
    triggers: list[Trigger] = []
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        triggers += evaluator.on_bars(coin, time[start:stop], open_[start:stop],
                                      high[start:stop], low[start:stop], close[start:stop],
                                      interval)
        if figures is not None:
            triggers += _strategy_events(evaluator, figures, run, series, start, stop)
        if on_progress is not None:
            on_progress(stop, total)
    for rule_id, reason in evaluator.failures():
        skipped.append({"rule_id": rule_id, "reason": f"stopped: {reason}"})
    triggers.sort(key=lambda t: t.time)
    firings = [_firing(t) for t in triggers]
    counts = {rule.id: 0 for rule in rules}
    for t in triggers:
        if not t.throttled:
            counts[t.rule.id] += 1
    effects = _effects(run, triggers, series, cash, fee, coin) if run is not None else []
    return {"bars": total, "interval": interval, "start": float(time[0]),
            "end": float(time[-1] + interval), "coin": coin,
            "strategy": None if run is None else run.strategy_id,
            "firings": firings, "counts": counts, "effects": effects, "skipped": skipped}


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever its name


def _columns(bars: Any) -> tuple[np.ndarray, ...]:
    """time (bar opens), open, high, low, close and the interval of ``bars``."""
    if isinstance(bars, str | os.PathLike):
        from velocitas_desktop.research.trend import load_bars

        bars = load_bars(bars)
    if isinstance(bars, Bars):
        return bars.time, bars.open, bars.high, bars.low, bars.close, float(bars.interval)
    if isinstance(bars, BarSeries):
        time = bars.stamps - bars.interval  # a series holds closes at close times
        return time, bars.prices, bars.prices, bars.prices, bars.prices, float(bars.interval)
    raise TypeError(f"bars must be a bar file, Bars or a BarSeries (got {type(bars).__name__})")


def _watchable(rules: list[Rule], interval: float, strategy: bool
               ) -> tuple[list[Rule], list[dict[str, str]]]:
    """The rules the replay evaluates (strategy scopes read as the tested strategy) and
    those it cannot, with why. RuleError for a rule on bars finer than the file's."""
    watched, skipped = [], []
    for rule in rules:
        kind = rule.condition.kind
        timeframe = kind.bar_timeframe(rule.condition.params)
        if timeframe and TIMEFRAMES[timeframe] < interval:
            raise RuleError(f"rule {rule.id!r}: its {rule.condition.type} reads {timeframe} "
                            f"bars, finer than the file's {_label(interval)} bars; choose "
                            f"{_label(interval)} or longer, or a finer file")
        if rule.condition.type in _LIVE_ONLY:
            skipped.append({"rule_id": rule.id, "reason": f"not replayed: "
                                                          f"{_LIVE_ONLY[rule.condition.type]}"})
        elif STRATEGY in kind.scopes and not strategy:
            skipped.append({"rule_id": rule.id, "reason": "not replayed: it watches a "
                                                          "strategy; choose one to test it on"})
        elif rule.condition.type == "daily_loss" and not strategy:
            skipped.append({"rule_id": rule.id, "reason": "not replayed: the daily loss is a "
                                                          "strategy's; choose one to test it on"})
        else:
            if rule.scope.kind == STRATEGY:
                rule = rule.with_(scope=Scope(ALL))
            watched.append(rule.with_(enabled=True))
    return watched, skipped


def _label(seconds: float) -> str:
    return next((name for name, length in TIMEFRAMES.items() if length == seconds),
                f"{seconds:g} s")


def _backtest(strategy: str | type, params: Mapping[str, Any] | None, series: BarSeries,
              coin: str, fee: float, cash: float, catalog: Any) -> _Run:
    cls = resolve_strategy(strategy, catalog)
    instance = cls(coin=coin, **dict(params or {}))
    signals = decide(instance, series.prices, series.stamps)
    strategy_id = f"{coin}_{cls.name}"
    fills = ledger_fills(signals, series, Costs(fee, 0.0, cash), strategy_id, coin, cls.name)
    equity, _ = _equity_curve(series.prices, cash, fills)
    return _Run(strategy_id, cls.name, signals, fills, equity - cash)


@dataclass(frozen=True, slots=True)
class _Figures:
    """A backtest's figures at each bar close, as the engine's METRICS would show them."""

    pnl: np.ndarray
    max_drawdown: np.ndarray
    max_drawdown_pct: np.ndarray
    trades_before: np.ndarray  # fills up to and including each bar
    cash: float


def _figures(run: _Run, series: BarSeries, cash: float) -> _Figures:
    account = cash + run.equity
    peaks = np.maximum.accumulate(np.concatenate(([cash], account)))[1:]
    falls = peaks - account
    fill_bars = run.fills.bars
    counts = np.searchsorted(fill_bars, np.arange(len(series)), side="right")
    return _Figures(run.equity, np.maximum.accumulate(falls),
                    np.maximum.accumulate(falls / peaks * 100.0), counts, cash)


def _strategy_events(evaluator: Evaluator, figures: _Figures, run: _Run, series: BarSeries,
                     start: int, stop: int) -> list[Trigger]:
    """Feed bars ``start:stop`` of the backtest as the engine's TRADES and METRICS events."""
    out: list[Trigger] = []
    trades = run.fills.trades
    fill_bars = run.fills.bars
    first = int(np.searchsorted(fill_bars, start))
    for i in range(start, stop):  # one snapshot per bar: bars, not ticks
        moment = float(series.stamps[i])
        done = first
        while done < fill_bars.shape[0] and fill_bars[done] == i:
            done += 1
        if done > first:
            out += evaluator.on_event("trades", [t.to_dict() for t in trades[first:done]],
                                      moment)
            first = done
        pnl = float(figures.pnl[i])
        metrics = {"coin": trades[0].coin if trades else None, "status": "active",
                   "equity": pnl, "max_drawdown": float(figures.max_drawdown[i]),
                   "max_drawdown_pct": float(figures.max_drawdown_pct[i]),
                   "total_trades": int(figures.trades_before[i]),
                   "last_price": float(series.prices[i])}
        snapshot = {"global": {"account_value": figures.cash + pnl},
                    "strategies": {run.strategy_id: metrics}}
        out += evaluator.on_metrics(snapshot, moment)
    return out


def _firing(trigger: Trigger) -> dict[str, Any]:
    action = trigger.rule.action
    return {"rule_id": trigger.rule.id, "time": trigger.time, "price": trigger.price,
            "value": trigger.value, "message": trigger.message,
            "action": None if action is None else action.to_json(),
            "throttled": trigger.throttled}


# --- what an action would have changed -------------------------------------------------------

def _effects(run: _Run, triggers: list[Trigger], series: BarSeries, cash: float, fee: float,
             coin: str) -> list[dict[str, Any]]:
    """For each rule with an action on the strategy: its backtest without and with the
    action applied at the rule's firings (the first, for the actions that stop trading)."""
    without = _summary(run.fills, run.equity, cash)
    by_rule: dict[str, list[Trigger]] = {}
    for trigger in triggers:
        action = trigger.rule.action
        if action is not None and not trigger.throttled and action.type in (
                *_STOPPING, "close_position", "set_quantity"):
            by_rule.setdefault(trigger.rule.id, []).append(trigger)
    effects = []
    stamps = series.stamps
    for rule_id, fired in by_rule.items():
        action = fired[0].rule.action
        assert action is not None
        bars = [int(np.searchsorted(stamps, t.time)) for t in fired]
        bars = [min(b, len(series) - 1) for b in bars]
        signals = _with_action(run.signals, action.type, action.params, bars)
        fills = ledger_fills(signals, series, Costs(fee, 0.0, cash), run.strategy_id, coin,
                             run.name)
        equity, _ = _equity_curve(series.prices, cash, fills)
        applied = _summary(fills, equity - cash, cash)
        effects.append({
            "rule_id": rule_id, "action": action.to_json(), "strategy": run.strategy_id,
            "applied_at": [float(stamps[b]) for b in bars[:1 if action.type in _STOPPING
                                                          else None]],
            "without": without, "with": applied,
            "drawdown_saved_pct": without["max_drawdown_pct"] - applied["max_drawdown_pct"],
            "return_change_pct": applied["return_pct"] - without["return_pct"]})
    return effects


def _with_action(signals: list[tuple[int, Signal]], action: str, params: Mapping[str, Any],
                 bars: list[int]) -> list[tuple[int, Signal]]:
    """The strategy's signals as the engine would have filled them with the action taken at
    ``bars`` (each firing's bar; the action runs after that bar's fills)."""
    if action in _STOPPING:
        kept = [(i, s) for i, s in signals if i <= bars[0]]
        if params.get("close_positions"):  # after the strategy's own fills of that bar
            kept.append((bars[0], Signal(Action.SELL)))
        return kept
    if action == "close_position":
        closes = [(b, Signal(Action.SELL)) for b in sorted(set(bars))]
        # each close after the strategy's own fills of its bar
        return sorted([*signals, *closes], key=lambda item: item[0])
    quantity = float(params["quantity"])  # set_quantity
    first = bars[0]
    return [(i, Signal(s.action, quantity) if i > first and s.action is Action.BUY else s)
            for i, s in signals]


def _summary(fills: Any, pnl: np.ndarray, cash: float) -> dict[str, Any]:
    account = np.concatenate(([cash], cash + pnl))
    final = float(account[-1])
    return {"return_pct": (final - cash) / cash * 100.0,
            "max_drawdown_pct": metrics.max_drawdown_pct(account),
            "max_drawdown": metrics.max_drawdown(account),
            "trades": fills.count,
            "open_position": fills.position if math.isfinite(fills.position) else None}
