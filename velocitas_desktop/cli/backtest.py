"""``velocitas backtest`` and ``velocitas optimize``: research from the terminal."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any

from velocitas_desktop.cli import (
    CliError,
    fraction_arg,
    non_negative_int_arg,
    positive_float_arg,
    positive_int_arg,
)
from velocitas_desktop.core.errors import VelocitasError


def register(subparsers: Any) -> None:
    _add_backtest(subparsers)
    _add_optimize(subparsers)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", required=True, metavar="FILE", help="a bar file (plain or "
                        "Binance layout); each bar trades at its close")
    parser.add_argument("--fee", type=fraction_arg, default=0.001,
                        help="fee fraction per fill (0.001 = 0.1%%)")
    parser.add_argument("--slippage", type=fraction_arg, default=0.0, help="slippage fraction")
    parser.add_argument("--cash", type=positive_float_arg, default=10_000.0,
                        help="starting cash in quote currency (default 10000)")
    parser.add_argument("--coin", default="BTC", help="the coin the bars are (trade records)")
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")


def _add_backtest(sub: Any) -> None:
    parser = sub.add_parser("backtest", help="backtest one strategy over a bar file")
    _common(parser)
    parser.add_argument("--strategy", required=True, metavar="NAME[:k=v,...]")
    parser.add_argument("--quantity", type=positive_float_arg, default=None,
                        help="units bought on each BUY (the strategy's quantity)")
    parser.add_argument("--incremental", action="store_true",
                        help="feed prices one at a time (as live) instead of the batch path")
    parser.set_defaults(func=cmd_backtest)


def _add_optimize(sub: Any) -> None:
    from velocitas_desktop.research.optimize import METRICS

    parser = sub.add_parser("optimize", help="search a strategy's parameters over a bar file")
    _common(parser)
    parser.add_argument("--strategy", required=True, metavar="NAME[:k=v,...]",
                        help="the strategy; k=v fixes parameters that are not searched")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=LO:HI:STEP",
                        help="a range to search (repeat); default: the declared ranges")
    parser.add_argument("--random", type=positive_int_arg, default=None, metavar="N",
                        help="try N random combinations instead of the whole grid")
    parser.add_argument("--seed", type=int, default=None, help="seed of --random")
    parser.add_argument("--metric", choices=list(METRICS), default="sharpe_ratio")
    parser.add_argument("--workers", type=non_negative_int_arg, default=None,
                        help="worker processes (default: one per core; 0: in this process)")
    parser.add_argument("--executor", default="process", metavar="process|dask://HOST:PORT")
    parser.add_argument("--in-sample", type=positive_float_arg, default=1.0, metavar="F",
                        help="share of the bars to rank on; the rest scores out of sample")
    parser.add_argument("--walk-forward", type=non_negative_int_arg, default=0, metavar="K",
                        help="K walk-forward folds")
    parser.add_argument("--top", type=positive_int_arg, default=20, help="rows in the table")
    parser.set_defaults(func=cmd_optimize)


def _split_strategy(text: str, flag: str = "--strategy") -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise CliError(f"{flag} {text!r}: give it as NAME[:k=v,...]")
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise CliError(f"{flag} {text!r}: parameters are k=v pairs, like fast=10")
        params[key.strip()] = value.strip()
    return name, params


def _load(path: str) -> Any:
    from velocitas_desktop.research.backtest import BacktestError, load_bars

    try:
        return load_bars(path)
    except BacktestError as exc:
        raise CliError(f"velocitas: {exc}") from None


# --- backtest -------------------------------------------------------------------------

def cmd_backtest(args: argparse.Namespace) -> int:
    from velocitas_desktop.core.strategy import check_coin
    from velocitas_desktop.research.backtest import backtest

    name, params = _split_strategy(args.strategy)
    if args.quantity is not None:
        params["quantity"] = args.quantity
    try:
        coin = check_coin(args.coin)
        bars = _load(args.csv)
        result = backtest(name, bars, params, fee=args.fee, slippage=args.slippage,
                          cash=args.cash, coin=coin, fast=not args.incremental)
    except VelocitasError as exc:
        raise CliError(f"velocitas backtest: {exc}") from None
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    _print_report(result)
    return 0


def _print_report(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    s = result.stats
    params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in s["params"].items())
    table = Table(title=f"Backtest · {s['strategy']}({params}) · {s['bars']:,} bars "
                        f"{_time(s['start'])} → {_time(s['end'])}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("starting cash", _num(s["starting_cash"])), ("final equity", _num(s["final_equity"])),
        ("total return", _pct(s["total_return_pct"])), ("net P&L (realised)", _num(s["net_pnl"])),
        ("unrealised P&L", _num(s["unrealized_pnl"])), ("fees", _num(s["fees"])),
        ("trades (fills)", f"{s['total_trades']:,}"),
        ("closed trades", f"{s['closed_trades']:,}"), ("win rate", _pct(s["win_rate"])),
        ("max drawdown", f"{_num(s['max_drawdown'])} ({_pct(s['max_drawdown_pct'])})"),
        ("Sharpe", _num(s["sharpe_ratio"])), ("Sortino", _num(s["sortino_ratio"])),
        ("Calmar", _num(s["calmar_ratio"])), ("profit factor", _num(s["profit_factor"])),
        ("expectancy / trade", _num(s["expectancy"])), ("exposure", _pct(s["exposure_pct"])),
        ("best trade", _num(s["best_trade"])), ("worst trade", _num(s["worst_trade"])),
        ("avg trade duration", _duration(s["avg_trade_duration_s"])),
        ("open position", f"{s['open_position']:g}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:,.2f}"


def _pct(value: float) -> str:
    return f"{value:,.2f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    hours = seconds / 3600
    return f"{hours / 24:,.1f} days" if hours >= 48 else f"{hours:,.1f} h"


def _time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


# --- optimize -------------------------------------------------------------------------

def cmd_optimize(args: argparse.Namespace) -> int:
    from velocitas_desktop.research.optimize import (
        OptimizationJob,
        OptimizeSettings,
        parse_range,
    )

    name, fixed = _split_strategy(args.strategy)
    try:
        grid = dict(parse_range(text) for text in args.grid)
        bars = _load(args.csv)
        settings = OptimizeSettings(
            strategy=name, grid=grid, fixed=fixed, random=args.random, seed=args.seed,
            metric=args.metric, fee=args.fee, slippage=args.slippage, cash=args.cash,
            coin=args.coin.strip().upper(), workers=args.workers, executor=args.executor,
            in_sample=args.in_sample, walk_forward=args.walk_forward)
        job = OptimizationJob(settings, bars)
    except VelocitasError as exc:
        raise CliError(f"velocitas optimize: {exc}") from None
    result = _run_with_progress(job)
    if job.status == "error":
        print(f"velocitas optimize: {job.error}", file=sys.stderr)
        return 1
    lookahead = result.get("lookahead")
    if args.json:
        print(json.dumps(result["results"]))
        if lookahead and not lookahead["ok"]:
            print(f"velocitas optimize: warning: {lookahead['message']}", file=sys.stderr)
        return 0
    _print_ranking(result, args.top)
    return 0 if not job.cancelled else 130


def _run_with_progress(job: Any) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(f"optimising {job.cls.name}", total=job.total)
        job.start()
        try:
            while not job.wait(0.1):
                progress.update(task, completed=job.done)
        except KeyboardInterrupt:
            job.cancel()
            job.wait()
        progress.update(task, completed=job.done)
    return job.result or {"results": []}


def _print_ranking(result: dict[str, Any], top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = result["results"]
    has_oos = bool(rows) and "oos_score" in rows[0]
    console = Console()
    title = (f"{result['strategy']} · {result['completed']:,} of {result['combinations']:,} "
             f"combinations · ranked by {result['metric']} · {result['elapsed_s']:.1f} s")
    table = Table(title=title)
    table.add_column("#", justify="right")
    names = [k for k in rows[0]["params"] if k != "quantity"] if rows else []
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("IS score" if has_oos else "score", justify="right")
    if has_oos:
        table.add_column("OOS score", justify="right")
    for column in ("net P&L", "return %", "trades", "win %", "max DD"):
        table.add_column(column, justify="right")
    for row in rows[:top]:
        s = row["stats"]
        values = [f"{row['params'][k]:g}" for k in names]
        cells = [str(row["rank"]), *values, _num(row["score"])]
        if has_oos:
            cells.append(_num(row["oos_score"]))
        cells += [_num(s["net_pnl"]), _num(s["total_return_pct"]), f"{s['total_trades']:,}",
                  _num(s["win_rate"]), _num(s["max_drawdown"])]
        table.add_row(*cells)
    console.print(table)
    if has_oos:
        console.print("IS: in-sample (ranked on) · OOS: out-of-sample (the later bars)")
    for fold in result.get("walk_forward", []):
        console.print(f"walk-forward fold {fold['fold']}: best {fold['params']} · in-sample "
                      f"{_num(fold['in_sample_score'])} · out-of-sample "
                      f"{_num(fold['out_of_sample_score'])}")
    lookahead = result.get("lookahead")
    if lookahead:
        style = "green" if lookahead["ok"] else "bold red"
        console.print(f"[{style}]{lookahead['message']}[/]")
