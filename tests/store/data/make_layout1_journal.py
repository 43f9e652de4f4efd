"""Writes layout1-journal.sqlite3 and layout1-journal.json beside this file.

Run it with a Velocitas from before the compact journal layout (one whose trades table has a
strategy_id column), e.g. ``PYTHONPATH=/path/to/older/checkout python make_layout1_journal.py``.
The JSON holds what that version reads back from the file: the upgrade must give the same.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.store.journal import Journal

HERE = Path(__file__).parent
DB = HERE / "layout1-journal.sqlite3"


def main() -> None:
    DB.unlink(missing_ok=True)
    engine = Engine(journal=Journal(DB), restore=False)
    engine.register(StrategySpec("SMA_Crossover", "BTC", {"fast": 2, "slow": 3}))
    engine.register(StrategySpec("RSI", "ETH", {"period": 3, "oversold": 45, "overbought": 55}))
    engine.register(StrategySpec("Momentum", "ETH", {"period": 3}))
    engine.pause("ETH_Momentum")
    engine.start(EngineConfig(coins=["BTC", "ETH"], rate=None, seed=5, start_time=0.0,
                              max_ticks=1_200, sample_seconds=1.0))
    engine.wait()
    engine.unregister("ETH_RSI")  # a strategy removed between sessions
    engine.register(StrategySpec("MACD", "BTC", {"fast": 3, "slow": 6, "signal": 2},
                                 strategy_id="BTC_MACD_fast"))
    engine.start(EngineConfig(source="simulated", coins=["BTC", "ETH"], rate=None, seed=6,
                              start_time=0.0, max_ticks=900, sample_seconds=1.0))
    engine.wait()
    engine.close()
    journal = Journal(DB)
    sessions = [row[0] for row in journal._conn.execute("SELECT id FROM sessions ORDER BY id")]
    expected = {str(s): {"trades": journal.trades(s, limit=-1),
                         "pnl_history": journal.pnl_history(s),
                         "strategies": journal.strategies(s)} for s in sessions}
    journal.close()
    with sqlite3.connect(DB) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    (HERE / "layout1-journal.json").write_text(json.dumps(expected), encoding="utf-8")


if __name__ == "__main__":
    main()
