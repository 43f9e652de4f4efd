"""How the window's pyqtgraph plots look: value and time scales, axes and colours from the theme."""

from __future__ import annotations

import math
import time
from typing import Any

import pyqtgraph as pg
from pyqtgraph.graphicsItems.DateAxisItem import (
    DAY_SPACING,
    HOUR_SPACING,
    MINUTE_SPACING,
    MONTH_SPACING,
    SECOND_SPACING,
    YEAR_MONTH_ZOOM_LEVEL,
    TickSpec,
    ZoomLevel,
    makeMStepper,
    makeSStepper,
)
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QLabel

from velocitas_desktop.gui.theme import ChartColours

# wide enough for a price like 104,250.00, and fixed: a scale that followed its widest label
# would shift the whole plot sideways whenever the range moved
VALUE_AXIS_PX = 78


MAX_DECIMALS = 8  # a coin priced in hundred-millionths still reads; beyond, it is noise


def amount(value: float, step: float) -> str:
    """``value`` with thousands separators and as many decimals as ``step`` needs
    (step 0.25 -> two, step 0.2 -> one, step 500 -> none)."""
    return f"{value:,.{_decimals(step)}f}"


def _decimals(step: float) -> int:
    if step >= 1 or step <= 0:
        return 0
    decimals = math.ceil(-math.log10(step) - 1e-9)
    if decimals < MAX_DECIMALS and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1  # 0.25 needs the second digit its first one rounds away
    return min(decimals, MAX_DECIMALS)


def price_text(value: float) -> str:
    """A price as a trader reads it: separators, and cents or significant digits."""
    size = abs(value)
    if size >= 1:
        return f"{value:,.2f}"
    if size == 0:
        return "0"
    return amount(value, 10 ** (math.floor(math.log10(size)) - 3))


def time_text(stamp: float) -> str:
    """An epoch time as the crosshair's time tag reads it (UTC)."""
    when = time.gmtime(stamp)
    return time.strftime("%a %d %b %Y %H:%M:%S" if stamp % 60 else "%a %d %b %Y %H:%M", when)


class ValueAxis(pg.AxisItem):
    """A value scale with thousands separators and as many decimals as its tick step needs.

    With ``log`` set, the plot's values are the logarithms (base 10) of prices: ticks fall on
    round prices and read as prices.
    """

    def __init__(self, orientation: str = "right", **kwargs: Any) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.log = False

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if not self.log:
            return super().tickValues(minVal, maxVal, size)
        low, high = 10.0 ** minVal, 10.0 ** maxVal
        return [(spacing, [math.log10(v) for v in values if v > 0])
                for spacing, values in super().tickValues(low, high, size)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.log:
            return [amount(10.0 ** v, spacing) for v in values]
        return [amount(v, spacing) for v in values]


# Dates at the day boundaries carry the month ("06 Oct"), so a range of days reads without a
# calendar; no zoom level goes below whole seconds (a range that short labels nothing useful).
_DAY = TickSpec(DAY_SPACING, makeSStepper(DAY_SPACING), "%d %b")
_TIME_LEVELS = {
    float("inf"): YEAR_MONTH_ZOOM_LEVEL,
    5 * 3600 * 24: ZoomLevel([TickSpec(MONTH_SPACING, makeMStepper(1), "%b %Y"),
                              TickSpec(DAY_SPACING, makeSStepper(DAY_SPACING), "%d %b",
                                       autoSkip=[1, 5])], "00 MMM"),
    6 * 3600: ZoomLevel([_DAY, TickSpec(HOUR_SPACING, makeSStepper(HOUR_SPACING), "%H:%M",
                                        autoSkip=[1, 6])], "00 MMM"),
    15 * 60: ZoomLevel([_DAY, TickSpec(MINUTE_SPACING, makeSStepper(MINUTE_SPACING), "%H:%M",
                                       autoSkip=[1, 5, 15])], "00 MMM"),
    30: ZoomLevel([_DAY, TickSpec(SECOND_SPACING, makeSStepper(SECOND_SPACING), "%H:%M:%S",
                                  autoSkip=[1, 5, 15, 30])], "99:99:99"),
}


class TimeAxis(pg.DateAxisItem):
    """UTC dates and times, with the month wherever the day changes."""

    def __init__(self, orientation: str = "bottom", **kwargs: Any) -> None:
        super().__init__(orientation, utcOffset=0, **kwargs)
        self.zoomLevels = dict(_TIME_LEVELS)
        # the label sizes are measured with the last painter's font; until one has painted
        # (a hidden axis never does), with the axis's own
        self.fontMetrics = QFontMetrics(self.font())


def time_value_plot() -> pg.PlotWidget:
    """A plot of values over time: UTC dates along the bottom, the value scale on the right."""
    plot = pg.PlotWidget(axisItems={"bottom": TimeAxis(), "right": ValueAxis()})
    value_scale_on_right(plot.getPlotItem())
    return plot


def value_scale_on_right(plot: pg.PlotItem) -> None:
    """The value scale on the right, where a trader reads the last price; no context menu."""
    plot.setMenuEnabled(False)
    plot.showAxis("right")
    plot.hideAxis("left")
    plot.getAxis("right").setWidth(VALUE_AXIS_PX)


def paint_axes(plot: pg.PlotItem | pg.PlotWidget, palette: ChartColours,
               sides: tuple[str, ...] = ("right", "bottom")) -> None:
    """The lines and labels of the plot's axes in the theme's foreground colour."""
    for side in sides:
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(palette.foreground))
        axis.setTextPen(pg.mkPen(palette.foreground))


def paint_plot(plot: pg.PlotWidget, palette: ChartColours,
               sides: tuple[str, ...] = ("right", "bottom")) -> None:
    """A plot's background and axes in the theme's colours."""
    plot.setBackground(palette.background)
    paint_axes(plot, palette, sides)


def placeholder(text: str) -> QLabel:
    """The note shown in place of a plot until there is something to draw (see paint_note)."""
    label = QLabel(text)
    label.setObjectName("mutedLabel")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def paint_note(label: QLabel, palette: ChartColours) -> None:
    label.setStyleSheet(f"color: {palette.muted}; padding: 24px;")


def cache_axes(plot: pg.PlotItem) -> None:
    """Keep each axis (its labels and ticks) as a pixmap, redrawn only when its range or style
    changes: otherwise every repaint of any item in the plot replays all the axis text."""
    for name in ("left", "right", "top", "bottom"):
        plot.getAxis(name).setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


class GridLines(pg.GraphicsObject):
    """Faint lines at the labelled ticks of a plot's axes, drawn inside its view in one call.

    pyqtgraph's own grid is drawn by each axis across the whole plot, which makes every axis
    as large as the plot: its text and lines were re-rendered over the whole area whenever the
    range moved (~5 ms an axis, the largest part of a chart's frame). Here the axes stay small
    and the grid costs a handful of lines. The item lives in the view box's own (pixel)
    coordinates, so a change of range only asks for a repaint, never for new geometry.
    """

    def __init__(self, plot: pg.PlotItem, axes: tuple[str, ...] = ("bottom", "right")) -> None:
        super().__init__()
        self.plot = plot
        # Tick positions come from axis items of the same kinds that are in no scene, so that
        # asking for them never changes the state of the axes on screen.
        self.rulers = [(type(plot.getAxis(name))(orientation=name), name in ("bottom", "top"))
                       for name in axes]
        for ruler, _ in self.rulers:  # a date axis sizes its labels with the metrics of the
            ruler.fontMetrics = QFontMetrics(ruler.font())  # last painter, which is gone here
        self.pen = QPen()
        self._key: tuple | None = None
        self._lines: list[QLineF] = []
        box = plot.getViewBox()
        self.setParentItem(box)
        self.setZValue(-1000)  # under everything the plot shows
        box.sigRangeChanged.connect(self._moved)
        box.sigResized.connect(self._resized)

    def set_log(self, log: bool) -> None:
        """Lines at the round prices of a log scale (or back at a linear scale's ticks)."""
        for ruler, _ in self.rulers:
            if isinstance(ruler, ValueAxis):
                ruler.log = log
        self._key = None
        self.update()

    def set_colour(self, colour: str, alpha: int) -> None:
        tint = QColor(colour)
        tint.setAlpha(alpha)
        self.pen = QPen(tint)
        self.pen.setCosmetic(True)
        self.update()

    def _moved(self, *_: Any) -> None:
        self.update()

    def _resized(self, *_: Any) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self.plot.getViewBox().rect())

    def paint(self, painter: QPainter, *args: Any) -> None:
        lines = self.lines()
        if lines:
            painter.setPen(self.pen)
            painter.drawLines(lines)

    def lines(self) -> list[QLineF]:
        """The grid's lines in the view box's pixels, at the ticks the axes label (worked
        out again only when the range or the size changed: a date axis takes a while)."""
        box = self.plot.getViewBox()
        area = box.rect()
        view = box.viewRect()
        key = (view.getRect(), area.getRect())
        if key == self._key:
            return self._lines
        to_box = box.childGroup.transform()  # data coordinates -> this item's pixels
        lines: list[QLineF] = []
        for ruler, across in self.rulers:  # across: vertical lines at the x ticks
            lo, hi = (view.left(), view.right()) if across else (view.top(), view.bottom())
            pixels = area.width() if across else area.height()
            if pixels <= 0 or not hi > lo:
                continue
            for v in _ticks(ruler, lo, hi, pixels):
                if across:
                    x = to_box.map(QPointF(v, 0.0)).x()
                    lines.append(QLineF(x, area.top(), x, area.bottom()))
                else:
                    y = to_box.map(QPointF(0.0, v)).y()
                    lines.append(QLineF(area.left(), y, area.right(), y))
        self._key, self._lines = key, lines
        return lines


# The labelled ticks of recent ranges, shared by every grid: the panes of a chart share one
# time range, and a date axis took ~1 ms to place its ticks, once per pane and redraw.
_TICKS: dict[tuple, list[float]] = {}
_TICKS_KEPT = 32


def _ticks(ruler: pg.AxisItem, lo: float, hi: float, pixels: float) -> list[float]:
    """The values an axis like ``ruler`` labels (major and minor) from ``lo`` to ``hi``."""
    key = (type(ruler), getattr(ruler, "log", False), lo, hi, pixels)
    found = _TICKS.get(key)
    if found is None:
        if len(_TICKS) >= _TICKS_KEPT:
            _TICKS.clear()
        found = _TICKS[key] = [v for _, values in ruler.tickValues(lo, hi, pixels)[:2]
                               for v in values]
    return found
