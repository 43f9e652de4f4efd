"""A store's own connection to a SQLite file beside the journal's: opened once, one lock,
write-ahead logging, its tables created if absent, and immediate transactions."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

BUSY_SECONDS = 10.0  # how long a write waits for another connection's transaction


class OwnConnection:
    """The connection a store keeps to ``path`` (``":memory:"`` for one that does not last),
    with ``tables`` (a script of ``CREATE ... IF NOT EXISTS``) run once it is open."""

    def __init__(self, path: str | Path, tables: str) -> None:
        self.path = path if path == ":memory:" else Path(path).expanduser()
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=BUSY_SECONDS)
        self._lock = threading.Lock()
        with self._lock:
            if isinstance(self.path, Path):
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(tables)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
