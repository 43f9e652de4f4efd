"""Specification of a simulated session's dates: seeded runs repeat on 2024-01-01, unseeded
ones start in the recent past (maximum speed) or now (paced), whoever starts them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from velocitas_desktop.cli import main
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.engine.request import SessionRequest, session_config
from velocitas_desktop.feeds.simulated import RECENT_PAST, SEEDED_START

DAY = 86_400.0


def test_a_seeded_session_starts_on_2024_01_01_paced_or_not() -> None:
    for rate in (None, 1000.0):
        config = session_config(SessionRequest(seed=7, rate=rate))
        assert config.start_time == SEEDED_START == 1_704_067_200.0


def test_an_unseeded_session_at_maximum_speed_starts_two_days_back() -> None:
    before = time.time()
    config = session_config(SessionRequest(rate=None))
    assert before - RECENT_PAST <= config.start_time <= time.time() - RECENT_PAST
    assert RECENT_PAST == 2 * DAY


def test_an_unseeded_paced_session_runs_on_the_wall_clock() -> None:
    assert session_config(SessionRequest(rate=1000.0)).start_time is None


def test_a_start_asked_for_is_kept_and_other_sources_have_none(tmp_path: Path) -> None:
    assert session_config(SessionRequest(seed=7, start_time=123.0)).start_time == 123.0
    bars = tmp_path / "btc.csv"
    bars.write_text("timestamp,open,high,low,close,volume\n1704067200,1,1,1,1,1\n",
                    encoding="utf-8")
    assert session_config(SessionRequest(source="csv", csv_files={"BTC": str(bars)})
                          ).start_time is None


def test_a_seeded_engine_configured_directly_is_dated_2024_too(engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    engine.register(StrategySpec("SMA_Crossover", "BTC", {"fast": 2, "slow": 3}))
    engine.start(EngineConfig(coins=["BTC"], rate=None, seed=3, max_ticks=5_000))
    assert engine.wait(30)
    stamps = [t["timestamp"] for t in engine.trades(limit=10_000)]
    assert stamps and min(stamps) >= SEEDED_START and max(stamps) < SEEDED_START + DAY


def journal_trades(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(
            "SELECT coin, action, price, quantity, timestamp FROM trades ORDER BY id")]


def test_velocitas_run_with_a_seed_gives_the_same_trades_dated_2024_01_01(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(db: Path) -> list[dict[str, Any]]:
        code = main(["run", "--seed", "7", "--ticks", "20000", "--coins", "BTC,ETH",
                     "--strategy", "SMA_Crossover:BTC:fast=2,slow=3",
                     "--strategy", "RSI:ETH", "--db", str(db), "--json"])
        assert code == 0, capsys.readouterr().err
        return journal_trades(db)

    first, again = run(tmp_path / "first.sqlite3"), run(tmp_path / "again.sqlite3")
    assert len(first) > 20
    assert first == again  # the same prices at the same times
    stamps = [t["timestamp"] for t in first]
    # 20,000 ticks at 100 a second of data: the first minutes of 2024, not of 1970
    assert min(stamps) >= SEEDED_START and max(stamps) < SEEDED_START + 3600
