"""Specification of the simulated feed: seeded, paced or flat out, at realistic price levels."""

from __future__ import annotations

import threading
import time

import numpy as np
from support import drain, prices_of

from velocitas_desktop.feeds.simulated import SimulatedFeed


def test_same_seed_gives_the_same_prices_and_another_seed_other_prices() -> None:
    def walk(seed: int) -> np.ndarray:
        return prices_of(drain(SimulatedFeed(["BTC", "ETH", "SOL"], seed=seed, max_ticks=30_000,
                                             start_time=0.0)))

    first, again, other = walk(42), walk(42), walk(43)
    np.testing.assert_array_equal(first, again)
    assert first.shape == other.shape == (30_000,)
    assert np.mean(first != other) > 0.99


def test_the_same_seed_gives_the_same_prices_whether_paced_or_at_maximum_speed() -> None:
    paced = SimulatedFeed(["BTC", "ETH"], rate=20_000, seed=5, max_ticks=2_000)
    fast = SimulatedFeed(["BTC", "ETH"], rate=None, seed=5, max_ticks=2_000)
    np.testing.assert_array_equal(prices_of(drain(paced)), prices_of(drain(fast)))


# Levels a trader recognises: BTC in the tens of thousands, ETH in the thousands, and so on.
LEVELS = {"BTC": (10_000, 100_000), "ETH": (1_000, 10_000), "SOL": (10, 1_000),
          "BNB": (100, 2_000), "XRP": (0.01, 10), "DOGE": (0.01, 10)}


def test_each_coin_trades_at_a_realistic_price_level() -> None:
    coins = list(LEVELS)
    batches = drain(SimulatedFeed(coins, seed=7, max_ticks=60_000, start_time=0.0))
    ids = np.concatenate([b.coin_ids for b in batches])
    prices = prices_of(batches)
    for index, coin in enumerate(coins):
        own = prices[ids == index]
        low, high = LEVELS[coin]
        assert own.size == 10_000, coin  # round-robin: every coin gets its share
        assert low < own.min() and own.max() < high, (coin, own.min(), own.max())


def test_the_walk_switches_between_quiet_and_volatile_regimes() -> None:
    prices = prices_of(drain(SimulatedFeed(["BTC"], seed=11, max_ticks=200_000, start_time=0.0)))
    returns = np.diff(np.log(prices))
    # the volatility of each window of 2,000 ticks: a single regime would give one level
    window_vol = returns[: returns.size // 2000 * 2000].reshape(-1, 2000).std(axis=1)
    assert window_vol.min() < 1.5e-4
    assert window_vol.max() > 2.5e-4
    assert window_vol.max() / window_vol.min() > 2


def test_at_maximum_speed_timestamps_advance_from_the_start_time() -> None:
    batches = drain(SimulatedFeed(["BTC", "ETH"], seed=1, max_ticks=5_000, start_time=1000.0))
    stamps = np.concatenate([b.timestamps for b in batches])
    assert stamps[0] == 1000.0
    assert np.all(np.diff(stamps) > 0)


def test_the_tick_limit_is_exact_at_maximum_speed_and_when_paced() -> None:
    fast = drain(SimulatedFeed(["BTC", "ETH", "SOL"], seed=1, max_ticks=10_001))
    assert sum(len(b) for b in fast) == 10_001
    paced = drain(SimulatedFeed(["BTC"], rate=20_000, seed=1, max_ticks=777))
    assert sum(len(b) for b in paced) == 777


def test_a_paced_feed_roughly_honours_its_rate() -> None:
    rate = 2_000.0
    feed = SimulatedFeed(["BTC", "ETH"], rate=rate, seed=3)
    stop = threading.Event()
    began = time.time()
    produced = 0
    for batch in feed.stream(stop):
        produced += len(batch)
        if time.time() - began >= 0.5:
            stop.set()
    elapsed = time.time() - began
    # never ahead of the clock (one 1 ms slice of slack); loosely on time even on a busy machine
    assert produced <= rate * elapsed + 10
    assert produced >= 0.5 * rate * elapsed
    # paced ticks carry the wall-clock time
    assert began - 1 <= batch.timestamps[0] <= time.time() + 1
