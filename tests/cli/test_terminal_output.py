"""Specification of what the commands print for a person: tables that fit the terminal (80
columns, 200, or a pipe) without cutting an id or a number, a final line that says how a run
ended, and a line of help for every option."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from velocitas_desktop.cli import build_parser
from velocitas_desktop.cli.backtest import report_view
from velocitas_desktop.cli.optimize import ranking_view
from velocitas_desktop.cli.run import metrics_view, session_ending
from velocitas_desktop.research.backtest import backtest, load_bars

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "data" / "BTCUSD-1h-sample.csv"
WIDTHS = (80, 200)


def rendered(view: Any, width: int | None) -> str:
    """What a terminal ``width`` columns wide shows (None: a pipe, which is not a terminal)."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=width is not None,
                      color_system=None)
    console.print(view(console))
    return out.getvalue()


def strategy_metrics(sid: str, pnl: float, sharpe: float, trades: int) -> dict[str, Any]:
    return {"status": "active", "total_trades": trades, "win_rate": 1.04, "net_pnl": pnl,
            "unrealized_pnl": -52.68, "current_position": 0.0123, "max_drawdown": abs(pnl),
            "sharpe_ratio": sharpe}


# the figures the issue saw cut short: long ids sharing a prefix, seven-digit losses
SNAPSHOT = {
    "global": {"status": "running", "ticks_processed": 1_000_000, "ticks_per_second": 212_345.0,
               "net_pnl": -8_012_345.67, "total_trades": 228_000},
    "strategies": {
        "BTC_MACD": strategy_metrics("BTC_MACD", -2_812_191.48, -10_537.11, 52_189),
        "BTC_Momentum": strategy_metrics("BTC_Momentum", -3_995_624.96, -8_433.48, 64_963),
        "BTC_SMA_Crossover": strategy_metrics("BTC_SMA_Crossover", 1_384_717.04, 7.5, 35_788),
        "ETH_RSI": strategy_metrics("ETH_RSI", -3_238.76, -2_900.83, 950),
    },
}


def expected_cells(snapshot: dict[str, Any]) -> list[str]:
    cells = []
    for sid, m in snapshot["strategies"].items():
        cells += [sid, f"{m['total_trades']:,}", f"{m['net_pnl']:,.2f}",
                  f"{m['max_drawdown']:,.2f}", f"{m['sharpe_ratio']:.2f}",
                  f"{m['unrealized_pnl']:,.2f}", f"{m['current_position']:g}"]
    return cells


def assert_whole_and_within(text: str, cells: list[str], width: int) -> None:
    words = set(text.split())
    missing = [cell for cell in cells if cell not in words]
    assert missing == [], text
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width, text


@pytest.mark.parametrize("width", [*WIDTHS, None], ids=["80", "200", "piped"])
def test_the_run_table_shows_every_id_and_number_whole(width, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe: rich assumes 80 columns
    text = rendered(lambda console: metrics_view(console, SNAPSHOT), width)
    assert_whole_and_within(text, expected_cells(SNAPSHOT), width or 80)
    assert "-8,012,345.67" in text and "228,000" in text  # the session's figures, in the title


def test_a_wide_terminal_shows_the_run_table_in_one_piece():
    text = rendered(lambda console: metrics_view(console, SNAPSHOT), 200)
    header = next(line for line in text.splitlines() if line.startswith("strategy"))
    for title in ("fills", "round trips", "win %", "net P&L", "return %", "unrealised",
                  "position", "max DD", "max DD %", "Sharpe"):
        assert title in header
    assert text.count("BTC_MACD") == 1


def test_at_80_columns_the_run_table_is_split_with_the_ids_repeated():
    text = rendered(lambda console: metrics_view(console, SNAPSHOT), 80)
    assert text.count("BTC_MACD") == 2
    assert text.count("BTC_Momentum") == 2


def test_a_very_narrow_terminal_gets_one_block_per_strategy():
    text = rendered(lambda console: metrics_view(console, SNAPSHOT), 30)
    assert_whole_and_within(text, expected_cells(SNAPSHOT), 30)


@pytest.fixture(scope="module")
def optimization_result() -> dict[str, Any]:
    from velocitas_desktop.research.optimize import OptimizationJob, OptimizeSettings

    settings = OptimizeSettings(strategy="MACD", grid={"fast": [5, 10], "slow": [20, 40],
                                                       "signal": [5, 9]},
                                in_sample=0.7, workers=0)
    job = OptimizationJob(settings, load_bars(str(SAMPLE)))
    job.start()
    job.wait()
    assert job.result is not None, job.error
    return job.result


@pytest.mark.parametrize("width", [*WIDTHS, None], ids=["80", "200", "piped"])
def test_the_optimisation_ranking_shows_every_parameter_and_score_whole(
        width, optimization_result, monkeypatch):
    from velocitas_desktop.cli.research import money

    monkeypatch.delenv("COLUMNS", raising=False)
    text = rendered(lambda console: ranking_view(console, optimization_result, 20), width)
    cells = []
    for row in optimization_result["results"]:
        s = row["stats"]
        cells += [money(row["score"]), money(row["oos_score"]), money(s["net_pnl"]),
                  money(s["total_return_pct"]), money(s["max_drawdown"])]
    assert_whole_and_within(text, cells, width or 80)
    assert "IS" in text and "OOS" in text


@pytest.mark.parametrize("width", [*WIDTHS, None], ids=["80", "200", "piped"])
def test_the_backtest_report_shows_every_figure_whole(width, monkeypatch):
    from velocitas_desktop.cli.research import money

    monkeypatch.delenv("COLUMNS", raising=False)
    result = backtest("MACD", load_bars(str(SAMPLE)), {"fast": 8, "slow": 21})
    text = rendered(lambda console: report_view(console, result), width)
    s = result.stats
    assert_whole_and_within(text, [money(s["final_equity"]), money(s["net_pnl"]),
                                   money(s["fees"]), money(s["sharpe_ratio"])], width or 80)
    assert "Backtest" in text and "MACD(fast=8," in text


def test_the_ending_line_says_the_session_stopped_and_why():
    stopped = {"global": {"status": "stopped", "ticks_processed": 12_345, "feed": {}}}
    assert session_ending(stopped, interrupted=True) == ("stopped: you pressed Ctrl-C; "
                                                         "12,345 ticks processed")
    finished = {"global": {"status": "finished", "ticks_processed": 1_000,
                           "feed": {"message": "simulation reached its tick limit"}}}
    assert session_ending(finished, interrupted=False) == (
        "finished: simulation reached its tick limit; 1,000 ticks processed")


def test_every_option_of_every_command_has_a_line_of_help():
    without_help = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if not action.help or action.help == argparse.SUPPRESS:
                without_help.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                for listed in action._choices_actions:
                    if not listed.help:
                        without_help.append(f"{path} {listed.dest}")
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")

    walk(build_parser(), "velocitas")
    assert without_help == []


# --------------------------------------------------------------------------- real processes

def velocitas(*args: str, cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-m", "velocitas_desktop", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


@pytest.mark.slow
def test_a_piped_run_prints_one_final_table_with_every_id_whole(cwd):
    done = velocitas("run", "--ticks", "20000", "--seed", "7", "--timeframe", "tick", cwd=cwd)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert out.count("Velocitas · finished") == 1  # the final table once, no frames before it
    for sid in ("BTC_MACD", "BTC_Momentum", "BTC_RSI", "BTC_SMA_Crossover", "ETH_MACD",
                "ETH_Momentum", "ETH_RSI", "ETH_SMA_Crossover"):
        assert sid in out.split()
    assert "…" not in out
    *table, ending, journal = out.splitlines()
    assert max(len(line.rstrip()) for line in table) <= 80
    assert ending == "finished: simulation reached its tick limit; 20,000 ticks processed"
    assert journal.startswith("journal: ")  # a path, whole, on a line of its own


def interrupt_when_running(process: subprocess.Popen[str], journal: Path) -> None:
    deadline = time.monotonic() + 60
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # the engine is started once its journal has a session
    process.send_signal(signal.SIGINT)


@pytest.mark.slow
def test_after_ctrl_c_the_final_table_and_line_say_the_session_stopped(cwd, tmp_path):
    journal = tmp_path / "journal.sqlite3"
    running = velocitas("run", "--rate", "2000", "--db", str(journal), cwd=cwd)
    interrupt_when_running(running, journal)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert "Traceback" not in err
    assert out.count("Velocitas · stopped") == 1
    ending, journal_line = out.splitlines()[-2:]
    assert ending.startswith("stopped: you pressed Ctrl-C; ")
    assert ending.endswith(" ticks processed")
    assert journal_line.startswith(f"journal: {journal} (")


@pytest.mark.slow
def test_after_ctrl_c_json_stays_the_machine_format_and_stderr_says_why(cwd, tmp_path):
    journal = tmp_path / "journal.sqlite3"
    running = velocitas("run", "--rate", "2000", "--db", str(journal), "--json", cwd=cwd)
    interrupt_when_running(running, journal)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert json.loads(out)["global"]["status"] == "stopped"
    assert err.startswith("velocitas run: stopped: you pressed Ctrl-C; ")
