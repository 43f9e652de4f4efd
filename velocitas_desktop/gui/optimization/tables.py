"""The Optimisation tab's tables declared as columns: ranked results, the walk-forward's folds
and a row's trades."""

from __future__ import annotations

from typing import Any

from velocitas_desktop.gui.optimization.helpers import params_text
from velocitas_desktop.gui.table import (
    FLOAT,
    INT,
    MONEY,
    PERCENT,
    PRICE,
    QUANTITY,
    SIDE,
    TEXT,
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


def walk_forward_columns(metric: RankingMetric) -> list[Column]:
    """The walk-forward table: each fold's windows, the parameters it ranked best on its
    in-sample window, and their scores there and on the next window."""
    return [Column("fold", "Fold", INT),
            Column("in_bars", "Ranked on bars", TEXT),
            Column("out_bars", "Scored on bars", TEXT),
            Column("params", "Best parameters", TEXT),
            Column("in_score", f"{metric.title} (in)", FLOAT, metric.fmt),
            Column("out_score", f"{metric.title} (out)", FLOAT, metric.fmt)]


def walk_forward_row(fold: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """One fold of a result's ``walk_forward`` as a row of :func:`walk_forward_columns`."""
    def bars(window: list[int]) -> str:
        return f"{window[0]:,}–{window[1] - 1:,}"

    shown = names or [n for n in fold["params"] if n != "quantity"]
    return {"fold": fold["fold"], "in_bars": bars(fold["in_sample_bars"]),
            "out_bars": bars(fold["out_of_sample_bars"]),
            "params": params_text(fold["params"], shown),
            "in_score": fold["in_sample_score"], "out_score": fold["out_of_sample_score"]}


def walk_forward_summary(folds: list[dict[str, Any]], metric: RankingMetric) -> str:
    """One line: how the folds' best parameters did on the bars after their window."""
    outs = [f["out_of_sample_score"] for f in folds if f["out_of_sample_score"] is not None]
    ins = [f["in_sample_score"] for f in folds if f["in_sample_score"] is not None]
    if not outs:
        return (f"Walk-forward, {len(folds)} fold{'s' if len(folds) != 1 else ''}: no "
                "out-of-sample score (too few trades in the windows).")
    mean_out, mean_in = sum(outs) / len(outs), sum(ins) / len(ins) if ins else float("nan")
    kept = len({tuple(sorted(f["params"].items())) for f in folds})
    return (f"Walk-forward, {len(folds)} fold{'s' if len(folds) != 1 else ''}: each ranked "
            f"on one window and scored its best on the next. {metric.title} out of sample "
            f"{mean_out:{metric.fmt}} on average, against {mean_in:{metric.fmt}} in sample; "
            f"{kept} different parameter set{'s' if kept != 1 else ''} chosen.")
