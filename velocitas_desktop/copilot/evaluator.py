"""The Evaluator: every enabled rule's state, fed the engine's prices, bars and events, and the
triggers it raises (frequency, cooldown, expiry and the runaway throttle applied). The
condition types it runs are declared in copilot/conditions.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from velocitas_desktop.copilot.conditions import (
    ALL,
    BARS,
    COIN,
    ENGINE_SCOPES,
    EVENTS,
    EVERY_TIME,
    ONCE,
    ONCE_PER_BAR,
    ONCE_PER_BAR_CLOSE,
    PRICES,
    Closed,
    Condition,
    Facts,
    Hits,
    PriceRun,
    _number,
)
from velocitas_desktop.copilot.templates import render
from velocitas_desktop.core.candles import Pieces, combine, combine_ticks
from velocitas_desktop.core.types import TIMEFRAMES

# --- bars built from the prices -------------------------------------------------------------

class _BarTrack:
    """One coin's bars of one timeframe, from ticks or from a file's finer bars: what a batch
    closed, and the bar still forming."""

    __slots__ = ("forming", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.forming: tuple[float, float, float, float, float] | None = None  # start, OHLC

    def add_ticks(self, prices: np.ndarray, stamps: np.ndarray) -> Closed:
        start = self.forming[0] if self.forming is not None else -math.inf
        pieces = combine_ticks(prices, stamps, self.seconds, start)
        first = np.zeros(len(pieces), dtype=np.int64)
        first[1:] = np.cumsum(pieces.volume[:-1]).astype(np.int64)  # volume = tick count
        return self._close(pieces, first, np.zeros(len(pieces), dtype=bool))

    def add_bars(self, time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                 close: np.ndarray, interval: float) -> Closed:
        """A file's bars (each ``interval`` long, ``interval`` at most this timeframe): a bar
        of this timeframe closes with the file's bar that ends where it ends."""
        start = self.forming[0] if self.forming is not None else -math.inf
        pieces = combine(Pieces(time, open_, high, low, close, np.ones(time.shape[0])),
                         self.seconds, start)
        buckets = np.maximum.accumulate(np.maximum(
            np.floor(time / self.seconds) * self.seconds, start))
        change = np.flatnonzero(np.append(True, buckets[1:] != buckets[:-1]))
        last = np.append(change[1:], time.shape[0]) - 1
        complete = time[last] + interval >= pieces.start + self.seconds - 1e-9
        return self._close(pieces, change, complete, last)

    def _close(self, pieces: Pieces, first: np.ndarray, complete: np.ndarray,
               last: np.ndarray | None = None) -> Closed:
        """Bars closed: each piece followed by another (revealed by that one's first
        position) or complete by itself (revealed by its ``last`` position)."""
        starts, opens = pieces.start.copy(), pieces.open.copy()
        highs, lows, closes = pieces.high.copy(), pieces.low.copy(), pieces.close.copy()
        extra = None
        forming = self.forming
        if forming is not None:
            if starts[0] == forming[0]:
                opens[0] = forming[1]
                highs[0] = max(highs[0], forming[2])
                lows[0] = min(lows[0], forming[3])
            else:
                extra = forming  # closed by the batch's first position
        count = starts.shape[0]
        reveal = np.empty(count, dtype=np.int64)
        reveal[:-1] = first[1:]
        closing = np.ones(count, dtype=bool)
        closing[-1] = False
        if last is not None:
            reveal[complete] = last[complete]
            closing |= complete
        keep = np.flatnonzero(closing)
        tail = count - 1
        self.forming = None if closing[tail] else (
            float(starts[tail]), float(opens[tail]), float(highs[tail]), float(lows[tail]),
            float(closes[tail]))
        columns = [starts[keep], opens[keep], highs[keep], lows[keep], closes[keep],
                   reveal[keep]]
        if extra is not None:
            front = (*extra, 0.0)
            columns = [np.concatenate(([value], column)) for value, column in
                       zip(front, columns, strict=True)]
            columns[5] = columns[5].astype(np.int64)
        return Closed(*columns)


# --- the evaluator --------------------------------------------------------------------------

class Rule(Protocol):
    """What the evaluator reads of a rule: :class:`copilot.rules.Rule` (which imports this
    module, so the evaluator names the shape rather than the class)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def expires(self) -> float | None: ...
    @property
    def condition(self) -> Any: ...  # .type, .params, .kind
    @property
    def scope(self) -> Any: ...  # .kind, .value
    @property
    def frequency(self) -> Any: ...  # .mode, .bar, .cooldown_s
    @property
    def action(self) -> Any: ...
    @property
    def template(self) -> str: ...
    def same_watch(self, other: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rule fired: when (the triggering price's or event's time), on what, and its message.
    ``tick_time`` is when the triggering tick arrived (for the alert's latency); ``throttled``
    marks the one trigger that says a runaway rule is silenced."""

    rule: Rule
    time: float
    tick_time: float
    coin: str | None
    strategy_id: str | None
    price: float | None
    value: float | None
    threshold: float | None
    message: str
    throttled: bool = False


@dataclass(slots=True)
class _Batch:
    """Prices with the times the rules read: ``stamps`` place them in bars, ``times`` (never
    decreasing) are reported and compared with cooldowns, throttles and expiries."""

    prices: np.ndarray
    stamps: np.ndarray
    times: np.ndarray
    arrived: float | np.ndarray
    _run: PriceRun | None = dataclasses.field(default=None, init=False)

    @property
    def run(self) -> PriceRun:
        """The prices as the price conditions read them (made once for every rule)."""
        if self._run is None:
            self._run = PriceRun.of(self.prices, self.times)
        return self._run

    def arrival(self, i: int) -> float:
        arrived = self.arrived
        return float(arrived[i]) if isinstance(arrived, np.ndarray) else float(arrived)

    @staticmethod
    def single(now: float, price: float | None) -> _Batch:
        moment = np.array([now])
        return _Batch(np.array([math.nan if price is None else price]), moment, moment, now)


class RuleState:
    """One rule's state: a condition instance per coin or strategy it watches (one for the
    engine), the frequency's last firing per watch, the throttle's window, once and expiry."""

    __slots__ = ("bar_seconds", "done", "expired", "failure", "feeds", "fires", "last", "rule",
                 "seconds", "silent_until", "timeframe_seconds", "watches")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.watches: dict[str | None, Condition] = {}
        self.last: dict[str | None, tuple[float, float]] = {}  # key -> (time, bar)
        self.fires: deque[float] = deque()
        self.silent_until = -math.inf
        self.done = self.expired = False
        self.failure: str | None = None
        self.bar_seconds = float(TIMEFRAMES[rule.frequency.bar])
        timeframe = rule.condition.kind.bar_timeframe(rule.condition.params)
        self.timeframe_seconds = float(TIMEFRAMES[timeframe]) if timeframe else None
        self.feeds = rule.condition.kind.feeds
        self.seconds = self.needed_seconds()

    @property
    def live(self) -> bool:
        return not (self.done or self.expired or self.failure)

    def covers(self, key: str | None) -> bool:
        scope = self.rule.scope
        if scope.kind == ALL:
            return True
        if key is None:
            return False
        return (key.upper() if scope.kind == COIN else key) == scope.value

    def watch(self, key: str | None) -> Condition:
        watch = self.watches.get(key)
        if watch is None:
            condition = self.rule.condition
            watch = self.watches[key] = condition.kind(condition.params)
        return watch

    def needed_seconds(self) -> float | None:
        """The timeframe of bars this rule reads from the prices, if any."""
        if self.feeds == BARS:
            return self.timeframe_seconds
        if self.feeds == PRICES and self.rule.frequency.mode == ONCE_PER_BAR_CLOSE:
            return self.bar_seconds
        return None

    def price_hits(self, coin: str, batch: _Batch, closed: dict[float, Closed]) -> Hits | None:
        watch = self.watches.get(coin) or self.watch(coin)
        seconds = self.seconds
        if seconds is None:
            return watch.prices(batch.run)
        bars = closed[seconds]
        if not len(bars):
            return None
        if self.feeds == BARS:
            hits = watch.bars(bars)
        else:  # once per bar close: the condition sees only the bars' closes
            hits = watch.prices(PriceRun.of(bars.close, batch.times[bars.reveal]))
        return None if hits is None else hits.through(bars.reveal, bars.close)

    def select(self, key: str | None, hits: Hits, batch: _Batch, coin: str | None,
               strategy: str | None, throttle: tuple[int, float]) -> list[Trigger]:
        """The triggers among ``hits`` the frequency, the throttle and the expiry let through:
        a jump from one allowed hit to the next (searchsorted), never a loop over the hits."""
        rule, mode = self.rule, self.rule.frequency.mode
        index = hits.index
        times = batch.times[index]
        bars = np.floor(batch.stamps[index] / self.bar_seconds) if mode == ONCE_PER_BAR else None
        if bars is not None:
            bars = np.maximum.accumulate(bars)
        out: list[Trigger] = []
        position, count = 0, index.shape[0]
        while position < count and self.live:
            start = position
            if self.silent_until > times[position]:
                start = max(start, int(np.searchsorted(times, self.silent_until)))
            last = self.last.get(key)
            if last is not None and mode == EVERY_TIME and rule.frequency.cooldown_s:
                start = max(start, int(np.searchsorted(
                    times, last[0] + rule.frequency.cooldown_s)))
            if last is not None and bars is not None:
                start = max(start, int(np.searchsorted(bars, last[1], side="right")))
            if start >= count:
                break
            moment = float(times[start])
            if rule.expires is not None and moment >= rule.expires:
                self.expired = True
                break
            position = start + 1
            bar = float(bars[start]) if bars is not None else math.nan
            if self._runaway(moment, throttle):
                out.append(self._trigger(key, hits, start, batch, coin, strategy, throttle))
                continue
            self.last[key] = (moment, bar)
            self.fires.append(moment)
            out.append(self._trigger(key, hits, start, batch, coin, strategy))
            if mode == ONCE:
                self.done = True
        return out

    def _runaway(self, moment: float, throttle: tuple[int, float]) -> bool:
        """Whether firing at ``moment`` would pass ``count`` firings within ``window``
        seconds; then the rule is silent for a window."""
        count, window = throttle
        fires = self.fires
        while fires and fires[0] <= moment - window:
            fires.popleft()
        if len(fires) < count:
            return False
        self.silent_until = moment + window
        fires.clear()
        return True

    def _trigger(self, key: str | None, hits: Hits, k: int, batch: _Batch, coin: str | None,
                 strategy: str | None, throttle: tuple[int, float] | None = None) -> Trigger:
        rule, watch = self.rule, self.watches.get(key)
        i = int(hits.index[k])
        price = _finite(hits.price[k] if hits.price is not None else batch.prices[i])
        value = _finite(hits.value[k]) if hits.value is not None else None
        threshold = _finite(hits.threshold[k]) if hits.threshold is not None else (
            watch.limit if watch is not None else None)
        moment = float(batch.times[i])
        if throttle is not None:
            count, window = throttle
            message = (f"{rule.name}: more than {count} alerts within {window:g} s, so the "
                       f"rule is throttled: silent until {_clock(moment + window)}, then it "
                       "fires again")
        else:
            values = {**rule.condition.params, **hits.extras(k), "coin": coin, "price": price,
                      "value": value, "threshold": threshold, "strategy": strategy,
                      "time": moment, "rule": rule.name}
            message = render(rule.template, values)
        return Trigger(rule, moment, batch.arrival(i), coin, strategy, price, value, threshold,
                       message, throttled=throttle is not None)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clock(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Evaluator:
    """Every enabled rule, evaluated incrementally on prices, bars and engine events.

    Pure: no threads, no clock reads (times come with the inputs), so a replay and a test are
    exact. A batch of prices is evaluated per rule with numpy, never per tick in Python. A rule
    whose condition raises is set aside with its reason (:meth:`failures`); the others go on.
    """

    def __init__(self, rules: Sequence[Rule] = (), throttle: tuple[int, float] = (15, 180.0)
                 ) -> None:
        count, window = throttle
        self.throttle = (int(count), float(window))
        self._states: dict[str, RuleState] = {}
        self._price_states: list[RuleState] = []
        self._tracks: dict[str, dict[float, _BarTrack]] = {}
        self._seconds: set[float] = set()
        self._facts = Facts()
        self._last_price: dict[str, float] = {}
        self._coin_of: dict[str, str] = {}  # strategy id -> coin, from the metrics
        self.replace(rules)

    # --- the rules ----------------------------------------------------------------------

    def replace(self, rules: Iterable[Rule]) -> None:
        """Evaluate ``rules`` from now on (disabled ones are left out). A rule that watches
        what it watched before (condition, scope, frequency) keeps its state: its
        indicators, its last firing, its throttle."""
        states: dict[str, RuleState] = {}
        for rule in rules:
            if not rule.enabled:
                continue
            old = self._states.get(rule.id)
            if old is not None and old.rule.same_watch(rule) and old.failure is None:
                old.rule = rule
                old.expired = False  # judged again against the (maybe new) expiry
                states[rule.id] = old
            else:
                states[rule.id] = RuleState(rule)
        self._states = states
        self._price_states = [state for state in states.values() if state.feeds != EVENTS]
        self._seconds = {state.seconds for state in states.values()
                         if state.seconds is not None}
        for tracks in self._tracks.values():
            for seconds in set(tracks) - self._seconds:
                del tracks[seconds]

    @property
    def rules(self) -> list[Rule]:
        return [state.rule for state in self._states.values()]

    def state(self, rule_id: str) -> RuleState:
        return self._states[rule_id]

    def failures(self) -> list[tuple[str, str]]:
        """``(rule_id, reason)`` of each rule whose condition raised; it is evaluated no more
        (the monitor disables it with the reason)."""
        return [(rid, s.failure) for rid, s in self._states.items() if s.failure is not None]

    def finished(self) -> list[tuple[str, str]]:
        """``(rule_id, reason)`` of each rule that will fire no more: a once rule that fired,
        a rule past its expiry."""
        out = []
        for rule_id, state in self._states.items():
            if state.done:
                out.append((rule_id, "fired once"))
            elif state.expired:
                out.append((rule_id, f"expired at {_clock(state.rule.expires or 0.0)}"))
        return out

    # --- prices and bars ----------------------------------------------------------------

    def on_prices(self, coin: str, prices: np.ndarray, stamps: np.ndarray,
                  arrived: float) -> list[Trigger]:
        """The triggers of a batch of ``coin``'s prices (in arrival order, with their
        timestamps), which arrived at ``arrived``."""
        prices = np.ascontiguousarray(prices, dtype=np.float64)
        stamps = np.ascontiguousarray(stamps, dtype=np.float64)
        if not prices.shape[0]:
            return []
        coin = coin.upper()
        self._facts.last_tick = float(arrived)
        self._last_price[coin] = float(prices[-1])
        batch = _Batch(prices, stamps, np.maximum.accumulate(stamps), float(arrived))
        tracks = self._tracks_of(coin)
        closed = {seconds: track.add_ticks(prices, stamps) for seconds, track in tracks.items()}
        return self._run_prices(coin, batch, closed)

    def on_bars(self, coin: str, time: np.ndarray, open_: np.ndarray, high: np.ndarray,
                low: np.ndarray, close: np.ndarray, interval: float,
                fire: bool = True) -> list[Trigger]:
        """The triggers of a file's bars (``time``: each bar's open; ``interval`` seconds
        long): the prices are the closes at the bars' ends, the indicators read the bars
        combined to their timeframes. ``fire=False`` only warms the indicators up (history
        before the rules start)."""
        time = np.ascontiguousarray(time, dtype=np.float64)
        if not time.shape[0]:
            return []
        coin = coin.upper()
        columns = [np.ascontiguousarray(c, dtype=np.float64) for c in (open_, high, low, close)]
        finer = [s for s in self._seconds if s < interval - 1e-9]
        if finer:
            raise ValueError(f"bars of {interval:g} s cannot make the {min(finer):g} s bars a "
                             "rule reads: give finer bars, or rules on coarser timeframes")
        ends = time + interval
        closed = {seconds: track.add_bars(time, *columns, interval)
                  for seconds, track in self._tracks_of(coin).items()}
        batch = _Batch(columns[3], time, np.maximum.accumulate(ends), ends)
        if not fire:
            for state in self._states.values():
                if state.feeds == BARS and state.covers(coin) and state.live:
                    self._guard(state, coin, lambda s=state: s.price_hits(coin, batch, closed))
            return []
        self._last_price[coin] = float(columns[3][-1])
        return self._run_prices(coin, batch, closed)

    def _tracks_of(self, coin: str) -> dict[float, _BarTrack]:
        tracks = self._tracks.setdefault(coin, {})
        for seconds in self._seconds - set(tracks):
            tracks[seconds] = _BarTrack(seconds)
        return tracks

    def _run_prices(self, coin: str, batch: _Batch, closed: dict[float, Closed]
                    ) -> list[Trigger]:
        out: list[Trigger] = []
        for state in self._price_states:
            if state.done or state.expired or state.failure or not state.covers(coin):
                continue
            try:
                hits = state.price_hits(coin, batch, closed)
            except Exception as exc:  # a rule's fault must not stop the others
                self._set_aside(state, coin, exc)
                continue
            if hits is not None:
                out += state.select(coin, hits, batch, coin, None, self.throttle)
        return out

    def _guard(self, state: RuleState, where: str | None, work: Callable[[], Any]) -> Any:
        """``work()``, or None with the rule set aside if it raises."""
        try:
            return work()
        except Exception as exc:  # a rule's fault must not stop the others
            self._set_aside(state, where, exc)
            return None

    @staticmethod
    def _set_aside(state: RuleState, where: str | None, exc: Exception) -> None:
        on = f" on {where}" if where else ""
        state.failure = (f"its {state.rule.condition.type} condition failed{on}: "
                         f"{type(exc).__name__}: {exc}")

    # --- engine events ------------------------------------------------------------------

    def on_event(self, kind: str, data: Any, now: float) -> list[Trigger]:
        """The triggers of one engine event (``kind``: an EventKind value; ``metrics`` goes
        to :meth:`on_metrics`). TREND, STRATEGY, TRADES, FEED, ENGINE and LOG are read."""
        kind = str(kind)
        if kind == "metrics":
            return self.on_metrics(data, now)
        if kind == "trend":
            coin = str(data.get("coin", "")).upper()
            return self._events(kind, data, now, coin, coin, None, self._last_price.get(coin))
        if kind == "strategy":
            sid = str(data.get("strategy_id", ""))
            return self._events(kind, data, now, sid, self._coin_of.get(sid), sid, None)
        if kind == "trades":
            by_strategy: dict[str, list[dict]] = {}
            for trade in data:
                by_strategy.setdefault(str(trade.get("strategy_id")), []).append(trade)
            out = []
            for sid, trades in by_strategy.items():
                coin = trades[-1].get("coin") or self._coin_of.get(sid)
                out += self._events(kind, trades, now, sid, coin, sid,
                                    _number(trades[-1].get("price")))
            return out
        if kind == "feed":
            self._feed(str(data.get("state", "")), now)
        if kind in ("feed", "engine", "log"):
            return self._events(kind, data, now, None, None, None, None)
        return []

    def on_metrics(self, snapshot: Mapping[str, Any], now: float) -> list[Trigger]:
        """The triggers of a METRICS snapshot: strategy health per strategy, the daily loss
        and the journal from the global figures."""
        out: list[Trigger] = []
        glob = snapshot.get("global") or {}
        feed = glob.get("feed")
        if isinstance(feed, Mapping) and feed.get("state"):
            self._feed(str(feed["state"]), now)
        for sid, metrics in (snapshot.get("strategies") or {}).items():
            coin = metrics.get("coin")
            if coin:
                self._coin_of[sid] = coin
            out += self._events("metrics", metrics, now, sid, coin, sid,
                                _number(metrics.get("last_price")))
        out += self._events("global", glob, now, None, None, None, None)
        return out

    def on_clock(self, now: float) -> list[Trigger]:
        """The triggers of time passing: no trade for a while, a stalled feed; rules past
        their expiry are marked (see :meth:`finished`)."""
        out: list[Trigger] = []
        for state in self._states.values():
            if state.rule.expires is not None and now >= state.rule.expires:
                state.expired = True
            if state.feeds != EVENTS or not state.live:
                continue
            keys = list(state.watches) or ([None] if state.rule.condition.kind.scopes ==
                                           ENGINE_SCOPES else [])
            for key in keys:
                coin = self._coin_of.get(key) if key is not None else None
                out += self._one(state, "clock", None, now, key, coin, key, None)
        return out

    def _feed(self, feed_state: str, now: float) -> None:
        facts = self._facts
        if feed_state != facts.feed_state:
            facts.feed_state, facts.feed_since = feed_state, now

    def _events(self, kind: str, data: Any, now: float, key: str | None, coin: str | None,
                strategy: str | None, price: float | None) -> list[Trigger]:
        out: list[Trigger] = []
        engine = key is None
        for state in self._states.values():
            if state.feeds != EVENTS or not state.live:
                continue
            if (state.rule.condition.kind.scopes == ENGINE_SCOPES) != engine:
                continue
            if not engine and not state.covers(key):
                continue
            out += self._one(state, kind, data, now, key, coin, strategy, price)
        return out

    def _one(self, state: RuleState, kind: str, data: Any, now: float, key: str | None,
             coin: str | None, strategy: str | None, price: float | None) -> list[Trigger]:
        if state.rule.expires is not None and now >= state.rule.expires:
            state.expired = True
            return []
        hit = self._guard(state, coin or strategy,
                          lambda: state.watch(key).event(kind, data, now, self._facts))
        if hit is None:
            return []
        hits = Hits(np.zeros(1, dtype=np.int64),
                    None if hit.value is None else np.array([float(hit.value)]),
                    price=np.array([math.nan if (p := hit.price if hit.price is not None
                                                 else price) is None else p]),
                    detail=hit.detail)
        return state.select(key, hits, _Batch.single(now, price), coin, strategy,
                            self.throttle)
