"""The ``velocitas`` command: the window by default, and headless subcommands.

Each subcommand is a module of this package with ``register(subparsers)``. A bad argument (or
any error meant for the user) ends with exit code 2 and one line on stderr that says what to
fix.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from velocitas_desktop import __version__
from velocitas_desktop.cli.arguments import USAGE_ERROR, CliError, Parser
from velocitas_desktop.core.errors import VelocitasError

__all__ = ["CliError", "build_parser", "main"]

SUBCOMMANDS = ("run", "gui", "serve", "backtest", "optimize", "trend", "copilot", "download",
               "sessions", "samples")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    command = "gui"
    try:
        args = parser.parse_args(argv)
        command = args.command or "gui"
        if command == "gui" and not hasattr(args, "func"):
            args = parser.parse_args(["gui", *argv])
        return int(args.func(args) or 0)
    except VelocitasError as exc:
        text = str(exc)
        print(text if text.startswith("velocitas") else f"velocitas {command}: {text}",
              file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (velocitas run | head): nothing left to say, and no one to say
        # it to; stdout is pointed at devnull so the interpreter's final flush fails quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="velocitas", description="Velocitas, a crypto trading terminal.")
    parser.add_argument("--version", action="version", version=f"velocitas {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND",
                                help="what to do (default: gui, the window); "
                                     "velocitas COMMAND --help says more")
    for name in SUBCOMMANDS:
        importlib.import_module(f"velocitas_desktop.cli.{name}").register(sub)
    return parser
