"""The SQLite journal (WAL): sessions, strategy specs, fills and P&L samples, kept in bounds.

A batch of trades is committed before any subscriber hears of them, so after a crash the
journal holds every trade that anyone saw. WAL with ``synchronous=NORMAL`` keeps a commit
cheap: a committed transaction survives the process being killed (it is in the OS's hands);
only a power cut can lose the last commits.

The rows are laid out compactly (store/schema.py: about 61 bytes a fill), and a
:class:`~velocitas_desktop.store.retention.Retention` policy given to the journal drops old
sessions whenever a new one begins. Dropping runs on a thread of its own, in chunks of a few
tens of milliseconds, so the engine's writer never waits long for the file; the space is
given back with incremental vacuuming.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.types import TRADE_FIELDS, Trade
from velocitas_desktop.store.retention import Retention, sessions_to_prune
from velocitas_desktop.store.schema import ADD_TO_BOOKS, SIDES, LayoutError, prepare
from velocitas_desktop.store.tables import BUSY_SECONDS

log = logging.getLogger(__name__)

WAL_LIMIT = 16_000_000       # bytes the WAL file is cut back to after a checkpoint
# Deleting runs in chunks of ~8 ms (5,000 fills; 20,000 took 44 ms) and rests as long as
# each chunk took, so the engine's writer waits at most one chunk for the file
DELETE_CHUNK = 5_000         # fills deleted per transaction
VACUUM_PAGES = 500           # pages (2 MB) given back per transaction, ~2-4 ms
PAGE = 50_000                # fills read per query when a whole session is walked
ENDED_EVERY = 1.0            # seconds between updates of a session's end time (a row write)
KEPT_READERS = 4             # idle read-only connections kept open for the next reads

Progress = Callable[[int, int], None]

_TRADE_COLUMNS = (
    "f.id, b.strategy_id, b.coin, b.strategy, CASE f.side WHEN 0 THEN 'BUY' ELSE 'SELL' END,"
    " f.price, f.quantity, f.timestamp, f.profit_loss, f.position_size, f.fee")
# CROSS JOIN keeps fills the outer loop: rows come in id order, straight from the table or
# its index, never sorted afterwards
_TRADES_FROM = f"SELECT {_TRADE_COLUMNS} FROM fills f CROSS JOIN books b ON b.id = f.book"
_LIVE_BOOKS = "session_id IN (SELECT id FROM sessions)"


class JournalError(Exception):
    """The journal file cannot be opened or written; the message names the file."""


class JournalWriteError(JournalError):
    """A write the journal could not make (a full disk, an I/O error...): nothing of it was
    kept. The message names the file and SQLite's own reason; ``cause`` is that reason."""

    def __init__(self, path: Path, cause: str) -> None:
        super().__init__(f"the journal {path} cannot be written: {cause}")
        self.path = path
        self.cause = cause


class SessionError(VelocitasError):
    """A session asked for is not in the journal, or may not be deleted; says which."""


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One session as the journal lists it.

    ``ended`` is the wall-clock time it last recorded a fill or sample (written at most
    ``ENDED_EVERY`` late while it runs, exactly when the journal moves on or closes; None
    until then). ``fills`` and ``net_pnl`` (the sum of the fills' realised P&L, fees
    included) are kept up to date with every commit. ``size_bytes`` is its share of the
    file's used pages by its share of the rows (fills and P&L samples)."""

    id: int
    started: float
    ended: float | None
    source: str
    coins: tuple[str, ...]
    strategies: tuple[str, ...]
    fills: int
    net_pnl: float
    samples: int
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started": self.started, "ended": self.ended,
                "source": self.source, "coins": list(self.coins),
                "strategies": list(self.strategies), "fills": self.fills,
                "net_pnl": self.net_pnl, "samples": self.samples, "size_bytes": self.size_bytes}


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune did: the sessions deleted and the bytes they held (estimated)."""

    sessions: tuple[int, ...]
    freed_bytes: int


def size_on_disk(path: str | Path) -> int:
    """Bytes the journal at ``path`` takes: the file and its write-ahead log."""
    path = Path(path)
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


class ReadConnections:
    """Read-only connections to the journal file, each used by one reading thread at a time.

    In WAL mode a reader sees the last commit and never waits for the writer, nor the writer
    for it. Pages of 10,000 trades read through the writer's own connection held its lock
    for tens of milliseconds each, and the engine's p99 tick-to-published went from 6.5 ms
    to 234 ms. Idle connections are kept for the next reads, up to ``KEPT_READERS``."""

    def __init__(self, path: Path) -> None:
        self._uri = f"{path.resolve().as_uri()}?mode=ro"
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise JournalError(f"{self._uri}: the journal is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False,
                                   isolation_level=None, timeout=BUSY_SECONDS)
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < KEPT_READERS
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Journal:
    """One SQLite file. Writes come from the engine's writer thread; reads from any thread.

    With ``retention``, each :meth:`begin_session` drops what the policy no longer keeps, on a
    background thread. ``progress(done, total)`` hears of the one-time upgrade of a journal
    written by an older version (store/schema.py)."""

    def __init__(self, path: str | Path, retention: Retention | None = None,
                 progress: Progress | None = None) -> None:
        self.path = Path(path).expanduser()
        self.retention = retention
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False,
                                         isolation_level=None, timeout=BUSY_SECONDS)
            self._conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # a new file only
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
            prepare(self._conn, progress)
        except (OSError, sqlite3.Error, LayoutError) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self._readers = ReadConnections(self.path)
        self.session_id: int | None = None
        self._last_commit = 0.0  # when the session last recorded something
        self._last_write = 0.0   # when its end time was last written (every ENDED_EVERY s)
        self._books: dict[tuple[str, str, str], int] = {}   # (strategy id, coin, name) -> book
        self._book_of: dict[str, int] = {}                  # strategy id -> its newest book
        self._closing = threading.Event()
        self._pruner: threading.Thread | None = None

    @property
    def size(self) -> int:
        """Bytes on disk, the write-ahead log included."""
        return size_on_disk(self.path)

    # --- writing -------------------------------------------------------------------------

    def begin_session(self, config: dict[str, Any]) -> int:
        """Start a session; with a retention policy, drop old sessions in the background."""
        now = time.time()
        with self._lock, self._writing():
            self._mark_end()
            cur = self._conn.execute("INSERT INTO sessions (started, config) VALUES (?, ?)",
                                     (now, json.dumps(config, default=str)))
            self.session_id = int(cur.lastrowid)
            self._books.clear()
            self._book_of.clear()
            self._last_commit = self._last_write = 0.0
        if self.retention is not None:
            self._prune_in_background(self.retention)
        return self.session_id

    def resume_session(self, session_id: int, config: dict[str, Any] | None = None) -> None:
        """Write into ``session_id`` again: a session that goes on after a restart or a
        stop, or whose positions are closed while no session runs. With ``config`` (a start
        that goes on), it is kept as the settings the session now runs with (a later restart
        reads them back) and, as at any start, a retention policy drops old sessions in the
        background. SessionError if the journal has no such session."""
        with self._lock:
            if self._conn.execute("SELECT 1 FROM sessions WHERE id = ?",
                                  (session_id,)).fetchone() is None:
                raise SessionError(f"no session {session_id} in {self.path} to go on with")
            if self.session_id != session_id:
                self._mark_end()
                self._books.clear()
                self._book_of.clear()
                self._last_commit = self._last_write = 0.0
            if config is not None:
                self._conn.execute("UPDATE sessions SET config = ? WHERE id = ?",
                                   (json.dumps(config, default=str), session_id))
            self.session_id = session_id
        if config is not None and self.retention is not None:
            self._prune_in_background(self.retention)

    def save_strategy(self, spec: dict[str, Any], status: str = "active",
                      removed: bool = False) -> None:
        if self.session_id is None:
            return
        with self._lock, self._writing():
            self._conn.execute(
                "INSERT OR REPLACE INTO strategies (session_id, strategy_id, spec, status, removed)"
                " VALUES (?, ?, ?, ?, ?)",
                (self.session_id, spec["strategy_id"], json.dumps(spec), status, int(removed)))
            self._book(spec["strategy_id"], spec["coin"], spec["name"])

    def record(self, trades: Sequence[Trade], pnl_rows: Sequence[dict[str, Any]] = (),
               state: dict[str, Any] | None = None) -> None:
        """Commit trades (in id order, as the ledger makes them), P&L samples and the ledger's
        metric state (as :meth:`save_metric_state`) in one transaction, before anyone is told
        of them. JournalWriteError if the file cannot take them: then none of them is in it,
        and the same records may be given again."""
        if not trades and not pnl_rows and not state:
            return
        if self.session_id is None:
            raise JournalError(f"{self.path}: no session has begun to record into")
        with self._lock, self._writing():
            conn = self._conn
            written = self._last_write
            conn.execute("BEGIN")
            try:
                if trades:
                    self._insert_fills(trades)
                if pnl_rows:
                    self._insert_samples(pnl_rows)
                if state:
                    self._replace_state(state)
                now = self._last_commit = time.time()
                if now - self._last_write >= ENDED_EVERY:
                    self._mark_end()
                conn.execute("COMMIT")
            except BaseException:
                self._books.clear()  # books made in the rolled-back transaction are gone
                self._book_of.clear()
                self._last_write = written
                self._roll_back()
                raise

    def save_metric_state(self, state: dict[str, Any]) -> None:
        """The ledger's metric state (core/ledger.py ``metric_state``): what a restart needs
        beside the trades, by strategy id; each save replaces the last."""
        if self.session_id is None or not state:
            return
        with self._lock, self._writing():
            self._replace_state(state)

    def _replace_state(self, state: dict[str, Any]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO metric_state (session_id, strategy_id, state)"
            " VALUES (?, ?, ?)",
            [(self.session_id, sid, json.dumps(value)) for sid, value in state.items()])

    def _roll_back(self) -> None:
        """Undo the open transaction, if SQLite has not already: on a full disk (SQLITE_FULL)
        or an I/O error it rolls back by itself, and a ROLLBACK then would fail with "no
        transaction is active", hiding the real reason."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("the journal %s could not roll back", self.path, exc_info=True)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite's and the system's errors of a write, as JournalWriteError naming the file."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise JournalWriteError(self.path, str(exc)) from exc

    def _mark_end(self) -> None:
        """Write the current session's end: its last commit (lock held)."""
        if self.session_id is None:
            return
        self._last_write = self._last_commit or time.time()
        self._conn.execute("UPDATE sessions SET ended = ? WHERE id = ?",
                           (self._last_write, self.session_id))

    def _insert_fills(self, trades: Sequence[Trade]) -> None:
        # the books' totals are summed here rather than by a GROUP BY over the new rows:
        # at 10,000 ticks/s (a few fills a commit) that query cost the writer ~15% more CPU
        books = self._books
        rows = []
        totals: dict[int, list] = {}  # book -> [fills, net P&L, first id, last id]
        for t in trades:
            book = books.get(t[1:4]) or self._book(t[1], t[2], t[3])
            rows.append((t[0], book, SIDES[t[4]], t[5], t[6], t[7], t[8], t[9], t[10]))
            total = totals.get(book)
            if total is None:
                totals[book] = [1, t[8], t[0], t[0]]
            else:
                total[0] += 1
                total[1] += t[8]
                total[3] = t[0]
        self._conn.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?)", rows)
        self._conn.executemany(ADD_TO_BOOKS, [(*total, book) for book, total in totals.items()])

    def _insert_samples(self, pnl_rows: Sequence[dict[str, Any]]) -> None:
        counts: dict[int, int] = {}
        rows = []
        for r in pnl_rows:
            sid = r["strategy_id"]
            book = self._book_of.get(sid) or self._book(sid, "", "")
            counts[book] = counts.get(book, 0) + 1
            rows.append((book, r["timestamp"], r["pnl"], r["position"]))
        self._conn.executemany("INSERT INTO samples VALUES (?,?,?,?)", rows)
        self._conn.executemany("UPDATE books SET samples = samples + ? WHERE id = ?",
                               [(n, book) for book, n in counts.items()])

    def _book(self, strategy_id: str, coin: str, name: str) -> int:
        """The current session's book of a strategy on a coin, made if new (lock held)."""
        key = (strategy_id, coin, name)
        book = self._books.get(key)
        if book is None:
            args = (self.session_id, strategy_id, coin, name)
            self._conn.execute("INSERT OR IGNORE INTO books (session_id, strategy_id, coin,"
                               " strategy) VALUES (?, ?, ?, ?)", args)
            book = self._conn.execute(
                "SELECT id FROM books WHERE session_id = ? AND strategy_id = ? AND coin = ?"
                " AND strategy = ?", args).fetchone()[0]
            self._books[key] = book
        if coin or strategy_id not in self._book_of:
            self._book_of[strategy_id] = book
        return book

    # --- reading -------------------------------------------------------------------------

    def max_trade_id(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(id) FROM fills").fetchone()
        return int(row[0] or 0)

    def last_session(self) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT MAX(id) FROM sessions").fetchone()
        return None if row[0] is None else int(row[0])

    def strategies(self, session_id: int) -> list[tuple[dict[str, Any], str]]:
        """(spec, status) of the strategies still registered at the end of ``session_id``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT spec, status FROM strategies WHERE session_id = ? AND removed = 0"
                " ORDER BY rowid", (session_id,)).fetchall()
        return [(json.loads(spec), status) for spec, status in rows]

    def trades(self, session_id: int | None = None, strategy_id: str | None = None,
               coin: str | None = None, since: float | None = None, until: float | None = None,
               after_id: int | None = None, limit: int = 1000, offset: int = 0,
               newest_first: bool = False) -> list[dict[str, Any]]:
        """Trades in the seed's shape, filtered, in id order (``limit=-1``: all of them).
        Read on a connection of their own: the writer never waits for them."""
        with self._readers.connection() as conn:
            scope = self._scope(conn, session_id, strategy_id, coin)
            if scope is None:
                return []
            where, args = scope
            for clause, value in (("f.timestamp >= ?", since), ("f.timestamp <= ?", until),
                                  ("f.id > ?", after_id)):
                if value is not None:
                    where.append(clause)
                    args.append(value)
            sql = (f"{_TRADES_FROM} WHERE {' AND '.join(where) or '1'}"
                   f" ORDER BY f.id {'DESC' if newest_first else 'ASC'} LIMIT ? OFFSET ?")
            rows = conn.execute(sql, (*args, limit, offset)).fetchall()
        return [dict(zip(TRADE_FIELDS, row, strict=True)) for row in rows]

    def _scope(self, conn: sqlite3.Connection, session_id: int | None,
               strategy_id: str | None, coin: str | None) -> tuple[list[str], list[Any]] | None:
        """The WHERE clauses that pick the fills of those books (None: no such fill). One
        book is read through its index; several as a range of ids, checked against the set."""
        sql = f"SELECT id, first_fill, last_fill FROM books WHERE {_LIVE_BOOKS}" \
              " AND first_fill IS NOT NULL"
        args: list[Any] = []
        for clause, value in (("session_id = ?", session_id), ("strategy_id = ?", strategy_id),
                              ("coin = ?", coin)):
            if value is not None:
                sql += f" AND {clause}"
                args.append(value)
        books = conn.execute(sql, args).fetchall()
        if not books:
            return None
        if len(books) == 1:
            return ["f.book = ?"], [books[0][0]]
        ids = ",".join(str(int(b[0])) for b in books)
        low, high = min(b[1] for b in books), max(b[2] for b in books)
        return ["f.id BETWEEN ? AND ?", f"+f.book IN ({ids})"], [low, high]

    def iter_trades(self, session_id: int, page: int = PAGE) -> Iterator[list[dict[str, Any]]]:
        """A session's trades, ``page`` at a time, oldest first; the lock is let go between
        pages, so walking a big session never holds up the writer."""
        after: int | None = None
        while True:
            rows = self.trades(session_id, after_id=after, limit=page)
            if not rows:
                return
            yield rows
            after = rows[-1]["id"]

    def trade_records(self, session_id: int) -> list[Trade]:
        return [Trade(*row.values()) for page in self.iter_trades(session_id) for row in page]

    def pnl_history(self, session_id: int) -> list[dict[str, Any]]:
        """Every P&L point of ``session_id``, in the order it was recorded."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT s.timestamp, b.strategy_id, s.pnl, s.position FROM samples s"
                " JOIN books b ON b.id = s.book WHERE b.session_id = ? ORDER BY s.rowid",
                (session_id,)).fetchall()
        return [{"timestamp": t, "strategy_id": s, "pnl": p, "position": q}
                for t, s, p, q in rows]

    def metric_state(self, session_id: int) -> dict[str, Any]:
        """The last metric state saved for ``session_id`` (empty for an older journal)."""
        with self._lock:
            rows = self._conn.execute("SELECT strategy_id, state FROM metric_state"
                                      " WHERE session_id = ?", (session_id,)).fetchall()
        return {sid: json.loads(state) for sid, state in rows}

    # --- sessions ------------------------------------------------------------------------

    def sessions(self) -> list[SessionSummary]:
        """Every session, oldest first."""
        with self._lock:
            conn = self._conn
            rows = conn.execute(
                "SELECT s.id, s.started, s.ended, s.config, COALESCE(SUM(b.fills), 0),"
                " COALESCE(SUM(b.net_pnl), 0.0), COALESCE(SUM(b.samples), 0)"
                " FROM sessions s LEFT JOIN books b ON b.session_id = s.id"
                " GROUP BY s.id ORDER BY s.id").fetchall()
            named: dict[int, list[str]] = {}
            for session_id, strategy_id in conn.execute(
                    "SELECT session_id, strategy_id FROM strategies ORDER BY session_id, rowid"):
                named.setdefault(session_id, []).append(strategy_id)
            all_rows = conn.execute("SELECT COALESCE(SUM(fills + samples), 0) FROM books"
                                    ).fetchone()[0]
            used = self._used_bytes()
        return [_summary(row, named.get(row[0], []), used, all_rows) for row in rows]

    def session(self, session_id: int) -> SessionSummary:
        """One session's summary; SessionError if there is none with that id."""
        for summary in self.sessions():
            if summary.id == session_id:
                return summary
        raise SessionError(self._unknown(session_id))

    def config(self, session_id: int) -> dict[str, Any]:
        """The settings the session ran with."""
        with self._lock:
            row = self._conn.execute("SELECT config FROM sessions WHERE id = ?",
                                     (session_id,)).fetchone()
        if row is None:
            raise SessionError(self._unknown(session_id))
        return json.loads(row[0])

    def strategy_records(self, session_id: int) -> list[dict[str, Any]]:
        """Every strategy the session ran: its spec, last status and whether it was removed."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT spec, status, removed FROM strategies WHERE session_id = ?"
                " ORDER BY rowid", (session_id,)).fetchall()
        return [{**json.loads(spec), "status": status, "removed": bool(removed)}
                for spec, status, removed in rows]

    def _used_bytes(self) -> int:
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * self._conn.execute("PRAGMA page_size").fetchone()[0]

    def _unknown(self, session_id: int) -> str:
        with self._lock:
            ids = [row[0] for row in self._conn.execute("SELECT id FROM sessions ORDER BY id")]
        known = f"its sessions: {_id_ranges(ids)}" if ids else "it holds no session"
        return f"no session {session_id} in {self.path} ({known})"

    # --- dropping sessions ---------------------------------------------------------------

    def prune(self, policy: Retention, protected: Collection[int] = (),
              progress: Progress | None = None,
              stop: threading.Event | None = None) -> Pruned:
        """Delete what ``policy`` no longer keeps (never the newest session, the one this
        journal writes, or the ``protected`` ones)."""
        keep = {*protected, *([self.session_id] if self.session_id is not None else [])}
        doomed = sessions_to_prune(self.sessions(), policy, keep)
        if not doomed:
            self.purge(progress, stop)  # what a prune cut short left behind
            return Pruned((), 0)
        return self.delete_sessions(doomed, keep, progress, stop)

    def delete_sessions(self, ids: Collection[int], protected: Collection[int] = (),
                        progress: Progress | None = None,
                        stop: threading.Event | None = None) -> Pruned:
        """Delete the sessions ``ids``: they vanish at once, their rows go in short chunks
        and the space goes back to the disk. SessionError names an id that is unknown, the
        newest (running or restored next) or ``protected``."""
        if not ids:
            return Pruned((), 0)
        listed = self.sessions()
        self.check_deletable(ids, listed, protected)
        sizes = {s.id: s.size_bytes for s in listed}
        doomed = sorted(set(ids))
        marks = ",".join("?" * len(doomed))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(f"DELETE FROM strategies WHERE session_id IN ({marks})", doomed)
                self._conn.execute(f"DELETE FROM metric_state WHERE session_id IN ({marks})",
                                   doomed)
                self._conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", doomed)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self.purge(progress, stop)
        return Pruned(tuple(doomed), sum(sizes[i] for i in doomed))

    def check_deletable(self, ids: Collection[int], sessions: Sequence[SessionSummary],
                        protected: Collection[int] = ()) -> None:
        """SessionError unless every one of ``ids`` is among ``sessions`` and may go."""
        known = {s.id for s in sessions}
        for session_id in sorted(set(ids)):
            if session_id not in known:
                raise SessionError(self._unknown(session_id))
            if session_id == max(known):
                raise SessionError(f"session {session_id} is the newest in {self.path}: it "
                                   "is running, or the one a restart restores, so it is kept")
            if session_id in protected or session_id == self.session_id:
                raise SessionError(f"session {session_id} is in use (running or shown), so "
                                   "it is kept")

    def purge(self, progress: Progress | None = None,
              stop: threading.Event | None = None) -> None:
        """Delete the rows of deleted sessions, then give their space back; what a stop
        leaves undone, the next purge finishes."""
        with self._lock:
            books = self._conn.execute(
                f"SELECT id, fills FROM books WHERE NOT ({_LIVE_BOOKS})").fetchall()
        total, done = sum(n for _, n in books), 0
        for book, _ in books:
            while True:
                if stop is not None and stop.is_set():
                    return
                with _resting(), self._lock:
                    deleted = self._conn.execute(
                        "DELETE FROM fills WHERE id IN (SELECT id FROM fills WHERE book = ?"
                        " LIMIT ?)", (book, DELETE_CHUNK)).rowcount
                done += deleted
                if progress is not None:
                    progress(min(done, total), total)
                if deleted < DELETE_CHUNK:
                    break
            with self._lock:
                self._conn.executescript(
                    f"BEGIN IMMEDIATE; DELETE FROM samples WHERE book = {int(book)};"
                    f" DELETE FROM books WHERE id = {int(book)}; COMMIT;")
        self._give_back_space(stop)

    def _give_back_space(self, stop: threading.Event | None) -> None:
        """Incremental vacuum, a few megabytes per transaction, then a checkpoint that lets
        the file shrink (a journal not in incremental mode reuses the space instead)."""
        with self._lock:
            if self._conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                return
        while stop is None or not stop.is_set():
            with _resting(), self._lock:
                if not self._conn.execute("PRAGMA freelist_count").fetchone()[0]:
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    return
                # a script, because Python's execute() steps this pragma once: one page
                self._conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")

    def _prune_in_background(self, policy: Retention) -> None:
        if self._pruner is not None and self._pruner.is_alive():
            return  # the one running will have caught up by the next session

        def run() -> None:
            try:
                pruned = self.prune(policy, stop=self._closing)
            except Exception:
                log.exception("the journal's retention policy could not be applied")
                return
            if pruned.sessions:
                log.info("journal %s: dropped sessions %s (about %d bytes) to keep %s",
                         self.path, _id_ranges(list(pruned.sessions)), pruned.freed_bytes,
                         policy.describe())

        self._pruner = threading.Thread(target=run, name="velocitas-journal-prune", daemon=True)
        self._pruner.start()

    def wait_for_pruning(self, timeout: float | None = None) -> bool:
        """Wait for the background prune (if any); True when none runs any more."""
        pruner = self._pruner
        if pruner is not None:
            pruner.join(timeout)
        return pruner is None or not pruner.is_alive()

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self.wait_for_pruning()  # it stops after its current chunk
        self._readers.close()
        with self._lock:
            try:
                self._mark_end()
            except sqlite3.Error as exc:  # a full disk: the end time is the last one written
                log.warning("the journal %s could not record when its session ended: %s",
                            self.path, exc)
            self._conn.close()


@contextlib.contextmanager
def _resting() -> Iterator[None]:
    """Run the block, then sleep as long as it took (at least a millisecond): work done in
    such steps holds the file at most half the time."""
    began = time.perf_counter()
    yield
    time.sleep(max(time.perf_counter() - began, 0.001))


def _summary(row: tuple[Any, ...], strategies: list[str], used: int,
             all_rows: int) -> SessionSummary:
    session_id, started, ended, config_text, fills, net_pnl, samples = row
    try:
        config = json.loads(config_text)
    except ValueError:
        config = {}
    share = (fills + samples) / all_rows if all_rows else 0.0
    return SessionSummary(int(session_id), started, ended, str(config.get("source", "")),
                          tuple(config.get("coins") or ()), tuple(strategies), int(fills),
                          float(net_pnl), int(samples), int(used * share))


def _id_ranges(ids: list[int]) -> str:
    """``[1, 2, 3, 7]`` as "1-3, 7"."""
    spans: list[list[int]] = []
    for i in sorted(ids):
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in spans)
