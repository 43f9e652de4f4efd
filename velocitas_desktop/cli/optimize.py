"""``velocitas optimize``: search a strategy's parameters over a bar file, ranked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from velocitas_desktop.cli.arguments import count, positive, positive_int, warn_if_over_cores
from velocitas_desktop.cli.research import add_history_args, load_history, money
from velocitas_desktop.cli.tables import Field, fit_table


def register(subparsers: Any) -> None:
    from velocitas_desktop.research.optimize import METRICS

    parser = subparsers.add_parser("optimize",
                                   help="search a strategy's parameters over a bar file")
    add_history_args(parser)
    parser.add_argument("--strategy", required=True, metavar="NAME[:k=v,...]",
                        help="the strategy; k=v fixes parameters that are not searched")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=LO:HI:STEP",
                        help="a range to search (repeat); default: about ten values "
                             "around each parameter's default, within its bounds")
    parser.add_argument("--random", type=positive_int, default=None, metavar="N",
                        help="try N random combinations instead of the whole grid")
    parser.add_argument("--seed", type=int, default=None, help="seed of --random")
    parser.add_argument("--metric", choices=list(METRICS), default="sharpe_ratio",
                        help="what the results are ranked by (default sharpe_ratio)")
    parser.add_argument("--workers", type=count, default=None,
                        help="worker processes (default: one per core; 0: in this process)")
    parser.add_argument("--executor", default="process", metavar="process|dask://HOST:PORT",
                        help="where the backtests run: this machine's processes, or a Dask "
                             "scheduler")
    parser.add_argument("--in-sample", type=positive, default=1.0, metavar="F",
                        help="share of the bars to rank on; the rest scores out of sample")
    parser.add_argument("--walk-forward", type=count, default=0, metavar="K",
                        help="K walk-forward folds")
    parser.add_argument("--top", type=positive_int, default=20, help="rows in the table")
    parser.set_defaults(func=cmd_optimize)


def cmd_optimize(args: argparse.Namespace) -> int:
    from velocitas_desktop.engine.request import parse_named_params
    from velocitas_desktop.research.optimize import (
        JobStatus,
        OptimizationJob,
        OptimizeSettings,
        parse_range,
    )

    warn_if_over_cores(args.workers, "optimize")
    name, fixed = parse_named_params(args.strategy)
    grid = dict(parse_range(text) for text in args.grid)
    bars = load_history(args.csv)
    settings = OptimizeSettings(
        strategy=name, grid=grid, fixed=fixed, random=args.random, seed=args.seed,
        metric=args.metric, fee=args.fee, slippage=args.slippage, cash=args.cash,
        coin=args.coin.strip().upper(), workers=args.workers, executor=args.executor,
        in_sample=args.in_sample, walk_forward=args.walk_forward)
    job = OptimizationJob(settings, bars)
    result = _run_with_progress(job)
    if job.status == JobStatus.ERROR:
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

    console = Console()
    console.print(ranking_view(console, result, top))
    rows = result["results"]
    has_oos = bool(rows) and "oos_score" in rows[0]
    if has_oos:
        console.print("IS: in-sample (ranked on) · OOS: out-of-sample (the later bars)")
    for fold in result.get("walk_forward", []):
        console.print(f"walk-forward fold {fold['fold']}: best {fold['params']} · in-sample "
                      f"{money(fold['in_sample_score'])} · out-of-sample "
                      f"{money(fold['out_of_sample_score'])}")
    lookahead = result.get("lookahead")
    if lookahead:
        style = "green" if lookahead["ok"] else "bold red"
        console.print(f"[{style}]{lookahead['message']}[/]")


def ranking_view(console: Any, result: dict[str, Any], top: int) -> Any:
    """The best ``top`` rows, each identified by its rank and parameters, fitted to the
    console's width."""
    rows = result["results"]
    has_oos = bool(rows) and "oos_score" in rows[0]
    title = (f"{result['strategy']} · {result['completed']:,} of {result['combinations']:,} "
             f"combinations · ranked by {result['metric']} · {result['elapsed_s']:.1f} s")
    names = [k for k in rows[0]["params"] if k != "quantity"] if rows else []
    keys = [Field("#"), *(Field(name) for name in names)]
    values = [Field("IS score", "IS") if has_oos else Field("score")]
    if has_oos:
        values.append(Field("OOS score", "OOS"))
    values += [Field("net P&L", "P&L"), Field("return %", "ret%"), Field("trades", "fills"),
               Field("win %", "win%"), Field("max DD", "maxDD")]
    cells = []
    for row in rows[:top]:
        s = row["stats"]
        line = [str(row["rank"]), *(f"{row['params'][k]:g}" for k in names), money(row["score"])]
        if has_oos:
            line.append(money(row["oos_score"]))
        line += [money(s["net_pnl"]), money(s["total_return_pct"]), f"{s['total_trades']:,}",
                 money(s["win_rate"]), money(s["max_drawdown"])]
        cells.append(line)
    return fit_table(console, title, keys, values, cells)
