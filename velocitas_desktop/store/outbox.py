"""The notifications' outbox: one row per delivery an alert owes a webhook, kept in SQLite.

The table lives in the journal's file (store/schema.py creates it with the journal's own
tables) or, when the engine runs without a journal, in a file of its own in the user's data folder
(copilot/outbox.py chooses). Either way it outlives the process: a delivery written here before a crash is sent
after the restart.

The guarantee is at least once, made effectively once by a key: a row is written once per
``dedup_key`` (alert + target), a row marked ``sent`` is never picked again, and a row picked
for an attempt (``attempts`` counted, ``claimed`` set) whose answer never came back (the
process died mid-request) stays ``pending`` and is tried again; the receiver gets the same key
both times, in the body and in the ``Idempotency-Key`` header, so it can drop the repeat.

The store has its own connection: in WAL mode its writes (one small statement each) make the
engine's journal writer wait well under a millisecond, and its reads never wait at all. One
notifier uses a store at a time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from velocitas_desktop.store.tables import OwnConnection

KEEP_SECONDS = 30 * 86_400   # sent and failed rows older than this go when a store opens
# a delivery still owed this long after its alert is not sent: a day-old "BTC crossed 70,000"
# posted to a chat as if new misleads more than it tells (the alert stays in the journal)
MAX_OWED_SECONDS = 86_400

TABLES = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    dedup_key TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    sent REAL,
    body TEXT NOT NULL,
    next_try REAL NOT NULL,
    claimed REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, target, next_try);
"""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to write: what to send where, under which key."""

    alert_id: int | None
    channel: str          # "webhook" | "heartbeat"
    target: str           # the URL
    format: str           # "json" | "discord" | "slack" | "telegram"
    dedup_key: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery picked for one attempt: its row id, what to send and which attempt it is."""

    id: int
    target: str
    format: str
    dedup_key: str
    body: dict[str, Any]
    attempt: int


_COLUMNS = ("id, alert_id, channel, target, format, status, attempts, last_error, dedup_key,"
            " created, sent")


class OutboxStore(OwnConnection):
    """The outbox table in the SQLite file at ``path`` (``":memory:"`` for none that lasts)."""

    def __init__(self, path: str | Path, now: float | None = None) -> None:
        super().__init__(path, TABLES)
        cutoff = (time.time() if now is None else now) - KEEP_SECONDS
        with self._lock:
            self._conn.execute("DELETE FROM outbox WHERE status != 'pending' AND created < ?",
                               (cutoff,))

    def add(self, deliveries: Iterable[NewDelivery], now: float) -> int:
        """Write the deliveries whose key is new, due at once; returns how many were new."""
        rows = [(d.alert_id, d.channel, d.target, d.format, d.dedup_key, now,
                 json.dumps(d.body), now) for d in deliveries]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO outbox (alert_id, channel, target, format, dedup_key,"
                " created, body, next_try) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return conn.total_changes - before

    def claim(self, target: str, now: float) -> Claim | float | None:
        """Pick the target's next delivery due by ``now`` for an attempt (counting it), or say
        when the next one falls due (a time), or None when the target owes nothing. Deliveries
        owed for more than ``MAX_OWED_SECONDS`` (an app stopped for a day with a dead endpoint)
        are failed as expired first, not sent."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'failed', claimed = NULL, last_error ="
                " 'expired: still owed ' || CAST(ROUND((? - created) / 3600.0) AS INTEGER)"
                " || ' h after its alert (the limit is 24 h); not sent'"
                " || COALESCE(' (last error: ' || last_error || ')', '')"
                " WHERE status = 'pending' AND target = ? AND channel = 'webhook'"
                " AND created < ?", (now, target, now - MAX_OWED_SECONDS))
            row = conn.execute(
                "SELECT id, target, format, dedup_key, body, attempts, next_try FROM outbox"
                " WHERE status = 'pending' AND target = ? ORDER BY next_try, id LIMIT 1",
                (target,)).fetchone()
            if row is None:
                return None
            if row[6] > now:
                return float(row[6])
            conn.execute("UPDATE outbox SET attempts = attempts + 1, claimed = ? WHERE id = ?",
                         (now, row[0]))
        return Claim(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5] + 1)

    def next_due(self, target: str) -> float | None:
        """When the target's next pending delivery falls due (None: it owes nothing)."""
        with self._lock:
            return self._conn.execute("SELECT MIN(next_try) FROM outbox WHERE status ="
                                      " 'pending' AND target = ?", (target,)).fetchone()[0]

    def sent(self, delivery_id: int, now: float) -> None:
        with self._lock:
            self._conn.execute("UPDATE outbox SET status = 'sent', sent = ?, last_error = NULL"
                               " WHERE id = ?", (now, delivery_id))

    def retry(self, delivery_id: int, error: str, at: float) -> None:
        """The attempt failed; try again at ``at``."""
        with self._lock:
            self._conn.execute("UPDATE outbox SET last_error = ?, next_try = ?, claimed = NULL"
                               " WHERE id = ?", (error, at, delivery_id))

    def failed(self, delivery_id: int, error: str) -> None:
        """The attempt failed and no other will be made."""
        with self._lock:
            self._conn.execute("UPDATE outbox SET status = 'failed', last_error = ?,"
                               " claimed = NULL WHERE id = ?", (error, delivery_id))

    def record_heartbeat(self, target: str, now: float, error: str | None,
                         body: dict[str, Any]) -> None:
        """One row per heartbeat URL, updated by each beat: its count, its last result."""
        status = DeliveryStatus.SENT if error is None else DeliveryStatus.FAILED
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (alert_id, channel, target, format, status, attempts,"
                " last_error, dedup_key, created, sent, body, next_try)"
                " VALUES (NULL, 'heartbeat', ?, 'json', ?, 1, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (dedup_key) DO UPDATE SET status = excluded.status,"
                " attempts = attempts + 1, last_error = excluded.last_error,"
                " sent = COALESCE(excluded.sent, sent), body = excluded.body,"
                " created = excluded.created",
                (target, str(status), error, f"heartbeat@{target}", now,
                 now if error is None else None, json.dumps(body), now))

    def pending_targets(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._conn.execute(
                "SELECT DISTINCT target FROM outbox WHERE status = 'pending'")]

    def pending_count(self) -> int:
        with self._lock:
            return self._conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest deliveries first, as the API lists them."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?",
                                      (max(0, int(limit)),)).fetchall()
        names = [name.strip() for name in _COLUMNS.split(",")]
        return [dict(zip(names, row, strict=True)) for row in rows]
