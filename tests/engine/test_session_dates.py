"""Specification of a session's dates and clock: seeded simulations repeat on 2024-01-01,
unseeded ones start in the recent past (maximum speed) or now (paced), whoever starts them;
wherever the stamps are shown, the clock says whose time it is and how fast it runs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from velocitas_desktop.cli import main
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.config import clock_text
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.engine.request import SessionRequest, session_config
from velocitas_desktop.feeds.simulated import RECENT_PAST, SEEDED_START

DAY = 86_400.0
SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "data" / "BTCUSD-1h-sample.csv"


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
                     "--timeframe", "tick", "--strategy", "SMA_Crossover:BTC:fast=2,slow=3",
                     "--strategy", "RSI:ETH", "--db", str(db), "--json"])
        assert code == 0, capsys.readouterr().err
        return journal_trades(db)

    first, again = run(tmp_path / "first.sqlite3"), run(tmp_path / "again.sqlite3")
    assert len(first) > 20
    assert first == again  # the same prices at the same times
    stamps = [t["timestamp"] for t in first]
    # 20,000 ticks at 100 a second of data: the first minutes of 2024, not of 1970
    assert min(stamps) >= SEEDED_START and max(stamps) < SEEDED_START + 3600


# --- the clock ------------------------------------------------------------------------------


def test_before_any_session_the_clock_names_no_kind(engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    assert engine.snapshot()["global"]["clock"] == {"kind": None, "time": None, "speed": None}
    assert engine.state()["clock"]["kind"] is None


def test_a_simulation_at_maximum_speed_says_its_clock_is_simulated_and_runs_ahead(
        engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    engine.start(session_config(SessionRequest(coins=("BTC",), seed=7, rate=None,
                                               ticks=5_000)))
    assert engine.wait(30)
    clock = engine.snapshot()["global"]["clock"]
    assert clock["kind"] == "simulated" and clock["speed"] is None
    # the newest tick's time: some 50 s of data into 2024 (5,000 ticks at 100 a second)
    assert SEEDED_START + 5 < clock["time"] < SEEDED_START + 600
    assert engine.state()["clock"] == clock


def test_a_paced_simulation_and_a_replay_say_how_fast_their_clocks_run(
        engines: list[Engine]) -> None:
    engine = Engine()
    engines.append(engine)
    engine.start(session_config(SessionRequest(coins=("BTC",), rate=20_000.0, ticks=2_000)))
    assert engine.wait(30)
    paced = engine.snapshot()["global"]["clock"]
    assert paced["kind"] == "simulated" and paced["speed"] == 1.0
    assert abs(paced["time"] - time.time()) < 60  # unseeded and paced: the wall clock
    engine.start(EngineConfig(source="csv", coins=["BTC"], csv_files={"BTC": str(SAMPLE)},
                              speed=None))
    assert engine.wait(30)
    replay = engine.snapshot()["global"]["clock"]
    # the sample's last bar opens at 2019-10-17 09:00 UTC and is replayed at its close
    assert replay == {"kind": "replay", "time": 1_571_302_800.0 + 3600, "speed": None}


CLOCK_TEXTS = [
    ({"kind": "simulated", "time": SEEDED_START + 3 * 3600 + 125, "speed": None},
     "simulated time 2024-01-01 03:02 UTC, faster than real time"),
    ({"kind": "simulated", "time": SEEDED_START, "speed": 1.0},
     "simulated time 2024-01-01 00:00 UTC, real-time pace"),
    ({"kind": "simulated", "time": None, "speed": None}, "simulated time, faster than real time"),
    ({"kind": "replay", "time": 1_571_310_000.0, "speed": 60.0},
     "replay time 2019-10-17 11:00 UTC, 60x real time"),
    ({"kind": "exchange", "time": SEEDED_START, "speed": 1.0}, "exchange time 2024-01-01 00:00 UTC"),
    ({"kind": None, "time": None, "speed": None}, ""),
]


@pytest.mark.parametrize(("clock", "text"), CLOCK_TEXTS)
def test_the_clock_reads_as_a_person_says_it(clock: dict[str, Any], text: str) -> None:
    assert clock_text(clock) == text


def test_velocitas_runs_live_table_says_the_time_is_simulated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code = main(["run", "--seed", "7", "--ticks", "3000", "--coins", "BTC",
                 "--strategy", "RSI:BTC", "--db", str(tmp_path / "j.sqlite3")])
    out = capsys.readouterr().out
    assert code == 0
    assert "simulated time 2024-01-01 00:00 UTC, faster than real time" in out
