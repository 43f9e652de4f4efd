"""The Trend tab's price chart: the whole loaded history at any zoom, with levels and trend lines.

A million one-minute bars cannot each be an item, nor each be painted on every frame (a
peer's pyqtgraph chart of PlotDataItems froze near 500,000 bars). :class:`LodBarsItem` is one
GraphicsObject that paints only what is in view, at the detail the zoom allows: candles when
few enough bars are in view to tell apart, else one vertical stroke per pixel column from the
lowest low to the highest high of the bars under it, read from a precomputed
:class:`~velocitas_desktop.gui.trend.pyramid.MinMaxPyramid`. A repaint touches O(pixels)
values whatever the zoom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QVBoxLayout, QWidget

from velocitas_desktop.gui.chart_tools import ChartViewBox, settle_range
from velocitas_desktop.gui.plots import (
    GridLines,
    TimeAxis,
    ValueAxis,
    cache_axes,
    paint_axes,
    price_text,
    time_text,
    value_scale_on_right,
)
from velocitas_desktop.gui.theme import ChartColours
from velocitas_desktop.gui.trend.pyramid import Envelope, MinMaxPyramid

CANDLE_PX = 4           # candles once each bar in view gets at least this many pixels
BODY = 0.7              # candle body width, as a fraction of the bar
MIN_BARS_IN_VIEW = 20   # the deepest zoom: a candle pattern still reads at 20 bars
LEVELS_SHOWN = 8        # support/resistance levels drawn (the report's nearest first)
CURVE_POINTS = 64       # points of the trend line, a straight line in log price
LABEL_PX = 16.0         # a level label's height in pixels


def _pen(colour: str | QColor, width: float = 1.0,
         style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(colour), width, style)
    pen.setCosmetic(True)
    return pen


def _tint(colour: str, alpha: int) -> QColor:
    tinted = QColor(colour)
    tinted.setAlpha(alpha)
    return tinted


class LodBarsItem(pg.GraphicsObject):
    """OHLC bars painted at the level of detail of the zoom: candles or a min/max envelope.

    ``drawn`` counts the primitives (candles or envelope strokes) of the last paint, so a
    test and the bench can check the cost of a frame stays bounded by the pixels.
    """

    def __init__(self, palette: ChartColours) -> None:
        super().__init__()
        self.palette = palette
        self.time = np.empty(0)
        self.interval = 60.0
        self.pyramid: MinMaxPyramid | None = None
        self._bounds = QRectF()
        self.drawn = 0
        self.mode = ""        # "candles" | "envelope": what the last paint drew

    def set_bars(self, time: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                 close: np.ndarray, interval: float) -> None:
        """Show these bars (numpy arrays, open times in epoch seconds); the pyramid is built
        here (~20 ms for a million bars), not on any repaint."""
        self.time = np.asarray(time, dtype=np.float64)
        self.interval = float(interval)
        self.pyramid = MinMaxPyramid(open, high, low, close) if len(self.time) else None
        self.prepareGeometryChange()
        if self.pyramid is None:
            self._bounds = QRectF()
        else:
            low_all, high_all = self.pyramid.extent(0, len(self.time))
            left = float(self.time[0]) - self.interval
            width = float(self.time[-1]) - left + 2 * self.interval
            self._bounds = QRectF(left, low_all, width, max(high_all - low_all, 1e-9))
        self.update()

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        self.update()

    def in_view(self, left: float, right: float) -> tuple[int, int]:
        """Indices ``lo``, ``hi`` (exclusive) of the bars whose time is in ``left``..``right``."""
        lo = int(np.searchsorted(self.time, left - self.interval, side="left"))
        hi = int(np.searchsorted(self.time, right, side="right"))
        return lo, hi

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def paint(self, painter: QPainter, *args: Any) -> None:
        view = self.viewRect()
        box = self.getViewBox()
        if self.pyramid is None or view is None or box is None:
            self.drawn = 0
            return
        pixels = max(int(box.width()), 1)
        lo, hi = self.in_view(view.left(), view.right())
        if hi <= lo:
            self.drawn = 0
            return
        if (hi - lo) * CANDLE_PX <= pixels:
            self._paint_candles(painter, lo, hi)
        else:
            self._paint_envelope(painter, self.pyramid.envelope(lo, hi, pixels))

    def _paint_candles(self, painter: QPainter, lo: int, hi: int) -> None:
        pyramid = self.pyramid
        assert pyramid is not None
        t = self.time[lo:hi]
        o, c = pyramid.open[lo:hi], pyramid.close[lo:hi]
        h, low = pyramid.highs[0][lo:hi], pyramid.lows[0][lo:hi]
        half = self.interval * BODY / 2
        rising = c >= o
        for up in (True, False):
            pick = rising == up
            if not pick.any():
                continue
            colour = self.palette.up if up else self.palette.down
            painter.setPen(_pen(colour))
            painter.setBrush(QBrush(QColor(colour)))
            x = t[pick] + self.interval / 2
            painter.drawPath(_strokes(x, low[pick], h[pick]))
            bottom, top = np.minimum(o[pick], c[pick]), np.maximum(o[pick], c[pick])
            painter.drawRects([QRectF(xi - half, bi, 2 * half, ti - bi) for xi, bi, ti
                               in zip(x.tolist(), bottom.tolist(), top.tolist(), strict=True)])
        self.drawn, self.mode = hi - lo, "candles"

    def _paint_envelope(self, painter: QPainter, env: Envelope) -> None:
        # each bucket a stroke from its lowest low to its highest high, in the colour of its
        # move: about one stroke per pixel column, so the strokes read as a filled band
        x = self.time[env.first] + self.interval * env.size / 2
        rising = env.close >= env.open
        for up in (True, False):
            pick = rising == up
            if pick.any():
                painter.setPen(_pen(self.palette.up if up else self.palette.down))
                painter.drawPath(_strokes(x[pick], env.low[pick], env.high[pick]))
        self.drawn, self.mode = len(env), "envelope"


def _breakout_tip(x: float, y: float, data: dict[str, Any]) -> str:
    """A breakout marker's tooltip: which way, through which level, when."""
    through = "resistance" if data.get("direction") == "up" else "support"
    return (f"break {data.get('direction')} through {through} {price_text(data['level'])}\n"
            f"close {price_text(data['close'])}, {time_text(data['time'])} UTC")


def _strokes(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> Any:
    """One QPainterPath of vertical strokes (x, low)-(x, high), built by pyqtgraph from arrays
    (one Python object for all of them, not one per stroke)."""
    xs = np.repeat(x, 2)
    ys = np.empty(2 * len(x))
    ys[0::2], ys[1::2] = low, high
    return pg.arrayToQPath(xs, ys, connect="pairs")


class LevelLabels(pg.GraphicsObject):
    """The levels' labels (``R 71,200.00 ×4``) at the left of the view, beside their lines.

    Levels a few pixels apart would write their labels over each other (the sample's 4h
    levels did, four within 1% of price): each label is pushed down below the one above it
    when they would overlap, so all stay readable. The item lives in the view box's pixels,
    so a change of range only asks for a repaint.
    """

    def __init__(self, box: pg.ViewBox) -> None:
        super().__init__()
        self.box = box
        self.labels: list[tuple[float, str, QColor]] = []  # price, text, colour
        self.fill = QColor(0, 0, 0, 160)
        self.setParentItem(box)
        self.setZValue(20)
        box.sigRangeChanged.connect(lambda *_: self.update())
        box.sigResized.connect(self._resized)

    def _resized(self, *_: Any) -> None:
        self.prepareGeometryChange()
        self.update()

    def set_labels(self, labels: list[tuple[float, str, QColor]]) -> None:
        self.labels = sorted(labels, key=lambda label: -label[0])  # top of the view first
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self.box.rect())

    def placed(self) -> list[tuple[float, str, QColor]]:
        """Each label's top in the view's pixels (pushed down past the one above), its text
        and colour, for those whose level is in view."""
        if not self.labels:
            return []
        to_box = self.box.childGroup.transform()
        area = self.box.rect()
        height = LABEL_PX
        placed: list[tuple[float, str, QColor]] = []
        below = -math.inf
        for price, text, colour in self.labels:
            y = to_box.map(QPointF(0.0, price)).y() - height
            if y + height < area.top() or y > area.bottom():
                continue
            y = max(y, below)
            placed.append((y, text, colour))
            below = y + height
        return placed

    def paint(self, painter: QPainter, *args: Any) -> None:
        metrics = painter.fontMetrics()
        for y, text, colour in self.placed():
            rect = QRectF(6.0, y, metrics.horizontalAdvance(text) + 8.0, LABEL_PX)
            painter.fillRect(rect, self.fill)
            painter.setPen(QPen(colour))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class TrendChart(QWidget):
    """One timeframe's bars with the analysis drawn over them: support and resistance
    (zones labelled with their touches), the regression trend line and its channel, and
    the breakouts. Time pans and zooms; the price scale fits the bars in view."""

    def __init__(self, palette: ChartColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette = palette
        self.box = ChartViewBox()
        self.plot_widget = pg.PlotWidget(viewBox=self.box,
                                         axisItems={"bottom": TimeAxis(), "right": ValueAxis()})
        self.view = self.plot_widget  # the graphics view the mouse and wheel act on
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        value_scale_on_right(self.plot)
        self.plot.hideButtons()
        cache_axes(self.plot)
        self.grid = GridLines(self.plot)
        self.bars = LodBarsItem(palette)
        self.plot.addItem(self.bars)
        self.overlays: list[pg.GraphicsObject] = []
        self.level_lines: list[pg.InfiniteLine] = []
        self.trend_curves: list[pg.PlotDataItem] = []
        self.breakout_marks: pg.ScatterPlotItem | None = None
        self.caption = pg.TextItem(anchor=(1, 0))
        self.caption.setParentItem(self.box)
        self.level_labels = LevelLabels(self.box)
        self.box.sigResized.connect(self._place_caption)
        self.box.sigXRangeChanged.connect(self._time_moved)
        self.box.values_touched.connect(self._values_taken)
        self._values_held = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.set_palette(palette)

    # --- bars ----------------------------------------------------------------------------

    def show_bars(self, time: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                  close: np.ndarray, interval: float, caption: str = "") -> None:
        """Show these bars, the whole history in view."""
        self.bars.set_bars(time, open, high, low, close, interval)
        self._values_held = False
        self.caption.setText(caption)
        if not len(time):
            return
        left = float(time[0]) - interval
        right = float(time[-1]) + 2 * interval
        span = right - left
        self.box.setLimits(xMin=left - span * 0.05, xMax=right + span * 0.05,
                           minXRange=interval * MIN_BARS_IN_VIEW)
        self.show_all()

    def show_all(self) -> None:
        """The whole history in view."""
        time = self.bars.time
        if len(time):
            self.show_range(float(time[0]) - self.bars.interval,
                            float(time[-1]) + 2 * self.bars.interval)

    def show_recent(self, bars: int) -> None:
        """The newest ``bars`` bars in view (and a little room on the right)."""
        time = self.bars.time
        if len(time):
            first = float(time[max(len(time) - bars, 0)])
            self.show_range(first, float(time[-1]) + 3 * self.bars.interval)

    def show_range(self, left: float, right: float) -> None:
        """Time ``left``..``right`` in view (as a drag or the wheel would leave it)."""
        self.box.setXRange(left, right, padding=0)
        self._fit_values()

    def clear(self) -> None:
        self.bars.set_bars(np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.empty(0), 60)
        self.clear_analysis()
        self.caption.setText("")

    def _place_caption(self, *_: Any) -> None:
        self.caption.setPos(self.box.width() - 6, 2)  # top right: the labels take the left

    def _time_moved(self, *_: Any) -> None:
        if not self._values_held:
            self._fit_values()

    def _values_taken(self) -> None:
        self._values_held = True  # the trader stretched the price scale: leave it be

    def _fit_values(self) -> None:
        """The price scale over the bars in view: exact, from the pyramid in O(log n)."""
        if self.bars.pyramid is None:
            return
        left, right = self.box.viewRange()[0]
        lo, hi = self.bars.in_view(left, right)
        low, high = self.bars.pyramid.extent(lo, hi)
        if math.isfinite(low) and math.isfinite(high):
            settle_range(self.box, low, high)

    # --- the analysis --------------------------------------------------------------------

    def clear_analysis(self) -> None:
        for item in self.overlays:
            self.plot.removeItem(item)
        self.overlays.clear()
        self.level_lines.clear()
        self.level_labels.set_labels([])
        self.trend_curves.clear()
        self.breakout_marks = None

    def show_analysis(self, timeframe: dict[str, Any]) -> None:
        """Draw one timeframe's levels, trend line and channel, and breakouts (the report's
        JSON of that timeframe); a timeframe without them (ok false) draws nothing."""
        self.clear_analysis()
        if not timeframe.get("ok"):
            return
        labels = [self._add_level(level)
                  for level in list(timeframe.get("levels") or [])[:LEVELS_SHOWN]]
        self.level_labels.set_labels(labels)
        line = timeframe.get("trend_line")
        if line:
            self._add_trend_line(line)
        self._add_breakouts(timeframe.get("breakouts") or [])

    def _add(self, item: pg.GraphicsObject) -> None:
        self.plot.addItem(item, ignoreBounds=True)
        self.overlays.append(item)

    def _add_level(self, level: dict[str, Any]) -> tuple[float, str, QColor]:
        """The level's zone and line; returns its label (price, text, colour)."""
        support = level.get("kind") == "support"
        colour = self.palette.up if support else self.palette.down
        low, high = level.get("low"), level.get("high")
        if low is not None and high is not None and high > low:
            zone = pg.LinearRegionItem((low, high), orientation="horizontal", movable=False,
                                       brush=QBrush(_tint(colour, 38)),
                                       pen=_pen(_tint(colour, 0)))
            zone.setZValue(-10)
            self._add(zone)
        touches = level.get("touches") or 0
        text = (f"{'S' if support else 'R'} {price_text(level['price'])}"
                f"  ×{touches}")
        line = pg.InfiniteLine(pos=level["price"], angle=0, movable=False,
                               pen=_pen(colour, 1.0, Qt.PenStyle.DashLine))
        line.setToolTip(f"{level.get('kind', 'level')} at {price_text(level['price'])}, "
                        f"touched {touches} times")
        self._add(line)
        self.level_lines.append(line)
        return (float(level["price"]), text, QColor(colour))

    def _add_trend_line(self, line: dict[str, Any]) -> None:
        (t0, t1), (p0, p1) = line["time"], line["price"]
        if not (p0 and p1 and p0 > 0 and p1 > 0 and t1 > t0):
            return
        # the fit is of log price: a straight line there, a gentle curve in price
        t = np.linspace(t0, t1, CURVE_POINTS)
        price = p0 * (p1 / p0) ** ((t - t0) / (t1 - t0))
        accent = self.palette.lines[0]
        centre = pg.PlotDataItem(t, price, pen=_pen(accent, 2.0))
        self._add(centre)
        self.trend_curves.append(centre)
        channel = line.get("channel_pct")
        if channel:
            for side in (1.0, -1.0):
                edge = pg.PlotDataItem(t, price * (1 + side * channel / 100.0),
                                       pen=_pen(accent, 1.0, Qt.PenStyle.DashLine))
                self._add(edge)
                self.trend_curves.append(edge)

    def _add_breakouts(self, breakouts: Sequence[dict[str, Any]]) -> None:
        if not breakouts:
            return
        spots = []
        for b in breakouts:
            up = b.get("direction") == "up"
            colour = self.palette.up if up else self.palette.down
            spots.append({"pos": (b["time"] + self.bars.interval / 2, b["close"]),
                          "symbol": "t1" if up else "t", "size": 13,
                          "brush": QBrush(QColor(colour)), "pen": _pen("#000000"),
                          "data": b})
        marks = pg.ScatterPlotItem(spots=spots, hoverable=True, tip=_breakout_tip)
        marks.setZValue(10)
        self._add(marks)
        self.breakout_marks = marks

    # --- theme ---------------------------------------------------------------------------

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        self.plot_widget.setBackground(palette.background)
        paint_axes(self.plot, palette)
        self.grid.set_colour(palette.foreground, palette.grid)
        self.caption.setColor(QColor(palette.foreground))
        self.level_labels.fill = _tint(palette.background, 200)
        self.bars.set_palette(palette)


__all__: list[str] = ["LevelLabels", "LodBarsItem", "TrendChart"]
