"""The P&L chart: equity of each strategy and of the total, over time."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from velocitas_desktop.gui.plots import GridLines, cache_axes, paint_plot, time_value_plot
from velocitas_desktop.gui.theme import ChartColours

PNL_SECONDS = 1.0       # the P&L lines are redrawn at most this often


class PnlChart(QWidget):
    """Equity (realised + unrealised P&L) of each strategy and of the total, over time."""

    def __init__(self, palette: ChartColours) -> None:
        super().__init__()
        self.palette = palette
        self.points: dict[str, tuple[list[float], list[float]]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._drawn = 0.0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = time_value_plot()
        self.plot.setDownsampling(auto=True, mode="peak")
        cache_axes(self.plot.getPlotItem())
        self.grid = GridLines(self.plot.getPlotItem())
        self.plot.setClipToView(True)
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.zero = pg.InfiniteLine(pos=0, angle=0, movable=False)
        self.plot.addItem(self.zero)
        layout.addWidget(self.plot)
        self.set_palette(palette)

    def clear(self) -> None:
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.legend.clear()
        self.points.clear()
        self.curves.clear()

    def add_snapshot(self, snapshot: dict[str, Any], when: float | None = None,
                     force: bool = False) -> None:
        """Record each strategy's equity and the total; redraw at most once a second."""
        when = time.time() if when is None else when
        for sid, metrics in snapshot.get("strategies", {}).items():
            self._add(sid, when, float(metrics.get("equity", metrics.get("net_pnl", 0.0))))
        glob = snapshot.get("global", {})
        self._add("Total", when, float(glob.get("equity", glob.get("net_pnl", 0.0))))
        now = time.monotonic()
        if force or now - self._drawn >= PNL_SECONDS:
            self._drawn = now
            self.redraw()

    def redraw(self) -> None:
        for key, (xs, ys) in self.points.items():
            curve = self.curves.get(key)
            if curve is None:
                curve = self.curves[key] = self.plot.plot(name=key, pen=self._pen(key))
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
            curve.setData(np.asarray(xs), np.asarray(ys))

    def _add(self, key: str, when: float, value: float) -> None:
        xs, ys = self.points.setdefault(key, ([], []))
        xs.append(when)
        ys.append(value)

    def _pen(self, key: str) -> Any:
        if key == "Total":
            return pg.mkPen(self.palette.total, width=2)
        index = len(self.curves)  # the curves drawn so far pick the next colour
        return pg.mkPen(self.palette.lines[index % len(self.palette.lines)], width=1)

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        paint_plot(self.plot, palette)
        self.grid.set_colour(palette.foreground, palette.grid)
        self.zero.setPen(pg.mkPen(palette.crosshair, style=Qt.PenStyle.DotLine))
        for i, (key, curve) in enumerate(self.curves.items()):
            curve.setPen(pg.mkPen(palette.total, width=2) if key == "Total"
                         else pg.mkPen(palette.lines[i % len(palette.lines)]))
