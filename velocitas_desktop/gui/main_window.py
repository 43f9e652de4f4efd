"""The terminal's main window: toolbar, KPIs, charts, strategies, blotter, log and status bar."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.errors import ParameterError, UnknownStrategyError, VelocitasError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.contract import AttachedView, EngineStatus, TradingEngine
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.engine.request import (
    SessionRequest,
    Vocabulary,
    coin_from_filename,
    parse_coins,
    parse_csv_files,
    parse_pace,
    session_config,
)
from velocitas_desktop.feeds.base import FeedError, FeedState
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.bridge import EngineBridge
from velocitas_desktop.gui.chart_session import ChartSession
from velocitas_desktop.gui.charts import PriceCharts
from velocitas_desktop.gui.dialogs import SettingsDialog, StrategyForm
from velocitas_desktop.gui.optimization_tab import OptimizationTab
from velocitas_desktop.gui.panels import Banner, BlotterPanel, KpiBar, LogPanel, StrategiesPanel
from velocitas_desktop.gui.pnl import PnlChart
from velocitas_desktop.gui.sessions import add_sessions_menu
from velocitas_desktop.gui.settings import Settings, layout_store, save_settings
from velocitas_desktop.gui.theme import apply_theme, colours
from velocitas_desktop.gui.welcome import WelcomePanel, add_ready_set, builtin_names
from velocitas_desktop.server.embedded import embedded_server

log = logging.getLogger(__name__)

SOURCES = (("Simulated", "simulated"), ("CSV files", "csv"), ("Binance", "binance"))
# How the toolbar's fields are named in the session request's messages.
TOOLBAR = Vocabulary({"source": "Source", "coins": "Coins", "csv_files": "Files",
                      "rate": "Ticks/s", "speed": "Speed", "workers": "Workers"}, assign=": ",
                     hints={"csv_files": "choose the files with Browse…"})
LAYOUT_VERSION = 1
RESTORE_LIMIT = 1_000_000  # trades of the restored session loaded into the blotter


class MainWindow(QMainWindow):
    """One view of one engine. Widgets read the engine only through the bridge's signals and
    quick locked copies; start, stop and strategy changes run on the thread pool."""

    def __init__(self, engine: TradingEngine, settings: Settings,
                 journal_path: str | Path | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.palette_colours = colours(settings.theme)
        self.server: AttachedView | None = None
        self.busy = False
        self.last_metrics: dict[str, Any] = {}
        self.forms: list[StrategyForm] = []
        self.settings_dialog: SettingsDialog | None = None
        self.market_time = 0.0  # newest tick time seen: the P&L chart's clock
        self.feed_failure: str | None = None
        self.simulated_start: float | None = None  # first data time of a max-speed simulation
        self.setWindowTitle("Velocitas — crypto trading terminal")
        self.resize(1600, 960)
        self._build_toolbar()
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self.bridge = EngineBridge(engine, self)
        self.chart_session = ChartSession(engine, self.charts, self.pnl_chart,
                                          self.strategies_panel.selected_id,
                                          lambda: self.engine.catalog, self.show_error)
        self.strategies_panel.table.selectionModel().selectionChanged.connect(
            self.chart_session.strategy_selected)
        self._connect_bridge()
        self.sessions_action = add_sessions_menu(self, journal_path)
        self._restore_layout()
        self._source_changed()
        self.refresh_strategies()
        self.kpis.show_metrics(engine.snapshot()["global"])
        self._update_controls()
        self._load_restored_trades()
        for problem in engine.catalog.problems:
            self.log_panel.add("warning", f"strategy file not loaded: {problem}")
        # The widgets, Qt wrappers and modules live as long as the window: exempt them from
        # the cyclic collector. Otherwise each full collection walks them all (~30 ms on the
        # Qt thread, bench/gui.py), and the fills arriving from the engine trigger one every
        # second or so. Undone when the window closes.
        gc.collect()
        gc.freeze()

    # --- building --------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        bar = QToolBar("Engine")
        bar.setObjectName("engineToolbar")
        bar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        title = QLabel("  VELOCITAS  ")
        title.setStyleSheet("font-weight: 700; letter-spacing: 2px; color: #2962ff;")
        bar.addWidget(title)
        bar.addWidget(QLabel("Source"))
        self.source_box = QComboBox()
        self.source_box.setObjectName("sourceBox")
        for text, value in SOURCES:
            self.source_box.addItem(text, value)
        bar.addWidget(self.source_box)
        bar.addWidget(QLabel("Coins"))
        self.coins_edit = QLineEdit("BTC,ETH")
        self.coins_edit.setObjectName("coinsEdit")
        self.coins_edit.setMaximumWidth(160)
        self.coins_edit.setToolTip("comma-separated symbols, e.g. BTC,ETH,SOL")
        bar.addWidget(self.coins_edit)
        self.csv_label = QLabel("Files")
        self.csv_edit = QLineEdit()
        self.csv_edit.setObjectName("csvEdit")
        self.csv_edit.setMinimumWidth(280)
        self.csv_edit.setPlaceholderText("BTC=/path/btc-1m.csv; ETH=/path/eth-1m.csv")
        self.csv_browse = QPushButton("Browse…")
        self.csv_browse.clicked.connect(self._browse_csv)
        self.csv_actions = [bar.addWidget(w) for w in (self.csv_label, self.csv_edit,
                                                        self.csv_browse)]
        self.rate_label = QLabel("Ticks/s")
        self.rate_edit = QLineEdit("1000")
        self.rate_edit.setObjectName("rateEdit")
        self.rate_edit.setMaximumWidth(70)
        self.rate_edit.setToolTip("simulated ticks per second, or max for as fast as possible")
        self.rate_actions = [bar.addWidget(w) for w in (self.rate_label, self.rate_edit)]
        self.speed_label = QLabel("Speed")
        self.speed_edit = QLineEdit("max")
        self.speed_edit.setObjectName("speedEdit")
        self.speed_edit.setMaximumWidth(60)
        self.speed_edit.setToolTip("replay speed: 1 = real time, 60 = a minute per second, max")
        self.speed_actions = [bar.addWidget(w) for w in (self.speed_label, self.speed_edit)]
        bar.addWidget(QLabel("Workers"))
        self.workers_box = QSpinBox()
        self.workers_box.setObjectName("workersBox")
        self.workers_box.setRange(0, 64)
        self.workers_box.setValue(self.settings.workers)
        self.workers_box.setToolTip("0 = strategies run in the engine thread; N = N processes")
        bar.addWidget(self.workers_box)
        bar.addSeparator()
        self.start_action = QAction("▶  Start", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+R"))
        self.start_action.triggered.connect(self.start_engine)
        self.stop_action = QAction("■  Stop", self)
        self.stop_action.setShortcut(QKeySequence("Ctrl+T"))
        self.stop_action.triggered.connect(self.stop_engine)
        bar.addAction(self.start_action)
        bar.addAction(self.stop_action)
        self.start_button = bar.widgetForAction(self.start_action)
        self.start_button.setObjectName("startButton")
        self.stop_button = bar.widgetForAction(self.stop_action)
        self.stop_button.setObjectName("stopButton")
        spacer = QWidget()
        spacer.setStyleSheet("background: transparent;")
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy())
        bar.addWidget(spacer)
        self.settings_action = QAction("⚙  Settings", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        bar.addAction(self.settings_action)
        self.settings_button = bar.widgetForAction(self.settings_action)
        self.source_box.currentIndexChanged.connect(self._source_changed)
        self.addToolBarBreak()
        kpi_bar = QToolBar("Key figures")
        kpi_bar.setObjectName("kpiToolbar")
        kpi_bar.setMovable(False)
        self.kpis = KpiBar()
        kpi_bar.addWidget(self.kpis)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, kpi_bar)

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = Banner()
        layout.addWidget(self.banner)
        self.welcome = WelcomePanel(builtin_names(self.engine.catalog))
        self.welcome.ready_set_requested.connect(lambda: add_ready_set(self))
        layout.addWidget(self.welcome)
        self.charts = PriceCharts(self.palette_colours)
        # the modes: live charts, and optimisation on history
        self.modes = QTabWidget()
        self.modes.setObjectName("modes")
        self.modes.addTab(self.charts, "Live")
        self.optimization = OptimizationTab(self.engine, palette=self.palette_colours)
        self.modes.addTab(self.optimization, "Optimisation")
        layout.addWidget(self.modes, 1)
        self.setCentralWidget(central)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.pnl_chart = PnlChart(self.palette_colours)
        self.strategies_panel = StrategiesPanel()
        self.blotter = BlotterPanel()
        self.blotter.default_folder = self.settings.csv_folder
        self.log_panel = LogPanel()
        right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.pnl_dock = self._dock("P&&L — equity per strategy and total", "pnlDock", self.pnl_chart, right)
        self.strategies_dock = self._dock("Strategies", "strategiesDock", self.strategies_panel,
                                          bottom)
        self.blotter_dock = self._dock("Trades", "blotterDock", self.blotter, bottom)
        self.log_dock = self._dock("Log", "logDock", self.log_panel, bottom)
        self.splitDockWidget(self.strategies_dock, self.blotter_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.blotter_dock, self.log_dock)
        self.blotter_dock.raise_()
        self.resizeDocks([self.pnl_dock], [520], Qt.Orientation.Horizontal)
        self.resizeDocks([self.strategies_dock, self.blotter_dock], [780, 820],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.strategies_dock], [330], Qt.Orientation.Vertical)
        view = self.menuBar().addMenu("&View")
        for dock in (self.pnl_dock, self.strategies_dock, self.blotter_dock, self.log_dock):
            view.addAction(dock.toggleViewAction())
        panel = self.strategies_panel
        panel.add_requested.connect(self.open_add_strategy)
        panel.edit_requested.connect(self.open_edit_strategy)
        panel.remove_requested.connect(lambda sid: self._control(
            self.engine.unregister, sid, f"removed {sid}"))
        panel.pause_requested.connect(lambda sid: self._control(
            self.engine.pause, sid, f"paused {sid}"))
        panel.resume_requested.connect(lambda sid: self._control(
            self.engine.resume, sid, f"resumed {sid}"))
        self.blotter.export_finished.connect(self._export_finished)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.feed_label = QLabel("feed: idle")
        self.rate_status = QLabel("0 ticks/s")
        self.latency_label = QLabel("latency —")
        self.server_label = QLabel("server: off")
        self.server_label.setObjectName("serverLabel")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(140)
        self.busy_bar.hide()
        self.busy_label = QLabel("")
        for widget in (self.feed_label, self.rate_status, self.latency_label):
            bar.addWidget(widget)
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.busy_label)
        bar.addPermanentWidget(self.server_label)

    def _connect_bridge(self) -> None:
        b = self.bridge
        b.ticks.connect(self._on_ticks)
        b.bars.connect(self.charts.add_bars)
        b.trades.connect(self._on_trades)
        b.metrics.connect(self._on_metrics)
        b.strategies.connect(self.refresh_strategies)
        b.strategies.connect(self.chart_session.strategy_selected)  # new parameters
        b.feed.connect(self._on_feed)
        b.engine_status.connect(self._on_engine_status)
        b.log.connect(self._on_log)

    # --- engine events (Qt thread, at most once a frame each) -----------------------------

    def _on_ticks(self, per_coin: dict[str, Any]) -> None:
        self.charts.add_ticks(per_coin)
        for _, stamps in per_coin.values():
            if stamps.shape[0]:
                self.market_time = max(self.market_time, float(stamps[-1]))

    def _on_trades(self, trades: list[dict[str, Any]]) -> None:
        self.blotter.add_trades(trades)
        self.charts.add_fills(trades)

    def _on_metrics(self, snapshot: dict[str, Any]) -> None:
        self.last_metrics = snapshot
        glob = snapshot["global"]
        self.kpis.show_metrics(glob)
        status = glob.get("status")
        if status in (EngineStatus.RUNNING, EngineStatus.STOPPING) or snapshot["strategies"]:
            final = status not in (EngineStatus.RUNNING, EngineStatus.STARTING)
            self.pnl_chart.add_snapshot(snapshot, self.market_time or None, force=final)
        self.refresh_strategies()
        self._show_rate(glob)
        latency = glob.get("latency_ms") or {}
        p50, p99 = latency.get("batch_p50"), latency.get("batch_p99")
        if p50 is not None:
            self.latency_label.setText(f"latency p50 {p50:.1f} ms · p99 {p99:.1f} ms")
        self._on_feed(glob.get("feed") or {})

    def _show_rate(self, glob: dict[str, Any]) -> None:
        """Ticks per second while a session runs; afterwards 0, with the session's count."""
        rate = glob.get("ticks_per_second", 0) if self.engine.status.busy else 0
        self.rate_status.setText(f"{rate:,.0f} ticks/s · {glob.get('ticks_processed', 0):,} "
                                 "ticks")

    def _on_feed(self, feed: dict[str, Any]) -> None:
        state = feed.get("state", FeedState.IDLE)
        if not self.engine.status.busy and state not in (FeedState.FAILED, FeedState.FINISHED):
            state = FeedState.IDLE  # a stopped session's feed is no longer live
        self.feed_label.setText(f"feed: {state}")
        self.feed_label.setToolTip(feed.get("message", ""))
        message = feed.get("message", "")
        if state == FeedState.FAILED and self.feed_failure != message:
            self.feed_failure = message  # said once, though metrics repeat the state
            self.show_error(f"The data feed failed: {message}. Check the network or the "
                            "files, then press Start again.")

    def _on_engine_status(self, event: dict[str, Any]) -> None:
        status, message = event.get("status", ""), event.get("message", "")
        self.log_panel.add("info", f"engine {status}{': ' + message if message else ''}")
        if status == EngineStatus.RUNNING:  # a new session, perhaps started from the browser
            self.feed_failure = None
        if status == EngineStatus.ERROR and self.feed_failure is None:
            self.show_error(f"The engine stopped on an error: {message}. Your trades so far "
                            "are saved; press Start to begin a new session.")
        elif status == EngineStatus.FINISHED:
            self.show_info("The session finished: the data ran out or a limit was reached.")
        self.kpis.show_metrics({**self.last_metrics.get("global", {}), "status": status})
        if status in (EngineStatus.STOPPED, EngineStatus.FINISHED, EngineStatus.ERROR):
            self.chart_session.session_ended()
            self._show_rate(self.last_metrics.get("global", {}))
            self._on_feed(self.last_metrics.get("global", {}).get("feed") or {})
        self._update_controls()

    def _on_log(self, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            self.log_panel.add(line.get("level", "info"), line.get("message", ""),
                               line.get("time"))

    def refresh_strategies(self) -> None:
        """Fill the strategies table. While the engine runs, from the latest metrics event
        only: the engine's lock is held for whole batches then, and the Qt thread must never
        wait for it."""
        metrics = self.last_metrics.get("strategies")
        if self.engine.status.busy and metrics is not None:
            specs = [{"strategy_id": sid, "coin": m.get("coin", ""), "status": m.get("status"),
                      "error": m.get("error"), "params": m.get("params", {})}
                     for sid, m in metrics.items()]
        else:
            snapshot = self.engine.snapshot()
            specs, metrics = self.engine.strategies(), snapshot["strategies"]
        self.strategies_panel.show_strategies(specs, metrics)
        self.welcome.setVisible(not specs)

    # --- start / stop ----------------------------------------------------------------------

    def session_request(self) -> SessionRequest:
        """The session the toolbar describes; ParameterError saying what to fix."""
        source = self.source_box.currentData()
        common = {"workers": self.workers_box.value(), "fee": self.settings.fee,
                  "slippage": self.settings.slippage}
        if source == "csv":
            files = parse_csv_files(self.csv_edit.text().replace("\n", ";").split(";"),
                                    TOOLBAR)
            return SessionRequest(source="csv", csv_files=files,
                                  speed=parse_pace(self.speed_edit.text(), "speed", TOOLBAR),
                                  **common)
        coins = parse_coins(self.coins_edit.text(), TOOLBAR)
        rate = (parse_pace(self.rate_edit.text(), "rate", TOOLBAR) if source == "simulated"
                else None)
        start = self.simulated_start if source == "simulated" and rate is None else None
        return SessionRequest(source=source, coins=coins, rate=rate, start_time=start,
                              binance_rest_url=self.settings.binance_rest_url,
                              binance_ws_url=self.settings.binance_ws_url, **common)

    def engine_config(self) -> EngineConfig:
        """The engine configuration of the toolbar's session; ParameterError saying what to
        fix."""
        return session_config(self.session_request(), words=TOOLBAR)

    def start_engine(self) -> None:
        if self.busy or self.engine.status.stoppable:
            return
        try:
            config = self.engine_config()
        except VelocitasError as exc:
            self.show_error(f"{exc}.")
            return
        self.banner.hide()
        self.blotter.clear()
        self.pnl_chart.clear()
        self.last_metrics = {}
        self.market_time = 0.0
        self.feed_failure = None
        self.chart_session.session_starting()
        self.charts.set_coins(config.coins)
        self.feed_label.setText("feed: idle")
        self.rate_status.setText("0 ticks/s · 0 ticks")
        what = "loading the CSV files" if config.source == "csv" else f"opening the {config.source} feed"
        self._set_busy(f"Starting: {what}…")
        run_in_background(lambda: self.engine.start(config), self._started, self._start_failed)

    def _started(self, _: Any) -> None:
        self._set_busy("")
        self.chart_session.session_started(list(self.charts.charts))
        self.log_panel.add("info", f"started on {self.source_box.currentText()}")
        self._update_controls()

    def _start_failed(self, exc: BaseException) -> None:
        self._set_busy("")
        self._update_controls()
        self.feed_label.setText("feed: idle")
        if isinstance(exc, FeedError):
            self.show_error(f"The data could not be opened: {exc}")
        elif isinstance(exc, VelocitasError):
            self.show_error(f"Cannot start: {exc}")
        else:  # an unexpected failure of a feed is still the feed's, not the window's
            log.error("the engine could not start", exc_info=exc)
            self.show_error(f"Cannot start: {type(exc).__name__}: {exc}. Check the settings "
                            "and the log file, then press Start again.")

    def stop_engine(self) -> None:
        if self.busy or not self.engine.status.stoppable:
            return
        self._set_busy("Stopping…")
        run_in_background(self.engine.stop, self._stopped, self._stop_failed)

    def _stopped(self, _: Any) -> None:
        self._set_busy("")
        self.log_panel.add("info", "stopped")
        self._update_controls()

    def _stop_failed(self, exc: BaseException) -> None:
        self._set_busy("")
        self._update_controls()
        if not isinstance(exc, EngineError):  # already stopped on its own: nothing to say
            raise exc

    def _set_busy(self, text: str) -> None:
        self.busy = bool(text)
        self.busy_label.setText(text)
        self.busy_bar.setVisible(self.busy)
        self._update_controls()

    def _update_controls(self) -> None:
        status = self.engine.status
        running = status.busy
        self.kpis.show_status(status)  # the same truth as the buttons
        self.start_action.setEnabled(not running and not self.busy)
        self.stop_action.setEnabled(running and not self.busy)
        for widget in (self.source_box, self.coins_edit, self.csv_edit, self.csv_browse,
                       self.rate_edit, self.speed_edit, self.workers_box):
            widget.setEnabled(not running and not self.busy)

    def _source_changed(self, *_: Any) -> None:
        source = self.source_box.currentData()
        for action in self.csv_actions + self.speed_actions:
            action.setVisible(source == "csv")
        for action in self.rate_actions:
            action.setVisible(source == "simulated")
        self.coins_edit.setEnabled(source != "csv")
        self.coins_edit.setToolTip("the coins come from the files" if source == "csv"
                                   else "comma-separated symbols, e.g. BTC,ETH,SOL")

    def _browse_csv(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose price files (one per coin)",
                                                str(self.settings.csv_folder),
                                                "CSV files (*.csv);;All files (*)")
        if paths:
            self.csv_edit.setText("; ".join(f"{coin_from_filename(p)}={p}" for p in paths))

    # --- strategies ------------------------------------------------------------------------

    def _coins_for_forms(self) -> list[str]:
        try:
            return self.engine_config().coins or ["BTC"]
        except VelocitasError:
            return ["BTC", "ETH"]

    def open_add_strategy(self) -> StrategyForm:
        ids = {s["strategy_id"] for s in self.engine.strategies()}
        form = StrategyForm(self.engine.catalog, self._coins_for_forms(), ids, parent=self)
        form.setObjectName("strategyForm")
        form.accepted.connect(lambda: self._control(self.engine.register, form.spec,
                                                    f"added {form.spec.id}"))
        self._open_form(form)
        return form

    def open_edit_strategy(self, strategy_id: str) -> StrategyForm | None:
        try:
            current = self.engine.strategy(strategy_id)
        except VelocitasError as exc:
            self.show_error(str(exc))
            return None
        form = StrategyForm(self.engine.catalog, [current["coin"]], set(), editing=current,
                            parent=self)
        form.setObjectName("strategyForm")
        form.accepted.connect(lambda: self._control(
            self.engine.update_params, strategy_id, f"new parameters for {strategy_id}",
            dict(form.spec.params)))
        self._open_form(form)
        return form

    def _open_form(self, form: StrategyForm) -> None:
        self.forms.append(form)
        form.finished.connect(lambda _: self.forms.remove(form) if form in self.forms else None)
        form.open()

    def _control(self, call: Any, target: Any, done_text: str, *more: Any) -> None:
        """A strategy change, applied by the engine between batches, off the Qt thread."""
        def done(_: Any) -> None:
            self.log_panel.add("info", done_text)
            self.refresh_strategies()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ParameterError | UnknownStrategyError | EngineError
                          | VelocitasError):
                self.show_error(f"{exc}.")
                self.refresh_strategies()
            else:
                raise exc

        run_in_background(lambda: call(target, *more), done, failed)

    def add_strategies(self, specs: list[StrategySpec]) -> None:
        """Register specs now (quick when the engine is stopped); problems go to the banner."""
        existing = {s["strategy_id"] for s in self.engine.strategies()}
        for spec in specs:
            if spec.id in existing:
                continue
            try:
                self.engine.register(spec)
            except VelocitasError as exc:
                self.show_error(f"{exc}.")
        self.refresh_strategies()

    # --- settings and the embedded server --------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self)
        dialog.setObjectName("settingsDialog")
        self.settings_dialog = dialog
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings))
        dialog.open()
        return dialog

    def apply_settings(self, settings: Settings | None) -> None:
        if settings is None:
            return
        old, self.settings = self.settings, settings
        save_settings(settings)
        if settings.theme != old.theme:
            self.set_theme(settings.theme)
        self.workers_box.setValue(settings.workers)
        self.blotter.default_folder = settings.csv_folder
        if settings.strategy_folders != old.strategy_folders:
            self._reload_catalog()
        server_keys = ("server_enabled", "server_host", "server_port", "server_token")
        if any(getattr(settings, k) != getattr(old, k) for k in server_keys):
            self.restart_server()
        self.log_panel.add("info", "settings saved")

    def _reload_catalog(self) -> None:
        if self.engine.status.stoppable:
            self.show_info("New strategy folders are read when the engine is stopped: stop it "
                           "and open the settings again, or restart the app.")
            return
        try:
            catalog = self.engine.reload_catalog(self.settings.strategy_folders)
        except VelocitasError as exc:
            self.show_error(f"The strategy folders could not be read: {exc}.")
            return
        for problem in catalog.problems:
            self.log_panel.add("warning", f"strategy file not loaded: {problem}")
        if catalog.problems:
            self.show_error("Some strategy files could not be loaded: "
                            + "; ".join(str(p) for p in catalog.problems[:3])
                            + ". Fix them and save the settings again.")

    def set_theme(self, theme: str) -> None:
        app = QApplication.instance()
        self.palette_colours = apply_theme(app, theme) if app else colours(theme)
        self.kpis.set_colours(self.palette_colours.up, self.palette_colours.down)
        self.charts.set_palette(self.palette_colours)
        self.pnl_chart.set_palette(self.palette_colours)
        self.optimization.set_palette(self.palette_colours)
        self.charts.redraw()

    def start_server(self) -> None:
        """Serve this engine over HTTP when the settings say so (off the Qt thread)."""
        s = self.settings
        if not s.server_enabled:
            self.server_label.setText("server: off")
            return
        engine = self.engine
        self.server_label.setText("server: starting…")
        # the server runs where the engine runs (its own process, for the app)
        run_in_background(lambda: engine.attach(embedded_server, host=s.server_host,
                                                port=s.server_port,
                                                token=s.server_token or None),
                          self._server_started, self._server_failed)

    def _server_started(self, server: AttachedView) -> None:
        self.server = server
        token = f" · token {server.token}" if server.token else ""
        self.server_label.setText(f"server: {server.url}{token}")
        self.log_panel.add("info", f"server listening on {server.url}")

    def _server_failed(self, exc: BaseException) -> None:
        self.server_label.setText("server: failed")
        self.show_error(f"The embedded server could not start: {exc}. Choose another port in "
                        "Settings, or turn the server off.")

    def stop_server(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        self.server_label.setText("server: off")

    def restart_server(self) -> None:
        self.stop_server()
        self.start_server()

    # --- messages --------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        self.banner.show_message(text, "error")
        self.log_panel.add("error", text)

    def show_info(self, text: str) -> None:
        """Good news goes to the banner unless it would hide a problem not yet read."""
        if not (self.banner.isVisible() and self.banner.property("level") == "error"):
            self.banner.show_message(text, "info")
        self.log_panel.add("info", text)

    def _export_finished(self, result: str) -> None:
        if result.startswith("!"):
            self.show_error(f"The export failed: {result[1:]}. Choose another file or folder.")
        else:
            self.show_info(f"Trades exported to {result}")

    # --- restored session ------------------------------------------------------------------

    def _load_restored_trades(self) -> None:
        if self.engine.session_id is None:
            return
        engine = self.engine
        run_in_background(lambda: engine.trades(limit=RESTORE_LIMIT),
                          self._show_restored_trades,
                          lambda exc: self.show_error(f"Could not read past trades: {exc}"))

    def _show_restored_trades(self, trades: list[dict[str, Any]]) -> None:
        if trades:  # shown at once: the window has just opened and nothing else is drawn yet
            self.blotter.add_trades(trades)
            self.blotter.flush()
        self.chart_session.window_opened(trades)

    # --- layout and closing ----------------------------------------------------------------

    def _restore_layout(self) -> None:
        store = layout_store()
        geometry, state = store.value("geometry"), store.value("state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)

    def save_layout(self) -> None:
        store = layout_store()
        store.setValue("geometry", self.saveGeometry())
        store.setValue("state", self.saveState(LAYOUT_VERSION))
        store.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        gc.unfreeze()
        self.save_layout()
        self.optimization.shutdown()  # cancels a running job and waits for it
        self.bridge.close()
        self.stop_server()
        self.busy_label.setText("Stopping the engine…")
        QApplication.processEvents()
        try:
            self.engine.close()  # stops the threads and worker processes, closes the journal
        except Exception:
            log.exception("the engine did not close cleanly")
        event.accept()

    def screenshot(self, path: str | Path) -> bool:
        """Save a picture of the whole window."""
        self.blotter.flush()
        self.charts.redraw()
        return self.grab().save(str(path))
