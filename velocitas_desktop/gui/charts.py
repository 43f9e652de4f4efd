"""The price chart (candles, volume, fills, crosshair) and the P&L chart, in pyqtgraph.

Candles are one custom GraphicsObject: finished bars in view are recorded once into QPictures of
``CHUNK`` bars (only the newest chunk is re-recorded when a bar closes) and the forming bar
is painted directly, so a redraw costs the same with ten bars or three thousand.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPicture
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.candles import Candles, Pieces
from velocitas_desktop.gui.candles import DEFAULT_INTERVAL, INTERVALS, coin_candles, interval_name
from velocitas_desktop.gui.plots import (
    GridLines,
    cache_axes,
    paint_axes,
    value_scale_on_right,
)
from velocitas_desktop.gui.theme import ChartColours

CHUNK = 128
FOLLOW_BARS = 120       # bars in view while following the newest price
FOLLOW_MARGIN = 12      # room on the right for new bars; the view steps on by this much
MAX_MARKERS = 300       # newest fills marked per coin and side
CHART_MS = 200          # the price chart is redrawn at most five times a second
POINTER_SECONDS = 3.0   # the legend follows the mouse this long after it last moved
MARKER_SECONDS = 0.25   # fill markers are redrawn at most this often
BODY = 0.7              # candle body width, as a fraction of the interval


class CandleItem(pg.GraphicsObject):
    """Candles (``mode="price"``) or volume bars (``mode="volume"``) of a coin's Candles."""

    def __init__(self, series: Candles, palette: ChartColours, mode: str = "price") -> None:
        super().__init__()
        self.series = series
        self.mode = mode
        self.palette = palette
        self._chunks: dict[int, QPicture] = {}
        self._chunk_versions: dict[int, int] = {}
        self._generation = series.generation
        self._bounds = QRectF()

    def set_series(self, series: Candles) -> None:
        self.series = series
        self._generation = series.generation
        self._chunks.clear()
        self._chunk_versions.clear()
        self.refresh()

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        self._chunks.clear()
        self._chunk_versions.clear()
        self.refresh()

    def refresh(self) -> None:
        """Forget what changed since the last frame and schedule a repaint. Nothing is
        recorded here: ``paint`` records only the chunks in view, so a frame costs the same
        however many bars the ticks of one frame closed."""
        s = self.series
        if s.generation != self._generation:  # bars were put in front: every index moved
            self._generation = s.generation
            self._chunks.clear()
            self._chunk_versions.clear()
        for key in [k for k in self._chunks if (k + 1) * CHUNK <= s.dropped]:
            del self._chunks[key], self._chunk_versions[key]
        bounds = self._compute_bounds()
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.update()

    def _visible_chunks(self) -> range:
        """Absolute indices of the chunks of finished bars that overlap the view."""
        s = self.series
        n = len(s)
        if n < 2:
            return range(0)
        view = self.viewRect()  # the view's bounds in data coordinates
        if view is None:
            lo, hi = 0, n - 1
        else:
            half = s.interval
            lo = int(np.searchsorted(s.times, view.left() - half, side="left"))
            hi = int(np.searchsorted(s.times, view.right() + half, side="right"))
            hi = min(hi, n - 1)  # the forming bar is painted directly
        if hi <= lo:
            return range(0)
        first, last = (lo + s.dropped) // CHUNK, (hi - 1 + s.dropped) // CHUNK
        return range(max(first, s.dropped // CHUNK), last + 1)

    def _chunk(self, chunk: int) -> QPicture:
        """The recorded picture of a chunk, re-recorded only when its bars changed."""
        s = self.series
        finished_end = s.dropped + len(s) - 1  # absolute index of the forming bar
        full = (chunk + 1) * CHUNK <= finished_end
        version = -1 if full else s.closed_version
        picture = self._chunks.get(chunk)
        if picture is None or self._chunk_versions[chunk] != version:
            picture = self._chunks[chunk] = self._record(
                chunk * CHUNK, min((chunk + 1) * CHUNK, finished_end))
            self._chunk_versions[chunk] = version
        return picture

    def _compute_bounds(self) -> QRectF:
        s = self.series
        if not len(s):
            return QRectF()
        width = s.interval
        left = float(s.times[0]) - width
        span = float(s.times[-1]) - left + width
        if self.mode == "volume":
            return QRectF(left, 0.0, span, float(s.volume.max()))
        low, high = float(s.low.min()), float(s.high.max())
        return QRectF(left, low, span, max(high - low, 1e-9))

    def _record(self, start_abs: int, end_abs: int) -> QPicture:
        s = self.series
        lo, hi = max(start_abs - s.dropped, 0), end_abs - s.dropped
        picture = QPicture()
        painter = QPainter(picture)
        self._draw(painter, lo, hi)
        painter.end()
        return picture

    def _draw(self, painter: QPainter, lo: int, hi: int) -> None:
        """Bars ``lo``..``hi`` (exclusive, positions in the series), rising then falling."""
        s = self.series
        half = s.interval * BODY / 2
        rising = s.close[lo:hi] >= s.open[lo:hi]
        for up in (True, False):
            where = np.flatnonzero(rising == up) + lo
            if not where.size:
                continue
            colour = QColor(self.palette.up if up else self.palette.down)
            if self.mode == "volume":
                colour = QColor(self.palette.volume_up if up else self.palette.volume_down)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QBrush(colour))
                for i in where.tolist():
                    painter.drawRect(QRectF(s.times[i] - half, 0.0, 2 * half, s.volume[i]))
                continue
            pen = QPen(colour)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(QBrush(colour))
            t, o, h, low, c = (s.times[where], s.open[where], s.high[where], s.low[where],
                               s.close[where])
            for ti, oi, hi_, li, ci in zip(t.tolist(), o.tolist(), h.tolist(), low.tolist(),
                                           c.tolist(), strict=True):
                painter.drawLine(QPointF(ti, li), QPointF(ti, hi_))
                painter.drawRect(QRectF(ti - half, min(oi, ci), 2 * half, abs(ci - oi)))

    def paint(self, painter: QPainter, *args: Any) -> None:
        for chunk in self._visible_chunks():
            self._chunk(chunk).play(painter)
        n = len(self.series)
        if n:
            self._draw(painter, n - 1, n)

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)


class PriceChart(QWidget):
    """One coin's candles, tick-count volume and fill markers, with crosshair, zoom and pan."""

    def __init__(self, coin: str, palette: ChartColours, interval: float) -> None:
        super().__init__()
        self.coin = coin
        self.palette = palette
        self.interval = interval
        self.book = coin_candles()
        self.series = self.book.series_for(interval)
        self.follow = True
        self.buys: deque[tuple[float, float]] = deque(maxlen=MAX_MARKERS)
        self.sells: deque[tuple[float, float]] = deque(maxlen=MAX_MARKERS)
        self._markers_dirty = False
        self._markers_drawn = 0.0
        self._pointed_at = -math.inf
        self._shown: tuple[float, float, float, float] | None = None  # follow's last ranges
        self._drawn_version = -1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = pg.GraphicsLayoutWidget()
        layout.addWidget(self.view)
        self.price_plot = self.view.addPlot(row=0, col=0,
                                            axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.volume_plot = self.view.addPlot(row=1, col=0,
                                             axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.view.ci.layout.setRowStretchFactor(0, 4)
        self.view.ci.layout.setRowStretchFactor(1, 1)
        self.volume_plot.setXLink(self.price_plot)
        self.price_plot.getAxis("bottom").setStyle(showValues=False)
        self.volume_plot.setMaximumHeight(130)
        for plot in (self.price_plot, self.volume_plot):
            value_scale_on_right(plot)
        self.volume_plot.getViewBox().setMouseEnabled(x=True, y=False)
        for plot in (self.price_plot, self.volume_plot):
            cache_axes(plot)
        self.grids = [GridLines(self.price_plot), GridLines(self.volume_plot, ("bottom",))]
        self.candles = CandleItem(self.series, palette)
        self.volume = CandleItem(self.series, palette, mode="volume")
        self.price_plot.addItem(self.candles)
        self.volume_plot.addItem(self.volume)
        self.buy_markers = pg.ScatterPlotItem(symbol="t1", size=11, pen=None)
        self.sell_markers = pg.ScatterPlotItem(symbol="t", size=11, pen=None)
        self.price_plot.addItem(self.buy_markers)
        self.price_plot.addItem(self.sell_markers)
        self.last_line = pg.InfiniteLine(angle=0, movable=False)
        self.price_plot.addItem(self.last_line)
        self.v_line = pg.InfiniteLine(angle=90, movable=False)
        self.h_line = pg.InfiniteLine(angle=0, movable=False)
        self.v_line_volume = pg.InfiniteLine(angle=90, movable=False)
        self.price_plot.addItem(self.v_line, ignoreBounds=True)
        self.price_plot.addItem(self.h_line, ignoreBounds=True)
        self.volume_plot.addItem(self.v_line_volume, ignoreBounds=True)
        self.legend = pg.TextItem(anchor=(0, 0))
        self.legend.setParentItem(self.price_plot.getViewBox())
        self.legend.setPos(6, 4)
        self.price_plot.getViewBox().sigRangeChangedManually.connect(self._stop_following)
        self.view.scene().sigMouseMoved.connect(self._mouse_moved)
        self.set_palette(palette)

    # --- data ----------------------------------------------------------------------------

    def add_ticks(self, prices: np.ndarray, stamps: np.ndarray) -> None:
        if self.book.bar_seconds is None:  # a replay of bar files shows the file's bars
            self.book.add_ticks(prices, stamps)

    def add_bars(self, bars: Pieces, seconds: float) -> None:
        """A replayed file's bars: the candles are made of them from now on."""
        self.book.add_bars(bars, seconds)
        series = self.book.series_for(self.interval)
        if series is not self.series:
            self.series = series
            self.candles.set_series(series)
            self.volume.set_series(series)

    def add_fill(self, action: str, timestamp: float, price: float) -> None:
        (self.buys if action == "BUY" else self.sells).append((timestamp, price))
        self._markers_dirty = True

    def set_interval(self, seconds: float) -> None:
        """Show the candles of another interval (each is kept as the prices come)."""
        self.interval = seconds
        self.series = self.book.series_for(seconds)
        self.candles.set_series(self.series)
        self.volume.set_series(self.series)
        self.follow = True
        self._shown = None
        self._drawn_version = -1
        self.redraw()

    def clear(self) -> None:
        self.book.clear()
        self.buys.clear()
        self.sells.clear()
        self._markers_dirty = True
        self.set_interval(self.interval)

    # --- drawing (at most once a frame) -----------------------------------------------

    def redraw(self) -> None:
        if self.series.version != self._drawn_version:
            self._drawn_version = self.series.version
            self.candles.refresh()
            self.volume.refresh()
            if len(self.series):
                self.last_line.setPos(float(self.series.close[-1]))
                # the newest candle's figures, unless the trader is pointing at another one
                if time.monotonic() - self._pointed_at > POINTER_SECONDS:
                    self._show_bar(len(self.series) - 1)
            if self.follow:
                self._follow()
        now = time.monotonic()
        if self._markers_dirty and now - self._markers_drawn >= MARKER_SECONDS:
            self._markers_dirty = False
            self._markers_drawn = now
            for items, item in ((self.buys, self.buy_markers), (self.sells, self.sell_markers)):
                if items:
                    data = np.array(items)
                    item.setData(x=data[:, 0], y=data[:, 1])
                else:
                    item.clear()

    def _follow(self) -> None:
        """Keep the newest candles in view. The time range moves in steps: when the newest
        bar reaches the right edge the view jumps ``FOLLOW_MARGIN`` bars on, so a replay at
        full speed re-lays out the plots and their axes a few times a second at most, not
        on every bar. The price range moves only when the price leaves the visible band."""
        s = self.series
        n = len(s)
        if not n:
            return
        newest = float(s.times[-1])
        shown = self._shown
        if shown is not None and shown[0] < newest and newest + s.interval <= shown[1]:
            left, right = shown[0], shown[1]
        else:
            right = newest + FOLLOW_MARGIN * s.interval
            left = right - (FOLLOW_BARS + FOLLOW_MARGIN) * s.interval
        first = int(np.searchsorted(s.times, left))
        low, high = float(s.low[first:].min()), float(s.high[first:].max())
        if shown is not None and (left, right) == shown[:2] and shown[2] <= low \
                and high <= shown[3] and (shown[3] - shown[2]) <= 3 * max(high - low, 1e-9):
            return
        pad = max((high - low) * 0.08, abs(high) * 1e-5)
        if shown is None or (left, right) != shown[:2]:
            self.price_plot.setXRange(left, right, padding=0)
        self._shown = (left, right, low - pad, high + pad)
        self.price_plot.setYRange(low - pad, high + pad, padding=0)
        self.volume_plot.setYRange(0, float(s.volume[first:].max()) * 1.5, padding=0)

    def _stop_following(self, *_: Any) -> None:
        self.follow = False

    def follow_latest(self) -> None:
        self.follow = True
        self._shown = None
        self._follow()

    def _mouse_moved(self, pos: QPointF) -> None:
        box = self.price_plot.getViewBox()
        if not self.price_plot.sceneBoundingRect().contains(pos):
            return
        point = box.mapSceneToView(pos)
        self._pointed_at = time.monotonic()
        self.v_line.setPos(point.x())
        self.v_line_volume.setPos(point.x())
        self.h_line.setPos(point.y())
        s = self.series
        if len(s):
            i = int(np.clip(np.searchsorted(s.times, point.x() - s.interval / 2), 0, len(s) - 1))
            self._show_bar(i)

    def _show_bar(self, i: int) -> None:
        s = self.series
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(s.times[i])))
        colour = self.palette.up if s.close[i] >= s.open[i] else self.palette.down
        volume = (f"ticks {int(s.volume[i]):,}" if self.book.bar_seconds is None
                  else f"vol {s.volume[i]:,.2f}")
        self.legend.setHtml(
            f"<span style='color:{self.palette.foreground};font-size:10pt'>"
            f"<b>{self.coin}</b> {stamp} UTC &nbsp; O <span style='color:{colour}'>"
            f"{s.open[i]:,.2f}</span> H <span style='color:{colour}'>{s.high[i]:,.2f}</span> "
            f"L <span style='color:{colour}'>{s.low[i]:,.2f}</span> C "
            f"<span style='color:{colour}'>{s.close[i]:,.2f}</span> &nbsp; {volume}</span>")

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        self.view.setBackground(palette.background)
        for grid in self.grids:
            grid.set_colour(palette.foreground, palette.grid)
        for plot in (self.price_plot, self.volume_plot):
            paint_axes(plot, palette)
        dash = pg.mkPen(palette.crosshair, style=Qt.PenStyle.DashLine)
        for line in (self.v_line, self.h_line, self.v_line_volume):
            line.setPen(dash)
        self.last_line.setPen(pg.mkPen(palette.lines[0], style=Qt.PenStyle.DotLine))
        self.buy_markers.setBrush(pg.mkBrush(palette.up))
        self.sell_markers.setBrush(pg.mkBrush(palette.down))
        self.candles.set_palette(palette)
        self.volume.set_palette(palette)


class PriceCharts(QWidget):
    """A tab per coin, with the candle interval chooser and a button to follow the price."""

    def __init__(self, palette: ChartColours) -> None:
        super().__init__()
        self.palette = palette
        self.charts: dict[str, PriceChart] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.addWidget(QLabel("Interval"))
        self.interval_box = QComboBox()
        self.interval_box.setObjectName("intervalBox")
        self.interval_box.addItems(list(INTERVALS))
        self.interval_box.setCurrentText(DEFAULT_INTERVAL)
        self.interval_box.currentTextChanged.connect(self._interval_changed)
        bar.addWidget(self.interval_box)
        self.follow_button = QPushButton("Follow latest")
        self.follow_button.setToolTip("Scroll with the newest candle again after zooming or "
                                      "panning (drag to pan, wheel to zoom)")
        self.follow_button.clicked.connect(self._follow)
        bar.addWidget(self.follow_button)
        self.interval_note = QLabel("")
        self.interval_note.setObjectName("mutedLabel")
        bar.addWidget(self.interval_note)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(lambda _: self.redraw())
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(CHART_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        if self._dirty:
            self.redraw()

    @property
    def interval(self) -> float:
        return INTERVALS[self.interval_box.currentText()]

    def chart(self, coin: str) -> PriceChart:
        chart = self.charts.get(coin)
        if chart is None:
            chart = self.charts[coin] = PriceChart(coin, self.palette, self.interval)
            self.tabs.addTab(chart, coin)
        return chart

    def set_coins(self, coins: list[str]) -> None:
        for coin in coins:
            self.chart(coin).clear()

    def add_ticks(self, per_coin: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Fold ticks into the candles now; they are drawn on the next chart tick."""
        for coin, (prices, stamps) in per_coin.items():
            self.chart(coin).add_ticks(prices, stamps)
        self._dirty = True

    def add_bars(self, per_coin: dict[str, tuple[Pieces, float]]) -> None:
        """Fold a replayed file's bars into the candles now; drawn on the next chart tick."""
        for coin, (bars, seconds) in per_coin.items():
            self.chart(coin).add_bars(bars, seconds)
        self._dirty = True

    def add_fills(self, trades: list[dict[str, Any]]) -> None:
        # only the newest can still be marked, whatever the size of the burst
        for trade in trades[-2 * MAX_MARKERS * max(len(self.charts), 1):]:
            chart = self.charts.get(trade["coin"])
            if chart is not None:
                chart.add_fill(trade["action"], trade["timestamp"], trade["price"])
        self._dirty = True

    def redraw(self) -> None:
        # only the chart on screen is drawn; the others catch up when their tab is shown
        self._dirty = False
        current = self.tabs.currentWidget()
        if isinstance(current, PriceChart) and self.isVisible():
            current.redraw()
            self._explain_interval(current)

    def _explain_interval(self, chart: PriceChart) -> None:
        """Say so when the candles shown are not of the interval chosen (a file's bars)."""
        shown = chart.series.interval
        note = "" if shown == self.interval else (
            f"the file's bars are {interval_name(shown)}: shorter or uneven candles cannot be "
            f"made from them")
        if note != self.interval_note.text():
            self.interval_note.setText(note)

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        for chart in self.charts.values():
            chart.set_palette(palette)

    def _interval_changed(self, text: str) -> None:
        for chart in self.charts.values():
            chart.set_interval(INTERVALS[text])

    def _follow(self) -> None:
        current = self.tabs.currentWidget()
        if isinstance(current, PriceChart):
            current.follow_latest()
