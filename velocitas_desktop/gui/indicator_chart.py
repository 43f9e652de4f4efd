"""Indicators drawn on a price chart: over the candles or in panes under them, and the menu to add them."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QMenu,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.candles import Candles, CandleSet
from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.gui.chart_tools import Pane, legend_fill, set_html, settle_range
from velocitas_desktop.gui.indicators import (
    CATALOGUE,
    StrategyStudy,
    Study,
    StudyValues,
    parameters,
    study_by_hand,
)
from velocitas_desktop.gui.plots import price_text
from velocitas_desktop.gui.theme import ChartColours

__all__ = ["ChartIndicators", "IndicatorDialog", "StrategyStudy", "indicator_menu_button"]

HISTOGRAM_ALPHA = 110  # a MACD histogram's bars, behind its lines


class Chart(Protocol):
    """What the indicators need of the chart they are drawn on (gui.charts.PriceChart)."""

    book: CandleSet
    series: Candles
    interval: float
    log: bool
    palette: ChartColours
    price_pane: Pane

    def add_pane(self, name: str) -> Pane: ...
    def remove_pane(self, pane: Pane) -> None: ...


class DrawnStudy:
    """One study's lines, levels and legend on a chart."""

    def __init__(self, chart: Chart, study: Study, colours: list[str], own: bool) -> None:
        self.chart = chart
        self.study = study
        self.own = own  # the selected strategy's, not one added by hand
        self.values = StudyValues(study)
        self.pane = chart.price_pane if study.overlay else chart.add_pane(study.label)
        self.colours = colours
        self.items: list[pg.PlotDataItem] = []
        for name in study.lines:
            item = pg.PlotDataItem(connect="finite")
            if name == "hist":  # MACD's histogram: an area from zero, behind its lines
                item.setFillLevel(0.0)
                item.setZValue(-10)
            # only the points in view are drawn: the panes' ranges are fitted by this module
            # from the values, never by pyqtgraph from what it drew, so nothing depends on a
            # clipped line's bounds (a redraw at full speed: 23 ms -> see bench/charts.py)
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
            self.items.append(item)
            self.pane.plot.addItem(item)
        self.levels = [pg.InfiniteLine(pos=level, angle=0, movable=False)
                       for level in study.levels]
        for line in self.levels:
            self.pane.plot.addItem(line, ignoreBounds=True)
        self.set_palette(chart.palette)

    def source(self) -> Candles:
        """The candles the study is fed: its strategy's bars, else the chart's."""
        seconds = self.study.timeframe
        return self.chart.book.series_for(seconds if seconds is not None else
                                          self.chart.interval)

    def redraw(self, force: bool = False) -> None:
        source = self.source()
        if not self.values.update(source) and not force:
            return
        values = self.values
        times = values.times
        if source.interval != self.chart.series.interval:
            times = times + source.interval  # known at its bar's close, on finer candles
        for item, line in zip(self.items, values.values, strict=True):
            y = line
            if self.study.overlay and self.chart.log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    y = np.log10(line)
            if times.size:
                item.setData(x=times, y=y)
            else:
                item.clear()

    def visible_range(self, left: float, right: float) -> tuple[float, float] | None:
        """The lowest and highest value in view (levels included), for a pane's scale."""
        times = self.values.times
        lo, hi = np.searchsorted(times, (left, right))
        parts = [v[lo:hi] for v in self.values.values]
        numbers = np.concatenate([*parts, np.asarray(self.study.levels, dtype=float)])
        numbers = numbers[np.isfinite(numbers)]
        if not numbers.size:
            return None
        return float(numbers.min()), float(numbers.max())

    def legend(self) -> str:
        """The label, each line's newest value in its colour, and the warm-up if any."""
        palette = self.chart.palette
        parts = [f"<b>{self.study.label}</b>"]
        names = self.study.lines
        for k, value in enumerate(self.values.latest()):
            if math.isnan(value):
                continue
            name = "" if len(names) == 1 else f"{names[k]} "
            text = price_text(value) if self.study.overlay else f"{value:,.4g}"
            parts.append(f"<span style='color:{self.colours[k]}'>{name}{text}</span>")
        warming = self.values.warm_up_text()
        if warming:
            parts.append(f"<span style='color:{palette.muted}'>· {warming}</span>")
        return " ".join(parts)

    def set_log(self) -> None:
        if self.study.overlay:
            for line, level in zip(self.levels, self.study.levels, strict=True):
                line.setPos(math.log10(level) if self.chart.log and level > 0 else level)
            self.redraw(force=True)

    def set_palette(self, palette: ChartColours) -> None:
        for k, (item, name) in enumerate(zip(self.items, self.study.lines, strict=True)):
            colour = self.colours[k % len(self.colours)]
            if name == "hist":
                tint = pg.mkColor(palette.crosshair)
                tint.setAlpha(HISTOGRAM_ALPHA)
                item.setPen(None)
                item.setBrush(pg.mkBrush(tint))
            else:
                item.setPen(pg.mkPen(colour, width=1.5 if self.own else 1.2))
        for line in self.levels:
            line.setPen(pg.mkPen(palette.crosshair, style=Qt.PenStyle.DashLine))

    def remove(self) -> None:
        for item in [*self.items, *self.levels]:
            self.pane.plot.removeItem(item)
        if self.pane is not self.chart.price_pane:
            self.chart.remove_pane(self.pane)


class ChartIndicators:
    """The indicators on one coin's chart: the selected strategy's and those added by hand.

    Their values are computed here, in the window's process, from the candles the chart
    holds, a bar at a time as bars close (a few microseconds a bar with update_many)."""

    def __init__(self, chart: Chart) -> None:
        self.chart = chart
        self.strategy: StrategyStudy | None = None
        self.added: list[Study] = []
        self.drawn: list[DrawnStudy] = []
        self.overlay_legend = pg.TextItem(anchor=(0, 0))
        self.overlay_legend.setParentItem(chart.price_pane.box)
        self.overlay_legend.setPos(6, 24)

    @property
    def strategy_id(self) -> str | None:
        """The strategy whose indicators (and fills alone) are shown, if one is."""
        return self.strategy.strategy_id if self.strategy is not None else None

    def show_strategy(self, study: StrategyStudy | None) -> None:
        self.strategy = study
        self._rebuild()

    def set_added(self, studies: list[Study]) -> None:
        self.added = list(studies)
        self._rebuild()

    def _rebuild(self) -> None:
        for drawn in self.drawn:
            drawn.remove()
        colours = list(self.chart.palette.lines)
        plans = [(s, True) for s in (self.strategy.studies if self.strategy else ())]
        plans += [(s, False) for s in self.added]
        self.drawn = []
        used = 0
        for study, own in plans:
            mine = [colours[(used + k) % len(colours)] for k in range(len(study.lines))]
            used += len(study.lines)
            self.drawn.append(DrawnStudy(self.chart, study, mine, own))
        for drawn in self.drawn:
            drawn.redraw(force=True)
        self._legends()
        self.fit(*self.chart.price_pane.box.viewRange()[0])  # new panes fit the time in view

    def redraw(self) -> None:
        changed = False
        for drawn in self.drawn:
            before = drawn.values.fed
            drawn.redraw()
            changed = changed or drawn.values.fed != before
        if changed:
            self._legends()

    def _legends(self) -> None:
        palette = self.chart.palette
        self.overlay_legend.fill = legend_fill(palette)
        self.overlay_legend.update()
        style = f"color:{palette.foreground};font-size:9pt"
        overlays = [d.legend() for d in self.drawn if d.study.overlay]
        if self.strategy is not None:
            overlays.insert(0, f"<span style='color:{palette.muted}'>{self.strategy.note}"
                               "</span>")
        set_html(self.overlay_legend, f"<span style='{style}'>{' &nbsp; '.join(overlays)}</span>")
        self.overlay_legend.setVisible(bool(overlays))
        for drawn in self.drawn:
            if not drawn.study.overlay:
                set_html(drawn.pane.legend, f"<span style='{style}'>{drawn.legend()}</span>")

    def warm_up_texts(self) -> list[str]:
        """What is still warming up (``MACD(12, 26, 9) warming up: 12 of 34 bars``...)."""
        return [text for d in self.drawn if (text := d.values.warm_up_text())]

    def fit(self, left: float, right: float) -> None:
        """Each indicator pane's scale fits its values (and levels) in view."""
        for drawn in self.drawn:
            if drawn.study.overlay:
                continue
            found = drawn.visible_range(left, right)
            if found is not None:
                settle_range(drawn.pane.box, *found)

    def set_log(self, log: bool) -> None:
        for drawn in self.drawn:
            drawn.set_log()

    def set_palette(self, palette: ChartColours) -> None:
        self._rebuild()


class Indicators(Protocol):
    """What the Indicators menu needs of the charts (gui.charts.PriceCharts)."""

    added: list[Study]

    def add_indicator(self, study: Study) -> None: ...
    def remove_indicator(self, study: Study) -> None: ...
    def open_indicator_dialog(self, name: str) -> IndicatorDialog: ...


def indicator_menu_button(charts: Indicators) -> QToolButton:
    """The chart's Indicators ▾ button: add any indicator of core/indicators, or remove one
    added by hand."""
    button = QToolButton()
    button.setObjectName("indicatorsButton")
    button.setText("Indicators")
    button.setToolTip("Draw an indicator on every coin's chart, or remove one (a strategy's "
                      "own are drawn when you select it in the Strategies table)")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    menu.setObjectName("indicatorsMenu")

    def fill() -> None:
        menu.clear()
        for name in CATALOGUE:
            action = menu.addAction(f"Add {name}…")
            action.triggered.connect(lambda _=False, n=name: charts.open_indicator_dialog(n))
        if charts.added:
            menu.addSeparator()
            for study in charts.added:
                action = menu.addAction(f"Remove {study.label}")
                action.triggered.connect(lambda _=False, s=study: charts.remove_indicator(s))

    menu.aboutToShow.connect(fill)
    button.setMenu(menu)
    return button


class IndicatorDialog(QDialog):
    """The values of an indicator to add, asked from its constructor's parameters."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Add {name}")
        self.kind = CATALOGUE[name]
        self.study: Study | None = None
        layout = QVBoxLayout(self)
        doc = (self.kind.__doc__ or "").strip().split("\n")[0]
        about = QLabel(doc)
        about.setWordWrap(True)
        layout.addWidget(about)
        form = QFormLayout()
        self.editors: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for param, default in parameters(self.kind):
            editor: QSpinBox | QDoubleSpinBox
            if isinstance(default, float):
                editor = QDoubleSpinBox()
                editor.setRange(-1e9, 1e9)
                editor.setDecimals(4)
            else:
                editor = QSpinBox()
                editor.setRange(-1_000_000, 1_000_000)
            editor.setValue(default if default is not None else 14)
            editor.setObjectName(f"{param}Editor")
            self.editors[param] = editor
            form.addRow(param.replace("_", " "), editor)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ef5350;")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add")
        buttons.accepted.connect(self._try)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def values(self) -> dict[str, Any]:
        return {name: editor.value() for name, editor in self.editors.items()}

    def _try(self) -> None:
        """Make the indicator; a value it refuses is explained and the dialog stays open."""
        try:
            self.study = study_by_hand(self.kind, self.values())
        except (ParameterError, ValueError, TypeError) as exc:
            self.error.setText(f"{exc}.")
            self.error.show()
            return
        self.accept()
