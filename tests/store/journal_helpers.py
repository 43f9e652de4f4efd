"""Helpers of the journal's specification: fills made by hand and sessions written with them."""

from __future__ import annotations

from typing import Any

from velocitas_desktop.core.types import Trade
from velocitas_desktop.store.journal import Journal

STRATEGIES = (("BTC_SMA_Crossover", "BTC", "SMA_Crossover"), ("ETH_RSI", "ETH", "RSI"),
              ("BTC_RSI", "BTC", "RSI"))


def fills(count: int, first_id: int = 1, start: float = 1.7e9) -> list[Trade]:
    """``count`` fills taking turns over STRATEGIES, each opening then closing a position;
    prices and P&L with digits a float cannot round away silently."""
    made = []
    for i in range(count):
        strategy_id, coin, name = STRATEGIES[i % len(STRATEGIES)]
        opening = (i // len(STRATEGIES)) % 2 == 0
        price = 100.0 + i / 7 + 0.1 + 0.2
        made.append(Trade(first_id + i, strategy_id, coin, name, "BUY" if opening else "SELL",
                          price, 1.0 if opening else 0.5, start + i / 3,
                          0.0 if opening else (i % 5 - 2) / 3, 1.0 if opening else 0.0,
                          price * 0.001))
    return made


def spec(strategy_id: str, coin: str, name: str) -> dict[str, Any]:
    return {"strategy_id": strategy_id, "name": name, "coin": coin, "params": {},
            "timeframe": "tick", "allow_short": False}


def write_session(journal: Journal, trades: list[Trade], source: str = "simulated",
                  samples: int = 0, batch: int = 1000) -> int:
    """A session of ``trades`` (and ``samples`` P&L samples per strategy), in batches."""
    session = journal.begin_session({"source": source, "coins": ["BTC", "ETH"]})
    for strategy_id, coin, name in STRATEGIES:
        journal.save_strategy(spec(strategy_id, coin, name))
    for i in range(0, len(trades), batch):
        journal.record(trades[i:i + batch])
    rows = [{"timestamp": 1.7e9 + 60 * k, "strategy_id": sid, "pnl": k / 7, "position": 1.0}
            for k in range(samples) for sid, _, _ in STRATEGIES]
    if rows:
        journal.record([], rows)
    return session
