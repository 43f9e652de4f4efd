"""What an alert owes the webhooks (one delivery per enabled webhook that wants its severity,
each under its own key), and where the outbox that keeps them lives."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from velocitas_desktop import paths
from velocitas_desktop.copilot import webhooks
from velocitas_desktop.copilot.webhooks import Webhook
from velocitas_desktop.store.outbox import NewDelivery, OutboxStore

OUTBOX_FILE = "outbox.sqlite3"


def open_outbox(journal_path: str | Path | None) -> OutboxStore:
    """The outbox in the journal's file (a table beside the journal's own), or, for an engine
    that keeps no journal, in ``outbox.sqlite3`` in the user's data folder: either way pending
    deliveries outlive the process."""
    return OutboxStore(paths.data_dir() / OUTBOX_FILE if journal_path is None else journal_path)


def deliveries_for(alert: Mapping[str, Any], hooks: Iterable[Webhook]) -> list[NewDelivery]:
    """The deliveries ``alert`` owes ``hooks``: their bodies rendered now, so a restart sends
    what the alert said whatever the settings have become."""
    severity = str(alert.get("severity", "info"))
    rows = []
    for hook in hooks:
        if hook.wants(severity):
            key = webhooks.dedup_key(alert, hook.target)
            body = webhooks.render(hook.format, alert, chat_id=hook.chat_id, key=key)
            rows.append(NewDelivery(alert.get("id"), "webhook", hook.target, hook.format, key,
                                    body))
    return rows
