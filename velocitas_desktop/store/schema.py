"""The journal's tables (layout 2), and the one-time upgrade of a layout-1 file to them.

Layout 2 keeps a fill in about 61 bytes where layout 1 took 115 (bench/journal.py): the
strategy id, coin and strategy name of a fill are written once per session in ``books`` and
each fill names its book by a small integer; the side is 0 or 1; one index, by book, replaces
two. Prices, quantities, times and P&L stay REAL, bit for bit. The views ``trades`` and
``pnl_history`` show the rows in layout 1's columns, for anyone reading the file with SQLite.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from velocitas_desktop.store import copilot, outbox

log = logging.getLogger(__name__)

LAYOUT = 2  # PRAGMA user_version of a journal in this layout
SIDES = {"BUY": 0, "SELL": 1}
MIGRATION_CHUNK = 200_000  # layout-1 fills copied per transaction (about half a second)

TABLES = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    ended REAL
);
CREATE TABLE IF NOT EXISTS strategies (
    session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, strategy_id)
);
CREATE TABLE IF NOT EXISTS books (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL,
    coin TEXT NOT NULL,
    strategy TEXT NOT NULL,
    fills INTEGER NOT NULL DEFAULT 0,
    net_pnl REAL NOT NULL DEFAULT 0,
    samples INTEGER NOT NULL DEFAULT 0,
    first_fill INTEGER,
    last_fill INTEGER,
    UNIQUE (session_id, strategy_id, coin, strategy)
);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY,
    book INTEGER NOT NULL,
    side INTEGER NOT NULL,
    price REAL NOT NULL,
    quantity REAL NOT NULL,
    timestamp REAL NOT NULL,
    profit_loss REAL NOT NULL,
    position_size REAL NOT NULL,
    fee REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_by_book ON fills (book, id);
CREATE TABLE IF NOT EXISTS samples (
    book INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    pnl REAL NOT NULL,
    position REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_book ON samples (book);
CREATE TABLE IF NOT EXISTS metric_state (
    session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (session_id, strategy_id)
);
CREATE VIEW IF NOT EXISTS trades AS
    SELECT f.id AS id, b.session_id AS session_id, b.strategy_id AS strategy_id,
           b.coin AS coin, b.strategy AS strategy,
           CASE f.side WHEN 0 THEN 'BUY' ELSE 'SELL' END AS action, f.price AS price,
           f.quantity AS quantity, f.timestamp AS timestamp, f.profit_loss AS profit_loss,
           f.position_size AS position_size, f.fee AS fee
    FROM fills f JOIN books b ON b.id = f.book;
CREATE VIEW IF NOT EXISTS pnl_history AS
    SELECT b.session_id AS session_id, s.timestamp AS timestamp,
           b.strategy_id AS strategy_id, s.pnl AS pnl, s.position AS position
    FROM samples s JOIN books b ON b.id = s.book;
"""

# A batch's fills, summed per book: what ``books`` keeps so listing sessions reads no fill.
BOOK_TOTALS = """
SELECT book, COUNT(*), SUM(profit_loss), MIN(id), MAX(id) FROM fills
WHERE id BETWEEN ? AND ? GROUP BY book
"""
ADD_TO_BOOKS = """
UPDATE books SET fills = fills + ?, net_pnl = net_pnl + ?,
                 first_fill = COALESCE(first_fill, ?), last_fill = MAX(COALESCE(last_fill, 0), ?)
WHERE id = ?
"""


class LayoutError(Exception):
    """The file is a journal of a layout this version cannot read."""


def prepare(conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> None:
    """Make ``conn``'s file a layout-2 journal: create it, or finish upgrading a layout-1 one."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > LAYOUT:
        raise LayoutError(f"it was written by a newer Velocitas (layout {version}); "
                          "update Velocitas to open it")
    if version < LAYOUT and _has_table(conn, "trades"):
        _rename_layout_1(conn)
    conn.executescript(TABLES)
    conn.executescript(outbox.TABLES)  # the notifications' outbox (store/outbox.py)
    conn.executescript(copilot.TABLES)  # the copilot's rules, alerts, actions (store/copilot.py)
    if version != LAYOUT:
        conn.execute(f"PRAGMA user_version = {LAYOUT}")
    if _has_table(conn, "legacy_trades"):
        _upgrade(conn, progress)


def needs_upgrade(path: str | Path) -> bool:
    """Whether opening the journal at ``path`` would upgrade it first (read-only check; a
    file that is missing or no journal at all says no, and opening it says why)."""
    path = Path(path).expanduser()
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        return (version < LAYOUT and _has_table(conn, "trades")) or \
            _has_table(conn, "legacy_trades")
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _rename_layout_1(conn: sqlite3.Connection) -> None:
    """Set layout 1's rows aside (a rename costs nothing); ``_upgrade`` then moves them."""
    conn.executescript("""
        BEGIN IMMEDIATE;
        DROP INDEX IF EXISTS trades_by_session;
        DROP INDEX IF EXISTS trades_by_strategy;
        DROP INDEX IF EXISTS pnl_by_session;
        ALTER TABLE trades RENAME TO legacy_trades;
        ALTER TABLE pnl_history RENAME TO legacy_pnl_history;
        ALTER TABLE sessions ADD COLUMN ended REAL;
        COMMIT;
    """)


def _upgrade(conn: sqlite3.Connection, progress: Callable[[int, int], None] | None) -> None:
    """Copy layout 1's fills into layout 2, a chunk per transaction, then drop layout 1's
    tables. Ids are kept, so the highest fill copied says where a run cut short (the window
    gives the engine process a minute to open) carries on."""
    total = conn.execute("SELECT COUNT(*) FROM legacy_trades").fetchone()[0]
    log.warning("upgrading the journal to layout %d: %d fills to move", LAYOUT, total)
    began = time.perf_counter()
    conn.execute("DROP INDEX IF EXISTS fills_by_book")  # built once at the end: 25% faster
    while True:
        done = conn.execute("SELECT COALESCE(MAX(id), 0) FROM fills").fetchone()[0]
        if progress is not None:
            progress(min(_count_up_to(conn, done), total), total)
        high = conn.execute("SELECT MAX(id) FROM (SELECT id FROM legacy_trades WHERE id > ?"
                            " ORDER BY id LIMIT ?)", (done, MIGRATION_CHUNK)).fetchone()[0]
        if high is None:
            break
        _copy_fills(conn, done + 1, high)
    if _has_table(conn, "legacy_pnl_history"):
        _move_samples(conn)
    conn.executescript("BEGIN IMMEDIATE; CREATE INDEX IF NOT EXISTS fills_by_book ON fills"
                       " (book, id); DROP TABLE legacy_trades; COMMIT;")
    _compact(conn)
    log.warning("journal upgraded: %d fills in %.1f s", total, time.perf_counter() - began)


def _count_up_to(conn: sqlite3.Connection, last_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM fills WHERE id <= ?", (last_id,)).fetchone()[0]


def _copy_fills(conn: sqlite3.Connection, low: int, high: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT OR IGNORE INTO books (session_id, strategy_id, coin, strategy)"
            " SELECT DISTINCT session_id, strategy_id, coin, strategy FROM legacy_trades"
            " WHERE id BETWEEN ? AND ?", (low, high))
        conn.execute(
            "INSERT INTO fills SELECT t.id, b.id, t.action = 'SELL', t.price, t.quantity,"
            " t.timestamp, t.profit_loss, t.position_size, t.fee FROM legacy_trades t"
            " JOIN books b ON b.session_id = t.session_id AND b.strategy_id = t.strategy_id"
            " AND b.coin = t.coin AND b.strategy = t.strategy"
            " WHERE t.id BETWEEN ? AND ? ORDER BY t.id", (low, high))
        add_to_books(conn, low, high)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def add_to_books(conn: sqlite3.Connection, low: int, high: int) -> None:
    """Add the fills with ids ``low``..``high`` to their books' totals."""
    totals = conn.execute(BOOK_TOTALS, (low, high)).fetchall()
    conn.executemany(ADD_TO_BOOKS, [(n, pnl, first, last, book)
                                    for book, n, pnl, first, last in totals])


def _move_samples(conn: sqlite3.Connection) -> None:
    """Layout 1's P&L samples, each to the book of its session and strategy (a book made from
    the strategy's saved spec if it never filled)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        missing = conn.execute(
            "SELECT DISTINCT p.session_id, p.strategy_id FROM legacy_pnl_history p"
            " WHERE NOT EXISTS (SELECT 1 FROM books b WHERE b.session_id = p.session_id"
            " AND b.strategy_id = p.strategy_id)").fetchall()
        for session_id, strategy_id in missing:
            coin, name = _coin_and_name(conn, session_id, strategy_id)
            conn.execute("INSERT INTO books (session_id, strategy_id, coin, strategy)"
                         " VALUES (?, ?, ?, ?)", (session_id, strategy_id, coin, name))
        conn.execute(
            "INSERT INTO samples (book, timestamp, pnl, position)"
            " SELECT (SELECT MAX(b.id) FROM books b WHERE b.session_id = p.session_id"
            " AND b.strategy_id = p.strategy_id), p.timestamp, p.pnl, p.position"
            " FROM legacy_pnl_history p ORDER BY p.rowid")
        conn.execute("UPDATE books SET samples = (SELECT COUNT(*) FROM samples s"
                     " WHERE s.book = books.id)")
        conn.execute("DROP TABLE legacy_pnl_history")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _coin_and_name(conn: sqlite3.Connection, session_id: int, strategy_id: str) -> tuple[str, str]:
    row = conn.execute("SELECT spec FROM strategies WHERE session_id = ? AND strategy_id = ?",
                       (session_id, strategy_id)).fetchone()
    try:
        spec = json.loads(row[0]) if row else {}
        return str(spec.get("coin", "")), str(spec.get("name", ""))
    except (ValueError, AttributeError):
        return "", ""


def _compact(conn: sqlite3.Connection) -> None:
    """Give the space of layout 1 back and switch on incremental vacuuming (one VACUUM; it
    can only wait when another program holds the file, and then the space is reused)."""
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        log.warning("the upgraded journal could not be compacted now (%s); its free space "
                    "is reused by new sessions", exc)
