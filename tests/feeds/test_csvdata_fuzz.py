"""Property-based fuzz of the bar-file reader: whatever a file holds, load_ohlcv returns clean
bars or refuses the file with a DataFileError; no other exception, and no numpy warning."""

from __future__ import annotations

import gzip
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.feeds.csvdata import MAX_LINE, OHLCV, load_ohlcv

# every example writes and reads a file: a few hundred keep the module near ten seconds
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.filterwarnings("error")  # a RuntimeWarning from numpy fails too

T0 = 1_704_067_200
HEADERS = ["", "timestamp,open,high,low,close,volume", "Date,Open,High,Low,Close,Volume",
           "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
           "taker_buy_volume,taker_buy_quote_volume,ignore", "time,date,o,h,l,c,v"]
ODD_CELLS = ["", " ", "nan", "inf", "-inf", "1e400", "-0", "0", "1_000", "0x10", "+5", "N/A",
             "\x00", "\ufeff", '"', '""', '"1,2"', "2024-01-01", "2024-13-01T00:00:00Z",
             "9999-12-31T23:59:59+14:00", "0001-01-01", "1" + "0" * 400, "9" * 5000,
             "٣", "１２", str(2**63), str(-(2**63) - 1), "1553306400000", "1553306400000000"]

cells = st.one_of(
    st.sampled_from(ODD_CELLS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=T0 - 10**6, max_value=T0 + 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)
rows = st.lists(cells, min_size=1, max_size=13).map(",".join)
NEWLINES = ["\n", "\r\n", "\r"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]


def bar_line(i: int, price: float) -> str:
    return f"{T0 + 60 * i},{price},{price * 1.01},{price * 0.99},{price},{i % 7}"


# mostly clean bars with one row spoiled: reaches the fast path's checks and the precise scan
spoiled_files = st.builds(
    lambda count, at, bad, header: "\n".join(
        [header, *(bad if i == at else bar_line(i, 100.0 + i) for i in range(count))]),
    st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=40), rows,
    st.sampled_from(HEADERS[:2]))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def write(folder: Path, data: bytes, suffix: str = ".csv") -> Path:
    path = folder / f"bars{suffix}"
    if suffix == ".csv.gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("bars.csv", data)
    else:
        path.write_bytes(data)
    return path


def read_or_refuse(path: Path) -> OHLCV | None:
    """The bars, or None when the reader refused the file with one of the project's errors;
    any other exception fails the test."""
    try:
        bars = load_ohlcv(path)
    except VelocitasError:
        return None
    assert len(bars) >= 1
    assert np.all(np.isfinite(bars.timestamp)) and np.all(np.diff(bars.timestamp) > 0)
    for column in (bars.open, bars.high, bars.low, bars.close):
        assert np.all(column > 0) and np.all(np.isfinite(column))
    assert np.all(bars.volume >= 0) and np.all(bars.high >= bars.low)
    assert bars.interval is None or math.isfinite(bars.interval)
    return bars


@FUZZ
@given(data=st.binary(max_size=2_000), suffix=st.sampled_from([".csv", ".csv.gz", ".zip"]))
def test_random_bytes_are_read_or_refused(folder: Path, data: bytes, suffix: str) -> None:
    read_or_refuse(write(folder, data, suffix))


@FUZZ
@given(header=st.sampled_from(HEADERS), lines=st.lists(rows, max_size=8),
       newline=st.sampled_from(NEWLINES), encoding=st.sampled_from(ENCODINGS))
def test_random_lines_in_any_encoding_are_read_or_refused(
        folder: Path, header: str, lines: list[str], newline: str, encoding: str) -> None:
    text = newline.join([header, *lines] if header else lines)
    read_or_refuse(write(folder, text.encode(encoding, errors="replace")))


@FUZZ
@given(text=spoiled_files, bom=st.booleans(), nul=st.booleans(),
       suffix=st.sampled_from([".csv", ".csv.gz"]))
def test_clean_bars_with_one_row_spoiled_are_read_or_refused(
        folder: Path, text: str, bom: bool, nul: bool, suffix: str) -> None:
    data = ("\ufeff" if bom else "").encode() + text.encode("utf-8", errors="replace")
    if nul:
        data = data.replace(b",", b"\x00,", 1)
    read_or_refuse(write(folder, data, suffix))


@settings(FUZZ, max_examples=25)
@given(at=st.integers(min_value=0, max_value=4),
       length=st.integers(min_value=MAX_LINE - 2, max_value=MAX_LINE + 2_000),
       quoted=st.booleans())
def test_huge_fields_anywhere_are_read_or_refused(folder: Path, at: int, length: int,
                                                  quoted: bool) -> None:
    lines = ["timestamp,open,high,low,close,volume", *(bar_line(i, 100.0) for i in range(4))]
    field = "9" * length
    lines[at] = f'"{field}"' if quoted else field + lines[at]
    read_or_refuse(write(folder, "\n".join(lines).encode()))
