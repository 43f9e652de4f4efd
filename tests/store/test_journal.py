"""Specification of the journal's layout: compact rows that read back bit for bit, filters that
agree with filtering by hand, the seed's columns for anyone reading the file with SQLite, and
a list of sessions with their fills, P&L and size."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from journal_helpers import STRATEGIES, fills, spec, write_session

from velocitas_desktop.core.types import TRADE_FIELDS
from velocitas_desktop.store.journal import Journal, JournalError, SessionError, size_on_disk


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    opened = Journal(tmp_path / "journal.sqlite3")
    yield opened
    opened.close()


def used_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size


def test_a_fill_takes_about_sixty_bytes_where_the_first_layout_took_115(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    write_session(journal, fills(60_000))
    journal.close()
    per_fill = used_bytes(path) / 60_000
    assert 40 < per_fill < 66  # bench/journal.py: 60.8 for a real session, 115 before


def test_fills_and_samples_read_back_bit_for_bit(journal: Journal) -> None:
    trades = fills(500)
    session = write_session(journal, trades, samples=4)
    assert journal.trade_records(session) == trades
    assert journal.trades(session, limit=-1) == [t.to_dict() for t in trades]
    history = journal.pnl_history(session)
    assert len(history) == 4 * len(STRATEGIES)
    assert history[:3] == [{"timestamp": 1.7e9, "strategy_id": sid, "pnl": 0.0, "position": 1.0}
                           for sid, _, _ in STRATEGIES]
    assert history[-1]["pnl"] == 3 / 7


def test_filters_give_what_filtering_by_hand_gives(journal: Journal) -> None:
    first = fills(900)
    write_session(journal, first)
    second = fills(600, first_id=901, start=1.8e9)
    session = write_session(journal, second)
    mine = [t.to_dict() for t in second]
    everything = [t.to_dict() for t in first + second]

    def by_hand(rows: list[dict], **want: object) -> list[dict]:
        return [r for r in rows if all(r[k] == v for k, v in want.items())]

    assert journal.trades(session, limit=-1) == mine
    assert journal.trades(session, strategy_id="ETH_RSI", limit=-1) == by_hand(
        mine, strategy_id="ETH_RSI")
    assert journal.trades(session, coin="BTC", limit=-1) == by_hand(mine, coin="BTC")
    assert journal.trades(strategy_id="BTC_RSI", limit=-1) == by_hand(everything,
                                                                    strategy_id="BTC_RSI")
    assert journal.trades(limit=-1) == everything
    assert journal.trades(session, after_id=1400, limit=-1) == [r for r in mine if r["id"] > 1400]
    since, until = mine[100]["timestamp"], mine[200]["timestamp"]
    assert journal.trades(session, since=since, until=until, limit=-1) == mine[100:201]
    assert journal.trades(session, limit=10, offset=20) == mine[20:30]
    assert journal.trades(session, limit=5, newest_first=True) == mine[::-1][:5]
    assert journal.trades(session, strategy_id="ETH_RSI", coin="BTC") == []
    assert journal.trades(session, strategy_id="nobody") == []


def test_the_trades_and_pnl_history_views_keep_the_first_layouts_columns(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    trades = fills(30)
    session = write_session(journal, trades, samples=1)
    journal.close()
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM trades ORDER BY id")]
        samples = [dict(r) for r in conn.execute("SELECT * FROM pnl_history")]
    assert rows == [{"session_id": session, **t.to_dict()} for t in trades]
    assert list(rows[0]) == ["id", "session_id", *TRADE_FIELDS[1:]]
    assert set(samples[0]) == {"session_id", "timestamp", "strategy_id", "pnl", "position"}


def test_a_strategy_re_registered_on_another_coin_keeps_each_fills_own_coin(
        journal: Journal) -> None:
    session = journal.begin_session({"source": "simulated", "coins": ["BTC", "ETH"]})
    journal.save_strategy(spec("mine", "BTC", "RSI"))
    btc = fills(1)[0]._replace(strategy_id="mine", coin="BTC", strategy="RSI")
    journal.save_strategy(spec("mine", "ETH", "Momentum"), removed=False)
    eth = btc._replace(id=2, coin="ETH", strategy="Momentum")
    journal.record([btc])  # a fill of the first one, journaled after the second registered
    journal.record([eth])
    assert [(t["coin"], t["strategy"]) for t in journal.trades(session)] == [
        ("BTC", "RSI"), ("ETH", "Momentum")]


def test_sessions_are_listed_with_fills_net_pnl_and_their_share_of_the_file(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    before = time.time()
    small = write_session(journal, fills(300), source="csv", samples=2)
    big = write_session(journal, fills(3000, first_id=301))
    listed = journal.sessions()
    assert [s.id for s in listed] == [small, big]
    first = listed[0]
    assert first.source == "csv" and first.coins == ("BTC", "ETH")
    assert first.strategies == tuple(sid for sid, _, _ in STRATEGIES)
    assert first.fills == 300 and first.samples == 2 * len(STRATEGIES)
    assert first.net_pnl == pytest.approx(sum(t.profit_loss for t in fills(300)))
    assert before <= first.started <= first.ended <= listed[1].started
    # the sizes share out the used pages by rows: together they are the file, less its
    # schema, and ten times the fills take about ten times the space
    journal.close()
    total = sum(s.size_bytes for s in listed)
    assert 0.9 * used_bytes(path) < total <= used_bytes(path)
    assert listed[1].size_bytes / first.size_bytes == pytest.approx(
        3000 / (300 + first.samples), rel=0.01)
    assert size_on_disk(path) >= used_bytes(path)


def test_an_unknown_session_is_named_with_the_ones_there_are(journal: Journal) -> None:
    for _ in range(3):
        write_session(journal, [])
    with pytest.raises(SessionError, match=r"no session 9 in .*journal.sqlite3 \(its sessions: "
                                           r"1-3\)"):
        journal.session(9)


def test_recording_without_a_session_is_an_error_not_a_silent_loss(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no session has begun"):
        journal.record(fills(1))


def test_a_file_that_is_not_a_journal_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("shopping list\n" * 100, encoding="utf-8")
    with pytest.raises(JournalError, match=r"cannot open the journal .*notes.sqlite3"):
        Journal(path)


def test_a_journal_from_a_newer_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 9")
    with pytest.raises(JournalError, match=r"written by a newer Velocitas.*update Velocitas"):
        Journal(path)
