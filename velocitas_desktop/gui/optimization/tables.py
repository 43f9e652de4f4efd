"""The Optimisation tab's tables declared as columns: ranked results and a row's trades."""

from __future__ import annotations

from typing import Any

from velocitas_desktop.gui.table import (
    FLOAT,
    INT,
    MONEY,
    PERCENT,
    PRICE,
    QUANTITY,
    SIDE,
    TIME,
    Column,
)
from velocitas_desktop.research.ranking import RankingMetric

TRADE_COLUMNS = (
    Column("timestamp", "Time (UTC)", TIME, "%Y-%m-%d %H:%M"),
    Column("action", "Side", SIDE),
    Column("price", "Price", PRICE),
    Column("quantity", "Qty", QUANTITY),
    Column("profit_loss", "P&L", MONEY, ",.2f"),
    Column("position_size", "Position", QUANTITY),
    Column("fee", "Fee", FLOAT, ",.2f"),
)


def result_columns(metric: RankingMetric, names: list[str]) -> list[Column]:
    """The ranked table: rank, the varied parameters, in- and out-of-sample scores, stats."""
    return [Column("rank", "#", INT),
            *(Column(f"p_{n}", n, FLOAT, "g") for n in names),
            Column("score", metric.title, FLOAT, metric.fmt),
            Column("oos_score", f"{metric.title} (out)", FLOAT, metric.fmt),
            Column("trades", "Trades", INT),
            Column("win_rate", "Win rate", PERCENT),
            Column("max_dd", "Max DD", PERCENT),
            Column("net_pnl", "Net P&L", MONEY, ",.2f"),
            Column("oos_pnl", "Net P&L (out)", MONEY, ",.2f")]


def result_row(item: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """One ranked result as a row of :func:`result_columns` (missing statistics stay empty)."""
    stats, oos = item["stats"], item.get("oos_stats") or {}
    row = {"rank": item["rank"], "score": item["score"],
           "oos_score": item.get("oos_score"), "trades": stats.get("total_trades"),
           "win_rate": stats.get("win_rate"), "max_dd": stats.get("max_drawdown_pct"),
           "net_pnl": stats.get("net_pnl"), "oos_pnl": oos.get("net_pnl")}
    row.update({f"p_{n}": item["params"].get(n) for n in names})
    return row
