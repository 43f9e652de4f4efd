"""Specification of ``velocitas run`` when the journal cannot be written: it says why and exits
with code 3, and the figures it prints are the journal's; too little free space to begin with
is refused in one line (exit code 2), by ``run`` and by ``serve``'s start."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from full_disk import small_disk
from live_engine_helpers import REPO
from support import free_port, wait_until

from velocitas_desktop.cli import main
from velocitas_desktop.cli.run import JOURNAL_FAILED, journal_trouble, session_ending

RUN = ["run", "--ticks", "400000", "--seed", "3", "--timeframe", "tick", "--json"]


def journal_fills(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM fills").fetchone()[0]


def test_a_run_with_less_free_space_than_kept_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "journal.sqlite3"
    above = shutil.disk_usage(tmp_path).free / 1e6 + 1_000_000
    code = main(["run", "--ticks", "1000", "--db", str(db), "--min-free-mb", f"{above:.0f}"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("velocitas run: cannot start: ")
    assert f"free on the disk of the journal {db}, below the " in err[0]


@pytest.mark.parametrize("value", ["-1", "lots"])
def test_min_free_mb_is_a_number_of_0_or_more(value: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--db", str(tmp_path / "j.sqlite3"), "--min-free-mb", value]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("velocitas run: argument --min-free-mb:")


def test_the_journal_line_says_how_often_trading_paused_and_the_last_cause() -> None:
    def snapshot(**journal: object) -> dict:
        return {"global": {"journal": {"path": "/j", "state": "ok", "message": "",
                                       "pauses": 0, **journal}}}

    assert journal_trouble(snapshot()) == ""
    assert journal_trouble(snapshot(pauses=1, message="trading paused: X")) == (
        "trading paused once because of the journal; the last time: trading paused: X")
    assert journal_trouble(snapshot(pauses=2, message="trading paused: Y")) == (
        "trading paused 2 times because of the journal; the last time: trading paused: Y")
    assert journal_trouble(snapshot(pauses=1, state="failed", message="the session ended "
                                    "with 3 fills ...")) == "the session ended with 3 fills ..."


def test_the_ending_line_names_the_journals_trouble_before_the_feeds_news() -> None:
    ending = session_ending({"global": {
        "status": "error", "ticks_processed": 400_000,
        "feed": {"state": "finished", "message": "simulation reached its tick limit"},
        "journal": {"state": "failed", "pauses": 1,
                    "message": "the session ended with 3 fills ... not saved"}}}, False)
    assert ending == "error: the session ended with 3 fills ... not saved; 400,000 ticks processed"


def limit_file_size(megabytes: int) -> Callable[[], None]:
    """For the child: no file may grow past ``megabytes`` (the write fails as on a full
    disk, with "disk I/O error"), and the signal that would kill it for trying is ignored."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        size = megabytes * 1_000_000
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["a file size limit", "a 3 MB tmpfs"])
def test_a_run_whose_journal_fills_up_exits_3_and_prints_only_saved_figures(
        disk: str, tmp_path: Path, cwd: Path) -> None:
    with small_disk(tmp_path / "disk", megabytes=3) if "tmpfs" in disk \
            else _no_mount(tmp_path) as folder:
        if folder is None:
            pytest.skip("this machine does not let the test mount a small tmpfs; the file "
                        "size limit fails the journal's writes the same way")
        db = folder / "journal.sqlite3"
        done = subprocess.run(
            [sys.executable, "-m", "velocitas_desktop", *RUN, "--db", str(db),
             "--min-free-mb", "0"], cwd=cwd, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            preexec_fn=limit_file_size(2) if "limit" in disk else None)
        assert done.returncode == JOURNAL_FAILED, done.stderr
        reason = "disk I/O error" if "limit" in disk else "database or disk is full"
        last = done.stderr.splitlines()[-1]
        assert last.startswith("velocitas run: the session ended with ")
        assert f"the journal {db} could not take ({reason})" in last
        assert "Traceback" not in done.stderr
        figures = json.loads(done.stdout.splitlines()[-1])["global"]
        assert figures["status"] == "error"
        assert figures["journal"]["state"] == "failed"
        assert 0 < figures["total_trades"] == journal_fills(db)


class _no_mount:
    """A plain folder of ``tmp_path``, as a context manager like ``small_disk``."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "plain"

    def __enter__(self) -> Path:
        self.folder.mkdir()
        return self.folder

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.slow
def test_serve_keeps_the_free_space_asked_for_and_a_start_below_it_is_a_409(
        tmp_path: Path, cwd: Path) -> None:
    db, port = tmp_path / "journal.sqlite3", free_port()
    above = shutil.disk_usage(tmp_path).free / 1e6 + 1_000_000
    server = subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "serve", "--port", str(port), "--db",
         str(db), "--min-free-mb", f"{above:.0f}"], cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert server.poll() is None, server.stdout.read().decode()
            try:
                return httpx.get(url + "/api/health", timeout=2).is_success
            except httpx.TransportError:
                return False

        wait_until(up, what="velocitas serve to answer", timeout=60)
        reply = httpx.post(url + "/api/engine/start?coins=BTC", timeout=30)
        assert reply.status_code == 409
        assert reply.json()["detail"].startswith("cannot start: ")
        assert f"free on the disk of the journal {db}, below the " in reply.json()["detail"]
        assert httpx.get(url + "/api/engine/status", timeout=30).json()["status"] == "stopped"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        finally:
            if server.poll() is None:
                server.kill()
