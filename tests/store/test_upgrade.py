"""Specification of opening a journal written by an older Velocitas (layout 1, made by the
previous version's own code: data/make_layout1_journal.py): every trade, P&L point and
strategy comes back as that version read them, the file shrinks, and an upgrade cut short
carries on."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.store import schema
from velocitas_desktop.store.journal import Journal, JournalError

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "layout1-journal.json").read_text(encoding="utf-8"))


@pytest.fixture
def old_journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    shutil.copy(DATA / "layout1-journal.sqlite3", path)
    return path


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}


def pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def assert_reads_as_the_old_version_did(journal: Journal) -> None:
    for session, wanted in EXPECTED.items():
        assert journal.trades(int(session), limit=-1) == wanted["trades"]
        assert journal.pnl_history(int(session)) == wanted["pnl_history"]
        assert [[s, status] for s, status in journal.strategies(int(session))] == \
            wanted["strategies"]


def test_the_fixture_is_a_first_layout_journal_with_fills_and_samples(old_journal: Path) -> None:
    assert "trades" in tables(old_journal) and pragma(old_journal, "user_version") == 0
    assert all(len(s["trades"]) > 100 and s["pnl_history"] for s in EXPECTED.values())


def test_an_old_journal_opens_with_every_trade_sample_and_strategy_it_held(
        old_journal: Path) -> None:
    journal = Journal(old_journal)
    assert_reads_as_the_old_version_did(journal)
    listed = journal.sessions()
    assert [s.fills for s in listed] == [len(s["trades"]) for s in EXPECTED.values()]
    for summary, session in zip(listed, EXPECTED.values(), strict=True):
        assert summary.net_pnl == pytest.approx(sum(t["profit_loss"] for t in session["trades"]))
        assert summary.source == "simulated" and summary.coins == ("BTC", "ETH")
    journal.close()
    assert {"legacy_trades", "legacy_pnl_history"}.isdisjoint(tables(old_journal))
    assert pragma(old_journal, "user_version") == schema.LAYOUT
    assert pragma(old_journal, "auto_vacuum") == 2  # incremental: deletes give space back


def _bytes_of_rows(path: Path) -> int:
    """The pages that hold rows: a table or index with none (say, one a newer layout adds
    and this old file has no use for yet) still takes a page, which would hide the saving
    in a test file this small."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(size for size, cells in conn.execute(
            "SELECT SUM(pgsize), SUM(ncell) FROM dbstat GROUP BY name") if cells)


def test_the_upgraded_file_is_smaller_than_the_old_one(old_journal: Path) -> None:
    before = _bytes_of_rows(old_journal)
    Journal(old_journal).close()
    assert _bytes_of_rows(old_journal) < 0.8 * before


def test_an_engine_restores_the_old_journals_last_session_and_carries_on(
        old_journal: Path) -> None:
    last = EXPECTED[max(EXPECTED, key=int)]
    engine = Engine(journal=Journal(old_journal))
    try:
        assert engine.trades(limit=10**6) == last["trades"]
        assert [s["strategy_id"] for s in engine.strategies()] == [
            spec["strategy_id"] for spec, _ in last["strategies"]]
        engine.register(StrategySpec("SMA_Crossover", "ETH", {"fast": 2, "slow": 3}))
        engine.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=1, max_ticks=2_000))
        assert engine.wait(60)
        newer = engine.trades(limit=10**6)
        assert newer and min(t["id"] for t in newer) > last["trades"][-1]["id"]
    finally:
        engine.close()


def test_an_upgrade_cut_short_carries_on_where_it_stopped(old_journal: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "MIGRATION_CHUNK", 100)
    copy = schema._copy_fills
    chunks = {"done": 0}

    def copy_then_die(conn: sqlite3.Connection, low: int, high: int) -> None:
        if chunks["done"] == 3:  # as if the process were killed during the fourth chunk
            raise sqlite3.OperationalError("disk I/O error")
        copy(conn, low, high)
        chunks["done"] += 1

    monkeypatch.setattr(schema, "_copy_fills", copy_then_die)
    with pytest.raises(JournalError, match="disk I/O error"):
        Journal(old_journal)
    with sqlite3.connect(old_journal) as conn:
        assert conn.execute("SELECT COUNT(*) FROM fills").fetchone()[0] == 300
    monkeypatch.setattr(schema, "_copy_fills", copy)
    journal = Journal(old_journal)
    assert_reads_as_the_old_version_did(journal)
    journal.close()


def test_the_upgrade_reports_its_progress_up_to_every_fill(old_journal: Path) -> None:
    heard: list[tuple[int, int]] = []
    Journal(old_journal, progress=lambda done, total: heard.append((done, total))).close()
    total = sum(len(s["trades"]) for s in EXPECTED.values())
    assert heard[0] == (0, total) and heard[-1] == (total, total)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
