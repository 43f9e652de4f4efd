"""``velocitas run --continue``: the command line goes on with the journal's last session as
the window's Start does, or says in one line why it cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from live_engine_helpers import SAMPLE

from velocitas_desktop.cli import main
from velocitas_desktop.store.journal import Journal

FIRST = ["run", "--coins", "BTC,ETH", "--rate", "max", "--seed", "3", "--ticks", "20000",
         "--timeframe", "tick", "--strategy", "SMA_Crossover::fast=2,slow=3",
         "--strategy", "RSI::period=3,oversold=45,overbought=55", "--json"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out.splitlines()[-1]) if code == 0 else {}), err


def test_a_run_goes_on_with_the_last_session_its_strategies_and_positions(
        cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(cwd)
    db = str(tmp_path / "journal.sqlite3")
    code, first, _ = run(capsys, *FIRST, "--db", db)
    assert code == 0
    code, again, _ = run(capsys, "run", "--continue", "--rate", "max", "--ticks", "5000",
                         "--json", "--db", db)
    assert code == 0
    assert again["global"]["session_id"] == first["global"]["session_id"]
    assert again["global"]["coins"] == ["BTC", "ETH"]
    assert set(again["strategies"]) == set(first["strategies"])
    assert again["global"]["total_trades"] > first["global"]["total_trades"]
    journal = Journal(db)
    try:
        assert [s.id for s in journal.sessions()] == [first["global"]["session_id"]]
        assert journal.sessions()[0].fills == again["global"]["total_trades"]
    finally:
        journal.close()
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(("first", "args", "words"), [
    (False, [], "cannot go on with the last session: no session has run yet"),
    (True, ["--source", "csv", "--csv", f"BTC={SAMPLE}"],
     "the last session ran on simulated prices, not csv"),
])
def test_a_run_that_cannot_go_on_says_why_in_one_line(
        cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], first: bool, args: list[str], words: str) -> None:
    monkeypatch.chdir(cwd)
    db = str(tmp_path / "journal.sqlite3")
    if first:
        assert run(capsys, *FIRST, "--db", db)[0] == 0
    code, _, err = run(capsys, "run", "--continue", *args, "--json", "--db", db)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert words in err
