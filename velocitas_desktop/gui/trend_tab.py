"""The Trend tab: what the market is doing on each timeframe, where its levels are, what fits it.

A trader picks a bar file (or a coin of the running engine), ticks timeframes and presses
Analyze. The analysis (research.trend_jobs.run_trend: research.trend's report, then
research.suggest's walk-forward suggestions) runs in the GUI's background pool with a progress
bar and Cancel; the bar file is read there too. The results: one table row per timeframe, the
chosen timeframe's bars charted whole with its levels, trend line and breakouts, and the
suggestions with the evidence, any of which Apply registers on the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.types import INTERVAL_SECONDS
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.candles import interval_name
from velocitas_desktop.gui.fields import job_message, job_progress
from velocitas_desktop.gui.optimization_tab import DATA_SUFFIXES, SAMPLE_FILE
from velocitas_desktop.gui.panels import fit_columns, make_table
from velocitas_desktop.gui.table import ColumnTableModel
from velocitas_desktop.gui.theme import DARK, ChartColours
from velocitas_desktop.gui.trend.apply import ApplyDialog
from velocitas_desktop.gui.trend.chart import TrendChart
from velocitas_desktop.gui.trend.tables import (
    SUGGESTION_COLUMNS,
    TIMEFRAME_COLUMNS,
    suggestion_row,
    timeframe_row,
)
from velocitas_desktop.paths import data_dir, sample_data_dir
from velocitas_desktop.research.trend import (
    LEVEL_BARS,
    Bars,
    default_timeframes,
    load_bars,
    resample,
)
from velocitas_desktop.research.trend_jobs import TrendRequest, run_trend

# the timeframes offered beside the input's own: the coarser ones its bars divide into evenly
OFFERED = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")
LIVE = "live"
# a live coin's report is read again this often while the engine runs (as the browser's page)
FOLLOW_MS = 5_000


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one Analyze produced: the report JSON and the bars charted per timeframe."""

    report: dict[str, Any]
    series: dict[str, Bars]
    cancelled: bool


def offered_timeframes(interval: float) -> list[str]:
    """The input's own timeframe and every offered coarser one it divides into evenly."""
    own = interval_name(interval)
    coarser = [name for name in OFFERED if INTERVAL_SECONDS[name] > interval
               and abs(INTERVAL_SECONDS[name] / interval
                       - round(INTERVAL_SECONDS[name] / interval)) < 1e-9]
    return [own, *coarser]


class TrendTab(QWidget):
    """Trend analysis of a bar file or a live coin: table, chart, suggestions and Apply."""

    def __init__(self, engine: TradingEngine, parent: QWidget | None = None,
                 data_dirs: list[Path] | None = None,
                 palette: ChartColours | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.palette = palette or DARK
        self.data_dirs = list(data_dirs) if data_dirs is not None else [
            sample_data_dir(), data_dir() / "history"]
        self.bars: Bars | None = None
        self.bars_path = ""
        self.analysis: Analysis | None = None
        self.suggestions: list[dict[str, Any]] = []   # the rows of the list, in its order
        self.timeframe_boxes: dict[str, QCheckBox] = {}
        self.dialogs: list[QWidget] = []   # error and Apply dialogs shown, newest last
        self.running = False
        # the suggestions' worker processes: None, one per core (as the optimiser's "auto")
        self.workers: int | None = None
        self._cancel: threading.Event | None = None
        self._load_request = 0
        self._loading = ""   # the file being read, so a second ask does not read it again
        self._failed = ""    # the last file that could not be read: not read again unasked
        self._closed = False
        self.following = ""      # the live coin whose report is read again while it runs
        self._follow_busy = False
        self.follow_timer = QTimer(self)
        self.follow_timer.setInterval(FOLLOW_MS)
        self.follow_timer.timeout.connect(self._follow)
        self._build()
        self.refresh_files()

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_settings())
        splitter.addWidget(self._build_results())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 1200])
        layout.addWidget(splitter)

    def _build_settings(self) -> QWidget:
        side = QWidget()
        side.setObjectName("trendSide")
        side.setMinimumWidth(280)
        side.setMaximumWidth(400)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 6, 0)

        data = QGroupBox("Bars")
        grid = QGridLayout(data)
        self.file_radio = QRadioButton("File")
        self.file_radio.setObjectName("trendFileSource")
        self.file_radio.setChecked(True)
        self.live_radio = QRadioButton("Live coin")
        self.live_radio.setObjectName("trendLiveSource")
        sources = QButtonGroup(self)
        sources.addButton(self.file_radio)
        sources.addButton(self.live_radio)
        self.file_box = QComboBox()
        self.file_box.setObjectName("trendFileBox")
        self.file_box.setEditable(True)
        self.file_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.file_box.lineEdit().setPlaceholderText("a bar file (CSV)")
        self.file_box.setToolTip("A known bar file, or type the path of one")
        self.file_box.setMinimumContentsLength(12)
        self.file_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.file_box.activated.connect(lambda _: self.load_file())
        self.file_box.lineEdit().returnPressed.connect(self.load_file)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.coin_box = QComboBox()
        self.coin_box.setObjectName("trendCoinBox")
        self.coin_box.setEditable(True)
        self.coin_box.setToolTip("A coin of the running engine: its one-minute candles")
        self.coin_box.setEnabled(False)
        grid.addWidget(self.file_radio, 0, 0, 1, 2)
        grid.addWidget(self.file_box, 1, 0)
        grid.addWidget(self.browse_button, 1, 1)
        grid.addWidget(self.live_radio, 2, 0, 1, 2)
        grid.addWidget(self.coin_box, 3, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.file_radio.toggled.connect(self._source_changed)
        column.addWidget(data)

        frames = QGroupBox("Timeframes")
        frames_layout = QVBoxLayout(frames)
        self.timeframes_grid = QGridLayout()
        frames_layout.addLayout(self.timeframes_grid)
        self.timeframes_note = QLabel("Choose bars to see their timeframes.")
        self.timeframes_note.setObjectName("mutedLabel")
        self.timeframes_note.setWordWrap(True)
        frames_layout.addWidget(self.timeframes_note)
        column.addWidget(frames)

        self.suggest_box = QCheckBox("Suggest strategies")
        self.suggest_box.setObjectName("suggestBox")
        self.suggest_box.setChecked(True)
        self.suggest_box.setToolTip("Rank the strategies that fit by a walk-forward "
                                    "optimisation of the most recent 100,000 bars, against "
                                    "holding and cash after fees (takes longer)")
        column.addWidget(self.suggest_box)
        column.addStretch(1)

        buttons = QHBoxLayout()
        self.analyze_button = QPushButton("Analyze")
        self.analyze_button.setObjectName("analyzeButton")
        self.analyze_button.clicked.connect(self.analyze)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("trendCancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.analyze_button, 1)
        buttons.addWidget(self.cancel_button)
        column.addLayout(buttons)
        self.progress = job_progress("trendProgress")
        column.addWidget(self.progress)
        self.message = job_message("trendMessage")
        column.addWidget(self.message)
        return side

    def _build_results(self) -> QWidget:
        self.table_model = ColumnTableModel(TIMEFRAME_COLUMNS, key="timeframe")
        self.table = make_table(self.table_model)
        self.table.setObjectName("trendTable")
        self.table.selectionModel().selectionChanged.connect(self._row_selected)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("Press Analyze for each timeframe's trend, volatility, "
                              "character and levels.")
        self.summary.setObjectName("trendSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(self.table, 1)

        self.chart = TrendChart(self.palette)
        chart = QWidget()
        chart_layout = QVBoxLayout(chart)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(QLabel("Chart"))
        self.chart_box = QComboBox()
        self.chart_box.setObjectName("chartTimeframe")
        self.chart_box.setToolTip("The timeframe whose bars, levels and trend line are drawn")
        self.chart_box.currentTextChanged.connect(self._chart_timeframe_changed)
        header.addWidget(self.chart_box)
        self.chart_note = QLabel()
        self.chart_note.setObjectName("mutedLabel")
        header.addWidget(self.chart_note, 1)
        self.all_button = QPushButton("All")
        self.all_button.setObjectName("chartAll")
        self.all_button.setToolTip("The whole history in view")
        self.recent_button = QPushButton("Recent")
        self.recent_button.setObjectName("chartRecent")
        self.recent_button.setToolTip(f"The newest {LEVEL_BARS} bars: those the levels and "
                                      "the trend line were measured on")
        self.all_button.clicked.connect(self.chart.show_all)
        self.recent_button.clicked.connect(lambda: self.chart.show_recent(LEVEL_BARS))
        header.addWidget(self.all_button)
        header.addWidget(self.recent_button)
        chart_layout.addLayout(header)
        chart_layout.addWidget(self.chart, 1)

        suggestions = QWidget()
        s_layout = QVBoxLayout(suggestions)
        s_layout.setContentsMargins(0, 0, 0, 0)
        s_header = QHBoxLayout()
        self.verdict = QLabel("Suggestions")
        self.verdict.setObjectName("trendVerdict")
        self.verdict.setWordWrap(True)
        s_header.addWidget(self.verdict, 1)
        self.apply_button = QPushButton("Apply…")
        self.apply_button.setObjectName("trendApply")
        self.apply_button.setToolTip("Register the selected suggestion on the live engine")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_selected)
        s_header.addWidget(self.apply_button)
        s_layout.addLayout(s_header)
        self.suggestions_model = ColumnTableModel(SUGGESTION_COLUMNS, key="rank")
        self.suggestions_view = make_table(self.suggestions_model)
        self.suggestions_view.setObjectName("suggestionsTable")
        self.suggestions_view.selectionModel().selectionChanged.connect(
            self._suggestion_selected)
        s_layout.addWidget(self.suggestions_view, 1)
        self.applied = QLabel()
        self.applied.setObjectName("trendApplied")
        self.applied.setWordWrap(True)
        self.applied.hide()
        s_layout.addWidget(self.applied)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(chart)
        right.addWidget(suggestions)
        right.setSizes([230, 520, 200])
        return right

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.running:
            self.refresh_coins()
            if self.file_radio.isChecked() and self.current_path() != self._failed:
                self.load_file()  # the file chosen before the tab was first shown

    # --- choosing the bars ---------------------------------------------------------------

    def refresh_files(self) -> None:
        """List the bar files of the known folders (the sample first) and load the chosen one."""
        current = self.current_path()
        self.file_box.clear()
        for folder in self.data_dirs:
            try:
                names = sorted(p for p in Path(folder).iterdir()
                               if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))
            except OSError:  # a folder not made yet (history before any download)
                continue
            for path in names:
                if self.file_box.findData(str(path)) < 0:
                    self.file_box.addItem(path.name, str(path))
        self.select_file(current or str(sample_data_dir() / SAMPLE_FILE))

    def select_file(self, path: str) -> None:
        """Choose ``path`` (listed or not) and load it once the tab is shown (a window that
        never opens the tab never reads a file for it)."""
        index = self.file_box.findData(path)
        if index < 0 and path:
            self.file_box.addItem(Path(path).name, path)
            index = self.file_box.count() - 1
        if index >= 0:
            self.file_box.setCurrentIndex(index)
        if self.isVisible():
            self.load_file()

    def current_path(self) -> str:
        """The chosen file: a listed one by its name, else the text typed as a path."""
        text = self.file_box.currentText().strip()
        found = self.file_box.findText(text)
        if found >= 0:
            return str(self.file_box.itemData(found))
        return str(Path(text).expanduser()) if text else ""

    def _browse(self) -> None:
        start = str(Path(self.current_path()).parent) if self.current_path() else ""
        if not start or not Path(start).is_dir():
            start = str(sample_data_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a bar file", start,
                                              "Bar files (*.csv *.csv.gz);;All files (*)")
        if path:
            self.select_file(path)

    def refresh_coins(self) -> None:
        """The coins of the engine's feed and of its strategies."""
        current = self.coin_box.currentText()
        coins = list(dict.fromkeys([*self.engine.snapshot()["global"].get("coins", []),
                                    *(s["coin"] for s in self.engine.strategies())]))
        self.coin_box.clear()
        self.coin_box.addItems(coins)
        if current:
            self.coin_box.setCurrentText(current)

    def _source_changed(self, file_chosen: bool) -> None:
        for widget in (self.file_box, self.browse_button):
            widget.setEnabled(file_chosen)
        self.coin_box.setEnabled(not file_chosen)
        if file_chosen:
            self.unfollow()
            self.load_file()
            return
        self._forget_load()  # a file still being read must not replace the live chart
        self.refresh_coins()
        # the engine analyses its own one-minute candles on its own timeframes
        self._set_timeframes(["1m", "15m", "1h", "4h"], ["1m", "15m", "1h", "4h"],
                             enabled=False)
        self.timeframes_note.setText("The engine analyses its one-minute candles on these "
                                     "timeframes.")

    def load_file(self) -> None:
        """Read the chosen file off the Qt thread; chart it and offer its timeframes."""
        path = self.current_path()
        if not path or path == self.bars_path or path == self._loading or self.running:
            return
        self._loading = path
        self._load_request += 1
        request = self._load_request
        self.show_message(f"Reading {Path(path).name}…", error=False)

        def read() -> Bars:
            return load_bars(path)

        run_in_background(read, lambda bars: self._loaded(request, path, bars),
                          lambda exc: self._load_failed(request, path, exc))

    def _forget_load(self) -> None:
        """Drop the answer of a file read still in flight: the trader moved on (to the live
        engine, or to an analysis that reads the file itself), and a late answer would put
        the raw file back on the chart over what they asked for."""
        self._load_request += 1
        self._loading = ""

    def _loaded(self, request: int, path: str, bars: Bars) -> None:
        if self._closed or request != self._load_request:
            return  # another file was chosen meanwhile
        self._loading = ""
        self.bars, self.bars_path = bars, path
        self._set_timeframes(offered_timeframes(bars.interval),
                             default_timeframes(bars.interval, len(bars)))
        self.timeframes_note.setText(f"{len(bars):,} bars of {interval_name(bars.interval)}"
                                     f" in {Path(path).name}.")
        self.show_message("", error=False)
        self._show_chart_bars(bars, interval_name(bars.interval))

    def _load_failed(self, request: int, path: str, exc: BaseException) -> None:
        if self._closed or request != self._load_request:
            return
        self._loading, self._failed = "", path
        self.bars, self.bars_path = None, ""
        self._set_timeframes([], [])
        self.timeframes_note.setText("Choose bars to see their timeframes.")
        self.chart.clear()
        self.show_message(f"{Path(path).name} could not be read.", error=True)
        self.show_error("The bar file could not be read", _problem(exc))

    def _set_timeframes(self, offered: list[str], ticked: list[str],
                        enabled: bool = True) -> None:
        while self.timeframes_grid.count():
            item = self.timeframes_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.timeframe_boxes = {}
        for i, name in enumerate(offered):
            box = QCheckBox(name)
            box.setObjectName(f"timeframe_{name}")
            box.setChecked(name in ticked)
            box.setEnabled(enabled)
            self.timeframes_grid.addWidget(box, i // 4, i % 4)
            self.timeframe_boxes[name] = box

    def chosen_timeframes(self) -> list[str]:
        return [name for name, box in self.timeframe_boxes.items() if box.isChecked()]

    # --- analysing -----------------------------------------------------------------------

    def analyze(self) -> None:
        """Analyse the chosen bars off the Qt thread, with progress and Cancel."""
        if self.running:
            return
        live = self.live_radio.isChecked()
        coin = self.coin_box.currentText().strip().upper()
        if live and not coin:
            self.show_message("type or choose a coin of the running engine", error=True)
            return
        path = self.current_path()
        if not live and not path:
            self.show_message("choose a bar file first (Browse…)", error=True)
            return
        timeframes = tuple(self.chosen_timeframes())
        if not live and self.timeframe_boxes and not timeframes:
            self.show_message("tick at least one timeframe", error=True)
            return
        request = TrendRequest(timeframes=timeframes or None,
                               suggest=self.suggest_box.isChecked(),
                               coin=coin if live else None, workers=self.workers)
        cancel = self._cancel = threading.Event()
        cached = self.bars if self.bars_path == path else None
        self._forget_load()
        self.unfollow()  # this analysis replaces the one followed
        engine, catalog = self.engine, self.engine.catalog
        self._set_running(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("analysing…")
        self.show_message(f"Analysing {coin if live else Path(path).name}…", error=False)

        def work(progress: Any) -> tuple[Bars, Analysis]:
            if live:
                bars, report = _live_report(engine, coin, request, catalog, progress, cancel)
            else:
                bars = cached if cached is not None else load_bars(path)
                report = run_trend(bars, request, source=Path(path).name, catalog=catalog,
                                   on_progress=progress, cancel=cancel)
            return bars, Analysis(report, _series(bars, report), cancel.is_set())

        run_in_background(work, lambda made: self._analysed(path if not live else LIVE, made),
                          self._analysis_failed, self._show_progress)

    def cancel(self) -> None:
        """Stop the suggestions after the backtests in flight; the analysis stays."""
        if self._cancel is not None and self.running:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.show_message("Cancelling: the backtests in flight finish first…", error=False)

    def _show_progress(self, done: int, total: int) -> None:
        if self._closed:
            return
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
            self.progress.setFormat("%v / %m steps")
        self.progress.setValue(done)

    def _analysed(self, path: str, made: tuple[Bars, Analysis]) -> None:
        if self._closed:
            return
        bars, analysis = made
        if path != LIVE and path != self.bars_path:
            # the analysis read the file itself (its own read was dropped): offer its
            # timeframes, the analysed ones ticked
            self._set_timeframes(offered_timeframes(bars.interval),
                                 [frame["timeframe"] for frame in analysis.report["timeframes"]])
            self.timeframes_note.setText(f"{len(bars):,} bars of "
                                         f"{interval_name(bars.interval)} in {Path(path).name}.")
        self.bars, self.bars_path = bars, path
        self.show_report(analysis)
        self._set_running(False)
        report = analysis.report
        verdict = "Cancelled" if analysis.cancelled else "Analysed"
        ok = sum(1 for frame in report["timeframes"] if frame.get("ok"))
        text = (f"{verdict}: {report['bars']:,} bars, {ok} of {len(report['timeframes'])} "
                "timeframes.")
        if path == LIVE and report.get("coin") and self.engine.status.stoppable:
            self.follow(str(report["coin"]))
            text += (f" Following {report['coin']}: read again every "
                     f"{FOLLOW_MS // 1000} s while the engine runs.")
        self.show_message(text, error=False)

    # --- following a live coin ---------------------------------------------------------------

    def follow(self, coin: str) -> None:
        """Read ``coin``'s live report again every FOLLOW_MS while the engine runs: the table,
        the summary and the chart follow its closing bars; the view, the chosen timeframe
        and the suggestions stay as the trader left them."""
        self.following = coin
        self.follow_timer.start()

    def unfollow(self) -> None:
        self.following = ""
        self.follow_timer.stop()

    def _follow(self) -> None:
        if not self.following or self.running or self._follow_busy or self._closed:
            return
        coin, engine = self.following, self.engine
        if not engine.status.stoppable:  # the session ended: its last report stays shown
            self.unfollow()
            self.show_message(f"The session ended: {coin}'s report is its last.", error=False)
            return
        self._follow_busy = True

        def read() -> tuple[Bars, dict[str, Any]]:
            return Bars.from_candles(engine.candles(coin)), dict(engine.trend(coin))

        run_in_background(read, lambda made: self._followed(coin, made), self._follow_failed)

    def _followed(self, coin: str, made: tuple[Bars, dict[str, Any]]) -> None:
        self._follow_busy = False
        if self._closed or coin != self.following or self.running or self.analysis is None:
            return
        bars, report = made
        report["suggestions"] = self.analysis.report.get("suggestions")  # the evidence kept
        name = self.chart_box.currentText()
        (left, right), shown = self.chart.box.viewRange()[0], self.chart.bars.time
        edge = float(shown[-1]) if len(shown) else None
        self.bars, self.bars_path = bars, LIVE
        self.show_report(Analysis(report, _series(bars, report), False), suggestions=False)
        if self.chart_box.findText(name) >= 0 and name != self.chart_box.currentText():
            self.chart_box.setCurrentText(name)  # draws that timeframe
        now = self.chart.bars.time
        if edge is not None and len(now):
            # a view that reached the newest bar moves on with it; any other stays put
            shift = float(now[-1]) - edge if right >= edge else 0.0
            self.chart.show_range(left + shift, right + shift)
        self.show_message(f"Following {coin}: {report['bars']:,} bars to "
                          f"{_utc(report.get('last'))}; read again every "
                          f"{FOLLOW_MS // 1000} s while the engine runs.", error=False)

    def _follow_failed(self, exc: BaseException) -> None:
        self._follow_busy = False
        if self._closed or not self.following:
            return
        self.unfollow()
        self.show_message(f"Stopped following: {_problem(exc)}", error=True)

    def _analysis_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._set_running(False)
        self.show_message("The analysis did not run.", error=True)
        self.show_error("The analysis could not run", _problem(exc))

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.analyze_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for widget in (self.file_radio, self.live_radio, self.suggest_box):
            widget.setEnabled(not running)
        self.file_box.setEnabled(not running and self.file_radio.isChecked())
        self.browse_button.setEnabled(not running and self.file_radio.isChecked())
        self.coin_box.setEnabled(not running and self.live_radio.isChecked())
        if not running:
            self.progress.setRange(0, 100)
            self.progress.setValue(100 if self.analysis else 0)
            self.progress.setFormat("done" if self.analysis else "idle")

    # --- the report ----------------------------------------------------------------------

    def show_report(self, analysis: Analysis, suggestions: bool = True) -> None:
        """Fill the table, the chart's timeframes and (``suggestions``) the suggestions from
        a report."""
        self.analysis = analysis
        report = analysis.report
        self.table_model.set_rows([timeframe_row(frame) for frame in report["timeframes"]])
        fit_columns(self.table)
        lines = list(report.get("summary") or [])
        lines += [f"⚠ {warning}" for warning in report.get("warnings") or []]
        self.summary.setText("\n".join(lines) or "No timeframe could be analysed.")
        self.chart_box.blockSignals(True)
        self.chart_box.clear()
        self.chart_box.addItems([frame["timeframe"] for frame in report["timeframes"]
                                 if frame["timeframe"] in analysis.series])
        self.chart_box.blockSignals(False)
        self._chart_timeframe_changed(self.chart_box.currentText())
        if suggestions:
            self.show_suggestions(report.get("suggestions"))

    def frame(self, timeframe: str) -> dict[str, Any] | None:
        if self.analysis is None:
            return None
        return next((f for f in self.analysis.report["timeframes"]
                     if f["timeframe"] == timeframe), None)

    def _row_selected(self, *_: Any) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            name = self.table_model.value(rows[0].row(), "timeframe")
            if self.chart_box.findText(name) >= 0:
                self.chart_box.setCurrentText(name)

    def _chart_timeframe_changed(self, name: str) -> None:
        if self.analysis is None or name not in self.analysis.series:
            return
        self._show_chart_bars(self.analysis.series[name], name)
        frame = self.frame(name)
        if frame is not None:
            self.chart.show_analysis(frame)
            levels = len(frame.get("levels") or [])
            breaks = len(frame.get("breakouts") or [])
            self.chart_note.setText(f"{levels} levels, {breaks} breakouts"
                                    if frame.get("ok") else frame.get("message", ""))

    def _show_chart_bars(self, bars: Bars, name: str) -> None:
        self.chart.clear_analysis()
        self.chart.show_bars(bars.time, bars.open, bars.high, bars.low, bars.close,
                             bars.interval, caption=f"{name} · {len(bars):,} bars")
        self.chart_note.setText("")

    def show_suggestions(self, suggestions: dict[str, Any] | None) -> None:
        """The suggestions that beat holding and cash, then those that did not (for the
        evidence); the verdict when none did."""
        self.apply_button.setEnabled(False)
        if not suggestions:
            self.suggestions = []
            self.suggestions_model.set_rows([])
            self.verdict.setText("Suggestions: not asked for (tick “Suggest strategies”)."
                                 if self.analysis is not None else "Suggestions")
            return
        items = list(suggestions.get("items") or [])
        rejected = list(suggestions.get("rejected") or [])
        self.suggestions = items + rejected
        rows = [suggestion_row(item, i + 1) for i, item in enumerate(items)]
        rows += [suggestion_row(item, len(items) + i + 1, rejected=True)
                 for i, item in enumerate(rejected)]
        self.suggestions_model.set_rows(rows)
        fit_columns(self.suggestions_view)
        hold = (suggestions.get("hold") or {}).get("oos_return_pct")
        held = "" if hold is None else f"; holding returned {hold:+.2f}% out of sample"
        if suggestions.get("verdict"):  # it names holding's return itself
            self.verdict.setText(suggestions["verdict"])
        else:
            self.verdict.setText(f"{len(items)} beat holding and cash out of sample after "
                                 f"fees ({suggestions.get('folds')} walk-forward folds over "
                                 f"{suggestions.get('bars', 0):,} bars){held}.")
        self.verdict.setProperty("empty", not items)

    def selected_suggestion(self) -> dict[str, Any] | None:
        rows = self.suggestions_view.selectionModel().selectedRows()
        if not rows or not self.suggestions:
            return None
        rank = int(self.suggestions_model.value(rows[0].row(), "rank"))
        return self.suggestions[rank - 1]

    def _suggestion_selected(self, *_: Any) -> None:
        item = self.selected_suggestion()
        # only what beat holding and cash is offered live; the rest is there as evidence
        self.apply_button.setEnabled(item is not None and bool(item.get("beats_hold"))
                                     and bool(item.get("beats_cash")))

    # --- apply ---------------------------------------------------------------------------

    def apply_selected(self) -> None:
        """Ask the coin, timeframe and id, then register the selected suggestion."""
        item = self.selected_suggestion()
        if item is None:
            return
        coins = [self.coin_box.itemText(i) for i in range(self.coin_box.count())]
        report_coin = self.analysis.report.get("coin") if self.analysis else None
        dialog = ApplyDialog(self.engine, item, coins, report_coin or "BTC", self.palette,
                             self)
        dialog.accepted.connect(lambda: self._applied(dialog))
        self.dialogs.append(dialog)
        dialog.open()

    def _applied(self, dialog: ApplyDialog) -> None:
        spec = dialog.registered
        if spec is not None:
            self.applied.setText(f"Registered {spec.id} on {spec.coin} ({spec.timeframe}).")
            self.applied.setStyleSheet(f"color: {self.palette.up};")
            self.applied.show()

    # --- messages, theme and shutdown ----------------------------------------------------

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        colour = self.palette.down if error else self.palette.foreground
        self.message.setStyleSheet(f"color: {colour};")
        self.message.setProperty("error", error)

    def show_error(self, title: str, text: str) -> None:
        """A dialog with the problem, as the analyzer or the file reader wrote it."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("trendError")
        self.dialogs.append(box)
        box.open()

    def set_palette(self, palette: ChartColours) -> None:
        """The theme's colours, the chart's view kept where the trader left it."""
        self.palette = palette
        self.chart.set_palette(palette)
        frame = self.frame(self.chart_box.currentText())
        if frame is not None:
            self.chart.show_analysis(frame)  # the levels' colours are the theme's

    def shutdown(self) -> None:
        """Stop a running analysis's suggestions (call when the window closes)."""
        self._closed = True
        self.unfollow()
        if self._cancel is not None:
            self._cancel.set()


def _utc(stamp: Any) -> str:
    """A bar's time as the tab writes it: 2024-03-05 14:07 UTC."""
    from datetime import UTC, datetime

    if not isinstance(stamp, int | float):
        return "—"
    return datetime.fromtimestamp(float(stamp), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _problem(exc: BaseException) -> str:
    """What to tell the trader: the message of our errors, the kind and message of others
    (the log keeps the rest), never a traceback."""
    if isinstance(exc, VelocitasError | ValueError | OSError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _series(bars: Bars, report: dict[str, Any]) -> dict[str, Bars]:
    """Each analysed timeframe's bars for the chart: the input's own, the others resampled."""
    series: dict[str, Bars] = {}
    for frame in report["timeframes"]:
        seconds = float(frame["seconds"])
        if frame["bars"]:
            series[frame["timeframe"]] = (bars if abs(seconds - bars.interval) < 1e-9
                                          else resample(bars, seconds))
    return series


def _live_report(engine: TradingEngine, coin: str, request: TrendRequest, catalog: Any,
                 progress: Any, cancel: threading.Event) -> tuple[Bars, dict[str, Any]]:
    """The engine's live report of ``coin`` and its candles; the suggestions on those
    candles when asked for."""
    progress(0, 1)
    report = dict(engine.trend(coin))
    bars = Bars.from_candles(engine.candles(coin))
    report["suggestions"] = None
    if request.suggest:
        from velocitas_desktop.research.suggest import SuggestSettings, suggest

        report["suggestions"] = suggest(
            bars, SuggestSettings(bars=request.suggest_bars, folds=request.folds,
                                  workers=request.workers),
            catalog=catalog, on_progress=lambda done, total: progress(1 + done, 1 + total),
            cancel=cancel)
    progress(1, 1)
    return bars, report


__all__: list[str] = ["Analysis", "TrendTab", "offered_timeframes"]
