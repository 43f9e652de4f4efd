"""The journal in the window: the Sessions dialog (each session with its size, exported or
deleted with progress, off the Qt thread) and the retention policy applied as sessions start.

Every piece of journal work opens its own connection on a pool thread: the engine writes the
same file from its own process, and SQLite lets both in, one short transaction at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.engine.contract import EngineStatus, TradingEngine
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.panels import fit_columns, make_table, paint_now
from velocitas_desktop.gui.table import (
    BYTES,
    CATEGORY,
    INT,
    MONEY,
    TEXT,
    TIME,
    Column,
    ColumnTableModel,
)
from velocitas_desktop.paths import default_journal_path, exports_dir
from velocitas_desktop.store.journal import Journal, Pruned, SessionSummary
from velocitas_desktop.store.reports import EXPORT_FORMATS, export_session
from velocitas_desktop.store.retention import Retention, human_bytes
from velocitas_desktop.store.schema import needs_upgrade

# the figures first, the long lists last, so a narrow dialog still shows what matters
SESSION_COLUMNS = (
    Column("id", "Session", INT, "d"),
    Column("started", "Started (UTC)", TIME, "%Y-%m-%d %H:%M:%S"),
    Column("ended", "Ended (UTC)", TIME, "%Y-%m-%d %H:%M:%S"),
    Column("source", "Source", CATEGORY),
    Column("fills", "Fills", INT),
    Column("net_pnl", "Net P&L", MONEY),
    Column("size", "Size", BYTES),
    Column("coins", "Coins", TEXT),
    Column("strategies", "Strategies", TEXT),
)


def with_journal(path: Path, work: Callable[[Journal], Any]) -> Any:
    """``work(journal)`` on a connection of its own, closed afterwards (pool threads only)."""
    journal = Journal(path)
    try:
        return work(journal)
    finally:
        journal.close()


def _listing(journal: Journal) -> tuple[list[SessionSummary], int]:
    return journal.sessions(), journal.size


class SessionsDialog(QDialog):
    """The journal's sessions: when, what, fills, net P&L and size; export and delete.

    The session the engine runs or shows, and the newest one in the file, cannot be deleted
    (the Delete button says why). ``retention`` is the policy Prune applies."""

    def __init__(self, journal_path: Path, engine: TradingEngine,
                 retention: Callable[[], Retention], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.journal_path = Path(journal_path)
        self.engine = engine
        self.retention = retention
        self.sessions: list[SessionSummary] = []
        self.busy = False
        self.setWindowTitle("Sessions in the journal")
        self.setObjectName("sessionsDialog")
        self.resize(1100, 420)
        layout = QVBoxLayout(self)
        self.summary = QLabel("Reading the journal…")
        self.summary.setObjectName("journalSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.model = ColumnTableModel(SESSION_COLUMNS, key="id")
        self.table = make_table(self.model)
        self.table.setObjectName("sessionsTable")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        layout.addWidget(self.table)
        layout.addLayout(self._buttons())
        self.hint = QLabel("")
        self.hint.setObjectName("sessionsHint")
        self.hint.setWordWrap(True)
        self.hint.hide()
        layout.addWidget(self.hint)
        self.status = QLabel("")
        self.status.setObjectName("sessionsStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.refresh()

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.export_format = QComboBox()
        self.export_format.setObjectName("exportFormat")
        self.export_format.addItems([fmt.upper() for fmt in EXPORT_FORMATS])
        self.export_button = QPushButton("Export…")
        self.delete_button = QPushButton("Delete")
        self.prune_button = QPushButton("Apply the retention policy")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        self.close_button = QPushButton("Close")
        for widget in (self.refresh_button, self.export_format, self.export_button,
                       self.delete_button, self.prune_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.progress)
        row.addWidget(self.close_button)
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self._ask_export)
        self.delete_button.clicked.connect(self._ask_delete)
        self.prune_button.clicked.connect(self.prune)
        self.close_button.clicked.connect(self.accept)
        return row

    # --- reading -------------------------------------------------------------------------

    def refresh(self) -> None:
        self._run(lambda: with_journal(self.journal_path, _listing), self._show,
                  "Could not read the journal")

    def _show(self, listing: tuple[list[SessionSummary], int]) -> None:
        self.sessions, size = listing
        self.model.set_rows([{**s.to_dict(), "coins": ",".join(s.coins),
                              "strategies": ", ".join(s.strategies),
                              "size": s.size_bytes} for s in self.sessions])
        fit_columns(self.table)
        paint_now(self.table)
        count = len(self.sessions)
        self.summary.setText(
            f"{self.journal_path}: {human_bytes(size)} on disk, {count} "
            f"session{'s' if count != 1 else ''}. Kept: {self.retention().describe()} "
            "(Settings → Journal).")
        self._update_buttons()

    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return sorted(int(self.model.value(index.row(), "id")) for index in rows)

    def kept_ids(self) -> set[int]:
        """The sessions that stay whatever is asked: the newest, and the engine's."""
        kept = {max((s.id for s in self.sessions), default=0)}
        if self.engine.session_id is not None:
            kept.add(self.engine.session_id)
        return kept

    def _update_buttons(self, *_: Any) -> None:
        chosen = self.selected_ids()
        kept = sorted(set(chosen) & self.kept_ids())
        idle = not self.busy
        self.refresh_button.setEnabled(idle)
        self.prune_button.setEnabled(idle and bool(self.sessions))
        self.export_button.setEnabled(idle and len(chosen) == 1)
        self.delete_button.setEnabled(idle and bool(chosen) and not kept)
        self.hint.setText(f"Session {kept[0]} is running or shown in the window, or is the "
                          "one the next start restores: it is kept." if kept else "")
        self.hint.setVisible(bool(kept))

    # --- export --------------------------------------------------------------------------

    def _ask_export(self) -> None:
        (session,) = self.selected_ids()
        folder = QFileDialog.getExistingDirectory(self, f"Export session {session} to",
                                                  str(exports_dir()))
        if folder:
            self.export(session, Path(folder), self.export_format.currentText().lower())

    def export(self, session: int, folder: Path, fmt: str = "csv") -> None:
        """Write the session's trades and P&L history into ``folder``, with progress."""
        self.status.setText(f"Exporting session {session}…")
        self._run(lambda progress: with_journal(
                      self.journal_path,
                      lambda journal: export_session(journal, session, folder, fmt, progress)),
                  lambda paths: self._done(f"Session {session} exported to "
                                           f"{', '.join(str(p) for p in paths)}."),
                  f"Could not export session {session}", with_progress=True)

    # --- deleting ------------------------------------------------------------------------

    def _ask_delete(self) -> None:
        chosen = self.selected_ids()
        size = sum(s.size_bytes for s in self.sessions if s.id in chosen)
        box = QMessageBox(QMessageBox.Icon.Question, "Delete sessions",
                          f"Delete session{'s' if len(chosen) > 1 else ''} "
                          f"{', '.join(map(str, chosen))} and their trades (about "
                          f"{human_bytes(size)})? This cannot be undone; export first to keep "
                          "a copy.", QMessageBox.StandardButton.Cancel, self)
        self.confirm_delete = box.addButton("Delete", QMessageBox.ButtonRole.AcceptRole)
        box.setObjectName("confirmDelete")
        box.accepted.connect(lambda: self.delete(chosen))
        box.open()

    def delete(self, ids: list[int]) -> None:
        """Delete ``ids`` (never a kept one), their rows in short steps, with progress."""
        protected = self.kept_ids()
        self.status.setText(f"Deleting session{'s' if len(ids) > 1 else ''} "
                            f"{', '.join(map(str, ids))}…")
        self._run(lambda progress: with_journal(
                      self.journal_path,
                      lambda journal: journal.delete_sessions(ids, protected, progress)),
                  lambda pruned: self._deleted(pruned, "Deleted"),
                  "Could not delete", with_progress=True)

    def prune(self) -> None:
        """Apply the retention policy now, as a session start would."""
        policy, protected = self.retention(), self.kept_ids()
        self.status.setText(f"Keeping {policy.describe()}…")
        self._run(lambda progress: with_journal(
                      self.journal_path,
                      lambda journal: journal.prune(policy, protected, progress)),
                  lambda pruned: self._deleted(pruned, f"To keep {policy.describe()}: deleted"),
                  "Could not apply the retention policy", with_progress=True)

    def _deleted(self, pruned: Pruned, verb: str) -> None:
        if pruned.sessions:
            ids = ", ".join(map(str, pruned.sessions))
            self._done(f"{verb} session{'s' if len(pruned.sessions) > 1 else ''} {ids} "
                       f"(about {human_bytes(pruned.freed_bytes)}).")
        else:
            self._done("Nothing to delete: the journal is within the policy.")
        self.refresh()

    # --- the background work -------------------------------------------------------------

    def _run(self, work: Callable[..., Any], done: Callable[[Any], None], failure: str,
             with_progress: bool = False) -> None:
        self.busy = True
        self._update_buttons()
        if with_progress:
            self.progress.setRange(0, 0)  # busy until the first report
            self.progress.show()

        def finished(result: Any) -> None:
            self._idle()
            done(result)

        def failed(exc: BaseException) -> None:
            self._idle()
            self.status.setText(f"{failure}: {exc}")

        run_in_background(work, finished, failed,
                          self._progress if with_progress else None)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _idle(self) -> None:
        self.busy = False
        self.progress.hide()
        self._update_buttons()

    def _done(self, text: str) -> None:
        self.status.setText(text)


class JournalKeeper(QObject):
    """Applies the window's retention policy when a session starts (the window's engine
    runs in a process of its own, which keeps its journal but not the window's settings),
    and tells the log what it deleted."""

    def __init__(self, window: Any, journal_path: Path) -> None:
        super().__init__(window)
        self.window = window
        self.journal_path = journal_path
        self.pruned_for: int | None = None
        window.bridge.engine_status.connect(self._on_engine_status)

    def _on_engine_status(self, event: dict[str, Any]) -> None:
        session = self.window.engine.session_id
        if event.get("status") == EngineStatus.RUNNING and session != self.pruned_for:
            self.pruned_for = session
            self.prune(session)

    def prune(self, session: int | None) -> None:
        policy = self.window.settings.retention
        protected = {session} if session is not None else set()
        run_in_background(
            lambda: with_journal(self.journal_path,
                                 lambda journal: journal.prune(policy, protected)),
            lambda pruned: self._report(pruned, policy),
            lambda exc: self.window.log_panel.add(
                "warning", f"the journal's retention policy could not be applied: {exc}"))

    def _report(self, pruned: Pruned, policy: Retention) -> None:
        if pruned.sessions:
            self.window.log_panel.add(
                "info", f"journal: deleted old sessions {', '.join(map(str, pruned.sessions))} "
                        f"(about {human_bytes(pruned.freed_bytes)}) to keep {policy.describe()}")


def add_sessions_menu(window: Any, journal_path: Path | None) -> QAction:
    """The Journal menu's Sessions… entry, and the keeper of the retention policy."""
    path = Path(journal_path) if journal_path else default_journal_path()
    window.journal_keeper = JournalKeeper(window, path)
    window.sessions_dialog = None
    action = QAction("&Sessions…", window)
    action.setObjectName("sessionsAction")

    def open_dialog() -> None:
        dialog = SessionsDialog(path, window.engine, lambda: window.settings.retention, window)
        window.sessions_dialog = dialog
        dialog.open()

    action.triggered.connect(open_dialog)
    window.menuBar().addMenu("&Journal").addAction(action)
    return action


def upgrade_journal(path: str | Path | None, parent: QWidget | None = None) -> bool:
    """Upgrade a journal written by an older version before the engine opens it, behind a
    progress dialog: the engine's process is given a minute to start, and a journal of tens
    of millions of fills takes longer (about 4 s a million, once). False when there was
    nothing to upgrade or it failed (the engine's own open then says why)."""
    path = Path(path) if path else default_journal_path()
    if not needs_upgrade(path):
        return False
    dialog = QProgressDialog(f"Upgrading the journal {path} to the compact layout (once)…",
                             "", 0, 0, parent)
    dialog.setObjectName("journalUpgrade")
    dialog.setWindowTitle("Velocitas")
    dialog.setCancelButton(None)  # cut short, it carries on at the next start anyway
    dialog.setMinimumDuration(0)
    loop = QEventLoop()
    failures: list[BaseException] = []

    def progress(done: int, total: int) -> None:
        dialog.setMaximum(max(total, 1))
        dialog.setValue(done)

    def failed(exc: BaseException) -> None:
        failures.append(exc)
        loop.quit()

    run_in_background(lambda report: Journal(path, progress=report).close(),
                      lambda _: loop.quit(), failed, progress)
    dialog.show()
    loop.exec()
    dialog.close()
    return not failures
