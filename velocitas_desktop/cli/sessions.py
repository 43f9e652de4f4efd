"""``velocitas sessions``: list, show, export and prune the sessions kept in the journal."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from velocitas_desktop.cli.arguments import (
    CliError,
    Parser,
    ProgressBar,
    add_retention_args,
    number,
    open_journal,
    positive_int,
    retention_policy,
)

DAY = 86_400.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sessions", help="list, show, export or prune the sessions kept in the journal",
        description="The sessions in the journal (an SQLite file in the user data folder, or "
                    "--db PATH). Without an action, lists them. See docs/journal.md.")
    parser.set_defaults(func=cmd_list, db=None, json=False)
    common = Parser(add_help=False)
    common.add_argument("--db", default=None, metavar="PATH",
                        help="journal file (default: the one in the user data folder)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    actions = parser.add_subparsers(dest="action", parser_class=Parser,
                                    metavar="{list,show,export,prune}",
                                    help="what to do (default list)")
    actions.add_parser("list", parents=[common], help="every session: when, what, fills, "
                       "net P&L, size").set_defaults(func=cmd_list)
    show = actions.add_parser("show", parents=[common],
                              help="one session: its settings, strategies and metrics")
    show.add_argument("session", type=positive_int, metavar="ID",
                      help="the session's id, as `velocitas sessions` lists it")
    show.set_defaults(func=cmd_show)
    export = actions.add_parser("export", parents=[common],
                                help="one session's trades and P&L history to CSV or JSON")
    export.add_argument("session", type=positive_int, metavar="ID",
                        help="the session's id, as `velocitas sessions` lists it")
    export.add_argument("--out", default=None, metavar="DIR",
                        help="folder to write to (default: exports/ in the user data folder)")
    export.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="file format (default csv)")
    export.set_defaults(func=cmd_export)
    prune = actions.add_parser(
        "prune", parents=[common], help="delete old sessions: by the retention policy, by id "
                                        "or by age",
        description="Delete sessions and give their space back. By default applies the "
                    "retention policy (the flags below, or their defaults); --id or "
                    "--older-than delete exactly those instead. The newest session (running, "
                    "or the one a restart restores) is never deleted.")
    add_retention_args(prune)
    prune.add_argument("--id", type=positive_int, action="append", default=[], metavar="ID",
                       dest="ids", help="delete this session (repeat for more)")
    prune.add_argument("--older-than", type=number(float, above=0), default=None,
                       metavar="DAYS", help="delete the sessions started more than DAYS ago")
    prune.add_argument("--dry-run", action="store_true",
                       help="say what would be deleted, and delete nothing")
    prune.set_defaults(func=cmd_prune)


# --- list --------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    path = _journal_path(args.db)
    if not path.exists():
        if args.json:
            print(json.dumps({"journal": str(path), "size_bytes": 0, "sessions": []}))
        else:
            print(f"no journal at {path} yet: a run, `velocitas serve` or the window makes it")
        return 0
    journal = open_journal(str(path))
    try:
        sessions = journal.sessions()
        size = journal.size
    finally:
        journal.close()
    if args.json:
        print(json.dumps({"journal": str(path), "size_bytes": size,
                          "sessions": [s.to_dict() for s in sessions]}))
        return 0
    _print_table(sessions)
    print(f"journal {path}: {_human(size)} on disk, {len(sessions)} "
          f"session{'s' if len(sessions) != 1 else ''}")
    return 0


def _print_table(sessions: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(expand=False, box=None, pad_edge=False)
    for title in ("id", "started (UTC)", "ended (UTC)", "source", "coins", "strategies",
                  "fills", "net P&L", "size"):
        table.add_column(title, justify="right" if title in ("id", "fills", "net P&L", "size")
                         else "left")
    for s in sessions:
        table.add_row(str(s.id), _when(s.started), _when(s.ended, s.started), s.source,
                      ",".join(s.coins), _strategies(s.strategies), f"{s.fills:,}",
                      f"{s.net_pnl:,.2f}", _human(s.size_bytes))
    Console(width=200).print(table)


def _strategies(ids: tuple[str, ...]) -> str:
    return ", ".join(ids) if len(ids) <= 3 else f"{', '.join(ids[:2])} and {len(ids) - 2} more"


# --- show --------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    from velocitas_desktop.store.reports import session_report

    journal = _existing_journal(args.db)
    try:
        report = _known(lambda: session_report(journal, args.session))
    finally:
        journal.close()
    if args.json:
        print(json.dumps(report, default=str))
        return 0
    print(f"session {report['id']} · {report['source']} · {','.join(report['coins'])} · "
          f"started {_when(report['started'])} UTC · ended "
          f"{_when(report['ended'], report['started'])} UTC")
    print(f"{report['fills']:,} fills · net P&L {report['net_pnl']:,.2f} · "
          f"{_human(report['size_bytes'])} of the journal")
    settings = " ".join(f"{key}={_setting(value)}" for key, value in report["config"].items()
                        if value not in (None, {}, []))
    print(f"settings: {settings}")
    _print_metrics(report["metrics"], {s["strategy_id"]: s for s in report["strategy_specs"]})
    return 0


def _setting(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def _print_metrics(metrics: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(expand=False, box=None, pad_edge=False)
    for title in ("strategy", "status", "params", "trades", "win %", "net P&L", "fees",
                  "position"):
        table.add_column(title, justify="left" if title in ("strategy", "status", "params")
                         else "right")
    rows = [*metrics["strategies"].items(), ("total", metrics["global"])]
    for sid, m in rows:
        spec = specs.get(sid, {})
        status = ("removed" if spec.get("removed") else spec.get("status", "")) if spec else ""
        params = ",".join(f"{k}={_setting(v)}" for k, v in spec.get("params", {}).items())
        table.add_row(sid, status, params, f"{m['total_trades']:,}", f"{m['win_rate']:.1f}",
                      f"{m['net_pnl']:,.2f}", f"{m['fees']:,.2f}",
                      f"{m['current_position']:g}" if "current_position" in m else "")
    Console(width=200).print(table)


# --- export ------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from velocitas_desktop.paths import exports_dir
    from velocitas_desktop.store.reports import export_session

    journal = _existing_journal(args.db)
    folder = Path(args.out).expanduser() if args.out else exports_dir()
    try:
        with ProgressBar(f"exporting session {args.session}", "fills") as bar:
            written = _known(lambda: export_session(journal, args.session, folder, args.format,
                                                    progress=bar.update))
    except OSError as exc:
        raise CliError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    finally:
        journal.close()
    if args.json:
        print(json.dumps({"session": args.session, "files": [str(p) for p in written]}))
    else:
        for path in written:
            print(path)
    return 0


# --- prune -------------------------------------------------------------------------------


def cmd_prune(args: argparse.Namespace) -> int:
    chosen = bool(args.ids) + (args.older_than is not None)
    policy_given = args.keep_sessions is not None or args.keep_gb is not None
    if chosen > 1 or (chosen and policy_given):
        raise CliError("choose one way to prune: --id, --older-than, or the policy "
                       "(--keep-sessions/--keep-gb)")
    from velocitas_desktop.store.journal import size_on_disk

    journal = _existing_journal(args.db)
    try:
        doomed, freed, why = _prune(journal, args)
    finally:
        journal.close()  # the last connection out folds the write-ahead log into the file
    size = size_on_disk(journal.path)
    if args.json:
        print(json.dumps({"deleted": doomed, "freed_bytes": freed, "dry_run": args.dry_run,
                          "journal": str(journal.path), "size_bytes": size}))
    elif not doomed:
        print(f"nothing to delete ({why}); journal {journal.path}: {_human(size)}")
    else:
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} session{'s' if len(doomed) != 1 else ''} "
              f"{', '.join(str(i) for i in doomed)} ({why}), about {_human(freed)}; "
              f"journal {journal.path}: {_human(size)}")
    return 0


def _prune(journal: Any, args: argparse.Namespace) -> tuple[list[int], int, str]:
    """The sessions deleted (or that would be), the bytes they held, and why."""
    from velocitas_desktop.store.retention import sessions_to_prune

    policy = retention_policy(args)
    sessions = journal.sessions()
    newest = max((s.id for s in sessions), default=None)
    if args.ids:
        doomed, why = sorted(set(args.ids)), "as asked"
    elif args.older_than is not None:
        cutoff = time.time() - args.older_than * DAY
        doomed = [s.id for s in sessions if s.started < cutoff and s.id != newest]
        why = f"started more than {args.older_than:g} days ago"
    else:
        doomed, why = sessions_to_prune(sessions, policy), f"to keep {policy.describe()}"
    if args.dry_run:
        _known(lambda: journal.check_deletable(doomed, sessions))
        return doomed, sum(s.size_bytes for s in sessions if s.id in doomed), why
    with ProgressBar("deleting", "fills") as bar:
        if args.ids or args.older_than is not None:
            pruned = _known(lambda: journal.delete_sessions(doomed, progress=bar.update))
        else:
            pruned = journal.prune(policy, progress=bar.update)
    return list(pruned.sessions), pruned.freed_bytes, why


# --- shared ------------------------------------------------------------------------------


def journal_line(path: str | Path, policy: Any) -> str:
    """Where the journal is and how big, for the end of a run or a server."""
    from velocitas_desktop.store.journal import size_on_disk

    return f"journal: {path} ({_human(size_on_disk(path))}; keeps {policy.describe()})"


def _journal_path(db: str | None) -> Path:
    from velocitas_desktop.paths import default_journal_path

    return Path(db).expanduser() if db else default_journal_path()


def _existing_journal(db: str | None) -> Any:
    """The journal, which must exist already: reading never makes an empty one."""
    path = _journal_path(db)
    if not path.is_file():
        raise CliError(f"no journal at {path}: a run, `velocitas serve` or the window makes "
                       "it (or name another with --db)")
    return open_journal(str(path))


def _known(call: Any) -> Any:
    """``call()``, with an unknown or undeletable session said as a usage error."""
    from velocitas_desktop.store.journal import SessionError

    try:
        return call()
    except SessionError as exc:
        raise CliError(str(exc)) from None


def _when(stamp: float | None, since: float | None = None) -> str:
    """A wall-clock time in UTC; the date only when it differs from ``since``'s."""
    if stamp is None:
        return "—"
    moment = datetime.fromtimestamp(stamp, UTC)
    if since is not None and moment.date() == datetime.fromtimestamp(since, UTC).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _human(count: float) -> str:
    from velocitas_desktop.store.retention import human_bytes

    return human_bytes(count)

