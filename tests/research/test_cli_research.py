"""``velocitas backtest`` and ``velocitas optimize`` as a trader types them."""

from __future__ import annotations

import json

import pytest
from research_helpers import SAMPLE

from velocitas_desktop.cli import main
from velocitas_desktop.core.types import TRADE_FIELDS
from velocitas_desktop.research.backtest import backtest, load_bars


def test_backtest_json_prints_only_stats_and_ledger_trades(capsys):
    code = main(["backtest", "--csv", str(SAMPLE), "--strategy", "SMA_Crossover:fast=10,slow=20",
                 "--fee", "0.002", "--slippage", "0.0005", "--quantity", "0.5", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"stats", "trades"}
    expected = backtest("SMA_Crossover", load_bars(SAMPLE),
                        {"fast": 10, "slow": 20, "quantity": 0.5}, fee=0.002, slippage=0.0005)
    assert report["trades"] == expected.trade_dicts()
    assert report["stats"] == json.loads(json.dumps(expected.to_json()["stats"]))
    assert all(tuple(t) == TRADE_FIELDS for t in report["trades"])
    assert {t["quantity"] for t in report["trades"]} == {0.5}


def test_backtest_prints_a_report_table(capsys):
    assert main(["backtest", "--csv", str(SAMPLE), "--strategy", "RSI"]) == 0
    out = capsys.readouterr().out
    for label in ("final equity", "total return", "win rate", "max drawdown", "Sharpe",
                  "Sortino", "Calmar", "profit factor", "expectancy", "exposure",
                  "best trade", "worst trade", "avg trade duration"):
        assert label in out


def test_optimize_json_prints_only_the_ranked_results(capsys):
    code = main(["optimize", "--csv", str(SAMPLE), "--strategy", "SMA_Crossover",
                 "--grid", "fast=5:50:5", "--grid", "slow=20:200:20", "--workers", "0",
                 "--metric", "net_pnl", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    rows = json.loads(captured.out)
    assert len(rows) == 90  # 10 × 10 values, hi ends included, 10 break fast < slow
    assert [r["rank"] for r in rows] == list(range(1, 91))
    assert {r["params"]["fast"] for r in rows} >= {5, 50}
    assert {r["params"]["slow"] for r in rows} >= {20, 200}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_optimize_shows_progress_then_the_ranked_table(capsys):
    code = main(["optimize", "--csv", str(SAMPLE), "--strategy", "SMA_Crossover",
                 "--grid", "fast=10:20:10", "--grid", "slow=30:40:10", "--workers", "0",
                 "--in-sample", "0.7"])
    captured = capsys.readouterr()
    assert code == 0
    assert "4/4" in captured.err  # the progress bar, on stderr
    assert "ranked by sharpe_ratio" in captured.out and "OOS: out-of-sample" in captured.out
    assert "no look-ahead" in captured.out


@pytest.mark.parametrize(("args", "message"), [
    (["--grid", "fast="], "fast="),
    (["--grid", "fast=50:5:5"], "above high"),
    (["--grid", "speed=1:5:1"], "no parameter 'speed'"),
    (["--grid", "fast=2:400:1", "--grid", "slow=3:400:1"], "limit is 100,000"),
    (["--grid", "fast=5:10:5", "--metric", "luck"], "invalid choice"),
])
def test_optimize_bad_input_is_one_line_and_exit_2(args, message, capsys):
    code = main(["optimize", "--csv", str(SAMPLE), "--strategy", "SMA_Crossover",
                 "--workers", "0", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and "\n" not in err and "Traceback" not in err


def test_unreadable_and_short_files_are_refused(tmp_path, capsys):
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\xff\xfe binary \x00")
    short = tmp_path / "short.csv"
    short.write_text("timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n")
    for path in (garbage, short, tmp_path / "missing.csv"):
        for command in (["backtest", "--csv", str(path), "--strategy", "SMA_Crossover"],
                        ["optimize", "--csv", str(path), "--strategy", "SMA_Crossover",
                         "--grid", "fast=5:10:5"]):
            assert main(command) == 2
            err = capsys.readouterr().err.strip()
            assert str(path.name) in err and "\n" not in err


def test_backtest_bad_parameters_are_refused(capsys):
    assert main(["backtest", "--csv", str(SAMPLE), "--strategy",
                 "SMA_Crossover:fast=30,slow=20"]) == 2
    assert "fast (30) must be less than slow (20)" in capsys.readouterr().err
    assert main(["backtest", "--csv", str(SAMPLE), "--strategy", "Nope"]) == 2
    assert "unknown strategy 'Nope'" in capsys.readouterr().err
