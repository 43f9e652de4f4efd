"""How the window's pyqtgraph plots look: value scale, axes and background from the theme."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QLabel

from velocitas_desktop.gui.theme import ChartColours

# wide enough for a price like 104,250.00, and fixed: a scale that followed its widest label
# would shift the whole plot sideways whenever the range moved
VALUE_AXIS_PX = 70


def time_value_plot() -> pg.PlotWidget:
    """A plot of values over time: UTC dates along the bottom, the value scale on the right."""
    plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
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
            for _, values in ruler.tickValues(lo, hi, pixels)[:2]:  # major and minor labels
                for v in values:
                    if across:
                        x = to_box.map(QPointF(v, 0.0)).x()
                        lines.append(QLineF(x, area.top(), x, area.bottom()))
                    else:
                        y = to_box.map(QPointF(0.0, v)).y()
                        lines.append(QLineF(area.left(), y, area.right(), y))
        self._key, self._lines = key, lines
        return lines
