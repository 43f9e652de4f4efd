"""``velocitas download`` against the fake exchange: pages, pacing, waits, resume, the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.clocks import JumpClock, ManualClock
from fakes.fake_exchange import FakeExchange

from velocitas_desktop import cli
from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.feeds.csvfeed import CsvFeed
from velocitas_desktop.feeds.download import (
    DownloadPlan,
    DownloadProgress,
    DownloadStopped,
    KlineDownloader,
)

# every test here downloads from the fake exchange
pytestmark = pytest.mark.slow

MINUTE_MS = 60_000
DAY_MS = 86_400_000


def day_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


def minute_start_plus_one_second() -> int:
    now = time.time_ns() // 1_000_000
    return now - now % MINUTE_MS + MINUTE_MS + 1000


def assert_file_matches(fake: FakeExchange, path: Path, symbol: str, start_ms: int,
                        end_ms: int) -> None:
    """The file loads as bars and holds exactly the exchange's closed klines in the range."""
    bars = load_ohlcv(path)
    rows = fake.klines(symbol, "1m", start_ms, end_ms - 1, limit=100_000)
    assert len(bars) == len(rows), "missing or repeated bars"
    assert bars.interval == 60.0
    np.testing.assert_array_equal(bars.timestamp, [int(r[0]) / 1000 for r in rows])
    for column, index in (("open", 1), ("high", 2), ("low", 3), ("close", 4), ("volume", 5)):
        np.testing.assert_array_equal(getattr(bars, column), [float(r[index]) for r in rows])


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeExchange]]:
    started: list[FakeExchange] = []

    def make(**options: Any) -> FakeExchange:
        options.setdefault("history_days", 3)
        fake = FakeExchange(("BTCUSDT", "ETHUSDT"), seed=3, **options).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def manual(make_fake: Callable[..., FakeExchange]) -> tuple[FakeExchange, ManualClock]:
    clock = ManualClock(minute_start_plus_one_second())
    return make_fake(clock=clock), clock


def plan_days(fake: FakeExchange, out: Path, days: float, symbol: str = "BTCUSDT"
              ) -> DownloadPlan:
    start = fake.history_start_ms
    return DownloadPlan(symbol, "1m", start, start + int(days * DAY_MS), str(out))


# --------------------------------------------------------------------------- the command


def test_download_command_writes_the_exchange_klines(make_fake, tmp_path, capsys):
    fake = make_fake()
    out = tmp_path / "btc.csv"
    start = fake.history_start_ms
    end = start + 2 * DAY_MS
    code = cli.main(["download", "--symbol", "BTCUSDT", "--interval", "1m",
                     "--start", day_text(start)[:10], "--end", day_text(end)[:10],
                     "--out", str(out), "--binance-rest-url", fake.rest_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == (f"{out}: 2880 BTCUSDT 1m bars written, 2880 in the file; "
                                    f"new bars {day_text(start).replace('T', ' ')} UTC to "
                                    f"{day_text(end - MINUTE_MS).replace('T', ' ')} UTC")
    assert "100%" in captured.err  # the progress bar went to stderr
    assert_file_matches(fake, out, "BTCUSDT", start, end)
    assert fake.stats().rest_requests["/api/v3/klines"] == 3  # 1000 per page
    feed = CsvFeed({"BTC": str(out)})  # the csv feed reads it as it is
    feed.open()
    feed.close()


def test_only_closed_klines_are_written_up_to_now(manual, tmp_path):
    fake, clock = manual
    out = tmp_path / "recent.csv"
    this_minute = clock() - clock() % MINUTE_MS
    start = this_minute - 90 * MINUTE_MS
    plan = DownloadPlan("ETHUSDT", "1m", start, clock() + DAY_MS, str(out))
    result = KlineDownloader(fake.rest_url, sleep=clock.advance).run(plan)
    bars = load_ohlcv(out)
    # the kline opening at the current minute is still forming: it is left for a later run
    assert bars.timestamp[-1] * 1000 == this_minute - MINUTE_MS
    assert result.rows_written == len(bars) == 90
    assert_file_matches(fake, out, "ETHUSDT", plan.start_ms, this_minute)


# --------------------------------------------------------------------------- rate limits


def test_weight_header_pacing_stays_under_the_limit(make_fake, tmp_path):
    clock = ManualClock(minute_start_plus_one_second())
    # exchangeInfo 20 + time 1 + klines 2 per page: the fourth page would pass 90 % of 30
    fake = make_fake(clock=clock, weight_limit=30)
    out = tmp_path / "paced.csv"
    notes: list[str] = []
    plan = plan_days(fake, out, 3)
    downloader = KlineDownloader(fake.rest_url, sleep=clock.advance)
    result = downloader.run(plan, lambda p: notes.append(p.note))
    stats = fake.stats()
    assert 429 not in stats.rest_statuses and 418 not in stats.rest_statuses
    assert stats.rest_requests["/api/v3/klines"] == 5
    assert any(note.startswith("pausing") and "of Binance's 30 request weight" in note
               for note in notes)
    assert result.paused_seconds > 0
    assert_file_matches(fake, out, "BTCUSDT", plan.start_ms, plan.end_ms)


@pytest.mark.parametrize(("fault", "status"), [("rate_limit", 429), ("ban", 418)])
def test_refusal_mid_download_waits_for_retry_after(manual, tmp_path, fault, status):
    fake, clock = manual
    out = tmp_path / "waited.csv"
    notes: list[str] = []
    armed: list[bool] = []

    def progress(p: DownloadProgress) -> None:
        notes.append(p.note)
        if p.rows >= 1000 and not armed:  # after the first page is in the file
            armed.append(True)
            getattr(fake, fault)(37)  # Retry-After 37 s, shorter than max_wait

    plan = plan_days(fake, out, 2)
    result = KlineDownloader(fake.rest_url, sleep=clock.advance).run(plan, progress)
    statuses = fake.stats().rest_statuses
    assert statuses.get(status) == 1  # asked once, waited as told, never asked too early
    assert f"(HTTP {status}); waiting 37 s" in " ".join(notes)
    assert result.paused_seconds >= 37
    assert_file_matches(fake, out, "BTCUSDT", plan.start_ms, plan.end_ms)


def test_rate_limit_before_the_first_request(manual, tmp_path):
    fake, clock = manual
    fake.rate_limit(retry_after=5)
    out = tmp_path / "late.csv"
    plan = plan_days(fake, out, 1)
    KlineDownloader(fake.rest_url, sleep=clock.advance).run(plan)
    assert fake.stats().rest_statuses.get(429) == 1
    assert_file_matches(fake, out, "BTCUSDT", plan.start_ms, plan.end_ms)


# --------------------------------------------------------------------------- resume


def test_long_ban_stops_and_a_rerun_resumes_without_duplicates(manual, tmp_path):
    fake, clock = manual
    out = tmp_path / "resumed.csv"
    plan = plan_days(fake, out, 2.5)

    def ban_after_first_page(p: DownloadProgress) -> None:
        if p.rows >= 1000 and not fake.stats().rest_statuses.get(418):
            fake.ban(3600)

    with pytest.raises(DownloadStopped, match=r"banned this address \(HTTP 418\) for 3600 s; "
                                              "run the same command again later"):
        KlineDownloader(fake.rest_url, sleep=clock.advance, max_wait=600).run(
            plan, ban_after_first_page)
    kept = load_ohlcv(out)  # what was fetched is a whole, valid file
    assert len(kept) == 1000
    clock.advance(3600)
    result = KlineDownloader(fake.rest_url, sleep=clock.advance).run(plan)
    assert result.resumed_after_ms == int(kept.timestamp[-1] * 1000)
    assert result.rows_written == 3600 - 1000
    assert result.rows_total == 3600
    assert_file_matches(fake, out, "BTCUSDT", plan.start_ms, plan.end_ms)
    again = KlineDownloader(fake.rest_url, sleep=clock.advance).run(plan)
    assert again.rows_written == 0 and again.rows_total == 3600  # nothing left to add
    assert_file_matches(fake, out, "BTCUSDT", plan.start_ms, plan.end_ms)


def test_killed_download_resumes_and_repairs_a_torn_line(make_fake, tmp_path):
    # The exchange's minute began 1 s ago, so the child's weight (26 per minute: exchangeInfo
    # 20 + time 1 + a 2-weight page) runs out right after its first page, and it pauses ~57 s.
    clock = JumpClock(minute_start_plus_one_second() - time.time_ns() // 1_000_000)
    fake = make_fake(clock=clock, weight_limit=26)
    out = tmp_path / "killed.csv"
    start = fake.history_start_ms
    end = start + 2000 * MINUTE_MS
    args = ["download", "--symbol", "BTCUSDT", "--interval", "1m", "--start", day_text(start),
            "--end", day_text(end), "--out", str(out), "--binance-rest-url", fake.rest_url]
    child = subprocess.Popen([sys.executable, "-m", "velocitas_desktop", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "VELOCITAS_HOME": str(tmp_path / "home")})
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if (fake.stats().rest_requests.get("/api/v3/time", 0) >= 2
                    and out.exists() and out.read_text().count("\n") >= 1001):
                break  # first page written, now pausing for the weight window
            assert child.poll() is None, "the download ended before it could be killed"
            time.sleep(0.05)
        else:
            raise AssertionError("the child never wrote its first page")
        assert child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert len(load_ohlcv(out)) == 1000
    with out.open("a") as handle:  # as if the kill had landed in the middle of a write
        handle.write("2026-01-01T00:00:00Z,6")
    clock.advance(MINUTE_MS / 1000)  # a fresh weight window for the rerun
    assert cli.main(args) == 0
    assert_file_matches(fake, out, "BTCUSDT", start, end)


def test_resume_refuses_a_file_of_another_interval(manual, tmp_path, capsys):
    fake, _ = manual
    out = tmp_path / "hours.csv"
    out.write_text("timestamp,open,high,low,close,volume\n"
                   "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T01:00:00Z,1,2,0.5,1.5,10\n")
    code = cli.main(["download", "--symbol", "BTCUSDT", "--start", "2024-01-01",
                     "--end", "2024-01-02", "--out", str(out),
                     "--binance-rest-url", fake.rest_url])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == f"velocitas download: {out} holds 3600 s bars, not 1m; choose another --out"


# --------------------------------------------------------------------------- bad input


def bad_input_cases(tmp_path: Path, url: str) -> list[tuple[list[str], str]]:
    base = ["--start", "2024-01-01", "--end", "2024-02-01", "--binance-rest-url", url]
    out = ["--out", str(tmp_path / "x.csv")]
    return [
        (["--symbol", "NOPEUSDT", "--interval", "1m", *base, *out],
         "Binance has no NOPEUSDT market; check --symbol (like BTCUSDT)"),
        (["--symbol", "BTCUSDT", "--interval", "7m", *base, *out],
         "--interval '7m' is not a Binance interval; use one of 1s 1m 3m 5m 15m 30m 1h 2h "
         "4h 6h 8h 12h 1d 3d 1w 1M"),
        (["--symbol", "BTCUSDT", "--start", "2024-02-01", "--end", "2024-01-01",
          "--binance-rest-url", url, *out],
         "--start 2024-02-01 00:00 UTC is not before --end 2024-01-01 00:00 UTC"),
        (["--symbol", "BTCUSDT", "--start", "2024-13-01", "--binance-rest-url", url, *out],
         "--start '2024-13-01' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"),
        (["--symbol", "BTCUSDT", *base, "--out", str(tmp_path / "nowhere" / "x.csv")],
         f"cannot write {tmp_path / 'nowhere' / 'x.csv'}: the folder "
         f"{tmp_path / 'nowhere'} does not exist"),
        (["--symbol", "BTCUSDT", *base, "--out", str(tmp_path)],
         f"--out {tmp_path} is a folder; give a file name like {tmp_path}/bars.csv"),
    ]


def test_bad_input_exits_2_with_one_line(manual, tmp_path, capsys):
    fake, _ = manual
    for args, message in bad_input_cases(tmp_path, fake.rest_url):
        code = cli.main(["download", *args])
        err = capsys.readouterr().err
        assert code == 2, args
        assert err == f"velocitas download: {message}\n", args
    assert not (tmp_path / "x.csv").exists()
    assert "/api/v3/klines" not in fake.stats().rest_requests  # refused before any download
