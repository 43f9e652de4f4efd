"""``velocitas backtest``: one strategy over a bar file, with the same code as live trading."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from velocitas_desktop.cli.arguments import positive
from velocitas_desktop.cli.research import add_history_args, load_history, money, percent
from velocitas_desktop.cli.tables import Field, fit_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("backtest", help="backtest one strategy over a bar file")
    add_history_args(parser)
    parser.add_argument("--strategy", required=True, metavar="NAME[:k=v,...]",
                        help="the strategy and its parameters, e.g. MACD:fast=8,slow=21")
    parser.add_argument("--quantity", type=positive, default=None,
                        help="units bought on each BUY (the strategy's quantity)")
    parser.add_argument("--risk-free", type=float, default=0.0, metavar="RATE",
                        help="yearly risk-free rate for Sharpe (0.04 = 4%%; default 0)")
    parser.add_argument("--incremental", action="store_true",
                        help="feed prices one at a time (as live) instead of the batch path")
    parser.set_defaults(func=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    from velocitas_desktop.core.strategy import check_coin
    from velocitas_desktop.engine.request import parse_named_params
    from velocitas_desktop.research.backtest import backtest

    name, params = parse_named_params(args.strategy)
    if args.quantity is not None:
        params["quantity"] = args.quantity
    coin = check_coin(args.coin)
    bars = load_history(args.csv)
    result = backtest(name, bars, params, fee=args.fee, slippage=args.slippage,
                      cash=args.cash, coin=coin, fast=not args.incremental,
                      risk_free=args.risk_free)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    _print_report(result)
    return 0


def _print_report(result: Any) -> None:
    from rich.console import Console

    console = Console()
    console.print(report_view(console, result))


def report_view(console: Any, result: Any) -> Any:
    """The backtest's figures, a line each, under a title that wraps at the console's width."""
    s = result.stats
    params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in s["params"].items())
    title = (f"Backtest · {s['strategy']}({params}) · {s['bars']:,} bars "
             f"{_time(s['start'])} → {_time(s['end'])}")
    rows = [
        ("starting cash", money(s["starting_cash"])), ("final equity", money(s["final_equity"])),
        ("total return", percent(s["total_return_pct"])), ("net P&L (realised)", money(s["net_pnl"])),
        ("unrealised P&L", money(s["unrealized_pnl"])), ("fees", money(s["fees"])),
        ("trades (fills)", f"{s['total_trades']:,}"),
        ("closed trades", f"{s['closed_trades']:,}"), ("win rate", percent(s["win_rate"])),
        ("max drawdown", f"{money(s['max_drawdown'])} ({percent(s['max_drawdown_pct'])})"),
        ("Sharpe", money(s["sharpe_ratio"])), ("Sortino", money(s["sortino_ratio"])),
        ("Calmar", money(s["calmar_ratio"])), ("profit factor", money(s["profit_factor"])),
        ("expectancy / trade", money(s["expectancy"])), ("exposure", percent(s["exposure_pct"])),
        ("best trade", money(s["best_trade"])), ("worst trade", money(s["worst_trade"])),
        ("avg trade duration", _duration(s["avg_trade_duration_s"])),
        ("open position", f"{s['open_position']:g}"),
    ]
    return fit_table(console, title, [Field("metric", number=False)], [Field("value")],
                     [list(row) for row in rows])


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    hours = seconds / 3600
    return f"{hours / 24:,.1f} days" if hours >= 48 else f"{hours:,.1f} h"


def _time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


