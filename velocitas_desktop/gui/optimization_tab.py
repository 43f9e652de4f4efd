"""The Optimisation tab: pick a file, a strategy and ranges, rank the results, apply the best live.

Jobs go through an OptimizationService, the same job driver the server uses: the tab submits
the bars its user chose, polls the job's progress, cancels it and reads its results there.
Nothing slow runs on the Qt thread: the bar file is read and the job submitted (which
validates and enumerates the grid) in the GUI's background pool, the job runs on its own
thread, and the backtest of a selected row runs in the pool too.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.strategy import Param, StrategySpec
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.fields import NumberField, first_problem, job_message, job_progress
from velocitas_desktop.gui.optimization.equity import EquityChart
from velocitas_desktop.gui.optimization.heatmap import Heatmap
from velocitas_desktop.gui.optimization.helpers import (
    bar_timeframe,
    combinations_text,
    declared_range,
    default_range,
    heatmap_grid,
    number_text,
    params_text,
    range_values,
    unique_id,
    varied_params,
)
from velocitas_desktop.gui.optimization.tables import (
    TRADE_COLUMNS,
    result_columns,
    result_row,
    walk_forward_columns,
    walk_forward_row,
    walk_forward_summary,
)
from velocitas_desktop.gui.panels import fit_columns, make_table
from velocitas_desktop.gui.table import Column, ColumnTableModel
from velocitas_desktop.gui.theme import DARK, ChartColours
from velocitas_desktop.paths import data_dir, sample_data_dir
from velocitas_desktop.research.backtest import BacktestResult, BarSeries, backtest, load_bars
from velocitas_desktop.research.jobs import JobRecord, OptimizationService
from velocitas_desktop.research.optimize import (
    MAX_COMBINATIONS,
    JobStatus,
    OptimizeError,
    OptimizeSettings,
    plan_windows,
)
from velocitas_desktop.research.ranking import DEFAULT_METRIC, METRICS

SAMPLE_FILE = "BTCUSD-1h-sample.csv"
POLL_MS = 100            # how often the tab reads the job's progress and looks for its end
DATA_SUFFIXES = (".csv", ".csv.gz")


# --- the tab ------------------------------------------------------------------------------

class RangeRow:
    """One parameter in the ranges form: a "vary" checkbox and its range text."""

    def __init__(self, param: Param) -> None:
        self.param = param
        self.vary = QCheckBox(param.name)
        self.vary.setObjectName(f"vary_{param.name}")
        self.edit = QLineEdit(default_range(param))
        self.edit.setObjectName(f"range_{param.name}")
        self.edit.setPlaceholderText("lo:hi:step or v1,v2,...")
        self.default = QLabel(f"default {number_text(param.default)}")
        self.default.setObjectName("mutedLabel")
        tip = f"{param.doc or 'declared'} (from {declared_range(param)})"
        for widget in (self.vary, self.edit):
            widget.setToolTip(f"{tip}. Unticked: held at its default.")
        # a parameter without a declared step (the order size) is held unless asked
        self.vary.setChecked(param.step is not None and param.name != "quantity")
        self.edit.setEnabled(self.vary.isChecked())
        self.vary.toggled.connect(self.edit.setEnabled)


class OptimizationTab(QWidget):
    """Grid / random search of a strategy over a bar file, ranked, charted and applied live."""

    def __init__(self, engine: TradingEngine, parent: QWidget | None = None,
                 data_dirs: list[Path] | None = None,
                 palette: ChartColours | None = None,
                 service: OptimizationService | None = None,
                 slippage: float = 0.0) -> None:
        super().__init__(parent)
        self.engine = engine
        self.default_slippage = slippage  # a fraction, the live engine's (Settings)
        self.palette = palette or DARK
        self.data_dirs = list(data_dirs) if data_dirs is not None else [
            sample_data_dir(), data_dir() / "history"]
        self._owns_service = service is None
        # one job at a time, and only the latest kept: the tab shows one job's results, and
        # an older job would only hold its bars and rows in memory
        self.service = service or OptimizationService(self.data_dirs, catalog=engine.catalog,
                                                      max_jobs=1, max_running=1)
        self.job: JobRecord | None = None
        self.result: dict[str, Any] | None = None
        self.results: list[dict[str, Any]] = []
        self.bars: BarSeries | None = None
        self.bars_path = ""
        self.run_settings: OptimizeSettings | None = None
        self.varied: list[str] = []
        self.range_rows: list[RangeRow] = []
        self._backtest_request = 0
        self._preparing = False
        self._constraints = ""
        self._closed = False  # after shutdown, late answers from other threads are dropped
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._check_job)
        self._build()
        self.refresh_files()
        self._strategy_changed(self.strategy_box.currentText())
        fit_columns(self.results_view)
        fit_columns(self.trades_view)

    # --- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_settings())
        splitter.addWidget(self._build_results())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 1200])
        layout.addWidget(splitter)

    def _build_settings(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 4, 0)

        data = QGroupBox("Data")
        data_layout = QHBoxLayout(data)
        self.file_box = QComboBox()
        self.file_box.setObjectName("fileBox")
        self.file_box.setEditable(True)
        self.file_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.file_box.lineEdit().setPlaceholderText("a bar file (CSV)")
        self.file_box.setToolTip("A known bar file, or type the path of one")
        self.file_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.file_box.setMinimumContentsLength(12)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        data_layout.addWidget(self.file_box, 1)
        data_layout.addWidget(self.browse_button)
        column.addWidget(data)

        setup = QGroupBox("Search")
        form = QFormLayout(setup)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.strategy_box = QComboBox()
        self.strategy_box.setObjectName("strategyBox")
        self.strategy_box.addItems(self.engine.catalog.names())
        if "SMA_Crossover" in self.engine.catalog.names():
            self.strategy_box.setCurrentText("SMA_Crossover")
        self.strategy_box.currentTextChanged.connect(self._strategy_changed)
        form.addRow("Strategy", self.strategy_box)
        self.metric_box = QComboBox()
        self.metric_box.setObjectName("metricBox")
        for metric in METRICS.values():
            self.metric_box.addItem(metric.title, metric.key)
        form.addRow("Rank by", self.metric_box)
        # number fields, not spin boxes: what is typed stays, and out of range it is refused
        # with the reason under the field (a spin box dropped a digit or put its old value back)
        self.in_sample = NumberField(0.7, label="in-sample share", low=0.1, high=1.0, step=0.05)
        self.in_sample.setObjectName("inSample")
        self.in_sample.setToolTip("Share of the bars the ranking uses; the rest scores each "
                                  "row out of sample (1.0: no out-of-sample score)")
        form.addRow("In-sample share", self.in_sample.row())
        self.walk_forward_box = NumberField(0, label="walk-forward folds", integer=True, low=0,
                                            high=50, words={0: "off"})
        self.walk_forward_box.setObjectName("walkForwardBox")
        self.walk_forward_box.setToolTip(
            "Cut the bars into K+1 windows: each fold ranks the grid on one window and scores "
            "its best parameters on the next (empty or “off”: none). Costs no extra backtest")
        form.addRow("Walk-forward folds", self.walk_forward_box.row())
        self.random_box = NumberField(0, label="number of random combinations", integer=True,
                                      low=0, high=MAX_COMBINATIONS, step=10,
                                      words={0: "full grid"})
        self.random_box.setObjectName("randomBox")
        self.random_box.setToolTip("Backtest N random combinations instead of the whole grid "
                                   "(empty or “full grid”: every combination)")
        self.random_box.textChanged.connect(self._update_count)
        form.addRow("Random search N", self.random_box.row())
        self.fee_box = NumberField(0.1, label="fee", low=0.0, high=5.0, step=0.01, unit=" %")
        self.fee_box.setObjectName("feeBox")
        self.fee_box.setToolTip("Fee per fill, in % of the fill's value")
        form.addRow("Fee per fill", self.fee_box.row())
        # the live engine fills at the price moved by its slippage: without it here a row read
        # +65.14% and its live replay +63.2% (0.05% slippage, the sample file's SMA best row)
        self.slippage_box = NumberField(self.default_slippage * 100, label="slippage", low=0,
                                        high=10, step=0.01, unit="%")
        self.slippage_box.setObjectName("slippageBox")
        self.slippage_box.setToolTip("How far each fill moves against the order, as the live "
                                     "engine's Settings → Slippage (default from there)")
        form.addRow("Slippage per fill", self.slippage_box.row())
        self.workers_box = NumberField(-1, label="number of workers", integer=True, low=0,
                                       high=max(os.cpu_count() or 1, 1) * 4,
                                       words={-1: "auto"})
        self.workers_box.setObjectName("workersBox")
        self.workers_box.setToolTip("Worker processes (auto or empty: one per core; 0: one "
                                    "background thread, best for small grids)")
        form.addRow("Workers", self.workers_box.row())
        column.addWidget(setup)

        ranges = QGroupBox("Parameter ranges")
        ranges_layout = QVBoxLayout(ranges)
        self.ranges_grid = QGridLayout()
        self.ranges_grid.setHorizontalSpacing(8)
        self.ranges_grid.setColumnStretch(1, 1)
        ranges_layout.addLayout(self.ranges_grid)
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.count_label.setWordWrap(True)
        ranges_layout.addWidget(self.count_label)
        column.addWidget(ranges)

        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(panel)
        # the form scrolls, Run and its progress stay in view: at 1280x720 the form is taller
        # than the tab and Run had scrolled out of sight
        side = QWidget()
        side.setObjectName("optimizeSide")
        side.setMinimumWidth(310)
        side.setMaximumWidth(440)
        side_column = QVBoxLayout(side)
        side_column.setContentsMargins(0, 0, 6, 0)
        side_column.addWidget(scroll, 1)
        side_column.addWidget(self._build_run_controls())
        return side

    def _build_run_controls(self) -> QWidget:
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 4, 0, 0)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run optimisation")
        self.run_button.setObjectName("runButton")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        column.addLayout(buttons)
        self.progress = job_progress("optimizeProgress")
        column.addWidget(self.progress)
        self.message = job_message("optimizeMessage")
        column.addWidget(self.message)
        return controls

    def _build_results(self) -> QWidget:
        self.results_model = ColumnTableModel(self._result_columns([]))
        self.results_view = make_table(self.results_model)
        self.results_view.setObjectName("resultsTable")
        self._connect_selection()

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.summary = QLabel("Ranked results")
        self.summary.setObjectName("summaryLabel")
        header.addWidget(self.summary, 1)
        header.addWidget(QLabel("Coin"))
        self.coin_box = QComboBox()
        self.coin_box.setObjectName("coinBox")
        self.coin_box.setEditable(True)
        self.coin_box.setMinimumWidth(80)
        header.addWidget(self.coin_box)
        self.apply_button = QPushButton("Apply to live")
        self.apply_button.setObjectName("applyButton")
        self.apply_button.setToolTip("Register the selected row's strategy and parameters "
                                     "with the engine")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_to_live)
        header.addWidget(self.apply_button)
        top_layout.addLayout(header)
        self.apply_message = QLabel()
        self.apply_message.setObjectName("applyMessage")
        self.apply_message.setWordWrap(True)
        self.apply_message.hide()
        top_layout.addWidget(self.apply_message)
        top_layout.addWidget(self.results_view, 1)
        # the walk-forward's folds, shown when the search had some
        self.walk_label = QLabel()
        self.walk_label.setObjectName("walkForwardLabel")
        self.walk_label.setWordWrap(True)
        self.walk_model = ColumnTableModel(walk_forward_columns(METRICS[DEFAULT_METRIC]))
        self.walk_view = make_table(self.walk_model)
        self.walk_view.setObjectName("walkForwardTable")
        top_layout.addWidget(self.walk_label)
        top_layout.addWidget(self.walk_view)
        self.walk_label.hide()
        self.walk_view.hide()

        heat = QWidget()
        heat_layout = QVBoxLayout(heat)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        axes = QHBoxLayout()
        axes.addWidget(QLabel("Heatmap  x"))
        self.x_box = QComboBox()
        self.x_box.setObjectName("heatX")
        axes.addWidget(self.x_box)
        axes.addWidget(QLabel("y"))
        self.y_box = QComboBox()
        self.y_box.setObjectName("heatY")
        axes.addWidget(self.y_box)
        axes.addStretch(1)
        heat_layout.addLayout(axes)
        self.x_box.setEnabled(False)
        self.y_box.setEnabled(False)
        self.heat_note = QLabel()
        self.heat_note.setObjectName("mutedLabel")
        self.heat_note.setWordWrap(True)
        heat_layout.addWidget(self.heat_note)
        self.heatmap = Heatmap(self.palette)
        self.heatmap.cell_clicked.connect(self._select_cell)
        heat_layout.addWidget(self.heatmap, 1)
        self.x_box.currentTextChanged.connect(lambda _: self._draw_heatmap())
        self.y_box.currentTextChanged.connect(lambda _: self._draw_heatmap())

        detail = QSplitter(Qt.Orientation.Vertical)
        self.equity = EquityChart(self.palette)
        self.trades_model = ColumnTableModel(TRADE_COLUMNS)
        self.trades_view = make_table(self.trades_model)
        self.trades_view.setObjectName("tradesTable")
        trades = QWidget()
        trades_layout = QVBoxLayout(trades)
        trades_layout.setContentsMargins(0, 0, 0, 0)
        self.trades_label = QLabel("Trades of the selected row")
        self.trades_label.setObjectName("mutedLabel")
        trades_layout.addWidget(self.trades_label)
        trades_layout.addWidget(self.trades_view)
        detail.addWidget(self.equity)
        detail.addWidget(trades)
        detail.setSizes([260, 200])

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(heat)
        bottom.addWidget(detail)
        bottom.setSizes([520, 700])

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(bottom)
        right.setSizes([330, 520])
        return right

    def showEvent(self, event: QShowEvent) -> None:
        # files downloaded and coins started since the tab was last seen
        super().showEvent(event)
        if not self.running:
            self.refresh_files()

    def _connect_selection(self) -> None:
        self.results_view.selectionModel().selectionChanged.connect(self._row_selected)

    # --- data files --------------------------------------------------------------------

    def refresh_files(self) -> None:
        """List the bar files of the known folders (the sample first) in the file combo."""
        current = self.current_path()
        self.file_box.clear()
        seen: set[str] = set()
        for folder in self.data_dirs:
            try:
                names = sorted(p for p in Path(folder).iterdir()
                               if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))
            except OSError:  # a folder not made yet (history before any download)
                continue
            for path in names:
                if str(path) not in seen:
                    seen.add(str(path))
                    self.file_box.addItem(path.name, str(path))
                    self.file_box.setItemData(self.file_box.count() - 1, str(path),
                                              Qt.ItemDataRole.ToolTipRole)
        self._select_file(current or str(sample_data_dir() / SAMPLE_FILE))
        self.refresh_coins()

    def _select_file(self, path: str) -> None:
        index = self.file_box.findData(path)
        if index < 0 and path and Path(path).is_file():
            self.file_box.addItem(Path(path).name, path)
            index = self.file_box.count() - 1
        if index >= 0:
            self.file_box.setCurrentIndex(index)

    def current_path(self) -> str:
        """The chosen file: a listed one by its name, else the text typed as a path."""
        if not hasattr(self, "file_box"):
            return ""
        text = self.file_box.currentText().strip()
        index = self.file_box.currentIndex()
        if index >= 0 and self.file_box.itemText(index) == text:
            return str(self.file_box.itemData(index))
        found = self.file_box.findText(text)
        if found >= 0:
            return str(self.file_box.itemData(found))
        return str(Path(text).expanduser()) if text else ""

    def _browse(self) -> None:
        # a dialog given no folder opens in the current directory
        start = str(Path(self.current_path()).parent) if self.current_path() else ""
        if not start or not Path(start).is_dir():
            start = str(sample_data_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a bar file", start,
                                              "Bar files (*.csv *.csv.gz);;All files (*)")
        if path:
            self._select_file(path)

    def refresh_coins(self) -> None:
        """The engine's coins (running feed and registered strategies), BTC by default."""
        current = self.coin_box.currentText() or "BTC"
        coins = list(dict.fromkeys(
            ["BTC", *self.engine.snapshot()["global"].get("coins", []),
             *(s["coin"] for s in self.engine.strategies())]))
        self.coin_box.clear()
        self.coin_box.addItems(coins)
        self.coin_box.setCurrentText(current)

    # --- the ranges form ---------------------------------------------------------------

    def _strategy_changed(self, name: str) -> None:
        while self.ranges_grid.count():
            item = self.ranges_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.range_rows = []
        if not name:
            return
        cls = self.engine.catalog.get(name)
        for line, param in enumerate(cls.params.values()):
            row = RangeRow(param)
            self.ranges_grid.addWidget(row.vary, line, 0)
            self.ranges_grid.addWidget(row.edit, line, 1)
            self.ranges_grid.addWidget(row.default, line, 2)
            row.edit.textChanged.connect(self._update_count)
            row.vary.toggled.connect(self._update_count)
            self.range_rows.append(row)
        constraints = cls.schema().get("constraints", [])
        self._constraints = ", ".join(constraints)
        self._update_count()

    def range_row(self, name: str) -> RangeRow:
        return next(r for r in self.range_rows if r.param.name == name)

    def read_grid(self) -> dict[str, list[Any]]:
        """The ticked ranges as a grid; OptimizeError naming the first bad one."""
        grid = {}
        for row in self.range_rows:
            if row.vary.isChecked():
                grid[row.param.name] = range_values(row.param.name, row.edit.text())
        if not grid:
            raise OptimizeError("the grid is empty: tick at least one parameter to vary")
        return grid

    def _update_count(self, *_: Any) -> None:
        try:
            grid = self.read_grid()
        except OptimizeError as exc:
            self._set_count(str(exc), error=True)
            return
        size = math.prod(len(v) for v in grid.values())
        text = combinations_text(grid, self._constraints)
        random = self.random_box.problem is None and self.random_box.value()
        if size > MAX_COMBINATIONS and not random:
            self._set_count(f"{text}: over the {MAX_COMBINATIONS:,} limit; widen the steps "
                            "or use random search", error=True)
            return
        self._set_count(text, error=False)

    def _set_count(self, text: str, error: bool) -> None:
        self.count_label.setText(text)
        colour = self.palette.down if error else self.palette.foreground
        self.count_label.setStyleSheet(f"color: {colour};")

    # --- running -----------------------------------------------------------------------

    def settings(self) -> OptimizeSettings:
        """The search as typed; OptimizeError for a bad range or an empty grid."""
        problem = first_problem({"in-sample share": self.in_sample,
                                 "walk-forward folds": self.walk_forward_box,
                                 "random search": self.random_box, "fee": self.fee_box,
                                 "slippage": self.slippage_box, "workers": self.workers_box})
        if problem is not None:
            raise OptimizeError(problem)
        workers = self.workers_box.value()
        return OptimizeSettings(
            strategy=self.strategy_box.currentText(), grid=self.read_grid(),
            random=self.random_box.value() or None, metric=self.metric_box.currentData(),
            fee=self.fee_box.value() / 100.0, slippage=self.slippage_box.value() / 100.0,
            workers=None if workers < 0 else workers,
            in_sample=round(self.in_sample.value(), 4),
            walk_forward=self.walk_forward_box.value() or 0)

    @property
    def running(self) -> bool:
        return self._preparing or (self.job is not None and self.job.status is JobStatus.RUNNING)

    def run(self) -> None:
        """Check the inputs, then read the file and build the job off the Qt thread."""
        if self.running:
            return
        try:
            settings = self.settings()
        except OptimizeError as exc:
            self.show_message(str(exc), error=True)
            return
        path = self.current_path()
        if not path:
            self.show_message("choose a bar file first (Browse…)", error=True)
            return
        self._preparing = True
        self._set_running(True)
        self.progress.setRange(0, 0)  # busy until the job knows its size
        self.progress.setFormat("preparing…")
        self.show_message(f"Reading {Path(path).name} and checking the grid…", error=False)
        cached = self.bars if self.bars_path == path else None
        service = self.service

        def submit() -> tuple[JobRecord, BarSeries]:
            # the user chose this file on their own machine: the tab reads it and hands the
            # service the bars (a remote caller can only name files in the data folders)
            bars = cached if cached is not None else load_bars(path)
            return service.submit_bars(settings, bars, Path(path).name), bars

        def submitted(made: tuple[JobRecord, BarSeries]) -> None:
            if self._closed:
                return
            self._preparing = False
            record, bars = made
            self.bars, self.bars_path, self.run_settings = bars, path, settings
            self.job = record
            _, total = record.progress
            self.progress.setRange(0, total)
            self.progress.setValue(0)
            self.progress.setFormat("%v / %m combinations")
            self.show_message(f"Backtesting {total:,} combinations over {len(bars):,} "
                              "bars…", error=False)
            self.poll.start()

        run_in_background(submit, submitted, self._submit_failed)

    def _submit_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._preparing = False
        self._set_running(False)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        if isinstance(exc, VelocitasError):
            self.show_message(str(exc), error=True)
        else:  # never a traceback in the tab; the log keeps the detail
            self.show_message(f"the optimisation could not start: {exc}", error=True)

    def cancel(self) -> None:
        if self.job is not None and self.job.status is JobStatus.RUNNING:
            self.service.cancel(self.job.id)
            self.cancel_button.setEnabled(False)
            self.show_message("Cancelling: the backtests in flight finish first…", error=False)

    def _show_progress(self, done: int, total: int) -> None:
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _check_job(self) -> None:
        """On the poll timer: the job's progress, and once it has ended, its results."""
        record = self.job
        if record is None:
            return
        ended = record.status.ended  # before the progress: an ended job's count is final
        self._show_progress(*record.progress)
        if not ended:
            return
        self.poll.stop()
        self._set_running(False)
        if record.status is JobStatus.ERROR:
            self.show_message(record.error or "the optimisation failed", error=True)
            return
        result = self.service.results(record.id)
        self.show_result(result)
        verdict = "Cancelled" if result["cancelled"] else "Finished"
        text = (f"{verdict}: {result['completed']:,} of {result['combinations']:,} "
                f"combinations in {result['elapsed_s']:.1f} s.")
        look = result.get("lookahead")
        if look and not look.get("ok", True):
            self.show_message(f"{text} Warning: {look['message']}", error=True)
        else:
            self.show_message(text, error=False)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.strategy_box.setEnabled(not running)
        self.file_box.setEnabled(not running)
        self.browse_button.setEnabled(not running)

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        colour = self.palette.down if error else self.palette.foreground
        self.message.setStyleSheet(f"color: {colour};")
        self.message.setProperty("error", error)

    # --- results -----------------------------------------------------------------------

    def _result_columns(self, names: list[str]) -> list[Column]:
        metric = METRICS[self.run_settings.metric if self.run_settings else DEFAULT_METRIC]
        return result_columns(metric, names)

    def show_result(self, result: dict[str, Any]) -> None:
        """Fill the ranked table and the heatmap axes from a job's result."""
        self.result = result
        self.results = result["results"]
        grid = self.run_settings.grid if self.run_settings else {}
        self.varied = varied_params(grid, self.results)
        self.results_model = ColumnTableModel(self._result_columns(self.varied), key="rank")
        self.results_model.set_rows([result_row(item, self.varied) for item in self.results])
        # a new search shows its ranking: the columns may differ from the last one's
        self.results_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.results_view.setModel(self.results_model)
        self._connect_selection()
        fit_columns(self.results_view)
        self.summary.setText(f"Ranked results: {result['strategy']} by "
                             f"{METRICS[result['metric']].title}, "
                             f"{len(self.results):,} rows")
        self.apply_button.setEnabled(False)
        self.equity.clear()
        self.trades_model.clear()
        for box, pick in ((self.x_box, 0), (self.y_box, 1)):
            box.blockSignals(True)
            box.clear()
            box.addItems(self.varied)
            box.setCurrentIndex(min(pick, len(self.varied) - 1))
            box.setEnabled(len(self.varied) > 1)
            box.blockSignals(False)
        self._draw_heatmap()
        self._show_walk_forward(result)
        self.refresh_coins()

    def _show_walk_forward(self, result: dict[str, Any]) -> None:
        """The folds of a walk-forward search under the ranking, or nothing without one."""
        folds = result.get("walk_forward") or []
        self.walk_label.setVisible(bool(folds))
        self.walk_view.setVisible(bool(folds))
        if not folds:
            return
        metric = METRICS[result["metric"]]
        self.walk_model = ColumnTableModel(walk_forward_columns(metric), key="fold")
        self.walk_model.set_rows([walk_forward_row(fold, self.varied) for fold in folds])
        self.walk_view.setModel(self.walk_model)
        fit_columns(self.walk_view)
        # every fold in view up to six, then a scroll bar: the ranking keeps the room
        shown = min(len(folds), 6)
        self.walk_view.setFixedHeight(self.walk_view.horizontalHeader().height()
                                      + shown * self.walk_view.verticalHeader().defaultSectionSize()
                                      + 2 * self.walk_view.frameWidth() + 2)
        self.walk_label.setText(walk_forward_summary(folds, metric))

    def _draw_heatmap(self) -> None:
        x_name, y_name = self.x_box.currentText(), self.y_box.currentText()
        if not self.results or not x_name or not y_name:
            self.heatmap.clear()
            self.heat_note.setText("")
            return
        if len(self.varied) < 2:
            self.heatmap.clear()
            self.heat_note.setText("The heatmap needs two varied parameters.")
            return
        if x_name == y_name:
            self.heatmap.clear()
            self.heat_note.setText("Choose two different parameters for the axes.")
            return
        best = self.results[0]["params"]
        metric = METRICS[self.result["metric"] if self.result else DEFAULT_METRIC]
        sampled = bool(self.run_settings and self.run_settings.random)
        anchor = None if sampled else {n: best[n] for n in self.varied}
        xs, ys, grid = heatmap_grid(self.results, x_name, y_name, anchor,
                                    not metric.higher_is_better)
        self.heatmap.show_grid(x_name, y_name, xs, ys, grid, not metric.higher_is_better,
                               (best[x_name], best[y_name]))
        others = [n for n in self.varied if n not in (x_name, y_name)]
        note = f"{metric.title} in sample; the best row is outlined"
        if sampled and others:
            note += "; each cell the best of the sampled rows in it"
        elif others:
            note += f"; other parameters held at the best row's {params_text(best, others)}"
        self.heat_note.setText(note + ". Click a cell to select its row.")

    def _select_cell(self, cell: dict[str, Any]) -> None:
        """Select the cell's row: the best ranked one in it (the results are in rank order)."""
        sampled = bool(self.run_settings and self.run_settings.random)
        best = self.results[0]["params"]
        wanted = {**({} if sampled else {n: best[n] for n in self.varied}), **cell}
        for item in self.results:
            if all(item["params"].get(n) == v for n, v in wanted.items()):
                row = self.results_model.row_of(item["rank"])  # where it is, however sorted
                if row is not None:
                    self.results_view.selectRow(row)
                return

    def selected_result(self) -> dict[str, Any] | None:
        rows = self.results_view.selectionModel().selectedRows()
        if not rows or not self.results:
            return None
        rank = self.results_model.value(rows[0].row(), "rank")
        return self.results[int(rank) - 1]

    def _row_selected(self, *_: Any) -> None:
        item = self.selected_result()
        self.apply_button.setEnabled(item is not None)
        if item is None or self.bars is None or self.run_settings is None:
            return
        self._backtest_request += 1
        request = self._backtest_request
        settings, bars, params = self.run_settings, self.bars, dict(item["params"])
        catalog = self.engine.catalog
        self.trades_label.setText(f"Backtesting rank {item['rank']}…")

        def work() -> BacktestResult:
            return backtest(settings.strategy, bars, params, fee=settings.fee,
                            slippage=settings.slippage, cash=settings.cash, coin=settings.coin,
                            catalog=catalog)

        run_in_background(work, lambda r: self._show_backtest(request, item, r),
                          lambda exc: self._backtest_failed(request, exc))

    def _show_backtest(self, request: int, item: dict[str, Any], result: BacktestResult) -> None:
        if (self._closed or request != self._backtest_request or self.run_settings is None
                or self.bars is None):
            return  # a later selection superseded this one
        split = None
        if self.run_settings.in_sample < 1.0:
            windows = plan_windows(len(self.bars), self.run_settings.in_sample)
            split = float(self.bars.stamps[windows[1].start])
        stats = result.stats
        caption = (f"#{item['rank']}  {params_text(item['params'], list(item['params']))}"
                   f"  ·  return {stats['total_return_pct']:+.2f}%  ·  "
                   f"max DD {stats['max_drawdown_pct']:.2f}%")
        self.equity.show_result(result, self.run_settings.cash, split, caption)
        self.trades_model.set_rows(result.trade_dicts())
        fit_columns(self.trades_view)
        self.trades_label.setText(f"Trades of rank {item['rank']}: {len(result.trades):,} "
                                  "fills over the whole file")

    def _backtest_failed(self, request: int, exc: BaseException) -> None:
        if not self._closed and request == self._backtest_request:
            self.trades_label.setText(f"The backtest of this row failed: {exc}")

    # --- apply to live -----------------------------------------------------------------

    def apply_to_live(self) -> None:
        """Register the selected row's strategy and parameters with the engine."""
        item = self.selected_result()
        if item is None or self.result is None:
            self._show_apply("select a row of the results first", error=True)
            return
        name = self.result["strategy"]
        coin = self.coin_box.currentText().strip().upper() or "BTC"
        # parameters tuned on hourly bars mean the same only on hourly bars: decide live on
        # bars of the file's interval when there is such a timeframe
        timeframe = bar_timeframe(self.bars.interval if self.bars is not None else None)
        try:
            spec = StrategySpec(name, coin, dict(item["params"]), timeframe)
            taken = {s["strategy_id"] for s in self.engine.strategies()}
            spec = StrategySpec(name, coin, dict(item["params"]), timeframe,
                                strategy_id=unique_id(spec.id, taken))
            registered = self.engine.register(spec)
        except VelocitasError as exc:
            self._show_apply(f"not applied: {exc}", error=True)
            return
        self._show_apply(f"Registered {registered.id} ({registered.timeframe}) with "
                         f"{params_text(registered.params, list(registered.params))}",
                         error=False)

    def _show_apply(self, text: str, error: bool) -> None:
        self.apply_message.setText(text)
        colour = self.palette.down if error else self.palette.up
        self.apply_message.setStyleSheet(f"color: {colour};")
        self.apply_message.show()

    # --- theme and shutdown ------------------------------------------------------------

    def set_default_slippage(self, slippage: float) -> None:
        """The live engine's slippage changed in Settings: follow it unless one was typed."""
        field = self.slippage_box
        if field.problem is None and math.isclose(field.value(), self.default_slippage * 100):
            field.setValue(slippage * 100)
        self.default_slippage = slippage

    def set_palette(self, palette: ChartColours) -> None:
        self.palette = palette
        self.heatmap.set_palette(palette)
        self.equity.set_palette(palette)
        self._draw_heatmap()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel a running job and wait for it (call when the window closes)."""
        self._closed = True
        self.poll.stop()
        if self._owns_service:  # also refuses a job whose bars are still being read
            self.service.shutdown(timeout)
        elif self.job is not None and self.job.status is JobStatus.RUNNING:
            self.service.cancel(self.job.id)
            self.service.wait(self.job.id, timeout)


__all__: list[str] = ["OptimizationTab", "RangeRow"]
