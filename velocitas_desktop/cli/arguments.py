"""What the subcommands share: the usage error, argument types, and common options."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from velocitas_desktop.core.errors import UsageError
from velocitas_desktop.engine.request import Vocabulary
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL, BINANCE_WS_URL

USAGE_ERROR = 2  # the exit code of a bad command line

# How the session request's fields are spelled on the command line, for its messages.
COMMAND_LINE = Vocabulary(
    {"source": "--source", "coins": "--coins", "csv_files": "--csv", "speed": "--speed",
     "rate": "--rate", "workers": "--workers", "fee": "--fee", "slippage": "--slippage",
     "duration": "--duration", "ticks": "--ticks", "capital": "--capital",
     "risk_free_rate": "--risk-free", "min_free_mb": "--min-free-mb"}, assign=" ")


class CliError(UsageError):
    """A mistake in the command line: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its complaints raised as CliError instead of printed with the usage."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message}")


def number(kind: type[int] | type[float] = float, *, above: float | None = None,
           least: float | None = None, below: float | None = None,
           most: float | None = None, rule: str | None = None) -> Callable[[str], Any]:
    """An argument type: a number of ``kind`` within the bounds given (``above``/``below``
    exclusive, ``least``/``most`` inclusive); ``rule`` says the bounds in words when the
    default wording would not (a fraction, a port)."""
    whole = kind is int
    words = rule or _bounds_in_words(above, least, below, most)

    def convert(text: str) -> int | float:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if whole else 'a number'}") from None
        if ((above is not None and not value > above) or (least is not None and value < least)
                or (below is not None and not value < below)
                or (most is not None and value > most) or value != value):
            verb = "is not" if words.startswith("a ") else "must be"  # a port, a fraction
            raise argparse.ArgumentTypeError(f"{text} {verb} {words}")
        return value

    convert.__name__ = rule or words  # argparse names the type in some messages
    return convert


def _bounds_in_words(above: float | None, least: float | None, below: float | None,
                     most: float | None) -> str:
    parts = []
    if above == 0 and below is None and most is None:
        return "positive"
    if least == 0 and below is None and most is None:
        return "0 or more"
    if above is not None:
        parts.append(f"above {above:g}")
    if least is not None:
        parts.append(f"at least {least:g}")
    if below is not None:
        parts.append(f"below {below:g}")
    if most is not None:
        parts.append(f"at most {most:g}")
    return " and ".join(parts) or "a number"


def address(schemes: tuple[str, ...], example: str) -> Callable[[str], str]:
    """An argument type: a base URL with one of ``schemes`` and a host, refused at once
    otherwise (it used to be retried as a network failure for 31 s, then exit 1)."""
    from velocitas_desktop.feeds.binance_rest import BadAddress, check_base_url

    def convert(text: str) -> str:
        try:
            return check_base_url(text, schemes, example)
        except BadAddress as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = f"{schemes[0]} address"
    return convert


rest_address = address(("https", "http"), BINANCE_REST_URL)
stream_address = address(("wss", "ws"), BINANCE_WS_URL)

positive = number(float, above=0)
positive_int = number(int, least=1)
count = number(int, least=0)
fraction = number(float, least=0, below=1, rule="a fraction from 0 to 1 (0.001 = 0.1%)")
port = number(int, least=0, most=65535, rule="a port number (0 to 65535)")


def add_binance_args(parser: argparse.ArgumentParser) -> None:
    """The Binance endpoints, so one code path serves Binance, its testnet and a fake."""
    parser.add_argument("--binance-rest-url", type=rest_address, default=BINANCE_REST_URL,
                        metavar="URL", help="Binance REST base URL (Binance, its testnet, or a "
                                            "test exchange)")
    parser.add_argument("--binance-ws-url", type=stream_address, default=BINANCE_WS_URL,
                        metavar="URL", help="Binance WebSocket base URL")
    parser.add_argument("--quote-asset", default="USDT",
                        help="the asset coins are priced in (BTC → BTCUSDT)")


def add_retention_args(parser: argparse.ArgumentParser) -> None:
    """How much of the journal to keep (applied when a session starts; 0 = no limit)."""
    from velocitas_desktop.store.retention import DEFAULT_KEEP_GB, DEFAULT_KEEP_SESSIONS

    parser.add_argument("--keep-sessions", type=count, default=None, metavar="N",
                        help=f"keep the last N sessions in the journal (default "
                             f"{DEFAULT_KEEP_SESSIONS}; 0 = no limit)")
    parser.add_argument("--keep-gb", type=number(float, least=0), default=None, metavar="X",
                        help=f"keep at most X GB of sessions in the journal (default "
                             f"{DEFAULT_KEEP_GB:g}; 0 = no limit)")


def add_min_free_arg(parser: argparse.ArgumentParser) -> None:
    """The free space a session keeps on the journal's disk (trading pauses below it)."""
    from velocitas_desktop.engine.config import DEFAULT_MIN_FREE_MB

    parser.add_argument("--min-free-mb", type=number(float, least=0), default=None,
                        metavar="MB", help=f"free space to keep on the journal's disk: below "
                                           f"it no new fills are made until there is more "
                                           f"(default {DEFAULT_MIN_FREE_MB:g}; 0 = off)")


def retention_policy(args: argparse.Namespace) -> Any:
    """The retention policy the flags ask for, the defaults where they are silent."""
    from velocitas_desktop.store.retention import Retention

    default = Retention()
    return Retention(default.keep_sessions if args.keep_sessions is None else args.keep_sessions,
                     default.keep_gb if args.keep_gb is None else args.keep_gb)


def open_journal(path: str | None, policy: Any = None) -> Any:
    """The journal at ``path`` (default: the user's data folder), dropping old sessions by
    ``policy`` when one starts; CliError if it cannot open. A journal from an older version
    is upgraded first, with a progress bar on stderr."""
    from velocitas_desktop.paths import default_journal_path
    from velocitas_desktop.store.journal import Journal, JournalError

    try:
        with ProgressBar("upgrading the journal", "fills") as bar:
            return Journal(path or default_journal_path(), policy, progress=bar.update)
    except JournalError as exc:
        raise CliError(str(exc)) from None


def warn_if_over_cores(workers: int | None, command: str) -> None:
    """A line on stderr when ``--workers`` asks for more processes than there are cores: they
    would only take turns on the same cores, each with its own start-up and memory."""
    cores = os.cpu_count() or 1
    if workers is not None and workers > cores:
        print(f"velocitas {command}: warning: --workers {workers} is more than the {cores} "
              f"cores of this machine; the extra processes only take turns (try --workers "
              f"{cores})", file=sys.stderr)
class ProgressBar:
    """A progress bar on stderr (stdout stays clean), shown from the first report on, gone
    when done, and only on a terminal: a pipe or a log file gets nothing."""

    def __init__(self, title: str, unit: str) -> None:
        self.title, self.unit = title, unit
        self._progress: Any = None
        self._task: Any = None
        self._silent = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, done: int, total: int) -> None:
        if self._silent:
            return
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            console = Console(stderr=True)
            if not console.is_terminal:
                self._silent = True
                return
            self._progress = Progress(TextColumn(f"[bold]{self.title}"), BarColumn(),
                                      MofNCompleteColumn(), TextColumn(self.unit),
                                      console=console, transient=True)
            self._task = self._progress.add_task(self.title, total=max(total, 1))
            self._progress.start()
        self._progress.update(self._task, completed=done, total=max(total, 1))


def add_strategy_folder_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy-folder", action="append", default=[], metavar="FOLDER",
                        help="a folder of your own strategy files (*.py), beside the "
                             "built-ins; repeat for several")


def strategy_catalog(folders: list[str], command: str) -> Any:
    """The built-ins and the strategies in ``folders``; a missing folder is a usage error, a
    file that fails to load is said on stderr and the others are used."""
    from pathlib import Path

    from velocitas_desktop.catalog import load_catalog

    missing = [folder for folder in folders if not Path(folder).expanduser().is_dir()]
    if missing:
        raise CliError(f"--strategy-folder: {missing[0]} is not a folder")
    catalog = load_catalog(folders)
    for problem in catalog.problems:
        print(f"velocitas {command}: skipped {problem.path}: {problem.reason}", file=sys.stderr)
    return catalog
