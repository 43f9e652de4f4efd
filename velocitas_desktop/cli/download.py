"""``velocitas download``: Binance kline history into a CSV file, with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from velocitas_desktop.cli.arguments import CliError, number, positive, rest_address
from velocitas_desktop.feeds.binance_rest import KLINE_INTERVALS
from velocitas_desktop.feeds.download import RETRY_SECONDS
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "download", help="download Binance kline history to a CSV file (resumable)",
        description="Download klines from Binance's REST API into the plain CSV layout that "
                    "csv replay, backtest and optimize read. Run the same command again to "
                    "continue an interrupted download.")
    parser.add_argument("--symbol", required=True, help="the Binance market, like BTCUSDT")
    parser.add_argument("--interval", default="1m",
                        help=f"kline interval: {' '.join(KLINE_INTERVALS)} (default 1m)")
    parser.add_argument("--start", required=True, metavar="DATE",
                        help="first bar's open time, YYYY-MM-DD[THH:MM] (UTC)")
    parser.add_argument("--end", default=None, metavar="DATE",
                        help="stop before this time, YYYY-MM-DD[THH:MM] (UTC); default now")
    parser.add_argument("--out", required=True, metavar="FILE", help="the CSV file to write")
    parser.add_argument("--binance-rest-url", type=rest_address, default=BINANCE_REST_URL,
                        metavar="URL",
                        help="REST base URL (Binance, its testnet, or a fake exchange)")
    parser.add_argument("--retry-seconds", type=number(float, least=0), default=RETRY_SECONDS,
                        metavar="S",
                        help=f"how long to retry an address that does not answer before "
                             f"stopping (default {RETRY_SECONDS:g}; 0: no retry)")
    parser.add_argument("--max-wait", type=positive, default=600.0, metavar="S",
                        help="longest Retry-After to wait out before stopping (default 600)")
    parser.set_defaults(func=cmd_download)


def cmd_download(args: argparse.Namespace) -> int:
    from velocitas_desktop.feeds.download import (
        DownloadError,
        DownloadPlan,
        DownloadStopped,
        KlineDownloader,
        check_plan,
        format_ms,
        parse_time,
    )

    try:
        start = parse_time(args.start, "--start")
        end = parse_time(args.end, "--end") if args.end else time.time_ns() // 1_000_000
        plan = check_plan(DownloadPlan(args.symbol, args.interval, start, end, args.out))
        downloader = KlineDownloader(args.binance_rest_url, max_wait=args.max_wait,
                                     retry_seconds=args.retry_seconds)
    except DownloadError as exc:
        raise CliError(str(exc)) from None
    view = _ProgressView(f"{plan.symbol} {plan.interval}")
    try:
        with view:
            result = downloader.run(plan, view.update)
    except DownloadError as exc:
        raise CliError(str(exc)) from None
    except DownloadStopped as exc:
        print(f"velocitas download: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"velocitas download: interrupted; {plan.out} keeps the bars fetched so far, and "
              "the same command continues from there", file=sys.stderr)
        return 130
    span = (f"{format_ms(result.first_open_ms)} to {format_ms(result.last_open_ms)}"
            if result.first_open_ms is not None and result.last_open_ms is not None
            else "nothing new")
    resumed = " (continued)" if result.resumed_after_ms is not None else ""
    print(f"{plan.out}: {result.rows_written} {plan.symbol} {plan.interval} bars written"
          f"{resumed}, {result.rows_total} in the file; new bars {span}")
    return 0


class _ProgressView:
    """A rich progress bar on stderr, so stdout stays clean for the summary."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rows]} bars"), TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"), console=Console(stderr=True), transient=False)
        self._task = self._progress.add_task(title, total=1, rows=0, note="")
        self._started = False

    def __enter__(self) -> _ProgressView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started:
            self._progress.stop()

    def update(self, progress: Any) -> None:
        # shown from the first report on, so a refusal before it prints only its one line
        if not self._started:
            self._started = True
            self._progress.start()
        self._progress.update(self._task, total=max(1, progress.total_ms),
                              completed=progress.covered_ms, rows=progress.rows,
                              note=progress.note)
