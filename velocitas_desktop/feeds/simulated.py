"""The default feed: a seeded random walk with regime changes per coin, offline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from velocitas_desktop.feeds.base import Feed, FeedState, TickBatch

# Realistic starting levels (USDT) and daily volatility per coin; others get a generic level.
PRICE_LEVELS: dict[str, float] = {
    "BTC": 65000.0, "ETH": 3200.0, "SOL": 150.0, "BNB": 580.0, "XRP": 0.55, "ADA": 0.45,
    "DOGE": 0.14, "AVAX": 32.0, "DOT": 6.5, "LINK": 14.0, "LTC": 75.0, "TRX": 0.12,
}
DEFAULT_LEVEL = 10.0

# Regimes: (drift per tick, volatility per tick) in log terms; a Markov chain switches them.
REGIMES = np.array([
    (0.0, 1.0e-4),      # range
    (2.0e-6, 1.2e-4),   # uptrend
    (-2.0e-6, 1.2e-4),  # downtrend
    (0.0, 3.0e-4),      # volatile
])
MEAN_REGIME_TICKS = 5000
MAX_CHUNK = 4096
DATA_STEP = 0.01  # seconds of data time between ticks when running at maximum speed


class SimulatedFeed(Feed):
    """Ticks for ``coins`` in round-robin order; ``rate`` ticks/s in total, or None for max.

    The same ``seed`` gives the same prices. At maximum speed the timestamps advance by
    ``DATA_STEP`` per tick from ``start_time``; when paced they are the wall clock.
    """

    name = "simulated"
    replay = True  # it may wait on a full queue: nothing is lost by waiting

    def __init__(self, coins: list[str], rate: float | None = None, seed: int = 0,
                 max_ticks: int | None = None, start_time: float | None = None) -> None:
        super().__init__(coins)
        if rate is not None and not rate > 0:
            raise ValueError("the tick rate must be positive")
        self.rate = rate
        self.seed = seed
        self.max_ticks = max_ticks
        self.start_time = time.time() if start_time is None else start_time
        self._rng = np.random.default_rng(seed)
        n = len(coins)
        self._log_price = np.log([PRICE_LEVELS.get(c, DEFAULT_LEVEL) for c in coins])
        self._regime = self._rng.integers(0, len(REGIMES), size=n)
        self._coin_ids = np.arange(MAX_CHUNK, dtype=np.int16) % max(n, 1)
        self.produced = 0
        self._generated = 0  # ticks drawn so far, whether handed out yet or not
        self._ready_ids = np.empty(0, dtype=np.int16)
        self._ready_prices = np.empty(0)

    def _chunk(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` ticks: coin ids and prices. They are drawn in fixed blocks, so the same
        seed gives the same prices however the ticks are paced into batches."""
        if size == MAX_CHUNK and not self._ready_prices.size:
            return self._block()
        if self._ready_prices.size < size:
            blocks = [(self._ready_ids, self._ready_prices)]
            missing = size - self._ready_prices.size
            blocks.extend(self._block() for _ in range(-(-missing // MAX_CHUNK)))
            self._ready_ids = np.concatenate([ids for ids, _ in blocks])
            self._ready_prices = np.concatenate([prices for _, prices in blocks])
        ids, prices = self._ready_ids[:size], self._ready_prices[:size]
        self._ready_ids, self._ready_prices = self._ready_ids[size:], self._ready_prices[size:]
        return ids, prices

    def _block(self, size: int = MAX_CHUNK) -> tuple[np.ndarray, np.ndarray]:
        """The next ``size`` ticks of the walk: coin ids and prices, continuing each coin."""
        n = len(self.coins)
        offset = self._generated % n
        self._generated += size
        coin_ids = ((np.arange(size) + offset) % n).astype(np.int16)
        prices = np.empty(size)
        for c in range(n):
            where = np.flatnonzero(coin_ids == c)
            if where.size == 0:
                continue
            drift, vol = self._regimes_for(c, where.size)
            steps = drift + vol * self._rng.standard_normal(where.size)
            path = self._log_price[c] + np.cumsum(steps)
            self._log_price[c] = path[-1]
            prices[where] = np.exp(path)
        return coin_ids, prices

    def _regimes_for(self, coin: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-tick drift and volatility for ``count`` ticks of one coin, switching regimes."""
        switches = self._rng.random(count) < 1.0 / MEAN_REGIME_TICKS
        regime = np.full(count, self._regime[coin])
        if switches.any():
            picks = self._rng.integers(0, len(REGIMES), size=int(switches.sum()))
            marks = np.zeros(count, dtype=np.int64)
            marks[switches] = np.arange(1, picks.size + 1)
            marks = np.maximum.accumulate(marks)
            choices = np.concatenate(([self._regime[coin]], picks))
            regime = choices[marks]
            self._regime[coin] = regime[-1]
        return REGIMES[regime, 0], REGIMES[regime, 1]

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
            coin_ids, prices = self._chunk(size)
            stamps = self.start_time + (self.produced + np.arange(size)) * DATA_STEP
            self.produced += size
            yield TickBatch(coin_ids, prices, stamps, time.perf_counter())

    def _stream_paced(self, stop: threading.Event) -> Iterator[TickBatch]:
        # Emit every millisecond whatever is due, so a tick waits at most ~1 ms in the feed.
        began = time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - began) * self.rate) - self.produced
            size = self._remaining(min(due, MAX_CHUNK))
            if self.max_ticks is not None and self.produced >= self.max_ticks:
                return
            if size <= 0:
                time.sleep(0.0005)
                continue
            coin_ids, prices = self._chunk(size)
            self.produced += size
            now = time.time()
            yield TickBatch(coin_ids, prices, np.full(size, now), time.perf_counter())
