"""The SQLite journal (WAL): sessions, strategy specs, trades and P&L history.

A batch of trades is committed before any subscriber hears of them, so after a crash the
journal holds every trade that anyone saw. WAL with ``synchronous=NORMAL`` keeps a commit
cheap: a committed transaction survives the process being killed (it is in the OS's hands);
only a power cut can lose the last commits.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from velocitas_desktop.core.types import TRADE_FIELDS, Trade

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    config TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS strategies (
    session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, strategy_id)
);
CREATE TABLE IF NOT EXISTS trades (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL,
    coin TEXT NOT NULL,
    strategy TEXT NOT NULL,
    action TEXT NOT NULL,
    price REAL NOT NULL,
    quantity REAL NOT NULL,
    timestamp REAL NOT NULL,
    profit_loss REAL NOT NULL,
    position_size REAL NOT NULL,
    fee REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_by_session ON trades (session_id, id);
CREATE INDEX IF NOT EXISTS trades_by_strategy ON trades (strategy_id, id);
CREATE TABLE IF NOT EXISTS pnl_history (
    session_id INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    strategy_id TEXT NOT NULL,
    pnl REAL NOT NULL,
    position REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pnl_by_session ON pnl_history (session_id, timestamp);
CREATE TABLE IF NOT EXISTS metric_state (
    session_id INTEGER NOT NULL,
    strategy_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (session_id, strategy_id)
);
"""




class JournalError(Exception):
    """The journal file cannot be opened or written; the message names the file."""


class Journal:
    """One SQLite file. Writes come from the engine's consumer thread; reads from any thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False,
                                         isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self.session_id: int | None = None

    # --- writing -------------------------------------------------------------------------

    def begin_session(self, config: dict[str, Any]) -> int:
        with self._lock:
            cur = self._conn.execute("INSERT INTO sessions (started, config) VALUES (?, ?)",
                                     (time.time(), json.dumps(config, default=str)))
            self.session_id = int(cur.lastrowid)
        return self.session_id

    def save_strategy(self, spec: dict[str, Any], status: str = "active",
                      removed: bool = False) -> None:
        if self.session_id is None:
            return
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO strategies (session_id, strategy_id, spec, status, removed)"
                " VALUES (?, ?, ?, ?, ?)",
                (self.session_id, spec["strategy_id"], json.dumps(spec), status, int(removed)))

    def record(self, trades: Sequence[Trade], pnl_rows: Sequence[dict[str, Any]] = ()) -> None:
        """Commit trades and P&L rows in one transaction (before anyone is told of them)."""
        if not trades and not pnl_rows:
            return
        session = self.session_id or 0
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                if trades:
                    conn.executemany(
                        "INSERT INTO trades (id, session_id, strategy_id, coin, strategy, action,"
                        " price, quantity, timestamp, profit_loss, position_size, fee)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        [(t[0], session, *t[1:]) for t in trades])
                if pnl_rows:
                    conn.executemany(
                        "INSERT INTO pnl_history (session_id, timestamp, strategy_id, pnl, position)"
                        " VALUES (?,?,?,?,?)",
                        [(session, r["timestamp"], r["strategy_id"], r["pnl"], r["position"])
                         for r in pnl_rows])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def save_metric_state(self, state: dict[str, Any]) -> None:
        """The ledger's metric state (core/ledger.py ``metric_state``): what a restart needs
        beside the trades, by strategy id; each save replaces the last."""
        if self.session_id is None or not state:
            return
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO metric_state (session_id, strategy_id, state)"
                " VALUES (?, ?, ?)",
                [(self.session_id, sid, json.dumps(value)) for sid, value in state.items()])

    # --- reading -------------------------------------------------------------------------

    def max_trade_id(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(id) FROM trades").fetchone()
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
        where, args = _filters(session_id, strategy_id, coin, since, until, after_id)
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT {', '.join(TRADE_FIELDS)} FROM trades{where} ORDER BY id {order}"
               " LIMIT ? OFFSET ?")
        with self._lock:
            rows = self._conn.execute(sql, (*args, limit, offset)).fetchall()
        return [dict(zip(TRADE_FIELDS, row, strict=True)) for row in rows]

    def trade_records(self, session_id: int) -> list[Trade]:
        return [Trade(*row.values()) for row in self.trades(session_id, limit=-1)]

    def pnl_history(self, session_id: int) -> list[dict[str, Any]]:
        """Every P&L point of ``session_id``, in the order it was recorded."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT timestamp, strategy_id, pnl, position FROM pnl_history"
                " WHERE session_id = ? ORDER BY rowid", (session_id,)).fetchall()
        return [{"timestamp": t, "strategy_id": s, "pnl": p, "position": q}
                for t, s, p, q in rows]

    def metric_state(self, session_id: int) -> dict[str, Any]:
        """The last metric state saved for ``session_id`` (empty for an older journal)."""
        with self._lock:
            rows = self._conn.execute("SELECT strategy_id, state FROM metric_state"
                                      " WHERE session_id = ?", (session_id,)).fetchall()
        return {sid: json.loads(state) for sid, state in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _filters(session_id: int | None, strategy_id: str | None, coin: str | None,
             since: float | None, until: float | None,
             after_id: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for clause, value in (("session_id = ?", session_id), ("strategy_id = ?", strategy_id),
                          ("coin = ?", coin), ("timestamp >= ?", since),
                          ("timestamp <= ?", until), ("id > ?", after_id)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
