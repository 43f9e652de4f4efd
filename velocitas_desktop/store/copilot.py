"""The copilot's records in SQLite: its rules, the alerts they raised, the actions proposed or
taken, and its settings, so all of them outlive the process.

The tables live in the journal's file (store/schema.py creates them with the journal's own),
read and written through a connection of this store's own: in WAL mode its few small writes
(one per alert, action or rule change) make the engine's journal writer wait well under a
millisecond, and its reads never wait. With no journal the store is kept in memory
(``":memory:"``). Rows keep the JSON shapes of docs/copilot.md whole in ``body``; the columns
beside it are what the lists are filtered and ordered by.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from velocitas_desktop.store.tables import OwnConnection

MAX_LIST = 10_000  # rows one listing returns at most

TABLES = """
CREATE TABLE IF NOT EXISTS copilot_rules (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS copilot_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id TEXT NOT NULL,
    time REAL NOT NULL,
    severity TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS copilot_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS copilot_actions_by_status ON copilot_actions (status, id);
CREATE TABLE IF NOT EXISTS copilot_settings (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""


class CopilotStore(OwnConnection):
    """The copilot's tables in the SQLite file at ``path`` (``":memory:"``: none that lasts).
    Thread-safe: one lock around one connection."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        super().__init__(path, TABLES)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(row[0]) for row in self._conn.execute(sql, args)]

    # --- rules ---------------------------------------------------------------------------

    def rules(self) -> list[dict[str, Any]]:
        """Every rule, in the order they were first saved."""
        return self._rows("SELECT body FROM copilot_rules ORDER BY position, id")

    def save_rules(self, rules: list[dict[str, Any]], replace_all: bool = False) -> None:
        """Insert or update ``rules`` (by id) in one transaction; ``replace_all`` deletes every
        other rule first. A new rule goes after the others."""
        with self._transaction() as conn:
            if replace_all:
                conn.execute("DELETE FROM copilot_rules")
            for rule in rules:
                body = json.dumps(rule)
                updated = conn.execute("UPDATE copilot_rules SET body = ? WHERE id = ?",
                                       (body, rule["id"])).rowcount
                if not updated:
                    conn.execute(
                        "INSERT INTO copilot_rules (id, position, body) VALUES (?, (SELECT"
                        " COALESCE(MAX(position), 0) + 1 FROM copilot_rules), ?)",
                        (rule["id"], body))

    def delete_rule(self, rule_id: str) -> bool:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM copilot_rules WHERE id = ?",
                                (rule_id,)).rowcount > 0

    # --- alerts --------------------------------------------------------------------------

    def add_alerts(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record ``alerts`` (without ids) in one transaction (a look of the monitor that
        fires many rules waits for one commit, not one each); returns them with their ids
        and dedup keys."""
        out = []
        with self._transaction() as conn:
            for alert in alerts:
                cursor = conn.execute(
                    "INSERT INTO copilot_alerts (rule_id, time, severity, body)"
                    " VALUES (?, ?, ?, '')", (alert["rule_id"], alert["time"], alert["severity"]))
                alert_id = int(cursor.lastrowid or 0)
                alert = {**alert, "id": alert_id, "dedup_key": f"{alert['rule_id']}:{alert_id}"}
                conn.execute("UPDATE copilot_alerts SET body = ? WHERE id = ?",
                             (json.dumps(alert), alert_id))
                out.append(alert)
        return out

    def update_alert(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute("UPDATE copilot_alerts SET body = ? WHERE id = ?",
                               (json.dumps(alert), alert["id"]))

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT body FROM copilot_alerts WHERE id = ?", (int(alert_id),))
        return rows[0] if rows else None

    def alerts(self, after_id: int | None = None, before_id: int | None = None,
               limit: int = 100, severity: str | None = None) -> list[dict[str, Any]]:
        """Alerts newest first: those after ``after_id`` and before ``before_id`` (for
        paging), of one ``severity`` if given, ``limit`` at most."""
        where, args = ["1"], []
        if after_id is not None:
            where.append("id > ?")
            args.append(int(after_id))
        if before_id is not None:
            where.append("id < ?")
            args.append(int(before_id))
        if severity is not None:
            where.append("severity = ?")
            args.append(severity)
        args.append(max(0, min(int(limit), MAX_LIST)))
        return self._rows(f"SELECT body FROM copilot_alerts WHERE {' AND '.join(where)}"
                          " ORDER BY id DESC LIMIT ?", tuple(args))

    # --- actions -------------------------------------------------------------------------

    def add_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Record ``action`` (without an id); returns it with its id."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO copilot_actions (alert_id, status, body) VALUES (?, ?, '')",
                (action.get("alert_id"), action["status"]))
            action = {**action, "id": int(cursor.lastrowid or 0)}
            conn.execute("UPDATE copilot_actions SET body = ? WHERE id = ?",
                         (json.dumps(action), action["id"]))
        return action

    def update_action(self, action: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute("UPDATE copilot_actions SET status = ?, body = ? WHERE id = ?",
                               (action["status"], json.dumps(action), action["id"]))

    def action(self, action_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT body FROM copilot_actions WHERE id = ?", (int(action_id),))
        return rows[0] if rows else None

    def actions(self, status: str | None = None, limit: int = 100,
                before_id: int | None = None) -> list[dict[str, Any]]:
        """Actions newest first, of one ``status`` if given, those before ``before_id`` (for
        paging), ``limit`` at most."""
        where, args = ["1"], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if before_id is not None:
            where.append("id < ?")
            args.append(int(before_id))
        args.append(max(0, min(int(limit), MAX_LIST)))
        return self._rows(f"SELECT body FROM copilot_actions WHERE {' AND '.join(where)}"
                          " ORDER BY id DESC LIMIT ?", tuple(args))

    # --- settings ------------------------------------------------------------------------

    def settings(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT body FROM copilot_settings WHERE name = 'settings'")
        return rows[0] if rows else None

    def save_settings(self, settings: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO copilot_settings (name, body)"
                               " VALUES ('settings', ?)", (json.dumps(settings),))
