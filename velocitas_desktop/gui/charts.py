"""The price chart: candles, volume, fills, indicators, crosshair, in pyqtgraph.

Candles are one custom GraphicsObject: finished bars in view are recorded once into QPictures of
``CHUNK`` bars (only the newest chunk is re-recorded when a bar closes) and the forming bar
is painted directly, so a redraw costs the same with ten bars or three thousand.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
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
from velocitas_desktop.gui.chart_tools import (
    ARROW_SYMBOL_PX,
    AxisTag,
    Pane,
    fill_arrow,
    set_html,
    settle_range,
)
from velocitas_desktop.gui.indicator_chart import (
    ChartIndicators,
    IndicatorDialog,
    indicator_menu_button,
)
from velocitas_desktop.gui.indicators import StrategyStudy, Study
from velocitas_desktop.gui.plots import amount, paint_note, placeholder, price_text
from velocitas_desktop.gui.theme import ChartColours

CHUNK = 128
FOLLOW_BARS = 120       # bars in view while following the newest price
FOLLOW_MARGIN = 12      # room on the right for new bars; the view steps on by this much
MAX_FILLS = 50_000      # newest fills kept per coin for the arrows
CHART_MS = 200          # the price chart is redrawn at most five times a second
MARKER_SECONDS = 0.25   # fill arrows are placed again at most this often
BODY = 0.7              # candle body width, as a fraction of the interval
VOLUME_PX = 110         # the volume pane's height at most
PANE_PX = 140           # an indicator pane's height at most
ACCENT = "#2962ff"      # the themes' accent: a view option that is on


class CandleItem(pg.GraphicsObject):
    """Candles (``mode="price"``) or volume bars (``mode="volume"``) of a coin's Candles.

    With ``log`` set, prices are drawn at their logarithm (base 10): the chart's log scale.
    """

    def __init__(self, series: Candles, palette: ChartColours, mode: str = "price") -> None:
        super().__init__()
        self.series = series
        self.mode = mode
        self.palette = palette
        self.log = False
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

    def set_log(self, log: bool) -> None:
        self.log = log
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
        if self.log:
            low, high = math.log10(low), math.log10(high)
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
            if self.log:
                o, h, low, c = (np.log10(a) for a in (o, h, low, c))
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
    """One coin's candles, volume, fill arrows and indicators, with a crosshair that tags the
    price and the time on the axes, time-only pan and zoom, and a price scale that fits the
    candles in view."""

    values_touched = Signal()  # the trader moved the price scale by hand: it no longer fits

    def __init__(self, coin: str, palette: ChartColours, interval: float) -> None:
        super().__init__()
        self.coin = coin
        self.palette = palette
        self.interval = interval
        self.book = coin_candles()
        self.series = self.book.series_for(interval)
        self.follow = True
        self.fit_prices = True
        self.log = False
        self.fills = FillBook()
        self._waiting: tuple[Pieces, float] | None = None  # a backfill for the first prices
        self._markers_dirty = False
        self._markers_drawn = 0.0
        self._hover: float | None = None  # the time under the mouse
        self._shown: tuple[float, float] | None = None  # follow's last time range
        self._drawn_version = -1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.layout.setVerticalSpacing(0)
        layout.addWidget(self.view)
        self.price_pane = Pane("price", palette, price_text)
        self.volume_pane = Pane("volume", palette, lambda v: f"{v:,.0f}", grid=("bottom",))
        self.panes: list[Pane] = [self.price_pane, self.volume_pane]
        self.price_plot, self.volume_plot = self.price_pane.plot, self.volume_pane.plot
        self.volume_plot.setMaximumHeight(VOLUME_PX)
        self._lay_out_panes()
        self.candles = CandleItem(self.series, palette)
        self.volume = CandleItem(self.series, palette, mode="volume")
        self.price_plot.addItem(self.candles)
        self.volume_plot.addItem(self.volume)
        self.buy_markers = pg.ScatterPlotItem(symbol=fill_arrow(True), size=ARROW_SYMBOL_PX,
                                              pen=None)
        self.sell_markers = pg.ScatterPlotItem(symbol=fill_arrow(False), size=ARROW_SYMBOL_PX,
                                               pen=None)
        self.price_plot.addItem(self.buy_markers)
        self.price_plot.addItem(self.sell_markers)
        self.last_line = pg.InfiniteLine(angle=0, movable=False)
        self.price_plot.addItem(self.last_line, ignoreBounds=True)
        self.last_tag = AxisTag(self.price_pane.axis, self.price_pane.box, price_text)
        self.legend = self.price_pane.legend
        self.empty_note = QLabel(EMPTY_NOTE, self)
        self.empty_note.setObjectName("chartNote")
        self.empty_note.setWordWrap(True)
        self.empty_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.indicators = ChartIndicators(self)
        for pane in self.panes:
            self._connect(pane)
        self.price_pane.box.sigXRangeChanged.connect(self._time_moved)
        self.view.scene().sigMouseMoved.connect(self._mouse_moved)
        self.view.installEventFilter(self)
        self.set_palette(palette)

    # --- panes ---------------------------------------------------------------------------

    def add_pane(self, name: str) -> Pane:
        """A new pane under the others (an indicator's), sharing their time axis."""
        pane = Pane(name, self.palette, lambda v: amount(v, _step_of(pane)))
        pane.plot.setMaximumHeight(PANE_PX)
        pane.plot.setXLink(self.price_plot)
        self.panes.append(pane)
        self._connect(pane)
        self._lay_out_panes()
        return pane

    def remove_pane(self, pane: Pane) -> None:
        if pane in self.panes and pane not in (self.price_pane, self.volume_pane):
            self.panes.remove(pane)
            self.view.ci.removeItem(pane.plot)
            self._lay_out_panes()

    def _connect(self, pane: Pane) -> None:
        pane.box.time_touched.connect(self._stop_following)
        if pane is self.price_pane:
            pane.box.values_touched.connect(self._prices_touched)

    def _lay_out_panes(self) -> None:
        """The panes in rows, top to bottom, the dates under the last one only."""
        for pane in self.panes:
            if pane.plot.scene() is not None:
                self.view.ci.removeItem(pane.plot)
        for row, pane in enumerate(self.panes):
            self.view.ci.addItem(pane.plot, row=row, col=0)
            self.view.ci.layout.setRowStretchFactor(row, 4 if pane is self.price_pane else 1)
            pane.show_time(pane is self.panes[-1])
            if pane is not self.price_pane:
                pane.plot.setXLink(self.price_plot)

    # --- data ----------------------------------------------------------------------------

    def add_ticks(self, prices: np.ndarray, stamps: np.ndarray) -> None:
        if self.book.bar_seconds is None:  # a replay of bar files shows the file's bars
            self.book.add_ticks(prices, stamps)
            self._backfill_waiting()

    def add_bars(self, bars: Pieces, seconds: float) -> None:
        """A replayed file's bars: the candles are made of them from now on."""
        self.book.add_bars(bars, seconds)
        self._backfill_waiting()
        self._show_series()

    def backfill(self, candles: dict[str, Any], running: bool) -> None:
        """The engine's candles from before the first price this chart saw (``candles``
        as the engine contract's ``candles`` call gives them). While the session runs and
        no price has come yet, they wait for it, so no price is counted twice."""
        if not candles.get("time"):
            return
        bars = Pieces(*(np.asarray(candles[key], dtype=float) for key in
                        ("time", "open", "high", "low", "close", "volume")))
        seconds = float(candles["interval"])
        if candles.get("volume_unit") == "coin" and self.book.bar_seconds is None:
            self.book.use_bars(seconds)
        if self.book.first_time is None and running:
            self._waiting = (bars, seconds)
            return
        self.book.backfill(bars, seconds)
        self._show_series()

    def _backfill_waiting(self) -> None:
        if self._waiting is not None and self.book.first_time is not None:
            bars, seconds = self._waiting
            self._waiting = None
            self.book.backfill(bars, seconds)

    def add_fill(self, trade: dict[str, Any]) -> None:
        self.fills.add(trade)
        self._markers_dirty = True

    def set_interval(self, seconds: float) -> None:
        """Show the candles of another interval (each is kept as the prices come)."""
        self.interval = seconds
        self._show_series(force=True)
        self.follow = True
        self._shown = None
        self.redraw()

    def _show_series(self, force: bool = False) -> None:
        series = self.book.series_for(self.interval)
        if force or series is not self.series:
            self.series = series
            self.candles.set_series(series)
            self.volume.set_series(series)
            self._drawn_version = -1
            self._markers_dirty = True

    def clear(self) -> None:
        """Forget the candles and fills (a new session)."""
        self.book.clear()
        self.fills.clear()
        self._waiting = None
        self._markers_dirty = True
        self.fit_prices = True
        self.set_interval(self.interval)

    # --- drawing (at most once a frame) -----------------------------------------------

    def redraw(self) -> None:
        s = self.series
        if s.version != self._drawn_version:
            self._drawn_version = s.version
            self.candles.refresh()
            self.volume.refresh()
            self.empty_note.setVisible(not len(s))
            if len(s):
                self._show_last_price()
                if self._hover is None:  # the newest candle, unless the trader points at one
                    self._show_bar(len(s) - 1)
            if self.follow:
                self._follow()
            self.indicators.redraw()
            self._fit()  # after the indicators took the new bars, so their panes fit them too
        now = time.monotonic()
        if self._markers_dirty and now - self._markers_drawn >= MARKER_SECONDS:
            self._place_markers()
            self._markers_drawn = now

    def _show_last_price(self) -> None:
        s = self.series
        last = float(s.close[-1])
        self.last_line.setPos(self._y(last))
        rising = last >= float(s.open[-1])
        colour = self.palette.up if rising else self.palette.down
        self.last_line.setPen(pg.mkPen(colour, style=Qt.PenStyle.DotLine))
        self.last_tag.set_colours(colour, "#ffffff")
        self.last_tag.text_of = lambda _: price_text(last)
        self.last_tag.show_at(self._y(last))

    def _y(self, price: float) -> float:
        """Where a price goes on the price pane: itself, or its logarithm on a log scale."""
        return math.log10(price) if self.log and price > 0 else price

    def _follow(self) -> None:
        """Keep the newest candles in view. The time range moves in steps: when the newest
        bar reaches the right edge the view jumps ``FOLLOW_MARGIN`` bars on, so a replay at
        full speed re-lays out the plots and their axes a few times a second at most, not
        on every bar."""
        s = self.series
        if not len(s):
            return
        newest = float(s.times[-1])
        shown = self._shown
        if shown is not None and shown[0] < newest and newest + s.interval <= shown[1]:
            return
        right = newest + FOLLOW_MARGIN * s.interval
        left = right - (FOLLOW_BARS + FOLLOW_MARGIN) * s.interval
        self._shown = (left, right)
        self.price_plot.setXRange(left, right, padding=0)

    def _time_moved(self, *_: Any) -> None:
        """Time was panned or zoomed: fit the scales to what is now in view."""
        self._fit()
        self._markers_dirty = True

    def _fit(self) -> None:
        """Each pane's scale fits the values in view (the prices only while ``fit_prices``)."""
        s = self.series
        if not len(s):
            return
        left, right = self.price_pane.box.viewRange()[0]
        lo = int(np.searchsorted(s.times, left - s.interval, side="left"))
        hi = int(np.searchsorted(s.times, right, side="right"))
        if hi <= lo:
            return
        if self.fit_prices:
            low, high = float(s.low[lo:hi].min()), float(s.high[lo:hi].max())
            settle_range(self.price_pane.box, self._y(low), self._y(high))
        settle_range(self.volume_pane.box, 0.0, float(s.volume[lo:hi].max()), from_zero=True)
        self.indicators.fit(left, right)
        self.last_tag.refresh()

    def _stop_following(self) -> None:
        self.follow = False

    def _prices_touched(self) -> None:
        self.fit_prices = False
        self.values_touched.emit()

    def follow_latest(self) -> None:
        self.follow = True
        self.fit_prices = True
        self._shown = None
        self._follow()
        self._fit()

    def fit_to_view(self) -> None:
        """Fit the price scale to the candles in view again, and keep it fitted."""
        self.fit_prices = True
        self._fit()

    def set_log(self, log: bool) -> None:
        """A logarithmic price scale (equal moves in percent look equal) or a linear one."""
        if log == self.log:
            return
        self.log = log
        self.candles.set_log(log)
        self.price_pane.axis.log = log
        self.price_pane.axis.picture = None
        self.price_pane.axis.update()
        self.price_pane.grid.set_log(log)
        self.fit_prices = True
        self._drawn_version = -1
        self._markers_dirty = True
        self.price_pane.box.setYRange(*self._log_range(log), padding=0)
        self.indicators.set_log(log)
        self.redraw()

    def _log_range(self, log: bool) -> tuple[float, float]:
        bottom, top = self.price_pane.box.viewRange()[1]
        if log:
            return (math.log10(bottom) if bottom > 0 else 0.0), (math.log10(top) if top > 0
                                                                  else 1.0)
        return 10.0 ** bottom, 10.0 ** top

    def _place_markers(self) -> None:
        """An arrow under the candle of each buy and over the candle of each sell (one per
        candle and side, whatever the number of fills in it); fills outside the kept candles
        at their own price. Only the fills in view are placed."""
        self._markers_dirty = False
        left, right = self.price_pane.box.viewRange()[0]
        s = self.series
        for side, item, edge in ((1, self.buy_markers, s.low), (-1, self.sell_markers, s.high)):
            stamps, prices = self.fills.in_range(side, left - s.interval, right + s.interval,
                                                 self.indicators.strategy_id)
            if not stamps.size:
                item.clear()
                continue
            x, y = stamps, prices
            if len(s):
                index = np.searchsorted(s.times, stamps, side="right") - 1
                inside = (index >= 0) & (stamps < s.times[-1] + s.interval)
                bars = np.unique(index[inside])
                x = np.r_[s.times[bars], stamps[~inside]]
                y = np.r_[edge[bars], prices[~inside]]
            item.setData(x=x, y=np.log10(y) if self.log else y)

    # --- the crosshair -------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Leave:
            self._point_at(None, None)
        return super().eventFilter(watched, event)

    def _mouse_moved(self, pos: QPointF) -> None:
        for pane in self.panes:
            if pane.plot.sceneBoundingRect().contains(pos):
                point = pane.box.mapSceneToView(pos)
                self._point_at(point.x(), point.y(), pane)
                return
        self._point_at(None, None)

    def _point_at(self, x: float | None, y: float | None, under: Pane | None = None) -> None:
        """The crosshair at time ``x`` across the panes, the value ``y`` on the pane under
        the mouse, the time on the bottom axis, and the figures of the candle at ``x`` in the
        legend (the newest candle's when the mouse is off the chart)."""
        self._hover = x
        for pane in self.panes:
            pane.point_at(x, y if pane is under else None)
            pane.time_tag.show_at(x if pane is self.panes[-1] else None)
        s = self.series
        if not len(s):
            return
        self._show_bar(self._bar_at(x))

    def _bar_at(self, x: float | None) -> int:
        """The candle at time ``x`` (the newest when ``x`` is None); the series is not empty."""
        s = self.series
        if x is None:
            return len(s) - 1
        return int(np.clip(np.searchsorted(s.times, x + s.interval / 2) - 1, 0, len(s) - 1))

    def _show_bar(self, i: int) -> None:
        s = self.series
        start = float(s.times[i])
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
        colour = self.palette.up if s.close[i] >= s.open[i] else self.palette.down
        volume = (f"ticks {int(s.volume[i]):,}" if self.book.bar_seconds is None
                  else f"vol {s.volume[i]:,.2f}")
        buys, sells = self.fills.count(start, start + s.interval, self.indicators.strategy_id)
        fills = "".join([f" &nbsp;<span style='color:{self.palette.up}'>▲ {buys}</span>"
                         if buys else "",
                         f" &nbsp;<span style='color:{self.palette.down}'>▼ {sells}</span>"
                         if sells else ""])
        figures = " ".join(f"{name} <span style='color:{colour}'>{price_text(value)}</span>"
                           for name, value in (("O", s.open[i]), ("H", s.high[i]),
                                               ("L", s.low[i]), ("C", s.close[i])))
        set_html(self.legend,
            f"<span style='color:{self.palette.foreground};font-size:10pt'>"
            f"<b>{self.coin}</b> · {interval_name(s.interval)} &nbsp;{stamp} UTC &nbsp; "
            f"{figures} &nbsp; {volume}{fills}</span>")

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.empty_note.setGeometry(self.rect().adjusted(40, 40, -110, -140))

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        self.view.setBackground(palette.background)
        for pane in self.panes:
            pane.set_palette(palette)
        self.buy_markers.setBrush(pg.mkBrush(palette.up))
        self.sell_markers.setBrush(pg.mkBrush(palette.down))
        self.candles.set_palette(palette)
        self.volume.set_palette(palette)
        self.empty_note.setStyleSheet(f"color: {palette.muted}; font-size: 11pt;")
        self.indicators.set_palette(palette)
        self._drawn_version = -1
        self.redraw()
        if len(self.series):  # the legend's text is coloured in its HTML: write it again
            self._show_bar(self._bar_at(self._hover))


EMPTY_NOTE = ("No prices yet. Candles appear here as the session's prices arrive; the "
              "journal keeps fills and P&L, not prices, so a restored session shows its fills "
              "and P&L until the next one starts.")


def _step_of(pane: Pane) -> float:
    """The value of one pixel of a pane's scale: how finely its crosshair tag is written."""
    bottom, top = pane.box.viewRange()[1]
    return max((top - bottom) / max(pane.box.height(), 1.0), 1e-12)


class FillBook:
    """A coin's newest ``MAX_FILLS`` fills (time, price, side, strategy), in time order, for
    the arrows and the legend.

    Rows are appended to a buffer twice that size and compacted once every ``MAX_FILLS``
    fills, and a time range is found by bisection, so marking the fills in view costs the
    same with fifty fills or fifty thousand (a masked copy of the whole table took ~3 ms a
    redraw at full speed). New fills wait in a list until the chart reads the table, or
    until ``MAX_FILLS`` of them wait: a coin whose tab is never shown keeps no more (its list
    held every fill of a soak, 330,000 more in three minutes).
    """

    def __init__(self) -> None:
        self._rows: list[tuple[float, float, int, int]] = []
        self._buffer = np.zeros((2 * MAX_FILLS, 4))
        self._end = 0
        self._strategies: dict[str, int] = {}

    def add(self, trade: dict[str, Any]) -> None:
        code = self._strategies.setdefault(trade.get("strategy_id", ""), len(self._strategies))
        self._rows.append((float(trade["timestamp"]), float(trade["price"]),
                           1 if trade["action"] == "BUY" else -1, code))
        if len(self._rows) >= MAX_FILLS:
            self._fold()

    def clear(self) -> None:
        self._rows.clear()
        self._end = 0
        self._strategies.clear()

    def table(self) -> np.ndarray:
        """Every kept fill as rows of (time, price, side, strategy code), oldest first."""
        self._fold()
        return self._buffer[max(self._end - MAX_FILLS, 0):self._end]

    def _fold(self) -> None:
        """Move the waiting fills into the buffer (their newest MAX_FILLS), in time order."""
        if self._rows:
            rows = np.array(self._rows[-MAX_FILLS:], dtype=float)
            self._rows.clear()
            if self._end + len(rows) > self._buffer.shape[0]:
                keep = MAX_FILLS - len(rows)
                self._buffer[:keep] = self._buffer[self._end - keep:self._end]
                self._end = keep
            newest = self._buffer[self._end - 1, 0] if self._end else -np.inf
            self._buffer[self._end:self._end + len(rows)] = rows
            self._end += len(rows)
            if rows[0, 0] < newest or np.any(np.diff(rows[:, 0]) < 0):  # a restored batch
                kept = self._buffer[:self._end]
                kept[:] = kept[np.argsort(kept[:, 0], kind="stable")]

    def _between(self, start: float, end: float, strategy_id: str | None,
                 closed: bool) -> np.ndarray:
        """The fills from ``start`` to ``end`` (included when ``closed``) of one strategy
        (None: of all)."""
        table = self.table()
        lo, hi = np.searchsorted(table[:, 0], (start, end), side="left")
        if closed:
            hi = np.searchsorted(table[:, 0], end, side="right")
        rows = table[lo:hi]
        if strategy_id is None:
            return rows
        code = self._strategies.get(strategy_id)
        return rows[rows[:, 3] == code] if code is not None else rows[:0]

    def in_range(self, side: int, left: float, right: float, strategy_id: str | None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(times, prices) of the fills of ``side`` (1 buy, -1 sell) between two times."""
        rows = self._between(left, right, strategy_id, closed=True)
        rows = rows[rows[:, 2] == side]
        return rows[:, 0], rows[:, 1]

    def count(self, start: float, end: float, strategy_id: str | None) -> tuple[int, int]:
        """(buys, sells) from ``start`` to just before ``end``."""
        sides = self._between(start, end, strategy_id, closed=False)[:, 2]
        return int((sides > 0).sum()), int((sides < 0).sum())


class PriceCharts(QWidget):
    """A tab per coin, with the interval, the view (follow, fit, log) and the indicators."""

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
        self.follow_button.setToolTip("Scroll with the newest candle again and fit the price "
                                      "scale (drag or wheel to move in time; hold Shift, or "
                                      "drag the price scale, to move the prices)")
        self.follow_button.clicked.connect(self._follow)
        bar.addWidget(self.follow_button)
        self.fit_button = QPushButton("Auto scale")
        self.fit_button.setObjectName("autoScaleButton")
        self.fit_button.setCheckable(True)
        self.fit_button.setChecked(True)
        self.fit_button.setToolTip("Fit the price scale to the candles in view")
        self.fit_button.clicked.connect(self._fit_clicked)
        bar.addWidget(self.fit_button)
        self.log_button = QPushButton("Log")
        self.log_button.setObjectName("logButton")
        self.log_button.setCheckable(True)
        self.log_button.setToolTip("Logarithmic price scale: equal moves in percent look equal")
        self.log_button.toggled.connect(self._log_toggled)
        bar.addWidget(self.log_button)
        for button in (self.fit_button, self.log_button):  # on or off at a glance, either theme
            button.setStyleSheet(f"QPushButton:checked {{ border: 1px solid {ACCENT}; "
                                 f"background: rgba(41, 98, 255, 0.28); }}")
        self.indicator_button = indicator_menu_button(self)
        bar.addWidget(self.indicator_button)
        self.interval_note = QLabel("")
        self.interval_note.setObjectName("mutedLabel")
        bar.addWidget(self.interval_note)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)
        self.no_coins = placeholder("Each coin of a session gets a chart here: press Start. "
                                    "Candles are built from the prices as they come.")
        self.no_coins.setObjectName("noCoinsNote")
        paint_note(self.no_coins, palette)
        layout.addWidget(self.no_coins, 1)
        self.tabs.hide()
        self.tabs.currentChanged.connect(self._tab_changed)
        self.strategy: StrategyStudy | None = None
        self.added: list[Study] = []  # indicators added by hand, on every coin's chart
        self.indicator_dialog: IndicatorDialog | None = None
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

    @property
    def current(self) -> PriceChart | None:
        current = self.tabs.currentWidget()
        return current if isinstance(current, PriceChart) else None

    def chart(self, coin: str) -> PriceChart:
        chart = self.charts.get(coin)
        if chart is None:
            chart = self.charts[coin] = PriceChart(coin, self.palette, self.interval)
            chart.set_log(self.log_button.isChecked())
            chart.values_touched.connect(lambda: self.fit_button.setChecked(False))
            chart.indicators.added = list(self.added)
            chart.indicators.show_strategy(self.strategy if self.strategy is not None
                                           and self.strategy.coin == coin else None)
            self.tabs.addTab(chart, coin)
            self._show_tabs()
        return chart

    def set_coins(self, coins: list[str]) -> None:
        """A tab for each of a new session's coins, empty; the other coins' tabs go."""
        for coin in [c for c in self.charts if c not in coins]:
            chart = self.charts.pop(coin)
            self.tabs.removeTab(self.tabs.indexOf(chart))
            chart.deleteLater()
        self._show_tabs()
        for coin in coins:
            self.chart(coin).clear()

    def _show_tabs(self) -> None:
        self.tabs.setVisible(bool(self.charts))
        self.no_coins.setVisible(not self.charts)

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

    def backfill(self, candles: dict[str, Any], running: bool) -> None:
        """The engine's kept candles of one coin, in front of the chart's own."""
        if candles.get("time"):
            self.chart(candles["coin"]).backfill(candles, running)
        self._dirty = True

    def add_fills(self, trades: list[dict[str, Any]]) -> None:
        for trade in trades:
            self.chart(trade["coin"]).add_fill(trade)
        self._dirty = True

    def redraw(self) -> None:
        # only the chart on screen is drawn; the others catch up when their tab is shown
        self._dirty = False
        current = self.current
        if current is not None and self.isVisible():
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

    def show_strategy(self, study: StrategyStudy | None) -> None:
        """Draw this strategy's indicators and only its fills (None: no strategy's, every
        fill) on its coin's chart, and show that chart."""
        self.strategy = study
        for chart in self.charts.values():
            chart.indicators.show_strategy(study if study and study.coin == chart.coin
                                           else None)
        if study is not None and study.coin in self.charts:
            self.tabs.setCurrentWidget(self.charts[study.coin])
        self.redraw()

    def open_indicator_dialog(self, name: str) -> IndicatorDialog:
        """Ask the values of a ``name`` indicator (SMA, RSI...) and draw it when they work."""
        dialog = IndicatorDialog(name, self)
        dialog.setObjectName("indicatorDialog")
        dialog.accepted.connect(lambda: self.add_indicator(dialog.study)
                                if dialog.study is not None else None)
        self.indicator_dialog = dialog
        dialog.open()
        return dialog

    def add_indicator(self, study: Study) -> None:
        """Draw ``study`` on every coin's chart, computed on each chart's candles."""
        self.added.append(study)
        for chart in self.charts.values():
            chart.indicators.set_added(self.added)
        self.redraw()

    def remove_indicator(self, study: Study) -> None:
        if study in self.added:
            self.added.remove(study)
        for chart in self.charts.values():
            chart.indicators.set_added(self.added)
        self.redraw()

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        paint_note(self.no_coins, palette)
        for chart in self.charts.values():
            chart.set_palette(palette)

    def _interval_changed(self, text: str) -> None:
        for chart in self.charts.values():
            chart.set_interval(INTERVALS[text])
        self.redraw()

    def _tab_changed(self, _: int) -> None:
        current = self.current
        if current is not None:
            self.fit_button.setChecked(current.fit_prices)
        self.redraw()

    def _follow(self) -> None:
        current = self.current
        if current is not None:
            current.follow_latest()
            self.fit_button.setChecked(True)

    def _fit_clicked(self, checked: bool) -> None:
        current = self.current
        if current is None:
            return
        if checked:
            current.fit_to_view()
        else:
            current.fit_prices = False

    def _log_toggled(self, log: bool) -> None:
        for chart in self.charts.values():
            chart.set_log(log)
