"""Specification of the journal's read side: trades are read on connections of their own, so a
client paging through them never waits for the engine's writer nor holds it up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from journal_helpers import fills, write_session

from velocitas_desktop.store.journal import Journal, JournalError


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    opened = Journal(tmp_path / "journal.sqlite3")
    yield opened
    opened.close()


def read_in_thread(journal: Journal, **query) -> list[dict]:
    """``journal.trades(**query)`` on another thread; fails if it has not returned in 30 s."""
    rows: list[list[dict]] = []
    reader = threading.Thread(target=lambda: rows.append(journal.trades(**query)), daemon=True)
    reader.start()
    reader.join(30)
    assert rows, "the read waited for the writer"
    return rows[0]


def test_trades_are_not_read_on_the_writers_connection(journal: Journal) -> None:
    session = write_session(journal, fills(300))
    on_writer: list[str] = []
    journal._conn.set_trace_callback(on_writer.append)
    rows = journal.trades(session, limit=-1)
    strategy_rows = journal.trades(session, strategy_id="ETH_RSI", limit=-1)
    journal._conn.set_trace_callback(None)
    assert [r["id"] for r in rows] == list(range(1, 301))
    assert [r["id"] for r in strategy_rows] == list(range(2, 301, 3))
    assert on_writer == []


def test_a_read_does_not_wait_while_the_writer_holds_the_journal(journal: Journal) -> None:
    session = write_session(journal, fills(300))
    with journal._lock:  # the writer in the middle of a commit
        rows = read_in_thread(journal, session_id=session, limit=-1)
    assert len(rows) == 300


def test_a_read_sees_every_commit_made_before_it(journal: Journal) -> None:
    made = fills(2_000)
    session = write_session(journal, made[:1_000])
    assert len(journal.trades(session, limit=-1)) == 1_000
    journal.record(made[1_000:1_500])
    assert read_in_thread(journal, session_id=session, after_id=1_000, limit=-1)[-1]["id"] == 1_500
    journal.record(made[1_500:])
    assert journal.trades(session, after_id=1_500, limit=-1)[-1]["id"] == 2_000


def test_reading_a_closed_journal_says_it_is_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    session = write_session(journal, fills(10))
    journal.trades(session)
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.trades(session)
