"""Specification of ``velocitas trend``: the analyser's readable report of a bar file, then the
strategies that fitted it out of sample (or the verdict that none did), a progress bar while
it searches, ``--json`` for the report JSON, and one line with exit code 2 for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from velocitas_desktop.cli import main
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.trend import analyze, load_bars
from velocitas_desktop.research.trend_jobs import TrendRequest, run_trend

SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"
# a quick search: the last 600 hourly bars, two folds, in this process
QUICK = ["--suggest-bars", "600", "--folds", "2", "--workers", "0"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["trend", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write_bars(path: Path, count: int, start: float = 1_704_067_200.0) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(count):
        price = 100.0 + i % 7
        lines.append(f"{int(start + 3600 * i)},{price},{price + 1},{price - 1},{price + 0.5},5")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_report_of_the_sample_is_the_analysers_own_text(capsys) -> None:
    code, out, err = run(capsys, "--csv", "sample:BTCUSD-1h", "--no-suggest")
    assert code == 0, err
    expected = analyze(load_bars(SAMPLE), source=SAMPLE.name).text()
    assert out == expected + "\n"
    assert "Suggestions" not in out


def test_json_is_the_report_json_with_no_suggestions_when_not_asked(capsys) -> None:
    code, out, _ = run(capsys, "--csv", "sample:BTCUSD-1h", "--no-suggest", "--json",
                       "--coin", "btc")
    assert code == 0
    report = json.loads(out)
    assert report == run_trend(load_bars(SAMPLE), TrendRequest(suggest=False, coin="BTC"),
                               source=SAMPLE.name)
    assert report["suggestions"] is None and report["coin"] == "BTC"
    assert report["bars"] == 5000 and report["interval"] == 3600
    assert [t["timeframe"] for t in report["timeframes"]] == ["1h", "4h", "1d"]


def test_the_timeframes_asked_for_are_the_ones_analysed(capsys) -> None:
    code, out, _ = run(capsys, "--csv", "sample:BTCUSD-1h", "--no-suggest", "--json",
                       "--timeframes", "4h, 1d")
    assert code == 0
    assert [t["timeframe"] for t in json.loads(out)["timeframes"]] == ["4h", "1d"]


def test_a_small_suggestion_run_prints_the_table_or_the_verdict(capsys) -> None:
    code, out, err = run(capsys, "--csv", "sample:BTCUSD-1h", "--timeframes", "1h", *QUICK)
    assert code == 0, err
    assert "Suggestions · walk-forward over 600 bars" in out
    assert "2 folds" in out
    body = out.split("Suggestions ·", 1)[1]
    # either ranked rows with their evidence, or the sentence that nothing beat holding
    assert ("OOS score" in body and "vs hold" in body) or "Nothing beat holding" in body


def test_json_with_suggestions_carries_their_evidence(capsys) -> None:
    code, out, err = run(capsys, "--csv", "sample:BTCUSD-1h", "--timeframes", "1h", "--json",
                         *QUICK)
    assert code == 0, err
    suggestions = json.loads(out)["suggestions"]
    assert suggestions["bars"] == 600 and suggestions["folds"] == 2
    assert set(suggestions) >= {"hold", "verdict", "items", "rejected", "lookahead"}
    assert bool(suggestions["items"]) != bool(suggestions["verdict"])
    for item in suggestions["items"] + suggestions["rejected"]:
        assert set(item) >= {"rank", "strategy", "params", "in_sample_score",
                             "out_of_sample_score", "oos_return_pct", "trades", "fees",
                             "hold_return_pct", "beats_hold", "beats_cash", "folds"}


def test_the_progress_bar_covers_the_analysis_and_the_search(capsys, monkeypatch) -> None:
    seen: list[tuple[int, int]] = []

    class Recorder:
        def __init__(self, title: str, unit: str) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc_info) -> None:
            pass

        def update(self, done: int, total: int) -> None:
            seen.append((done, total))

    monkeypatch.setattr("velocitas_desktop.cli.trend.ProgressBar", Recorder)
    code, _, _ = run(capsys, "--csv", "sample:BTCUSD-1h", "--timeframes", "1h", "--json",
                     *QUICK)
    assert code == 0
    assert seen[0] == (0, 1)
    assert all(0 <= done <= total for done, total in seen)
    assert seen[-1][0] == seen[-1][1] > 2  # the analysis and at least two backtests


@pytest.mark.parametrize(("args", "words"), [
    (["--csv", "no-such-file.csv"], "no-such-file.csv"),
    (["--csv", "sample:ETHUSD-1d"], "no sample data named 'sample:ETHUSD-1d'"),
    (["--csv", "sample:BTCUSD-1h", "--timeframes", "1h,7x"], "7x"),
    (["--csv", "sample:BTCUSD-1h", "--timeframes", "15m"], "15m"),
    (["--csv", "sample:BTCUSD-1h", "--timeframes", "1h,,4h"], "separated by commas"),
    (["--csv", "sample:BTCUSD-1h", "--coin", "BTC/USD"], "not a coin symbol"),
    (["--csv", "sample:BTCUSD-1h", "--folds", "0"], "--folds"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, args, words) -> None:
    code, out, err = run(capsys, *args, "--no-suggest")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("velocitas trend")
    assert words in err
    assert "Traceback" not in err


def test_too_few_bars_is_one_line_and_exit_code_2(capsys, tmp_path) -> None:
    path = write_bars(tmp_path / "short.csv", 20)
    code, out, err = run(capsys, "--csv", str(path), *QUICK)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("velocitas trend: ")
    assert "bars" in err


def write_walk(path: Path, count: int, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    lines = ["timestamp,open,high,low,close,volume"]
    previous = 100.0
    for i, price in enumerate(close):
        high, low = max(previous, price) * 1.002, min(previous, price) * 0.998
        lines.append(f"{1_600_000_000 + 3600 * i},{previous:.4f},{high:.4f},{low:.4f},"
                     f"{price:.4f},1")
        previous = price
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_ctrl_c_stops_the_search_and_still_prints_the_report(tmp_path) -> None:
    walk = write_walk(tmp_path / "walk.csv", 40_000)  # a search of many seconds on one thread
    running = subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "trend", "--csv", str(walk), "--json",
         "--workers", "0"], cwd=tmp_path, env=os.environ.copy(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(4.0)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=120)
    assert running.returncode == 130, err
    assert "Traceback" not in err
    assert err.startswith("velocitas trend: stopped: you pressed Ctrl-C; ")
    report = json.loads(out)
    assert [t["timeframe"] for t in report["timeframes"]] == ["1h", "4h", "1d", "1w"]
    suggestions = report["suggestions"]  # None if Ctrl-C came before the search began
    assert suggestions is None or (suggestions["cancelled"]
                                   and suggestions["completed"] < suggestions["combinations"])


def test_the_suggestions_table_shows_each_ones_evidence_whole() -> None:
    from rich.console import Console

    from velocitas_desktop.cli.trend import suggestions_view

    item = {"rank": 1, "strategy": "Momentum", "params": {"period": 36, "threshold": 0.9,
                                                          "quantity": 0.0},
            "timeframe": "1h", "in_sample_score": 4.1182, "out_of_sample_score": 0.6066,
            "oos_return_pct": 11.7079, "trades": 170, "fees": 1703.345,
            "hold_return_pct": 2.2004, "beats_hold": True, "beats_cash": True, "folds": []}
    suggestions = {"bars": 5000, "timeframe": "1h", "folds": 3, "metric": "sharpe_ratio",
                   "fee": 0.001, "hold": {"return_pct": 100.8, "oos_return_pct": 2.2004,
                                          "fees": 61.2},
                   "verdict": "", "items": [item], "rejected": [], "lookahead": [],
                   "elapsed_s": 4.5}
    for width in (160, 80, 50):
        console = Console(width=width, record=True, highlight=False)
        console.print(suggestions_view(console, suggestions))
        text = console.export_text()
        for cell in ("Momentum", "period=36, threshold=0.9", "4.12", "0.61", "+11.71%", "170",
                     "1,703.35", "+9.51 pp"):
            assert cell in text, (width, cell)
    assert "ranked by out-of-sample sharpe_ratio" in text.replace("\n", " ")


USER_STRATEGY = '''
from velocitas_desktop.core.indicators import SMA
from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below
from velocitas_desktop.core.strategy import Param, Strategy


class MyTrend(Strategy):
    """A trader's own crossover, on a coarse grid."""

    fast = Param(8, low=4, high=16, step=4)
    slow = Param(40, low=20, high=80, step=20)
    constraints = ("fast < slow",)

    def init(self):
        self.fast_ma = self.indicator(SMA, self.fast)
        self.slow_ma = self.indicator(SMA, self.slow)

    def rule(self):
        return Rule(buy=crossed_above(self.fast_ma, self.slow_ma),
                    sell=crossed_below(self.fast_ma, self.slow_ma))
'''


def test_a_strategy_folder_puts_the_traders_own_strategies_in_the_search(capsys, tmp_path):
    (tmp_path / "my_trend.py").write_text(USER_STRATEGY, encoding="utf-8")
    (tmp_path / "broken.py").write_text("raise RuntimeError('half written')\n",
                                        encoding="utf-8")
    code, out, err = run(capsys, "--csv", "sample:BTCUSD-1h", "--timeframes", "1h", "--json",
                         "--strategy-folder", str(tmp_path), *QUICK)
    assert code == 0, err
    suggestions = json.loads(out)["suggestions"]
    searched = {row["strategy"] for row in suggestions["items"] + suggestions["rejected"]}
    assert {"MyTrend", "SMA_Crossover", "MACD"} <= searched
    assert "skipped" in err and "broken.py" in err and "half written" in err


def test_a_missing_strategy_folder_is_one_line_and_exit_code_2(capsys, tmp_path):
    code, out, err = run(capsys, "--csv", "sample:BTCUSD-1h", "--no-suggest",
                         "--strategy-folder", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "is not a folder" in err
