"""The P&L chart: equity of each strategy and of the total over the current session's time.

Live, each metrics snapshot adds a point at the market's time. When a session ends, and when
the window opens on a restored one, the curves are drawn again from the engine's P&L history
(the source of ``/api/pnl-history``): a replay at full speed sends one or two snapshots, but its
history holds every sample. Each session starts with its own time range.
"""

from __future__ import annotations

import math
import time
from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from velocitas_desktop.gui.plots import GridLines, cache_axes, paint_plot, time_value_plot
from velocitas_desktop.gui.theme import ChartColours

PNL_SECONDS = 1.0       # the P&L lines are redrawn at most this often
MAX_POINTS = 20_000     # per curve; beyond, every other point goes (the screen shows fewer)
DRAWN_POINTS = 4_000    # per curve at most: longer curves are drawn as peaks of their points
TOTAL = "Total"
EMPTY = "The equity of each strategy and of the total appears here once a session runs."


class PnlChart(QWidget):
    """Equity (realised + unrealised P&L) of each strategy and of the total, over time.

    The legend is a line of names above the plot, never over the curves. Nothing drawn
    depends on the range in view: clipped or downsampled to a view left on another session's
    dates, the new points came out empty, so auto-range had nothing to fit and the chart
    stayed blank. Curves are thinned by their own length instead (peaks of at most
    ``DRAWN_POINTS``), which bounds a redraw all the same.
    """

    def __init__(self, palette: ChartColours) -> None:
        super().__init__()
        self.palette = palette
        self.points: dict[str, tuple[list[float], list[float]]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._drawn = 0.0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.legend = QLabel(EMPTY)
        self.legend.setObjectName("pnlLegend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.legend)
        self.plot = time_value_plot()
        cache_axes(self.plot.getPlotItem())
        self.grid = GridLines(self.plot.getPlotItem())
        self.zero = pg.InfiniteLine(pos=0, angle=0, movable=False)
        self.plot.addItem(self.zero, ignoreBounds=True)
        layout.addWidget(self.plot, 1)
        self.set_palette(palette)

    def clear(self) -> None:
        """Forget the curves and the time range: a new session."""
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.points.clear()
        self.curves.clear()
        # auto-range keeps the current size for a first point or a flat line: not the last
        # session's months and thousands
        self.plot.setRange(xRange=(0.0, 1.0), yRange=(-1.0, 1.0), padding=0)
        self.plot.enableAutoRange()
        self._show_legend()

    def add_snapshot(self, snapshot: dict[str, Any], when: float | None = None,
                     force: bool = False) -> None:
        """Record each strategy's equity and the total; redraw at most once a second."""
        when = time.time() if when is None else when
        for sid, metrics in snapshot.get("strategies", {}).items():
            self._add(sid, when, float(metrics.get("equity", metrics.get("net_pnl", 0.0))))
        glob = snapshot.get("global", {})
        self._add(TOTAL, when, float(glob.get("equity", glob.get("net_pnl", 0.0))))
        now = time.monotonic()
        if force or now - self._drawn >= PNL_SECONDS:
            self._drawn = now
            self.redraw()

    def show_history(self, rows: list[dict[str, Any]]) -> None:
        """Draw the curves from P&L history rows (``timestamp``, ``strategy_id``, ``pnl``,
        oldest first), the total being every strategy's latest equity summed at each time."""
        if not rows:
            return
        curves: dict[str, tuple[list[float], list[float]]] = {}
        for row in rows:
            xs, ys = curves.setdefault(row["strategy_id"], ([], []))
            xs.append(float(row["timestamp"]))
            ys.append(float(row["pnl"]))
        for xs, ys in curves.values():  # a clock sample may come after a later fill's point
            order = np.argsort(xs, kind="stable")
            xs[:], ys[:] = np.asarray(xs)[order].tolist(), np.asarray(ys)[order].tolist()
        for key in list(self.curves):
            if key not in curves and key != TOTAL:
                self.plot.removeItem(self.curves.pop(key))
        self.points = {key: (xs, ys) for key, (xs, ys) in curves.items()}
        times, total = total_equity({k: (np.asarray(x), np.asarray(y))
                                     for k, (x, y) in curves.items()})
        self.points[TOTAL] = (times.tolist(), total.tolist())
        self.plot.enableAutoRange()
        self.redraw()

    def redraw(self) -> None:
        for key, (xs, ys) in self.points.items():
            curve = self.curves.get(key)
            if curve is None:
                curve = self.curves[key] = self.plot.plot(pen=self._pen(key))
                if key == TOTAL:
                    curve.setZValue(10)
            # peaks: the lowest and the highest point of every ``ds`` points, two each
            curve.setDownsampling(ds=max(1, math.ceil(2 * len(xs) / DRAWN_POINTS)), auto=False,
                                  method="peak")
            curve.setData(np.asarray(xs), np.asarray(ys))
        self._show_legend()

    def _add(self, key: str, when: float, value: float) -> None:
        xs, ys = self.points.setdefault(key, ([], []))
        xs.append(when)
        ys.append(value)
        if len(xs) > MAX_POINTS:
            xs[:] = xs[::2]
            ys[:] = ys[::2]

    def _colour(self, key: str) -> str:
        if key == TOTAL:
            return self.palette.total
        keys = [k for k in self.curves if k != TOTAL]
        index = keys.index(key) if key in keys else len(keys)
        return self.palette.lines[index % len(self.palette.lines)]

    def _pen(self, key: str) -> Any:
        return pg.mkPen(self._colour(key), width=2 if key == TOTAL else 1)

    def _show_legend(self) -> None:
        """The curves' names in their colours, the total last, in a line above the plot."""
        keys = [k for k in self.curves if k != TOTAL] + ([TOTAL] if TOTAL in self.curves else [])
        if not keys:
            self.legend.setText(f"<span style='color:{self.palette.muted}'>{EMPTY}</span>")
            return
        self.legend.setText(" &nbsp; ".join(
            f"<span style='color:{self._colour(k)}'>━</span> "
            f"<span style='color:{self.palette.foreground}'>{escape(k)}</span>" for k in keys))

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        paint_plot(self.plot, palette)
        self.grid.set_colour(palette.foreground, palette.grid)
        self.zero.setPen(pg.mkPen(palette.crosshair, style=Qt.PenStyle.DotLine))
        self.legend.setStyleSheet(f"background: {palette.background}; padding: 4px 8px;"
                                  "font-size: 9pt;")
        for key, curve in self.curves.items():
            curve.setPen(self._pen(key))
        self._show_legend()


def total_equity(curves: dict[str, tuple[np.ndarray, np.ndarray]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The sum of every curve's latest value at each time any of them has a point (a curve
    counts 0 before its first point): the total equity of strategies sampled apart."""
    if not curves:
        return np.zeros(0), np.zeros(0)
    times = np.unique(np.concatenate([xs for xs, _ in curves.values()]))
    total = np.zeros(times.shape[0])
    for xs, ys in curves.values():
        latest = np.searchsorted(xs, times, side="right") - 1
        total += np.where(latest >= 0, ys[np.maximum(latest, 0)], 0.0)
    return times, total
