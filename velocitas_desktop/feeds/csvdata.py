"""Loads and validates OHLCV bar files (plain CSV, Binance kline archive) for replay and research.

Two layouts are read:

* plain: ``timestamp,open,high,low,close,volume``. A header row is optional; with one, column
  names are matched case-insensitively (``time``, ``date``, ``open_time``... for the timestamp,
  ``o``/``h``/``l``/``c``/``v``, ``vol``...), columns may come in any order and extra columns
  (``symbol``, ``quote_volume``...) are ignored. Timestamps are ISO-8601 (a date alone, with or
  without ``Z`` or an offset; without one they are read as UTC) or epoch numbers, whose unit
  (s, ms, µs, ns) is decided by their magnitude.
* binance: the public kline archive, 12 columns and normally no header (open_time, open, high,
  low, close, volume, close_time, quote_volume, trades, taker_buy_base, taker_buy_quote,
  ignore). open_time is in ms, or µs in the archives since 2025, decided by magnitude; the bar
  length is close_time - open_time + 1 unit.

Files may be gzip (``.gz``) or zip (``.zip`` holding one CSV) compressed, as the archive ships.

A file is refused whole, before any bar is used, with a DataFileError that names the line and
the problem. Refused: a line over MAX_LINE (131,072) characters, wrong column count, missing
values, non-numbers, NaN, infinity or a number past float's range, prices <= 0, negative
volume, high below low, open or close outside [low, high] (an exchange bar never has that; it
means the columns are swapped or the data is damaged, so it is an error, with a 1e-9 relative
tolerance for rounding), timestamps not strictly increasing. Gaps between bars are legal:
exchanges halt and archives have holes.

Speed: a fast path (pandas' C parser, vectorised checks) loads clean files; only when it sees
a problem does a precise line-by-line scan run, which alone decides what the error is, so the
line number in a message is always the file's own (1-based, blank lines counted).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import pandas as pd

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.types import Bar

__all__ = [
    "BINANCE_COLUMN_COUNT",
    "OHLCV",
    "PLAIN_COLUMNS",
    "DataFileError",
    "detect_layout",
    "load_ohlcv",
    "write_ohlcv_csv",
]

PLAIN_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
BINANCE_COLUMN_COUNT = 12
_PRICE_COLUMNS = ("open", "high", "low", "close")
_RANGE_TOLERANCE = 1e-9  # relative slack for open/close vs [low, high] after float rounding
# The longest line a bar file may have: the csv module's default field limit. A bar's line is
# under 200 characters (a Binance kline row: about 120); a longer one means the file is not
# bars, and the first line is read only this far, so a file without line ends is not read
# whole into memory to find that out.
MAX_LINE = 131_072

_ALIASES = {
    **dict.fromkeys(
        ("timestamp", "time", "date", "datetime", "date_time", "open_time", "opentime", "ts",
         "t", "unix", "epoch"),
        "timestamp",
    ),
    **dict.fromkeys(("open", "o"), "open"),
    **dict.fromkeys(("high", "h"), "high"),
    **dict.fromkeys(("low", "l"), "low"),
    **dict.fromkeys(("close", "c"), "close"),
    **dict.fromkeys(("volume", "vol", "v", "base_volume", "volume_base"), "volume"),
}

# Epoch units by magnitude: below 1e11 a number is seconds (1e11 s is the year 5138), below
# 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
_UNITS = ((1e11, 1, "seconds"), (1e14, 1_000, "milliseconds"),
          (1e17, 1_000_000, "microseconds"), (float("inf"), 1_000_000_000, "nanoseconds"))
_UNIT_LIMITS = np.array([limit for limit, _, _ in _UNITS])


class DataFileError(VelocitasError, ValueError):
    """A bar file cannot be used; ``str()`` reads ``prices.csv line 14: <problem>``."""

    path: str
    line: int | None
    problem: str

    def __init__(self, path: str | os.PathLike[str], line: int | None, problem: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "data"
        if self.line is not None:
            where = f"{where} line {self.line}"
        return f"{where}: {self.problem}"

    def __reduce__(self):  # process pools pickle errors; rebuild from the three fields
        return (type(self), (self.path, self.line, self.problem))


@dataclass(frozen=True, slots=True, eq=False)
class OHLCV:
    """Bars of one file as read-only float64 columns; ``timestamp`` is each bar's open time."""

    path: str
    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval: float | None  # seconds per bar; None when one plain bar leaves it unknown

    @property
    def close_time(self) -> np.ndarray:
        """Each bar's close time (open time + interval): the tick timestamp on replay."""
        if self.interval is None:
            return self.timestamp.copy()
        return self.timestamp + self.interval

    def bar(self, i: int) -> Bar:
        """Bar ``i`` as the domain value strategies receive."""
        start = float(self.timestamp[i])
        return Bar(
            start=start,
            end=start + (self.interval or 0.0),
            open=float(self.open[i]),
            high=float(self.high[i]),
            low=float(self.low[i]),
            close=float(self.close[i]),
            volume=float(self.volume[i]),
        )

    def __len__(self) -> int:
        return len(self.timestamp)


@dataclass(frozen=True, slots=True)
class _Format:
    layout: str  # "plain" | "binance"
    header_line: int  # physical line of the header; 0 when there is none
    ncols: int
    columns: tuple[int, ...]  # positions of timestamp, open, high, low, close, volume


@dataclass(frozen=True, slots=True)
class _Suspect:
    """Where the fast path saw the first trouble: everything before it is known to be clean."""

    row: int  # data row (0-based, blank lines not counted) whose values fail a check
    line: int  # physical line (1-based) whose column count is wrong


_NOWHERE = 1 << 62


@dataclass(slots=True)
class _Columns:
    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval: float | None


# ---------------------------------------------------------------------------------- public


def load_ohlcv(path: str | os.PathLike[str], min_bars: int = 1) -> OHLCV:
    """Read and validate a bar file; raise DataFileError naming the first bad line."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        problem = "is a folder, not a file" if os.path.isdir(name) else "no such file"
        raise DataFileError(name, None, problem)
    first = _first_line(name)
    if first is None:
        raise DataFileError(name, None, "the file is empty")
    line_no, text = first
    fmt = _sniff(text, name, line_no)
    cols = _read_fast(name, fmt)
    if isinstance(cols, _Suspect):
        cols = _read_precise(name, fmt, skip_before=cols)
    if cols is None:
        cols = _read_precise(name, fmt)
    assert cols is not None  # a full precise read returns bars or raises
    if len(cols.timestamp) < min_bars:
        raise DataFileError(
            name, None, f"only {len(cols.timestamp)} bars; at least {min_bars} are needed"
        )
    arrays = [cols.timestamp, cols.open, cols.high, cols.low, cols.close, cols.volume]
    for array in arrays:
        array.setflags(write=False)  # bars are shared by the feed, backtests and the GUI
    return OHLCV(name, *arrays, interval=cols.interval)


def detect_layout(first_line: str, path: str = "") -> str:
    """``"plain"`` or ``"binance"`` from a file's first line; DataFileError if neither."""
    return _sniff(first_line.lstrip("\ufeff").rstrip("\r\n"), path, 1).layout


def write_ohlcv_csv(path: str | os.PathLike[str], bars: OHLCV) -> None:
    """Write ``bars`` in the plain layout with a header; load_ohlcv reads them back exactly.

    Timestamps are ISO-8601 UTC (``2024-01-01T00:00:00Z``) when every bar opens on a whole
    second, else epoch seconds; numbers are written in their shortest exact form (``repr``).
    The file is replaced atomically, so a reader never sees half of it.
    """
    ts = np.asarray(bars.timestamp, dtype=np.float64)
    if np.all(np.isfinite(ts)) and np.all(ts == np.floor(ts)):
        seconds = ts.astype(np.int64).astype("datetime64[s]")
        stamps = [s + "Z" for s in np.datetime_as_string(seconds, unit="s").tolist()]
    else:
        stamps = [repr(t) for t in ts.tolist()]
    columns = [
        map(repr, np.asarray(column, dtype=np.float64).tolist())
        for column in (bars.open, bars.high, bars.low, bars.close, bars.volume)
    ]
    rows = map(",".join, zip(stamps, *columns, strict=True))
    target = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            out.write(",".join(PLAIN_COLUMNS) + "\n")
            for row in rows:
                out.write(row)
                out.write("\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------- layout sniffing


def _normalise(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace(" ", "_").replace("-", "_")


_LONG_LINE = (f"the line is longer than {MAX_LINE:,} characters; a bar file has one short "
              "line per bar (timestamp,open,high,low,close,volume): is this a bar file?")


def _sniff(first_line: str, path: str, line: int) -> _Format:
    if len(first_line) > MAX_LINE:
        raise DataFileError(path, line, _LONG_LINE)
    try:
        fields = next(csv.reader([first_line], skipinitialspace=True), [])
    except csv.Error as exc:
        raise DataFileError(path, line, f"unreadable CSV ({exc})") from None
    names = [_normalise(f) for f in fields]
    canonical = [_ALIASES.get(n) for n in names]
    n = len(fields)
    if n == BINANCE_COLUMN_COUNT and names[0] == "open_time" and names[6] == "close_time":
        return _Format("binance", line, n, (0, 1, 2, 3, 4, 5))  # the futures archive's header
    if any(canonical):
        return _Format("plain", line, n, _header_positions(fields, canonical, path, line))
    if n == BINANCE_COLUMN_COUNT:
        return _Format("binance", 0, n, (0, 1, 2, 3, 4, 5))
    if n == len(PLAIN_COLUMNS):
        return _Format("plain", 0, n, (0, 1, 2, 3, 4, 5))
    raise DataFileError(
        path, line,
        f"unknown layout: {n} column{'s' if n != 1 else ''} and no header; expected 6 "
        "comma-separated columns (timestamp,open,high,low,close,volume), the 12 of the "
        "Binance kline archive, or a header row naming the columns",
    )


def _header_positions(
    fields: list[str], canonical: list[str | None], path: str, line: int
) -> tuple[int, ...]:
    positions = []
    for column in PLAIN_COLUMNS:
        found = [i for i, c in enumerate(canonical) if c == column]
        if not found:
            header = ",".join(f.strip() for f in fields)
            raise DataFileError(path, line, f"missing column '{column}' (the header is: {header})")
        if len(found) > 1:
            both = " and ".join(f"'{fields[i].strip()}'" for i in found)
            raise DataFileError(path, line, f"columns {both} both read as '{column}'; keep one")
        positions.append(found[0])
    return tuple(positions)


# ---------------------------------------------------------------------------- file access


@contextlib.contextmanager
def _open_binary(path: str) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressing ``.gz`` and single-member ``.zip`` files."""
    lower = path.lower()
    if lower.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield stream
    elif lower.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise DataFileError(
                    path, None, f"the zip archive holds {len(members)} files; expected one CSV"
                )
            with archive.open(members[0]) as stream:
                yield stream
    else:
        with open(path, "rb") as stream:
            yield stream


@contextlib.contextmanager
def _open_text(path: str) -> Iterator[IO[str]]:
    with _open_binary(path) as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _first_line(path: str) -> tuple[int, str] | None:
    """The first non-blank line and its 1-based number, or None for an empty file;
    DataFileError if a line up to it is longer than MAX_LINE."""
    try:
        with _open_text(path) as text:
            number = 0
            # MAX_LINE + 2: a line of MAX_LINE characters and its "\r\n" come back whole
            while line := text.readline(MAX_LINE + 2):
                number += 1
                content = line.rstrip("\r\n")
                if len(content) > MAX_LINE:
                    raise DataFileError(path, number, _LONG_LINE)
                if content.strip():
                    return number, content
    except UnicodeDecodeError:
        raise DataFileError(path, None, "not a text file (expected UTF-8 CSV)") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFileError(path, None, f"cannot read the file ({exc})") from None
    return None


# ------------------------------------------------------------------------------ fast path


def _read_fast(path: str, fmt: _Format) -> _Columns | _Suspect | None:
    """All bars via pandas' C parser and vectorised checks.

    Returns the bars; or where the first trouble is, for the precise scan to explain; or
    None when the parser gave up or something is odd (the scan then reads everything).
    """
    try:
        with _open_binary(path) as raw, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(
                raw, header=None, names=list(range(fmt.ncols)), skiprows=fmt.header_line,
                index_col=False, skipinitialspace=True, engine="c", encoding="utf-8-sig",
                on_bad_lines="warn",  # rows with too many fields are reported, not fatal
            )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    long_rows = _long_row_lines(caught)
    if long_rows is None or frame.empty:
        return None
    if fmt.layout == "binance":
        timestamp, interval, bad, doubt = _fast_binance_times(frame)
    else:
        timestamp, bad, doubt = _fast_timestamps(frame[fmt.columns[0]])
        interval = None
    bad = np.array(bad, dtype=bool)  # a private, writable copy
    numbers = []
    for position in fmt.columns[1:]:
        values, unusual = _fast_numbers(frame[position])
        numbers.append(values)
        doubt = doubt or unusual
    open_, high, low, close, volume = numbers
    # A short row leaves its last fields empty, so the last column is checked even if unused.
    checked = sorted({*fmt.columns, fmt.ncols - 1, *((6,) if fmt.layout == "binance" else ())})
    bad |= frame[checked].isna().to_numpy().any(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN rows, rows near 1.8e308: marked bad
        slack = high * _RANGE_TOLERANCE
        bad |= ~(
            np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)
            & np.isfinite(volume)
            & (open_ > 0) & (high > 0) & (low > 0) & (close > 0) & (volume >= 0)
            & (high >= low)
            & (open_ <= high + slack) & (open_ >= low - slack)
            & (close <= high + slack) & (close >= low - slack)
        )
        bad[1:] |= ~(np.diff(timestamp) > 0)
    if bad.any() or long_rows:
        row = int(np.argmax(bad)) if bad.any() else _NOWHERE
        return _Suspect(row=row, line=min(long_rows, default=_NOWHERE))
    if doubt:
        return None
    if interval is None:
        interval = _median_spacing(timestamp)
    return _Columns(timestamp, open_, high, low, close, volume, interval)


def _long_row_lines(caught: list[warnings.WarningMessage]) -> list[int] | None:
    """Physical lines pandas skipped for having too many fields; None if a warning is unclear."""
    lines = []
    for warning in caught:
        found = _SKIPPED_LINE.findall(str(warning.message))
        if not found:
            return None
        lines.extend(int(number) for number in found)
    return lines


_SKIPPED_LINE = re.compile(r"Skipping line (\d+)")


def _fast_numbers(column: pd.Series) -> tuple[np.ndarray, bool]:
    """float64 values (NaN where unreadable), and whether the parser found non-numbers."""
    if column.dtype.kind in "iuf":
        return column.to_numpy(dtype=np.float64), False
    try:
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64), True
    except OverflowError:  # a whole number past float's range: every row is suspect
        return np.full(len(column), np.nan), True


def _fast_timestamps(column: pd.Series) -> tuple[np.ndarray, np.ndarray, bool]:
    """Epoch seconds, a mask of unreadable or unit-mixing rows, and doubt (see _read_fast)."""
    first = str(column.iloc[0]).strip()
    if column.dtype.kind in "iuf" or _is_number(first):
        raw, doubt = _fast_numbers(column)
        bands = np.searchsorted(_UNIT_LIMITS, np.abs(raw), side="right")
        band = min(int(bands[0]), len(_UNITS) - 1)
        bad = bands != bands[0]
        return raw / _UNITS[band][1], bad, doubt
    parsed = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
    missing = parsed.isna().to_numpy()
    micros = pd.DatetimeIndex(parsed).as_unit("us").asi8
    timestamp = np.where(missing, np.nan, micros / 1_000_000)
    return timestamp, missing, False


def _fast_binance_times(
    frame: pd.DataFrame,
) -> tuple[np.ndarray, float | None, np.ndarray, bool]:
    """Open times in seconds, the bar length, a mask of bad rows, and doubt."""
    opened, doubt_open = _fast_numbers(frame[0])
    closed, doubt_close = _fast_numbers(frame[6])
    doubt = doubt_open or doubt_close or frame[0].dtype.kind != "i" or frame[6].dtype.kind != "i"
    bands = np.searchsorted(_UNIT_LIMITS, np.abs(opened), side="right")
    per_second = _UNITS[int(bands[0])][1] if bands[0] in (1, 2) else 1_000
    with np.errstate(invalid="ignore"):
        bad = (bands != bands[0]) | ~np.isin(bands, (1, 2))
        bad |= (opened != np.floor(opened)) | (closed != np.floor(closed)) | ~(closed > opened)
    spans = closed - opened + 1
    interval = None if bad.any() else float(np.median(spans)) / per_second
    return opened / per_second, interval, bad, doubt


def _median_spacing(timestamp: np.ndarray) -> float | None:
    return float(np.median(np.diff(timestamp))) if len(timestamp) > 1 else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text


def _unit_of(value: float) -> tuple[int, str]:
    """Epoch units per second and the unit's name, by the value's magnitude."""
    magnitude = abs(value)
    for limit, per_second, name in _UNITS:
        if magnitude < limit:
            return per_second, name
    return _UNITS[-1][1], _UNITS[-1][2]


# ------------------------------------------------------------------------- precise scan


class _Scan:
    """Parses one row's fields; the first problem in the file is the one reported."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.line = 0
        self.time_kind: tuple[str, int] | None = None  # ("epoch", units per second) | ("iso", 1)
        self.spans: list[int] = []  # Binance close_time - open_time + 1, in the file's unit

    def fail(self, problem: str) -> DataFileError:
        return DataFileError(self.path, self.line, problem)

    def number(self, name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or "_" in text:  # float() takes 1_000; no CSV writer means that
            shown = text.strip()
            if not shown:
                raise self.fail(f"{name} is missing (empty field)")
            raise self.fail(f'{name} is not a number ("{shown}")')
        if not math.isfinite(value):
            raise self.fail(f'{name} is not a finite number ("{text.strip()}")')
        return value

    def timestamp(self, text: str) -> float:
        value = text.strip()
        if not value:
            raise self.fail("timestamp is missing (empty field)")
        if _is_number(value):
            return self._epoch(value, float(value))
        return self._iso(value)

    def _epoch(self, value: str, epoch: float) -> float:
        if not math.isfinite(epoch):
            raise self.fail(f'timestamp is not a finite number ("{value}")')
        per_second, unit = _unit_of(epoch)
        if self.time_kind is None:
            self.time_kind = ("epoch", per_second)
        kind, first_per_second = self.time_kind
        if kind != "epoch":
            raise self.fail(
                f'timestamp "{value}" is an epoch number but earlier bars use ISO-8601 dates'
            )
        if per_second != first_per_second:
            first_unit = next(name for _, p, name in _UNITS if p == first_per_second)
            raise self.fail(
                f'timestamp "{value}" looks like epoch {unit} but earlier bars use epoch '
                f"{first_unit}"
            )
        return epoch / per_second

    def _iso(self, value: str) -> float:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(
                f'timestamp is not an ISO-8601 date or an epoch number ("{value}")'
            ) from None
        if self.time_kind is None:
            self.time_kind = ("iso", 1)
        if self.time_kind[0] != "iso":
            raise self.fail(f'timestamp "{value}" is a date but earlier bars use epoch numbers')
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return ((moment - _EPOCH) // _MICROSECOND) / 1_000_000  # whole µs, as the fast path

    def binance_times(self, row: list[str]) -> float:
        opened = self._integer("open_time", row[0])
        closed = self._integer("close_time", row[6])
        per_second, unit = _unit_of(opened)
        if per_second not in (1_000, 1_000_000):
            raise self.fail(
                f"open_time {opened} is neither epoch milliseconds nor microseconds "
                f"(it reads as {unit})"
            )
        if self.time_kind is None:
            self.time_kind = ("epoch", per_second)
        elif self.time_kind[1] != per_second:
            first_unit = "milliseconds" if self.time_kind[1] == 1_000 else "microseconds"
            raise self.fail(f"open_time {opened} is in {unit} but earlier bars use {first_unit}")
        if closed <= opened:
            raise self.fail(f"close_time {closed} is not after open_time {opened}")
        self.spans.append(closed - opened + 1)
        return opened / per_second

    def _integer(self, name: str, text: str) -> int:
        value = text.strip()
        try:
            if "_" in value:
                raise ValueError
            number = int(value)
        except ValueError:
            if not value:
                raise self.fail(f"{name} is missing (empty field)") from None
            raise self.fail(f'{name} is not a whole epoch number ("{value}")') from None
        if not -_INT64 <= number < _INT64:  # the fast path's int64 columns hold the rest
            raise self.fail(f"{name} is too large for an epoch time ({len(value):,} digits)")
        return number


_INT64 = 2**63


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _read_precise(
    path: str, fmt: _Format, skip_before: _Suspect | None = None
) -> _Columns | None:
    """All bars, row by row; raises DataFileError at the first bad line.

    With ``skip_before``, rows before the suspect row's predecessor (the ordering check needs
    it) and before the suspect line are only counted: the fast path has vouched for them.
    Such a partial read returns None if it finds nothing wrong, and the caller then reads the
    whole file this way.
    """
    check_from = max(skip_before.row - 1, 0) if skip_before is not None else 0
    check_line = skip_before.line if skip_before is not None else 0
    scan = _Scan(path)
    binance = fmt.layout == "binance"
    ncols, header_line = fmt.ncols, fmt.header_line
    ts_at, open_at, high_at, low_at, close_at, volume_at = fmt.columns
    out: tuple[list[float], ...] = ([], [], [], [], [], [])
    previous: tuple[float, int] | None = None  # timestamp and line of the bar before
    reader = None
    index = -1
    try:
        with _open_text(path) as text:
            reader = csv.reader(text, skipinitialspace=True)
            for row in reader:
                if len(row) <= 1 and (not row or not row[0].strip()):
                    continue  # a blank line, which pandas skips too
                if reader.line_num <= header_line:
                    continue
                index += 1
                if index < check_from and reader.line_num < check_line:
                    continue
                scan.line = reader.line_num
                if len(row) != ncols:
                    raise scan.fail(f"expected {ncols} columns, found {len(row)}")
                stamp = scan.binance_times(row) if binance else scan.timestamp(row[ts_at])
                o = scan.number("open", row[open_at])
                h = scan.number("high", row[high_at])
                lo = scan.number("low", row[low_at])
                c = scan.number("close", row[close_at])
                v = scan.number("volume", row[volume_at])
                slack = h * _RANGE_TOLERANCE
                if not (o > 0 and h > 0 and lo > 0 and c > 0 and v >= 0 and h >= lo
                        and lo - slack <= o <= h + slack and lo - slack <= c <= h + slack):
                    raise scan.fail(_bar_problem(row, fmt))
                if previous is not None and stamp <= previous[0]:
                    raise scan.fail(_order_problem(row[ts_at].strip(), stamp, *previous))
                previous = (stamp, scan.line)
                for column, value in zip(out, (stamp, o, h, lo, c, v), strict=True):
                    column.append(value)
    except UnicodeDecodeError:
        raise DataFileError(path, None, "not a text file (expected UTF-8 CSV)") from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else None
        # the csv module's own limit: a field over MAX_LINE characters
        problem = _LONG_LINE if "field limit" in str(exc) else f"unreadable CSV ({exc})"
        raise DataFileError(path, line, problem) from None
    if skip_before is not None:
        return None
    if not out[0]:
        raise DataFileError(path, None, "no bars after the header")
    timestamp, open_, high, low, close, volume = (np.array(c, dtype=np.float64) for c in out)
    if binance:
        per_second = scan.time_kind[1] if scan.time_kind else 1_000
        interval: float | None = float(np.median(scan.spans)) / per_second
    else:
        interval = _median_spacing(timestamp)
    return _Columns(timestamp, open_, high, low, close, volume, interval)


def _bar_problem(row: list[str], fmt: _Format) -> str:
    """Why a row whose fields are all finite numbers is not a bar."""
    text = {name: row[i].strip() for name, i in zip(PLAIN_COLUMNS, fmt.columns, strict=True)}
    value = {name: float(text[name]) for name in PLAIN_COLUMNS[1:]}
    for name in _PRICE_COLUMNS:
        if value[name] <= 0:
            return f"{name} must be positive ({text[name]})"
    if value["volume"] < 0:
        return f"volume must not be negative ({text['volume']})"
    if value["high"] < value["low"]:
        return f"high ({text['high']}) is below low ({text['low']})"
    name = "open" if not value["low"] <= value["open"] <= value["high"] else "close"
    return (
        f"{name} ({text[name]}) is outside the bar's range "
        f"[low {text['low']}, high {text['high']}]"
    )


def _order_problem(stamp_text: str, stamp: float, before: float, before_line: int) -> str:
    if stamp == before:
        return f'duplicate timestamp "{stamp_text}" (also on line {before_line})'
    return (
        f'timestamp "{stamp_text}" is earlier than the bar before it (line {before_line}); '
        "bars must be sorted oldest first"
    )
