"""The equity curve of one optimisation row, backtested over the whole bar file."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from velocitas_desktop.gui.plots import paint_note, paint_plot, placeholder, time_value_plot
from velocitas_desktop.gui.theme import ChartColours
from velocitas_desktop.research.backtest import BacktestResult


class EquityChart(QWidget):
    """The selected row's equity at each bar close, with the in-sample / out-of-sample cut."""

    def __init__(self, palette: ChartColours) -> None:
        super().__init__()
        self.palette = palette
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = time_value_plot()
        self.curve = self.plot.plot()
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.cash_line = pg.InfiniteLine(angle=0, movable=False)
        self.split_line = pg.InfiniteLine(angle=90, movable=False,
                                          label="out of sample →",
                                          labelOpts={"position": 0.04, "anchors": [(0, 1),
                                                                                  (0, 1)]})
        self.plot.addItem(self.cash_line)
        self.plot.addItem(self.split_line)
        self.split_line.hide()
        # the caption above the plot, not in it: drawn over the view box, the row's title
        # and the "out of sample" label ran into each other and over the curve at 1600x960
        self.title = QLabel()
        self.title.setObjectName("equityCaption")
        self.title.setWordWrap(True)
        self.title.hide()
        self.placeholder = placeholder("Select a row of the results: its backtest over the "
                                       "whole file shows here, equity curve and trades.")
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.placeholder)
        self.plot.hide()
        self.set_palette(palette)

    def show_result(self, result: BacktestResult, cash: float, split: float | None,
                    caption: str) -> None:
        self.placeholder.hide()
        self.plot.show()
        self.curve.setData(np.asarray(result.stamps), np.asarray(result.equity))
        self.cash_line.setPos(cash)
        if split is None:
            self.split_line.hide()
        else:
            self.split_line.setPos(split)
            self.split_line.show()
        self.title.setText(caption)
        self.title.show()
        self.plot.enableAutoRange()

    def clear(self) -> None:
        self.curve.clear()
        self.split_line.hide()
        self.title.clear()
        self.title.hide()
        self.plot.hide()
        self.placeholder.show()

    @property
    def points(self) -> int:
        data = self.curve.getData()[1]
        return 0 if data is None else len(data)

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        paint_plot(self.plot, palette)
        paint_note(self.placeholder, palette)
        self.plot.showGrid(x=True, y=True, alpha=palette.grid / 255)
        self.curve.setPen(pg.mkPen(palette.lines[0], width=2))
        self.cash_line.setPen(pg.mkPen(palette.crosshair, style=Qt.PenStyle.DotLine))
        self.split_line.setPen(pg.mkPen(palette.lines[1], style=Qt.PenStyle.DashLine))
        self.split_line.label.setColor(palette.lines[1])

