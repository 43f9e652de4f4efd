"""A session written into again: its fills follow the earlier ones, its settings are the ones
it now runs with, and an unknown session is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from velocitas_desktop.core.types import Trade
from velocitas_desktop.store.journal import Journal, SessionError


def fill(number: int) -> Trade:
    return Trade(number, "BTC_RSI", "BTC", "RSI", ("BUY", "SELL")[number % 2], 100.0 + number,
                 1.0, 1.7e9 + number, 0.0, 1.0, 0.1)


def test_a_session_that_goes_on_keeps_its_id_its_fills_and_takes_its_new_settings(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    first = journal.begin_session({"source": "simulated", "coins": ["BTC"], "rate": 1000})
    journal.record([fill(1), fill(2)])
    journal.close()

    again = Journal(path)  # a restart: nothing is written until the session goes on
    again.resume_session(first, {"source": "simulated", "coins": ["BTC", "ETH"], "rate": 50})
    again.record([fill(3)])
    assert [t["id"] for t in again.trades(first, limit=-1)] == [1, 2, 3]
    assert again.config(first)["coins"] == ["BTC", "ETH"] and again.config(first)["rate"] == 50
    summary = again.session(first)
    assert (summary.fills, len(again.sessions())) == (3, 1)
    with pytest.raises(SessionError, match="no session 9"):
        again.resume_session(9)
    again.close()
