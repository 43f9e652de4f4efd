"""What ``backtest`` and ``optimize`` share: the bar file and cost options, loading the bars,
and numbers as the terminal shows them."""

from __future__ import annotations

import argparse
import math
from typing import Any

from velocitas_desktop.cli.arguments import CliError, fraction, positive


def add_history_args(parser: argparse.ArgumentParser) -> None:
    """The bar file, the costs and the starting cash of a backtest."""
    parser.add_argument("--csv", required=True, metavar="FILE", help="a bar file (plain or "
                        "Binance layout), or a shipped sample like sample:BTCUSD-1h "
                        "(velocitas samples lists them); each bar trades at its close")
    parser.add_argument("--fee", type=fraction, default=0.001,
                        help="fee fraction per fill (0.001 = 0.1%%)")
    parser.add_argument("--slippage", type=fraction, default=0.0, help="slippage fraction")
    parser.add_argument("--cash", "--capital", dest="cash", type=positive, default=10_000.0,
                        help="starting capital in quote currency; a position is worth it "
                             "unless a quantity is given (default 10000)")
    parser.add_argument("--coin", default="BTC", help="the coin the bars are (trade records)")
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")


def load_history(path: str) -> Any:
    """The bars of ``path``, or of a shipped sample (``sample:BTCUSD-1h``); BacktestError or
    CliError, user errors, if it cannot be read."""
    from velocitas_desktop.paths import resolve_sample
    from velocitas_desktop.research.backtest import load_bars

    try:
        resolved = resolve_sample(path)
    except ValueError as exc:
        raise CliError(f"--csv: {exc}") from None
    return load_bars(resolved)


def money(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:,.2f}"


def percent(value: float) -> str:
    return f"{value:,.2f} %"
