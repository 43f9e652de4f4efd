"""One generic, column-declared table model for every table in the window, sortable by any column.

A table is a list of :class:`Column` declarations (key, title, kind, format), as in vnpy's
monitors. A column's :class:`Kind` says everything that does not depend on the table: how its
values are stored, shown, written to a file, coloured, aligned, sized and sorted. Values are
stored column by column: numbers in growable numpy arrays, short repeated text (strategy ids,
coins, sides) as integer codes into a small list. A million trades cost tens of megabytes and
the view only ever asks for the rows on screen (``rowCount`` / ``data``), so scrolling stays
smooth whatever the size. Sorting is an order of stored row numbers, computed by numpy over
those columns; rows arriving in a sorted table are placed by binary search, never re-sorted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QProxyStyle,
    QPushButton,
    QStyle,
    QStyleOptionHeader,
    QTableView,
    QToolTip,
    QWidget,
)

from velocitas_desktop.engine.contract import StrategyStatus
from velocitas_desktop.gui.background import run_in_background
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


def _as_count(value: float, fmt: str) -> int:
    return int(value)


@dataclass(frozen=True, slots=True)
class Kind:
    """What a column holds: how its values are stored, shown, written, coloured and sized."""

    name: str
    storage: str = NUMBERS
    show: Callable[[Any, str], str] = _as_number  # (value, format spec) -> the cell's text
    fmt: str = ""             # the format spec when the column declares none
    align: str = "right"
    colour: Painted = _uncoloured  # which of the table's colours a value is drawn in
    sample: Any = 0.0         # a typical value: the column's width before rows arrive
    elide: bool = False       # text too long for its cell ends in "…", whole on hover
    whole: bool = False       # numbers read back as int
    # (value, format spec) -> what a readable file holds; None: the cell's text without
    # thousands separators, which spreadsheets would read as text
    write: Callable[[Any, str], Any] | None = None

    def readable(self, value: Any, fmt: str) -> Any:
        """``value`` as a readable export writes it."""
        plain = fmt.replace(",", "")
        return self.show(value, plain) if self.write is None else self.write(value, plain)


TEXT = Kind("text", TEXTS, _as_text, align="left", sample="x" * 20, elide=True)
CATEGORY = Kind("category", CODES, _as_text, align="left", sample="ETH", elide=True)
SIDE = Kind("side", CODES, _as_text, align="center", colour=_by_side, sample="SELL")
STATUS = Kind("status", CODES, _as_text, align="left", colour=_by_status, sample="paused")
INT = Kind("int", show=_as_whole, fmt=",", sample=12_345, whole=True)
FLOAT = Kind("float", fmt=",.2f", sample=-1_234.56)
PRICE = Kind("price", show=_as_price, fmt=",", sample=63_812.45)
QUANTITY = Kind("quantity", show=_as_quantity, fmt=",", sample=0.012345)
MONEY = Kind("money", fmt=",.2f", colour=_by_sign, sample=-12_345.67)  # coloured by sign
PERCENT = Kind("percent", show=_as_percent, fmt=".1f", sample=-12.3,
               write=_as_number)  # written as a number a spreadsheet can add up
TIME = Kind("time", show=_as_utc, sample=1_700_000_000.123)  # epoch seconds shown in UTC
BYTES = Kind("bytes", show=_as_size, sample=123_456_789,  # a size on disk: "3.4 MB"
             write=_as_count)

_INITIAL_CAPACITY = 1024
# stored row numbers in an order shown: 4 bytes each, so placing new rows in a sorted
# million-row table copies 4 MB of them rather than 8
ROW = np.int32
CELL_PADDING = 4     # pixels of text margin in a cell
SORT_ROOM = 18       # pixels a header needs beside its title for the sort arrow
ARROW_ROOM = 10      # pixels the sort arrow takes at the right end of its header section
CELL_CACHE = 20_000  # cells whose answers are kept (a few screenfuls of every table)

Index = QModelIndex | QPersistentModelIndex
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_ALIGN = Qt.ItemDataRole.TextAlignmentRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_USER = Qt.ItemDataRole.UserRole.value
_SORT_HINT = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
_LAYOUT = "QList<QPersistentModelIndex>,QAbstractItemModel::LayoutChangeHint"  # with a hint
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

    def readable(self, value: Any) -> Any:
        """``value`` as a readable export writes it; "" when missing."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return self.kind.readable(value, self.spec)

    def natural_width(self, cells: QFontMetrics, header: QFontMetrics) -> int:
        """Pixels for the title (with room for a sort arrow) and a typical value."""
        if self.width:
            return self.width
        sample = cells.horizontalAdvance(self.text(self.kind.sample))
        return max(header.horizontalAdvance(self.title) + SORT_ROOM, sample) + 4 * CELL_PADDING


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

    def drop(self, count: int, size: int) -> None:
        """Forget the first ``count`` of ``size`` stored values (one move of the rest)."""
        if self.storage == TEXTS:
            del self.texts[:count]
            return
        self.array[: size - count] = self.array[count:size]

    def get(self, row: int) -> Any:
        if self.storage == TEXTS:
            return self.texts[row]
        if self.storage == CODES:
            return self.labels[int(self.array[row])]
        value = float(self.array[row])
        return int(value) if self.kind.whole and value == value else value

    def key_reader(self, descending: bool) -> tuple[KeyReader, int]:
        """How to read the sort key of stored rows, and how many labels it knows (codes; -1
        otherwise). Numbers and times sort by value (a missing one is NaN, which numpy puts
        last either way), text alphabetically, case aside. Only rows stored so far are read,
        so the reader may run on a pool thread while rows go on being appended."""
        sign = -1.0 if descending else 1.0
        if self.storage == NUMBERS:
            return (lambda rows: self.array[rows] * sign), -1
        if self.storage == CODES:
            ranks = alphabetical_ranks(self.labels) * sign
            return (lambda rows: ranks[self.array[rows]]), len(self.labels)
        ranks = alphabetical_ranks(["" if t is None else str(t) for t in self.texts]) * sign
        return (lambda rows: ranks[rows]), -1

    def matcher(self, wanted: str) -> Callable[[np.ndarray], np.ndarray]:
        """Which of some stored rows hold ``wanted`` (as a mask); safe on a pool thread."""
        if self.storage == CODES:
            code = self.codes.get(wanted, -1)
            return lambda rows: self.array[rows] == code
        return lambda rows: np.array([str(self.get(r)) == wanted for r in rows.tolist()],
                                     dtype=bool)


KeyReader = Callable[[np.ndarray], np.ndarray]  # stored rows -> each one's sort key


def alphabetical_ranks(texts: Sequence[str]) -> np.ndarray:
    """Each text's place in alphabetical order (case aside); equal texts share a place."""
    places = {text: i for i, text in enumerate(sorted(set(texts),
                                                      key=lambda t: (t.casefold(), t)))}
    return np.array([places[text] for text in texts], dtype=np.float64)


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True, slots=True)
class SortOrder:
    """The column a table is sorted by, and which way."""

    column: int
    descending: bool


@dataclass(frozen=True, slots=True)
class _Order:
    """The rows shown and how they were sorted: ``rows`` None while every row is shown in
    the table's own order (a million-row blotter then keeps no such array at all)."""

    rows: np.ndarray | None = None
    keys: np.ndarray | None = None      # each shown row's sort key, ascending
    read_keys: KeyReader | None = None  # the same keys for rows stored later
    labels: int = -1                    # labels known to read_keys (a category's)


class ColumnTableModel(QAbstractTableModel):
    """A virtual table over column-stored rows: newest first or oldest first, filtered, sorted.

    ``append_rows`` adds rows (dicts by column key); ``set_rows`` replaces them all (small
    live tables such as the strategies); ``set_filter`` keeps only rows whose category column
    equals a value; ``sort`` (what a view calls when its header is clicked) orders them by a
    column. Only ``rowCount`` and ``data`` touch rows, one cell at a time.
    """

    # A stable sort of a million rows takes 150-400 ms: larger tables sort on a pool thread
    # while the window goes on (``sorting`` says so), smaller ones (under ~15 ms) at once.
    inline_sort_rows = 100_000
    sorting = Signal(bool)

    def __init__(self, columns: Sequence[Column], newest_first: bool = False,
                 key: str | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.newest_first = newest_first
        self.key = key  # a column whose value identifies a row (for set_rows / row_of)
        self._stores = {c.key: _Store(c.kind) for c in self.columns}
        self._size = 0
        self._filters: dict[str, str] = {}
        self.sort_order: SortOrder | None = None  # the order shown
        self._wanted: SortOrder | None = None     # the order asked for (shown, or coming)
        self._generation = 0  # bumped by each change of order, so a late sort is dropped
        self._sorting = False
        self._order = _Order()
        self.colours = {"up": QColor("#26a69a"), "down": QColor("#ef5350")}
        self._alignments = [c.alignment for c in self.columns]
        # (stored row, column) -> {role: answer} of the cells painted lately: a repaint of an
        # unchanged screenful then costs a dict lookup per cell instead of formatting it again.
        # Stored rows never move (sorting moves only the order they are shown in), so only
        # rewriting them in place (set_rows) invalidates it.
        self._cells: dict[tuple[int, int], dict[int, Any]] = {}

    # --- Qt model interface --------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        shown = self._order.rows
        return self._size if shown is None else int(shown.shape[0])

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

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Show the rows ordered by ``column`` (-1: the table's own order again).

        Numbers, prices and times sort as numbers, text alphabetically; missing values come
        last either way; rows that tie are in the order they arrived, the same way round as
        the sort (oldest first when ascending), as if sorted by time second. Selected rows
        stay selected."""
        wanted = (SortOrder(column, order == Qt.SortOrder.DescendingOrder)
                  if 0 <= column < len(self.columns) else None)
        if wanted != self._wanted:
            self._wanted = wanted
            self._reorder()

    # --- rows ----------------------------------------------------------------------------

    def stored_row(self, row: int) -> int:
        """The storage position of the ``row`` shown."""
        shown = self._order.rows
        if shown is not None:
            return int(shown[row])
        return self._size - 1 - row if self.newest_first else row

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
        """Add rows: at the top when newest first, at the bottom otherwise, in their places
        when sorted."""
        if not rows:
            return
        start = self._size
        self._store(start, rows)
        added = self._shown_of(np.arange(start, start + len(rows), dtype=ROW), self.sort_order)
        if added.size == 0:
            self._size += len(rows)
            return
        before = self._order
        first = 0 if self.newest_first and self.sort_order is None else self.rowCount()
        self.beginInsertRows(QModelIndex(), first, first + added.size - 1)
        self._size += len(rows)
        if before.rows is not None:
            rows_now = [added, before.rows] if first == 0 else [before.rows, added]
            self._order = _Order(np.concatenate(rows_now), before.keys, before.read_keys,
                                 before.labels)
        self.endInsertRows()
        if self.sort_order is not None:
            self._move_into_place(before, added)

    def _store(self, start: int, rows: Sequence[Mapping[str, Any]]) -> None:
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

    def _shown_of(self, stored: np.ndarray, by: SortOrder | None = None) -> np.ndarray:
        """Which of some newly stored rows the filters show, in the order they are shown
        among themselves (for a sort ``by`` a column: before it sorts them)."""
        if self._filters:
            stored = stored[self._keeper()(stored)]
        newest_first = self.newest_first if by is None else by.descending
        return stored[::-1] if newest_first else stored

    def _move_into_place(self, before: _Order, added: np.ndarray) -> None:
        """Move rows just appended at the bottom of a sorted table to their places.

        Each new row finds its place by binary search among the sorted keys, so a batch costs
        one copy of the order (a few milliseconds at a million rows) instead of a sort."""
        assert self.sort_order is not None
        placed = self._placed(before, added, self.sort_order)
        if placed is None:  # a label the sort has not ranked: sort again
            self._reorder()
            return
        order, at, landed = placed
        count = before.rows.shape[0] if before.rows is not None else 0
        self.layoutAboutToBeChanged[_LAYOUT].emit([], _SORT_HINT)
        self._order = order
        self._move_persistent(lambda row: row + int(np.searchsorted(at, row, side="right"))
                              if row < count else int(landed[row - count]))
        self.layoutChanged[_LAYOUT].emit([], _SORT_HINT)

    def _placed(self, before: _Order, added: np.ndarray, by: SortOrder
                ) -> tuple[_Order, np.ndarray, np.ndarray] | None:
        """``before`` (sorted ``by`` a column) with rows ``added`` (in the order shown)
        inserted where the sort puts them; where they were inserted (positions in
        ``before``) and where each landed. None when their keys cannot be compared with the
        sorted ones (text, or a label the sort has not ranked)."""
        assert before.rows is not None and before.keys is not None
        assert before.read_keys is not None
        store = self._stores[self.columns[by.column].key]
        if store.storage == TEXTS or (store.storage == CODES
                                      and len(store.labels) != before.labels):
            return None
        keys = before.read_keys(added)
        order = np.argsort(keys, kind="stable")
        # the new rows are the newest: first among equal keys in a descending sort
        at = np.searchsorted(before.keys, keys[order], side="left" if by.descending else "right")
        landed = np.empty(added.size, dtype=np.intp)
        landed[order] = at + np.arange(added.size)
        rows = np.insert(before.rows, at, added[order])
        return (_Order(rows, np.insert(before.keys, at, keys[order]), before.read_keys,
                       before.labels), at, landed)

    def set_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace every row; keeps the selection when the row keys stay the same."""
        same_keys = (self.key is not None and not self._filters and len(rows) == self._size
                     and all(self._stores[self.key].get(i) == r.get(self.key)
                             for i, r in enumerate(rows)))
        self._cells.clear()
        if same_keys:
            for column in self.columns:
                self._stores[column.key].write(0, [r.get(column.key) for r in rows])
            if self._wanted is not None:
                self._reorder()  # the values changed: so may their order
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
        later = self._reset_order()
        self.endResetModel()
        if later:
            self._reorder()

    def clear(self) -> None:
        self.set_rows([])

    def drop_oldest(self, count: int) -> None:
        """Forget the ``count`` rows stored first (a bounded table; the journal keeps them).
        In the table's own order they leave from one end; sorted or filtered, the order is
        made again without them."""
        count = min(count, self._size)
        if count <= 0:
            return
        plain = self._order.rows is None
        if plain:
            first = self._size - count if self.newest_first else 0
            self.beginRemoveRows(QModelIndex(), first, first + count - 1)
        else:
            self.beginResetModel()
        for store in self._stores.values():
            store.drop(count, self._size)
        self._size -= count
        self._cells.clear()  # cached by stored row, and every stored row moved
        if plain:
            self.endRemoveRows()
            return
        later = self._reset_order()
        self.endResetModel()
        if later:
            self._reorder()

    def row_of(self, key_value: Any) -> int | None:
        """The shown row whose key column equals ``key_value``."""
        if self.key is None:
            return None
        store = self._stores[self.key]
        if store.storage != NUMBERS:
            return next((r for r in range(self.rowCount())
                         if self.value(r, self.key) == key_value), None)
        stored = np.flatnonzero(store.array[:self._size] == _number(key_value))
        rows = self._rows_of(stored)
        rows = rows[rows >= 0]
        return int(rows.min()) if rows.size else None

    def _rows_of(self, stored: np.ndarray) -> np.ndarray:
        """The shown row of each stored row (-1 where it is not shown)."""
        shown = self._order.rows
        if shown is None:
            return self._size - 1 - stored if self.newest_first else stored
        where = np.full(self._size, -1, dtype=np.intp)
        where[shown] = np.arange(shown.shape[0])
        return where[stored]

    # --- order ---------------------------------------------------------------------------

    @property
    def sort_pending(self) -> bool:
        """A sort asked for is still being computed (large tables only)."""
        return self._wanted != self.sort_order

    def _plan(self, wanted: SortOrder | None) -> Callable[[], _Order]:
        """The rows to show, in the order ``wanted``, as work that reads only the rows stored
        so far: it may run on a pool thread while rows go on being appended."""
        size, newest_first = self._size, self.newest_first
        keep = self._keeper() if self._filters else None
        read_keys, labels = (self._stores[self.columns[wanted.column].key]
                             .key_reader(wanted.descending) if wanted else (None, -1))

        def plan() -> _Order:
            if keep is None and read_keys is None:
                return _Order()
            rows = np.arange(size, dtype=ROW)
            if keep is not None:
                rows = rows[keep(rows)]
            if newest_first if wanted is None else wanted.descending:
                rows = rows[::-1]
            if read_keys is None:
                return _Order(rows)
            keys = read_keys(rows)
            order = np.argsort(keys, kind="stable")  # stable: ties stay in time order
            return _Order(rows[order], keys[order], read_keys, labels)

        return plan

    def _reorder(self) -> None:
        """Show the rows in the order asked for: computed at once for a small table (or the
        table's own order), on a pool thread for a large one."""
        self._generation += 1
        generation, size, wanted = self._generation, self._size, self._wanted
        plan = self._plan(wanted)
        if wanted is None or size <= self.inline_sort_rows:
            self._show_order(generation, wanted, size, plan())
            return
        self._set_sorting(True)
        run_in_background(plan, lambda order: self._show_order(generation, wanted, size, order),
                          lambda exc: self._sort_failed(generation, exc))

    def _sort_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._wanted = self.sort_order
            self._set_sorting(False)
        raise exc

    def _show_order(self, generation: int, wanted: SortOrder | None, size: int,
                    order: _Order) -> None:
        """Show ``order`` (of the rows stored before ``size``) with the rows stored since
        placed in it, keeping persistent indexes (the selection, the row a person reads) on
        their rows."""
        if generation != self._generation:
            return  # a later sort, filter or reset has superseded it
        if size < self._size:  # rows arrived while a pool thread sorted
            late = self._shown_of(np.arange(size, self._size, dtype=ROW), wanted)
            if order.rows is not None and late.size:
                if wanted is None:
                    order = _Order(np.concatenate([late, order.rows] if self.newest_first
                                                  else [order.rows, late]))
                else:
                    placed = self._placed(order, late, wanted)
                    order = placed[0] if placed is not None else self._plan(wanted)()
        self.layoutAboutToBeChanged[_LAYOUT].emit([], _SORT_HINT)
        count = self.rowCount()
        stored = {index.row(): self.stored_row(index.row())
                  for index in self.persistentIndexList() if 0 <= index.row() < count}
        self.sort_order, self._order = wanted, order
        if stored:
            rows = dict(zip(stored, self._rows_of(np.fromiter(stored.values(), np.intp))
                            .tolist(), strict=True))
            self._move_persistent(lambda row: rows.get(row, -1))
        self.layoutChanged[_LAYOUT].emit([], _SORT_HINT)
        self._set_sorting(False)

    def _set_sorting(self, busy: bool) -> None:
        if busy != self._sorting:
            self._sorting = busy
            self.sorting.emit(busy)

    def _reset_order(self) -> bool:
        """The order for a reset (new rows or a new filter): the sort asked for when it is
        quick, else the table's own order; True when the sort must follow from a pool
        thread."""
        self._generation += 1
        quick = self._wanted is None or self._size <= self.inline_sort_rows
        self.sort_order = self._wanted if quick else None
        self._order = self._plan(self.sort_order)()
        return not quick

    def _move_persistent(self, moved: Callable[[int], int]) -> None:
        old = self.persistentIndexList()
        if not old:
            return
        new = []
        for index in old:
            row = moved(index.row()) if index.isValid() else -1
            new.append(self.index(row, index.column()) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(old, new)

    # --- filters -------------------------------------------------------------------------

    def set_filter(self, key: str, value: str | None) -> None:
        """Show only rows whose ``key`` column equals ``value`` (None or "" shows all)."""
        if value:
            self._filters[key] = value
        else:
            self._filters.pop(key, None)
        self.beginResetModel()
        later = self._reset_order()
        self.endResetModel()
        if later:
            self._reorder()

    def filter_value(self, key: str) -> str | None:
        """The value rows of column ``key`` must have to be shown (None: any)."""
        return self._filters.get(key)

    def categories(self, key: str) -> list[str]:
        """Every distinct value seen in a category column, in first-seen order."""
        return list(self._stores[key].labels)

    def _keeper(self) -> Callable[[np.ndarray], np.ndarray]:
        """Which of some stored rows the filters show (a mask); safe on a pool thread."""
        tests = [self._stores[key].matcher(wanted) for key, wanted in self._filters.items()]

        def keep(rows: np.ndarray) -> np.ndarray:
            mask = np.ones(rows.shape[0], dtype=bool)
            for test in tests:
                mask &= test(rows)
            return mask

        return keep

    # --- export --------------------------------------------------------------------------

    def export_header(self, readable: bool = False) -> list[str]:
        """A file's first line: the titles the window shows, or the column keys for raw
        values (the names the API and the journal's exports use)."""
        return [c.title if readable else c.key for c in self.columns]

    def export_rows(self, readable: bool = False) -> Iterator[list[Any]]:
        """Every shown row, oldest first whatever the sort, in column order (for CSV files):
        raw values (epoch seconds, full floats), or ``readable`` ones (times as the window
        shows them, numbers rounded as it shows them, without thousands separators).

        The values are copied when this is called, so the rows may be read (and formatted)
        on another thread while the table goes on growing."""
        size = self._size
        shown = self._order.rows
        rows = np.arange(size) if shown is None else np.sort(shown)
        columns = []
        for column in self.columns:
            store = self._stores[column.key]
            if store.storage == TEXTS:
                data: Any = list(store.texts[:size])
            else:
                data = store.array[:size].copy()
            labels = list(store.labels) if store.storage == CODES else None
            columns.append((column, data, labels, readable))
        return _iter_rows(rows, columns)


def _iter_rows(rows: np.ndarray, columns: list[tuple[Column, Any, Any, bool]]
               ) -> Iterator[list[Any]]:
    for start in range(0, rows.shape[0], 10_000):
        chunk = rows[start:start + 10_000]
        values = []
        for column, data, labels, readable in columns:
            storage = column.kind.storage
            if storage == TEXTS:
                values.append([data[i] for i in chunk.tolist()])
            elif storage == CODES:
                values.append([labels[c] for c in data[chunk].tolist()])
            elif readable:
                values.append(list(map(column.readable, data[chunk].tolist())))
            elif column.kind.whole:  # kept as floats; written as whole numbers
                values.append([int(v) if v == v else "" for v in data[chunk].tolist()])
            else:
                values.append(data[chunk].tolist())
        yield from (list(row) for row in zip(*values, strict=True))


class ArrivalsButton(QPushButton):
    """"12 new fills ↑" over the top of a table scrolled away from its newest rows."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("arrivalsButton")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Rows that arrived while you were reading: click to go to the top")
        self.hide()


class _ArrowRoomStyle(QProxyStyle):
    """The header's style, leaving the sort arrow its own room beside a column's title.

    Under the window's style sheet the arrow is drawn over the last letters of a title
    aligned right (every number column's): "Realised P&L" read "Realised P&" with the arrow
    on the "L". The title's rectangle now ends where the arrow begins."""

    def drawControl(self, element: QStyle.ControlElement, option: Any, painter: QPainter,
                    widget: QWidget | None = None) -> None:
        if (element == QStyle.ControlElement.CE_HeaderLabel
                and isinstance(option, QStyleOptionHeader)
                and option.sortIndicator != QStyleOptionHeader.SortIndicator.None_):
            option = QStyleOptionHeader(option)
            option.rect = option.rect.adjusted(0, 0, -ARROW_ROOM, 0)
        super().drawControl(element, option, painter, widget)


class ColumnTableView(QTableView):
    """A table view of a ColumnTableModel that paints its screenful of cells in one pass and
    holds the rows being read still while new ones arrive.

    Qt's view paints cell by cell through an item delegate: a call into Python, a style
    option and a text layout per cell, 40-100 us each, so a blotter screenful took 10-17 ms
    on the window's thread every time fills arrived. This paints the rows in view directly
    from the model's cached answers (text, alignment, colour): a row background (alternate
    or selected, from the palette) and one drawText per cell. Text of an eliding kind that
    does not fit ends in "…" (the whole text on hover); other text is clipped to its cell.
    Selection, scrolling, headers and keyboard work as in QTableView.

    Scrolled away from the top, the rows on screen stay where they are when rows arrive above
    them or a sorted table places rows among them; the arrivals are counted on a button over
    the top of the table ("12 new fills ↑") that scrolls back up.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.arrivals = 0
        self.arrival_nouns = ("new row", "new rows")
        self._reading: tuple[QPersistentModelIndex, int] | None = None
        self._widest: dict[int, int] = {}  # the longest text (in characters) sized for
        self.arrivals_button = ArrivalsButton(self)
        header_style = _ArrowRoomStyle()
        header_style.setParent(self.horizontalHeader())
        self.horizontalHeader().setStyle(header_style)
        self.arrivals_button.clicked.connect(self.scrollToTop)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    def setModel(self, model: Any) -> None:
        old = self.model()
        if isinstance(old, ColumnTableModel):
            for signal, slot in self._model_hooks(old):
                signal.disconnect(slot)
        super().setModel(model)
        if isinstance(model, ColumnTableModel):
            for signal, slot in self._model_hooks(model):
                signal.connect(slot)
        self._widest = {}
        self._count_arrivals(0)

    def _model_hooks(self, model: ColumnTableModel) -> list[tuple[Any, Callable[..., None]]]:
        return [(model.rowsAboutToBeInserted, self._note_reading),
                (model.rowsInserted, self._rows_arrived),
                (model.layoutAboutToBeChanged, self._note_reading),
                (model.layoutChanged, self._keep_reading),
                (model.modelReset, self._model_reset),
                (model.sorting, self._show_sorting)]

    def _show_sorting(self, busy: bool) -> None:
        """A busy cursor over the rows while a large table sorts on a pool thread."""
        if busy:
            self.viewport().setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.viewport().unsetCursor()

    # --- holding the rows being read -----------------------------------------------------

    def _note_reading(self, *_: Any) -> None:
        """Before rows move: remember the top row on screen, if scrolled away from the top."""
        if self.verticalScrollBar().value() == 0 or self.model() is None:
            self._reading = None
            return
        top = self.rowAt(0)
        if top < 0:
            self._reading = None
            return
        self._reading = (QPersistentModelIndex(self.model().index(top, 0)),
                         self.rowViewportPosition(top))

    def _rows_arrived(self, _parent: Any, first: int, last: int) -> None:
        if self._reading is not None:
            self._count_arrivals(self.arrivals + last - first + 1)
        self._keep_reading()

    def _keep_reading(self, *_: Any) -> None:
        """After rows moved: scroll so the remembered row is where it was on screen."""
        if self._reading is None:
            return
        index, y = self._reading
        self._reading = None
        if not index.isValid():
            return
        self.updateGeometries()  # the scroll range must count the new rows first
        bar = self.verticalScrollBar()
        if self.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem:
            bar.setValue(index.row())
        else:
            bar.setValue(self.verticalHeader().sectionPosition(index.row()) - y)

    def _scrolled(self, value: int) -> None:
        if value == 0:
            self._count_arrivals(0)

    def _model_reset(self) -> None:
        self._reading = None
        self._count_arrivals(0)

    def _count_arrivals(self, count: int) -> None:
        if count == self.arrivals:
            return
        self.arrivals = count
        one, many = self.arrival_nouns
        self.arrivals_button.setText(f"{count:,} {one if count == 1 else many} ↑")
        self.arrivals_button.setVisible(count > 0)
        self._place_arrivals_button()

    def _place_arrivals_button(self) -> None:
        button = self.arrivals_button
        button.adjustSize()
        area = self.viewport().geometry()
        button.move(area.left() + (area.width() - button.width()) // 2, area.top() + 6)
        button.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_arrivals_button()

    # --- widths and tooltips -------------------------------------------------------------

    def widen_to_content(self) -> None:
        """Widen any column whose texts on screen no longer fit (never narrows one, so a
        width set by hand stays until a number outgrows it); eliding columns are left as
        they are. Measures only when a text is longer than any measured before."""
        model = self.model()
        if not isinstance(model, ColumnTableModel) or not model.rowCount():
            return
        first = max(self.rowAt(0), 0)
        last = self.rowAt(self.viewport().height() - 1)
        last = model.rowCount() - 1 if last < 0 else last
        metrics = self.fontMetrics()
        for column, declared in enumerate(model.columns):
            if declared.kind.elide or self.isColumnHidden(column):
                continue
            texts = [model.cell(row, column)[_DISPLAY] for row in range(first, last + 1)]
            longest = max(map(len, texts))
            if longest <= self._widest.get(column, 0):
                continue
            self._widest[column] = longest
            needed = max(map(metrics.horizontalAdvance, texts)) + 4 * CELL_PADDING
            if needed > self.columnWidth(column):
                self.setColumnWidth(column, needed)

    def viewportEvent(self, event: QEvent) -> bool:
        """On hover over text that does not fit its cell, the whole text."""
        if event.type() == QEvent.Type.ToolTip and isinstance(self.model(), ColumnTableModel):
            index = self.indexAt(event.pos())  # type: ignore[attr-defined]
            text = self._clipped_text(index.row(), index.column()) if index.isValid() else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self)  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    def _clipped_text(self, row: int, column: int) -> str:
        text = self.model().cell(row, column)[_DISPLAY]
        room = self.columnWidth(column) - 2 * CELL_PADDING
        return text if self.fontMetrics().horizontalAdvance(text) > room else ""

    # --- painting ------------------------------------------------------------------------

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
                columns.append((column, x, width, model.columns[column].kind.elide))
        height = self.verticalHeader().defaultSectionSize()
        palette = self.palette()
        text, selected_text = palette.text().color(), palette.highlightedText().color()
        alternate, highlight = palette.alternateBase(), palette.highlight()
        selection = self.selectionModel()
        chosen = ({index.row() for index in selection.selectedRows()}
                  if selection is not None and selection.hasSelection() else set())
        stripes = self.alternatingRowColors()
        metrics = self.fontMetrics()
        painter = QPainter(self.viewport())
        try:
            for row in range(first, last + 1):
                y = self.rowViewportPosition(row)
                is_chosen = row in chosen
                if is_chosen:
                    painter.fillRect(area.left(), y, area.width(), height, highlight)
                elif stripes and row % 2:
                    painter.fillRect(area.left(), y, area.width(), height, alternate)
                for column, x, width, elide in columns:
                    answers = model.cell(row, column)
                    colour = answers[_FOREGROUND]
                    painter.setPen(selected_text if is_chosen
                                   else colour if colour is not None else text)
                    shown = answers[_DISPLAY]
                    room = width - 2 * CELL_PADDING
                    if elide and shown:
                        shown = metrics.elidedText(shown, Qt.TextElideMode.ElideRight, room)
                    painter.drawText(x + CELL_PADDING, y, room, height, answers[_ALIGN], shown)
        finally:
            painter.end()
