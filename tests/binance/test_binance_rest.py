"""The one Binance REST client: typed errors, Retry-After waits within a caller's patience,
retries of network trouble, and the request weight the exchange reports."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator

import pytest
from fakes.clocks import ManualClock
from fakes.fake_exchange import FakeExchange
from support import free_port

from velocitas_desktop.core.types import INTERVAL_SECONDS
from velocitas_desktop.feeds.base import FeedError
from velocitas_desktop.feeds.binance_rest import (
    KLINE_INTERVALS,
    BadAddress,
    BinanceBadAnswer,
    BinanceRateLimited,
    BinanceRefused,
    BinanceRest,
    BinanceUnreachable,
    Patience,
    UnknownSymbolError,
    check_base_url,
)

MINUTE_MS = 60_000


class Waits:
    """A caller's wait function that records each wait and moves the exchange's clock."""

    def __init__(self, clock: ManualClock | None = None, go_on: bool = True) -> None:
        self.clock = clock
        self.go_on = go_on
        self.seen: list[tuple[float, str]] = []

    def __call__(self, seconds: float, note: str) -> bool:
        self.seen.append((seconds, note))
        if self.clock is not None:
            self.clock.advance(seconds)
        return self.go_on


@pytest.fixture
def clock() -> ManualClock:
    now = time.time_ns() // 1_000_000
    return ManualClock(now - now % MINUTE_MS + 5_000)  # 5 s into a minute


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeExchange]:
    with FakeExchange(("BTCUSDT",), clock=clock, history_days=1, weight_limit=300) as running:
        yield running


# --------------------------------------------------------------------------- errors


@pytest.mark.slow
def test_an_unknown_symbol_is_a_typed_error_that_feed_callers_already_catch(fake):
    with BinanceRest(fake.rest_url) as rest, pytest.raises(UnknownSymbolError) as refused:
        rest.exchange_info("DOGEUSDT")
    assert isinstance(refused.value, FeedError)
    assert (refused.value.status, refused.value.code) == (400, -1121)
    assert str(refused.value) == "Binance refused the request: Invalid symbol. (code -1121)"


@pytest.mark.slow
def test_other_refusals_carry_binances_code_and_message(fake):
    with BinanceRest(fake.rest_url) as rest, pytest.raises(BinanceRefused) as refused:
        rest.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"})
    assert not isinstance(refused.value, UnknownSymbolError)
    assert (refused.value.status, refused.value.code) == (400, -1120)


@pytest.mark.slow
def test_an_answer_that_is_not_json_is_a_bad_answer(fake):
    with BinanceRest(fake.rest_url) as rest, pytest.raises(BinanceBadAnswer) as bad:
        rest.get("/nothing/here")
    assert str(bad.value) == f"Binance answered {bad.value.status} with a body that is not JSON"


@pytest.mark.parametrize("error", [
    BinanceUnreachable("http://127.0.0.1:9", "refused", "ConnectError"),
    BinanceUnreachable("http://127.0.0.1:9", "", "ReadTimeout", timeout=2.5),
    BinanceRateLimited(418, 120.0),
    BinanceBadAnswer(502),
    BinanceRefused(404, None, None),
    UnknownSymbolError(400, -1121, "Invalid symbol."),
], ids=lambda error: type(error).__name__)
def test_every_error_crosses_a_process_boundary_whole(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


# --------------------------------------------------------------------------- waiting


@pytest.mark.slow
def test_a_refusal_is_waited_out_as_retry_after_asks(fake, clock):
    fake.rate_limit(retry_after=5)
    waits = Waits(clock)
    with BinanceRest(fake.rest_url, wait=waits) as rest:
        assert rest.server_time_ms() == clock.now_ms
    assert waits.seen == [(5.0, "Binance asked us to slow down (HTTP 429); waiting 5 s")]
    assert rest.requests == 2


@pytest.mark.slow
def test_more_refusals_than_the_patience_allows_stop_the_request(fake, clock):
    fake.rate_limit(retry_after=5)
    waits = Waits(clock)
    with (BinanceRest(fake.rest_url, patience=Patience(refusals=0), wait=waits) as rest,
          pytest.raises(BinanceRateLimited) as limited):
        rest.get("/api/v3/time")
    assert waits.seen == []
    assert (limited.value.status, limited.value.retry_after) == (429, 5.0)
    assert str(limited.value) == ("Binance is rate-limiting this address (HTTP 429, retry "
                                  "after 5 s); try again later")


@pytest.mark.slow
def test_a_ban_longer_than_the_patience_is_not_waited(fake, clock):
    fake.ban(seconds=120)
    waits = Waits(clock)
    with (BinanceRest(fake.rest_url, patience=Patience(max_wait=60), wait=waits) as rest,
          pytest.raises(BinanceRateLimited) as limited):
        rest.get("/api/v3/time")
    assert waits.seen == []
    assert limited.value.banned and limited.value.retry_after == 120


@pytest.mark.slow
def test_a_caller_that_stops_during_a_wait_ends_the_request(fake, clock):
    fake.rate_limit(retry_after=5)
    waits = Waits(clock, go_on=False)
    with BinanceRest(fake.rest_url, wait=waits) as rest, pytest.raises(BinanceRateLimited):
        rest.get("/api/v3/time")
    assert len(waits.seen) == 1 and rest.requests == 1


def test_network_failures_are_retried_as_the_patience_allows_then_reported():
    port = free_port()  # nothing listens there: each connection is refused at once
    waits = Waits()
    with (BinanceRest(f"http://127.0.0.1:{port}/", patience=Patience(retries=2),
                      wait=waits) as rest,
          pytest.raises(BinanceUnreachable) as unreachable):
        rest.get("/api/v3/ping")
    assert [seconds for seconds, _ in waits.seen] == [2.0, 4.0]
    assert waits.seen[0][1] == "no answer from Binance; retrying in 2 s"
    assert rest.requests == 3
    assert unreachable.value.url == f"http://127.0.0.1:{port}"
    assert str(unreachable.value).startswith(f"cannot reach Binance at http://127.0.0.1:{port}: ")


def test_a_retry_budget_ends_the_retries_and_cuts_the_last_pause_to_fit():
    port = free_port()
    waits = Waits()
    patience = Patience(retries=100, retry_seconds=5.0)
    with (BinanceRest(f"http://127.0.0.1:{port}", patience=patience, wait=waits) as rest,
          pytest.raises(BinanceUnreachable)):
        rest.get("/api/v3/ping")
    pauses = [seconds for seconds, _ in waits.seen]
    # 2 s, then 4 s would pass the budget: the second pause is what is left of the 5 s
    assert len(pauses) == 2 and pauses[0] == 2.0
    assert 2.5 < pauses[1] <= 3.0  # less the refused attempts' own (tiny) time
    assert rest.requests == 3


def test_no_retry_budget_means_one_attempt():
    waits = Waits()
    with (BinanceRest(f"http://127.0.0.1:{free_port()}", wait=waits,
                      patience=Patience(retries=100, retry_seconds=0)) as rest,
          pytest.raises(BinanceUnreachable)):
        rest.get("/api/v3/ping")
    assert waits.seen == [] and rest.requests == 1


@pytest.mark.parametrize("url", ["https://api.binance.com", "https://api.binance.com/",
                                 "http://127.0.0.1:9000", "https://testnet.binance.vision/x"])
def test_an_http_address_with_a_host_is_a_base_url(url):
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["not-a-url", "http://", "ftp://example.com",
                                 "api.binance.com", "http://host:port", "https://a b.com",
                                 "wss://stream.binance.com:9443", ""])
def test_anything_else_is_refused_at_once_with_an_example(url):
    with pytest.raises(BadAddress) as bad:
        BinanceRest(url)
    assert str(bad.value) == (f"{url!r} is not an address of the form https://host[:port]; "
                              "give one like https://api.binance.com")
    assert isinstance(bad.value, FeedError)  # a feed that is given one fails as feeds fail


def test_a_stream_address_takes_the_websocket_schemes():
    assert check_base_url("wss://stream.binance.com:9443/", ("wss", "ws"),
                          "wss://stream.binance.com:9443") == "wss://stream.binance.com:9443"
    with pytest.raises(BadAddress, match="of the form wss://host"):
        check_base_url("https://stream.binance.com", ("wss", "ws"), "wss://x")


# --------------------------------------------------------------------------- weight


@pytest.mark.slow
def test_the_weight_limit_and_the_used_weight_come_from_the_exchange(fake):
    with BinanceRest(fake.rest_url) as rest:
        rest.exchange_info("BTCUSDT")
        assert rest.weight_limit == 300
        assert rest.used_weight == fake.stats().used_weight > 0


@pytest.mark.slow
def test_pacing_waits_for_the_next_minute_before_the_limit_is_reached(fake, clock):
    waits = Waits(clock)
    with BinanceRest(fake.rest_url, wait=waits) as rest:
        rest.exchange_info("BTCUSDT")           # 20 of 300 used
        rest.pace(weight=260, headroom=0.1)     # 20 + 260 > 270: wait for the next minute
    [(seconds, note)] = waits.seen
    assert seconds == pytest.approx(55.05)     # from 5 s into the minute to its end
    assert note.startswith("pausing 55 s: ") and "of Binance's 300 request weight" in note
    assert rest.used_weight == 0


# --------------------------------------------------------------------------- intervals


def test_every_kline_interval_but_the_calendar_month_has_its_length_in_the_one_table():
    assert [name for name in KLINE_INTERVALS if name not in INTERVAL_SECONDS] == ["1M"]
