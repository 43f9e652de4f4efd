"""Benchmark of the price charts alone: the Qt thread's CPU time a second, on synthetic frames.

No engine runs: the same SYNTHETIC frames (two coins, a random walk, fills) are handed to the
window's PriceCharts as the bridge hands them, 30 a second, and the chart timer's redraw (with
its paint) runs every sixth frame, as in the window. Times are CPU time of this thread
(``time.thread_time``), so other processes on a shared machine change them little, where the
event-loop lag of bench/gui.py moves with every neighbour.

  paced 2,000 / 20,000 ticks/s   ticks spread over the frames of a second
  max speed                      25,000 ticks per coin and frame, one every 0.02 s of market
                                 time (the simulator's pace at maximum speed), 60 fills
  with indicators                the same, the strategy's two averages and an RSI drawn

Columns: fold = folding one frame's ticks and fills into the candles (every frame);
redraw = the timer's redraw with a repaint of the chart on screen (five times a second);
per second = the Qt thread's chart time in a second of such frames.

Run: QT_QPA_PLATFORM=offscreen python bench/charts.py [--frames 300]
(PYTHONPATH=<an older checkout> measures that one's charts with the same frames.)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

FRAMES_PER_SECOND = 30
REDRAW_EVERY = 6  # frames: the chart timer's 200 ms at 30 frames a second


def synthetic_frame(rng: np.random.Generator, start: float, ticks: int, spacing: float,
                    fills: int, prices: dict[str, float], first_id: int
                    ) -> tuple[dict, list[dict]]:
    """One frame's SYNTHETIC ticks per coin and fills, as the bridge emits them."""
    per_coin, trades = {}, []
    for coin in ("BTC", "ETH"):
        walk = prices[coin] * np.exp(np.cumsum(rng.normal(0.0, 1e-4, ticks)))
        prices[coin] = float(walk[-1])
        stamps = start + np.arange(ticks) * spacing
        per_coin[coin] = (walk, stamps)
        for k in range(fills):
            i = int(rng.integers(ticks))
            trades.append({"id": first_id + len(trades), "coin": coin,
                           "strategy_id": f"{coin}_SMA_Crossover",
                           "action": "BUY" if k % 2 else "SELL", "price": float(walk[i]),
                           "timestamp": float(stamps[i])})
    return per_coin, trades


def run(app, palette, frames: int, ticks: int, spacing: float, fills: int,  # type: ignore[no-untyped-def]
        indicators: bool) -> tuple[float, float, float, float]:
    from velocitas_desktop.gui.charts import PriceCharts

    charts = PriceCharts(palette)
    charts.resize(1100, 600)
    charts.show()
    app.processEvents()
    if indicators:
        _draw_indicators(charts)
    rng = np.random.default_rng(1)
    prices = {"BTC": 60_000.0, "ETH": 3_000.0}
    start, next_id = 1.7e9, 1
    fold, redraw = [], []
    for frame in range(frames):
        per_coin, trades = synthetic_frame(rng, start, ticks, spacing, fills, prices, next_id)
        start += ticks * spacing
        next_id += len(trades)
        began = time.thread_time()
        charts.add_ticks(per_coin)
        if trades:
            charts.add_fills(trades)
        fold.append(time.thread_time() - began)
        if frame % REDRAW_EVERY == REDRAW_EVERY - 1:
            began = time.thread_time()
            charts.redraw()
            charts.tabs.currentWidget().view.viewport().repaint()
            app.processEvents()
            redraw.append(time.thread_time() - began)
    charts.close()
    per_second = (sum(fold) + sum(redraw)) / frames * FRAMES_PER_SECOND
    return (float(np.median(fold)) * 1e3, float(np.median(redraw)) * 1e3,
            float(np.percentile(redraw, 99)) * 1e3, per_second * 1e3)


def _draw_indicators(charts) -> None:  # type: ignore[no-untyped-def]
    """The BTC_SMA_Crossover(10, 30) on 1m bars selected, and an RSI(14) added by hand."""
    from velocitas_desktop.catalog import load_catalog
    from velocitas_desktop.core.strategy import StrategySpec
    from velocitas_desktop.gui.indicators import CATALOGUE, strategy_study, study_by_hand

    strategy = load_catalog().create(StrategySpec("SMA_Crossover", "BTC", timeframe="1m"))
    charts.chart("BTC")
    charts.show_strategy(strategy_study(strategy, "BTC_SMA_Crossover"))
    charts.add_indicator(study_by_hand(CATALOGUE["RSI"], {"period": 14}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from velocitas_desktop.gui import charts as charts_module
    from velocitas_desktop.gui.theme import apply_theme

    app = QApplication([])
    palette = apply_theme(app, "dark")
    scenarios = [("paced 2,000 ticks/s", 2_000 // (2 * FRAMES_PER_SECOND), 0.5 / 33, 0, False),
                 ("paced 20,000 ticks/s", 20_000 // (2 * FRAMES_PER_SECOND), 0.05, 1, False),
                 ("max speed", 25_000, 0.02, 60, False)]
    if hasattr(charts_module.PriceCharts, "show_strategy"):
        scenarios.append(("max speed, with indicators", 25_000, 0.02, 60, True))
    print(f"Velocitas charts benchmark — {args.frames} frames each, CPU time of the Qt thread, "
          f"charts from {charts_module.__file__}")
    print(f"{'scenario':<30} {'fold p50':>9} {'redraw p50':>11} {'redraw p99':>11} "
          f"{'per second':>11}")
    for label, ticks, spacing, fills, indicators in scenarios:
        fold, redraw, redraw_p99, per_second = run(app, palette, args.frames, ticks, spacing,
                                                   fills, indicators)
        print(f"{label:<30} {fold:>7.2f} ms {redraw:>8.2f} ms {redraw_p99:>8.2f} ms "
              f"{per_second:>8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
