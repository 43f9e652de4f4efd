"""Kline history from Binance's REST API into the plain CSV layout: paced, patient, resumable.

``velocitas download`` drives :class:`KlineDownloader`. It pages ``/api/v3/klines`` 1000 bars
at a time, oldest first, and appends each page to the file as soon as it arrives, so a run that
stops (Ctrl-C, a ban, a lost connection, a killed process) keeps what it fetched. Run it again
with the same arguments and it continues after the file's last bar: no bar is written twice.

Rate limits. Binance counts request weight per IP per clock minute and reports the count in the
``X-MBX-USED-WEIGHT-1M`` header of every answer. The downloader pauses until the next minute
before it would pass ``(1 - headroom)`` of the limit (read from exchangeInfo), so it never meets
a 429 of its own making. If a 429 or 418 comes anyway (another program on the same address), it
waits for the ``Retry-After`` the exchange names, and gives up cleanly if that is longer than
``max_wait``. The requests themselves go through the REST client the live feed uses too
(:mod:`velocitas_desktop.feeds.binance_rest`).

The file is the plain layout that the csv feed and the optimiser read (``timestamp,open,high,
low,close,volume``, one row per kline, the timestamp being the kline's open time in UTC), written
exactly as :func:`velocitas_desktop.feeds.csvdata.write_ohlcv_csv` writes it.
"""

from __future__ import annotations

import calendar
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import numpy as np

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.types import INTERVAL_SECONDS
from velocitas_desktop.feeds.binance_rest import (
    BINANCE_REST_URL,
    KLINE_INTERVALS,
    KLINES_WEIGHT,
    MAX_KLINES,
    BadAddress,
    BinanceBadAnswer,
    BinanceError,
    BinanceRateLimited,
    BinanceRefused,
    BinanceRest,
    BinanceUnreachable,
    Patience,
    UnknownSymbolError,
    check_base_url,
)
from velocitas_desktop.feeds.csvdata import (
    OHLCV,
    PLAIN_COLUMNS,
    DataFileError,
    load_ohlcv,
    write_ohlcv_csv,
)

__all__ = [
    "INTERVALS",
    "DownloadError",
    "DownloadPlan",
    "DownloadProgress",
    "DownloadResult",
    "DownloadStopped",
    "KlineDownloader",
    "parse_time",
]

MAX_REFUSALS = 10  # 429/418 answers waited out for one request before the run stops
# How long one request keeps retrying a network failure or a 5xx before the run stops (the
# same command continues later). Retried four times, 2+4+8+16 s apart, a host that cannot be
# reached kept the user waiting 31 s; with this budget it takes 10.
RETRY_SECONDS = 10.0
MAX_RETRIES = 100  # the budget, not the count, ends the retries
HEADER = ",".join(PLAIN_COLUMNS) + "\n"

# Binance's kline intervals and their length in ms; "1M" (a calendar month) varies.
INTERVALS: dict[str, int | None] = {
    name: INTERVAL_SECONDS[name] * 1000 if name in INTERVAL_SECONDS else None
    for name in KLINE_INTERVALS}


class DownloadError(VelocitasError):
    """The request cannot be carried out as given (bad symbol, interval, dates, path)."""


class DownloadStopped(VelocitasError):
    """The exchange or the network stopped the download; what was fetched stays in the file."""


@dataclass(frozen=True, slots=True)
class DownloadPlan:
    """What to fetch: ``symbol``'s ``interval`` klines opening in [start_ms, end_ms)."""

    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    out: str


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """Where a download stands: ``covered_ms`` of ``total_ms`` done, ``rows`` in the file."""

    covered_ms: int
    total_ms: int
    rows: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What a run did. ``resumed_after_ms`` is the open time the file ended on, if it existed."""

    rows_written: int
    rows_total: int
    resumed_after_ms: int | None
    first_open_ms: int | None
    last_open_ms: int | None
    requests: int
    paused_seconds: float


ProgressCallback = Callable[[DownloadProgress], None]


def parse_time(text: str, option: str) -> int:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` (UTC; a ``Z`` is allowed) → epoch ms."""
    raw = text.strip()
    cleaned = raw[:-1] if raw.endswith(("Z", "z")) else raw
    for pattern in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                    "%Y-%m-%d %H:%M:%S"):
        try:
            moment = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        return calendar.timegm(moment.timetuple()) * 1000
    raise DownloadError(f"{option} {text!r} is not a date; use YYYY-MM-DD or "
                        "YYYY-MM-DDTHH:MM (UTC)")


def format_ms(ms: int) -> str:
    """``2024-01-31 23:59 UTC`` for messages."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def check_plan(plan: DownloadPlan) -> DownloadPlan:
    """Refuse what can be refused without the network; returns the plan, symbol uppercased."""
    symbol = plan.symbol.strip().upper()
    if not symbol or not symbol.replace("-", "").replace("_", "").replace(".", "").isalnum() \
            or len(symbol) > 20:
        raise DownloadError(f"--symbol {plan.symbol!r} is not a Binance symbol; use one like "
                            "BTCUSDT")
    if plan.interval not in INTERVALS:
        raise DownloadError(f"--interval {plan.interval!r} is not a Binance interval; use one "
                            f"of {' '.join(INTERVALS)}")
    if plan.start_ms >= plan.end_ms:
        raise DownloadError(f"--start {format_ms(plan.start_ms)} is not before --end "
                            f"{format_ms(plan.end_ms)}")
    _check_writable(plan.out)
    return DownloadPlan(symbol, plan.interval, plan.start_ms, plan.end_ms, plan.out)


def _check_writable(out: str) -> None:
    target = os.path.abspath(out)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise DownloadError(f"--out {out} is a folder; give a file name like {out}/bars.csv")
    if not os.path.isdir(folder):
        raise DownloadError(f"cannot write {out}: the folder {folder} does not exist")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise DownloadError(f"cannot write {out}: permission denied")
    if not os.access(folder, os.W_OK):
        raise DownloadError(f"cannot write {out}: the folder {folder} is not writable")


class KlineDownloader:
    """Downloads one plan at a time from ``rest_url`` (Binance, its testnet, or a fake).

    ``sleep`` is how the downloader waits (tests pass one that moves a fake clock instead).
    """

    def __init__(self, rest_url: str = BINANCE_REST_URL, *, timeout: float = 10.0,
                 max_wait: float = 600.0, headroom: float = 0.1,
                 retry_seconds: float = RETRY_SECONDS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        try:
            self.rest_url = check_base_url(rest_url)
        except BadAddress as exc:
            raise DownloadError(f"--binance-rest-url {exc}") from None
        self.timeout = timeout
        self.headroom = headroom
        self.retry_seconds = retry_seconds
        self.patience = Patience(max_wait=max_wait, refusals=MAX_REFUSALS, retries=MAX_RETRIES,
                                 retry_seconds=retry_seconds)
        self.sleep = sleep
        self.paused = 0.0
        self._notify: ProgressCallback = lambda progress: None
        self._where = DownloadProgress(0, 1, 0)

    # --- the run -------------------------------------------------------------------------

    def run(self, plan: DownloadPlan, on_progress: ProgressCallback | None = None
            ) -> DownloadResult:
        plan = check_plan(plan)
        self._notify = on_progress or (lambda progress: None)
        self.paused = 0.0
        existing, last_open = _resume_point(plan)
        with BinanceRest(self.rest_url, timeout=self.timeout, patience=self.patience,
                         wait=self._wait) as rest:
            try:
                self._check_symbol(rest, plan.symbol)
                written, first, last = self._fetch(rest, plan, existing, last_open)
            except BinanceError as exc:
                raise _stopped_or_refused(exc, self.retry_seconds) from None
        if existing + written == 0:
            raise DownloadError(f"Binance has no {plan.symbol} {plan.interval} klines from "
                                f"{format_ms(plan.start_ms)} to {format_ms(plan.end_ms)}")
        total = plan.end_ms - plan.start_ms
        self._report(DownloadProgress(total, total, existing + written, "done"))
        return DownloadResult(written, existing + written, last_open, first, last,
                              rest.requests, self.paused)

    def _fetch(self, rest: BinanceRest, plan: DownloadPlan, existing: int,
               last_open: int | None) -> tuple[int, int | None, int | None]:
        """Page the plan's closed klines after ``last_open`` into the file, each page as it
        arrives; returns (rows written, first and last open time in the file's new part)."""
        total = plan.end_ms - plan.start_ms
        cursor = plan.start_ms if last_open is None else max(plan.start_ms, last_open + 1)
        step = INTERVALS[plan.interval]
        written, first, last = 0, None, last_open
        now_ms = rest.server_time_ms()
        self._report(DownloadProgress(min(total, cursor - plan.start_ms), total, existing,
                                      f"continuing after {format_ms(last_open)}"
                                      if last_open is not None else ""))
        while cursor < plan.end_ms:
            params = {"symbol": plan.symbol, "interval": plan.interval,
                      "startTime": cursor, "endTime": plan.end_ms - 1, "limit": MAX_KLINES}
            rest.pace(KLINES_WEIGHT, self.headroom)
            page = rest.get("/api/v3/klines", params)
            if not isinstance(page, list):
                raise DownloadStopped("Binance sent an unexpected klines answer; run the "
                                      "same command again to continue")
            # only closed klines: a bar still forming would change after we wrote it
            rows = [row for row in page
                    if plan.start_ms <= int(row[0]) < plan.end_ms and int(row[6]) < now_ms]
            if rows:
                _append(plan.out, rows, new=existing + written == 0)
                written += len(rows)
                first = first if first is not None else int(rows[0][0])
                last = int(rows[-1][0])
                cursor = last + 1
                self._report(DownloadProgress(min(total, cursor - plan.start_ms), total,
                                              existing + written))
            if len(page) < MAX_KLINES or len(rows) < len(page):
                break  # the range (or the closed part of it) is done
            if step is not None and last is not None and last + step >= plan.end_ms:
                break  # the page ended exactly at the range's end
        return written, first, last

    def _report(self, progress: DownloadProgress) -> None:
        self._where = progress
        self._notify(progress)

    def _note(self, note: str) -> None:
        where = self._where
        self._notify(DownloadProgress(where.covered_ms, where.total_ms, where.rows, note))

    # --- the exchange --------------------------------------------------------------------

    def _check_symbol(self, rest: BinanceRest, symbol: str) -> None:
        try:
            rest.exchange_info(symbol)
        except UnknownSymbolError:
            raise DownloadError(f"Binance has no {symbol} market; check --symbol (like "
                                "BTCUSDT)") from None
        except BinanceRefused as exc:
            if exc.status >= 500:
                raise  # Binance's own trouble, not the symbol's
            raise DownloadError(f"Binance refused {symbol}: {_reason(exc)}") from None

    def _wait(self, seconds: float, note: str) -> bool:
        self._note(note)
        self.paused += seconds
        self.sleep(seconds)
        return True


def _stopped_or_refused(exc: BinanceError, retry_seconds: float) -> VelocitasError:
    """The download's word for what Binance did: DownloadStopped when the same command may
    go on later (the file keeps what came), DownloadError when the request itself is wrong."""
    if isinstance(exc, BinanceUnreachable):
        return DownloadStopped(f"cannot reach {_host(exc.url)} ({exc.detail or exc.kind}); "
                               f"gave up after retrying for {retry_seconds:g} s "
                               "(--retry-seconds); check --binance-rest-url and the network, "
                               "then run the same command again to continue")
    if isinstance(exc, BinanceRateLimited):
        what = "banned this address" if exc.banned else "asked us to slow down"
        return DownloadStopped(f"Binance {what} (HTTP {exc.status}) for {exc.retry_after:.0f} s; "
                               "run the same command again later to continue")
    if isinstance(exc, BinanceRefused | BinanceBadAnswer) and exc.status >= 500:
        return DownloadStopped(f"Binance answered HTTP {exc.status} again and again; run the "
                               "same command again later to continue")
    if isinstance(exc, BinanceBadAnswer):
        return DownloadStopped(f"Binance answered HTTP {exc.status} with a body that is not "
                               "JSON; is the address a Binance REST API?")
    if isinstance(exc, BinanceRefused):
        where = f" (code {exc.code})" if exc.code is not None else ""
        return DownloadError(f"Binance refused the request: {_reason(exc)}{where}")
    return DownloadStopped(f"{exc}; run the same command again to continue")


def _host(url: str) -> str:
    """``api.binance.com`` (with its port, if the address names one) for messages."""
    parts = urlsplit(url)
    return parts.netloc or url


def _reason(refused: BinanceRefused) -> str:
    return refused.reason if refused.code is not None else f"HTTP {refused.status}"


# --- the file ------------------------------------------------------------------------------


def _resume_point(plan: DownloadPlan) -> tuple[int, int | None]:
    """(rows already in the file, the last one's open time in ms) after repairing a torn end.

    A run killed in the middle of a write can leave a last line without its newline; that
    partial row is cut off here and fetched again.
    """
    if not os.path.exists(plan.out) or os.path.getsize(plan.out) == 0:
        return 0, None
    _cut_torn_line(plan.out)
    with open(plan.out, encoding="utf-8", errors="replace") as handle:
        head = handle.readline()
        first_row = handle.readline()
    if head == "":
        return 0, None
    if head != HEADER:
        raise DownloadError(f"{plan.out} exists and is not a file this command wrote; choose "
                            "another --out or remove it")
    if first_row == "":
        return 0, None  # a header alone: start afresh
    try:
        bars = load_ohlcv(plan.out, min_bars=0)
    except DataFileError as exc:
        raise DownloadError(f"{plan.out} cannot be continued: {exc.problem}; choose another "
                            "--out or remove it") from None
    if len(bars) == 0:
        return 0, None
    step = INTERVALS[plan.interval]
    if step is not None and bars.interval is not None and round(bars.interval * 1000) != step:
        raise DownloadError(f"{plan.out} holds {bars.interval:g} s bars, not {plan.interval}; "
                            "choose another --out")
    return len(bars), round(float(bars.timestamp[-1]) * 1000)


def _cut_torn_line(path: str) -> None:
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # read back to the last newline; the rest is half a row
        chunk = min(size, 4096)
        handle.seek(size - chunk)
        tail = handle.read(chunk)
        cut = tail.rfind(b"\n")
        keep = size - chunk + cut + 1 if cut >= 0 else 0
        handle.truncate(keep)


def _bars(rows: list[list], path: str) -> OHLCV:
    columns = np.array([[float(row[i]) for i in (1, 2, 3, 4, 5)] for row in rows],
                       dtype=np.float64).reshape(-1, 5)
    stamps = np.array([int(row[0]) // 1000 for row in rows], dtype=np.float64)
    return OHLCV(path, stamps, *columns.T, interval=None)


def _lines(bars: OHLCV) -> str:
    """Rows exactly as write_ohlcv_csv writes them (klines open on whole seconds)."""
    seconds = bars.timestamp.astype(np.int64).astype("datetime64[s]")
    stamps = [s + "Z" for s in np.datetime_as_string(seconds, unit="s").tolist()]
    columns = [map(repr, np.asarray(c, dtype=np.float64).tolist())
               for c in (bars.open, bars.high, bars.low, bars.close, bars.volume)]
    return "".join(",".join(row) + "\n" for row in zip(stamps, *columns, strict=True))


def _append(path: str, rows: list[list], new: bool) -> None:
    """Add one page: a new file is written whole and atomically; later pages are appended in
    one write and synced, so a crash can tear only the last line (repaired on resume)."""
    bars = _bars(rows, path)
    if new:
        write_ohlcv_csv(path, bars)
        return
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(_lines(bars))
        handle.flush()
        os.fsync(handle.fileno())
