"""Specification of the retention policy: which sessions it drops (by count, by size, never the
newest or a protected one), and a journal that applies it when a session begins, deleting in
short steps that let the engine's writer in, and giving the space back to the disk."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from journal_helpers import fills, write_session

from velocitas_desktop.store.journal import Journal, SessionError
from velocitas_desktop.store.retention import (
    DEFAULT_KEEP_GB,
    DEFAULT_KEEP_SESSIONS,
    GB,
    Retention,
    human_bytes,
    sessions_to_prune,
)


@dataclass(frozen=True)
class Held:
    id: int
    size_bytes: int


def sizes(*megabytes: float) -> list[Held]:
    """Sessions 1, 2, 3... of these sizes."""
    return [Held(i, int(mb * 1e6)) for i, mb in enumerate(megabytes, 1)]


# --- the policy --------------------------------------------------------------------------


def test_the_defaults_keep_twenty_sessions_and_two_gigabytes() -> None:
    assert (DEFAULT_KEEP_SESSIONS, DEFAULT_KEEP_GB) == (20, 2.0)
    assert Retention() == Retention(20, 2.0)
    assert Retention().describe() == "the last 20 sessions, at most 2 GB"
    assert Retention(0, 0).describe() == "every session, no size limit"


def test_beyond_the_count_the_oldest_sessions_go() -> None:
    assert sessions_to_prune(sizes(1, 1, 1, 1, 1), Retention(3, 0)) == [1, 2]
    assert sessions_to_prune(sizes(1, 1), Retention(3, 0)) == []


def test_beyond_the_size_the_oldest_go_until_the_rest_fits() -> None:
    # 0.5 + 0.7 + 0.6 + 0.4 GB = 2.2 GB; dropping the oldest (0.5) leaves 1.7 GB <= 2 GB
    assert sessions_to_prune(sizes(500, 700, 600, 400), Retention(0, 2.0)) == [1]
    assert sessions_to_prune(sizes(500, 700, 600, 400), Retention(0, 1.0)) == [1, 2]
    assert sessions_to_prune(sizes(500, 700, 600, 400), Retention(0, 2.2)) == []


def test_count_and_size_both_apply() -> None:
    # the count drops 1; of 2-4 (1.7 GB) the size drops 2 to fit 1.5 GB
    assert sessions_to_prune(sizes(500, 700, 600, 400), Retention(3, 1.5)) == [1, 2]


def test_the_newest_session_is_kept_even_when_it_alone_is_over_the_size() -> None:
    assert sessions_to_prune(sizes(1, 1, 5_000), Retention(1, 2.0)) == [1, 2]
    assert sessions_to_prune(sizes(5_000), Retention(1, 1.0)) == []


def test_a_protected_session_is_kept_and_still_counts_towards_the_size() -> None:
    assert sessions_to_prune(sizes(1, 1, 1, 1), Retention(1, 0), protected={2}) == [1, 3]
    # 1.5 GB protected + 0.4 newest already exceed 1 GB: everything else goes
    assert sessions_to_prune(sizes(300, 1_500, 200, 400), Retention(0, 1.0),
                             protected={2}) == [1, 3]


def test_zero_means_no_limit_and_negative_limits_are_explained() -> None:
    assert sessions_to_prune(sizes(*[10_000] * 30), Retention(0, 0)) == []
    assert Retention(-1, -0.5).problems() == [
        "the number of sessions to keep is 0 (no limit) or more",
        "the gigabytes to keep are 0 (no limit) or more"]
    assert Retention(1, float("nan")).problems() == ["the gigabytes to keep are 0 (no limit) "
                                                     "or more"]


def test_sizes_read_as_people_read_them() -> None:
    assert [human_bytes(n) for n in (812, 3_400_000, 1_250_000_000, 250 * GB)] == [
        "812 B", "3.4 MB", "1.25 GB", "250 GB"]


# --- a journal applying it ---------------------------------------------------------------


def rows_left(path: Path) -> tuple[int, int, int]:
    """fills, samples and books in the file, whatever session they belong to."""
    with sqlite3.connect(path) as conn:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("fills", "samples", "books"))


def history(path: Path, sessions: int, per_session: int = 20_000) -> None:
    journal = Journal(path)
    for i in range(sessions):
        write_session(journal, fills(per_session, first_id=1 + i * per_session), samples=3)
    journal.close()


def test_a_new_session_drops_what_the_policy_no_longer_keeps_and_the_file_shrinks(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    history(path, 5)
    before = path.stat().st_size
    journal = Journal(path, retention=Retention(keep_sessions=3, keep_gb=0))
    newest = journal.begin_session({"source": "simulated", "coins": ["BTC"]})
    assert journal.wait_for_pruning(60)
    assert [s.id for s in journal.sessions()] == [4, 5, newest]
    journal.close()
    assert rows_left(path) == (40_000, 2 * 3 * 3, 2 * 3)  # nothing of sessions 1-3 is left
    assert path.stat().st_size < 0.7 * before


def test_a_size_limit_drops_the_oldest_until_the_rest_fits(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    history(path, 4)
    journal = Journal(path)
    each = journal.sessions()[0].size_bytes
    pruned = journal.prune(Retention(keep_sessions=0, keep_gb=2.5 * each / GB))
    assert pruned.sessions == (1, 2)
    assert pruned.freed_bytes == pytest.approx(2 * each, rel=0.01)
    assert [s.id for s in journal.sessions()] == [3, 4]
    journal.close()


def test_neither_the_running_session_nor_a_protected_one_is_ever_dropped(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    history(path, 4)
    journal = Journal(path)
    running = journal.begin_session({"source": "simulated"})
    journal.prune(Retention(keep_sessions=1, keep_gb=0), protected={2})
    assert [s.id for s in journal.sessions()] == [2, running]
    with pytest.raises(SessionError, match="session 5 is the newest"):
        journal.delete_sessions([running])
    with pytest.raises(SessionError, match="session 2 is in use"):
        journal.delete_sessions([2], protected={2})
    with pytest.raises(SessionError, match=r"no session 3 in .* \(its sessions: 2, 5\)"):
        journal.delete_sessions([3])
    journal.close()


def test_the_writer_gets_the_file_between_the_deletes_steps(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    history(path, 2, per_session=200_000)  # 40 steps of deleting, ~10 ms each
    journal = Journal(path, retention=Retention(keep_sessions=2, keep_gb=0))
    journal.begin_session({"source": "simulated"})
    journal.save_strategy({"strategy_id": "BTC_RSI", "coin": "BTC", "name": "RSI"})
    journal.record(fills(1_000, first_id=400_001))  # waits for one step, not for them all
    assert not journal.wait_for_pruning(0)
    assert journal.wait_for_pruning(120)
    assert rows_left(path)[0] == 200_000 + 1_000
    journal.close()


def test_a_delete_stopped_half_way_hides_the_session_and_the_next_prune_finishes(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    history(path, 3)
    journal = Journal(path)
    stop = threading.Event()
    steps: list[int] = []

    def stop_after_two_steps(done: int, total: int) -> None:
        steps.append(done)
        if len(steps) == 2:
            stop.set()

    journal.delete_sessions([1], progress=stop_after_two_steps, stop=stop)
    assert [s.id for s in journal.sessions()] == [2, 3]
    kept = fills(20_000, first_id=20_001) + fills(20_000, first_id=40_001)
    assert journal.trades(limit=-1) == [t.to_dict() for t in kept]
    assert rows_left(path)[0] > 40_000  # some of session 1's fills are still in the file
    assert journal.prune(Retention(0, 0)).sessions == ()  # nothing more to drop, but...
    assert rows_left(path)[0] == 40_000  # ...what was left behind is gone
    journal.close()


def test_deleting_reports_progress_over_the_fills_to_delete(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    history(path, 3)
    journal = Journal(path)
    heard: list[tuple[int, int]] = []
    journal.delete_sessions([1, 2], progress=lambda done, total: heard.append((done, total)))
    assert heard[-1] == (40_000, 40_000)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    journal.close()
