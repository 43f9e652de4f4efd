"""``velocitas run``: the engine headless, with a live table in the terminal (or JSON).

Exit codes: 0 the session ran as asked, 1 it ended on an error, 2 a bad command line, 3 the
journal could not be written (trading paused at least once, or fills were not saved).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from velocitas_desktop.cli.arguments import (
    COMMAND_LINE,
    CliError,
    add_binance_args,
    add_min_free_arg,
    add_retention_args,
    count,
    fraction,
    open_journal,
    positive,
    positive_int,
    retention_policy,
    warn_if_over_cores,
)
from velocitas_desktop.cli.sessions import journal_line
from velocitas_desktop.cli.tables import Field, fit_table
from velocitas_desktop.engine.config import SOURCES
from velocitas_desktop.engine.request import DEFAULT_TIMEFRAME

JOURNAL_FAILED = 3  # the exit code when the journal could not be written


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
                     help="a strategy to run (repeat); NAME alone runs it on every coin; "
                          "timeframe=5m among the k=v pairs sets its bars; default: each "
                          "built-in on each coin")
    run.add_argument("--timeframe", default=None, metavar="TF",
                     help=f"what strategies decide on unless their --strategy says: tick, or "
                          f"bars of 1s to 1d (default {DEFAULT_TIMEFRAME}; tick for a csv "
                          "replay, whose rows are bars already)")
    run.add_argument("--workers", type=count, default=0,
                     help="worker processes for the strategies (0: in the engine's thread)")
    run.add_argument("--fee", type=fraction, default=0.001, help="fee fraction (0.001 = 0.1%%)")
    run.add_argument("--slippage", type=fraction, default=0.0, help="slippage fraction")
    run.add_argument("--capital", type=positive, default=None, metavar="AMOUNT",
                     help="each strategy's starting capital in the quote currency; a position "
                          "is worth it unless a quantity is given (default 10000)")
    run.add_argument("--risk-free", type=float, default=None, metavar="RATE",
                     help="yearly risk-free rate for Sharpe (0.04 = 4%%; default 0)")
    limit = run.add_mutually_exclusive_group()
    limit.add_argument("--duration", type=positive, default=None, metavar="S",
                       help="stop after S seconds")
    limit.add_argument("--ticks", type=positive_int, default=None, metavar="N",
                       help="stop after N ticks")
    run.add_argument("--seed", type=int, default=None, help="seed of the simulated prices")
    run.add_argument("--db", default=None, metavar="PATH", help="journal file (SQLite)")
    run.add_argument("--continue", dest="go_on", action="store_true",
                     help="go on with the journal's last session: its strategies, open "
                          "positions, figures and P&L history (on the --source it ran on; "
                          "its coins unless --coins)")
    run.add_argument("--json", action="store_true",
                     help="print only the final metrics as JSON (the journal line goes to stderr)")
    add_retention_args(run)
    add_min_free_arg(run)
    add_binance_args(run)
    run.set_defaults(func=cmd_run)


def session_request(args: argparse.Namespace, last_coins: list[str] | None = None) -> Any:
    """The session the flags ask for (``last_coins``: the coins of the session it goes on
    with, unless --coins names others)."""
    from velocitas_desktop.engine.request import (
        SessionRequest,
        parse_coins,
        parse_csv_files,
        parse_pace,
    )

    coins = (parse_coins(args.coins, COMMAND_LINE) if args.coins is not None
             else tuple(last_coins) if last_coins and args.source != "csv" else None)
    return SessionRequest(
        source=args.source,
        coins=coins,
        session="continue" if args.go_on else "new",
        csv_files=parse_csv_files(args.csv, COMMAND_LINE),
        speed=parse_pace(args.speed, "speed", COMMAND_LINE),
        rate=parse_pace(args.rate, "rate", COMMAND_LINE),
        workers=args.workers, fee=args.fee, slippage=args.slippage, seed=args.seed,
        ticks=args.ticks, duration=args.duration, capital=args.capital,
        risk_free_rate=args.risk_free, min_free_mb=args.min_free_mb,
        binance_rest_url=args.binance_rest_url, binance_ws_url=args.binance_ws_url,
        quote_asset=args.quote_asset)


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from velocitas_desktop.engine.contract import EngineStatus
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.engine.request import (
        check_timeframe,
        default_timeframe,
        parse_strategy,
        session_config,
    )

    policy = retention_policy(args)
    journal = open_journal(args.db, policy)
    try:
        config = session_config(session_request(args, _last_coins(journal) if args.go_on
                                                else None), words=COMMAND_LINE)
    except BaseException:
        journal.close()
        raise
    warn_if_over_cores(args.workers, "run")
    timeframe = (check_timeframe(args.timeframe, "--timeframe") if args.timeframe is not None
                 else default_timeframe(config.source))
    console = Console()
    engine = Engine(journal=journal, restore=args.go_on)
    specs = []
    # going on: the session's own strategies, and any --strategy it does not have yet
    for text in args.strategy or ([] if args.go_on else engine.catalog.names()):
        specs.extend(parse_strategy(text, config.coins, timeframe=timeframe))
    registered = {s["strategy_id"] for s in engine.strategies()}
    for spec in specs:
        if spec.coin not in config.coins:
            engine.close()
            raise CliError(f"strategy {spec.name} trades {spec.coin}, which is not among the "
                           f"coins ({','.join(config.coins)})")
        if spec.id not in registered:
            engine.register(spec)
    try:
        engine.start(config)
    except BaseException:
        engine.close()
        raise
    interrupted = False
    try:
        if args.json:
            engine.wait()
        else:
            _watch(engine, console)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if engine.status.stoppable:
            engine.stop()
        engine.wait(5)
        snapshot = engine.snapshot()
        engine.close()
    _report(args, console, snapshot, interrupted)
    # where the session went, and how big the journal is now (stderr beside JSON)
    print(journal_line(engine.journal.path, policy), file=sys.stderr if args.json else sys.stdout)
    trouble = journal_trouble(snapshot)
    if trouble:
        print(f"velocitas run: {trouble}", file=sys.stderr)
        return JOURNAL_FAILED
    return 0 if snapshot["global"]["status"] != EngineStatus.ERROR else 1


def journal_trouble(snapshot: dict[str, Any]) -> str:
    """Why the journal let the session down, in one line, or "" if it did not."""
    from velocitas_desktop.engine.contract import JournalState

    journal = snapshot["global"].get("journal") or {}
    pauses = journal.get("pauses", 0)
    if journal.get("state") == JournalState.FAILED:
        return journal.get("message", "")
    if not pauses:
        return ""
    times = "once" if pauses == 1 else f"{pauses} times"
    return f"trading paused {times} because of the journal; the last time: {journal['message']}"


def _last_coins(journal: Any) -> list[str] | None:
    """The coins of the journal's last session, if it has one."""
    last = journal.last_session()
    return None if last is None else list(journal.config(last).get("coins") or [])


def _report(args: argparse.Namespace, console: Any, snapshot: dict[str, Any],
            interrupted: bool) -> None:
    """The final figures: the table and how the session ended, or the JSON object alone on
    stdout (with a line on stderr if Ctrl-C ended it)."""
    ending = session_ending(snapshot, interrupted)
    if args.json:
        print(json.dumps(snapshot, default=str))
        if interrupted:
            print(f"velocitas run: {ending}", file=sys.stderr)
    else:
        console.print(metrics_view(console, snapshot))
        console.print(ending, markup=False, highlight=False)


def session_ending(snapshot: dict[str, Any], interrupted: bool) -> str:
    """How the session ended and why, in one line: ``stopped: you pressed Ctrl-C; 51,234 ticks
    processed``, ``finished: simulation reached its tick limit; 1,000,000 ticks processed``."""
    glob = snapshot["global"]
    ticks = f"{glob['ticks_processed']:,} ticks"
    if interrupted:
        return f"{glob['status']}: you pressed Ctrl-C; {ticks} processed"
    why = (journal_trouble(snapshot) or (glob.get("feed") or {}).get("message")
           or glob.get("error") or "")
    return f"{glob['status']}: {why + '; ' if why else ''}{ticks} processed"


def _watch(engine: Any, console: Any) -> None:
    """The live table until the session ends. Transient: the final table is printed once
    afterwards, with the state the engine stopped in (a pipe gets only that one)."""
    from rich.live import Live

    from velocitas_desktop.engine.contract import EngineStatus

    said = ""
    with Live(metrics_view(console, engine.snapshot()), console=console,
              refresh_per_second=4, transient=True) as live:
        while not engine.wait(0.25):
            message = engine.status_message
            if engine.status == EngineStatus.PAUSED and message != said:
                live.console.print(message, markup=False, highlight=False)  # above the table
                said = message
            live.update(metrics_view(console, engine.snapshot()))


STRATEGY_KEYS = (Field("strategy", number=False),)
STRATEGY_VALUES = (Field("status", number=False), Field("fills"),
                   Field("round trips", "closed"), Field("win %", "win%"),
                   Field("net P&L", "P&L"), Field("return %", "ret%"),
                   Field("unrealised", "unreal."), Field("position", "pos."),
                   Field("max DD", "maxDD"), Field("max DD %", "DD%"), Field("Sharpe"))


def metrics_view(console: Any, snapshot: dict[str, Any]) -> Any:
    """The session's figures and a row per strategy, fitted to the console's width."""
    from rich.text import Text

    from velocitas_desktop.engine.config import clock_text

    glob = snapshot["global"]
    title = (f"Velocitas · {glob['status']} · {glob['ticks_processed']:,} ticks · "
             f"{glob['ticks_per_second']:,.0f} ticks/s · net P&L {glob['net_pnl']:,.2f} · "
             f"fills {glob['total_trades']:,} · round trips {glob.get('closed_trades', 0):,}")
    clock = clock_text(glob.get("clock") or {})
    if clock:  # the stamps are the data's: say whose time it is and how fast it runs
        title += f"\n{clock}"
    rows = []
    for sid, m in snapshot["strategies"].items():
        pnl = m["net_pnl"]
        colour = "green" if pnl > 0 else "red" if pnl < 0 else ""
        rows.append([sid, m.get("status", ""), f"{m['total_trades']:,}",
                     f"{m.get('closed_trades', 0):,}", f"{m['win_rate']:.1f}",
                     Text(f"{pnl:,.2f}", style=colour), _percent(m.get("return_pct")),
                     f"{m['unrealized_pnl']:,.2f}", f"{m['current_position']:g}",
                     f"{m['max_drawdown']:,.2f}", _percent(m.get("max_drawdown_pct")),
                     _ratio(m["sharpe_ratio"])])
    return fit_table(console, title, STRATEGY_KEYS, STRATEGY_VALUES, rows)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _ratio(value: float | None) -> str:
    """A Sharpe ratio, or — when there are too few daily returns for one to mean anything."""
    return "—" if value is None else f"{value:.2f}"
