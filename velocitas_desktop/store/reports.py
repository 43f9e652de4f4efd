"""What a session's records say, and where they go: its metrics rebuilt by the ledger, and
its trades and P&L history written to CSV or JSON files."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from velocitas_desktop.core.ledger import Ledger
from velocitas_desktop.core.types import TRADE_FIELDS
from velocitas_desktop.store.journal import Journal, Progress

EXPORT_FORMATS = ("csv", "json")
PNL_FIELDS = ("timestamp", "strategy_id", "pnl", "position")
# The metrics a journal rebuilds exactly (DESIGN.md's definitions, by the live ledger's own
# code). Drawdown and Sharpe are measured on every price while a session runs; the journal
# keeps fills and clock samples only, so it does not claim them.
STRATEGY_METRICS = ("strategy_id", "coin", "strategy_name", "total_trades", "winning_trades",
                    "losing_trades", "win_rate", "total_profit", "total_loss", "net_pnl",
                    "fees", "current_position", "entry_price")
GLOBAL_METRICS = ("total_trades", "winning_trades", "losing_trades", "win_rate",
                  "total_profit", "total_loss", "net_pnl", "fees")


def session_report(journal: Journal, session_id: int) -> dict[str, Any]:
    """One session in full: its summary, configuration, strategies and metrics (global and
    per strategy). Raises SessionError for an unknown id. Reads every fill of the session,
    as restoring it would."""
    summary = journal.session(session_id)
    strategies = journal.strategy_records(session_id)
    ledger = Ledger(keep_trades=False, max_history=1)
    for spec in strategies:
        ledger.open_book(spec["strategy_id"], spec["coin"], spec["name"],
                         bool(spec.get("allow_short")))
    ledger.restore(journal.trade_records(session_id), journal.pnl_history(session_id))
    per_strategy = {sid: {key: metrics[key] for key in STRATEGY_METRICS}
                    for sid, metrics in ledger.strategy_metrics().items()}
    overall = ledger.global_metrics()
    return {**summary.to_dict(), "config": journal.config(session_id),
            "strategy_specs": strategies,
            "metrics": {"global": {key: overall[key] for key in GLOBAL_METRICS},
                        "strategies": per_strategy}}


def export_session(journal: Journal, session_id: int, folder: str | Path, fmt: str = "csv",
                   progress: Progress | None = None) -> list[Path]:
    """Write ``session-<id>-trades.<fmt>`` and ``session-<id>-pnl-history.<fmt>`` into
    ``folder`` (made if missing); returns their paths. Each file appears whole or not at all."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"the export format is one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    summary = journal.session(session_id)
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    trades_path = folder / f"session-{session_id}-trades.{fmt}"
    pnl_path = folder / f"session-{session_id}-pnl-history.{fmt}"
    total = summary.fills

    def trade_rows() -> Iterator[dict[str, Any]]:
        done = 0
        for page in journal.iter_trades(session_id):
            yield from page
            done += len(page)
            if progress is not None:
                progress(min(done, total), total)

    _write_whole(trades_path, fmt, TRADE_FIELDS, trade_rows())
    _write_whole(pnl_path, fmt, PNL_FIELDS, journal.pnl_history(session_id))
    if progress is not None:
        progress(total, total)
    return [trades_path, pnl_path]


def _write_whole(path: Path, fmt: str, fields: tuple[str, ...],
                 rows: Iterable[dict[str, Any]]) -> None:
    """Write to a side file and move it into place, so a failure leaves no half file."""
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", newline="", encoding="utf-8") as handle:
            WRITERS[fmt](handle, fields, rows)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _write_csv(handle: TextIO, fields: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> None:
    writer = csv.writer(handle)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([row[key] for key in fields])


def _write_json(handle: TextIO, fields: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> None:
    """A JSON array written row by row: a session of millions of fills is never in memory."""
    handle.write("[")
    for i, row in enumerate(rows):
        handle.write(",\n" if i else "\n")
        handle.write(json.dumps({key: row[key] for key in fields}))
    handle.write("\n]\n")


WRITERS: dict[str, Callable[[TextIO, tuple[str, ...], Iterable[dict[str, Any]]], None]] = {
    "csv": _write_csv, "json": _write_json}
