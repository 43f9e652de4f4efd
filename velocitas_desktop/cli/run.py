"""``velocitas run``: the engine headless, with a live table in the terminal (or JSON)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from velocitas_desktop.cli.arguments import (
    COMMAND_LINE,
    CliError,
    add_binance_args,
    count,
    fraction,
    open_journal,
    positive,
    positive_int,
)
from velocitas_desktop.engine.config import SOURCES


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run the engine headless with a live table in "
                                            "the terminal")
    run.add_argument("--source", choices=list(SOURCES), default="simulated",
                     help="where prices come from (default simulated)")
    run.add_argument("--coins", default=None, help="comma-separated coins (default BTC,ETH; "
                                                   "for csv, the coins of the files)")
    run.add_argument("--csv", action="append", default=[], metavar="COIN=PATH",
                     help="a bar file to replay for COIN (repeat per coin)")
    run.add_argument("--speed", default="max", help="csv replay speed: N (1 = real time) or max")
    run.add_argument("--rate", default="max", help="simulated ticks per second, or max")
    run.add_argument("--strategy", action="append", default=[], metavar="NAME:COIN[:k=v,...]",
                     help="a strategy to run (repeat); default: each built-in on each coin")
    run.add_argument("--workers", type=count, default=0,
                     help="worker processes for the strategies (0: in the engine's thread)")
    run.add_argument("--fee", type=fraction, default=0.001, help="fee fraction (0.001 = 0.1%%)")
    run.add_argument("--slippage", type=fraction, default=0.0, help="slippage fraction")
    limit = run.add_mutually_exclusive_group()
    limit.add_argument("--duration", type=positive, default=None, metavar="S",
                       help="stop after S seconds")
    limit.add_argument("--ticks", type=positive_int, default=None, metavar="N",
                       help="stop after N ticks")
    run.add_argument("--seed", type=int, default=None, help="seed of the simulated prices")
    run.add_argument("--db", default=None, metavar="PATH", help="journal file (SQLite)")
    run.add_argument("--json", action="store_true", help="print only the final metrics as JSON")
    add_binance_args(run)
    run.set_defaults(func=cmd_run)


def session_request(args: argparse.Namespace) -> Any:
    """The session the flags ask for."""
    from velocitas_desktop.engine.request import (
        SessionRequest,
        parse_coins,
        parse_csv_files,
        parse_pace,
    )

    return SessionRequest(
        source=args.source,
        coins=parse_coins(args.coins, COMMAND_LINE) if args.coins else None,
        csv_files=parse_csv_files(args.csv, COMMAND_LINE),
        speed=parse_pace(args.speed, "speed", COMMAND_LINE),
        rate=parse_pace(args.rate, "rate", COMMAND_LINE),
        workers=args.workers, fee=args.fee, slippage=args.slippage, seed=args.seed,
        ticks=args.ticks, duration=args.duration,
        binance_rest_url=args.binance_rest_url, binance_ws_url=args.binance_ws_url,
        quote_asset=args.quote_asset)


def cmd_run(args: argparse.Namespace) -> int:
    from velocitas_desktop.engine.contract import EngineStatus
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.engine.request import parse_strategy, session_config

    config = session_config(session_request(args), words=COMMAND_LINE)
    engine = Engine(journal=open_journal(args.db), restore=False)
    specs = []
    for text in args.strategy or engine.catalog.names():
        specs.extend(parse_strategy(text, config.coins))
    for spec in specs:
        if spec.coin not in config.coins:
            raise CliError(f"strategy {spec.name} trades {spec.coin}, which is not among the "
                           f"coins ({','.join(config.coins)})")
        engine.register(spec)
    try:
        engine.start(config)
    except BaseException:
        engine.close()
        raise
    try:
        if args.json:
            engine.wait()
        else:
            _live_table(engine)
    except KeyboardInterrupt:
        pass
    finally:
        if engine.status.stoppable:
            engine.stop()
        engine.wait(5)
        snapshot = engine.snapshot()
        engine.close()
    if args.json:
        print(json.dumps(snapshot, default=str))
    return 0 if snapshot["global"]["status"] != EngineStatus.ERROR else 1


def _live_table(engine: Any) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=False)
    with Live(_metrics_table(engine.snapshot()), console=console, refresh_per_second=4) as live:
        while not engine.wait(0.25):
            live.update(_metrics_table(engine.snapshot()))
        live.update(_metrics_table(engine.snapshot()))


def _metrics_table(snapshot: dict[str, Any]) -> Any:
    from rich.table import Table

    from velocitas_desktop.engine.config import clock_text

    glob = snapshot["global"]
    title = (f"Velocitas · {glob['status']} · {glob['ticks_processed']:,} ticks · "
             f"{glob['ticks_per_second']:,.0f} ticks/s · net P&L {glob['net_pnl']:,.2f} · "
             f"trades {glob['total_trades']:,}")
    clock = clock_text(glob.get("clock") or {})
    if clock:  # the stamps are the data's: say whose time it is and how fast it runs
        title += f"\n{clock}"
    table = Table(title=title, expand=False)
    for column in ("strategy", "status", "trades", "win %", "net P&L", "unrealised",
                   "position", "max DD", "Sharpe"):
        table.add_column(column, justify="left" if column in ("strategy", "status") else "right")
    for sid, m in snapshot["strategies"].items():
        pnl = m["net_pnl"]
        colour = "green" if pnl > 0 else "red" if pnl < 0 else ""
        table.add_row(sid, m.get("status", ""), f"{m['total_trades']:,}", f"{m['win_rate']:.1f}",
                      f"[{colour}]{pnl:,.2f}[/]" if colour else f"{pnl:,.2f}",
                      f"{m['unrealized_pnl']:,.2f}", f"{m['current_position']:g}",
                      f"{m['max_drawdown']:,.2f}", f"{m['sharpe_ratio']:.2f}")
    return table
