"""The live trend: each coin's trend report, re-made on its own thread as the coin's bars close.

The session's consumer only says "a bar of BTC closed" (:meth:`LiveTrend.closed`, a set and a
notify); this thread copies the closed candles, runs the analyzer (research/trend.py) on them
and keeps the report. Closes are coalesced: a coin is analysed at most once every
``MIN_SECONDS``, and all analyses together run at most ``BUDGET`` of the time, so a replay
whose minutes close thousands of times a second costs the engine what a live market does. A
regime that changes on a timeframe (its direction, strength, volatility or character) is a
TREND event and an info line in the log, told on that timeframe's bar close: the report follows
the forming bar, but a 4h regime is compared with the last one told only once a new 4h bar has
begun (the first analysis after the close), so a forming bar that wavers across a threshold
and back is not told each minute. A failed analysis is logged once and the last report stands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velocitas_desktop.engine.contract import EventKind
from velocitas_desktop.engine.errors import NotFoundError

if TYPE_CHECKING:
    from velocitas_desktop.research.trend import TrendReport

log = logging.getLogger(__name__)

LIVE_TIMEFRAMES = ("1m", "15m", "1h", "4h")  # of one-minute candles
MIN_SECONDS = 1.0   # a coin's report is re-made at most this often
# The analyses' share of wall-clock time. The thread shares the interpreter lock with the
# consumer, so what it runs is taken from trading: after an analysis of c seconds the next
# waits c / BUDGET − c, keeping the cost near BUDGET whatever the coins and the speed of their
# bars. An analysis of 30 days of minutes on 4 timeframes takes ~20 ms of processor time here,
# ~60 ms of wall clock beside a busy consumer (it waits for the lock). At 2% paired runs lost
# 0-8% of ticks/s (2-3% per processor second); at 1%, 0.3-2.0% per processor second
# (bench/live_trend.py; the wall-clock figures of this shared machine spread ±10%). In a live
# market a coin closes a minute a minute: 20 coins closing at once are all re-made within
# about two minutes at the worst, a few seconds usually.
BUDGET = 0.01
REGIME_FIELDS = ("direction", "strength", "volatility", "character")

CandleSource = Callable[[str, bool], "dict[str, Any] | None"]
Publish = Callable[[EventKind, Any], None]
Log = Callable[[str, str], None]


def live_timeframes(interval: float) -> list[str]:
    """The timeframes analysed for candles of ``interval`` seconds: 1m, 15m, 1h and 4h of
    one-minute candles; a replayed file's longer bars, the analyzer's defaults for them."""
    if interval == 60.0:
        return list(LIVE_TIMEFRAMES)
    return _analyzer().default_timeframes(interval)


def _analyzer() -> Any:
    """research/trend.py, imported on the trend thread's first analysis: an engine whose
    analyzer cannot load still trades (the failure is logged like any other)."""
    from velocitas_desktop.research import trend

    return trend


@dataclass(frozen=True, slots=True)
class Cost:
    """What the analyses took: how many, their wall-clock seconds (waits for the interpreter
    lock included) and their processor seconds."""

    analyses: int
    wall_seconds: float
    cpu_seconds: float


class LiveTrend:
    """The live trend reports of one session's coins, and the thread that re-makes them.

    ``source(coin, final)`` gives the coin's closed candles (the dict of
    :meth:`~velocitas_desktop.engine.contract.TradingEngine.candles`, arrays welcome; with
    ``final`` the forming bar too, as the data has ended), or None when it has none.
    """

    def __init__(self, coins: Sequence[str], source: CandleSource, publish: Publish,
                 say: Log, clock: Callable[[], float] = time.monotonic) -> None:
        self.coins = list(coins)
        self._source = source
        self._publish = publish
        self._say = say
        self._clock = clock
        self._wake = threading.Condition()
        self._pending: set[str] = set()
        self._due: dict[str, float] = {}     # a coin is not analysed again before this
        self._quiet_until = 0.0              # no analysis before this (the budget)
        self._ending = False
        self._final = False                  # the data ended: analyse what is pending, now
        self._work = threading.Lock()        # one analysis at a time, events in order
        self._reports: dict[str, TrendReport] = {}
        self._regimes: dict[str, dict[str, dict[str, str]]] = {}
        # coin → timeframe → the open time of the bar that was forming when its regime was
        # last compared: compared again once a newer bar of the timeframe has begun
        self._compared: dict[str, dict[str, float | None]] = {}
        self._failing: dict[str, str] = {}   # coin → what its last analysis raised
        self.closes = 0         # closes told (coalesced into analyses)
        self.analyses = 0
        self.busy_seconds = 0.0  # wall clock, waits for the interpreter lock included
        self.cpu_seconds = 0.0   # the processor time the analyses took
        self.cost_while_trading: Cost | None = None  # set as the session ends
        self._thread = threading.Thread(target=self._run, name="velocitas-trend", daemon=True)

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; every coin that already has bars (a feed's history) is due."""
        with self._wake:
            self._pending.update(self.coins)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def closed(self, coin: str) -> None:
        """A bar of ``coin`` closed (the consumer's word): its report is due."""
        with self._wake:
            self.closes += 1
            if coin not in self._pending:
                self._pending.add(coin)
                self._wake.notify()

    def finish(self, final: bool, timeout: float) -> None:
        """End the thread within about ``timeout``. ``final``: the data ended, so every coin
        with bars closed since its last report is analysed once more, on all its bars."""
        with self._wake:
            if self.cost_while_trading is None:
                self.cost_while_trading = self.cost()
            self._ending = True
            self._final = final
            if final:  # the forming bars count now, whether or not a bar closed
                self._pending.update(self.coins)
            self._wake.notify()
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the live trend thread did not end within %.1f s", timeout)

    # --- reading --------------------------------------------------------------------------

    def cost(self) -> Cost:
        """What the analyses took so far."""
        return Cost(self.analyses, self.busy_seconds, self.cpu_seconds)

    def report(self, coin: str, candles: int = 0) -> dict[str, Any]:
        """The latest report of ``coin`` as JSON; made now if none was made yet (the first
        call of a view may come before the first close). NotFoundError when it cannot be."""
        if coin not in self.coins:
            carried = ", ".join(self.coins) or "no coin"
            raise NotFoundError(f"{coin} is not in the session (it carries {carried}): "
                                "start one with that coin to see its live trend")
        report = self._reports.get(coin)
        if report is None:
            report = self._analyse(coin, final=self._final)
        if report is None:
            reason = self._failing.get(coin)
            raise NotFoundError(f"no live trend of {coin}: "
                                + (f"its analysis failed ({reason})" if reason else
                                   "it has no closed bars yet; the report appears as its "
                                   "first candles close"))
        return report.to_json(candles=max(int(candles), 0))

    # --- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while (coin := self._next()) is not None:
            self._analyse(coin, final=self._final)

    def _next(self) -> str | None:
        """The next coin to analyse, once its time and the budget allow; None: end."""
        with self._wake:
            while True:
                if self._ending and (not self._final or not self._pending):
                    return None
                if not self._pending:
                    self._wake.wait()
                    continue
                coin = min(self._pending, key=lambda c: self._due.get(c, 0.0))
                wait = max(self._due.get(coin, 0.0), self._quiet_until) - self._clock()
                if self._final or wait <= 0:
                    self._pending.discard(coin)
                    return coin
                self._wake.wait(wait)

    def _analyse(self, coin: str, final: bool) -> TrendReport | None:
        """Re-make the report of ``coin`` from its closed bars and publish what changed;
        returns the report now kept. Never raises: a failure is logged once until the coin's
        analysis works again, and its last report stands."""
        with self._work:
            began, cpu = self._clock(), time.thread_time()
            try:
                made = self._make(coin, final)
            except Exception as exc:
                made = None
                self._failed(coin, exc)
            finally:
                self.cpu_seconds += time.thread_time() - cpu
                self._spent(coin, began)
            if made is None:
                return self._reports.get(coin)
            report, view = made
            self._reports[coin] = report
            if self._failing.pop(coin, None) is not None:
                self._say("info", f"the live trend of {coin} is made again")
            self._compare(coin, report.regimes(), view, final)
            return report

    def _make(self, coin: str, final: bool) -> tuple[TrendReport, dict[str, Any]] | None:
        """The report of the coin's bars and its JSON; None when it has no bars yet."""
        candles = self._source(coin, final)
        if candles is None or not len(candles["time"]):
            return None
        analyzer = _analyzer()
        bars = analyzer.Bars.from_candles(candles)
        report = analyzer.analyze(bars, live_timeframes(float(candles["interval"])),
                                  source="live", coin=coin)
        return report, report.to_json()

    def _spent(self, coin: str, began: float) -> None:
        """Count an analysis and set when the coin, and any coin, may be analysed again."""
        ended = self._clock()
        spent = ended - began
        self.analyses += 1
        self.busy_seconds += spent
        with self._wake:
            self._due[coin] = began + MIN_SECONDS
            self._quiet_until = ended + spent * (1.0 / BUDGET - 1.0)

    def _failed(self, coin: str, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        first = coin not in self._failing
        self._failing[coin] = message
        if not first:
            return
        # the line says what failed; the traceback of a fault (not bad input) is for a debug log
        log.debug("the live trend of %s failed", coin, exc_info=True)
        self._say("warning", f"the live trend of {coin} could not be made: {message}; its last "
                             "report stands and trading goes on (said once until it works)")

    def _compare(self, coin: str, regimes: dict[str, dict[str, str]],
                 view: dict[str, Any], final: bool = False) -> None:
        """A TREND event (and a log line) for each timeframe whose regime is new, or changed
        since it was last told, looked at on the timeframe's bar close: when its newest bar is
        not the one that was forming at its last look (or the data ended). A timeframe that
        has too few bars again keeps its last regime, so it is not told again when it comes
        back unchanged."""
        known = self._regimes.setdefault(coin, {})
        compared = self._compared.setdefault(coin, {})
        frames = {frame["timeframe"]: frame for frame in view.get("timeframes", ())}
        for timeframe, current in regimes.items():
            frame = frames.get(timeframe, {})
            previous = known.get(timeframe)
            forming = frame.get("time")
            if previous is not None and not final and compared.get(timeframe) == forming:
                continue  # the same bar is still forming: wait for its close
            compared[timeframe] = forming
            if previous == current:
                continue
            known[timeframe] = dict(current)
            summary = frame.get("summary", "")
            self._publish(EventKind.TREND, {
                "coin": coin, "timeframe": timeframe, "time": frame.get("time"),
                "previous": None if previous is None else dict(previous),
                "current": dict(current), "summary": summary})
            if previous is not None:
                now = summary.removeprefix(f"{timeframe}: ")
                self._say("info", f"{coin} {timeframe}: trend changed "
                                  f"{_changes(previous, current)}; now {now}")


def _changes(previous: dict[str, str], current: dict[str, str]) -> str:
    """"up → sideways, strength strong → weak": the direction first, then each other field
    that changed, by name."""
    parts = []
    for field in REGIME_FIELDS:
        before, after = previous.get(field), current.get(field)
        if before != after:
            change = f"{before} → {after}"
            parts.append(change if field == "direction" else f"{field} {change}")
    return ", ".join(parts)
