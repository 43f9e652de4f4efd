"""The optimisation heatmap: the ranking metric over two parameters, one cell a combination."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from velocitas_desktop.gui.optimization.helpers import cell_ticks
from velocitas_desktop.gui.plots import paint_note, paint_plot, placeholder
from velocitas_desktop.gui.theme import ChartColours

MAX_CELL_LABELS = 225    # heatmap cells labelled with their score (15 x 15)


class Heatmap(QWidget):
    """The chosen metric over two parameters as coloured, labelled cells with a colour bar."""

    cell_clicked = Signal(object)  # {x_name: value, y_name: value}

    def __init__(self, palette: ChartColours) -> None:
        super().__init__()
        self.palette = palette
        self.xs: list[Any] = []
        self.ys: list[Any] = []
        self.names = ("", "")
        self.grid = np.zeros((0, 0))
        self.labels: list[pg.TextItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=self._colour_map(False),
                                          interactive=False, width=14)
        self.colour_bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.marker = QGraphicsRectItem(0, 0, 1, 1)  # outlines the best row's cell
        self.marker.setZValue(10)
        self.marker.hide()
        self.plot.addItem(self.marker)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.placeholder = placeholder("Run an optimisation over two or more parameters: "
                                       "the ranking metric shows here over two of them.")
        layout.addWidget(self.plot)
        layout.addWidget(self.placeholder)
        self.plot.hide()
        self.set_palette(palette)

    def _colour_map(self, lower_is_better: bool) -> pg.ColorMap:
        stops = [self.palette.down, self.palette.neutral, self.palette.up]
        if lower_is_better:
            stops.reverse()
        return pg.ColorMap([0.0, 0.5, 1.0], stops)

    def show_grid(self, x_name: str, y_name: str, xs: list[Any], ys: list[Any],
                  grid: np.ndarray, lower_is_better: bool, best: tuple[Any, Any]) -> None:
        self.names, self.xs, self.ys, self.grid = (x_name, y_name), xs, ys, grid
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        finite = grid[np.isfinite(grid)]
        if not finite.size:
            self.clear()
            return
        low, high = float(finite.min()), float(finite.max())
        if high == low:
            low, high = low - 1.0, high + 1.0
        self.placeholder.hide()
        self.plot.show()
        self.colour_bar.setColorMap(self._colour_map(lower_is_better))
        self.image.setImage(grid, autoLevels=False)
        self.colour_bar.setLevels((low, high))
        self.image.setRect(QRectF(0, 0, len(xs), len(ys)))
        self.plot.getAxis("bottom").setTicks([cell_ticks(xs)])
        self.plot.getAxis("left").setTicks([cell_ticks(ys)])
        self.plot.setLabel("bottom", x_name)
        self.plot.setLabel("left", y_name)
        self.plot.setXRange(0, len(xs), padding=0.02)
        self.plot.setYRange(0, len(ys), padding=0.02)
        if grid.size <= MAX_CELL_LABELS:
            self._label_cells(grid)
        self.fit_labels()
        self.marker.setRect(QRectF(xs.index(best[0]), ys.index(best[1]), 1, 1))
        self.marker.show()

    def _label_cells(self, grid: np.ndarray) -> None:
        for (i, j), value in np.ndenumerate(grid):
            if not math.isfinite(value):
                continue
            label = pg.TextItem(f"{value:.2f}", color=self.palette.cell_text, anchor=(0.5, 0.5))
            label.setPos(i + 0.5, j + 0.5)
            self.plot.addItem(label)
            self.labels.append(label)

    def labels_fit(self) -> bool:
        """Whether every cell is wide and tall enough for its score's text."""
        if not self.labels or not self.xs or not self.ys:
            return False
        box = self.plot.getPlotItem().vb.sceneBoundingRect()
        metrics = QFontMetrics(self.labels[0].textItem.font())
        widest = max(metrics.horizontalAdvance(label.toPlainText()) for label in self.labels)
        # TextItem pads its text by a few pixels on each side
        return (box.width() / len(self.xs) >= widest + 6
                and box.height() / len(self.ys) >= metrics.height() + 2)

    def fit_labels(self) -> None:
        """Scores written in the cells only where they fit: at 1600x960 a 10x10 grid's
        labels ran into each other as unreadable digits (the colour bar still reads)."""
        fit = self.labels_fit()
        for label in self.labels:
            label.setVisible(fit)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self.fit_labels)  # once the plot has laid out its view box

    def clear(self) -> None:
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        self.image.clear()
        self.marker.hide()
        self.grid = np.zeros((0, 0))
        self.plot.hide()
        self.placeholder.show()

    def _clicked(self, event: Any) -> None:
        if not self.grid.size:
            return
        point: QPointF = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        i, j = math.floor(point.x()), math.floor(point.y())
        if 0 <= i < len(self.xs) and 0 <= j < len(self.ys) and math.isfinite(self.grid[i, j]):
            self.cell_clicked.emit({self.names[0]: self.xs[i], self.names[1]: self.ys[j]})

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        paint_plot(self.plot, palette, ("left", "bottom"))
        paint_note(self.placeholder, palette)
        pen = pg.mkPen(palette.total, width=2)
        pen.setCosmetic(True)
        self.marker.setPen(pen)

