"""Tables for the terminal that fit its width without cutting an id or a number short.

Rich shrinks a table that is wider than the terminal by wrapping or cutting its cells: at 80
columns (or piped, where rich assumes 80) ``BTC_MACD`` and ``BTC_Momentum`` both printed as
``BTC_M…`` and the P&L and Sharpe columns lost their digits. Here a cell is never shrunk.
:func:`fit_table` tries, in order, until one fits: the full headers; the short headers; the
columns split into several tables, each repeating the identifying columns (as pandas prints a
wide frame); and, on a very narrow terminal, one block of ``field value`` lines per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

Cell = str | Text


@dataclass(frozen=True, slots=True)
class Field:
    """One column: its header, a shorter header for narrow terminals, and whether its cells
    are numbers (right-aligned)."""

    title: str
    short: str = ""
    number: bool = True

    def header(self, short: bool) -> str:
        return (self.short or self.title) if short else self.title


def fit_table(console: Console, title: str, keys: Sequence[Field], values: Sequence[Field],
              rows: Sequence[Sequence[Cell]], note: str = "") -> RenderableType:
    """``rows`` (each the ``keys`` cells, then the ``values`` cells) as wide as ``console``
    allows: the title and ``note`` wrap as text above the table(s)."""
    width = console.width
    fields = [*keys, *values]
    parts: list[RenderableType] = [Text(title, style="bold")] if title else []
    layout: list[RenderableType] | None = None
    for short in (False, True):
        table = _table(fields, rows, short, range(len(fields)))
        if _width(console, table) <= width:
            layout = [table]
            break
    if layout is None:
        layout = _split(console, keys, values, rows, width) or [_cards(fields, rows)]
    for index, part in enumerate(layout):
        if index:
            parts.append(Text(""))  # a blank line between the tables of a split row
        parts.append(part)
    if note:
        parts.append(Text(note))
    return Group(*parts)


def _split(console: Console, keys: Sequence[Field], values: Sequence[Field],
           rows: Sequence[Sequence[Cell]], width: int) -> list[RenderableType] | None:
    """The value columns spread over as few tables as fit, each with the key columns first;
    None if a key column and a single value column are already too wide."""
    fields = [*keys, *values]
    key_columns = list(range(len(keys)))
    blocks: list[list[int]] = []
    current: list[int] = []
    for column in range(len(keys), len(fields)):
        trial = _table(fields, rows, True, key_columns + current + [column])
        if _width(console, trial) <= width:
            current.append(column)
            continue
        if not current:
            return None
        blocks.append(current)
        current = [column]
        if _width(console, _table(fields, rows, True, key_columns + current)) > width:
            return None
    if current:
        blocks.append(current)
    return [_table(fields, rows, True, key_columns + block) for block in blocks]


def _table(fields: Sequence[Field], rows: Sequence[Sequence[Cell]], short: bool,
           columns: Sequence[int]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    for column in columns:
        field = fields[column]
        table.add_column(field.header(short), justify="right" if field.number else "left",
                         no_wrap=True)
    for row in rows:
        table.add_row(*(row[column] for column in columns))
    return table


def _cards(fields: Sequence[Field], rows: Sequence[Sequence[Cell]]) -> Table:
    """One block per row, a field per line: readable at any width."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True, overflow="fold")
    for index, row in enumerate(rows):
        if index:
            table.add_row("", "")
        for field, cell in zip(fields, row, strict=True):
            table.add_row(field.header(True), cell)
    return table


def _width(console: Console, table: Table) -> int:
    """The width the table takes when nothing is shrunk."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum
