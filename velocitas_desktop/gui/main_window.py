"""The terminal's main window: toolbar, KPIs, charts, strategies, account, blotter and log."""

from __future__ import annotations

import dataclasses
import gc
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabBar,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.errors import ParameterError, VelocitasError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.config import (
    EngineConfig,
    SessionChoice,
    clock_text,
    why_not_go_on,
)
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
from velocitas_desktop.gui.account import AccountPanel, NewSessionDialog, open_positions
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.bridge import EngineBridge
from velocitas_desktop.gui.chart_session import ChartSession
from velocitas_desktop.gui.charts import PriceCharts
from velocitas_desktop.gui.copilot.notices import Toasts, TrayNotifier
from velocitas_desktop.gui.copilot_tab import CopilotTab
from velocitas_desktop.gui.dialogs import SettingsDialog, StrategyForm
from velocitas_desktop.gui.fields import FieldError, NumberField
from velocitas_desktop.gui.menus import build_menus, reach_toolbars_by_keyboard
from velocitas_desktop.gui.optimization_tab import OptimizationTab
from velocitas_desktop.gui.panels import Banner, BlotterPanel, KpiBar, LogPanel, StrategiesPanel
from velocitas_desktop.gui.pnl import PnlChart
from velocitas_desktop.gui.sessions import add_sessions_menu
from velocitas_desktop.gui.settings import Settings, layout_store, save_settings
from velocitas_desktop.gui.theme import apply_theme, colours
from velocitas_desktop.gui.trend_tab import TrendTab
from velocitas_desktop.gui.welcome import WelcomePanel, add_ready_set, builtin_names
from velocitas_desktop.gui.workspace import WindowLayout
from velocitas_desktop.server.embedded import browser_link, embedded_server

log = logging.getLogger(__name__)

SOURCES = (("Simulated", "simulated"), ("CSV files", "csv"), ("Binance", "binance"))
# How the toolbar's fields are named in the session request's messages.
TOOLBAR = Vocabulary({"source": "Source", "coins": "Coins", "csv_files": "Files",
                      "rate": "Ticks/s", "speed": "Speed", "workers": "Workers"}, assign=": ",
                     hints={"csv_files": "choose the files with Browse…"})
RESTORE_LIMIT = 1_000_000  # trades of the restored session loaded into the blotter
CONFIRM_CLOSE = "confirm_close"  # the window.ini key of "ask before closing while running"


def _edit_text(before: dict[str, Any], after: StrategySpec) -> str:
    """What the log says of an edit: new parameters, and the timeframe if it changed."""
    text = f"new parameters for {after.id}"
    if after.timeframe != before.get("timeframe"):
        text += f"; it now decides on {after.timeframe}"
        text += "s" if after.timeframe == "tick" else " bars"
    return text


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
        self.paused_for: str | None = None  # why trading is paused (the journal), while it is
        self.simulated_start: float | None = None  # first data time of a max-speed simulation
        self.close_confirmed = False  # the trader said to close although the engine runs
        self.showing_restored = True  # the blotter and P&L chart show the restored session
        self.restoring_trades = False  # its fills are being read
        # fills made meanwhile (a position closed at once): shown above the restored ones
        self.trades_while_restoring: list[dict[str, Any]] = []
        self.pending_launch: EngineConfig | None = None  # a start waiting for them
        self.dialogs: list[QWidget] = []  # questions open now (new session, remove, close)
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
        build_menus(self)
        reach_toolbars_by_keyboard(self)
        self._restore_layout()
        self._restore_toolbar(engine.session_settings())
        self._source_changed()
        self.refresh_strategies()
        self._show_restored_figures(engine.snapshot())
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
        # three coins in view even when the toolbar is crowded (CSV at 1280 px showed "ETH")
        self.coins_edit.setMinimumWidth(self.coins_edit.fontMetrics().horizontalAdvance(
            "BTC,ETH,SOL") + 18)
        self.coins_edit.setToolTip("comma-separated symbols, e.g. BTC,ETH,SOL")
        bar.addWidget(self.coins_edit)
        self.csv_label = QLabel("Files")
        self.csv_edit = QLineEdit()
        self.csv_edit.setObjectName("csvEdit")
        # the placeholder may be cut, the toolbar's Settings may not: at 280 px a 1280 px
        # window put Settings behind the toolbar's » button
        self.csv_edit.setMinimumWidth(100)
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
        # wide enough for a pace of 360000 (an hour a second of 1 s bars): at 60 px it
        # scrolled, showing "nax" for max and "l60000"
        self.speed_edit.setFixedWidth(self.speed_edit.fontMetrics().horizontalAdvance(
            "3600000") + 18)
        self.speed_edit.setToolTip("replay speed: 1 = real time, 60 = a minute per second, max")
        self.speed_actions = [bar.addWidget(w) for w in (self.speed_label, self.speed_edit)]
        bar.addWidget(QLabel("Workers"))
        # typed, not spun: 99 is refused at Start with the reason, never cut to 9 as typed
        self.workers_box = NumberField(self.settings.workers, label="number of workers",
                                       integer=True, low=0, high=64)
        self.workers_box.setObjectName("workersBox")
        self.workers_box.setFixedWidth(self.workers_box.fontMetrics().horizontalAdvance(
            "6464") + 24)
        self.workers_box.setToolTip("0 = strategies run in the engine thread; N = N processes "
                                    "(Up and Down step)")
        bar.addWidget(self.workers_box)
        bar.addSeparator()
        self.start_action = QAction("▶  Start", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+R"))
        self.start_action.triggered.connect(self.start_engine)
        self.stop_action = QAction("■  Stop", self)
        self.stop_action.setShortcut(QKeySequence("Ctrl+T"))
        self.stop_action.triggered.connect(self.stop_engine)
        # shown only while trading is paused because the journal cannot be written
        self.resume_trading_action = QAction("▶  Resume trading", self)
        self.resume_trading_action.setToolTip("try the journal again now and, if it can be "
                                              "written, make fills again")
        self.resume_trading_action.triggered.connect(self.resume_trading)
        self.new_session_action = QAction("New session…", self)
        self.new_session_action.setToolTip("Begin a new session instead of going on with the "
                                           "last one: say what becomes of its open positions")
        self.new_session_action.triggered.connect(self.start_new_session)
        bar.addAction(self.start_action)
        bar.addAction(self.new_session_action)
        bar.addAction(self.stop_action)
        bar.addAction(self.resume_trading_action)
        self.start_button = bar.widgetForAction(self.start_action)
        self.start_button.setObjectName("startButton")
        self.start_action.setToolTip("Start (Ctrl+R): the last session goes on when the "
                                     "toolbar names its market; otherwise a new one begins")
        self.new_session_button = bar.widgetForAction(self.new_session_action)
        self.new_session_button.setObjectName("newSessionButton")
        self.stop_button = bar.widgetForAction(self.stop_action)
        self.stop_button.setObjectName("stopButton")
        self.resume_trading_button = bar.widgetForAction(self.resume_trading_action)
        self.resume_trading_button.setObjectName("resumeTradingButton")
        spacer = QWidget()
        spacer.setStyleSheet("background: transparent;")
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy())
        bar.addWidget(spacer)
        # the embedded server's page: disabled until the server listens
        self.open_browser_action = QAction("Open in &browser", self)
        self.open_browser_action.setObjectName("openBrowserAction")
        # short on the toolbar, which at 1280 px has no room for the menu's words
        self.open_browser_action.setIconText("Browser")
        self.open_browser_action.setToolTip("Open this engine's browser view (the embedded "
                                            "server's page, with its token)")
        self.open_browser_action.setEnabled(False)
        self.open_browser_action.triggered.connect(self.open_in_browser)
        bar.addAction(self.open_browser_action)
        self.open_browser_button = bar.widgetForAction(self.open_browser_action)
        self.open_browser_button.setObjectName("openBrowserButton")
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
        self.welcome_wanted = True  # no strategy yet: the welcome shows beside live work
        self.welcome.ready_set_requested.connect(lambda: add_ready_set(self))
        layout.addWidget(self.welcome)
        self.charts = PriceCharts(self.palette_colours)
        # the modes: live charts, and optimisation on history
        self.modes = QTabWidget()
        self.modes.setObjectName("modes")
        self.modes.addTab(self.charts, "Live")
        self.optimization = OptimizationTab(self.engine, palette=self.palette_colours,
                                            slippage=self.settings.slippage)
        self.modes.addTab(self.optimization, "Optimisation")
        self.trend = TrendTab(self.engine, palette=self.palette_colours)
        self.modes.addTab(self.trend, "Trend")
        self.copilot = CopilotTab(self.engine, palette=self.palette_colours)
        self.modes.addTab(self.copilot, "Copilot")
        self.unread_alerts: list[dict[str, Any]] = []  # arrived while the tab was not shown
        self.alerts_badge = QLabel()
        self.alerts_badge.setObjectName("alertsBadge")
        self.alerts_badge.hide()
        self.modes.tabBar().setTabButton(self.modes.indexOf(self.copilot),
                                         QTabBar.ButtonPosition.RightSide, self.alerts_badge)
        self.toasts = Toasts(self)
        self.toasts.opened.connect(self.open_alert)
        self.tray = TrayNotifier(self, on_click=lambda: self.open_alert(None))
        self.modes.currentChanged.connect(self._mode_changed)
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
        self.account_panel = AccountPanel()
        right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.pnl_dock = self._dock("P&&L — equity per strategy and total", "pnlDock", self.pnl_chart, right)
        self.account_dock = self._dock("Account and positions", "accountDock",
                                       self.account_panel, right)
        self.splitDockWidget(self.pnl_dock, self.account_dock, Qt.Orientation.Vertical)
        self.strategies_dock = self._dock("Strategies", "strategiesDock", self.strategies_panel,
                                          bottom)
        self.blotter_dock = self._dock("Trades", "blotterDock", self.blotter, bottom)
        self.log_dock = self._dock("Log", "logDock", self.log_panel, bottom)
        self.splitDockWidget(self.strategies_dock, self.blotter_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.blotter_dock, self.log_dock)
        self.blotter_dock.raise_()
        self.resizeDocks([self.pnl_dock], [520], Qt.Orientation.Horizontal)
        self.resizeDocks([self.pnl_dock, self.account_dock], [300, 230], Qt.Orientation.Vertical)
        self.resizeDocks([self.strategies_dock, self.blotter_dock], [780, 820],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.strategies_dock], [330], Qt.Orientation.Vertical)
        self.view_menu = view = self.menuBar().addMenu("&View")
        for dock in (self.pnl_dock, self.account_dock, self.strategies_dock, self.blotter_dock,
                     self.log_dock):
            view.addAction(dock.toggleViewAction())
        panel = self.strategies_panel
        panel.add_requested.connect(self.open_add_strategy)
        panel.edit_requested.connect(self.open_edit_strategy)
        panel.remove_requested.connect(self.remove_strategy)
        panel.pause_requested.connect(lambda sid: self._control(
            self.engine.pause, sid, f"paused {sid}"))
        panel.resume_requested.connect(lambda sid: self._control(
            self.engine.resume, sid, f"resumed {sid}"))
        self.blotter.export_finished.connect(self._export_finished)
        account = self.account_panel
        account.close_requested.connect(lambda sid: self._control(
            self.engine.close_position, sid, f"closed the position of {sid}"))
        account.flatten_requested.connect(self.ask_flatten_all)
        account.stop_trading_requested.connect(self.stop_all_trading)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.feed_label = QLabel("feed: idle")
        self.rate_status = QLabel("0 ticks/s")
        self.latency_label = QLabel("latency —")
        self.clock_label = QLabel("")  # whose time the charts and the blotter show
        self.clock_label.setObjectName("clockLabel")
        self.server_label = QLabel("server: off")
        self.server_label.setObjectName("serverLabel")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # the token opens the engine to whoever reads it: shown masked, copied on demand
        self.copy_token_button = QToolButton()
        self.copy_token_button.setObjectName("copyTokenButton")
        self.copy_token_button.setText("Copy token")
        self.copy_token_button.setToolTip("Copy the server's access token to the clipboard")
        self.copy_token_button.clicked.connect(self.copy_token)
        self.copy_token_button.hide()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(140)
        self.busy_bar.hide()
        self.busy_label = QLabel("")
        for widget in (self.feed_label, self.clock_label, self.rate_status, self.latency_label):
            bar.addWidget(widget)
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.busy_label)
        bar.addPermanentWidget(self.server_label)
        bar.addPermanentWidget(self.copy_token_button)

    def _connect_bridge(self) -> None:
        b = self.bridge
        b.ticks.connect(self._on_ticks)
        b.bars.connect(self.charts.add_bars)
        b.missed.connect(self.blotter.add_missed)
        b.trades.connect(self._on_trades)
        b.metrics.connect(self._on_metrics)
        b.strategies.connect(self.refresh_strategies)
        b.strategies.connect(self.chart_session.strategy_selected)  # new parameters
        b.feed.connect(self._on_feed)
        b.engine_status.connect(self._on_engine_status)
        b.log.connect(self._on_log)
        b.actions.connect(self.copilot.add_actions)
        b.rules.connect(self.copilot.rules_changed)
        b.acknowledged.connect(self._on_acknowledged)
        b.alerts.connect(self._on_alerts)
        self.copilot.load()  # after the bridge listens: no alert falls between the two

    # --- engine events (Qt thread, at most once a frame each) -----------------------------

    def _on_ticks(self, per_coin: dict[str, Any]) -> None:
        self.charts.add_ticks(per_coin)
        for _, stamps in per_coin.values():
            if stamps.shape[0]:
                self.market_time = max(self.market_time, float(stamps[-1]))

    def _on_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """A frame's new alerts: the Copilot tab's list, the tab's badge, and a toast (or,
        with the window minimised or hidden, the system tray's message)."""
        self.copilot.add_alerts(alerts)
        if self.modes.currentWidget() is not self.copilot or self.isMinimized():
            self.unread_alerts.extend(alerts)
            self._show_badge()
        if self.isMinimized() or not self.isVisible():
            self.tray.alerts(alerts)
        else:
            self.toasts.show_alerts(alerts)

    def _on_acknowledged(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts acknowledged here or in another view (the browser, the API): marked seen
        in the Copilot tab, and no longer counted on its badge."""
        self.copilot.alerts_acknowledged(alerts)
        seen = {alert["id"] for alert in alerts}
        if any(a["id"] in seen for a in self.unread_alerts):
            self.unread_alerts = [a for a in self.unread_alerts if a["id"] not in seen]
            self._show_badge()

    def _show_badge(self) -> None:
        """A pill on the Copilot tab counts the alerts not seen yet: amber, red if one of
        them is critical (a label: the style sheet owns the tabs' own text colour)."""
        count = len(self.unread_alerts)
        critical = any(a.get("severity") == "critical" for a in self.unread_alerts)
        colour = self.palette_colours.down if critical else "#ff9800"
        self.alerts_badge.setText(f"{count:,}" if count < 1000 else "999+")
        self.alerts_badge.setStyleSheet(f"background: {colour}; color: #131722; "
                                        "font-weight: 700; border-radius: 7px; "
                                        "padding: 0 5px;")
        self.alerts_badge.adjustSize()
        index = self.modes.indexOf(self.copilot)
        # set again: the tab bar sizes a tab's button only when it is set
        self.modes.tabBar().setTabButton(index, QTabBar.ButtonPosition.RightSide,
                                         self.alerts_badge)
        self.alerts_badge.setVisible(bool(count))
        self.modes.setTabToolTip(index,
                                 f"{count} new alert{'s' if count != 1 else ''}"
                                 if count else "Rules, alerts and actions")

    def open_alert(self, alert_id: int | None) -> None:
        """Show the Copilot tab with ``alert_id`` selected (a toast's or the tray's click;
        None: the newest)."""
        if self.isMinimized() or not self.isVisible():
            self.showNormal()
            self.activateWindow()
        self.modes.setCurrentWidget(self.copilot)
        if alert_id is None and self.copilot.alerts:
            alert_id = max(self.copilot.alerts)
        if alert_id is not None:
            self.copilot.select_alert(alert_id)

    def _on_trades(self, trades: list[dict[str, Any]]) -> None:
        if self.restoring_trades:  # newer than the fills being read: they wait to go on top
            self.trades_while_restoring.extend(trades)
            return
        self.blotter.add_trades(trades)
        self.charts.add_fills(trades)

    def _on_metrics(self, snapshot: dict[str, Any]) -> None:
        self.last_metrics = snapshot
        glob = snapshot["global"]
        self.kpis.show_metrics(glob)
        self.account_panel.show_snapshot(snapshot)
        self.market_time = max(self.market_time, (glob.get("clock") or {}).get("time") or 0.0)
        status = glob.get("status")
        live = status in (EngineStatus.RUNNING, EngineStatus.PAUSED)
        # on the data clock only: a snapshot before any price has no place on the chart
        if self.market_time and (live or status == EngineStatus.STOPPING
                                 or snapshot["strategies"]):
            final = not live and status != EngineStatus.STARTING
            self.pnl_chart.add_snapshot(snapshot, self.market_time or None, force=final)
        self.refresh_strategies()
        self._show_rate(glob)
        self.clock_label.setText(clock_text(glob.get("clock") or {}))
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
        was_paused = self.paused_for is not None
        if status == EngineStatus.PAUSED:
            self.paused_for = message
        elif status != EngineStatus.ERROR:  # an error ends the pause's session: said below
            self.paused_for = None
            if was_paused:  # what the banner says of the pause is over
                self.banner.hide()
        if status == EngineStatus.RUNNING:  # a new session, perhaps started from the browser
            self.feed_failure = None
            if was_paused:
                self.show_info(_sentence(message))
        if status == EngineStatus.PAUSED:
            self.show_error(f"{_sentence(message)}. Press Resume trading to try it now.")
        elif status == EngineStatus.ERROR and was_paused:
            text = (f"The session ended while trading was paused: {message}. Press Start for "
                    "a new session once the journal's disk has room.")
            if self.banner.text != text:  # the engine may say it twice as its threads end
                self.show_error(text)
        elif status == EngineStatus.ERROR and self.feed_failure is None:
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
            try:
                snapshot = self.engine.snapshot()
                specs, metrics = self.engine.strategies(), snapshot["strategies"]
            except EngineError:
                # its process died, and a metrics frame sent before that came after: the
                # banner says so, the table keeps its last figures until Start opens a new one
                return
        self.strategies_panel.show_strategies(specs, metrics)
        self.welcome_wanted = not specs
        self.welcome.setVisible(self.welcome_wanted
                                and self.modes.currentWidget() is not self.optimization)

    # --- start / stop ----------------------------------------------------------------------

    def session_request(self) -> SessionRequest:
        """The session the toolbar describes; ParameterError saying what to fix."""
        source = self.source_box.currentData()
        try:
            workers = self.workers_box.value()
        except FieldError as exc:
            raise ParameterError(f"{exc} (toolbar: Workers)") from None
        common = {"workers": workers, "fee": self.settings.fee,
                  "slippage": self.settings.slippage, "min_free_mb": self.settings.min_free_mb}
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
        """Start: the last session goes on when the toolbar names its market; otherwise a
        new one begins, asking first what becomes of open positions."""
        self._start(new=False)

    def start_new_session(self) -> None:
        """New session…: a new session begins, asking what becomes of open positions."""
        self._start(new=True)

    def _start(self, new: bool) -> None:
        if self.busy or self.engine.status.stoppable:
            return
        try:
            config = self.engine_config()
        except VelocitasError as exc:
            self.show_error(f"{exc}.")
            return
        engine = self.engine

        def last_session() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            try:
                return engine.session_settings(), engine.account()["positions"]
            except EngineError:  # its process died: Start opens a new one, which restores
                return self._last_seen_session()

        self._set_busy("Starting…")
        # what the last session ran on and holds, read off the Qt thread
        run_in_background(last_session, lambda known: self._choose_session(config, new, *known),
                          self._start_failed)

    def _last_seen_session(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The last session as the window last saw it: its source and open positions."""
        glob = self.last_metrics.get("global") or {}
        if glob.get("session_id") is None:
            return None, []
        return ({"source": glob.get("source", "simulated")},
                open_positions(self.last_metrics.get("strategies") or {}))

    def _choose_session(self, config: EngineConfig, new: bool, last: dict[str, Any] | None,
                        positions: list[dict[str, Any]]) -> None:
        """Go on with the last session, or ask how to begin a new one (with its positions)."""
        self._set_busy("")
        reason = why_not_go_on(EngineConfig.from_dict(last) if last else None, config)
        if not new and reason is None:
            self._launch(dataclasses.replace(config, session=SessionChoice.CONTINUE))
            return
        if last is None or (not new and not positions):
            self._launch(dataclasses.replace(config, session=SessionChoice.NEW))
            return
        dialog = NewSessionDialog(self.engine.session_id, positions,
                                  "" if new else reason, parent=self)
        self._open_dialog(dialog)
        dialog.accepted.connect(lambda: self._launch(dataclasses.replace(
            config, session=SessionChoice.NEW, positions=dialog.positions)))

    def _launch(self, config: EngineConfig) -> None:
        """Start ``config``'s session in the background; a new one clears what the window
        shows of the last, one that goes on keeps its fills and P&L chart (after the last
        session's fills, if they are still being read)."""
        if self.busy or self.engine.status.stoppable:
            return
        if config.session == SessionChoice.CONTINUE and self.restoring_trades:
            self.pending_launch = config
            self._set_busy("Reading the last session's fills…")
            return
        self.banner.hide()
        if config.session != SessionChoice.CONTINUE:
            self.showing_restored = False  # fills of the last session read late stay out
            self.blotter.clear()
            self.pnl_chart.clear()
            self.last_metrics = {}
            self.market_time = 0.0
        self.feed_failure = None
        self.paused_for = None
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

    def resume_trading(self) -> None:
        """Try the journal again now (off the Qt thread); the banner says why if it cannot."""
        if self.busy or self.engine.status != EngineStatus.PAUSED:
            return

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, EngineError):
                raise exc
            self.show_error(f"{_sentence(str(exc))}. Trading stays paused.")

        self.log_panel.add("info", "resume trading: trying the journal again")
        run_in_background(self.engine.resume_trading, lambda _: self._update_controls(), failed)

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
        self.new_session_action.setEnabled(not running and not self.busy
                                           and self.engine.session_id is not None)
        self.stop_action.setEnabled(running and not self.busy)
        self.resume_trading_action.setVisible(status == EngineStatus.PAUSED)
        self.resume_trading_action.setEnabled(not self.busy)
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
        return self._feed_coins() or ["BTC", "ETH"]

    def _feed_coins(self) -> list[str] | None:
        """The coins of the toolbar's session (the running one's, as the toolbar is locked
        then); None while the toolbar cannot say."""
        try:
            return self.engine_config().coins or None
        except VelocitasError:
            return None

    def open_add_strategy(self) -> StrategyForm | None:
        try:
            ids = {s["strategy_id"] for s in self.engine.strategies()}
        except EngineError as exc:  # its process died: the banner says Start opens a new one
            self.show_error(str(exc))
            return None
        form = StrategyForm(self.engine.catalog, self._coins_for_forms(), ids, parent=self,
                            feed_coins=self._feed_coins())
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
            self.engine.update_params, strategy_id, _edit_text(current, form.spec),
            dict(form.spec.params), form.spec.timeframe))
        self._open_form(form)
        return form

    def _open_form(self, form: StrategyForm) -> None:
        self.forms.append(form)
        form.finished.connect(lambda _: self.forms.remove(form) if form in self.forms else None)
        form.open()

    def remove_strategy(self, strategy_id: str) -> None:
        """Remove a strategy; one that holds a position asks first, since removing it closes
        the position with a fill."""
        held = [row for row in open_positions(self.last_metrics.get("strategies") or {})
                if row["strategy_id"] == strategy_id]
        if not held:
            held = [row for row in self.account_panel_rows() if row["strategy_id"] == strategy_id]
        if not held:
            self._control(self.engine.unregister, strategy_id, f"removed {strategy_id}")
            return
        row = held[0]
        box = QMessageBox(QMessageBox.Icon.Question, "Remove strategy",
                          f"{strategy_id} holds {abs(row['current_position']):,.6g} "
                          f"{row['coin']} ({'long' if row['current_position'] > 0 else 'short'}"
                          f" from {row['entry_price']:,.2f}). Removing it first closes the "
                          "position at the last price, with the fee, as a fill in the blotter. "
                          "Remove it?", QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("removeStrategyDialog")
        self.confirm_remove = box.addButton("Close position and remove",
                                            QMessageBox.ButtonRole.AcceptRole)
        box.accepted.connect(lambda: self._control(
            self.engine.unregister, strategy_id,
            f"closed the position of {strategy_id} and removed it"))
        self._open_dialog(box)

    def account_panel_rows(self) -> list[dict[str, Any]]:
        """The open positions the account dock shows."""
        model = self.account_panel.model
        return [{c.key: model.value(r, c.key) for c in model.columns}
                for r in range(model.rowCount())]

    def ask_flatten_all(self) -> None:
        """Flatten all, after one question: every open position closes with a fill."""
        count = self.account_panel.model.rowCount()
        box = QMessageBox(QMessageBox.Icon.Question, "Flatten all",
                          f"Close all {count} open position{'s' if count != 1 else ''} at their "
                          "last prices, each with a fill and its fee? The strategies go on and "
                          "may open again on their next signals; Stop all trading pauses "
                          "them.", QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("flattenDialog")
        self.confirm_flatten = box.addButton("Flatten all", QMessageBox.ButtonRole.AcceptRole)
        box.accepted.connect(self.flatten_all)
        self._open_dialog(box)

    def flatten_all(self) -> None:
        def done(trades: list[dict[str, Any]]) -> None:
            self.log_panel.add("info", f"flattened: {len(trades)} position"
                                       f"{'s' if len(trades) != 1 else ''} closed with fills")

        run_in_background(self.engine.flatten_all, done, self._control_failed)

    def stop_all_trading(self) -> None:
        """One click: every active strategy is paused; positions stay open."""
        def done(paused: list[str]) -> None:
            self.log_panel.add("info", f"stopped all trading: paused {len(paused)} "
                                       f"strateg{'ies' if len(paused) != 1 else 'y'}; open "
                                       "positions stay open (Flatten all closes them)")
            self.refresh_strategies()

        run_in_background(self.engine.pause_all, done, self._control_failed)

    def _open_dialog(self, dialog: QWidget) -> None:
        """Show a question without blocking the window (the engine's events go on); it is
        deleted once answered."""
        self.dialogs.append(dialog)

        def answered(_: int) -> None:
            if dialog in self.dialogs:
                self.dialogs.remove(dialog)
            dialog.deleteLater()

        dialog.finished.connect(answered)  # type: ignore[attr-defined]
        dialog.open()  # type: ignore[attr-defined]

    def _control_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, VelocitasError):
            raise exc
        self.show_error(f"{exc}.")
        self.refresh_strategies()

    def _control(self, call: Any, target: Any, done_text: str, *more: Any) -> None:
        """A strategy change, applied by the engine between batches, off the Qt thread."""
        def done(_: Any) -> None:
            self.log_panel.add("info", done_text)
            self.refresh_strategies()

        run_in_background(lambda: call(target, *more), done, self._control_failed)

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
        self.optimization.set_default_slippage(settings.slippage)
        self.blotter.default_folder = settings.csv_folder
        if settings.strategy_folders != old.strategy_folders:
            self._reload_catalog()
        server_keys = ("server_enabled", "server_host", "server_port", "server_token",
                       "server_allowed_hosts", "data_folder")
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
        self.trend.set_palette(self.palette_colours)
        self.copilot.set_palette(self.palette_colours)
        self._show_badge()
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
        run_in_background(lambda: engine.attach(
            embedded_server, host=s.server_host, port=s.server_port,
            token=s.server_token or None, allowed_hosts=s.server_allowed_hosts,
            data_folders=(s.data_folder,) if s.data_folder else ()),
            self._server_started, self._server_failed)

    def _server_started(self, server: AttachedView) -> None:
        self.server = server
        token = " · token ••••••••" if server.token else ""
        self.server_label.setText(f"server: {server.url}{token}")
        self.copy_token_button.setVisible(bool(server.token))
        self.open_browser_action.setEnabled(True)
        self.log_panel.add("info", f"server listening on {server.url}")
        log.info("the embedded server listens on %s", server.url)

    def open_in_browser(self) -> bool:
        """The embedded server's browser view in the system's browser, with its token in the
        link's fragment (the page keeps it; no log sees it)."""
        server = self.server
        if server is None:
            self.show_info("The browser view is served by the embedded server: turn it on in "
                           "Settings (Ctrl+,).")
            return False
        link = browser_link(server.url, server.token)
        self.log_panel.add("info", f"opening the browser view at {browser_link(server.url)}")
        return QDesktopServices.openUrl(QUrl(link))

    def copy_token(self) -> None:
        server = self.server
        if server is None or not server.token:
            return
        QApplication.clipboard().setText(server.token)
        self.log_panel.add("info", "server access token copied to the clipboard")

    def _server_failed(self, exc: BaseException) -> None:
        log.error("the embedded server could not start: %s", exc)
        self.server_label.setText("server: failed")
        self.copy_token_button.hide()
        self.open_browser_action.setEnabled(False)
        # the reason already says what to do ("…or choose another port"): say only where
        self.show_error(f"The embedded server could not start: {exc}. The port and the "
                        "server's switch are in Settings (Ctrl+,).")

    def stop_server(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        self.server_label.setText("server: off")
        self.copy_token_button.hide()
        self.open_browser_action.setEnabled(False)

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

    def _restore_toolbar(self, settings: dict[str, Any] | None) -> None:
        """The toolbar as the last session ran: source, coins, pace, workers, files."""
        if not settings:
            return
        index = self.source_box.findData(settings.get("source"))
        if index >= 0:
            self.source_box.setCurrentIndex(index)
        if settings.get("coins"):
            self.coins_edit.setText(",".join(settings["coins"]))
        for edit, key in ((self.rate_edit, "rate"), (self.speed_edit, "speed")):
            pace = settings.get(key)
            edit.setText("max" if pace is None else f"{pace:g}")
        if isinstance(settings.get("workers"), int):
            self.workers_box.setValue(settings["workers"])
        files = settings.get("csv_files") or {}
        if files:
            self.csv_edit.setText("; ".join(f"{coin}={path}" for coin, path in files.items()))

    def _show_restored_figures(self, snapshot: dict[str, Any]) -> None:
        self.last_metrics = snapshot
        self.kpis.show_metrics(snapshot["global"])
        self.account_panel.show_snapshot(snapshot)
        self.market_time = (snapshot["global"].get("clock") or {}).get("time") or 0.0

    def _load_restored_trades(self) -> None:
        if self.engine.session_id is None:
            return
        engine = self.engine
        self.restoring_trades = True
        run_in_background(lambda: engine.trades(limit=RESTORE_LIMIT),
                          self._show_restored_trades, self._restored_trades_failed)

    def _show_restored_trades(self, trades: list[dict[str, Any]]) -> None:
        if trades and self.showing_restored:  # shown at once: nothing else is drawn yet
            self.blotter.add_trades(trades)
            self.blotter.flush()
        self.chart_session.window_opened(trades)
        self._restored_trades_read(trades[-1]["id"] if trades else None)

    def _restored_trades_failed(self, exc: BaseException) -> None:
        self.show_error(f"Could not read past trades: {exc}")
        self._restored_trades_read()

    def _restored_trades_read(self, last_id: int | None = None) -> None:
        self.restoring_trades = False
        waiting, self.trades_while_restoring = self.trades_while_restoring, []
        waiting = [t for t in waiting if last_id is None or t["id"] > last_id]  # not read twice
        if waiting:
            self._on_trades(waiting)
        config, self.pending_launch = self.pending_launch, None
        if config is not None:
            self._set_busy("")
            self._launch(config)

    # --- layout and closing ----------------------------------------------------------------

    def _restore_layout(self) -> None:
        self.window_layout = WindowLayout(self)
        self.window_layout.restore()

    def save_layout(self) -> None:
        self.window_layout.save()

    def _mode_changed(self, _index: int) -> None:
        """The Optimisation, Trend and Copilot tabs take the whole window; Live brings the
        docks back. Showing the Copilot tab sees its new alerts."""
        current = self.modes.currentWidget()
        research = current in (self.optimization, self.trend, self.copilot)
        self.window_layout.make_room(research)
        self.welcome.setVisible(self.welcome_wanted and not research)
        if current is self.copilot and self.unread_alerts:
            self.unread_alerts = []
            self._show_badge()

    def reset_layout(self) -> None:
        """View → Reset layout: every dock back where the window first put it."""
        self.modes.setCurrentWidget(self.charts)  # the docks' place is beside the live charts
        self.window_layout.reset()
        self.log_panel.add("info", "layout reset")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():
            self.window_layout.shown()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.toasts.place()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # restored onto the Copilot tab: the alerts that came meanwhile are in view
        if (event.type() == QEvent.Type.WindowStateChange and not self.isMinimized()
                and hasattr(self, "window_layout")):  # not while the window is being built
            self._mode_changed(self.modes.currentIndex())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.engine.status.stoppable and not self.close_confirmed and self._confirm_close():
            event.ignore()
            self.ask_to_close()
            return
        gc.unfreeze()
        self.save_layout()
        self.optimization.shutdown()  # cancels a running job and waits for it
        self.trend.shutdown()
        self.copilot.shutdown()
        self.toasts.clear()
        self.tray.hide()
        self.bridge.close()
        self.stop_server()
        self.busy_label.setText("Stopping the engine…")
        QApplication.processEvents()
        try:
            self.engine.close()  # stops the threads and worker processes, closes the journal
        except Exception:
            log.exception("the engine did not close cleanly")
        event.accept()

    def ask_to_close(self) -> None:
        """The engine runs: say what closing does, and close only if the trader agrees."""
        count = len(open_positions(self.last_metrics.get("strategies") or {}))
        held = (f" {count} position{'s' if count != 1 else ''} {'are' if count != 1 else 'is'}"
                " open; they" if count else " The session")
        box = QMessageBox(QMessageBox.Icon.Question, "Close Velocitas",
                          "The engine is running. Closing the window stops it." + held
                          + " stay in the journal and go on at the next Start.",
                          QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("closeWindowDialog")
        # made as the box's child: a parentless one is deleted with its Python wrapper
        self.dont_ask_again = QCheckBox("Don't ask again", box)
        box.setCheckBox(self.dont_ask_again)
        self.confirm_close = box.addButton("Stop and close", QMessageBox.ButtonRole.AcceptRole)
        box.accepted.connect(self._close_agreed)
        self._open_dialog(box)

    def _close_agreed(self) -> None:
        if self.dont_ask_again.isChecked():
            store = layout_store()
            store.setValue(CONFIRM_CLOSE, False)
            store.sync()
        # once the question has gone: closing tears down the window it belongs to
        QTimer.singleShot(0, self.close_without_asking)

    def _confirm_close(self) -> bool:
        """Whether closing while the engine runs asks first (until "Don't ask again")."""
        return str(layout_store().value(CONFIRM_CLOSE, True)).lower() not in ("false", "0")

    def close_without_asking(self) -> bool:
        """Close now, running or not (--quit-after, and the tests' tidying up)."""
        self.close_confirmed = True
        return self.close()

    def screenshot(self, path: str | Path) -> bool:
        """Save a picture of the whole window."""
        self.blotter.flush()
        self.charts.redraw()
        return self.grab().save(str(path))


def _sentence(text: str) -> str:
    """``text`` as the start of a sentence: its first letter upper case."""
    return text[:1].upper() + text[1:]
