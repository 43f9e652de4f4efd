"""Specification of a journal that runs out of room: the write fails whole, with SQLite's own
reason and the file's path, and the same records go in once when there is room again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from full_disk import fill_up, small_disk
from journal_helpers import STRATEGIES, fills, spec

from velocitas_desktop.store.journal import Journal, JournalWriteError

SAMPLES = [{"timestamp": 1.7e9, "strategy_id": sid, "pnl": 1.5, "position": 1.0}
           for sid, _, _ in STRATEGIES]
STATE = {"BTC_RSI": {"capital": 10_000.0, "last_price": 101.0}}


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    opened = Journal(tmp_path / "journal.sqlite3")
    opened.begin_session({"source": "simulated", "coins": ["BTC", "ETH"]})
    for strategy_id, coin, name in STRATEGIES:
        opened.save_strategy(spec(strategy_id, coin, name))
    yield opened
    opened.close()


def stored(path: Path) -> tuple[list[int], int, int, list[int]]:
    """(fill ids, samples, metric states, the books' fill counts) as another reader sees them."""
    with sqlite3.connect(path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM fills ORDER BY id")]
        samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        states = conn.execute("SELECT COUNT(*) FROM metric_state").fetchone()[0]
        books = [row[0] for row in conn.execute("SELECT fills FROM books ORDER BY id")]
    return ids, samples, states, books


def test_a_full_journal_says_disk_full_and_names_its_file_not_cannot_rollback(
        journal: Journal) -> None:
    journal.record(fills(10))
    fill_up(journal)
    with pytest.raises(JournalWriteError) as failure:
        journal.record(fills(2_000, first_id=11), SAMPLES, STATE)
    message = str(failure.value)
    assert message == f"the journal {journal.path} cannot be written: database or disk is full"
    assert failure.value.cause == "database or disk is full"
    assert "rollback" not in message


def test_a_failed_write_leaves_nothing_of_itself_and_the_same_records_go_in_once_later(
        journal: Journal) -> None:
    journal.record(fills(10))
    make_room = fill_up(journal)
    batch = fills(2_000, first_id=11)
    for _ in range(3):  # retried while the disk is still full: each fails whole
        with pytest.raises(JournalWriteError):
            journal.record(batch, SAMPLES, STATE)
    assert stored(journal.path) == (list(range(1, 11)), 0, 0, [4, 3, 3])
    make_room()
    journal.record(batch, SAMPLES, STATE)
    ids, samples, states, books = stored(journal.path)
    assert ids == list(range(1, 2_011))
    assert (samples, states, sum(books)) == (len(SAMPLES), 1, 2_010)
    assert journal.trade_records(journal.session_id) == fills(10) + batch


def test_metric_state_is_committed_with_the_fills_or_not_at_all(journal: Journal) -> None:
    fill_up(journal)
    with pytest.raises(JournalWriteError):
        journal.record(fills(2_000), (), STATE)
    assert journal.metric_state(journal.session_id) == {}


def test_registering_a_strategy_on_a_full_disk_is_a_journal_error_naming_the_file(
        journal: Journal) -> None:
    fill_up(journal)
    with pytest.raises(JournalWriteError, match=f"the journal {journal.path} cannot be written"):
        for i in range(500):  # a strategy's row is small: fill the last free page first
            journal.save_strategy(spec(f"BTC_RSI_{i}", "BTC", "RSI"))


def test_closing_a_full_journal_still_closes_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.begin_session({"source": "simulated"})
    journal.record(fills(10))
    fill_up(journal)
    journal.close()
    assert stored(journal.path)[0] == list(range(1, 11))


def test_on_a_real_full_disk_the_write_fails_whole_and_succeeds_once_space_is_freed(
        tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", megabytes=2) as disk:
        if disk is None:
            pytest.skip("this machine does not let the test mount a small tmpfs; the "
                        "max_page_count tests above cover the same failure")
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * 1_000_000)
        journal = Journal(disk / "journal.sqlite3")
        journal.begin_session({"source": "simulated"})
        first_id, failed = 1, None
        while failed is None:
            batch = fills(2_000, first_id=first_id)
            try:
                journal.record(batch)
                first_id += len(batch)
            except JournalWriteError as exc:
                failed = exc
        assert str(failed) == (f"the journal {journal.path} cannot be written: "
                               "database or disk is full")
        ballast.unlink()
        journal.record(batch)
        ids = stored(journal.path)[0]
        assert ids == list(range(1, first_id + len(batch)))
        journal.close()
