"""``velocitas samples``: the bar files shipped with Velocitas, by name and path."""

from __future__ import annotations

import argparse
from typing import Any

from velocitas_desktop.cli.arguments import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "samples", help="list the sample bar files shipped with Velocitas and where they are",
        description="The sample data installed with Velocitas. Give a sample's name wherever a "
                    "bar file goes (run --csv BTC=sample:BTCUSD-1h, backtest --csv "
                    "sample:BTCUSD-1h); with NAME, only its path is printed.")
    parser.add_argument("name", nargs="?", default=None, metavar="NAME",
                        help="a sample's name (like BTCUSD-1h): print only its path")
    parser.set_defaults(func=cmd_samples)


def cmd_samples(args: argparse.Namespace) -> int:
    from velocitas_desktop.paths import SAMPLE_PREFIX, resolve_sample, samples

    if args.name is not None:
        name = args.name if args.name.startswith(SAMPLE_PREFIX) else SAMPLE_PREFIX + args.name
        try:
            print(resolve_sample(name))
        except ValueError as exc:
            raise CliError(str(exc)) from None
        return 0
    shipped = samples()
    width = max((len(SAMPLE_PREFIX + name) for name in shipped), default=0)
    for name, path in shipped.items():
        print(f"{SAMPLE_PREFIX + name:<{width}}  {path}")
    return 0
