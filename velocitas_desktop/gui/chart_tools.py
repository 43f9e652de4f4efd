"""The price chart's tools: time-only pan and zoom, tags on the axes, fill arrows, range fitting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsSimpleTextItem

from velocitas_desktop.gui.plots import (
    GridLines,
    TimeAxis,
    ValueAxis,
    cache_axes,
    paint_axes,
    time_text,
    value_scale_on_right,
)
from velocitas_desktop.gui.theme import ChartColours

FIT_PAD = 0.08      # room above and below the highest and lowest value in view
FIT_SLACK = 3.0     # a range up to this many times the values' own is left alone


class ChartViewBox(pg.ViewBox):
    """A view whose drag and wheel move time, not the value scale, as in TradingView.

    Holding Shift (or dragging the value scale itself) moves or stretches the values instead;
    ``values_touched`` then says the trader took the value scale in hand. ``time_touched``
    says a gesture moved time.
    """

    values_touched = Signal()
    time_touched = Signal()

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        if axis == 1 or (axis is None and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            with self._values_only():
                super().mouseDragEvent(ev, axis=1)
            self.values_touched.emit()
            return
        super().mouseDragEvent(ev, axis)
        self.time_touched.emit()

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:
        if axis == 1 or (axis is None and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            with self._values_only():
                super().wheelEvent(ev, axis=1)
            self.values_touched.emit()
            return
        super().wheelEvent(ev, axis)
        self.time_touched.emit()

    @contextmanager
    def _values_only(self) -> Iterator[None]:
        self.setMouseEnabled(x=False, y=True)
        try:
            yield
        finally:
            self.setMouseEnabled(x=True, y=False)


def settle_range(box: pg.ViewBox, low: float, high: float, from_zero: bool = False) -> bool:
    """Fit ``box``'s vertical range to values from ``low`` to ``high`` (from 0 up, for a
    volume), unless the range shown holds them already and is not more than ``FIT_SLACK``
    times too tall: a range that moved on every new price would lay the axes out again on
    every frame (~5 ms each). Returns True if the range moved."""
    if not high >= low:
        return False
    bottom, top = box.viewRange()[1]
    if bottom <= low and high <= top and (top - bottom) <= FIT_SLACK * max(high - low, 1e-12):
        return False
    pad = max((high - low) * FIT_PAD, abs(high) * 1e-5, 1e-12)
    if from_zero:
        box.setYRange(0.0, high * (1 + 3 * FIT_PAD) or 1.0, padding=0)
    else:
        box.setYRange(low - pad, high + pad, padding=0)
    return True


class AxisTag:
    """A value written in a filled box on an axis: the crosshair's price or time, the last
    price. It belongs to the axis (drawn over its labels), placed at ``value`` in the view."""

    def __init__(self, axis: pg.AxisItem, box: pg.ViewBox,
                 text_of: Callable[[float], str]) -> None:
        self.axis = axis
        self.box = box
        self.text_of = text_of
        self.value: float | None = None
        self.frame = QGraphicsRectItem(axis)
        self.frame.setZValue(100)
        self.frame.setPen(QPen(Qt.PenStyle.NoPen))
        self.label = QGraphicsSimpleTextItem(self.frame)
        font = QFont(axis.font() if hasattr(axis, "font") else QFont())
        font.setPointSizeF(8.0)  # "104,250.00" fits the value scale's width
        self.label.setFont(font)
        self.frame.hide()

    @property
    def vertical(self) -> bool:
        return self.axis.orientation in ("left", "right")

    def set_colours(self, fill: str, text: str) -> None:
        self.frame.setBrush(QBrush(QColor(fill)))
        self.label.setBrush(QBrush(QColor(text)))

    def show_at(self, value: float | None) -> None:
        """Put the tag at ``value`` (None hides it)."""
        self.value = value
        if value is None or value != value:
            self.frame.hide()
            return
        view = self.box.viewRect()
        inside = (view.top() <= value <= view.bottom()) if self.vertical else (
            view.left() <= value <= view.right())
        if not inside:
            self.frame.hide()
            return
        point = QPointF(view.left(), value) if self.vertical else QPointF(value, view.top())
        local = self.axis.mapFromScene(self.box.mapViewToScene(point))
        self.label.setText(self.text_of(value))
        text = self.label.boundingRect()
        if self.vertical:
            width = self.axis.width() if hasattr(self.axis, "width") else text.width() + 6
            rect = QRectF(0.0, local.y() - text.height() / 2 - 1, float(width), text.height() + 2)
        else:
            rect = QRectF(local.x() - text.width() / 2 - 4, 0.0, text.width() + 8,
                          text.height() + 2)
        self.frame.setRect(rect)
        self.label.setPos(rect.left() + 4, rect.top() + 1)
        self.frame.show()

    def refresh(self) -> None:
        """Place the tag again after the view moved."""
        self.show_at(self.value)


ARROW_SYMBOL_PX = 30  # the symbol's box; the arrow is a third of it, off its centre


def fill_arrow(up: bool) -> QPainterPath:
    """A fill's arrow, drawn a little away from its point: ▲ under a candle's low for a buy,
    ▼ over its high for a sell, so fills never cover the candles. pyqtgraph draws a symbol
    inside a box of [-0.5, 0.5] (its size in pixels, +y down the screen), so the arrow sits
    in one half of that box: 11 px tall and 4 px away from the point at 30 px."""
    near, far, half = 0.13, 0.49, 0.2
    sign = 1.0 if up else -1.0
    path = QPainterPath()
    path.moveTo(0.0, sign * near)
    path.lineTo(half, sign * far)
    path.lineTo(-half, sign * far)
    path.closeSubpath()
    return path


class Pane:
    """One plot of a chart, stacked with the others and sharing their time axis: the prices,
    the volume, or an indicator. Time-only pan and zoom, a grid, a crosshair (its line across
    the pane, its value tagged on the pane's scale) and a legend in the top-left corner."""

    def __init__(self, name: str, palette: ChartColours, value_text: Callable[[float], str],
                 grid: tuple[str, ...] = ("bottom", "right")) -> None:
        self.name = name
        self.box = ChartViewBox()
        self.plot = pg.PlotItem(viewBox=self.box,
                                axisItems={"bottom": TimeAxis(), "right": ValueAxis()})
        value_scale_on_right(self.plot)
        self.plot.hideButtons()  # its "A" fits all the data at once: Auto scale fits the view
        cache_axes(self.plot)
        self.grid = GridLines(self.plot, grid)
        self.axis: ValueAxis = self.plot.getAxis("right")
        self.v_line = pg.InfiniteLine(angle=90, movable=False)
        self.h_line = pg.InfiniteLine(angle=0, movable=False)
        for line in (self.v_line, self.h_line):
            line.hide()
            self.plot.addItem(line, ignoreBounds=True)
        self.value_tag = AxisTag(self.axis, self.box, value_text)
        self.time_tag = AxisTag(self.plot.getAxis("bottom"), self.box, time_text)
        self.legend = pg.TextItem(anchor=(0, 0))
        self.legend.setParentItem(self.box)
        self.legend.setPos(6, 2)
        self.box.sigRangeChanged.connect(self._moved)
        self.set_palette(palette)

    def show_time(self, shown: bool) -> None:
        """Dates under this pane (the bottom one), or no time axis (the others)."""
        if shown:
            self.plot.showAxis("bottom")
        else:
            self.plot.hideAxis("bottom")

    def point_at(self, x: float | None, y: float | None) -> None:
        """The crosshair at time ``x`` (all panes) and value ``y`` (the pane under the mouse)."""
        self.v_line.setVisible(x is not None)
        if x is not None:
            self.v_line.setPos(x)
        self.h_line.setVisible(y is not None)
        if y is not None:
            self.h_line.setPos(y)
        self.value_tag.show_at(y)

    def _moved(self, *_: Any) -> None:
        self.value_tag.refresh()
        self.time_tag.refresh()

    def set_palette(self, palette: ChartColours) -> None:
        paint_axes(self.plot, palette)
        self.grid.set_colour(palette.foreground, palette.grid)
        self.legend.fill = legend_fill(palette)
        self.legend.update()
        dash = pg.mkPen(palette.crosshair, style=Qt.PenStyle.DashLine)
        for line in (self.v_line, self.h_line):
            line.setPen(dash)
        for tag in (self.value_tag, self.time_tag):
            tag.set_colours(palette.foreground, palette.background)


def legend_fill(palette: ChartColours) -> QBrush:
    """The background of a legend written over a chart: the chart's own, a little
    transparent, so the text reads over candles and lines in either theme."""
    tint = QColor(palette.background)
    tint.setAlpha(200)
    return QBrush(tint)


def set_html(item: pg.TextItem, html: str) -> None:
    """Write ``html`` in a text item, unless it shows it already: laying text out again took
    ~0.7 ms a legend, and most redraws leave a legend as it was."""
    if getattr(item, "shown_html", None) != html:
        item.shown_html = html
        item.setHtml(html)
