"""Specification of ``velocitas run``, the headless engine, driven as a user drives it: a real
process, its exit code, its stdout and stderr, and what it leaves on disk."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from live_engine_helpers import REPO, SAMPLE

from velocitas_desktop.catalog import load_catalog
from velocitas_desktop.cli import main
from velocitas_desktop.store.journal import Journal, size_on_disk
from velocitas_desktop.store.retention import human_bytes

BUILTINS = load_catalog().names()

# The seed's metric shapes (shared/seed): the run's final JSON carries at least these keys.
SEED_GLOBAL = {"mode", "status", "total_trades", "total_profit", "total_loss", "net_pnl",
               "win_rate", "active_strategies", "active_coins", "max_drawdown", "sharpe_ratio",
               "last_update"}
SEED_STRATEGY = {"strategy_id", "coin", "strategy_name", "total_trades", "winning_trades",
                 "losing_trades", "total_profit", "total_loss", "net_pnl", "current_position",
                 "entry_price", "max_drawdown", "win_rate", "sharpe_ratio"}


def velocitas(cwd: Path, *args: str, timeout: float = 120,
              **env_vars: str) -> subprocess.CompletedProcess[str]:
    """``velocitas <args>`` in a fresh process (VELOCITAS_HOME comes from the home fixture)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_vars}
    return subprocess.run([sys.executable, "-m", "velocitas_desktop", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def final_metrics(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def journal_trades(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM trades ORDER BY id")]


@pytest.mark.slow
def test_json_prints_only_the_final_metrics_in_the_seed_shapes(cwd: Path, home: Path) -> None:
    # on every tick, so that 20,000 ticks make fills to find in the journal
    done = velocitas(cwd, "run", "--ticks", "20000", "--seed", "3", "--timeframe", "tick",
                     "--json")
    assert done.returncode == 0, done.stderr
    journal = home / "data" / "journal.sqlite3"
    # the journal's path and size go to stderr, so stdout stays one JSON object
    assert done.stderr.splitlines() == [
        f"journal: {journal} ({human_bytes(size_on_disk(journal))}; keeps the last 20 "
        "sessions, at most 2 GB)"]
    assert len(done.stdout.splitlines()) == 1  # only the final object, on the last line
    metrics = final_metrics(done)
    assert set(metrics) == {"global", "strategies"}
    glob = metrics["global"]
    assert set(glob) >= SEED_GLOBAL
    assert glob["mode"] == "live" and glob["status"] == "finished"
    assert glob["ticks_processed"] == 20_000
    assert glob["ticks_per_second"] > 0
    # without --strategy: one of each built-in on each coin (BTC and ETH by default)
    assert set(metrics["strategies"]) == {f"{c}_{n}" for c in ("BTC", "ETH") for n in BUILTINS}
    assert glob["active_strategies"] == 2 * len(BUILTINS) and glob["active_coins"] == 2
    for sid, strategy in metrics["strategies"].items():
        assert set(strategy) >= SEED_STRATEGY, sid
        assert strategy["strategy_id"] == sid
    assert glob["total_trades"] == sum(s["total_trades"] for s in metrics["strategies"].values())
    assert glob["total_trades"] > 0
    # the journal went to the user data folder, and nothing to the current directory
    assert len(journal_trades(journal)) == glob["total_trades"]
    with sqlite3.connect(journal) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert list(cwd.iterdir()) == []


@pytest.mark.slow
def test_without_strategy_every_built_in_runs_on_every_coin_given(cwd: Path) -> None:
    metrics = final_metrics(velocitas(cwd, "run", "--coins", "BTC,ETH,SOL", "--ticks", "3000",
                                      "--seed", "1", "--json"))
    assert set(metrics["strategies"]) == {f"{c}_{n}" for c in ("BTC", "ETH", "SOL")
                                          for n in BUILTINS}
    assert metrics["global"]["coins"] == ["BTC", "ETH", "SOL"]


@pytest.mark.slow
def test_strategies_with_parameters_in_worker_processes_and_a_db_of_ones_choice(
        cwd: Path, home: Path, tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "my-journal.sqlite3"
    metrics = final_metrics(velocitas(
        cwd, "run", "--strategy", "SMA_Crossover:BTC:fast=5,slow=20", "--strategy", "RSI:ETH",
        "--workers", "2", "--ticks", "20000", "--seed", "1", "--db", str(db),
        "--timeframe", "tick", "--json"))
    assert set(metrics["strategies"]) == {"BTC_SMA_Crossover", "ETH_RSI"}
    assert metrics["strategies"]["BTC_SMA_Crossover"]["params"] == {"fast": 5, "slow": 20,
                                                                   "quantity": 0.0}
    assert metrics["global"]["ticks_processed"] == 20_000
    assert len(journal_trades(db)) == metrics["global"]["total_trades"] > 0
    assert not (home / "data" / "journal.sqlite3").exists()  # --db replaced the default
    assert list(cwd.iterdir()) == []


@pytest.mark.slow
def test_fee_and_slippage_are_fractions_applied_to_every_fill(cwd: Path, tmp_path: Path) -> None:
    def trades(db: Path, fee: str, slippage: str) -> list[dict[str, Any]]:
        final_metrics(velocitas(cwd, "run",
                                "--strategy", "SMA_Crossover:BTC:fast=2,slow=3,timeframe=tick",
                                "--coins", "BTC", "--ticks", "3000", "--seed", "5",
                                "--fee", fee, "--slippage", slippage, "--db", str(db),
                                "--json"))
        return journal_trades(db)

    costly = trades(tmp_path / "costly.sqlite3", "0.002", "0.001")
    free = trades(tmp_path / "free.sqlite3", "0", "0")
    # --seed makes the run repeatable: the same signals on the same prices at the same times
    assert len(costly) == len(free) > 20
    assert [t["timestamp"] for t in costly] == [t["timestamp"] for t in free]
    for paid, market in zip(costly, free, strict=True):
        assert market["fee"] == 0.0
        # a BUY fills 0.1% above the market price, a SELL 0.1% below
        moved = 1.001 if paid["action"] == "BUY" else 0.999
        assert paid["price"] == pytest.approx(market["price"] * moved, rel=1e-12)
        assert paid["fee"] == pytest.approx(paid["price"] * paid["quantity"] * 0.002, rel=1e-12)


@pytest.mark.slow
def test_strategies_decide_on_one_minute_bars_unless_told(cwd: Path) -> None:
    metrics = final_metrics(velocitas(
        cwd, "run", "--coins", "BTC", "--ticks", "2000", "--seed", "1",
        "--strategy", "RSI:BTC", "--strategy", "MACD:BTC:timeframe=tick",
        "--strategy", "Momentum", "--json"))
    timeframes = {sid: m["timeframe"] for sid, m in metrics["strategies"].items()}
    assert timeframes == {"BTC_RSI": "1m", "BTC_MACD": "tick", "BTC_Momentum": "1m"}
    again = final_metrics(velocitas(cwd, "run", "--coins", "BTC", "--ticks", "2000",
                                    "--timeframe", "15m", "--json"))
    assert {m["timeframe"] for m in again["strategies"].values()} == {"15m"}


@pytest.mark.slow
def test_a_csv_replay_runs_to_the_end_of_the_file(cwd: Path) -> None:
    metrics = final_metrics(velocitas(cwd, "run", "--source", "csv", "--csv", f"BTC={SAMPLE}",
                                      "--speed", "max", "--json"))
    glob = metrics["global"]
    assert glob["status"] == "finished" and glob["feed"]["state"] == "finished"
    assert glob["ticks_processed"] == 5000  # the sample's 5,000 bars, one close each
    assert set(metrics["strategies"]) == {f"BTC_{n}" for n in BUILTINS}
    # each row of the file is a bar already: the strategies decide on every one
    assert {m["timeframe"] for m in metrics["strategies"].values()} == {"tick"}


@pytest.mark.slow
def test_a_run_limited_by_duration_ends_by_itself(cwd: Path) -> None:
    metrics = final_metrics(velocitas(cwd, "run", "--duration", "0.5", "--rate", "2000",
                                      "--json"))
    assert metrics["global"]["status"] == "finished"
    assert 0 < metrics["global"]["ticks_processed"] < 2000 * 30


@pytest.mark.slow
def test_without_json_a_live_table_shows_the_strategies(cwd: Path) -> None:
    done = velocitas(cwd, "run", "--ticks", "2000", "--seed", "1", "--coins", "BTC",
                     COLUMNS="160")  # a wide terminal: no column is cut short
    assert done.returncode == 0, done.stderr
    assert "Velocitas" in done.stdout and "finished" in done.stdout
    for name in BUILTINS:
        assert f"BTC_{name}" in done.stdout
    assert list(cwd.iterdir()) == []


def test_a_run_ends_with_the_journals_path_and_size(cwd: Path, home: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["run", "--ticks", "2000", "--seed", "1", "--coins", "BTC"]) == 0
    out, err = capsys.readouterr()
    journal = home / "data" / "journal.sqlite3"
    assert out.splitlines()[-1] == (f"journal: {journal} ({human_bytes(size_on_disk(journal))};"
                                    " keeps the last 20 sessions, at most 2 GB)")
    assert err == ""
    assert list(cwd.iterdir()) == []


def test_keep_sessions_and_keep_gb_bound_the_journal_as_runs_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "journal.sqlite3"
    for seed in range(4):
        assert main(["run", "--ticks", "2000", "--seed", str(seed), "--coins", "BTC", "--db",
                     str(db), "--keep-sessions", "2", "--json"]) == 0
    assert "keeps the last 2 sessions, at most 2 GB" in capsys.readouterr().err
    journal = Journal(db)
    assert [s.id for s in journal.sessions()] == [3, 4]
    journal.close()
    # a size limit smaller than any session: only the newest (the one running) is kept
    assert main(["run", "--ticks", "2000", "--seed", "9", "--coins", "BTC", "--db", str(db),
                 "--keep-gb", "0.0000001", "--keep-sessions", "0", "--json"]) == 0
    assert "keeps every session, at most 1e-07 GB" in capsys.readouterr().err
    journal = Journal(db)
    assert [s.id for s in journal.sessions()] == [5]
    journal.close()


MALFORMED_CSV = "timestamp,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,3\n1704067260,1,abc,0.5,1.5,3\n"

BAD_ARGUMENTS = {
    "unknown strategy": (["--strategy", "Nope:BTC"], "unknown strategy 'Nope'"),
    "parameters not k=v": (["--strategy", "SMA_Crossover:BTC:fast"], "k=v"),
    "fast not below slow": (["--strategy", "SMA_Crossover:BTC:fast=30,slow=10"],
                            "fast (30) must be less than slow (10)"),
    "unknown parameter": (["--strategy", "SMA_Crossover:BTC:speed=3"], "no parameter 'speed'"),
    "unknown source": (["--source", "kraken"], "kraken"),
    "csv file missing": (["--source", "csv", "--csv", "BTC=no-such-file.csv"],
                         "no such file no-such-file.csv"),
    "malformed csv": (["--source", "csv", "--csv", "BTC={bad}"], "line 3: high is not a number"),
    "negative workers": (["--workers", "-1"], "--workers"),
    "duration and ticks": (["--duration", "5", "--ticks", "100"], "not allowed with"),
    "fee not a fraction": (["--fee", "2"], "--fee"),
    "rate not positive": (["--rate", "0"], "--rate"),
    "bad coin": (["--coins", "BT-C"], "'BT-C' is not a coin symbol"),
    "no coins": (["--coins", ""], "--coins: give at least one coin, like BTC,ETH"),
    "only commas": (["--coins", ", ,"], "--coins: give at least one coin"),
    "strategy on another coin": (["--strategy", "RSI:SOL"], "SOL"),
    "unknown timeframe": (["--timeframe", "2m"], "--timeframe: unknown timeframe '2m'"),
    "unknown timeframe of one": (["--strategy", "RSI:BTC:timeframe=x"],
                                 "unknown timeframe 'x'"),
    "parameters in place of the coin": (["--strategy", "RSI:period=5"],
                                        "the coin comes before the parameters"),
    "negative sessions to keep": (["--keep-sessions", "-1"], "--keep-sessions"),
    "size to keep not a number": (["--keep-gb", "lots"], "--keep-gb"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_exit_2_with_one_clear_line(case: str, cwd: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # in this process, for speed: an exception escaping main() would fail the test as surely
    # as a traceback on stderr; the next test checks a real process
    monkeypatch.chdir(cwd)
    args, expected = BAD_ARGUMENTS[case]
    bad = tmp_path / "bad.csv"
    bad.write_text(MALFORMED_CSV, encoding="utf-8")
    code = main(["run", *[a.replace("{bad}", str(bad)) for a in args], "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert expected in err
    assert list(cwd.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("case", ["unknown strategy", "malformed csv", "duration and ticks"])
def test_a_real_process_given_bad_arguments_exits_2_with_one_line_and_no_traceback(
        case: str, cwd: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(MALFORMED_CSV, encoding="utf-8")
    args, expected = BAD_ARGUMENTS[case]
    done = velocitas(cwd, "run", *[a.replace("{bad}", str(bad)) for a in args], "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert expected in done.stderr
    assert list(cwd.iterdir()) == []


def test_more_workers_than_cores_is_a_warning_on_stderr(monkeypatch, capsys):
    from velocitas_desktop.cli.arguments import warn_if_over_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    warn_if_over_cores(2, "run")
    assert capsys.readouterr().err == ""
    warn_if_over_cores(8, "run")
    assert capsys.readouterr().err == (
        "velocitas run: warning: --workers 8 is more than the 2 cores of this machine; the "
        "extra processes only take turns (try --workers 2)\n")


@pytest.mark.slow
def test_a_run_with_more_workers_than_cores_warns_and_still_runs(cwd: Path) -> None:
    workers = (os.cpu_count() or 1) + 1
    done = velocitas(cwd, "run", "--coins", "BTC", "--ticks", "2000", "--workers",
                     str(workers), "--json")
    assert final_metrics(done)["global"]["status"] == "finished"
    assert done.stderr.startswith(f"velocitas run: warning: --workers {workers} is more than")
