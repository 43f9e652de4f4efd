"""``velocitas gui`` (and plain ``velocitas``): open the trading terminal."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from velocitas_desktop.cli.arguments import add_retention_args, positive


def register(subparsers: Any) -> None:
    gui = subparsers.add_parser("gui", help="open the trading terminal (the default)")
    gui.add_argument("--demo", action="store_true",
                     help="start on the simulated feed with each built-in on each coin")
    gui.add_argument("--screenshot", default=None, metavar="PNG",
                     help="save a picture of the window to PNG (with --quit-after)")
    gui.add_argument("--quit-after", type=positive, default=None, metavar="S",
                     help="close the window after S seconds")
    gui.add_argument("--db", default=None, metavar="PATH",
                     help="journal file (SQLite); the last session is restored from it")
    add_retention_args(gui)  # for this run; the settings keep the saved limits
    gui.set_defaults(func=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from velocitas_desktop.gui.app import run_gui
    except ImportError as exc:
        print(f"velocitas: the window cannot open: {exc}", file=sys.stderr)
        return 1
    return run_gui(args)
