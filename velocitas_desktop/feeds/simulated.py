"""The default feed: ticks of a simulated market (feeds/market_model.py), seeded and offline."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping

import numpy as np

from velocitas_desktop.feeds.base import Feed, FeedState, TickBatch
from velocitas_desktop.feeds.market_model import (
    DAY,
    HOUR,
    MINUTE_EDGES,
    Hour,
    Market,
    seeded_generators,
)

MAX_CHUNK = 4096
# Ticks per second of data time, in total, at maximum speed: a data day is 8.6 million ticks,
# so an engine doing ~300,000 ticks/s (bench/pipeline.py) runs a day in about 30 s.
MAX_SPEED_DENSITY = 100.0
# Where the clock of a seeded run begins (2024-01-01T00:00:00Z), so the same seed gives the
# same ticks at the same times; an unseeded run at maximum speed begins RECENT_PAST ago.
SEEDED_START = 1_704_067_200.0
RECENT_PAST = 2 * DAY


def session_start(seed: int | None, paced: bool, now: float) -> float | None:
    """Where a simulated session's data clock begins when none is asked for: SEEDED_START for
    a seeded run; for an unseeded one at maximum speed, RECENT_PAST before ``now`` (its clock
    runs ahead of the wall clock); None for an unseeded paced one, whose clock is the wall
    clock."""
    if seed is not None:
        return SEEDED_START
    return None if paced else now - RECENT_PAST


class SimulatedFeed(Feed):
    """Ticks for ``coins``, about ``rate`` per second in total, or as fast as possible (None).

    The market is defined in data time (one :class:`Market` hour after another) and ticks
    sample it: in each hour, each coin's log price is a Brownian bridge from where it stands
    to the hour's close, and its ticks arrive at its activity's rate, busier in busy minutes.
    Paced, the data clock runs at real time from ``start_time``; None starts it when the first
    tick is drawn, so a paced feed's stamps are the wall clock. At maximum speed ``density``
    ticks (default MAX_SPEED_DENSITY) make a second of data time. The same ``seed`` and start
    give the same market at any rate, and the same ticks at the same rate. ``start_prices``
    (coin → price) starts those coins there instead of at their usual level: a session that
    goes on continues from its last prices.
    """

    name = "simulated"
    replay = True  # it may wait on a full queue: nothing is lost by waiting

    def __init__(self, coins: list[str], rate: float | None = None, seed: int = 0,
                 max_ticks: int | None = None, start_time: float | None = None,
                 density: float | None = None,
                 start_prices: Mapping[str, float] | None = None) -> None:
        super().__init__(coins)
        for name, value in (("tick rate", rate), ("tick density", density)):
            if value is not None and not value > 0:
                raise ValueError(f"the {name} must be positive")
        self.rate = rate
        self.density = rate if rate is not None else density or MAX_SPEED_DENSITY
        self.seed = seed
        self.max_ticks = max_ticks
        self.start_time = start_time
        self.start_prices = dict(start_prices or {})  # a continued session's last prices
        self._market_rng, self._rng = seeded_generators(seed)
        self._market: Market | None = None  # made with the first tick, when the start is known
        self.produced = 0
        self._ready = (np.empty(0, dtype=np.int16), np.empty(0), np.empty(0))

    @property
    def market(self) -> Market:
        """The market the ticks sample (its clock starts at ``start_time``, or now)."""
        if self._market is None:
            if self.start_time is None:
                self.start_time = time.time()
            self._market = Market(self.coins, self._market_rng, self.start_time,
                                  prices=self.start_prices)
            self._enter(self._market.next_hour())
        return self._market

    # --- ticks inside an hour ----------------------------------------------------------------

    def _enter(self, hour: Hour) -> None:
        """Start sampling ``hour``: every coin stands at its open, at the hour's first tick."""
        self._hour = hour
        self._tau = hour.begins               # business time of the last tick, 0 to 1
        self._factor = 0.0                    # the market's Brownian motion at that tick
        self._coin_tau = np.full(len(self.coins), hour.begins)
        self._coin_log = hour.open.copy()
        self._coin_factor = np.zeros(len(self.coins))
        # a coin's ticks arrive at density / coins x its activity per second, on average
        per_hour = self.density / len(self.coins) * HOUR * hour.activity
        self._expected = float(per_hour.sum())  # ticks in one unit of business time
        self._shares = np.cumsum(per_hour)[:-1] / self._expected

    def _block(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next MAX_CHUNK ticks (coin ids, prices, times), across hours as needed."""
        market = self.market
        parts = []
        need = MAX_CHUNK
        while need:
            part = self._segment(need)
            if part is not None:
                parts.append(part)
                need -= part[0].size
            if need:
                self._enter(market.next_hour())
        return parts[0] if len(parts) == 1 else self._joined(parts)

    def _segment(self, need: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Up to ``need`` ticks of the current hour, fewer when the hour ends first."""
        rng, hour, coins = self._rng, self._hour, len(self.coins)
        # arrivals are even in business time; the minute clock spreads them over the hour
        gaps = rng.standard_exponential(need)
        gaps *= 1.0 / self._expected
        taus = self._tau + np.cumsum(gaps)
        count = int(np.searchsorted(taus, 1.0))
        if count == 0:
            return None
        taus, gaps = taus[:count], gaps[:count]
        normals = rng.standard_normal(2 * count + coins + 1)
        factor = self._factor + np.cumsum(np.sqrt(gaps) * normals[:count])
        own, own_end = normals[count:2 * count], normals[2 * count:]
        factor_end = factor[-1] + math.sqrt(1.0 - taus[-1]) * own_end[coins]
        if coins == 1:
            ids = np.zeros(count, dtype=np.int16)
            log_prices = self._bridge(0, taus, factor, factor_end, own, own_end[0])
        else:
            ids = np.searchsorted(self._shares, rng.random(count), side="right").astype(np.int16)
            log_prices = np.empty(count)
            for coin in range(coins):
                where = np.flatnonzero(ids == coin)
                if where.size:
                    log_prices[where] = self._bridge(coin, taus[where], factor[where],
                                                     factor_end, own[where], own_end[coin])
        self._tau, self._factor = float(taus[-1]), float(factor[-1])
        stamps = hour.start + np.interp(taus, hour.clock, MINUTE_EDGES)
        return ids, np.exp(log_prices), stamps

    def _bridge(self, coin: int, taus: np.ndarray, factor: np.ndarray, factor_end: float,
                own: np.ndarray, own_end: float) -> np.ndarray:
        """``coin``'s log prices at ``taus``: a Brownian bridge from its last tick to the
        hour's close, driven by the market's motion (its loading) and its own."""
        hour = self._hour
        loading = self.market.loading[coin]
        rest = math.sqrt(1.0 - loading * loading)
        tau0, log0, factor0 = self._coin_tau[coin], self._coin_log[coin], self._coin_factor[coin]
        gaps = np.empty_like(taus)
        gaps[0] = taus[0] - tau0
        np.subtract(taus[1:], taus[:-1], out=gaps[1:])
        own_path = np.cumsum(np.sqrt(gaps, out=gaps) * own)
        motion = loading * (factor - factor0) + rest * own_path
        motion_end = (loading * (factor_end - factor0)
                      + rest * (own_path[-1] + math.sqrt(1.0 - taus[-1]) * own_end))
        share = (taus - tau0) / (1.0 - tau0)
        target = hour.close[coin] - log0
        path = log0 + hour.scale[coin] * (motion - share * motion_end) + share * target
        self._coin_tau[coin], self._coin_log[coin] = taus[-1], path[-1]
        self._coin_factor[coin] = factor[-1]
        return path

    # --- handing ticks out -------------------------------------------------------------------

    def take(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next ``size`` ticks (coin ids, prices, times), unpaced. They are drawn in fixed
        blocks, so the same seed gives the same ticks however they are handed out."""
        if self._ready[0].size < size:
            blocks = [self._ready]
            missing = size - self._ready[0].size
            blocks.extend(self._block() for _ in range(-(-missing // MAX_CHUNK)))
            self._ready = self._joined(blocks)
        ready = self._ready
        self._ready = (ready[0][size:], ready[1][size:], ready[2][size:])
        return ready[0][:size], ready[1][:size], ready[2][:size]

    def _due(self, data_time: float) -> int:
        """How many ticks have a time up to ``data_time`` (drawing blocks as needed)."""
        blocks = [self._ready]
        while not blocks[-1][2].size or blocks[-1][2][-1] <= data_time:
            blocks.append(self._block())
        if len(blocks) > 1:
            self._ready = self._joined(blocks)
        return int(np.searchsorted(self._ready[2], data_time, side="right"))

    @staticmethod
    def _joined(blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids, prices, stamps = zip(*blocks, strict=True)
        return np.concatenate(ids), np.concatenate(prices), np.concatenate(stamps)

    def stream(self, stop: threading.Event) -> Iterator[TickBatch]:
        self.on_status(FeedState.LIVE, f"simulated prices for {', '.join(self.coins)}")
        if self.rate is None:
            yield from self._stream_max(stop)
        else:
            yield from self._stream_paced(stop)
        if self.max_ticks is not None and self.produced >= self.max_ticks:
            self.on_status(FeedState.FINISHED, "simulation reached its tick limit")

    def _remaining(self, wanted: int) -> int:
        if self.max_ticks is None:
            return wanted
        return max(0, min(wanted, self.max_ticks - self.produced))

    def _stream_max(self, stop: threading.Event) -> Iterator[TickBatch]:
        while not stop.is_set():
            size = self._remaining(MAX_CHUNK)
            if size == 0:
                return
            coin_ids, prices, stamps = self.take(size)
            self.produced += size
            yield TickBatch(coin_ids, prices, stamps, time.perf_counter())

    def _stream_paced(self, stop: threading.Event) -> Iterator[TickBatch]:
        # The data clock runs at real time from the market's start. Emit every millisecond
        # whatever is due, so a tick waits at most ~1 ms in the feed.
        start = self.market.start
        began = time.perf_counter()
        while not stop.is_set():
            if self.max_ticks is not None and self.produced >= self.max_ticks:
                return
            due = self._due(start + time.perf_counter() - began)
            size = self._remaining(min(due, MAX_CHUNK))
            if size <= 0:
                time.sleep(0.0005)
                continue
            coin_ids, prices, stamps = self.take(size)
            self.produced += size
            yield TickBatch(coin_ids, prices, stamps, time.perf_counter())
