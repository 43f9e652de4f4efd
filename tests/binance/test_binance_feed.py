"""Fault tests: the binance feed through the real engine against the fake exchange.

One test per fault. Each checks that the engine keeps running and reports the feed's state,
that the feed recovers, that every tick a strategy saw is a real trade (or, in a gap, a real
kline close) with none repeated and none out of order, that the gap is backfilled with the
klines that closed in it, and that every trade the engine announced is in the journal.

A gap is opened by jumping the exchange's clock forward while the client is cut off: the
trades of the jump are published to nobody, so only the backfill can cover those minutes.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.clocks import JumpClock
from fakes.fake_exchange import FakeExchange
from support import free_port, wait_until

from velocitas_desktop import cli
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig, Event
from velocitas_desktop.feeds.base import FeedError
from velocitas_desktop.feeds.binance import BinanceFeed, BinanceSettings
from velocitas_desktop.store.journal import Journal

# the fake exchange runs behind all but two of these tests
pytestmark = pytest.mark.slow

COINS = ["BTC", "ETH"]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
MINUTE_MS = 60_000
GAP_SECONDS = 150  # the clock jump: at least two 1m klines close inside every gap

# Generous: the machine is shared, and a slow moment must not look like a broken feed.
QUIET = {"stall_seconds": 8.0, "backoff_base": 0.2, "backoff_cap": 0.3,
         "connect_timeout": 5.0, "warmup_klines": 60}


# --------------------------------------------------------------------------- helpers


@dataclass
class Session:
    """An engine on a BinanceFeed, with everything it told its subscribers."""

    fake: FakeExchange
    clock: JumpClock
    engine: Engine
    feed: BinanceFeed
    journal_path: Path
    coins: list[str]
    feed_events: list[dict[str, str]] = field(default_factory=list)
    ticks: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, event: Event) -> None:
        if event.kind == "feed":
            with self.lock:
                self.feed_events.append(dict(event.data))
        elif event.kind == "trades":
            with self.lock:
                self.trades.extend(event.data)
        elif event.kind == "ticks":
            coins, batch = event.data["coins"], event.data["batch"]
            with self.lock:
                for index, coin in enumerate(coins):
                    where = batch.coin_ids == index
                    pairs = zip(batch.prices[where].tolist(), batch.timestamps[where].tolist(),
                                strict=True)
                    self.ticks.setdefault(coin, []).extend(pairs)

    def states(self, since: int = 0) -> list[str]:
        with self.lock:
            return [e["state"] for e in self.feed_events[since:]]

    def messages(self) -> str:
        with self.lock:
            return " | ".join(e["message"] for e in self.feed_events)

    def ticks_after(self, coin: str, after_ms: int) -> int:
        with self.lock:
            return sum(1 for _, t in self.ticks.get(coin, []) if t * 1000 > after_ms)

    def trades_after(self, after_ms: int) -> int:
        with self.lock:
            return sum(1 for t in self.trades if t["timestamp"] * 1000 > after_ms)

    def wait_flowing(self, after_ms: int = 0, ticks: int = 10) -> None:
        """Until every coin has had ``ticks`` live ticks and the strategies traded, after
        ``after_ms`` on the exchange's clock."""
        for coin in self.coins:
            wait_until(lambda c=coin: self.ticks_after(c, after_ms) >= ticks, f"{coin} ticks")
        wait_until(lambda: self.trades_after(after_ms) >= 1, "a trade")

    def mark(self) -> int:
        with self.lock:
            return len(self.feed_events)

    def wait_state(self, state: str, since: int, what: str) -> None:
        wait_until(lambda: state in self.states(since), what)

    def recover(self, since: int, fault_ms: int) -> None:
        """Back to live after ``since``, and trading on prices newer than ``fault_ms``."""
        self.wait_state("live", since, "the feed to be live again")
        self.wait_flowing(fault_ms)
        assert self.engine.status == "running"
        assert self.engine.feed_state["state"] == "live"

    def finish(self) -> dict[str, Audit]:
        """Stop the engine; audit the ticks against the exchange and the trades against the
        journal."""
        assert self.engine.status == "running", self.engine.status_message
        session_id = self.engine.session_id
        self.engine.stop()
        self.engine.close()
        audits = {coin: audit_ticks(self.fake, f"{coin}USDT", self.ticks[coin])
                  for coin in self.coins}
        journal = Journal(self.journal_path)
        try:
            stored = journal.trades(session_id=session_id, limit=10**7)
        finally:
            journal.close()
        assert self.trades, "the strategies never traded"
        assert [t["id"] for t in self.trades] == [t["id"] for t in stored]
        assert self.trades == stored
        seen = {(coin, price, stamp) for coin, ticks in self.ticks.items()
                for price, stamp in ticks}
        for trade in self.trades:  # every fill was at a price a strategy saw
            assert (trade["coin"], trade["price"], trade["timestamp"]) in seen, trade
        return audits


@dataclass
class Audit:
    """How one coin's ticks relate to the exchange's trades and klines."""

    trade_ids: list[int]                         # the trade each tick was, in delivery order
    backfilled: list[int]                        # times (ms) of ticks that were kline closes
    missing: list[list[int]] = field(default_factory=list)  # runs of trades never delivered
    missing_times: list[tuple[int, int]] = field(default_factory=list)

    @property
    def missing_count(self) -> int:
        return sum(len(run) for run in self.missing)


def audit_ticks(fake: FakeExchange, symbol: str, ticks: list[tuple[float, float]]) -> Audit:
    """Match each tick to the exchange's record; fail on a repeat, a reorder or an unknown.

    A tick is the next trade (by id) with its exact time and price; failing that, it must be
    the close of the 1m kline that closed at its time (a backfilled tick).
    """
    assert ticks, f"no {symbol} ticks at all"
    stamps = np.array([t for _, t in ticks])
    assert np.all(np.diff(stamps) >= 0), f"{symbol} ticks went back in time"
    times = [round(t * 1000) for _, t in ticks]
    trades = fake.trades(symbol, times[0] - MINUTE_MS, times[-1] + 1)
    kline_close = {int(row[0]): float(row[4]) for row in
                   fake.klines(symbol, "1m", times[0] - 2 * MINUTE_MS, times[-1], limit=1000)}
    by_time: dict[int, list[int]] = {}
    for position, trade in enumerate(trades):
        by_time.setdefault(int(trade["time"]), []).append(position)
    positions: list[int] = []
    backfilled: list[int] = []
    last = -1
    for (price, _), ms in zip(ticks, times, strict=True):
        match = next((p for p in by_time.get(ms, []) if p > last
                      and float(trades[p]["price"]) == price), None)
        if match is not None:
            positions.append(match)
            last = match
            continue
        assert kline_close.get(ms - MINUTE_MS) == price, (
            f"{symbol} tick {price} at {ms} is neither a new trade nor a kline close "
            "(a duplicate or out-of-order tick reached the strategies?)")
        backfilled.append(ms)
    ids = [int(trades[p]["id"]) for p in positions]
    assert len(set(ids)) == len(ids)
    audit = Audit(ids, backfilled)
    for before, after in itertools.pairwise(positions):
        if after > before + 1:
            run = trades[before + 1:after]
            audit.missing.append([int(t["id"]) for t in run])
            audit.missing_times.append((int(trades[before]["time"]), int(trades[after]["time"])))
    return audit


def assert_gap_backfilled(audit: Audit, symbol: str) -> None:
    """The one gap's closed klines arrived, consecutive, from the one that held the last tick
    before the gap, and nothing else was backfilled."""
    assert len(audit.missing) == 1, f"{symbol}: expected one gap, got {audit.missing_times}"
    before_ms, after_ms = audit.missing_times[0]
    assert len(audit.backfilled) >= 2, f"{symbol}: the gap was not backfilled"
    first_close = before_ms // MINUTE_MS * MINUTE_MS + MINUTE_MS
    expected = list(range(first_close, first_close + MINUTE_MS * len(audit.backfilled),
                          MINUTE_MS))
    assert audit.backfilled == expected
    assert before_ms < audit.backfilled[0] and audit.backfilled[-1] <= after_ms


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def make_fake() -> Iterator[Callable[..., tuple[FakeExchange, JumpClock]]]:
    started: list[FakeExchange] = []

    def make(**options: Any) -> tuple[FakeExchange, JumpClock]:
        clock = JumpClock()
        options.setdefault("history_days", 1)
        fake = FakeExchange(SYMBOLS, seed=7, trade_rate=20.0, clock=clock, **options).start()
        started.append(fake)
        return fake, clock

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def start_session(tmp_path: Path, make_fake: Callable[..., tuple[FakeExchange, JumpClock]]
                  ) -> Iterator[Callable[..., Session]]:
    engines: list[Engine] = []

    def start(fake_options: dict[str, Any] | None = None, before_start: Callable[[FakeExchange],
              None] | None = None, coins: list[str] = COINS, **settings: Any) -> Session:
        fake, clock = make_fake(**(fake_options or {}))
        feed = BinanceFeed(coins, fake.rest_url, fake.ws_url,
                           settings=BinanceSettings(**{**QUIET, **settings}))
        path = tmp_path / "journal.db"
        engine = Engine(journal=Journal(path), restore=False)
        engines.append(engine)
        for coin in coins:
            engine.register(StrategySpec("SMA_Crossover", coin, {"fast": 2, "slow": 3}))
        session = Session(fake, clock, engine, feed, path, list(coins))
        engine.subscribe(session.on_event)
        if before_start is not None:
            before_start(fake)
        engine.start(EngineConfig(source="binance", coins=list(coins)), feed=feed)
        session.wait_state("live", 0, "the first connection")
        session.wait_flowing()
        return session

    yield start
    for engine in engines:
        if engine.status in ("running", "starting"):
            engine.stop()
        engine.close()


# --------------------------------------------------------------------------- faults


def test_dropped_connection_reconnects_and_backfills_the_gap(start_session):
    session = start_session()
    mark = session.mark()
    session.fake.drop()
    session.clock.advance(GAP_SECONDS)
    fault_ms = session.clock()
    session.recover(mark, fault_ms)
    assert "reconnecting" in session.states(mark)
    assert session.feed.stats["reconnects"] == 1
    audits = session.finish()
    for symbol, audit in zip(SYMBOLS, audits.values(), strict=True):
        assert_gap_backfilled(audit, symbol)
    assert session.fake.stats().connections_total == 2


def test_stalled_connection_is_declared_dead_and_replaced(start_session):
    session = start_session(stall_seconds=1.0)
    mark = session.mark()
    session.fake.stall()  # TCP stays up; no data, no pings, no pongs
    session.clock.advance(GAP_SECONDS)
    fault_ms = session.clock()
    session.recover(mark, fault_ms)
    states = session.states(mark)
    assert states.index("stalled") < states.index("reconnecting") < states.index("live")
    assert "no data for 1 s" in session.messages()
    audits = session.finish()
    for symbol, audit in zip(SYMBOLS, audits.values(), strict=True):
        assert_gap_backfilled(audit, symbol)


def test_malformed_messages_are_skipped_without_a_reconnect(start_session):
    session = start_session(coins=["BTC"])  # one stream: the 3 broken events are BTC trades
    mark = session.mark()
    session.fake.malformed(3)  # the next 3 events of the connection are cut in half
    wait_until(lambda: session.feed.stats["malformed"] >= 3, "the malformed messages")
    session.wait_flowing(session.clock())
    assert session.states(mark) == []  # still live: a bad message is not a bad connection
    assert session.engine.feed_state["state"] == "live"
    assert session.engine.status == "running"
    audits = session.finish()
    assert session.feed.stats["malformed"] == 3
    assert session.feed.stats["reconnects"] == 0
    # the 3 broken messages were 3 trades; nothing else went missing
    assert audits["BTC"].missing_count == 3


def test_duplicate_messages_never_reach_a_strategy(start_session):
    session = start_session()
    mark = session.mark()
    session.fake.duplicate(5)  # the last 5 trades of the connection, sent again
    wait_until(lambda: session.feed.stats["duplicates"] >= 5, "the duplicates")
    session.wait_flowing(session.clock())
    assert session.states(mark) == []
    audits = session.finish()
    assert session.feed.stats["duplicates"] == 5
    assert session.feed.stats["out_of_order"] == 0
    for audit in audits.values():  # nothing lost, nothing repeated (audit_ticks checks that)
        assert audit.missing == [] and audit.backfilled == []


def test_out_of_order_messages_are_dropped_not_reordered(start_session):
    # one stream, so the trade sent after the held ones is newer than them for their symbol
    session = start_session(coins=["BTC"])
    mark = session.mark()
    session.fake.out_of_order(3)  # 3 trades held back and sent after a newer one
    wait_until(lambda: session.feed.stats["out_of_order"] >= 3, "the late trades")
    session.wait_flowing(session.clock())
    assert session.states(mark) == []
    audits = session.finish()
    assert session.feed.stats["out_of_order"] == 3
    assert session.feed.stats["duplicates"] == 0
    # a strategy never sees a trade older than one it saw: the 3 late ones are dropped
    assert audits["BTC"].missing_count == 3


def test_rate_limit_at_open_is_waited_out(start_session):
    limited = threading.Event()

    def limit(fake: FakeExchange) -> None:
        fake.rate_limit(retry_after=1.0)
        limited.set()

    session = start_session(before_start=limit)
    assert limited.is_set()
    assert session.fake.stats().rest_statuses.get(429, 0) >= 1
    assert session.engine.status == "running"
    assert session.states()[:1] == ["connecting"]
    audits = session.finish()
    assert all(audit.missing == [] for audit in audits.values())


def test_rate_limit_during_backfill_is_waited_out(start_session):
    session = start_session()
    mark = session.mark()
    session.fake.drop()
    session.clock.advance(GAP_SECONDS)
    session.fake.rate_limit(retry_after=1.0)  # the backfill's first requests get 429
    fault_ms = session.clock()
    session.recover(mark, fault_ms)
    assert session.fake.stats().rest_statuses.get(429, 0) >= 1
    audits = session.finish()
    for symbol, audit in zip(SYMBOLS, audits.values(), strict=True):
        assert_gap_backfilled(audit, symbol)


def test_server_shutdown_reconnects_at_once(start_session):
    session = start_session()
    mark = session.mark()
    # the exchange would cut the connection in 30 s; the client must not wait for that
    session.fake.server_shutdown(grace=30.0)
    session.clock.advance(GAP_SECONDS)
    fault_ms = session.clock()
    session.recover(mark, fault_ms)
    assert "server shutdown; reconnecting now" in session.messages()
    stats = session.fake.stats()
    assert stats.connections_total == 2
    assert "server_shutdown" not in stats.disconnects
    audits = session.finish()
    for symbol, audit in zip(SYMBOLS, audits.values(), strict=True):
        assert_gap_backfilled(audit, symbol)


def test_refused_handshakes_are_retried_with_backoff(start_session):
    session = start_session()
    mark = session.mark()
    session.fake.refuse_handshakes(count=3, status=503)
    session.fake.drop()
    session.clock.advance(GAP_SECONDS)
    fault_ms = session.clock()
    session.recover(mark, fault_ms)
    assert session.fake.stats().handshakes_refused == 3
    assert "the handshake was refused" in session.messages()
    assert "(attempt 4)" in session.messages()
    assert session.feed.stats["reconnects"] == 4
    audits = session.finish()
    for symbol, audit in zip(SYMBOLS, audits.values(), strict=True):
        assert_gap_backfilled(audit, symbol)


def test_planned_reconnect_before_the_24_hour_cut(start_session):
    session = start_session(planned_reconnect=1.0)
    wait_until(lambda: session.fake.stats().connections_total >= 3, "two planned reconnects")
    session.wait_flowing(session.clock())
    assert "planned reconnect before Binance's 24-hour limit" in session.messages()
    audits = session.finish()
    reconnects = session.feed.stats["reconnects"]
    assert reconnects >= 2
    # only the few trades while the new connection opened can be missed; none repeated
    assert all(len(audit.missing) <= reconnects for audit in audits.values())


def test_client_answers_the_exchange_pings(start_session):
    session = start_session(fake_options={"ping_interval": 0.2, "pong_timeout": 0.6})
    session.wait_flowing(session.clock() + 1500)  # 1.5 s: 7 pings, each due within 0.6 s
    stats = session.fake.stats()
    assert "pong_timeout" not in stats.disconnects
    assert stats.connections_total == 1
    session.finish()
    assert session.feed.stats["reconnects"] == 0


# --------------------------------------------------------------------------- refusals


def test_unknown_symbol_is_refused_before_the_start(make_fake, tmp_path):
    fake, _ = make_fake()
    engine = Engine(journal=None, restore=False)
    feed = BinanceFeed(["BTC", "DOGE"], fake.rest_url, fake.ws_url,
                       settings=BinanceSettings(**QUIET))
    with pytest.raises(FeedError, match="Binance has no DOGEUSDT market, so DOGE cannot be "
                                        "traded against USDT"):
        engine.start(EngineConfig(source="binance", coins=["BTC", "DOGE"]), feed=feed)
    assert engine.status == "stopped"
    euro = BinanceFeed(["BTC"], fake.rest_url, fake.ws_url, quote_asset="eur",
                       settings=BinanceSettings(**QUIET))
    with pytest.raises(FeedError, match=r"no BTCEUR market.*against EUR"):
        engine.start(EngineConfig(source="binance", coins=["BTC"]), feed=euro)
    assert fake.stats().connections_total == 0  # refused before any stream was opened
    engine.close()


def _start_in_thread(engine: Engine, feed: BinanceFeed) -> BaseException | None:
    """engine.start on a thread that must end: a hang fails the test instead of freezing it."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            engine.start(EngineConfig(source="binance", coins=feed.coins), feed=feed)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "engine.start hung on an unreachable host"
    return outcome[0]


def test_closed_port_fails_with_a_clear_message():
    port = free_port()
    feed = BinanceFeed(["BTC"], f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}",
                       settings=BinanceSettings(connect_timeout=1.0))
    engine = Engine(journal=None, restore=False)
    error = _start_in_thread(engine, feed)
    assert isinstance(error, FeedError)
    assert str(error).startswith(f"cannot reach Binance at http://127.0.0.1:{port}")
    assert "check the address" in str(error)
    assert engine.status == "stopped"


def test_silent_listener_fails_with_a_clear_message():
    with socket.socket() as silent:  # accepts TCP (the backlog does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        feed = BinanceFeed(["BTC"], url, url.replace("http", "ws"),
                           settings=BinanceSettings(connect_timeout=1.0))
        engine = Engine(journal=None, restore=False)
        error = _start_in_thread(engine, feed)
    assert isinstance(error, FeedError)
    assert str(error) == (f"Binance at {url} did not answer within 1 s; check the address "
                          "and your connection")
    assert engine.status == "stopped"


@pytest.mark.parametrize("listener", ["closed port", "silent listener"])
def test_unreachable_stream_fails_the_feed_in_bounded_time(make_fake, listener):
    fake, _ = make_fake()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        if listener == "silent listener":
            silent.listen(16)
        else:
            silent.close()
        feed = BinanceFeed(COINS, fake.rest_url, f"ws://127.0.0.1:{port}",
                           settings=BinanceSettings(**{**QUIET, "connect_timeout": 0.5,
                                                       "first_connect_attempts": 3}))
        engine = Engine(journal=None, restore=False)
        events: list[dict[str, str]] = []
        engine.subscribe(lambda e: events.append(e.data) if e.kind == "feed" else None)
        assert _start_in_thread(engine, feed) is None  # REST answered: the run begins
        assert engine.wait(30), "the feed never gave up on an unreachable stream"
    assert engine.status == "error"
    assert engine.feed_state["state"] == "failed"
    assert engine.feed_state["message"].startswith(
        f"cannot reach the Binance stream at ws://127.0.0.1:{port} after 3 attempts")
    assert "--binance-ws-url" in engine.feed_state["message"]
    states = [e["state"] for e in events]
    assert states[0] == "connecting" and "reconnecting" in states and states[-1] == "failed"
    engine.close()


# --------------------------------------------------------------------------- the command line


def test_velocitas_run_streams_from_the_configured_endpoints(make_fake, capsys):
    fake, _ = make_fake()
    # the stream address as Binance's pages print it, with /ws: the feed takes the host part
    code = cli.main(["run", "--source", "binance", "--coins", "BTC", "--duration", "2",
                     "--json", "--strategy", "SMA_Crossover:BTC:fast=2,slow=3",
                     "--binance-rest-url", fake.rest_url,
                     "--binance-ws-url", f"{fake.ws_url}/ws"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    snapshot = json.loads(captured.out)
    assert snapshot["global"]["ticks_processed"] > 0
    assert fake.stats().connections_total == 1  # one combined stream, never dropped


def test_velocitas_run_refuses_an_unknown_coin_in_one_line(make_fake, capsys):
    fake, _ = make_fake()
    code = cli.main(["run", "--source", "binance", "--coins", "BTC,DOGE", "--duration", "1",
                     "--json", "--quote-asset", "usdt", "--binance-rest-url", fake.rest_url,
                     "--binance-ws-url", fake.ws_url])
    assert code == 2
    assert capsys.readouterr().err == (
        "velocitas run: Binance has no DOGEUSDT market, so DOGE cannot be traded against "
        "USDT; check the coin or the quote asset\n")
    assert fake.stats().connections_total == 0


def test_stream_address_is_taken_with_or_without_its_path():
    for given in ("wss://stream.testnet.binance.vision", "wss://stream.testnet.binance.vision/",
                  "wss://stream.testnet.binance.vision/ws",
                  "wss://stream.testnet.binance.vision/stream"):
        feed = BinanceFeed(["BTC", "ETH"], ws_url=given)
        assert feed.stream_url == ("wss://stream.testnet.binance.vision/stream?streams="
                                   "btcusdt@trade/ethusdt@trade")
