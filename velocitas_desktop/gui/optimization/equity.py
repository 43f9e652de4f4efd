"""The equity curve of one optimisation row, backtested over the whole bar file."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

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
                                          labelOpts={"position": 0.95, "anchors": [(0, 0),
                                                                                  (0, 0)]})
        self.plot.addItem(self.cash_line)
        self.plot.addItem(self.split_line)
        self.split_line.hide()
        self.title = pg.TextItem(anchor=(0, 0))
        self.title.setParentItem(self.plot.getPlotItem().vb)
        self.title.setPos(6, 4)
        self.placeholder = placeholder("Select a row of the results: its backtest over the "
                                       "whole file shows here, equity curve and trades.")
        layout.addWidget(self.plot)
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
        self.title.setHtml(f"<span style='color:{self.palette.foreground};font-size:9pt'>"
                           f"{caption}</span>")
        self.plot.enableAutoRange()

    def clear(self) -> None:
        self.curve.clear()
        self.split_line.hide()
        self.title.setHtml("")
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

