"""The ``velocitas`` command: the window by default, and headless subcommands.

Bad arguments end with exit code 2 and one line on stderr that says what to fix.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from velocitas_desktop import __version__
from velocitas_desktop.core.errors import VelocitasError

USAGE_ERROR = 2


class CliError(Exception):
    """A mistake in the command line; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command = args.command or "gui"
        if command == "gui" and not hasattr(args, "func"):
            args = parser.parse_args(["gui", *argv])
        return int(args.func(args) or 0)
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return USAGE_ERROR
    except VelocitasError as exc:
        print(f"velocitas: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130


# Each of these modules has ``register(subparsers)`` adding its subcommand; a subcommand's
# handler raises CliError (exit code 2, one line) for bad input.
COMMAND_MODULES: tuple[str, ...] = (
    "velocitas_desktop.cli.serve",
    "velocitas_desktop.cli.backtest",
    "velocitas_desktop.cli.download",
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="velocitas", description="Velocitas, a crypto trading terminal.")
    parser.add_argument("--version", action="version", version=f"velocitas {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _add_run(sub)
    _add_gui(sub)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


# --- velocitas run ----------------------------------------------------------------------

def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="run the engine headless with a live table in the terminal")
    run.add_argument("--source", choices=["simulated", "csv", "binance"], default="simulated")
    run.add_argument("--coins", default=None, help="comma-separated coins (default BTC,ETH)")
    run.add_argument("--csv", action="append", default=[], metavar="COIN=PATH",
                     help="a bar file to replay for COIN (repeat per coin)")
    run.add_argument("--speed", default="max", help="csv replay speed: N (1 = real time) or max")
    run.add_argument("--rate", default="max", help="simulated ticks per second, or max")
    run.add_argument("--strategy", action="append", default=[], metavar="NAME:COIN[:k=v,...]",
                     help="a strategy to run (repeat); default: each built-in on each coin")
    run.add_argument("--workers", type=non_negative_int_arg, default=0)
    run.add_argument("--fee", type=fraction_arg, default=0.001, help="fee fraction (0.001 = 0.1%%)")
    run.add_argument("--slippage", type=fraction_arg, default=0.0, help="slippage fraction")
    limit = run.add_mutually_exclusive_group()
    limit.add_argument("--duration", type=positive_float_arg, default=None, metavar="S")
    limit.add_argument("--ticks", type=positive_int_arg, default=None, metavar="N")
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--db", default=None, metavar="PATH", help="journal file (SQLite)")
    run.add_argument("--json", action="store_true", help="print only the final metrics as JSON")
    add_binance_args(run)
    run.set_defaults(func=cmd_run)


def add_binance_args(parser: argparse.ArgumentParser) -> None:
    """The Binance endpoints, so one code path serves Binance, its testnet and a fake."""
    parser.add_argument("--binance-rest-url", default="https://api.binance.com", metavar="URL")
    parser.add_argument("--binance-ws-url", default="wss://stream.binance.com:9443",
                        metavar="URL")
    parser.add_argument("--quote-asset", default="USDT",
                        help="the asset coins are priced in (BTC → BTCUSDT)")


def parse_strategy(text: str, default_coins: list[str]) -> list[Any]:
    """``NAME:COIN[:k=v,...]`` (or ``NAME`` for every coin) → StrategySpecs."""
    from velocitas_desktop.core.strategy import StrategySpec, check_coin

    parts = text.split(":", 2)
    name = parts[0].strip()
    if not name:
        raise CliError(f"--strategy {text!r}: give it as NAME:COIN[:k=v,...]")
    coins = [check_coin(parts[1])] if len(parts) > 1 and parts[1].strip() else default_coins
    params: dict[str, str] = {}
    if len(parts) > 2 and parts[2].strip():
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CliError(f"--strategy {text!r}: parameters are k=v pairs, like fast=10")
            params[key.strip()] = value.strip()
    return [StrategySpec(name, coin, params) for coin in coins]


def cmd_run(args: argparse.Namespace) -> int:
    from velocitas_desktop.core.strategy import check_coin
    from velocitas_desktop.engine.contract import EngineStatus
    from velocitas_desktop.engine.engine import Engine, EngineConfig
    from velocitas_desktop.feeds.base import FeedError

    csv_files = parse_csv_args(args.csv)
    if args.source == "csv" and not csv_files:
        raise CliError("velocitas run: --source csv needs --csv COIN=PATH for each coin")
    if args.source != "csv" and csv_files:
        raise CliError("velocitas run: --csv is only used with --source csv")
    if args.coins:
        coins = [check_coin(c) for c in args.coins.split(",") if c.strip()]
    else:
        coins = list(csv_files) if args.source == "csv" else ["BTC", "ETH"]
    if args.source == "csv" and set(coins) != set(csv_files):
        raise CliError("velocitas run: --coins must match the coins given with --csv")
    config = EngineConfig(
        source=args.source, coins=coins, csv_files=csv_files,
        speed=speed_arg(args.speed, "--speed"), rate=speed_arg(args.rate, "--rate"),
        workers=args.workers, fee=args.fee, slippage=args.slippage, seed=args.seed,
        max_ticks=args.ticks, duration=args.duration,
        start_time=0.0 if args.seed is not None else None,
        binance_rest_url=args.binance_rest_url, binance_ws_url=args.binance_ws_url,
        quote_asset=args.quote_asset.upper(),
    )
    engine = Engine(journal=open_journal(args.db), restore=False)
    specs = []
    for text in args.strategy or [name for name in engine.catalog.names()]:
        specs.extend(parse_strategy(text, coins))
    for spec in specs:
        if spec.coin not in coins:
            raise CliError(f"velocitas run: strategy {spec.name} trades {spec.coin}, "
                           f"which is not among the coins ({','.join(coins)})")
        engine.register(spec)
    try:
        engine.start(config)
    except FeedError as exc:
        raise CliError(f"velocitas run: {exc}") from None
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

    glob = snapshot["global"]
    title = (f"Velocitas · {glob['status']} · {glob['ticks_processed']:,} ticks · "
             f"{glob['ticks_per_second']:,.0f} ticks/s · net P&L {glob['net_pnl']:,.2f} · "
             f"trades {glob['total_trades']:,}")
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


# --- velocitas gui ----------------------------------------------------------------------

def _add_gui(sub: Any) -> None:
    gui = sub.add_parser("gui", help="open the trading terminal (the default)")
    gui.add_argument("--demo", action="store_true",
                     help="start on the simulated feed with each built-in on each coin")
    gui.add_argument("--screenshot", default=None, metavar="PNG")
    gui.add_argument("--quit-after", type=positive_float_arg, default=None, metavar="S")
    gui.add_argument("--db", default=None, metavar="PATH")
    gui.set_defaults(func=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from velocitas_desktop.gui.app import run_gui
    except ImportError as exc:
        print(f"velocitas: the window cannot open: {exc}", file=sys.stderr)
        return 1
    return run_gui(args)


# --- shared argument helpers ------------------------------------------------------------

def open_journal(path: str | None) -> Any:
    from velocitas_desktop.paths import default_journal_path
    from velocitas_desktop.store.journal import Journal, JournalError

    try:
        return Journal(path or default_journal_path())
    except JournalError as exc:
        raise CliError(f"velocitas: {exc}") from None


def parse_csv_args(items: list[str]) -> dict[str, str]:
    from velocitas_desktop.core.strategy import check_coin

    files: dict[str, str] = {}
    for item in items:
        coin, sep, path = item.partition("=")
        if not sep or not coin.strip() or not path.strip():
            raise CliError(f"--csv {item!r}: give it as COIN=PATH, like BTC=btc-1m.csv")
        if not os.path.exists(path):
            raise CliError(f"--csv {item!r}: no such file {path}")
        files[check_coin(coin)] = path
    return files


def speed_arg(text: str, flag: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text.rstrip("xX"))
    except ValueError:
        raise CliError(f"{flag} must be a positive number or max (got {text!r})") from None
    if not value > 0:
        raise CliError(f"{flag} must be a positive number or max (got {text!r})")
    return value


def fraction_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a fraction from 0 to 1 (0.001 = 0.1%)")
    return value


def positive_float_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def positive_int_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def non_negative_int_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


