"""Fake Binance Spot exchange on 127.0.0.1: public REST and WebSocket market data with faults.

A test double that ships in no package. Tests start it in their own process
(``FakeExchange(symbols).start()``, or ``async with FakeExchange(...)``). For a manual test, run
it as a script from the repository root; it prints its REST and WebSocket base URLs and serves
until Ctrl-C (``--help`` lists the options)::

    python tests/fakes/fake_exchange.py --symbols BTCUSDT,ETHUSDT
    velocitas run --source binance --coins BTC,ETH \
        --binance-rest-url http://127.0.0.1:PORT --binance-ws-url ws://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import concurrent.futures
import http
import json
import logging
import math
import re
import threading
import time
import zlib
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from velocitas_desktop.core.types import INTERVAL_SECONDS
from velocitas_desktop.feeds.binance_rest import KLINE_INTERVALS

__all__ = [
    "DEFAULT_SYMBOLS",
    "KLINE_INTERVALS",
    "ExchangeStats",
    "FakeExchange",
    "SymbolSpec",
    "interval_floor",
    "interval_next",
    "main",
    "symbol_spec",
]

_LOG = logging.getLogger(__name__)
# websockets logs every plain HTTP answer; a NullHandler keeps Python's last-resort stderr
# handler from printing them when the host application has not configured logging.
_LOG.addHandler(logging.NullHandler())

DEFAULT_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_DAY_MINUTES = 1_440
_MINUTES_PER_YEAR = 525_600
# 1970-01-01 was a Thursday; Binance's weekly klines open on Monday 00:00 UTC.
_MONDAY_OFFSET_MS = 4 * _DAY_MS
# Binance's intervals and their lengths are the app's own tables; "1M" goes by the calendar.
_INTERVAL_MS: dict[str, int] = {name: INTERVAL_SECONDS[name] * 1000
                                for name in KLINE_INTERVALS if name != "1M"}
_TRADE_ID_BASE = 1_000_000_000
_AGG_ID_BASE = 400_000_000
# One taker order often fills against several makers; ~0.7 aggTrades per trade looks like live data.
_AGG_PER_TRADE = 0.7
_MARKET_TICK_S = 0.02
# A client this far behind is a slow consumer; Binance disconnects those rather than buffer.
_MAX_BACKLOG = 20_000
_JSON_TYPE = "application/json;charset=UTF-8"
_SYMBOL_RE = re.compile(r"[A-Z0-9\-_.]{1,20}")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,36}")
_STREAM_RE = re.compile(
    r"(?P<symbol>[a-z0-9]{1,20})@(?P<kind>trade|aggTrade|kline_(?P<interval>"
    + "|".join(KLINE_INTERVALS)
    + r")|miniTicker|ticker|ticker_(?:1h|4h|1d)|bookTicker|avgPrice|depth(?:5|10|20)?(?:@100ms)?)"
    r"|!miniTicker@arr|!ticker_(?:1h|4h|1d)@arr"
)
_WS_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


# --------------------------------------------------------------------------- symbols and numbers


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What a listed symbol looks like: its assets, price level, tick and lot size, volatility."""

    symbol: str
    base: str
    quote: str
    price: float
    price_decimals: int
    qty_decimals: int
    median_qty: float
    annual_vol: float

    def ticks(self, log_price: np.ndarray) -> np.ndarray:
        scaled = np.rint(np.exp(log_price) * 10.0**self.price_decimals)
        return np.maximum(1, scaled).astype(np.int64)

    def price_str(self, ticks: int) -> str:
        return _fmt(int(ticks), self.price_decimals)

    def qty_str(self, units: int) -> str:
        return _fmt(int(units), self.qty_decimals)

    def quote_str(self, units: int) -> str:
        return _fmt(int(units), self.price_decimals + self.qty_decimals)


# base asset: (USD price, price decimals, quantity decimals, median trade size, annual volatility)
_ASSETS: dict[str, tuple[float, int, int, float, float]] = {
    "BTC": (60_000.0, 2, 5, 0.01, 0.55),
    "ETH": (3_000.0, 2, 4, 0.15, 0.70),
    "SOL": (150.0, 2, 3, 3.0, 0.90),
    "BNB": (600.0, 2, 3, 0.5, 0.50),
    "XRP": (0.6, 4, 1, 800.0, 0.80),
}
_USD_QUOTES = ("USDT", "FDUSD", "USDC", "TUSD", "BUSD")
_QUOTES = (*_USD_QUOTES, "EUR", "TRY", "BTC", "ETH", "BNB")


def symbol_spec(symbol: str) -> SymbolSpec:
    """A realistic spec for `symbol`: known coins at their usual level, others near 1 USD."""
    quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), "USDT")
    base = symbol[: -len(quote)] if symbol.endswith(quote) else symbol
    known = _ASSETS.get(base)
    if known is not None and quote in _USD_QUOTES:
        return SymbolSpec(symbol, base, quote, *known)
    base_usd = known[0] if known else 1.0
    quote_usd = 1.0 if quote in _USD_QUOTES else _ASSETS.get(quote, (1.0,))[0]
    price = base_usd / quote_usd
    # Keep price and quantity decimals within 8 so quote volumes stay exact 8-decimal strings.
    price_decimals = min(6, max(0, 6 - math.floor(math.log10(price))))
    qty_decimals = max(0, min(5, 8 - price_decimals))
    median_qty = max(10.0**-qty_decimals, 500.0 / base_usd)
    return SymbolSpec(symbol, base, quote, price, price_decimals, qty_decimals, median_qty, 0.8)


def _fmt(units: int, decimals: int) -> str:
    """Binance's 8-decimal string for an integer count of 10**-decimals units."""
    if decimals <= 8:
        scaled = units * 10 ** (8 - decimals)
    else:
        step = 10 ** (decimals - 8)
        scaled = (units + step // 2) // step
    whole, frac = divmod(abs(scaled), 10**8)
    return f"{'-' if scaled < 0 else ''}{whole}.{frac:08d}"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# --------------------------------------------------------------------------- kline intervals


def _month_start(year: int, month: int) -> int:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000


def interval_floor(t_ms: int, interval: str) -> int:
    """Open time of the `interval` kline that contains `t_ms` (UTC buckets, weeks from Monday)."""
    if interval == "1M":
        day = datetime.fromtimestamp(t_ms // 1000, UTC)
        return _month_start(day.year, day.month)
    step = _INTERVAL_MS[interval]
    offset = _MONDAY_OFFSET_MS if interval == "1w" else 0
    return (t_ms - offset) // step * step + offset


def interval_next(open_ms: int, interval: str) -> int:
    """Open time of the kline after the one opening at `open_ms`."""
    if interval == "1M":
        day = datetime.fromtimestamp(open_ms // 1000, UTC)
        return _month_start(day.year, day.month + 1)
    return open_ms + _INTERVAL_MS[interval]


def _interval_prev(open_ms: int, interval: str) -> int:
    if interval == "1M":
        day = datetime.fromtimestamp(open_ms // 1000, UTC)
        return _month_start(day.year, day.month - 1)
    return open_ms - _INTERVAL_MS[interval]


def _interval_ceil(t_ms: int, interval: str) -> int:
    open_ms = interval_floor(t_ms, interval)
    return open_ms if open_ms == t_ms else interval_next(open_ms, interval)


def _scaled_close(close_ms: int, scale: int) -> int:
    # A microsecond close time ends in 999999, not 999000, as in Binance's own archive.
    return (close_ms + 1) * scale - 1


# --------------------------------------------------------------------------- market model


@dataclass(frozen=True, slots=True)
class _Bar:
    """OHLCV of a set of trades, in integer ticks and lot units."""

    open: int
    high: int
    low: int
    close: int
    volume: int
    quote: int
    count: int
    taker_volume: int
    taker_quote: int
    first_id: int
    last_id: int


def _merge(bars: Iterable[_Bar | None]) -> _Bar | None:
    present = [bar for bar in bars if bar is not None]
    if not present:
        return None
    return _Bar(
        present[0].open,
        max(b.high for b in present),
        min(b.low for b in present),
        present[-1].close,
        sum(b.volume for b in present),
        sum(b.quote for b in present),
        sum(b.count for b in present),
        sum(b.taker_volume for b in present),
        sum(b.taker_quote for b in present),
        present[0].first_id,
        present[-1].last_id,
    )


# Columns of a per-minute summary row.
_O, _H, _L, _C, _V, _Q, _N, _TV, _TQ, _FIRST, _LAST = range(11)


def _bar_of_rows(rows: np.ndarray) -> _Bar:
    def exact(col: int) -> int:
        # Python ints: a month of quote volume can overflow int64.
        return int(rows[:, col].astype(object).sum())

    return _Bar(
        int(rows[0, _O]),
        int(rows[:, _H].max()),
        int(rows[:, _L].min()),
        int(rows[-1, _C]),
        exact(_V),
        exact(_Q),
        exact(_N),
        exact(_TV),
        exact(_TQ),
        int(rows[0, _FIRST]),
        int(rows[-1, _LAST]),
    )


@dataclass(frozen=True, slots=True)
class _DayPath:
    """The price path of one UTC day at minute resolution: log price at each minute boundary."""

    log_anchor: np.ndarray  # (1441,)
    anchor_ticks: np.ndarray  # (1441,)
    sigma: np.ndarray  # (1440,) per-minute volatility


@dataclass(frozen=True, slots=True)
class _Minute:
    """Every aggTrade and trade of one minute of one symbol, in time order."""

    first_trade_id: int
    first_agg_id: int
    agg_time: np.ndarray
    agg_price: np.ndarray
    agg_maker: np.ndarray
    agg_first: np.ndarray  # offset of the aggTrade's first trade within the minute
    agg_last: np.ndarray  # offset of its last trade (inclusive)
    agg_qty: np.ndarray
    time: np.ndarray
    price: np.ndarray
    maker: np.ndarray
    qty: np.ndarray

    def bar(self, i0: int, i1: int) -> _Bar | None:
        if i1 <= i0:
            return None
        price, qty = self.price[i0:i1], self.qty[i0:i1]
        taker = ~self.maker[i0:i1]
        notional = price * qty
        return _Bar(
            int(price[0]),
            int(price.max()),
            int(price.min()),
            int(price[-1]),
            int(qty.sum()),
            int(notional.sum()),
            i1 - i0,
            int(qty[taker].sum()),
            int(notional[taker].sum()),
            self.first_trade_id + i0,
            self.first_trade_id + i1 - 1,
        )


@dataclass(frozen=True, slots=True)
class _HistoryDay:
    """A whole day of history trades at the history rate, one row per minute."""

    time: np.ndarray
    price: np.ndarray
    maker: np.ndarray
    qty: np.ndarray


@dataclass(slots=True)
class _DayTable:
    rows: np.ndarray  # (1440, 11) int64 minute summaries
    filled: np.ndarray  # (1440,) bool


def _simulate(
    rng: np.random.Generator,
    spec: SymbolSpec,
    minute_start: np.ndarray,
    path: _DayPath,
    rows: slice,
    n_aggs: int,
    n_trades: int,
    size_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times, prices and sides of `n_aggs` aggTrades and sizes of `n_trades` trades per minute.

    Each minute's prices form a Brownian bridge between its two anchors, and its last trade is
    exactly the next minute's opening anchor, so minutes chain without jumps and a kline's
    previous close is known without generating the trades before it.
    """
    log_open = path.log_anchor[:-1][rows]
    log_close = path.log_anchor[1:][rows]
    tick_open = path.anchor_ticks[:-1][rows]
    tick_close = path.anchor_ticks[1:][rows]
    sigma = path.sigma[rows]
    shape = (len(minute_start), n_aggs)
    offsets = np.sort(rng.integers(0, _MINUTE_MS, size=shape), axis=1)
    walk = np.cumsum(rng.standard_normal(shape), axis=1)
    frac = np.arange(1, n_aggs + 1) / n_aggs
    bridge = walk - frac * walk[:, -1:]
    log_price = (
        log_open[:, None]
        + frac * (log_close - log_open)[:, None]
        + (sigma / math.sqrt(n_aggs))[:, None] * bridge
    )
    price = spec.ticks(log_price)
    price[:, -1] = tick_close
    previous = np.concatenate((tick_open[:, None], price[:, :-1]), axis=1)
    coin = rng.random(shape) < 0.5
    # An uptick means a buyer crossed the spread: the buyer is the taker, not the maker.
    maker = np.where(price > previous, False, np.where(price < previous, True, coin))
    median_units = spec.median_qty * 10**spec.qty_decimals * size_scale
    sizes = median_units * np.exp(0.9 * rng.standard_normal((len(minute_start), n_trades)))
    qty = np.maximum(1, np.rint(sizes)).astype(np.int64)
    return offsets + minute_start[:, None], price, maker, qty


class _Market:
    """Deterministic trades for every symbol, from one seeded price path per symbol.

    Time is cut into UTC minutes. Minutes before the exchange started trade at the history rate
    and are generated a day at a time; later minutes trade at the live rate and are generated
    one at a time. Trade and aggTrade ids follow from the minute alone, so any period can be
    produced on demand; klines are aggregations of exactly the trades that the streams send.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        seed: int,
        start_ms: int,
        history_days: int,
        trade_rate: float,
        history_trade_rate: float,
    ) -> None:
        self.specs = {symbol: symbol_spec(symbol) for symbol in symbols}
        self._seed = abs(int(seed))
        self._keys = {symbol: zlib.crc32(symbol.encode()) for symbol in self.specs}
        self.origin_day = start_ms // _DAY_MS - history_days
        self.origin_minute = self.origin_day * _DAY_MINUTES
        self.origin_ms = self.origin_minute * _MINUTE_MS
        self.live_minute = start_ms // _MINUTE_MS
        self.history_trades = max(1, round(history_trade_rate * 60))
        self.live_trades = max(1, round(trade_rate * 60))
        self.live_aggs = max(1, round(self.live_trades * _AGG_PER_TRADE))
        self._paths: dict[str, list[_DayPath]] = {symbol: [] for symbol in self.specs}
        self._tables: dict[tuple[str, int], _DayTable] = {}
        self._history: OrderedDict[tuple[str, int], _HistoryDay] = OrderedDict()
        self._minutes: OrderedDict[tuple[str, int], _Minute] = OrderedDict()
        start_day = start_ms // _DAY_MS
        self._levels = {s: self._opening_level(s, start_day) for s in self.specs}

    def _opening_level(self, symbol: str, start_day: int) -> float:
        """Log price at the history's start such that today opens at the symbol's usual level."""
        drift = sum(
            float(self._day_steps(symbol, d)[1].sum()) for d in range(self.origin_day, start_day)
        )
        return math.log(self.specs[symbol].price) - drift

    # ids ------------------------------------------------------------------------------------

    def first_trade_id(self, minute: int) -> int:
        history = min(minute, self.live_minute) - self.origin_minute
        live = max(0, minute - self.live_minute)
        return _TRADE_ID_BASE + history * self.history_trades + live * self.live_trades

    def first_agg_id(self, minute: int) -> int:
        history = min(minute, self.live_minute) - self.origin_minute
        live = max(0, minute - self.live_minute)
        return _AGG_ID_BASE + history * self.history_trades + live * self.live_aggs

    def minute_of_agg_id(self, agg_id: int) -> int:
        offset = max(0, agg_id - _AGG_ID_BASE)
        history_aggs = (self.live_minute - self.origin_minute) * self.history_trades
        if offset < history_aggs:
            return self.origin_minute + offset // self.history_trades
        return self.live_minute + (offset - history_aggs) // self.live_aggs

    # generation -----------------------------------------------------------------------------

    def _rng(self, symbol: str, index: int, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self._seed, self._keys[symbol], index, purpose])

    def _path(self, symbol: str, day: int) -> _DayPath:
        paths = self._paths[symbol]
        while len(paths) <= day - self.origin_day:
            previous = paths[-1] if paths else None
            paths.append(self._next_path(symbol, self.origin_day + len(paths), previous))
        return paths[day - self.origin_day]

    def _day_steps(self, symbol: str, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-minute volatility and log-price steps of one day."""
        spec = self.specs[symbol]
        rng = self._rng(symbol, day, 0)
        # Volatility changes hour by hour, as real markets have quiet and busy hours.
        hourly = np.exp(0.35 * rng.standard_normal(24))
        sigma = spec.annual_vol / math.sqrt(_MINUTES_PER_YEAR) * np.repeat(hourly, 60)
        return sigma, sigma * rng.standard_normal(_DAY_MINUTES)

    def _next_path(self, symbol: str, day: int, previous: _DayPath | None) -> _DayPath:
        sigma, steps = self._day_steps(symbol, day)
        start = self._levels[symbol] if previous is None else float(previous.log_anchor[-1])
        log_anchor = start + np.concatenate(([0.0], np.cumsum(steps)))
        ticks = self.specs[symbol].ticks(log_anchor)
        if previous is not None:
            ticks[0] = previous.anchor_ticks[-1]
        return _DayPath(log_anchor, ticks, sigma)

    def _history_day(self, symbol: str, day: int) -> _HistoryDay:
        key = (symbol, day)
        cached = self._history.get(key)
        if cached is not None:
            self._history.move_to_end(key)
            return cached
        path = self._path(symbol, day)
        starts = (day * _DAY_MINUTES + np.arange(_DAY_MINUTES, dtype=np.int64)) * _MINUTE_MS
        n = self.history_trades
        # Sparser history trades are bigger, so volume per minute does not jump at the start.
        scale = self.live_trades / n
        rng = self._rng(symbol, day, 1)
        arrays = _simulate(rng, self.specs[symbol], starts, path, slice(None), n, n, scale)
        history = _HistoryDay(*arrays)
        self._history[key] = history
        if len(self._history) > 6:
            self._history.popitem(last=False)
        return history

    def minute(self, symbol: str, minute: int) -> _Minute:
        """All trades of `minute` (an epoch minute number) for `symbol`."""
        key = (symbol, minute)
        cached = self._minutes.get(key)
        if cached is not None:
            self._minutes.move_to_end(key)
            return cached
        if minute < self.live_minute:
            built = self._history_minute(symbol, minute)
        else:
            built = self._live_minute(symbol, minute)
        self._minutes[key] = built
        if len(self._minutes) > 256:
            self._minutes.popitem(last=False)
        return built

    def _history_minute(self, symbol: str, minute: int) -> _Minute:
        day, row = divmod(minute, _DAY_MINUTES)
        history = self._history_day(symbol, day)
        offsets = np.arange(self.history_trades)
        # Copies, so that a cached minute does not keep its whole day of arrays alive.
        times, prices = history.time[row].copy(), history.price[row].copy()
        makers, qtys = history.maker[row].copy(), history.qty[row].copy()
        return _Minute(
            self.first_trade_id(minute),
            self.first_agg_id(minute),
            times,
            prices,
            makers,
            offsets,
            offsets,
            qtys,
            times,
            prices,
            makers,
            qtys,
        )

    def _live_minute(self, symbol: str, minute: int) -> _Minute:
        day, row = divmod(minute, _DAY_MINUTES)
        rng = self._rng(symbol, minute, 2)
        n_aggs, n_trades = self.live_aggs, self.live_trades
        times, prices, makers, qtys = _simulate(
            rng,
            self.specs[symbol],
            np.array([minute * _MINUTE_MS], dtype=np.int64),
            self._path(symbol, day),
            slice(row, row + 1),
            n_aggs,
            n_trades,
        )
        if n_aggs == n_trades:
            first = np.arange(n_trades)
        else:
            cuts = np.sort(rng.choice(n_trades - 1, n_aggs - 1, replace=False)) + 1
            first = np.concatenate(([0], cuts))
        last = np.concatenate((first[1:] - 1, [n_trades - 1]))
        owner = np.repeat(np.arange(n_aggs), last - first + 1)
        qty = qtys[0]
        return _Minute(
            self.first_trade_id(minute),
            self.first_agg_id(minute),
            times[0],
            prices[0],
            makers[0],
            first,
            last,
            np.add.reduceat(qty, first),
            times[0][owner],
            prices[0][owner],
            makers[0][owner],
            qty,
        )

    # summaries ------------------------------------------------------------------------------

    def _table(self, symbol: str, day: int) -> _DayTable:
        key = (symbol, day)
        table = self._tables.get(key)
        if table is None:
            table = _DayTable(
                np.zeros((_DAY_MINUTES, 11), dtype=np.int64),
                np.zeros(_DAY_MINUTES, dtype=bool),
            )
            history_rows = min(_DAY_MINUTES, max(0, self.live_minute - day * _DAY_MINUTES))
            if history_rows:
                self._fill_history(symbol, day, table, history_rows)
            self._tables[key] = table
        return table

    def _fill_history(self, symbol: str, day: int, table: _DayTable, n_rows: int) -> None:
        history = self._history_day(symbol, day)
        price, qty = history.price[:n_rows], history.qty[:n_rows]
        taker = ~history.maker[:n_rows]
        notional = price * qty
        first = np.array(
            [self.first_trade_id(day * _DAY_MINUTES + i) for i in range(n_rows)], dtype=np.int64
        )
        rows = table.rows[:n_rows]
        rows[:, _O] = price[:, 0]
        rows[:, _H] = price.max(axis=1)
        rows[:, _L] = price.min(axis=1)
        rows[:, _C] = price[:, -1]
        rows[:, _V] = qty.sum(axis=1)
        rows[:, _Q] = notional.sum(axis=1)
        rows[:, _N] = self.history_trades
        rows[:, _TV] = np.where(taker, qty, 0).sum(axis=1)
        rows[:, _TQ] = np.where(taker, notional, 0).sum(axis=1)
        rows[:, _FIRST] = first
        rows[:, _LAST] = first + self.history_trades - 1
        table.filled[:n_rows] = True

    def _rows(self, symbol: str, first_minute: int, end_minute: int) -> np.ndarray:
        """Summary rows of the complete minutes in [first_minute, end_minute)."""
        parts = []
        for day in range(first_minute // _DAY_MINUTES, (end_minute - 1) // _DAY_MINUTES + 1):
            table = self._table(symbol, day)
            lo = max(first_minute, day * _DAY_MINUTES) - day * _DAY_MINUTES
            hi = min(end_minute, (day + 1) * _DAY_MINUTES) - day * _DAY_MINUTES
            for row in np.flatnonzero(~table.filled[lo:hi]) + lo:
                trades = self.minute(symbol, day * _DAY_MINUTES + int(row))
                bar = trades.bar(0, len(trades.time))
                assert bar is not None
                table.rows[row] = (
                    bar.open, bar.high, bar.low, bar.close, bar.volume, bar.quote, bar.count,
                    bar.taker_volume, bar.taker_quote, bar.first_id, bar.last_id,
                )  # fmt: skip
                table.filled[row] = True
            parts.append(table.rows[lo:hi])
        return np.concatenate(parts)

    def _partial(self, symbol: str, minute: int, start: int, end: int) -> _Bar | None:
        trades = self.minute(symbol, minute)
        i0 = int(np.searchsorted(trades.time, start, "left"))
        i1 = int(np.searchsorted(trades.time, end, "left"))
        return trades.bar(i0, i1)

    def bar(self, symbol: str, start: int, end: int, now: int) -> _Bar | None:
        """Aggregate of the trades with start <= time < end that have happened by `now`."""
        start, end = max(start, self.origin_ms), min(end, now + 1)
        if start >= end:
            return None
        lo_full, hi_full = -(-start // _MINUTE_MS), end // _MINUTE_MS
        if lo_full > hi_full:
            return self._partial(symbol, start // _MINUTE_MS, start, end)
        head = tail = full = None
        if start < lo_full * _MINUTE_MS:
            head = self._partial(symbol, start // _MINUTE_MS, start, lo_full * _MINUTE_MS)
        if lo_full < hi_full:
            full = _bar_of_rows(self._rows(symbol, lo_full, hi_full))
        if hi_full * _MINUTE_MS < end:
            tail = self._partial(symbol, hi_full, hi_full * _MINUTE_MS, end)
        return _merge((head, full, tail))

    def last_trade_before(self, symbol: str, t_ms: int) -> tuple[int, int, int]:
        """(price ticks, qty units, trade id) of the last trade before `t_ms`; id -1 if none."""
        minute = t_ms // _MINUTE_MS
        if minute < self.origin_minute:
            return int(self._path(symbol, self.origin_day).anchor_ticks[0]), 0, -1
        trades = self.minute(symbol, minute)
        i = int(np.searchsorted(trades.time, t_ms, "left"))
        if i == 0:
            if minute == self.origin_minute:
                return int(self._path(symbol, self.origin_day).anchor_ticks[0]), 0, -1
            trades = self.minute(symbol, minute - 1)
            i = len(trades.time)
        return int(trades.price[i - 1]), int(trades.qty[i - 1]), trades.first_trade_id + i - 1

    # queries --------------------------------------------------------------------------------

    def kline_opens(
        self, interval: str, start: int | None, end: int | None, limit: int, now: int
    ) -> list[int]:
        """Open times per Binance's rules: from startTime forward, else back from endTime/now."""
        lo = interval_floor(self.origin_ms, interval)
        hi = interval_floor(now, interval)
        if start is not None:
            lo = max(lo, _interval_ceil(start, interval))
        if end is not None:
            hi = min(hi, interval_floor(end, interval))
        opens: list[int] = []
        if start is not None:
            open_ms = lo
            while open_ms <= hi and len(opens) < limit:
                opens.append(open_ms)
                open_ms = interval_next(open_ms, interval)
            return opens
        open_ms = hi
        while open_ms >= lo and len(opens) < limit:
            opens.append(open_ms)
            open_ms = _interval_prev(open_ms, interval)
        return opens[::-1]

    def kline(self, symbol: str, interval: str, open_ms: int, now: int) -> _Bar:
        """The kline opening at `open_ms` as of `now`; with no trades it repeats the last price."""
        bar = self.bar(symbol, open_ms, interval_next(open_ms, interval), now)
        if bar is not None:
            return bar
        price, _, _ = self.last_trade_before(symbol, max(open_ms, self.origin_ms))
        return _Bar(price, price, price, price, 0, 0, 0, 0, 0, -1, -1)

    def trades_between(self, symbol: str, start: int, end: int) -> Iterator[tuple[_Minute, int]]:
        """(minute, trade offset) for every trade with start <= time < end, oldest first."""
        start = max(start, self.origin_ms)
        for minute in range(start // _MINUTE_MS, (end - 1) // _MINUTE_MS + 1):
            trades = self.minute(symbol, minute)
            i0 = int(np.searchsorted(trades.time, start, "left"))
            i1 = int(np.searchsorted(trades.time, end, "left"))
            for i in range(i0, i1):
                yield trades, i

    def recent(
        self, symbol: str, now: int, limit: int, aggregated: bool
    ) -> list[tuple[_Minute, int]]:
        """The last `limit` trades (or aggTrades) at or before `now`, oldest first."""
        found: list[tuple[_Minute, int]] = []
        minute = now // _MINUTE_MS
        while minute >= self.origin_minute and len(found) < limit:
            trades = self.minute(symbol, minute)
            times = trades.agg_time if aggregated else trades.time
            n = int(np.searchsorted(times, now, "right"))
            take = min(n, limit - len(found))
            found.extend((trades, i) for i in range(n - 1, n - 1 - take, -1))
            minute -= 1
        return found[::-1]

    def aggs_from(
        self, symbol: str, minute: int, index: int, until: int, limit: int
    ) -> list[tuple[_Minute, int]]:
        """Up to `limit` aggTrades from (minute, index) on, with time <= `until`."""
        found: list[tuple[_Minute, int]] = []
        minute = max(minute, self.origin_minute)
        while minute * _MINUTE_MS <= until and len(found) < limit:
            trades = self.minute(symbol, minute)
            n = int(np.searchsorted(trades.agg_time, until, "right"))
            stop = min(n, index + limit - len(found))
            found.extend((trades, i) for i in range(index, stop))
            minute, index = minute + 1, 0
        return found


# --------------------------------------------------------------------------- REST


class _ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _mandatory(name: str) -> _ApiError:
    msg = f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    return _ApiError(400, -1102, msg)


def _illegal(name: str, legal: str) -> _ApiError:
    msg = f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    return _ApiError(400, -1100, msg)


def _invalid(name: str) -> _ApiError:
    return _ApiError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def _parse_query(query: str) -> dict[str, str]:
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise _ApiError(400, -1101, "Duplicate values for a parameter detected.")
    return params


def _request_weight(path: str, params: dict[str, str]) -> int:
    """Request weights as documented for each endpoint and parameter form."""
    if path in ("/api/v3/ticker/price", "/api/v3/ticker/bookTicker"):
        return 2 if "symbol" in params else 4
    if path == "/api/v3/ticker/24hr":
        if "symbol" in params:
            return 2
        if "symbols" not in params:
            return 80
        count = params["symbols"].count(",") + 1
        return 2 if count <= 20 else 40 if count <= 100 else 80
    if path == "/api/v3/depth":
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    fixed = {
        "/api/v3/ping": 1,
        "/api/v3/time": 1,
        "/api/v3/exchangeInfo": 20,
        "/api/v3/klines": 2,
        "/api/v3/uiKlines": 2,
        "/api/v3/trades": 25,
        "/api/v3/aggTrades": 4,
        "/api/v3/avgPrice": 2,
    }
    return fixed.get(path, 1)


def _http_response(
    status: int, body: bytes, content_type: str, extra: Iterable[tuple[str, str]] = ()
) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            # Each HTTP request rides its own connection: the websockets server that answers it
            # closes the socket afterwards, so the client must not try to reuse it.
            ("Connection", "close"),
            *extra,
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def _json_response(status: int, obj: Any, extra: Iterable[tuple[str, str]] = ()) -> Response:
    return _http_response(status, _dumps(obj).encode(), _JSON_TYPE, extra)


def _text_response(status: int, text: str) -> Response:
    return _http_response(status, text.encode(), "text/plain; charset=utf-8")


@dataclass(slots=True)
class _Limiter:
    """Per-IP request weight per clock minute, 429 back-off, and the 418 ban for ignoring it."""

    limit: int
    ban_after: int
    ban_ms: int
    window: int = -1
    used: int = 0
    forced_until: int = 0
    backoff_until: int = 0
    violations: int = 0
    banned_until: int = 0

    def current(self, now: int) -> int:
        if now // _MINUTE_MS != self.window:
            self.window, self.used = now // _MINUTE_MS, 0
        return self.used

    def admit(self, weight: int, now: int) -> tuple[int, int] | None:
        """None to serve the request, else (HTTP status, Retry-After seconds)."""
        used = self.current(now)
        if now < self.banned_until:
            return 418, self.banned_until - now
        if now >= self.forced_until and used + weight <= self.limit:
            self.used += weight
            return None
        if now < self.backoff_until:
            self.violations += 1
            if self.violations >= self.ban_after:
                self.banned_until = now + self.ban_ms
                return 418, self.ban_ms
        else:
            self.violations = 0
        window_end = (now // _MINUTE_MS + 1) * _MINUTE_MS
        self.backoff_until = self.forced_until if now < self.forced_until else window_end
        return 429, self.backoff_until - now

    def clear(self) -> None:
        self.forced_until = self.backoff_until = self.banned_until = 0
        self.violations = 0


class _RestApi:
    """Binance's public market-data REST endpoints over the shared market model."""

    def __init__(self, exchange: FakeExchange, market: _Market) -> None:
        self._ex = exchange
        self._market = market
        self.limiter = _Limiter(
            exchange.weight_limit, exchange.ban_after, int(exchange.ban_seconds * 1000)
        )
        self._routes: dict[str, Callable[[dict[str, str], int, int], Any]] = {
            "/api/v3/ping": lambda params, now, scale: {},
            "/api/v3/time": lambda params, now, scale: {"serverTime": now * scale},
            "/api/v3/exchangeInfo": self._exchange_info,
            "/api/v3/klines": self._klines,
            "/api/v3/uiKlines": self._klines,
            "/api/v3/ticker/price": self._ticker_price,
            "/api/v3/ticker/24hr": self._ticker_24hr,
            "/api/v3/ticker/bookTicker": self._book_ticker,
            "/api/v3/avgPrice": self._avg_price,
            "/api/v3/depth": self._depth,
            "/api/v3/trades": self._trades,
            "/api/v3/aggTrades": self._agg_trades,
        }

    def handle(self, method: str, path: str, query: str, headers: Headers) -> Response:
        counters = self._ex.counters
        counters.rest_requests[path] += 1
        route = self._routes.get(path)
        if route is None:
            return self._count(_text_response(404, "Not Found"))
        if method != "GET":
            return self._count(_text_response(405, "Method Not Allowed"))
        now = self._ex.now_ms()
        try:
            params = _parse_query(query)
            refusal = self.limiter.admit(_request_weight(path, params), now)
            if refusal is not None:
                return self._count(self._refusal(*refusal, now))
            body = route(params, now, _time_scale(headers))
            status = 200
        except _ApiError as exc:
            body, status = {"code": exc.code, "msg": exc.msg}, exc.status
        return self._count(_json_response(status, body, self._weight_headers(now)))

    def _count(self, response: Response) -> Response:
        self._ex.counters.rest_statuses[response.status_code] += 1
        return response

    def _weight_headers(self, now: int) -> list[tuple[str, str]]:
        used = str(self.limiter.current(now))
        return [("X-MBX-USED-WEIGHT", used), ("X-MBX-USED-WEIGHT-1M", used)]

    def _refusal(self, status: int, wait_ms: int, now: int) -> Response:
        if status == 418:
            msg = (
                f"Way too much request weight used; IP banned until {now + wait_ms}. "
                "Please use WebSocket Streams for live updates to avoid bans."
            )
        else:
            msg = (
                f"Too much request weight used; current limit is {self.limiter.limit} request "
                "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                "polling the API."
            )
        extra = [
            *self._weight_headers(now),
            ("Retry-After", str(max(1, math.ceil(wait_ms / 1000)))),
        ]
        return _json_response(status, {"code": -1003, "msg": msg}, extra)

    # parameters -----------------------------------------------------------------------------

    def _symbol(self, params: dict[str, str], required: bool = True) -> str | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise _mandatory("symbol")
            return None
        if not _SYMBOL_RE.fullmatch(symbol):
            raise _illegal("symbol", "^[A-Z0-9-_.]{1,20}$")
        if symbol not in self._market.specs:
            raise _ApiError(400, -1121, "Invalid symbol.")
        return symbol

    def _symbols(self, params: dict[str, str]) -> list[str] | None:
        raw = params.get("symbols")
        if raw is None:
            return None
        legal = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
        try:
            symbols = json.loads(raw)
        except ValueError:
            raise _illegal("symbols", legal) from None
        if not isinstance(symbols, list) or not all(
            isinstance(s, str) and _SYMBOL_RE.fullmatch(s) for s in symbols
        ):
            raise _illegal("symbols", legal)
        if len(set(symbols)) != len(symbols):
            raise _ApiError(400, -1151, "Symbol is present multiple times in the list.")
        if any(s not in self._market.specs for s in symbols):
            raise _ApiError(400, -1121, "Invalid symbol.")
        return symbols

    def _one_or_many(self, params: dict[str, str]) -> tuple[list[str], bool]:
        """The symbols asked for, and whether the answer is a single object."""
        symbol, symbols = self._symbol(params, required=False), self._symbols(params)
        if symbol is not None and symbols is not None:
            raise _ApiError(400, -1128, "Combination of optional parameters invalid.")
        if symbol is not None:
            return [symbol], True
        return (symbols if symbols is not None else list(self._market.specs)), False

    @staticmethod
    def _int(params: dict[str, str], name: str) -> int | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        if not raw.isdigit() or len(raw) > 20:
            raise _illegal(name, "^[0-9]{1,20}$")
        return int(raw)

    def _time(self, params: dict[str, str], name: str) -> int | None:
        value = self._int(params, name)
        # startTime/endTime may be sent in microseconds; anything that large is not ms.
        return value // 1000 if value is not None and value >= 10**15 else value

    def _limit(
        self, params: dict[str, str], default: int, maximum: int, clamp: bool = False
    ) -> int:
        limit = self._int(params, "limit")
        if limit is None:
            return default
        if limit < 1 or (limit > maximum and not clamp):
            raise _invalid("limit")
        return min(limit, maximum)

    # endpoints ------------------------------------------------------------------------------

    def _exchange_info(self, params: dict[str, str], now: int, scale: int) -> Any:
        status = params.get("symbolStatus")
        if status is not None and status not in ("TRADING", "HALT", "BREAK"):
            raise _ApiError(400, -1122, "Invalid symbolStatus.")
        symbol, symbols = self._symbol(params, required=False), self._symbols(params)
        if symbol is not None and symbols is not None:
            raise _ApiError(400, -1128, "Combination of optional parameters invalid.")
        chosen = [symbol] if symbol else symbols
        if chosen and status not in (None, "TRADING"):
            msg = "The symbol's status does not match the requested symbolStatus."
            raise _ApiError(400, -1220, msg)
        listed = chosen or ([] if status not in (None, "TRADING") else list(self._market.specs))
        return {
            "timezone": "UTC",
            "serverTime": now * scale,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.limiter.limit},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": 10},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
                 "limit": 300_000},
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(self._market.specs[s]) for s in listed],
        }  # fmt: skip

    def _klines(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbol = self._symbol(params)
        assert symbol is not None
        interval = params.get("interval")
        if not interval:
            raise _mandatory("interval")
        if interval not in KLINE_INTERVALS:
            raise _ApiError(400, -1120, "Invalid interval.")
        if params.get("timeZone", "0") not in ("0", "00:00", "+00:00", "0:00"):
            # Only UTC buckets are modelled; say so instead of silently answering in UTC.
            raise _invalid("timeZone")
        start, end = self._time(params, "startTime"), self._time(params, "endTime")
        limit = self._limit(params, 500, 1000)
        if start is not None and end is not None and start > end:
            # Older errors.md listed -1023 for this; a loud error beats a silent empty page.
            raise _ApiError(400, -1023, "Start time is greater than end time.")
        opens = self._market.kline_opens(interval, start, end, limit, now)
        return [self._ex._kline_row(symbol, interval, open_ms, now, scale) for open_ms in opens]

    def _ticker_price(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbols, single = self._one_or_many(params)
        prices = [
            {"symbol": s, "price": self._market.specs[s].price_str(self._last(s, now)[0])}
            for s in symbols
        ]
        return prices[0] if single else prices

    def _last(self, symbol: str, now: int) -> tuple[int, int, int]:
        return self._market.last_trade_before(symbol, now + 1)

    def _ticker_24hr(self, params: dict[str, str], now: int, scale: int) -> Any:
        kind = params.get("type", "FULL")
        if kind not in ("FULL", "MINI"):
            raise _ApiError(400, -1139, "Invalid ticker type.")
        symbols, single = self._one_or_many(params)
        tickers = [self._ticker(s, now, scale, full=kind == "FULL") for s in symbols]
        return tickers[0] if single else tickers

    def _ticker(self, symbol: str, now: int, scale: int, full: bool) -> dict[str, Any]:
        spec, market = self._market.specs[symbol], self._market
        open_time = now - _DAY_MS
        bar = market.bar(symbol, open_time, now + 1, now)
        last_price, last_qty, _ = self._last(symbol, now)
        prev_close, _, _ = market.last_trade_before(symbol, open_time)
        if bar is None:
            bar = _Bar(last_price, last_price, last_price, last_price, 0, 0, 0, 0, 0, -1, -1)
        stats = {
            "openPrice": spec.price_str(bar.open),
            "highPrice": spec.price_str(bar.high),
            "lowPrice": spec.price_str(bar.low),
            "lastPrice": spec.price_str(last_price),
            "volume": spec.qty_str(bar.volume),
            "quoteVolume": spec.quote_str(bar.quote),
            "openTime": open_time * scale,
            "closeTime": now * scale,
            "firstId": bar.first_id,
            "lastId": bar.last_id,
            "count": bar.count,
        }
        if not full:
            return {"symbol": symbol, **stats}
        change = last_price - bar.open
        average = (bar.quote * 10 ** (8 - spec.price_decimals) + bar.volume // 2) // max(
            1, bar.volume
        )
        book = self._book(spec, last_price, now)
        return {
            "symbol": symbol,
            "priceChange": spec.price_str(change),
            "priceChangePercent": f"{change / bar.open * 100:.3f}",
            "weightedAvgPrice": _fmt(average, 8),
            "prevClosePrice": spec.price_str(prev_close),
            "lastPrice": stats["lastPrice"],
            "lastQty": spec.qty_str(last_qty),
            "bidPrice": book["bidPrice"],
            "bidQty": book["bidQty"],
            "askPrice": book["askPrice"],
            "askQty": book["askQty"],
            **{k: v for k, v in stats.items() if k != "lastPrice"},
        }

    @staticmethod
    def _book(spec: SymbolSpec, last_price: int, now: int) -> dict[str, str]:
        lot = max(1, round(spec.median_qty * 10**spec.qty_decimals))
        wobble = 1 + (now // 1000) % 7
        return {
            "symbol": spec.symbol,
            "bidPrice": spec.price_str(max(1, last_price - 1)),
            "bidQty": spec.qty_str(lot * wobble),
            "askPrice": spec.price_str(last_price + 1),
            "askQty": spec.qty_str(lot * (8 - wobble)),
        }

    def _book_ticker(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbols, single = self._one_or_many(params)
        books = [self._book(self._market.specs[s], self._last(s, now)[0], now) for s in symbols]
        return books[0] if single else books

    def _avg_price(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbol = self._symbol(params)
        assert symbol is not None
        spec = self._market.specs[symbol]
        bar = self._market.bar(symbol, now - 5 * _MINUTE_MS, now + 1, now)
        last_price, _, _ = self._last(symbol, now)
        if bar is None or bar.volume == 0:
            price = spec.price_str(last_price)
        else:
            price = _fmt((bar.quote * 10 ** (8 - spec.price_decimals)) // bar.volume, 8)
        return {"mins": 5, "price": price, "closeTime": now * scale}

    def _depth(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbol = self._symbol(params)
        assert symbol is not None
        spec = self._market.specs[symbol]
        limit = self._limit(params, 100, 5000, clamp=True)
        last_price, _, last_id = self._last(symbol, now)
        rng = np.random.default_rng([zlib.crc32(symbol.encode()), now // 1000])
        lot = max(1, round(spec.median_qty * 10**spec.qty_decimals))
        sizes = np.maximum(1, np.rint(lot * rng.exponential(4.0, size=(2, limit)))).astype(int)
        return {
            "lastUpdateId": max(0, last_id) * 3,
            "bids": [
                [spec.price_str(last_price - 1 - i), spec.qty_str(int(sizes[0, i]))]
                for i in range(limit)
                if last_price - 1 - i > 0
            ],
            "asks": [
                [spec.price_str(last_price + 1 + i), spec.qty_str(int(sizes[1, i]))]
                for i in range(limit)
            ],
        }

    def _trades(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbol = self._symbol(params)
        assert symbol is not None
        limit = self._limit(params, 500, 1000)
        spec = self._market.specs[symbol]
        found = self._market.recent(symbol, now, limit, aggregated=False)
        return [_trade_record(spec, trades, i, scale) for trades, i in found]

    def _agg_trades(self, params: dict[str, str], now: int, scale: int) -> Any:
        symbol = self._symbol(params)
        assert symbol is not None
        spec, market = self._market.specs[symbol], self._market
        limit = self._limit(params, 500, 1000)
        from_id = self._int(params, "fromId")
        start, end = self._time(params, "startTime"), self._time(params, "endTime")
        if from_id is not None and (start is not None or end is not None):
            raise _ApiError(400, -1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > 3_600_000:
            raise _ApiError(400, -1127, "More than 1 hours between startTime and endTime.")
        if from_id is not None:
            minute = market.minute_of_agg_id(from_id)
            index = max(0, from_id - market.first_agg_id(minute))
            found = market.aggs_from(symbol, minute, index, now, limit)
        elif start is not None:
            start = max(start, market.origin_ms)
            minute = start // _MINUTE_MS
            index = int(np.searchsorted(market.minute(symbol, minute).agg_time, start, "left"))
            until = now if end is None else min(end, now)
            found = market.aggs_from(symbol, minute, index, until, limit)
        else:
            found = market.recent(symbol, now if end is None else min(end, now), limit, True)
        return [_agg_record(spec, trades, i, scale) for trades, i in found]


def _time_scale(headers: Headers) -> int:
    unit = headers.get("X-MBX-TIME-UNIT")
    if unit is None or unit.upper() == "MILLISECOND":
        return 1
    if unit.upper() == "MICROSECOND":
        return 1000
    raise _ApiError(
        400, -1194, "Invalid value for time unit; expected either MICROSECOND or MILLISECOND."
    )


def _symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    tick = spec.price_str(1)
    step = spec.qty_str(1)
    max_qty = max(9000, round(90_000_000 / spec.price))
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick,
             "maxPrice": _fmt(max(1_000_000, round(spec.price * 100)) * 10**8, 16),
             "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": _fmt(max_qty, 0),
             "stepSize": step},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
    }  # fmt: skip


def _trade_record(spec: SymbolSpec, trades: _Minute, i: int, scale: int) -> dict[str, Any]:
    price, qty = int(trades.price[i]), int(trades.qty[i])
    return {
        "id": trades.first_trade_id + i,
        "price": spec.price_str(price),
        "qty": spec.qty_str(qty),
        "quoteQty": spec.quote_str(price * qty),
        "time": int(trades.time[i]) * scale,
        "isBuyerMaker": bool(trades.maker[i]),
        "isBestMatch": True,
    }


def _agg_record(spec: SymbolSpec, trades: _Minute, i: int, scale: int) -> dict[str, Any]:
    return {
        "a": trades.first_agg_id + i,
        "p": spec.price_str(int(trades.agg_price[i])),
        "q": spec.qty_str(int(trades.agg_qty[i])),
        "f": trades.first_trade_id + int(trades.agg_first[i]),
        "l": trades.first_trade_id + int(trades.agg_last[i]),
        "T": int(trades.agg_time[i]) * scale,
        "m": bool(trades.agg_maker[i]),
        "M": True,
    }


# --------------------------------------------------------------------------- WebSocket


@dataclass(frozen=True, slots=True)
class _WsTarget:
    combined: bool
    streams: tuple[str, ...]
    micro: bool


def _parse_ws_target(target: str) -> _WsTarget | str | None:
    """The streams a handshake path asks for; an error text if malformed; None if unknown."""
    path, _, query = target.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    unit = params.get("timeUnit", "MILLISECOND")
    if unit.upper() not in ("MILLISECOND", "MICROSECOND"):
        return "Invalid request: invalid timeUnit"
    micro = unit.upper() == "MICROSECOND"
    if path in ("/ws", "/ws/"):
        return _WsTarget(False, (), micro)
    if path.startswith("/ws/"):
        streams, combined = unquote(path[4:]).split("/"), False
    elif path in ("/stream", "/stream/"):
        raw = params.get("streams", "")
        streams, combined = (raw.split("/") if raw else []), True
    else:
        return None
    if not all(_STREAM_RE.fullmatch(s) for s in streams):
        return "Invalid request: invalid stream"
    return _WsTarget(combined, tuple(dict.fromkeys(streams)), micro)


def _ws_error(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


def _valid_request_id(value: Any) -> bool:
    if value is None:
        return True
    if type(value) is int:
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and _REQUEST_ID_RE.fullmatch(value) is not None


@dataclass(eq=False, slots=True)
class _Conn:
    """One client connection: its subscriptions, outgoing queue and injected faults."""

    ws: ServerConnection
    combined: bool
    micro: bool
    subs: dict[str, None] = field(default_factory=dict)
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    recent_trades: deque[str] = field(default_factory=lambda: deque(maxlen=512))
    held: list[str] = field(default_factory=list)
    hold_left: int = 0
    malformed_left: int = 0
    stalled: bool = False
    unstall: asyncio.TimerHandle | None = None
    incoming: deque[float] = field(default_factory=deque)
    pings: deque[tuple[float, asyncio.Future[float]]] = field(default_factory=deque)
    last_ping: float = 0.0
    closing: bool = False


@dataclass(slots=True)
class _KlineState:
    open_ms: int
    next_push: int


@dataclass(slots=True)
class _Counters:
    connections_total: int = 0
    handshakes_refused: int = 0
    messages_sent: int = 0
    disconnects: Counter[str] = field(default_factory=Counter)
    rest_requests: Counter[str] = field(default_factory=Counter)
    rest_statuses: Counter[int] = field(default_factory=Counter)
    last_trade_id: dict[str, int] = field(default_factory=dict)
    control_messages: deque[str] = field(default_factory=lambda: deque(maxlen=1000))


@dataclass(frozen=True, slots=True)
class ExchangeStats:
    """A snapshot of what the fake exchange has seen and sent, for assertions."""

    connections_open: int
    connections_total: int
    handshakes_refused: int
    disconnects: dict[str, int]
    rest_requests: dict[str, int]
    rest_statuses: dict[int, int]
    used_weight: int
    last_trade_id: dict[str, int]
    messages_sent: int
    control_messages: tuple[str, ...]
    subscriptions: tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class _HandshakeFaults:
    refuse_until: float | None = None
    refuse_left: int | None = None
    refuse_status: int = 503
    active: bool = False

    def refusing(self, now: float) -> bool:
        if not self.active:
            return False
        expired = self.refuse_until is not None and now >= self.refuse_until
        if expired or self.refuse_left == 0:
            self.active = False
            return False
        if self.refuse_left is not None:
            self.refuse_left -= 1
        return True


# --------------------------------------------------------------------------- the exchange


class FakeExchange:
    """A local stand-in for Binance Spot market data: REST and WebSocket on one 127.0.0.1 port.

    Use it from synchronous tests with ``start()``/``stop()`` (or ``with``), which run the server
    on its own event loop in a background thread, or with ``async with`` on the caller's loop.

    Market: ``symbols`` trade on a price path fixed by ``seed``; today opens at each coin's usual
    level. ``history_days`` whole UTC days of history precede the start, traded at
    ``history_trade_rate`` trades/s; from the start on, trades happen live at ``trade_rate``
    trades/s per symbol. ``clock`` (epoch ms) replaces the wall clock, e.g. with an offset.

    Protocol limits, Binance's values by default: server ``ping_interval`` and ``pong_timeout``
    (seconds), ``kline_push_interval`` (1s klines push twice as often), REST ``weight_limit`` per
    clock minute with a 418 ban of ``ban_seconds`` after ``ban_after`` requests that ignore a 429,
    ``max_incoming_per_s`` control messages, ``max_streams`` per connection,
    ``max_connection_age`` seconds, ``max_connection_attempts`` handshakes per 5 minutes.
    ``close_timeout`` bounds how long a close handshake with a silent client may take.
    """

    def __init__(
        self,
        symbols: Iterable[str] = DEFAULT_SYMBOLS,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        trade_rate: float = 20.0,
        history_days: int = 30,
        history_trade_rate: float = 1.0,
        ping_interval: float = 20.0,
        pong_timeout: float = 60.0,
        kline_push_interval: float = 2.0,
        weight_limit: int = 6000,
        ban_after: int = 5,
        ban_seconds: float = 120.0,
        max_incoming_per_s: int = 5,
        max_streams: int = 1024,
        max_connection_age: float = 86_400.0,
        max_connection_attempts: int = 300,
        close_timeout: float = 2.0,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.symbols: tuple[str, ...] = tuple(dict.fromkeys(symbols))
        bad = [s for s in self.symbols if not _SYMBOL_RE.fullmatch(s)]
        if bad or not self.symbols:
            raise ValueError(f"symbols must be uppercase Binance symbols like BTCUSDT, got {bad}")
        if trade_rate <= 0 or history_trade_rate <= 0:
            raise ValueError("trade_rate and history_trade_rate must be positive (trades/s)")
        if history_days < 0:
            raise ValueError("history_days must be 0 or more")
        self.seed, self.host = seed, host
        self.trade_rate, self.history_trade_rate = trade_rate, history_trade_rate
        self.history_days = history_days
        self.ping_interval, self.pong_timeout = ping_interval, pong_timeout
        self.kline_push_interval = kline_push_interval
        self.weight_limit, self.ban_after, self.ban_seconds = weight_limit, ban_after, ban_seconds
        self.max_incoming_per_s, self.max_streams = max_incoming_per_s, max_streams
        self.max_connection_age = max_connection_age
        self.max_connection_attempts = max_connection_attempts
        self.close_timeout = close_timeout
        self._requested_port = port
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.counters = _Counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._server: Server | None = None
        self._market: _Market | None = None
        self._rest: _RestApi | None = None
        self._conns: set[_Conn] = set()
        self._subscribers: dict[str, set[_Conn]] = {}
        self._kline_states: dict[str, _KlineState] = {}
        self._cursors: dict[str, tuple[int, int]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._market_task: asyncio.Task[None] | None = None
        self._handshakes = _HandshakeFaults()
        self._attempts: deque[float] = deque()
        self._dropped_kline_closes = 0
        self._started_ms = 0
        self._port = 0
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None
        self._start_error: BaseException | None = None

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeExchange:
        """Serve from a background thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("FakeExchange is already running")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="fake-binance", daemon=True
        )
        self._thread.start()
        ready.wait(30)
        if self._start_error is not None:
            self._thread.join(5)
            self._thread = None
            raise self._start_error
        if self._server is None:
            raise RuntimeError("FakeExchange did not start within 30 s")
        return self

    def stop(self) -> None:
        """Close every connection and the server, and end the background thread."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None or loop is None or stop_event is None:
            return
        loop.call_soon_threadsafe(stop_event.set)
        thread.join(30)
        self._thread = None

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeExchange:
        await self._astart()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._astop()

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve_in_thread(ready))
        except BaseException as exc:  # reported to start() in the caller thread
            self._start_error = self._start_error or exc
        finally:
            ready.set()

    async def _serve_in_thread(self, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        try:
            await self._astart()
        except BaseException as exc:
            self._start_error = exc
            return
        finally:
            ready.set()
        await self._stop_event.wait()
        await self._astop()

    async def _astart(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeExchange is already running")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        now = self.now_ms()
        self._started_ms = now
        self._market = _Market(
            self.symbols,
            self.seed,
            now,
            self.history_days,
            self.trade_rate,
            self.history_trade_rate,
        )
        self._rest = _RestApi(self, self._market)
        self._cursors = {s: self._cursor_at(s, now) for s in self.symbols}
        self._server = await serve(
            self._handle_ws,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            ping_interval=None,  # our own keepalive follows Binance's rules, not websockets'
            ping_timeout=None,
            close_timeout=self.close_timeout,
            compression=None,
            server_header=None,
            logger=_LOG,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._market_task = asyncio.create_task(self._market_loop())

    async def _astop(self) -> None:
        if self._server is None:
            return
        if self._market_task is not None:
            self._market_task.cancel()
            await asyncio.gather(self._market_task, return_exceptions=True)
        for conn in list(self._conns):
            conn.ws.transport.abort()
        self._server.close()
        await self._server.wait_closed()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._server = None

    # addresses and clock --------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeExchange is not running; call start() first")
        return self._port

    @property
    def rest_url(self) -> str:
        """Base URL for REST, e.g. http://127.0.0.1:PORT (Binance: https://api.binance.com)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL for streams, e.g. ws://127.0.0.1:PORT (Binance: wss://stream.binance.com:9443)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def history_start_ms(self) -> int:
        """Open time of the oldest kline the exchange has."""
        return self._require_market().origin_ms

    @property
    def started_ms(self) -> int:
        return self._started_ms

    def now_ms(self) -> int:
        """The exchange's clock in epoch milliseconds."""
        return int(self._clock())

    def _require_market(self) -> _Market:
        if self._market is None:
            raise RuntimeError("FakeExchange is not running; call start() first")
        return self._market

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn` on the exchange's loop, from any thread, and return its result."""
        loop = self._loop
        if loop is None or self._server is None:
            raise RuntimeError("FakeExchange is not running; call start() first")
        if threading.get_ident() == self._loop_thread:
            return fn(*args)
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(fn(*args))
            except BaseException as exc:  # handed to the calling thread
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(timeout=60)

    # inspection -----------------------------------------------------------------------------

    def stats(self) -> ExchangeStats:
        """What has happened so far: connections, disconnect reasons, REST use, last trade ids."""
        return self._call(self._stats_now)

    def _stats_now(self) -> ExchangeStats:
        c = self.counters
        assert self._rest is not None
        return ExchangeStats(
            connections_open=len(self._conns),
            connections_total=c.connections_total,
            handshakes_refused=c.handshakes_refused,
            disconnects=dict(c.disconnects),
            rest_requests=dict(c.rest_requests),
            rest_statuses=dict(c.rest_statuses),
            used_weight=self._rest.limiter.current(self.now_ms()),
            last_trade_id=dict(c.last_trade_id),
            messages_sent=c.messages_sent,
            control_messages=tuple(c.control_messages),
            subscriptions=tuple(tuple(conn.subs) for conn in self._conns),
        )

    def last_trade_id(self, symbol: str) -> int | None:
        """Id of the last trade of `symbol` the streams have published."""
        return self.stats().last_trade_id.get(symbol)

    def klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[list[Any]]:
        """The rows GET /api/v3/klines would return, without weight accounting."""

        def query() -> list[list[Any]]:
            market, now = self._require_market(), self.now_ms()
            opens = market.kline_opens(interval, start_ms, end_ms, limit, now)
            return [self._kline_row(symbol, interval, o, now, 1) for o in opens]

        return self._call(query)

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Every trade with start_ms <= time < end_ms (capped at now), in /api/v3/trades shape."""

        def query() -> list[dict[str, Any]]:
            market = self._require_market()
            end = min(end_ms, self.now_ms() + 1)
            spec = market.specs[symbol]
            found = market.trades_between(symbol, start_ms, end)
            return [_trade_record(spec, trades, i, 1) for trades, i in found]

        return self._call(query)

    def _kline_row(
        self, symbol: str, interval: str, open_ms: int, now: int, scale: int
    ) -> list[Any]:
        market = self._require_market()
        spec = market.specs[symbol]
        bar = market.kline(symbol, interval, open_ms, now)
        close_ms = interval_next(open_ms, interval) - 1
        return [
            open_ms * scale,
            spec.price_str(bar.open),
            spec.price_str(bar.high),
            spec.price_str(bar.low),
            spec.price_str(bar.close),
            spec.qty_str(bar.volume),
            _scaled_close(close_ms, scale),
            spec.quote_str(bar.quote),
            bar.count,
            spec.qty_str(bar.taker_volume),
            spec.quote_str(bar.taker_quote),
            "0",
        ]

    # faults ---------------------------------------------------------------------------------

    def drop(self) -> None:
        """Close every WebSocket connection abruptly: TCP goes away, no close frame."""
        self._call(self._drop_now)

    def _drop_now(self) -> None:
        for conn in list(self._conns):
            self._disconnect(conn, "drop", None)

    def stall(self, seconds: float | None = None) -> None:
        """Freeze every open connection: TCP stays up, but no data, pings or pongs flow.

        Lasts `seconds`, or until clear_stall()/clear_faults(). Events published meanwhile are
        lost to the stalled connections, so a client that rides out the stall sees a gap.
        """
        self._call(self._stall_now, seconds)

    def _stall_now(self, seconds: float | None) -> None:
        assert self._loop is not None
        for conn in self._conns:
            conn.stalled = True
            while not conn.queue.empty():
                conn.queue.get_nowait()
            # Not reading is what stops websockets from answering the client's pings.
            conn.ws.transport.pause_reading()
            if conn.unstall is not None:
                conn.unstall.cancel()
            conn.unstall = (
                None if seconds is None else self._loop.call_later(seconds, self._resume, conn)
            )

    def clear_stall(self) -> None:
        """End a stall started with stall()."""
        self._call(self._clear_stall_now)

    def _clear_stall_now(self) -> None:
        for conn in list(self._conns):
            self._resume(conn)

    def _resume(self, conn: _Conn) -> None:
        if not conn.stalled:
            return
        conn.stalled = False
        if conn.unstall is not None:
            conn.unstall.cancel()
            conn.unstall = None
        # The client could not answer pings sent before the stall; start the clock afresh.
        conn.pings.clear()
        conn.last_ping = asyncio.get_running_loop().time()
        if conn in self._conns:
            conn.ws.transport.resume_reading()

    def malformed(self, count: int = 1) -> None:
        """Send the next `count` stream events of every connection as invalid JSON."""
        self._call(self._for_conns, lambda conn: setattr(conn, "malformed_left", count))

    def duplicate(self, count: int = 1) -> None:
        """Send again, on every connection, the last `count` trade/aggTrade events it got."""

        def resend(conn: _Conn) -> None:
            for text in list(conn.recent_trades)[-count:]:
                self._enqueue(conn, text)

        self._call(self._for_conns, resend)

    def out_of_order(self, count: int = 1) -> None:
        """Hold back the next `count` trade events of every connection; send them after a newer one."""
        self._call(self._for_conns, lambda conn: setattr(conn, "hold_left", count))

    def _for_conns(self, action: Callable[[_Conn], None]) -> None:
        for conn in list(self._conns):
            action(conn)

    def rate_limit(self, retry_after: float = 5.0) -> None:
        """Answer REST requests with 429 and Retry-After for the next `retry_after` seconds."""

        def limit() -> None:
            assert self._rest is not None
            self._rest.limiter.forced_until = self.now_ms() + int(retry_after * 1000)

        self._call(limit)

    def ban(self, seconds: float = 120.0) -> None:
        """Answer REST requests with 418 (IP banned) and Retry-After for `seconds`."""

        def ban_now() -> None:
            assert self._rest is not None
            self._rest.limiter.banned_until = self.now_ms() + int(seconds * 1000)

        self._call(ban_now)

    def server_shutdown(self, grace: float = 1.0) -> None:
        """Send the serverShutdown event on every connection, then close them after `grace` s."""
        self._call(self._shutdown_now, grace)

    def _shutdown_now(self, grace: float) -> None:
        assert self._loop is not None
        event = {"e": "serverShutdown", "E": self.now_ms()}
        for conn in list(self._conns):
            payload = dict(event, E=event["E"] * (1000 if conn.micro else 1))
            text = _dumps(
                {"stream": "!serverShutdown", "data": payload} if conn.combined else payload
            )
            self._enqueue(conn, text)
            self._loop.call_later(
                grace, self._disconnect, conn, "server_shutdown", 1001, "Server shutdown"
            )

    def refuse_handshakes(
        self, seconds: float | None = None, count: int | None = None, status: int = 503
    ) -> None:
        """Reject new WebSocket handshakes with HTTP `status` for `seconds` or `count` attempts.

        With neither, refuse until clear_faults().
        """

        def refuse() -> None:
            assert self._loop is not None
            until = None if seconds is None else self._loop.time() + seconds
            self._handshakes = _HandshakeFaults(until, count, status, active=True)

        self._call(refuse)

    def drop_kline_close(self, count: int = 1) -> None:
        """Skip the next `count` closing (x=true) kline events, as when a socket drops at the edge."""

        def skip() -> None:
            self._dropped_kline_closes += count

        self._call(skip)

    def clear_faults(self) -> None:
        """Undo every injected fault: stalls, pending malformed/held events, REST limits, refusals."""

        def clear() -> None:
            assert self._rest is not None
            self._clear_stall_now()
            for conn in list(self._conns):
                conn.malformed_left = conn.hold_left = 0
                self._release_held(conn)
            self._rest.limiter.clear()
            self._handshakes = _HandshakeFaults()
            self._dropped_kline_closes = 0

        self._call(clear)

    def fault(self, kind: str, **options: Any) -> None:
        """Inject a fault by name (the admin endpoint's entry point), e.g. fault("stall", seconds=2)."""
        faults: dict[str, Callable[..., None]] = {
            "drop": self.drop,
            "stall": self.stall,
            "clear_stall": self.clear_stall,
            "malformed": self.malformed,
            "duplicate": self.duplicate,
            "out_of_order": self.out_of_order,
            "rate_limit": self.rate_limit,
            "ban": self.ban,
            "server_shutdown": self.server_shutdown,
            "refuse_handshakes": self.refuse_handshakes,
            "drop_kline_close": self.drop_kline_close,
            "clear": self.clear_faults,
        }
        if kind not in faults:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(faults)}")
        faults[kind](**options)

    # HTTP -----------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path.startswith("/_fake/"):
            return self._admin(request.method, path, query)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return self._ws_gate(request.path)
        if path.startswith("/api/"):
            assert self._rest is not None
            return self._rest.handle(request.method, path, query, request.headers)
        if path in ("/ws", "/stream") or path.startswith("/ws/"):
            return None  # websockets answers 426 Upgrade Required
        return _text_response(404, "Not Found")

    def _ws_gate(self, target: str) -> Response | None:
        assert self._loop is not None
        parsed = _parse_ws_target(target)
        if parsed is None:
            return _text_response(404, "Not Found")
        if isinstance(parsed, str):
            return _text_response(400, parsed)
        now = self._loop.time()
        self._attempts.append(now)
        while self._attempts and now - self._attempts[0] > 300:
            self._attempts.popleft()
        refused = None
        if len(self._attempts) > self.max_connection_attempts:
            refused = 429
        elif self._handshakes.refusing(now):
            refused = self._handshakes.refuse_status
        if refused is None:
            return None
        self.counters.handshakes_refused += 1
        return _text_response(refused, http.HTTPStatus(refused).phrase)

    def _admin(self, method: str, path: str, query: str) -> Response:
        if path == "/_fake/stats" and method == "GET":
            return _json_response(200, asdict(self._stats_now()))
        if method != "POST" or path not in ("/_fake/fault", "/_fake/clear"):
            return _text_response(404 if method in ("GET", "POST") else 405, "Not Found")
        params = dict(parse_qsl(query))
        kind = "clear" if path == "/_fake/clear" else params.pop("kind", "")
        try:
            self.fault(kind, **{k: _admin_value(k, v) for k, v in params.items()})
        except (TypeError, ValueError) as exc:
            return _json_response(400, {"error": str(exc)})
        return _json_response(200, {"ok": True, "kind": kind})

    # WebSocket connections --------------------------------------------------------------------

    async def _handle_ws(self, ws: ServerConnection) -> None:
        target = _parse_ws_target(ws.request.path if ws.request else "/ws")
        assert isinstance(target, _WsTarget)
        loop = asyncio.get_running_loop()
        conn = _Conn(ws, target.combined, target.micro, last_ping=loop.time())
        self._conns.add(conn)
        self.counters.connections_total += 1
        for stream in target.streams[: self.max_streams]:
            self._subscribe(conn, stream)
        helpers = [
            asyncio.create_task(self._sender(conn)),
            asyncio.create_task(self._keepalive(conn)),
        ]
        aging = loop.call_later(
            self.max_connection_age, self._disconnect, conn, "max_age", 1001, "Connection expired"
        )
        try:
            await self._read_controls(conn)
        finally:
            aging.cancel()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._forget(conn)

    async def _read_controls(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for message in conn.ws:
                now = loop.time()
                conn.incoming.append(now)
                while conn.incoming and now - conn.incoming[0] >= 1.0:
                    conn.incoming.popleft()
                if len(conn.incoming) > self.max_incoming_per_s:
                    self.counters.disconnects["message_rate"] += 1
                    await conn.ws.close(1008, "Too many messages")
                    return
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self.counters.control_messages.append(text[:1000])
                self._enqueue(conn, _dumps(self._control(conn, text)))
        except ConnectionClosed:
            return

    async def _sender(self, conn: _Conn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                await conn.ws.send(text)
                self.counters.messages_sent += 1
        except ConnectionClosed:
            return

    async def _keepalive(self, conn: _Conn) -> None:
        """Ping every ping_interval; drop the client if a ping goes unanswered for pong_timeout.

        Only pongs that echo one of our pings count; unsolicited pongs keep nothing alive.
        """
        loop = asyncio.get_running_loop()
        step = max(0.02, min(1.0, self.ping_interval / 4, self.pong_timeout / 4))
        try:
            while True:
                await asyncio.sleep(step)
                if conn.stalled or conn.closing:
                    continue
                now = loop.time()
                while conn.pings and conn.pings[0][1].done():
                    conn.pings.popleft()
                if conn.pings and now - conn.pings[0][0] > self.pong_timeout:
                    self._disconnect(conn, "pong_timeout", 1008, "Pong timeout")
                    return
                if now - conn.last_ping >= self.ping_interval:
                    conn.last_ping = now
                    conn.pings.append((now, await conn.ws.ping()))
        except ConnectionClosed:
            return

    def _disconnect(self, conn: _Conn, reason: str, code: int | None, text: str = "") -> None:
        """Close `conn` with a close frame, or abort the TCP connection when `code` is None."""
        if conn not in self._conns or conn.closing:
            return
        conn.closing = True
        self.counters.disconnects[reason] += 1
        if code is None:
            conn.ws.transport.abort()
            return
        if conn.stalled:
            conn.stalled = False
            conn.ws.transport.resume_reading()
        self._spawn(conn.ws.close(code, text))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        # Retrieve the outcome so asyncio does not report it on stderr at garbage collection.
        if not task.cancelled() and task.exception() is not None:
            _LOG.debug("background task failed", exc_info=task.exception())

    def _forget(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        if conn.unstall is not None:
            conn.unstall.cancel()
        for stream in list(conn.subs):
            self._unsubscribe(conn, stream)

    def _subscribe(self, conn: _Conn, stream: str) -> None:
        conn.subs[stream] = None
        self._subscribers.setdefault(stream, set()).add(conn)

    def _unsubscribe(self, conn: _Conn, stream: str) -> None:
        conn.subs.pop(stream, None)
        subscribers = self._subscribers.get(stream)
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[stream]
                self._kline_states.pop(stream, None)

    # control messages -----------------------------------------------------------------------

    def _control(self, conn: _Conn, text: str) -> dict[str, Any]:
        try:
            request = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}"
            return _ws_error(3, msg, None)
        if not isinstance(request, dict):
            return _ws_error(2, "Invalid request: expected a JSON object", None)
        request_id = request.get("id", ...)
        if request_id is ... or not _valid_request_id(request_id):
            return _ws_error(2, "Invalid request: request ID must be an unsigned integer", None)
        method = request.get("method")
        if method is None:
            return _ws_error(2, "Invalid request: missing field `method`", request_id)
        if method not in _WS_METHODS:
            expected = ", ".join(f"`{m}`" for m in _WS_METHODS)
            msg = f"Invalid request: unknown variant `{method}`, expected one of {expected}"
            return _ws_error(2, msg, request_id)
        params = request.get("params", [])
        if not isinstance(params, list):
            return _ws_error(2, "Invalid request: params must be an array", request_id)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return self._change_subscriptions(conn, method, params, request_id)
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.subs), "id": request_id}
        return self._property(conn, method, params, request_id)

    def _change_subscriptions(
        self, conn: _Conn, method: str, params: list[Any], request_id: Any
    ) -> dict[str, Any]:
        if not all(isinstance(s, str) and _STREAM_RE.fullmatch(s) for s in params):
            return _ws_error(2, "Invalid request: invalid stream", request_id)
        if method == "UNSUBSCRIBE":
            for stream in params:
                self._unsubscribe(conn, stream)
            return {"result": None, "id": request_id}
        if len(set(conn.subs) | set(params)) > self.max_streams:
            return _ws_error(2, "Invalid request: too many streams", request_id)
        for stream in params:
            self._subscribe(conn, stream)
        return {"result": None, "id": request_id}

    @staticmethod
    def _property(conn: _Conn, method: str, params: list[Any], request_id: Any) -> dict[str, Any]:
        arity = 2 if method == "SET_PROPERTY" else 1
        if len(params) > arity:
            return _ws_error(2, "Invalid request: too many parameters", request_id)
        if len(params) < arity or not isinstance(params[0], str):
            return _ws_error(2, "Invalid request: property name must be a string", request_id)
        if params[0] != "combined":
            return _ws_error(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": request_id}
        if not isinstance(params[1], bool):
            return _ws_error(1, "Invalid value type: expected Boolean", request_id)
        conn.combined = params[1]
        return {"result": None, "id": request_id}

    # publishing -----------------------------------------------------------------------------

    def _enqueue(self, conn: _Conn, text: str) -> None:
        if conn.stalled or conn.closing:
            return
        if conn.queue.qsize() >= _MAX_BACKLOG:
            self._disconnect(conn, "slow_consumer", None)
            return
        conn.queue.put_nowait(text)

    def _deliver(self, conn: _Conn, stream: str, text: str, trade_like: bool) -> None:
        """Queue one stream event for `conn`, applying whatever faults are armed on it."""
        if conn.stalled:
            return
        if conn.combined:
            text = f'{{"stream":{_dumps(stream)},"data":{text}}}'
        if conn.malformed_left > 0:
            conn.malformed_left -= 1
            text = text[: len(text) // 2]
        if not trade_like:
            self._enqueue(conn, text)
            return
        if conn.hold_left > 0:
            conn.hold_left -= 1
            conn.held.append(text)
            return
        conn.recent_trades.append(text)
        self._enqueue(conn, text)
        self._release_held(conn)

    def _release_held(self, conn: _Conn) -> None:
        if conn.hold_left == 0 and conn.held:
            held, conn.held = conn.held, []
            for text in held:
                conn.recent_trades.append(text)
                self._enqueue(conn, text)

    def _broadcast(
        self,
        stream: str,
        subscribers: set[_Conn] | None,
        build: Callable[[int], dict[str, Any]],
        trade_like: bool,
    ) -> None:
        if not subscribers:
            return
        texts: dict[bool, str] = {}
        for conn in list(subscribers):
            text = texts.get(conn.micro)
            if text is None:
                text = texts[conn.micro] = _dumps(build(1000 if conn.micro else 1))
            self._deliver(conn, stream, text, trade_like)

    async def _market_loop(self) -> None:
        while True:
            try:
                now = self.now_ms()
                for symbol in self.symbols:
                    self._publish_trades(symbol, now)
                self._publish_klines(now)
            except Exception:  # keep the market running; a test will notice the missing events
                _LOG.exception("fake exchange market loop failed")
            await asyncio.sleep(_MARKET_TICK_S)

    def _cursor_at(self, symbol: str, now: int) -> tuple[int, int]:
        minute = now // _MINUTE_MS
        trades = self._require_market().minute(symbol, minute)
        return minute, int(np.searchsorted(trades.agg_time, now, "right"))

    def _publish_trades(self, symbol: str, now: int) -> None:
        market = self._require_market()
        minute, index = self._cursors[symbol]
        lower = symbol.lower()
        trade_stream, agg_stream = f"{lower}@trade", f"{lower}@aggTrade"
        while minute * _MINUTE_MS <= now:
            trades = market.minute(symbol, minute)
            n = int(np.searchsorted(trades.agg_time, now, "right"))
            for i in range(index, n):
                self._publish_agg(symbol, trades, i, now, trade_stream, agg_stream)
            if n < len(trades.agg_time):
                index = n
                break
            minute, index = minute + 1, 0
        self._cursors[symbol] = (minute, index)

    def _publish_agg(
        self, symbol: str, trades: _Minute, i: int, now: int, trade_stream: str, agg_stream: str
    ) -> None:
        spec = self._require_market().specs[symbol]
        first, last = int(trades.agg_first[i]), int(trades.agg_last[i])
        self.counters.last_trade_id[symbol] = trades.first_trade_id + last
        trade_subs = self._subscribers.get(trade_stream)
        if trade_subs:
            price = spec.price_str(int(trades.agg_price[i]))
            for j in range(first, last + 1):
                self._broadcast(
                    trade_stream,
                    trade_subs,
                    _trade_event(symbol, spec, trades, j, now, price),
                    True,
                )
        agg_subs = self._subscribers.get(agg_stream)
        if agg_subs:

            def build(scale: int) -> dict[str, Any]:
                record = _agg_record(spec, trades, i, scale)
                return {"e": "aggTrade", "E": now * scale, "s": symbol, **record}

            self._broadcast(agg_stream, agg_subs, build, True)

    def _publish_klines(self, now: int) -> None:
        market = self._require_market()
        for stream, subscribers in list(self._subscribers.items()):
            match = _STREAM_RE.fullmatch(stream)
            interval = match.group("interval") if match else None
            symbol = match.group("symbol").upper() if match and match.group("symbol") else ""
            if interval is None or symbol not in market.specs:
                continue
            current = interval_floor(now, interval)
            state = self._kline_states.setdefault(stream, _KlineState(current, now))
            if state.open_ms < current:
                if self._dropped_kline_closes > 0:
                    self._dropped_kline_closes -= 1
                else:
                    self._push_kline(stream, subscribers, symbol, interval, state.open_ms, now)
                state.open_ms = current
            if now >= state.next_push:
                self._push_kline(stream, subscribers, symbol, interval, current, now)
                period = self.kline_push_interval / (2 if interval == "1s" else 1)
                state.next_push = now + max(1, int(period * 1000))

    def _push_kline(
        self,
        stream: str,
        subscribers: set[_Conn],
        symbol: str,
        interval: str,
        open_ms: int,
        now: int,
    ) -> None:
        market = self._require_market()
        spec = market.specs[symbol]
        bar = market.kline(symbol, interval, open_ms, now)
        close_ms = interval_next(open_ms, interval) - 1
        closed = now > close_ms

        def build(scale: int) -> dict[str, Any]:
            return {
                "e": "kline",
                "E": now * scale,
                "s": symbol,
                "k": {
                    "t": open_ms * scale,
                    "T": _scaled_close(close_ms, scale),
                    "s": symbol,
                    "i": interval,
                    "f": bar.first_id,
                    "L": bar.last_id,
                    "o": spec.price_str(bar.open),
                    "c": spec.price_str(bar.close),
                    "h": spec.price_str(bar.high),
                    "l": spec.price_str(bar.low),
                    "v": spec.qty_str(bar.volume),
                    "n": bar.count,
                    "x": closed,
                    "q": spec.quote_str(bar.quote),
                    "V": spec.qty_str(bar.taker_volume),
                    "Q": spec.quote_str(bar.taker_quote),
                    "B": "0",
                },
            }

        self._broadcast(stream, subscribers, build, False)


def _trade_event(
    symbol: str, spec: SymbolSpec, trades: _Minute, j: int, now: int, price: str
) -> Callable[[int], dict[str, Any]]:
    def build(scale: int) -> dict[str, Any]:
        return {
            "e": "trade",
            "E": now * scale,
            "s": symbol,
            "t": trades.first_trade_id + j,
            "p": price,
            "q": spec.qty_str(int(trades.qty[j])),
            "T": int(trades.time[j]) * scale,
            "m": bool(trades.maker[j]),
            "M": True,
        }

    return build


def _admin_value(name: str, raw: str) -> Any:
    if name in ("count", "status"):
        return int(raw)
    if name in ("seconds", "grace", "retry_after"):
        return float(raw)
    raise ValueError(f"unknown fault option {name!r}")


# --------------------------------------------------------------------------- script mode


def main(argv: list[str] | None = None) -> int:
    """Serve a fake exchange until Ctrl-C, after printing its REST and WebSocket base URLs."""
    parser = argparse.ArgumentParser(
        prog="python tests/fakes/fake_exchange.py",
        description="Fake Binance Spot market data (REST + WebSocket) on one local port.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS))
    parser.add_argument("--trade-rate", type=float, default=20.0, help="live trades/s per symbol")
    parser.add_argument("--history-days", type=int, default=30)
    args = parser.parse_args(argv)
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    exchange = FakeExchange(
        symbols,
        seed=args.seed,
        host=args.host,
        port=args.port,
        trade_rate=args.trade_rate,
        history_days=args.history_days,
    )
    exchange.start()
    print(exchange.rest_url, flush=True)
    print(exchange.ws_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        exchange.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
