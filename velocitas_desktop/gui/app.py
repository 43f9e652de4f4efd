"""Starts the terminal: the Qt application, the engine, the window, and the last-resort handler."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Any

from velocitas_desktop.core.errors import UsageError, VelocitasError
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.paths import ensure, log_dir

log = logging.getLogger(__name__)

# Besides the Qt thread, the window's process runs the thread that reads the engine's events
# (the engine itself runs in its own process, engine/host.py) and, while a search runs, the
# optimiser's. Handing the interpreter lock over every 0.1 ms instead of every 5 keeps a
# paint from waiting behind them (``bench/gui.py --switch`` compares values; with the engine
# still in this process it was p99 ~170 ms at 0.1 ms against ~320-450 ms at 1 ms).
SWITCH_INTERVAL = 0.0001


def tune_interpreter() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)


def run_gui(args: argparse.Namespace) -> int:
    """Open the window; with ``--demo`` start on the simulated feed, with ``--screenshot``
    save a picture of the window, with ``--quit-after`` close after that many seconds."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from velocitas_desktop.gui.main_window import MainWindow
    from velocitas_desktop.gui.sessions import upgrade_journal
    from velocitas_desktop.gui.settings import load_settings, with_retention
    from velocitas_desktop.gui.theme import apply_theme

    _log_to_file()
    tune_interpreter()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Velocitas")
    settings = with_retention(load_settings(), getattr(args, "keep_sessions", None),
                              getattr(args, "keep_gb", None))
    apply_theme(app, settings.theme)
    upgrade_journal(getattr(args, "db", None))  # an older version's journal, with progress
    try:
        engine = open_engine(getattr(args, "db", None), settings.strategy_folders,
                             restore=not args.demo)
    except UsageError as exc:
        print(f"velocitas: {exc}", file=sys.stderr)
        return 2
    window = MainWindow(engine, settings, journal_path=getattr(args, "db", None))
    install_excepthook(window)
    if args.screenshot:
        window.resize(1600, 960)  # the same picture whatever the last session's size
    window.show()
    if args.demo:
        start_demo(window)
    window.start_server()
    result = {"code": 0}
    if args.screenshot:
        delay = args.quit_after if args.quit_after else 5.0

        def shoot() -> None:
            if not window.screenshot(args.screenshot):
                print(f"velocitas: could not save the screenshot to {args.screenshot}",
                      file=sys.stderr)
                result["code"] = 1

        # a moment before quitting, so the picture shows the last frame drawn
        QTimer.singleShot(int(max(delay - 0.3, 0.1) * 1000), shoot)
    if args.quit_after:
        QTimer.singleShot(int(args.quit_after * 1000), window.close_without_asking)
    app.exec()
    _dispose(app, window)
    return result["code"]


def open_engine(db: str | None, strategy_folders: list[str], restore: bool) -> TradingEngine:
    """The window's engine, in its own process (see engine/host.py for why). A journal that
    cannot be opened is a UsageError with the reason."""
    from velocitas_desktop.engine.host import HostedEngine
    from velocitas_desktop.store.journal import JournalError

    try:
        return HostedEngine(strategy_folders, journal_path=db, restore=restore,
                            log_file=str(ensure(log_dir()) / "velocitas-engine.log"))
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    except VelocitasError as exc:
        raise UsageError(f"the engine could not start: {exc}") from None


def _dispose(app: Any, window: Any) -> None:
    """Destroy the widgets while Qt still runs: left to the interpreter's final garbage
    collection, pyqtgraph's items can crash the process on its way out."""
    import gc

    sys.excepthook = sys.__excepthook__
    window.deleteLater()
    app.processEvents()
    del window
    gc.collect()


def start_demo(window: Any) -> None:
    """The welcome's ready set (each built-in on BTC and ETH, on 1m bars, simulated prices as
    fast as they come), started at once."""
    from velocitas_desktop.gui.welcome import builtin_names, ready_session, ready_set

    ready_session(window)
    window.add_strategies(ready_set(builtin_names(window.engine.catalog)))
    window.start_engine()


def install_excepthook(window: Any) -> None:
    """An unexpected error is logged and shown in a dialog; the app goes on running."""
    from PySide6.QtWidgets import QMessageBox

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        text = "".join(traceback.format_exception(kind, exc, tb))
        log.error("unexpected error in the window:\n%s", text)
        try:
            window.log_panel.add("error", f"unexpected error: {kind.__name__}: {exc}")
            box = QMessageBox(QMessageBox.Icon.Critical, "Velocitas — unexpected error",
                              f"{kind.__name__}: {exc}\n\nThe window goes on running. The "
                              f"details are in {log_dir() / 'velocitas-gui.log'}; please "
                              "report them.", QMessageBox.StandardButton.Ok, window)
            box.setDetailedText(text)
            box.setObjectName("crashDialog")
            box.open()
        except Exception:  # the window itself may be what broke
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook


def _log_to_file() -> None:
    root = logging.getLogger()
    if any(getattr(h, "_velocitas", False) for h in root.handlers):
        return
    try:
        handler = logging.FileHandler(ensure(log_dir()) / "velocitas-gui.log", encoding="utf-8")
    except OSError:
        return
    handler._velocitas = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger(__name__).info("window opened at %s", time.ctime())
