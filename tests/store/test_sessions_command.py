"""Specification of ``velocitas sessions list|show|export|prune``, driven as a user drives it:
its output, its files, its exit codes, and one clear line for each mistake."""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import fills, write_session

from velocitas_desktop.cli import main
from velocitas_desktop.store.journal import Journal


def sessions(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["sessions", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A journal with three sessions: 300, 600 and 30 fills."""
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    write_session(journal, fills(300), samples=2)
    write_session(journal, fills(600, first_id=301), source="csv")
    write_session(journal, fills(30, first_id=901))
    journal.close()
    return path


def listed(capsys: pytest.CaptureFixture[str], db: Path) -> dict[str, Any]:
    code, out, _ = sessions(capsys, "list", "--db", str(db), "--json")
    assert code == 0
    return json.loads(out)


def test_list_shows_each_session_with_its_fills_pnl_and_size(capsys, db: Path, cwd: Path) -> None:
    code, out, err = sessions(capsys, "list", "--db", str(db))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["id", "started", "(UTC)", "ended", "(UTC)", "source", "coins",
                                "strategies", "fills", "net", "P&L", "size"]
    first, second, third = (line.split() for line in lines[1:4])
    assert first[0] == "1" and "simulated" in first and "BTC,ETH" in first and "300" in first
    assert second[0] == "2" and "csv" in second and "600" in second
    assert third[0] == "3" and "30" in third
    assert lines[-1].startswith(f"journal {db}: ") and lines[-1].endswith("on disk, 3 sessions")
    assert list(cwd.iterdir()) == []


def test_list_as_json_holds_the_figures(capsys, db: Path) -> None:
    data = listed(capsys, db)
    assert data["journal"] == str(db) and data["size_bytes"] > 0
    assert [(s["id"], s["fills"], s["source"]) for s in data["sessions"]] == [
        (1, 300, "simulated"), (2, 600, "csv"), (3, 30, "simulated")]
    assert data["sessions"][0]["net_pnl"] == pytest.approx(sum(t.profit_loss for t in fills(300)))
    assert data["sessions"][0]["strategies"] == ["BTC_SMA_Crossover", "ETH_RSI", "BTC_RSI"]


def test_without_an_action_the_default_journal_is_listed(capsys, home: Path) -> None:
    code, out, _ = sessions(capsys)
    assert code == 0
    assert out == (f"no journal at {home / 'data' / 'journal.sqlite3'} yet: a run, "
                   "`velocitas serve` or the window makes it\n")
    assert not (home / "data" / "journal.sqlite3").exists()  # listing made no empty journal
    journal = Journal(home / "data" / "journal.sqlite3")
    write_session(journal, fills(5))
    journal.close()
    code, out, _ = sessions(capsys)
    assert code == 0 and out.splitlines()[1].split()[0] == "1"


def test_show_prints_settings_strategies_and_metrics(capsys, db: Path) -> None:
    code, out, _ = sessions(capsys, "show", "2", "--db", str(db))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("session 2 · csv · BTC,ETH · started ")
    assert lines[1].startswith("600 fills · net P&L ")
    assert lines[2] == "settings: source=csv coins=BTC,ETH"
    rows = {line.split()[0]: line.split() for line in lines[4:]}
    assert set(rows) == {"BTC_SMA_Crossover", "ETH_RSI", "BTC_RSI", "total"}
    assert rows["total"][1] == "600"  # the total row has no status or params: trades next


def test_show_as_json_is_the_sessions_report(capsys, db: Path) -> None:
    code, out, _ = sessions(capsys, "show", "1", "--db", str(db), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["id"] == 1 and report["fills"] == 300
    assert report["metrics"]["global"]["total_trades"] == 300
    assert report["metrics"]["global"]["net_pnl"] == pytest.approx(report["net_pnl"])


def test_export_writes_csv_files_to_the_folder_named(capsys, db: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "exports"
    code, out, _ = sessions(capsys, "export", "2", "--db", str(db), "--out", str(out_dir))
    assert code == 0
    assert out.splitlines() == [str(out_dir / "session-2-trades.csv"),
                                str(out_dir / "session-2-pnl-history.csv")]
    with open(out_dir / "session-2-trades.csv", newline="", encoding="utf-8") as handle:
        assert [int(r["id"]) for r in csv.DictReader(handle)] == list(range(301, 901))


def test_export_goes_to_the_user_data_folder_by_default_never_the_current_one(
        capsys, db: Path, home: Path, cwd: Path) -> None:
    code, out, _ = sessions(capsys, "export", "3", "--db", str(db), "--format", "json",
                            "--json")
    assert code == 0
    files = json.loads(out)["files"]
    assert files == [str(home / "data" / "exports" / "session-3-trades.json"),
                     str(home / "data" / "exports" / "session-3-pnl-history.json")]
    assert len(json.loads(Path(files[0]).read_text(encoding="utf-8"))) == 30
    assert list(cwd.iterdir()) == []


def test_prune_by_the_policy_keeps_the_newest_sessions(capsys, db: Path) -> None:
    code, out, _ = sessions(capsys, "prune", "--db", str(db), "--keep-sessions", "2")
    assert code == 0
    assert out.startswith("deleted session 1 (to keep the last 2 sessions, at most 2 GB), "
                          "about ")
    assert [s["id"] for s in listed(capsys, db)["sessions"]] == [2, 3]
    code, out, _ = sessions(capsys, "prune", "--db", str(db), "--keep-sessions", "2")
    assert out.startswith("nothing to delete (to keep the last 2 sessions, at most 2 GB)")


def test_prune_by_size_and_a_dry_run_that_deletes_nothing(capsys, db: Path) -> None:
    code, out, _ = sessions(capsys, "prune", "--db", str(db), "--keep-sessions", "0",
                            "--keep-gb", "0.000001", "--dry-run", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["deleted"] == [1, 2] and result["dry_run"] is True
    assert [s["id"] for s in listed(capsys, db)["sessions"]] == [1, 2, 3]


def test_prune_by_id_and_by_age(capsys, db: Path) -> None:
    code, out, _ = sessions(capsys, "prune", "--db", str(db), "--id", "2")
    assert code == 0 and out.startswith("deleted session 2 (as asked)")
    old = time.time() - 3 * 86_400
    journal = Journal(db)
    journal._conn.execute("UPDATE sessions SET started = ? WHERE id = 1", (old,))
    journal.close()
    code, out, _ = sessions(capsys, "prune", "--db", str(db), "--older-than", "2", "--json")
    assert json.loads(out)["deleted"] == [1]
    assert [s["id"] for s in listed(capsys, db)["sessions"]] == [3]


MISTAKES = {
    "unknown session": (["show", "7"], "no session 7 in"),
    "unknown session to export": (["export", "7"], "no session 7 in"),
    "the newest session": (["prune", "--id", "3"], "session 3 is the newest"),
    "an unknown id to prune": (["prune", "--id", "9"], "no session 9 in"),
    "two ways to prune": (["prune", "--id", "1", "--keep-sessions", "3"],
                          "choose one way to prune"),
    "a session id that is not a number": (["show", "abc"], "'abc' is not a whole number"),
    "a negative size": (["prune", "--keep-gb", "-1"], "--keep-gb"),
    "an unknown format": (["export", "1", "--format", "xlsx"], "invalid choice: 'xlsx'"),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_mistakes_exit_2_with_one_line_that_says_what_is_wrong(case: str, capsys,
                                                               db: Path) -> None:
    args, expected = MISTAKES[case]
    code, out, err = sessions(capsys, *args, "--db", str(db))
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert expected in err


def test_a_journal_that_is_not_there_is_an_error_for_everything_but_list(capsys,
                                                                         tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    for action in (["show", "1"], ["export", "1"], ["prune"]):
        code, out, err = sessions(capsys, *action, "--db", str(missing))
        assert code == 2 and out == ""
        assert err == (f"velocitas sessions: no journal at {missing}: a run, `velocitas serve` "
                       "or the window makes it (or name another with --db)\n")
    assert not missing.exists()


def test_an_export_to_a_folder_that_cannot_be_made_says_so(capsys, db: Path,
                                                         tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder", encoding="utf-8")
    code, out, err = sessions(capsys, "export", "1", "--db", str(db), "--out", str(a_file))
    assert code == 2 and out == ""
    assert err.startswith(f"velocitas sessions: cannot write to {a_file}: ")
    assert len(err.splitlines()) == 1


def test_a_journal_from_an_older_version_is_listed_after_its_upgrade(capsys, caplog,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copy(Path(__file__).parent / "data" / "layout1-journal.sqlite3", path)
    code, out, err = sessions(capsys, "list", "--db", str(path), "--json")
    assert code == 0
    assert [(s["id"], s["fills"]) for s in json.loads(out)["sessions"]] == [(1, 353), (2, 314)]
    assert err == ""  # no progress bar in a pipe; the upgrade is logged
    assert "upgrading the journal to layout 2: 667 fills to move" in caplog.text
