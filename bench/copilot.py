"""Benchmark of the copilot's cost to trading, printed as tables.

The monitor (issue #17 point 2): the engine's ticks/s on the simulated market, 2 coins x 4
built-ins, workers=0, the journal on, with no copilot, with a copilot and no rule, and with 100
active rules of the kinds a trader keeps (price levels and channels near the market, moves,
RSI, average crosses and volatility on 1m bars, drawdowns), at 10,000 ticks/s measured, at the
feed's rate setting 10,000 (which this quiet hour of the simulated market draws ~3,400 ticks/s
from) and at maximum speed; and each alert's latency from its triggering tick's arrival (the
feed's stamp on its batch) to the ALERT event a subscriber hears, p50 and p99 over every alert
of the runs, and of those whose tick came after the session's first second (the start's
burst of crossings, while the engine warms up, is most of the tail), beside the engine's own
tick-to-fill p99 (the machine's scheduling shows in both). The monitor's own time (ms per s of run, waits for the interpreter lock included) shows
what it takes from trading.

Dead endpoints (the webhook path, issue #17 point 8): the engine's tick-to-fill and
tick-to-published latency (engine/latency.py) on the simulated market at 10,000 ticks/s
measured (the rate setting TEN_THOUSAND, as the monitor's first table), 2 coins x 4 built-ins, workers=0, the journal on, with webhooks posting to a dead endpoint: a
port that accepts connections and never answers (each attempt waits out the 5 s read timeout)
and a closed port (each attempt is refused at once). The outbox is in the journal's file, as in
the app, so its writes share the file with the journal's writer. Two tables:
  * the real path: the engine's copilot with 100 rules that fire on every 0.001% move (each
    every_time with no cooldown, so each is throttled after 15 alerts: the runaway case), its
    notifier posting every alert, against the same copilot with no webhook;
  * a stress far beyond what rules raise: an engine subscriber turns every fill of each TRADES
    event into an alert (hundreds a second) and hands it to a notifier on the engine's thread,
    against no notifier and against the alerts made and dropped (the subscriber's own cost).
Runs alternate between the cases and the medians are compared, since the machine is shared
(its load average is printed; the p99 range shows how much single runs vary).

    python bench/copilot.py [--seconds 6] [--repeat 3] [--part all|monitor|dead]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from velocitas_desktop.copilot.notify import Notifier
from velocitas_desktop.copilot.outbox import open_outbox
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import Event, EventKind
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.simulated import SimulatedFeed
from velocitas_desktop.store.journal import Journal

COINS = ["BTC", "ETH"]
RATE = 10_000.0


# --- dead endpoints ------------------------------------------------------------------------

class Silent:
    """A port on 127.0.0.1 that accepts connections and never reads or answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.held: list[socket.socket] = []
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self._closing = True
        self.sock.close()
        for conn in self.held:
            conn.close()


def notifier_cpu_seconds() -> float:
    """Processor seconds the notifier's threads have used (Linux: /proc; nan elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for thread in threading.enumerate():
        if not thread.name.startswith("notifier"):
            continue
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / tick   # utime + stime
    return total


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


@dataclass
class Latencies:
    fill_p50: list[float] = field(default_factory=list)
    fill_p99: list[float] = field(default_factory=list)
    pub_p50: list[float] = field(default_factory=list)
    pub_p99: list[float] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)   # the notifier's threads, s per s of run
    rates: list[float] = field(default_factory=list)  # ticks/s

    def median(self, name: str) -> float:
        values = [v for v in getattr(self, name) if v is not None]
        return statistics.median(values) if values else float("nan")


def alerts_from_fills(notifier: Notifier | Sink, counter: list[int]):
    """An engine subscriber: each fill of a TRADES event becomes an alert for the notifier."""
    def on_event(event: Event) -> None:
        if event.kind != EventKind.TRADES:
            return
        for trade in event.data:
            counter[0] += 1
            notifier.alert({"id": counter[0], "rule_id": "bench", "rule_name": "every fill",
                            "time": time.time(), "tick_time": trade.get("timestamp"),
                            "coin": trade.get("coin"), "strategy_id": trade.get("strategy_id"),
                            "severity": "warning", "message": f"fill at {trade.get('price')}",
                            "price": trade.get("price"), "value": None, "threshold": None,
                            "acknowledged": False, "action_id": None, "throttled": False,
                            "dedup_key": f"bench:{counter[0]}"})
    return on_event


class Sink:
    """Takes the alerts and drops them: the cost of making them, without a notifier."""

    def alert(self, alert: dict[str, Any]) -> None:
        pass


RULES = 100
RUN_IDS = itertools.count()   # each run its own journal


def runaway_rules(engine: Engine, url: str | None) -> None:
    """The real path: RULES rules firing on every 0.001% move, their alerts to ``url``."""
    copilot = engine.copilot
    assert copilot is not None
    for n in range(RULES):
        copilot.save_copilot_rule({
            "id": f"move-{n}", "name": f"move {n}", "severity": "warning",
            "condition": {"type": "price_move", "params": {"percent": 0.001, "window_s": 1,
                                                           "direction": "either"}},
            "scope": {"kind": "coin", "value": COINS[n % len(COINS)]},
            "frequency": {"mode": "every_time", "cooldown_s": 0}})
    copilot.update_copilot_settings({"webhooks": [{"url": url, "format": "discord"}]
                                     if url else []})


def real_path_run(url: str | None, seconds: float, folder: str, runs: Latencies) -> None:
    path = os.path.join(folder, f"real-{next(RUN_IDS)}.sqlite")
    engine = Engine(journal=Journal(path), restore=False)
    runaway_rules(engine, url)
    session(engine, seconds, runs)
    copilot = engine.copilot
    assert copilot is not None
    runs.alerts.append(len(copilot.copilot_alerts(limit=10_000)))
    if url:
        runs.cpu.append(notifier_cpu_seconds() / seconds)
        runs.attempts.append(sum(d["attempts"] for d in copilot.copilot_deliveries(10_000)))
    engine.close()


def session(engine: Engine, seconds: float, runs: Latencies) -> None:
    for coin in COINS:
        for name in engine.catalog.names():
            engine.register(StrategySpec(name, coin))
    engine.start(EngineConfig(coins=COINS, rate=TEN_THOUSAND, workers=0, seed=42,
                              duration=seconds, start_time=0.0))
    engine.wait()
    runs.rates.append(engine.ticks_per_second)
    summary = engine.latency.summary()
    runs.fill_p50.append(summary["tick_to_fill_p50"])
    runs.fill_p99.append(summary["tick_to_fill_p99"])
    runs.pub_p50.append(summary["tick_to_published_p50"])
    runs.pub_p99.append(summary["tick_to_published_p99"])
    runs.ticks.append(engine.ticks_processed)


def stress_run(url: str | None, seconds: float, folder: str, runs: Latencies) -> None:
    path = os.path.join(folder, f"stress-{next(RUN_IDS)}.sqlite")
    engine = Engine(journal=Journal(path), restore=False, copilot=False)
    notifier = None
    counter = [0]
    if url == "":
        engine.subscribe(alerts_from_fills(Sink(), counter))
    elif url is not None:
        settings: dict[str, Any] = {"webhooks": [{"url": url, "format": "discord"}],
                                    "heartbeat": {"url": None}}
        notifier = Notifier(open_outbox(path), lambda: settings)
        notifier.start()
        engine.subscribe(alerts_from_fills(notifier, counter))
    session(engine, seconds, runs)
    runs.alerts.append(counter[0])
    if notifier is not None:
        runs.cpu.append(notifier_cpu_seconds() / seconds)
        notifier.stop(timeout=0.5)
        runs.attempts.append(sum(d["attempts"] for d in notifier.deliveries(10**9)))
        notifier.store.close()
    engine.close()


def dead_endpoint_rows(cases: dict[str, str | None], run, seconds: float, repeat: int,
                       folder: str) -> list[tuple[str, ...]]:
    """Each case ``repeat`` times, alternating; the first case is the baseline."""
    runs = {name: Latencies() for name in cases}
    for round_ in range(repeat):
        for name, url in cases.items():
            print(f"  round {round_ + 1}/{repeat}: {name}", file=sys.stderr, flush=True)
            run(url, seconds, folder, runs[name])
    base = runs[next(iter(cases))]
    rows = []
    for name, r in runs.items():
        rows.append((name, f"{statistics.median(r.rates):,.0f}",
                     f"{statistics.median(r.alerts):,.0f}",
                     f"{statistics.median(r.attempts):,.0f}" if r.attempts else "",
                     f"{r.median('fill_p50'):.2f} ({r.median('fill_p50') / base.median('fill_p50'):.2f}x)",
                     f"{r.median('fill_p99'):.2f} ({r.median('fill_p99') / base.median('fill_p99'):.2f}x)",
                     f"{min(r.fill_p99):.1f}-{max(r.fill_p99):.1f}",
                     f"{r.median('pub_p99'):.2f}",
                     f"{1000 * statistics.median(r.cpu):.1f}" if r.cpu else ""))
    return rows


DEAD_HEADER = ("run", "ticks/s", "alerts", "POSTs tried", "fill p50 ms (vs none)", "fill p99 ms (vs none)",
               "p99 range", "published p99 ms", "notifier CPU ms/s")


# --- the monitor: throughput loss and alert latency ------------------------------------------

MONITOR_RULES = 100
# The simulated market draws about ``rate`` ticks a second at its busiest; from start_time 0
# (a quiet hour) rate 10,000 gives ~3,400 a second, and this setting 10,000 (measured: 9,980 a
# second over its first 8 s of data)
TEN_THOUSAND = 28_650.0


def monitor_rules(first_prices: dict[str, float]) -> list[dict[str, Any]]:
    """MONITOR_RULES rules of the kinds a trader keeps, on both coins: price levels and
    channels near the market, moves, RSI, average crosses and volatility on 1m bars, and
    strategy health (which read the engine's events)."""
    rules = []
    for n in range(MONITOR_RULES):
        coin = COINS[n % len(COINS)]
        price = first_prices[coin]
        offset = 1 + ((n % 9) - 4) * 0.0005   # levels within ±0.2% of the first price
        kind = n % 10
        if kind in (0, 1, 2):
            condition = {"type": "price_cross", "params": {"level": round(price * offset, 2)}}
        elif kind == 3:
            condition = {"type": "price_channel", "params": {
                "low": round(price * (offset - 0.001), 2),
                "high": round(price * (offset + 0.001), 2)}}
        elif kind in (4, 5):  # these fire all along (each up to the throttle's 15)
            condition = {"type": "price_move", "params": {"percent": 0.02 + 0.005 * (n % 5),
                                                          "window_s": 2 + n % 8}}
        elif kind == 6:
            condition = {"type": "rsi", "params": {"timeframe": "1m", "above": 60 + n % 20}}
        elif kind == 7:
            condition = {"type": "ma_cross", "params": {"timeframe": "1m", "fast": 3 + n % 4,
                                                        "slow": 12 + n % 8}}
        elif kind == 8:
            condition = {"type": "volatility_spike", "params": {"timeframe": "1m",
                                                                "threshold": 1.5,
                                                                "window": 20}}
        else:
            rules.append({"id": f"health-{n}", "name": f"health {n}",
                          "condition": {"type": "drawdown", "params": {"percent": 5 + n % 10}},
                          "scope": {"kind": "all", "value": None}})
            continue
        rules.append({"id": f"r-{n}", "name": f"rule {n}", "condition": condition,
                      "scope": {"kind": "coin", "value": coin},
                      "frequency": {"mode": "every_time", "cooldown_s": 0}})
    return rules


@dataclass
class MonitorRuns:
    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)          # process CPU s per s of run
    alerts: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)      # ms, every alert of every run
    steady: list[float] = field(default_factory=list)       # ms, ticks after the first second
    monitor_busy: list[float] = field(default_factory=list)  # monitor's s per s of run
    fill_p99: list[float] = field(default_factory=list)     # the engine's own tick-to-fill


def monitor_run(mode: str, rate: float | None, seconds: float, folder: str,
                runs: MonitorRuns) -> None:
    """One engine run: ``mode`` "off" (no copilot), "idle" (a copilot, no rule) or "rules"
    (MONITOR_RULES rules); the alerts' latency from the triggering tick's arrival to the
    ALERT event, as a subscriber hears it."""
    path = os.path.join(folder, f"monitor-{next(RUN_IDS)}.sqlite")
    engine = Engine(journal=Journal(path), restore=False, copilot=mode != "off")
    for coin in COINS:
        for name in engine.catalog.names():
            engine.register(StrategySpec(name, coin))
    heard: list[float] = []
    steady: list[float] = []
    began = [math.inf]

    def on_alert(event: Event) -> None:
        if event.kind == EventKind.ALERT and not event.data["throttled"]:
            late = (time.time() - event.data["tick_time"]) * 1000.0
            heard.append(late)
            if event.data["tick_time"] >= began[0] + 1.0:
                steady.append(late)

    engine.subscribe(on_alert)
    if mode == "rules":
        start = SimulatedFeed(COINS, seed=42, start_time=0.0)
        coin_ids, prices, _ = start.take(len(COINS) * 4)
        first = {coin: float(prices[coin_ids == i][0]) for i, coin in enumerate(COINS)}
        engine.import_copilot_rules(monitor_rules(first))
    began_cpu = time.process_time()
    began[0] = time.time()
    engine.start(EngineConfig(coins=COINS, rate=rate, workers=0, seed=42, duration=seconds,
                              start_time=0.0))
    engine.wait()
    run_seconds = engine._session.run_seconds if engine._session else seconds
    runs.rates.append(engine.ticks_processed / run_seconds)
    runs.cpu.append((time.process_time() - began_cpu) / run_seconds)
    if engine.copilot is not None:
        runs.monitor_busy.append(engine.copilot.monitor.busy_seconds / run_seconds)
    runs.alerts.append(len(heard))
    runs.latency.extend(heard)
    runs.steady.extend(steady)
    fill_p99 = engine.latency.summary()["tick_to_fill_p99"]
    if fill_p99 is not None:
        runs.fill_p99.append(fill_p99)
    engine.close()


def monitor_rows(rate: float | None, seconds: float, repeat: int, folder: str
                 ) -> list[tuple[str, ...]]:
    """off, idle and rules runs alternating ``repeat`` times; medians against both."""
    cases = {"no copilot": "off", "copilot, no rule": "idle",
             f"copilot, {MONITOR_RULES} rules": "rules"}
    runs = {name: MonitorRuns() for name in cases}
    for round_ in range(repeat):
        for name, mode in cases.items():
            print(f"  round {round_ + 1}/{repeat}: {name} at "
                  f"{'maximum speed' if rate is None else f'{rate:,.0f} ticks/s'}",
                  file=sys.stderr, flush=True)
            monitor_run(mode, rate, seconds, folder, runs[name])
    off = statistics.median(runs["no copilot"].rates)
    idle = statistics.median(runs["copilot, no rule"].rates)
    rows = []
    for name, r in runs.items():
        rate_ = statistics.median(r.rates)
        latency, steady = np.array(r.latency), np.array(r.steady)
        rows.append((
            name, f"{rate_:,.0f}", f"{rate_ / off:.3f}", f"{rate_ / idle:.3f}",
            f"{min(r.rates):,.0f}-{max(r.rates):,.0f}",
            f"{statistics.median(r.cpu):.2f}",
            f"{1000 * statistics.median(r.monitor_busy):.0f}" if r.monitor_busy else "",
            f"{statistics.median(r.alerts):,.0f}",
            f"{np.percentile(latency, 50):.1f}" if latency.size else "",
            f"{np.percentile(latency, 99):.1f}" if latency.size else "",
            f"{np.percentile(steady, 50):.1f} / {np.percentile(steady, 99):.1f}"
            if steady.size else "",
            f"{statistics.median(r.fill_p99):.1f}" if r.fill_p99 else ""))
    return rows


MONITOR_HEADER = ("run", "ticks/s", "vs no copilot", "vs no rule", "range", "CPU s/s", "monitor ms/s",
                  "alerts", "alert p50 ms", "alert p99 ms", "after 1st s p50 / p99",
                  "fill p99 ms")


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [*rows, header]) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per engine run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case")
    parser.add_argument("--part", choices=("all", "monitor", "dead"), default="all",
                        help="the monitor's rows, the dead endpoints' rows, or both")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="velocitas-bench-")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"Python {sys.version.split()[0]}")
    print(f"engine: simulated market paced at {RATE:,.0f} ticks/s, {len(COINS)} coins x 4 "
          f"built-ins, workers=0, journal on, {args.seconds:g} s a run, medians of "
          f"{args.repeat}\n")
    if args.part in ("all", "monitor"):
        for rate in (TEN_THOUSAND, RATE, None):
            where = ("maximum speed" if rate is None else
                     f"10,000 ticks/s measured (rate setting {rate:,.0f})"
                     if rate == TEN_THOUSAND else f"rate setting {rate:,.0f}")
            print(f"The monitor at {where}: throughput, and each alert's latency from its "
                  "tick's arrival to the ALERT event:")
            table(MONITOR_HEADER, monitor_rows(rate, args.seconds, args.repeat, folder))
            print()
        print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    if args.part == "monitor":
        return 0
    silent = Silent()
    dead = {"accepts, never answers": silent.url, "closed port": closed_url()}
    try:
        print(f"Dead endpoints at 10,000 ticks/s measured (rate setting {TEN_THOUSAND:,.0f}); "
              f"the real path: the copilot's {RULES} runaway rules, their alerts to a dead "
              "endpoint:")
        table(DEAD_HEADER, dead_endpoint_rows(
            {"copilot, no webhook": None,
             **{f"copilot, webhook: {name}": url for name, url in dead.items()}},
            real_path_run, args.seconds, args.repeat, folder))
        print("\nStress: every fill an alert, handed to a notifier on the engine's thread:")
        table(DEAD_HEADER, dead_endpoint_rows(
            {"no notifier": None, "alerts made, not sent": "",
             **{f"notifier, webhook: {name}": url for name, url in dead.items()}},
            stress_run, args.seconds, args.repeat, folder))
    finally:
        silent.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
