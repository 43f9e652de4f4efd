"""``velocitas copilot``: the copilot's rules in the journal (list, add from a file, export)
and its history (the alerts and the actions, listed or exported as CSV or JSON) without
starting an engine, and a test of rules on a bar file: when each would have fired, and what
its action would have changed on a strategy's backtest (copilot/tester.py, as the window and
the API)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from velocitas_desktop.cli.arguments import (
    CliError,
    Parser,
    ProgressBar,
    add_strategy_folder_arg,
    strategy_catalog,
)
from velocitas_desktop.cli.research import money
from velocitas_desktop.cli.tables import Field, fit_table

# the service's fields of a rule: kept from the rule already there when a file replaces it
COUNTERS = ("created", "fired", "last_fired")
# the history's CSV columns: the JSON fields of docs/copilot.md (as the browser view's export),
# each time also in readable UTC
ALERT_COLUMNS = ("id", "time", "time_utc", "rule_id", "rule_name", "severity", "coin",
                 "strategy_id", "price", "value", "threshold", "message", "acknowledged",
                 "action_id", "throttled")
ACTION_COLUMNS = ("id", "created", "created_utc", "alert_id", "rule_id", "type", "params",
                  "reason", "status", "auto", "decided", "decided_utc", "decided_by", "result")
SHOWN = 50  # history rows a listing shows unless --limit says otherwise


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "copilot", help="the copilot's rules (list, add from a file, export), its history "
                        "(alerts, actions) and a test of rules on a bar file",
        description="The copilot's rules, alerts and actions are kept in the journal (an "
                    "SQLite file in the user data folder, or --db PATH); list, add, export, "
                    "alerts and actions work on it without an engine. See docs/copilot.md "
                    "for the rules file.")
    parser.set_defaults(func=cmd_list, db=None, json=False)
    journal = Parser(add_help=False)
    journal.add_argument("--db", default=None, metavar="PATH",
                         help="journal file (default: the one in the user data folder)")
    actions = parser.add_subparsers(dest="action", parser_class=Parser,
                                    metavar="{list,add,export,alerts,actions,test}",
                                    help="what to do (default list)")
    listing = actions.add_parser("list", parents=[journal], help="every rule: its condition, "
                                 "scope, frequency, severity, action and firings")
    listing.add_argument("--json", action="store_true", help="print the rules as JSON")
    listing.set_defaults(func=cmd_list)
    add = actions.add_parser(
        "add", parents=[journal], help="add the rules of a rules file (all, or none if one "
                                       "is bad); a rule with an id already there replaces it")
    add.add_argument("file", metavar="FILE", help='a rules file: {"rules": [...]} or a list '
                                                  "of rules, JSON (docs/copilot.md)")
    add.set_defaults(func=cmd_add)
    export = actions.add_parser("export", parents=[journal],
                                help="print every rule as a rules file (what add reads)")
    export.set_defaults(func=cmd_export)
    from velocitas_desktop.copilot.decisions import ActionStatus
    from velocitas_desktop.copilot.rules import SEVERITIES

    history = Parser(add_help=False)
    history.add_argument("--limit", type=_limit, default=None, metavar="N",
                         help=f"the newest N (default {SHOWN} listed, every one exported; "
                              "0: every one)")
    history.add_argument("--csv", default=None, metavar="FILE",
                         help="write them to FILE as CSV, oldest first, instead of a table")
    history.add_argument("--json", action="store_true",
                         help="print them as JSON, newest first, instead of a table")
    alerts = actions.add_parser("alerts", parents=[journal, history],
                                help="the alerts the rules raised, newest first")
    alerts.add_argument("--severity", choices=SEVERITIES, default=None,
                        help="only alerts of this severity")
    alerts.set_defaults(func=cmd_alerts)
    decided = actions.add_parser("actions", parents=[journal, history],
                                 help="the actions proposed or taken, newest first: who "
                                      "decided, when, and the result")
    decided.add_argument("--status", choices=[str(s) for s in ActionStatus], default=None,
                         help="only actions in this state (pending: waiting for a decision)")
    decided.set_defaults(func=cmd_actions)
    test = actions.add_parser(
        "test", help="replay a bar file through rules: when each would have fired, at what "
                     "price, and what its action would have changed on a strategy")
    test.add_argument("--csv", required=True, metavar="FILE",
                      help="a bar file (plain or Binance layout), or a shipped sample like "
                           "sample:BTCUSD-1h (velocitas samples lists them)")
    test.add_argument("--rules", required=True, metavar="RULES", help="a rules file (JSON)")
    test.add_argument("--strategy", default=None, metavar="NAME",
                      help="backtest this strategy beside the rules, to show what their "
                           "actions (pause, close...) would have changed")
    test.add_argument("--params", default="", metavar="k=v,...",
                      help="the strategy's parameters, like fast=10,slow=40 (default: its own)")
    test.add_argument("--coin", default="BTC", help="the coin the bars are (default BTC)")
    add_strategy_folder_arg(test)
    test.add_argument("--json", action="store_true",
                      help="print only the result's JSON on stdout")
    test.set_defaults(func=cmd_test)


# --- the rules in the journal --------------------------------------------------------------

def _journal_path(db: str | None) -> Path:
    from velocitas_desktop.paths import default_journal_path

    return Path(db).expanduser() if db else default_journal_path()


def _store(path: Path) -> Any:
    """The copilot's store in the journal at ``path``, made (as a journal) if new."""
    from velocitas_desktop.cli.arguments import open_journal
    from velocitas_desktop.store.copilot import CopilotStore

    open_journal(str(path)).close()  # creates or upgrades the file as the engine would
    return CopilotStore(path)


def _saved_rules(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    store = _store(path)
    try:
        return store.rules()
    finally:
        store.close()


def cmd_list(args: argparse.Namespace) -> int:
    path = _journal_path(args.db)
    rules = _saved_rules(path)
    if args.json:
        print(json.dumps(rules))
        return 0
    if not rules:
        print(f"no copilot rules in {path}: add some with `velocitas copilot add FILE`")
        return 0
    from rich.console import Console

    console = Console(highlight=False)
    keys = [Field("id", number=False)]
    values = [Field("on", number=False), Field("condition", number=False),
              Field("scope", number=False), Field("frequency", "freq", number=False),
              Field("severity", "sev", number=False), Field("action", number=False),
              Field("fired"), Field("last fired (UTC)", "last", number=False)]
    rows = [[rule["id"], _on(rule), _condition(rule["condition"]), _scope(rule["scope"]),
             _frequency(rule["frequency"]), rule["severity"], _action(rule.get("action")),
             f"{rule.get('fired') or 0:,}", _when(rule.get("last_fired"))] for rule in rules]
    console.print(fit_table(console, f"{len(rules)} copilot rule"
                                     f"{'s' if len(rules) != 1 else ''}", keys, values, rows),
                  markup=False)
    print(f"journal {path}")
    for rule in rules:
        if rule.get("disabled_reason"):
            console.print(f"{rule['id']}: disabled by the monitor: {rule['disabled_reason']}",
                          markup=False)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from velocitas_desktop.copilot.guard import BUILT_IN_GUARD

    rules = _read_rules(args.file)  # every rule checked before any is saved
    if any(rule.id == BUILT_IN_GUARD for rule in rules):
        # an export carries it when it is on; it is the settings' to make, as the API's
        # import leaves it too
        print(f"velocitas copilot: skipped {BUILT_IN_GUARD!r}: the built-in daily-loss guard "
              "is set in the copilot settings (daily_loss), not added as a rule",
              file=sys.stderr)
        rules = [rule for rule in rules if rule.id != BUILT_IN_GUARD]
    path = _journal_path(args.db)
    store = _store(path)
    try:
        before = {rule["id"]: rule for rule in store.rules()}
        now = time.time()
        saved = []
        for rule in rules:
            body = rule.to_json()
            kept = before.get(rule.id, {})
            for name in COUNTERS:  # a replaced rule keeps its history
                if body.get(name) in (None, 0) and kept.get(name) is not None:
                    body[name] = kept[name]
            if body.get("created") is None:
                body["created"] = now
            saved.append(body)
        store.save_rules(saved)
    finally:
        store.close()
    replaced = [rule.id for rule in rules if rule.id in before]
    added = [rule.id for rule in rules if rule.id not in before]
    parts = [f"added {len(added)} rule{'s' if len(added) != 1 else ''}"
             + (f" ({', '.join(added)})" if added else "")]
    if replaced:
        parts.append(f"replaced {len(replaced)} ({', '.join(replaced)})")
    print(f"{'; '.join(parts)} in {path}. A running app reads its rules when its engine "
          "starts: import the file there to use them at once.")
    for rule in rules:
        for note in rule.notes(time.time()):
            print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from velocitas_desktop.copilot.rules import rules_file

    sys.stdout.write(rules_file(_saved_rules(_journal_path(args.db))))
    return 0


# --- the history ---------------------------------------------------------------------------

def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (every one) or more, got {value}")
    return value


def _history(args: argparse.Namespace, read: Any) -> list[dict[str, Any]]:
    """The newest rows ``read(before_id, limit)`` pages back through (newest first), as many
    as ``--limit`` asks: all of them for an export unless it says otherwise."""
    from velocitas_desktop.store.copilot import MAX_LIST

    path = _journal_path(args.db)
    if not path.exists():
        return []
    wanted = args.limit if args.limit is not None else (0 if args.csv or args.json else SHOWN)
    store = _store(path)
    rows: list[dict[str, Any]] = []
    try:
        while True:
            page = MAX_LIST if wanted == 0 else min(MAX_LIST, wanted - len(rows))
            got = read(store, rows[-1]["id"] if rows else None, page)
            rows += got
            if len(got) < page or (wanted and len(rows) >= wanted):
                return rows
    finally:
        store.close()


def _write_history(args: argparse.Namespace, rows: list[dict[str, Any]],
                   columns: tuple[str, ...], what: str) -> bool:
    """Write ``rows`` as --json or --csv asks; False when neither was asked."""
    if args.json:
        print(json.dumps(rows))
        return True
    if args.csv is None:
        return False
    target = Path(args.csv).expanduser()
    try:
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in reversed(rows):  # oldest first, as a spreadsheet reads a log
                writer.writerow([_csv_cell(row, column) for column in columns])
    except OSError as exc:
        raise CliError(f"--csv: cannot write {target}: {exc.strerror or exc}") from None
    print(f"wrote {len(rows):,} {what} to {target}")
    return True


def _csv_cell(row: dict[str, Any], column: str) -> Any:
    if column.endswith("_utc"):
        stamp = row.get(column.removesuffix("_utc"))
        return "" if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()
    value = row.get(column)
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, dict | list) else value


def cmd_alerts(args: argparse.Namespace) -> int:
    rows = _history(args, lambda store, before, limit: store.alerts(
        before_id=before, limit=limit, severity=args.severity))
    if _write_history(args, rows, ALERT_COLUMNS, "alerts") or not _any(args, rows, "alerts"):
        return 0
    keys = [Field("id"), Field("time (UTC)", "time", number=False)]
    values = [Field("rule", number=False), Field("severity", "sev", number=False),
              Field("coin", number=False), Field("price"), Field("message", number=False),
              Field("seen", number=False), Field("action", number=False)]
    table = [[str(a["id"]), _when(a.get("time")), a.get("rule_id") or "", a.get("severity"),
              a.get("coin") or a.get("strategy_id") or "—", money(a.get("price")),
              (a.get("message") or "") + (" (throttled)" if a.get("throttled") else ""),
              "yes" if a.get("acknowledged") else "no",
              str(a["action_id"]) if a.get("action_id") is not None else "—"] for a in rows]
    _print_history(args, "alert", keys, values, table)
    return 0


def cmd_actions(args: argparse.Namespace) -> int:
    rows = _history(args, lambda store, before, limit: store.actions(
        status=args.status, limit=limit, before_id=before))
    if _write_history(args, rows, ACTION_COLUMNS, "actions") or not _any(args, rows, "actions"):
        return 0
    keys = [Field("id"), Field("created (UTC)", "created", number=False)]
    values = [Field("rule", number=False), Field("action", number=False),
              Field("status", number=False), Field("decided by", "by", number=False),
              Field("decided (UTC)", "decided", number=False), Field("result", number=False)]
    table = [[str(a["id"]), _when(a.get("created")), a.get("rule_id") or "",
              _action({"type": a.get("type"), "params": a.get("params"),
                       "auto": a.get("auto")}),
              a.get("status") or "", a.get("decided_by") or "—", _when(a.get("decided")),
              _result(a.get("result"))] for a in rows]
    _print_history(args, "action", keys, values, table)
    return 0


def _any(args: argparse.Namespace, rows: list[dict[str, Any]], what: str) -> bool:
    """Whether there is history to show; says so when there is none."""
    if not rows:
        print(f"no copilot {what} in {_journal_path(args.db)}")
    return bool(rows)


def _print_history(args: argparse.Namespace, what: str, keys: list[Field],
                   values: list[Field], table: list[list[str]]) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    console.print(fit_table(console, f"The newest {len(table):,} copilot {what}"
                                     f"{'s' if len(table) != 1 else ''}", keys, values, table),
                  markup=False)
    print(f"journal {_journal_path(args.db)}")


def _result(result: Any) -> str:
    if result is None:
        return "—"
    return result if isinstance(result, str) else json.dumps(result)


def _read_rules(name: str) -> list[Any]:
    """The rules of the rules file ``name``; RuleError (exit 2, one line naming the file,
    the rule and the field) if one is bad."""
    from velocitas_desktop.copilot.rules import RuleError, parse_rules_file

    path = Path(name).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{name}: no such rules file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{name}: cannot read it: {exc}") from None
    try:
        return parse_rules_file(text)
    except RuleError as exc:
        raise RuleError(f"{name}: {exc}; nothing was saved") from None


# --- test on history -----------------------------------------------------------------------

def cmd_test(args: argparse.Namespace) -> int:
    from velocitas_desktop.copilot.rules import RuleError
    from velocitas_desktop.copilot.tester_jobs import RuleTestRequest, run_rule_test
    from velocitas_desktop.core.finite import finite_or_none
    from velocitas_desktop.core.strategy import check_coin
    from velocitas_desktop.engine.request import parse_params
    from velocitas_desktop.paths import resolve_sample
    from velocitas_desktop.research.trend import load_bars

    try:
        path = resolve_sample(args.csv)
    except ValueError as exc:
        raise CliError(f"--csv: {exc}") from None
    rules = _read_rules(args.rules)
    params = parse_params(args.params, "--params")
    if params and args.strategy is None:
        raise CliError("--params: give --strategy too: the parameters are a strategy's")
    catalog = strategy_catalog(args.strategy_folder, "copilot test")
    bars = load_bars(path)
    request = RuleTestRequest.of(rules, strategy=args.strategy, params=params,
                                 coin=check_coin(args.coin))
    with ProgressBar("copilot test: replaying the bars", "bars") as bar:
        try:
            result = run_rule_test(bars, request, on_progress=bar.update, catalog=catalog)
        except RuleError as exc:
            raise RuleError(f"{args.rules}: {exc}") from None
    if args.json:
        print(json.dumps(finite_or_none(result)))
        return 0
    _print_result(result, request, Path(path).name)
    return 0


def _print_result(result: dict[str, Any], request: Any, source: str) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    firings = result.get("firings") or []
    counts = result.get("counts") or {}
    names = {rule.id: rule.name for rule in request.rules}
    summary = ", ".join(f"{rule_id} {counts.get(rule_id, 0):,}" for rule_id in names)
    title = (f"Copilot test · {source} · {len(firings):,} firing"
             f"{'s' if len(firings) != 1 else ''} ({summary})")
    if firings:
        keys = [Field("time (UTC)", "time", number=False), Field("rule", number=False)]
        values = [Field("price"), Field("value"), Field("message", number=False),
                  Field("action", number=False)]
        rows = [[_when(f["time"]), f["rule_id"], money(f.get("price")), _number(f.get("value")),
                 f.get("message") or "", _action(f.get("action"))] for f in firings]
        console.print(fit_table(console, title, keys, values, rows), markup=False)
    else:
        console.print(title, markup=False)
        console.print("no rule fired on these bars", markup=False)
    for skipped in result.get("skipped") or []:
        console.print(f"{skipped['rule_id']}: {skipped['reason']}", markup=False)
    effects = result.get("effects") or []
    if effects:
        console.print()
        console.print(_effects_view(console, effects), markup=False)
    elif any(rule.action is not None for rule in request.rules) and request.strategy is None:
        console.print("note: give --strategy to see what the rules' actions would have "
                      "changed on its backtest", markup=False)


def _effects_view(console: Any, effects: list[dict[str, Any]]) -> Any:
    keys = [Field("rule", number=False), Field("action", number=False),
            Field("strategy", number=False)]
    values = [Field("return without", "ret w/o"), Field("return with", "ret with"),
              Field("drawdown without", "DD w/o"), Field("drawdown with", "DD with"),
              Field("drawdown saved", "DD saved"), Field("trades without", "tr w/o"),
              Field("trades with", "tr with")]
    rows = []
    for effect in effects:
        without, with_ = effect.get("without") or {}, effect.get("with") or {}
        rows.append([effect["rule_id"], _action(effect.get("action")),
                     effect.get("strategy") or "—",
                     _pct(without.get("return_pct")), _pct(with_.get("return_pct")),
                     _share(without.get("max_drawdown_pct")),
                     _share(with_.get("max_drawdown_pct")),
                     _points(effect.get("drawdown_saved_pct")), _count(without.get("trades")),
                     _count(with_.get("trades"))])
    return fit_table(console, "What the actions would have changed on the backtest", keys,
                     values, rows, note="drawdown saved: the maximum drawdown without the "
                                        "action minus with it (pp: percentage points)")


# --- cells ---------------------------------------------------------------------------------

def _on(rule: dict[str, Any]) -> str:
    if rule.get("disabled_reason"):
        return "off (failed)"
    return "on" if rule.get("enabled", True) else "off"


def _condition(condition: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={_plain(v)}" for k, v in (condition.get("params") or {}).items())
    return f"{condition['type']}({params})"


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _scope(scope: dict[str, Any]) -> str:
    return scope["kind"] if scope.get("value") is None else f"{scope['kind']} {scope['value']}"


def _frequency(frequency: dict[str, Any]) -> str:
    mode = frequency["mode"]
    if frequency.get("bar") and mode.startswith("once_per_bar"):
        return f"{mode} {frequency['bar']}"
    if frequency.get("cooldown_s"):
        return f"{mode} {frequency['cooldown_s']:g} s"
    return mode


def _action(action: Any) -> str:
    if not action:
        return "—"
    if isinstance(action, str):
        return action
    params = ", ".join(f"{k}={_plain(v)}" for k, v in (action.get("params") or {}).items())
    text = f"{action['type']}({params})" if params else action["type"]
    return f"{text} auto" if action.get("auto") else text


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "—"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:,.4g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.2f}%"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}%"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.2f} pp"


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
