"""Specification of what a session's records give back: the metrics the engine showed (those
a journal can rebuild exactly), and CSV and JSON files holding every trade and P&L point."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from journal_helpers import fills, write_session

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.core.types import TRADE_FIELDS
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.store.journal import Journal, SessionError
from velocitas_desktop.store.reports import (
    GLOBAL_METRICS,
    STRATEGY_METRICS,
    export_session,
    session_report,
)


def test_a_report_shows_the_metrics_the_engine_showed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    engine = Engine(journal=Journal(path), restore=False)
    engine.register(StrategySpec("SMA_Crossover", "BTC", {"fast": 2, "slow": 3}))
    engine.register(StrategySpec("RSI", "ETH", {"period": 3, "oversold": 45, "overbought": 55},
                                 allow_short=True))
    config = EngineConfig(coins=["BTC", "ETH"], rate=None, seed=3, start_time=0.0,
                          max_ticks=20_000, fee=0.002)
    engine.start(config)
    assert engine.wait(60)
    shown, session = engine.snapshot(), engine.session_id
    engine.close()

    journal = Journal(path)
    report = session_report(journal, session)
    journal.close()
    assert report["id"] == session and report["config"]["fee"] == 0.002
    assert [s["strategy_id"] for s in report["strategy_specs"]] == ["BTC_SMA_Crossover", "ETH_RSI"]
    assert report["strategy_specs"][1]["allow_short"] is True
    for sid, metrics in report["metrics"]["strategies"].items():
        assert set(metrics) == set(STRATEGY_METRICS)
        for key in STRATEGY_METRICS:
            assert metrics[key] == pytest.approx(shown["strategies"][sid][key]), (sid, key)
    for key in GLOBAL_METRICS:
        assert report["metrics"]["global"][key] == pytest.approx(shown["global"][key]), key
    assert report["fills"] == shown["global"]["total_trades"] > 100
    assert report["net_pnl"] == pytest.approx(shown["global"]["net_pnl"])


def test_an_export_to_csv_holds_every_trade_and_pnl_point(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    trades = fills(2_500)
    session = write_session(journal, trades, samples=3)
    heard: list[tuple[int, int]] = []
    written = export_session(journal, session, tmp_path / "out", "csv",
                             progress=lambda done, total: heard.append((done, total)))
    assert [p.name for p in written] == [f"session-{session}-trades.csv",
                                         f"session-{session}-pnl-history.csv"]
    with open(written[0], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(TRADE_FIELDS)
    # floats are written with repr's digits: they read back exactly
    assert [(int(r["id"]), float(r["price"]), float(r["profit_loss"])) for r in rows] == [
        (t.id, t.price, t.profit_loss) for t in trades]
    with open(written[1], newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 3 * 3
    assert heard[-1] == (2_500, 2_500)
    journal.close()


def test_an_export_to_json_reads_back_as_the_journals_rows(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    session = write_session(journal, fills(1_200), samples=2)
    trades_file, pnl_file = export_session(journal, session, tmp_path, "json")
    assert json.loads(trades_file.read_text(encoding="utf-8")) == journal.trades(session,
                                                                                 limit=-1)
    assert json.loads(pnl_file.read_text(encoding="utf-8")) == journal.pnl_history(session)
    empty = write_session(journal, [])
    assert json.loads(export_session(journal, empty, tmp_path, "json")[0].read_text()) == []
    journal.close()


def test_an_export_that_fails_leaves_no_half_written_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    session = write_session(journal, fills(10))
    blocked = tmp_path / "out"
    blocked.mkdir()
    (blocked / f"session-{session}-pnl-history.csv").mkdir()  # a folder where the file goes
    with pytest.raises(OSError):
        export_session(journal, session, blocked)
    assert sorted(p.name for p in blocked.iterdir()) == [f"session-{session}-pnl-history.csv",
                                                         f"session-{session}-trades.csv"]
    assert not list(blocked.glob("*.part"))
    with pytest.raises(SessionError, match="no session 7"):
        export_session(journal, 7, blocked)
    with pytest.raises(ValueError, match="csv, json"):
        export_session(journal, session, blocked, "xlsx")
    journal.close()
