"""``velocitas trend``: what the market in a bar file is doing on each timeframe, and which
strategies fitted it out of sample (research/trend_jobs.run_trend, as the window and API)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from velocitas_desktop.cli.arguments import (
    CliError,
    ProgressBar,
    add_strategy_folder_arg,
    count,
    positive_int,
    strategy_catalog,
    warn_if_over_cores,
)
from velocitas_desktop.cli.research import money
from velocitas_desktop.cli.tables import Field, fit_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "trend", help="the trend, volatility, character and levels of a bar file per "
                      "timeframe, and the strategies that fitted it out of sample")
    parser.add_argument("--csv", required=True, metavar="FILE",
                        help="a bar file (plain or Binance layout), or a shipped sample like "
                             "sample:BTCUSD-1h (velocitas samples lists them)")
    parser.add_argument("--timeframes", type=timeframe_list, default=None, metavar="TF,...",
                        help="the timeframes to analyse, e.g. 1h,4h,1d (default: the file's "
                             "own and up to three coarser ones)")
    parser.add_argument("--json", action="store_true",
                        help="print only the report's JSON on stdout (docs/trend.md)")
    parser.add_argument("--no-suggest", dest="suggest", action="store_false",
                        help="analyse only: no walk-forward search for strategies")
    parser.add_argument("--suggest-bars", type=positive_int, default=100_000, metavar="N",
                        help="the most recent bars the suggestions are searched on "
                             "(default 100000)")
    parser.add_argument("--folds", type=positive_int, default=4, metavar="K",
                        help="walk-forward folds of the suggestions (default 4)")
    parser.add_argument("--coin", default=None, help="the coin the bars are, for the report")
    parser.add_argument("--workers", type=count, default=None, metavar="N",
                        help="worker processes of the suggestions (default: one per core; "
                             "0: in this process)")
    add_strategy_folder_arg(parser)
    parser.set_defaults(func=cmd_trend)


def timeframe_list(text: str) -> tuple[str, ...]:
    """``"1h, 4h,1d"`` → ``("1h", "4h", "1d")``; an empty item is a mistake, not skipped."""
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: give timeframes separated by commas, "
                                         "like 1h,4h,1d")
    return names


def cmd_trend(args: argparse.Namespace) -> int:
    from velocitas_desktop.core.finite import finite_or_none
    from velocitas_desktop.core.strategy import check_coin
    from velocitas_desktop.paths import resolve_sample
    from velocitas_desktop.research.trend import load_bars
    from velocitas_desktop.research.trend_jobs import TrendRequest, run_trend_report

    if args.suggest:
        warn_if_over_cores(args.workers, "trend")
    try:
        path = resolve_sample(args.csv)
    except ValueError as exc:
        raise CliError(f"--csv: {exc}") from None
    bars = load_bars(path)
    coin = check_coin(args.coin) if args.coin is not None else None
    request = TrendRequest(timeframes=args.timeframes, suggest=args.suggest,
                           suggest_bars=args.suggest_bars, folds=args.folds, coin=coin,
                           workers=args.workers)
    catalog = strategy_catalog(args.strategy_folder, "trend")
    cancel = threading.Event()
    with ProgressBar("trend: analysis, then suggestions", "steps") as bar:
        report, result = _until_done(lambda: run_trend_report(
            bars, request, source=Path(path).name, catalog=catalog, on_progress=bar.update,
            cancel=cancel), cancel)
    if args.json:
        print(json.dumps(finite_or_none(result)))
    else:
        print(report.text())
        if result["suggestions"] is not None:
            _print_suggestions(result["suggestions"])
    if not cancel.is_set():
        return 0
    said = ("before the search began" if result["suggestions"] is None else
            "the suggestions cover only the strategies whose search had finished")
    print(f"velocitas trend: stopped: you pressed Ctrl-C; {said}", file=sys.stderr)
    return 130


def _until_done(work: Callable[[], Any], cancel: threading.Event) -> Any:
    """``work()`` on a thread, so that Ctrl-C stops the search (the report and what the
    search finished are still printed, as optimize prints the rows it finished); a second
    Ctrl-C leaves at once."""
    outcome: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: Ctrl-C inside join can end it early

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # raised again on the calling thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=run, name="trend", daemon=True).start()
    try:
        while not finished.wait(0.1):
            pass
    except KeyboardInterrupt:
        cancel.set()
        finished.wait()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _print_suggestions(suggestions: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    console.print()
    console.print(suggestions_view(console, suggestions), markup=False)
    rejected = suggestions.get("rejected") or []
    if suggestions.get("items") and rejected:  # without items the verdict speaks of them
        console.print("not suggested: " + ", ".join(
            f"{item['strategy']} {_pct(item.get('oos_return_pct'))}" for item in rejected)
            + " out of sample (less than holding or cash, or look-ahead)", markup=False)
    for warning in suggestions.get("warnings") or []:
        console.print(f"note: {warning}", markup=False)
    judged = suggestions.get("items") or suggestions.get("rejected")
    for skipped in (suggestions.get("skipped") or []) if judged else []:  # else the verdict
        console.print(f"not searched: {skipped['strategy']}: {skipped['reason']}",
                      markup=False)
    for check in suggestions.get("lookahead") or []:
        if not check.get("ok", True):
            console.print(f"look-ahead: {check['strategy']}: {check['message']}", markup=False,
                          style="bold red")


def suggestions_view(console: Any, suggestions: dict[str, Any]) -> Any:
    """The suggestions, best out of sample first, or the verdict when none beat holding or
    cash after fees; the title says over what they were searched."""
    s = suggestions
    hold = s.get("hold") or {}
    title = (f"Suggestions · walk-forward over {s['bars']:,} bars"
             + (f" of {s['timeframe']}" if s.get("timeframe") else "")
             + f" · {s['folds']} folds · ranked by out-of-sample {s['metric']} · fee "
             f"{s['fee'] * 100:g}% · holding: {_pct(hold.get('oos_return_pct'))} out of "
             f"sample · {s.get('elapsed_s', 0):.1f} s")
    items = s.get("items") or []
    if not items:
        from rich.console import Group
        from rich.text import Text

        verdict = s.get("verdict") or "No strategy beat holding or cash out of sample."
        return Group(Text(title, style="bold"), Text(verdict))
    keys = [Field("#"), Field("strategy", number=False), Field("params", number=False)]
    values = [Field("IS score", "IS"), Field("OOS score", "OOS"), Field("OOS return", "OOS%"),
              Field("trades"), Field("fees"), Field("vs hold", "±hold")]
    rows = [[str(item["rank"]), item["strategy"], _params(item["params"]),
             money(item.get("in_sample_score")), money(item.get("out_of_sample_score")),
             _pct(item.get("oos_return_pct")), f"{item.get('trades') or 0:,}",
             money(item.get("fees")), _versus(item.get("oos_return_pct"),
                                              item.get("hold_return_pct"))]
            for item in items]
    return fit_table(console, title, keys, values, rows,
                     note="IS: in-sample (searched on) · OOS: out of sample, after fees · "
                          "vs hold: OOS return minus holding's, in percentage points")


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in params.items() if name != "quantity")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.2f}%"


def _versus(value: float | None, hold: float | None) -> str:
    if value is None or hold is None:
        return "—"
    return f"{value - hold:+,.2f} pp"
