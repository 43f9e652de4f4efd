"""How the window's pyqtgraph plots look: value scale, axes and background from the theme."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
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
