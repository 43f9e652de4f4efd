"""Does the window stay responsive? Event-loop lag and memory of the real window under load.

Lag: a 10 ms QTimer on the Qt thread; each firing's delay against its schedule (the gap to the
previous firing minus 10 ms) is collected, and p50/p99/max are printed per scenario:

  idle            the window open, engine stopped (the baseline, same process, same run)
  engine paced    the engine at 2,000 ticks/s (a busy live feed) and 20,000 ticks/s
  engine max      the engine at maximum speed (rate=None), each built-in on BTC and ETH,
                  strategies inline (``--workers`` to spread them over processes)
  1M blotter      1,000,000 SYNTHETIC trade rows in the blotter (fed through its public
                  add_trades API), while the view scrolls through them
  1M + engine     the 1M-row blotter while the engine runs at maximum speed
  1M sorted       the 1M-row blotter sorted by realised P&L (as a click on its header
                  does; the sort runs on a pool thread, its time is in the notes) and
                  scrolled to its middle, while the engine runs at maximum speed: each
                  batch of new fills is placed in order and the rows read are held still
  in-process      for comparison, the engine at maximum speed in the window's own process
                  (how the window ran before the engine moved to its own process)
  trend chart     the Trend tab's chart over 1,000,000 SYNTHETIC one-minute bars (a random
                  walk), panned and zoomed on every timer firing (100 range changes a
                  second, more than a hand on a wheel makes): in from the whole history to
                  ~100 candles and back out, drifting sideways; engine stopped

The engine runs as the app runs it: in its own process (engine.host.HostedEngine), with the
window's process holding only the Qt thread and the thread that reads the engine's events.

Resident memory is VmRSS from /proc/self/status after each scenario (the window's process;
the engine process's own is in the notes).
Targets: p99 lag <= 50 ms; the 1M-row blotter under 500 MB resident.

Run: QT_QPA_PLATFORM=offscreen python bench/gui.py [--seconds 8] [--only trend]
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TIMER_MS = 10


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of this process (or of ``pid``) in MB."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_lag(app, seconds: float, during=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Run the event loop for ``seconds`` with a 10 ms timer; delays in ms vs schedule."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    delays: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def fired() -> None:
        now = clock.nsecsElapsed()
        delays.append(max((now - last[0]) / 1e6 - TIMER_MS, 0.0))
        last[0] = now
        if during is not None:
            during()

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TIMER_MS)
    timer.timeout.connect(fired)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    values = np.array(delays[5:] or [0.0])  # the first firings include the start-up
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)),
            "max": float(values.max()), "samples": len(values)}


def synthetic_trades(start: int, count: int) -> list[dict]:
    """SYNTHETIC trade rows shaped like the engine's (not from a run)."""
    strategies = ["BTC_SMA_Crossover", "BTC_RSI", "ETH_MACD", "ETH_Momentum"]
    rng = random.Random(start)
    rows = []
    for i in range(start, start + count):
        sid = strategies[i % 4]
        rows.append({"id": i + 1, "timestamp": 1.7e9 + i * 0.01, "strategy_id": sid,
                     "coin": sid[:3], "action": "BUY" if i % 2 else "SELL",
                     "price": 60_000 + rng.random() * 100, "quantity": 1.0,
                     "profit_loss": rng.uniform(-50, 50) if i % 2 == 0 else 0.0,
                     "position_size": float(i % 2), "fee": 60.0})
    return rows


def sort_blotter(app, blotter, key: str) -> str:  # type: ignore[no-untyped-def]
    """Sort the blotter by ``key``, biggest first, as two clicks on its header do, and scroll
    to the middle; returns how long the window's thread and the sort itself took."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QAbstractItemView

    table, model = blotter.table, blotter.model
    column = [c.key for c in model.columns].index(key)
    began = time.perf_counter()
    table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    clicked = time.perf_counter() - began
    while model.sort_pending:
        app.processEvents()
        time.sleep(0.001)
    sorted_in = time.perf_counter() - began
    table.scrollTo(model.index(model.rowCount() // 2, 0),
                   QAbstractItemView.ScrollHint.PositionAtTop)
    app.processEvents()
    return (f"sort: {clicked * 1e3:.1f} ms on the Qt thread, "
            f"{sorted_in * 1e3:,.0f} ms to sorted")


def synthetic_minutes(count: int, seed: int = 1) -> dict[str, np.ndarray]:
    """SYNTHETIC one-minute bars: a random walk from 60,000 (not market data)."""
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))
    open_ = np.r_[close[0], close[:-1]]
    return {"time": 1_600_000_000 + 60.0 * np.arange(count), "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.random(count) * 0.001),
            "low": np.minimum(open_, close) * (1 - rng.random(count) * 0.001),
            "close": close}


def trend_chart(app, window, seconds: float, count: int) -> tuple:  # type: ignore[no-untyped-def]
    """The Trend tab's chart over ``count`` one-minute bars, zoomed in from the whole
    history to ~100 bars and out again while drifting sideways, one step per timer firing."""
    tab = window.trend
    window.modes.setCurrentWidget(tab)
    while tab.bars is None:  # the sample it reads when opened, charted before ours
        app.processEvents()
        time.sleep(0.01)
    bars = synthetic_minutes(count)
    began = time.perf_counter()
    tab.chart.show_bars(bars["time"], bars["open"], bars["high"], bars["low"], bars["close"],
                        60.0, caption=f"1m · {count:,} bars (synthetic)")
    app.processEvents()
    shown_in = time.perf_counter() - began
    first, last = float(bars["time"][0]), float(bars["time"][-1]) + 60
    whole = last - first
    state = {"centre": first + whole / 2, "span": whole, "factor": 0.9, "drift": 0.02,
             "most": 0, "candles": 0, "frames": 0}
    item = tab.chart.bars

    def step() -> None:
        state["most"] = max(state["most"], item.drawn)
        state["candles"] += item.mode == "candles"
        state["frames"] += 1
        span = state["span"] * state["factor"]
        if span < 100 * 60 or span > whole:
            state["factor"] = 1 / state["factor"]  # turn round: out again, or in again
            span = min(max(span, 100 * 60), whole)
        centre = state["centre"] + state["drift"] * span
        if not first + span / 2 <= centre <= last - span / 2:
            state["drift"] = -state["drift"]
            centre = min(max(centre, first + span / 2), last - span / 2)
        state["centre"], state["span"] = centre, span
        tab.chart.show_range(centre - span / 2, centre + span / 2)

    lag = measure_lag(app, seconds, during=step)
    notes = (f"shown in {shown_in * 1e3:,.0f} ms; {state['frames']:,} range changes, at most "
             f"{state['most']:,} strokes or candles a frame, candles in "
             f"{state['candles']:,} frames; engine stopped")
    return (f"Trend chart, {count:,} 1m bars, pan+zoom", lag, notes, f"{rss_mb():,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per scenario")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=0, help="engine worker processes")
    parser.add_argument("--bars", type=int, default=1_000_000,
                        help="one-minute bars in the Trend chart scenario")
    parser.add_argument("--only", choices=["trend"], default=None,
                        help="run only this scenario (and the idle baseline)")
    parser.add_argument("--switch", type=float, default=0.0,
                        help="interpreter switch interval in seconds (default: the app's)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    faulthandler.dump_traceback_later(900, exit=True)  # a hang is reported, not waited out
    home = tempfile.mkdtemp(prefix="velocitas-bench-")
    os.environ["VELOCITAS_HOME"] = home  # the bench never touches the user's settings

    from PySide6.QtWidgets import QApplication

    from velocitas_desktop.core.strategy import StrategySpec
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.engine.host import HostedEngine
    from velocitas_desktop.gui.app import tune_interpreter
    from velocitas_desktop.gui.main_window import MainWindow
    from velocitas_desktop.gui.settings import Settings
    from velocitas_desktop.gui.theme import apply_theme
    from velocitas_desktop.store.journal import Journal

    if args.switch:
        sys.setswitchinterval(args.switch)
    else:
        tune_interpreter()  # as the app does
    app = QApplication(sys.argv[:1])
    apply_theme(app, "dark")
    def open_window(engine: Engine | HostedEngine) -> MainWindow:
        window = MainWindow(engine, Settings())
        window.resize(1600, 960)
        window.show()
        window.add_strategies([StrategySpec(name, coin) for coin in ("BTC", "ETH")
                               for name in engine.catalog.names()])
        window.rate_edit.setText("max")
        return window

    engine: Engine | HostedEngine = HostedEngine(
        journal_path=str(Path(home) / "journal.sqlite3"), restore=False)
    window = open_window(engine)
    rows: list[tuple[str, dict[str, float], str, str]] = []

    def run_engine(label: str, workers: int, rate: str = "max") -> None:
        window.rate_edit.setText(rate)
        window.workers_box.setValue(workers)
        frames0 = window.bridge.frames
        window.start_engine()
        lag = measure_lag(app, args.seconds)
        snap = engine.snapshot()["global"]
        hosted = (f", engine process {rss_mb(engine.pid):,.0f} MB"
                  if isinstance(engine, HostedEngine) else "")
        frames = (window.bridge.frames - frames0) / args.seconds
        window.stop_engine()
        while engine.status in ("running", "stopping") or window.busy:
            app.processEvents()
            time.sleep(0.01)
        rows.append((label, lag, f"{snap['ticks_per_second']:,.0f} ticks/s, "
                                 f"{snap['total_trades']:,} fills, {frames:.0f} frames/s{hosted}",
                     f"{rss_mb():,.0f}"))

    baseline_rss = rss_mb()
    rows.append(("idle (baseline)", measure_lag(app, args.seconds), "engine stopped",
                 f"{baseline_rss:,.0f}"))
    rows.append(trend_chart(app, window, args.seconds, args.bars))
    window.modes.setCurrentWidget(window.charts)
    if args.only == "trend":
        return report(app, args, rows, None, window)
    run_engine("engine paced 2,000 ticks/s", args.workers, "2000")
    run_engine("engine paced 20,000 ticks/s", args.workers, "20000")
    run_engine(f"engine max speed, {args.workers} workers", args.workers)

    before = rss_mb()
    blotter = window.blotter
    blotter.clear()
    began = time.perf_counter()
    chunk = 50_000
    for start in range(0, args.rows, chunk):
        blotter.add_trades(synthetic_trades(start, min(chunk, args.rows - start)))
        blotter.flush()  # all of them now, as a restored session is shown
        app.processEvents()
    fill_seconds = time.perf_counter() - began
    table = blotter.table
    rng = random.Random(1)

    def scroll() -> None:
        table.scrollTo(blotter.model.index(rng.randrange(blotter.model.rowCount()), 0))

    lag = measure_lag(app, args.seconds, during=scroll)
    after = rss_mb()
    rows.append((f"{args.rows:,} synthetic rows in blotter, scrolling", lag,
                 f"loaded in {fill_seconds:.1f} s; blotter +{after - before:,.0f} MB",
                 f"{after:,.0f}"))
    run_engine(f"{args.rows:,}-row blotter + engine max speed", args.workers)
    sort_note = sort_blotter(app, blotter, "profit_loss")
    run_engine(f"{args.rows:,}-row blotter by P&L + engine max", args.workers)
    label, lag, notes, rss = rows[-1]
    rows[-1] = (label, lag, f"{sort_note}; {notes}", rss)
    blotter_rss = rss_mb()
    window.close()
    window.deleteLater()
    app.processEvents()
    engine = Engine(journal=Journal(Path(home) / "inprocess.sqlite3"), restore=False)
    window = open_window(engine)
    run_engine("in-process engine, max speed (before)", args.workers)

    return report(app, args, rows, blotter_rss, window)


def report(app, args, rows, blotter_rss: float | None, window) -> int:  # type: ignore[no-untyped-def]
    """Print the table of scenarios and whether the targets were met."""
    load = os.getloadavg()
    print()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          "(1, 5, 15 min; other people's work shares the cores)")
    print(f"Velocitas window benchmark — {args.seconds:g} s per scenario, 10 ms timer, "
          f"{os.cpu_count()} cores, platform {app.platformName()}")
    print(f"{'scenario':<46} {'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'RSS MB':>8}  notes")
    for label, lag, notes, rss in rows:
        print(f"{label:<46} {lag['p50']:>7.2f}  {lag['p99']:>7.2f}  {lag['max']:>7.1f}  "
              f"{rss:>7}  {notes}")
    worst = max(lag["p99"] for label, lag, _, _ in rows if "before" not in label)
    memory = ("" if blotter_rss is None else
              f"; 1M-row blotter < 500 MB resident -> {blotter_rss:,.0f} MB "
              f"({'met' if blotter_rss < 500 else 'NOT met'})")
    print(f"targets: p99 lag <= 50 ms -> worst {worst:.1f} ms "
          f"({'met' if worst <= 50 else 'NOT met'}){memory}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
