"""One generic, column-declared table model for every table in the window.

A table is a list of :class:`Column` declarations (key, title, kind, format), as in vnpy's
monitors. A column's :class:`Kind` says everything that does not depend on the table: how its
values are stored, shown, coloured, aligned and sized. Values are stored column by column:
numbers in growable numpy arrays, short repeated text (strategy ids, coins, sides) as integer
codes into a small list. A million trades cost tens of megabytes and the view only ever asks
for the rows on screen (``rowCount`` / ``data``), so scrolling stays smooth whatever the size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QTableView

from velocitas_desktop.engine.contract import StrategyStatus
from velocitas_desktop.store.retention import human_bytes

# How a kind's values are stored.
TEXTS = "texts"      # any text, kept in a Python list
CODES = "codes"      # short text repeated across rows, kept as int32 codes into a label list
NUMBERS = "numbers"  # float64; whole numbers too, so a missing one can be NaN (exact to 2**53)

Painted = Callable[[Any], str | None]  # a value -> "up", "down" or None (the table's colours)


def _uncoloured(value: Any) -> None:
    return None


def _by_sign(value: float) -> str | None:
    return "up" if value > 0 else "down" if value < 0 else None


def _by_side(value: str) -> str | None:
    return "up" if value == "BUY" else "down" if value == "SELL" else None


def _by_status(value: str) -> str | None:
    return {StrategyStatus.ACTIVE: "up", StrategyStatus.ERROR: "down"}.get(value)


def _as_text(value: Any, fmt: str) -> str:
    return str(value)


def _as_number(value: float, fmt: str) -> str:
    return f"{value:{fmt}}"


def _as_whole(value: float, fmt: str) -> str:
    return f"{int(value):{fmt}}"


def _as_percent(value: float, fmt: str) -> str:
    return f"{value:{fmt}}%"


def _as_utc(value: float, fmt: str) -> str:
    stamp = datetime.fromtimestamp(value, UTC)
    return stamp.strftime(fmt) if fmt else stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _as_price(value: float, fmt: str) -> str:
    """Five significant digits, at least two decimals and at most eight, about as fine as an
    exchange's price steps: 63,812.45 for BTC, 2.5123 for XRP, 0.00001234 for SHIB, where a
    fixed two decimals would show 0.00."""
    if not math.isfinite(value):
        return str(value)
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    decimals = min(8, max(2, 4 - magnitude))
    return f"{value:{fmt}.{decimals}f}"


def _as_quantity(value: float, fmt: str) -> str:
    """Up to eight decimals (an exchange's finest lot), without trailing zeros: 1, 0.5, 0.0012."""
    text = f"{value:{fmt}.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _as_size(value: float, fmt: str) -> str:
    return human_bytes(value)


@dataclass(frozen=True, slots=True)
class Kind:
    """What a column holds: how its values are stored, shown, coloured and sized."""

    name: str
    storage: str = NUMBERS
    show: Callable[[Any, str], str] = _as_number  # (value, format spec) -> the cell's text
    fmt: str = ""             # the format spec when the column declares none
    align: str = "right"
    colour: Painted = _uncoloured  # which of the table's colours a value is drawn in
    sample: Any = 0.0         # a typical value: the column's width before rows arrive
    whole: bool = False       # numbers read back as int


TEXT = Kind("text", TEXTS, _as_text, align="left", sample="x" * 20)
CATEGORY = Kind("category", CODES, _as_text, align="left", sample="ETH")
SIDE = Kind("side", CODES, _as_text, align="center", colour=_by_side, sample="SELL")
STATUS = Kind("status", CODES, _as_text, align="left", colour=_by_status, sample="paused")
INT = Kind("int", show=_as_whole, fmt=",", sample=12_345, whole=True)
FLOAT = Kind("float", fmt=",.2f", sample=-1_234.56)
PRICE = Kind("price", show=_as_price, fmt=",", sample=63_812.45)
QUANTITY = Kind("quantity", show=_as_quantity, fmt=",", sample=0.012345)
MONEY = Kind("money", fmt=",.2f", colour=_by_sign, sample=-12_345.67)  # coloured by sign
PERCENT = Kind("percent", show=_as_percent, fmt=".1f", sample=-12.3)
TIME = Kind("time", show=_as_utc, sample=1_700_000_000.123)  # epoch seconds shown in UTC
BYTES = Kind("bytes", show=_as_size, sample=123_456_789)  # a size on disk: "3.4 MB"

_INITIAL_CAPACITY = 1024
CELL_PADDING = 4     # pixels of text margin in a cell
CELL_CACHE = 20_000  # cells whose answers are kept (a few screenfuls of every table)

Index = QModelIndex | QPersistentModelIndex
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_ALIGN = Qt.ItemDataRole.TextAlignmentRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_USER = Qt.ItemDataRole.UserRole.value
_SIDES = {"left": Qt.AlignmentFlag.AlignLeft, "right": Qt.AlignmentFlag.AlignRight,
          "center": Qt.AlignmentFlag.AlignHCenter}


@dataclass(frozen=True, slots=True)
class Column:
    """One declared column: where its value comes from and how it is shown."""

    key: str
    title: str
    kind: Kind = TEXT
    fmt: str = ""       # format spec, e.g. ",.2f"; empty: the kind's
    align: str = ""     # "left" | "right" | "center"; empty: the kind's
    width: int = 0      # pixels; 0: wide enough for the title and the kind's sample
    missing: str = ""   # the text of a missing value (None, NaN)

    @property
    def alignment(self) -> Qt.AlignmentFlag:
        return _SIDES[self.align or self.kind.align] | Qt.AlignmentFlag.AlignVCenter

    @property
    def spec(self) -> str:
        return self.fmt or self.kind.fmt

    def text(self, value: Any) -> str:
        """The text a cell shows for ``value``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing
        return self.kind.show(value, self.spec)

    def natural_width(self, cells: QFontMetrics, header: QFontMetrics) -> int:
        """Pixels for the title and a typical value."""
        if self.width:
            return self.width
        sample = cells.horizontalAdvance(self.text(self.kind.sample))
        return max(header.horizontalAdvance(self.title), sample) + 4 * CELL_PADDING


class _Store:
    """One column's values for every row, in append order."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.storage = kind.storage
        self.codes: dict[str, int] = {}
        self.labels: list[str] = []
        self.texts: list[Any] = []
        dtype = np.int32 if self.storage == CODES else np.float64
        self.array = np.zeros(_INITIAL_CAPACITY if self.storage != TEXTS else 0, dtype=dtype)

    def reserve(self, size: int) -> None:
        if self.storage == TEXTS or size <= self.array.shape[0]:
            return
        grown = np.zeros(max(size, self.array.shape[0] * 2), dtype=self.array.dtype)
        grown[: self.array.shape[0]] = self.array
        self.array = grown

    def code(self, label: Any) -> int:
        text = "" if label is None else str(label)
        code = self.codes.get(text)
        if code is None:
            code = self.codes[text] = len(self.labels)
            self.labels.append(text)
        return code

    def write(self, start: int, values: Sequence[Any]) -> None:
        end = start + len(values)
        if self.storage == TEXTS:
            del self.texts[start:]
            self.texts.extend(values)
            return
        self.reserve(end)
        if self.storage == CODES:
            codes = self.codes
            if not codes.keys() >= set(values):
                for v in values:
                    self.code(v)
            try:  # map over a C method: no bytecode per row, so the Qt thread keeps the GIL
                self.array[start:end] = list(map(codes.__getitem__, values))
            except KeyError:  # a non-text label (None, a number): code it by its text
                self.array[start:end] = [self.code(v) for v in values]
            return
        try:
            self.array[start:end] = values  # numpy converts a list of numbers in C
        except (TypeError, ValueError):  # None or text among them
            self.array[start:end] = [_number(v) for v in values]

    def get(self, row: int) -> Any:
        if self.storage == TEXTS:
            return self.texts[row]
        if self.storage == CODES:
            return self.labels[int(self.array[row])]
        value = float(self.array[row])
        return int(value) if self.kind.whole and value == value else value


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class ColumnTableModel(QAbstractTableModel):
    """A virtual table over column-stored rows; optional newest-first order and filters.

    ``append_rows`` adds rows (dicts by column key); ``set_rows`` replaces them all (small
    live tables such as the strategies); ``set_filter`` keeps only rows whose category column
    equals a value. Only ``rowCount`` and ``data`` touch rows, one cell at a time.
    """

    def __init__(self, columns: Sequence[Column], newest_first: bool = False,
                 key: str | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.newest_first = newest_first
        self.key = key  # a column whose value identifies a row (for set_rows / row_of)
        self._stores = {c.key: _Store(c.kind) for c in self.columns}
        self._size = 0
        self._filters: dict[str, str] = {}
        self._view: np.ndarray | None = None  # stored row numbers shown, when filtered
        self.colours = {"up": QColor("#26a69a"), "down": QColor("#ef5350")}
        self._alignments = [c.alignment for c in self.columns]
        # (stored row, column) -> {role: answer} of the cells painted lately: a repaint of an
        # unchanged screenful then costs a dict lookup per cell instead of formatting it again.
        # Stored rows never move, so only rewriting them in place (set_rows) invalidates it.
        self._cells: dict[tuple[int, int], dict[int, Any]] = {}

    # --- Qt model interface --------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return self._size if self._view is None else int(self._view.shape[0])

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return self.columns[section].alignment
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.cell(index.row(), index.column()).get(getattr(role, "value", role))

    def multiData(self, index: Index, span: Any) -> None:
        """Every role a view asks for a cell, in one call: a view painting a screenful of
        cells calls Python once per cell instead of once per cell and role, and each call
        must take the interpreter lock from the engine's threads."""
        if not index.isValid():
            for role_data in span:
                role_data.clearData()
            return
        answers = self.cell(index.row(), index.column())
        for role_data in span:
            answer = answers.get(role_data.role())
            if answer is None:
                role_data.clearData()
            else:
                role_data.setData(answer)

    def cell(self, row: int, column_index: int) -> dict[int, Any]:
        """What the cell at ``row`` (as shown) answers, by role: display text, alignment,
        foreground colour (or None) and the raw value."""
        key = (self.stored_row(row), column_index)
        answers = self._cells.get(key)
        return answers if answers is not None else self._answers(*key)

    def _answers(self, stored: int, column_index: int) -> dict[int, Any]:
        column = self.columns[column_index]
        value = self._stores[column.key].get(stored)
        painted = column.kind.colour(value) if value == value and value is not None else None
        answers = {_DISPLAY: column.text(value), _ALIGN: self._alignments[column_index],
                   _FOREGROUND: self.colours.get(painted) if painted else None, _USER: value}
        if len(self._cells) >= CELL_CACHE:
            self._cells.clear()
        self._cells[(stored, column_index)] = answers
        return answers

    # --- rows ----------------------------------------------------------------------------

    def stored_row(self, row: int) -> int:
        """The storage position of the ``row`` shown."""
        count = self.rowCount()
        shown = count - 1 - row if self.newest_first else row
        return shown if self._view is None else int(self._view[shown])

    def value(self, row: int, key: str) -> Any:
        """The raw value shown at ``row`` in column ``key``."""
        return self._stores[key].get(self.stored_row(row))

    def text(self, row: int, key: str) -> str:
        """The text shown at ``row`` in column ``key``."""
        column = next(c for c in self.columns if c.key == key)
        return column.text(self.value(row, key))

    @property
    def total_rows(self) -> int:
        """Rows stored, whatever the filter shows."""
        return self._size

    def append_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add rows at the end of the store (at the top when newest first)."""
        if not rows:
            return
        start = self._size
        keys = [c.key for c in self.columns]
        columns: list[Any]
        try:  # one pass in C over every row, then one tuple per column
            if len(keys) < 2:
                raise KeyError(keys)
            columns = list(zip(*map(itemgetter(*keys), rows), strict=True))
        except KeyError:  # some rows lack a column: take them one value at a time
            columns = [[r.get(key) for r in rows] for key in keys]
        for key, values in zip(keys, columns, strict=True):
            self._stores[key].write(start, values)
        new = np.arange(start, start + len(rows))
        if self._view is not None:
            new = new[self._matches(new)]
        if new.size == 0:
            self._size += len(rows)
            return
        shown = self.rowCount()
        first, last = (0, new.size - 1) if self.newest_first else (shown, shown + new.size - 1)
        self.beginInsertRows(QModelIndex(), first, last)
        self._size += len(rows)
        if self._view is not None:
            self._view = np.concatenate([self._view, new])
        self.endInsertRows()

    def set_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace every row; keeps the selection when the row keys stay the same."""
        same_keys = (self.key is not None and self._view is None and len(rows) == self._size
                     and all(self._stores[self.key].get(i) == r.get(self.key)
                             for i, r in enumerate(rows)))
        self._cells.clear()
        if same_keys:
            for column in self.columns:
                self._stores[column.key].write(0, [r.get(column.key) for r in rows])
            if rows:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(rows) - 1, len(self.columns) - 1))
            return
        self.beginResetModel()
        self._stores = {c.key: _Store(c.kind) for c in self.columns}
        self._size = 0
        for column in self.columns:
            self._stores[column.key].write(0, [r.get(column.key) for r in rows])
        self._size = len(rows)
        self._view = self._filtered_view() if self._filters else None
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def row_of(self, key_value: Any) -> int | None:
        """The shown row whose key column equals ``key_value``."""
        if self.key is None:
            return None
        for row in range(self.rowCount()):
            if self.value(row, self.key) == key_value:
                return row
        return None

    # --- filters -------------------------------------------------------------------------

    def set_filter(self, key: str, value: str | None) -> None:
        """Show only rows whose ``key`` column equals ``value`` (None or "" shows all)."""
        if value:
            self._filters[key] = value
        else:
            self._filters.pop(key, None)
        self.beginResetModel()
        self._view = self._filtered_view() if self._filters else None
        self.endResetModel()

    def categories(self, key: str) -> list[str]:
        """Every distinct value seen in a category column, in first-seen order."""
        return list(self._stores[key].labels)

    def _filtered_view(self) -> np.ndarray:
        return np.flatnonzero(self._matches(np.arange(self._size)))

    def _matches(self, rows: np.ndarray) -> np.ndarray:
        keep = np.ones(rows.shape[0], dtype=bool)
        for key, wanted in self._filters.items():
            store = self._stores[key]
            if store.storage == CODES:
                code = store.codes.get(wanted, -1)
                keep &= store.array[rows] == code
            else:
                keep &= np.array([str(store.get(int(r))) == wanted for r in rows], dtype=bool)
        return keep

    # --- export --------------------------------------------------------------------------

    def export_rows(self) -> Iterator[list[Any]]:
        """Every shown row, oldest first, as raw values in column order (for CSV files).

        The values are copied when this is called, so the rows may be read on another
        thread while the table goes on growing."""
        size = self._size
        rows = np.arange(size) if self._view is None else self._view.copy()
        columns = []
        for column in self.columns:
            store = self._stores[column.key]
            if store.storage == TEXTS:
                columns.append((column, list(store.texts[:size]), None))
            elif store.storage == CODES:
                columns.append((column, store.array[:size].copy(), list(store.labels)))
            else:
                columns.append((column, store.array[:size].copy(), None))
        return _iter_rows(rows, columns)


def _iter_rows(rows: np.ndarray, columns: list[tuple[Column, Any, Any]]) -> Iterator[list[Any]]:
    for start in range(0, rows.shape[0], 10_000):
        chunk = rows[start:start + 10_000]
        values = []
        for column, data, labels in columns:
            storage = column.kind.storage
            if storage == TEXTS:
                values.append([data[i] for i in chunk.tolist()])
            elif storage == CODES:
                values.append([labels[c] for c in data[chunk].tolist()])
            elif column.kind.whole:  # kept as floats; written as whole numbers
                values.append([int(v) if v == v else "" for v in data[chunk].tolist()])
            else:
                values.append(data[chunk].tolist())
        yield from (list(row) for row in zip(*values, strict=True))


class ColumnTableView(QTableView):
    """A table view of a ColumnTableModel that paints its screenful of cells in one pass.

    Qt's view paints cell by cell through an item delegate: a call into Python, a style
    option and a text layout per cell, 40-100 us each, so a blotter screenful took 10-17 ms
    on the window's thread every time fills arrived. This paints the rows in view directly
    from the model's cached answers (text, alignment, colour): a row background (alternate
    or selected, from the palette) and one drawText per cell. Text that does not fit is
    clipped to its cell. Selection, scrolling, headers and keyboard work as in QTableView.
    """

    def paintEvent(self, event: QPaintEvent) -> None:
        model = self.model()
        if not isinstance(model, ColumnTableModel):
            super().paintEvent(event)
            return
        rows = model.rowCount()
        if not rows:
            return
        area = event.rect()
        first = self.rowAt(area.top())
        if first < 0:
            return
        last = self.rowAt(area.bottom())
        last = rows - 1 if last < 0 else last
        header = self.horizontalHeader()
        columns = []
        for column in range(model.columnCount()):
            if header.isSectionHidden(column):
                continue
            x, width = header.sectionViewportPosition(column), header.sectionSize(column)
            if x + width >= area.left() and x <= area.right():
                columns.append((column, x, width))
        height = self.verticalHeader().defaultSectionSize()
        palette = self.palette()
        text, selected_text = palette.text().color(), palette.highlightedText().color()
        alternate, highlight = palette.alternateBase(), palette.highlight()
        selection = self.selectionModel()
        chosen = ({index.row() for index in selection.selectedRows()}
                  if selection is not None and selection.hasSelection() else set())
        stripes = self.alternatingRowColors()
        painter = QPainter(self.viewport())
        try:
            for row in range(first, last + 1):
                y = self.rowViewportPosition(row)
                is_chosen = row in chosen
                if is_chosen:
                    painter.fillRect(area.left(), y, area.width(), height, highlight)
                elif stripes and row % 2:
                    painter.fillRect(area.left(), y, area.width(), height, alternate)
                for column, x, width in columns:
                    answers = model.cell(row, column)
                    colour = answers[_FOREGROUND]
                    painter.setPen(selected_text if is_chosen
                                   else colour if colour is not None else text)
                    painter.drawText(x + CELL_PADDING, y, width - 2 * CELL_PADDING, height,
                                     answers[_ALIGN], answers[_DISPLAY])
        finally:
            painter.end()
