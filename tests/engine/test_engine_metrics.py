"""One answer everywhere: a live replay of a bar file reports the backtest's drawdown and
Sharpe, per strategy and for the whole session, and an engine restarted on its journal shows
every figure it showed before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_engine_helpers import SAMPLE
from support import wait_until

from velocitas_desktop.core import metrics
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.research.backtest import backtest, load_bars
from velocitas_desktop.store.journal import Journal

BUILTINS = ["SMA_Crossover", "Momentum", "RSI", "MACD"]
CAPITAL = 25_000.0
# the figures the ledger computes; the rest of a snapshot is about the running session
LEDGER_FIGURES = ("total_trades", "closed_trades", "winning_trades", "losing_trades",
                  "total_profit", "total_loss", "net_pnl", "unrealized_pnl", "equity",
                  "capital", "return_pct", "fees", "win_rate", "max_drawdown",
                  "max_drawdown_pct", "sharpe_ratio", "sharpe_note", "last_trade_id",
                  "active_strategies", "active_coins")


def replay(engine: Engine, **options: Any) -> dict[str, Any]:
    """Every built-in on BTC over the sample file, as fast as it goes; the final snapshot."""
    for name in BUILTINS:
        engine.register(StrategySpec(name, "BTC"))
    engine.start(EngineConfig(source="csv", csv_files={"BTC": str(SAMPLE)}, speed=None,
                              capital=CAPITAL, **options))
    assert engine.wait(60)
    return engine.snapshot()


def test_a_live_replay_reports_the_backtests_drawdown_and_sharpe(engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    snapshot = replay(engine)
    bars = load_bars(SAMPLE)
    results = {name: backtest(name, bars, cash=CAPITAL) for name in BUILTINS}
    for name, result in results.items():
        live, s = snapshot["strategies"][f"BTC_{name}"], result.stats
        assert live["total_trades"] == s["total_trades"] > 10
        assert live["closed_trades"] == s["closed_trades"]
        assert CAPITAL + live["equity"] == pytest.approx(s["final_equity"], rel=1e-12)
        assert live["max_drawdown"] == pytest.approx(s["max_drawdown"], rel=1e-9)
        assert live["max_drawdown_pct"] == pytest.approx(s["max_drawdown_pct"], rel=1e-9)
        assert s["daily_returns"] >= 200 and s["sharpe_ratio"] is not None
        assert live["sharpe_ratio"] == pytest.approx(s["sharpe_ratio"], rel=1e-9)

    # the session's account is the four accounts together
    account = sum(result.equity for result in results.values())
    start = CAPITAL * len(BUILTINS)
    whole = snapshot["global"]
    assert whole["capital"] == start
    assert whole["max_drawdown"] == pytest.approx(
        metrics.max_drawdown(np.concatenate(([start], account))), rel=1e-9)
    assert whole["max_drawdown_pct"] == pytest.approx(
        metrics.max_drawdown_pct(np.concatenate(([start], account))), rel=1e-9)
    expected = metrics.sharpe_ratio(metrics.daily_closes(bars.stamps, account, start))
    assert whole["sharpe_ratio"] == pytest.approx(expected.value, rel=1e-9)


def test_the_sharpe_ratio_takes_the_risk_free_rate_asked_for(engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    snapshot = replay(engine, risk_free_rate=0.05)
    result = backtest("SMA_Crossover", load_bars(SAMPLE), cash=CAPITAL, risk_free=0.05)
    assert snapshot["strategies"]["BTC_SMA_Crossover"]["sharpe_ratio"] == pytest.approx(
        result.stats["sharpe_ratio"], rel=1e-9)
    plain = backtest("SMA_Crossover", load_bars(SAMPLE), cash=CAPITAL)
    assert result.stats["sharpe_ratio"] < plain.stats["sharpe_ratio"]


def figures(snapshot: dict[str, Any]) -> dict[str, Any]:
    whole = {key: snapshot["global"][key] for key in LEDGER_FIGURES}
    return {"global": whole, "strategies": snapshot["strategies"]}


def test_a_restart_after_the_data_ran_out_shows_every_figure_again(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Engine(journal=Journal(path))
    engines.append(first)
    before = figures(replay(first))
    first.close()
    again = Engine(journal=Journal(path))
    engines.append(again)
    assert figures(again.snapshot()) == before
    assert before["global"]["sharpe_ratio"] is not None  # a real number came back


def test_a_restart_after_a_stop_shows_every_figure_again_removed_strategies_included(
        tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Engine(journal=Journal(path))
    engines.append(first)
    for name in BUILTINS:
        first.register(StrategySpec(name, "BTC", {"fast": 2, "slow": 3}
                                    if name == "SMA_Crossover" else {}))
    first.start(EngineConfig(coins=["BTC"], rate=20_000, seed=5, capital=CAPITAL,
                             duration=60))
    wait_until(lambda: first.snapshot()["global"]["total_trades"] > 200, what="some trades")
    first.unregister("BTC_SMA_Crossover")  # its fills stay counted
    wait_until(lambda: first.snapshot()["global"]["closed_trades"] > 120, what="more trades")
    first.stop()
    before = figures(first.snapshot())
    first.close()
    again = Engine(journal=Journal(path))
    engines.append(again)
    assert figures(again.snapshot()) == before
    assert before["global"]["max_drawdown"] > 0 and before["global"]["capital"] == 4 * CAPITAL


def test_the_capital_and_the_risk_free_rate_are_checked_with_the_session():
    from velocitas_desktop.core.errors import ParameterError
    from velocitas_desktop.engine.request import SessionRequest, Vocabulary, session_config

    words = Vocabulary({"capital": "--capital", "risk_free_rate": "--risk-free"}, assign=" ")
    config = session_config(SessionRequest(capital=5_000, risk_free_rate=0.04))
    assert (config.capital, config.risk_free_rate) == (5_000.0, 0.04)
    assert session_config(SessionRequest()).capital == metrics.DEFAULT_CAPITAL == 10_000.0
    with pytest.raises(ParameterError, match="--capital must be a positive amount"):
        session_config(SessionRequest(capital=0), words=words)
    with pytest.raises(ParameterError, match="--risk-free must be a yearly fraction"):
        session_config(SessionRequest(risk_free_rate=4), words=words)


def test_velocitas_run_sizes_positions_by_the_capital_asked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from velocitas_desktop.cli import main

    monkeypatch.chdir(tmp_path)
    db = tmp_path / "journal.sqlite3"
    code = main(["run", "--source", "csv", "--csv", f"BTC={SAMPLE}", "--speed", "max",
                 "--strategy", "SMA_Crossover:BTC", "--capital", "2500", "--risk-free", "0.03",
                 "--db", str(db), "--json"])
    snapshot = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    figures = snapshot["strategies"]["BTC_SMA_Crossover"]
    assert figures["capital"] == snapshot["global"]["capital"] == 2500.0
    journal = Journal(db)
    try:
        first = journal.trades(limit=1)[0]
    finally:
        journal.close()
    assert first["quantity"] * first["price"] == pytest.approx(2500.0)
    expected = backtest("SMA_Crossover", load_bars(SAMPLE), cash=2500.0, risk_free=0.03)
    assert figures["sharpe_ratio"] == pytest.approx(expected.stats["sharpe_ratio"], rel=1e-9)


@pytest.mark.parametrize(("args", "expected"), [
    (["--capital", "0"], "--capital: 0 must be positive"),
    (["--risk-free", "2"], "--risk-free must be a yearly fraction"),
])
def test_a_bad_capital_or_rate_on_the_command_line_is_one_line_and_exit_2(
        args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from velocitas_desktop.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["run", "--ticks", "10", *args, "--db", str(tmp_path / "j.sqlite3"), "--json"])
    out, err = capsys.readouterr()
    assert (code, out, len(err.splitlines())) == (2, "", 1), err
    assert expected in err
