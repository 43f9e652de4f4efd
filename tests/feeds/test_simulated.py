"""Specification of the simulated feed: ticks that sample the simulated market in data time,
seeded, paced or flat out, dated sensibly, with a volume that varies like real trading."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support import drain, prices_of

from velocitas_desktop.feeds.calibration import simulated_bars
from velocitas_desktop.feeds.market_model import HOUR, MarketParams
from velocitas_desktop.feeds.simulated import (
    MAX_SPEED_DENSITY,
    RECENT_PAST,
    SEEDED_START,
    SimulatedFeed,
    session_start,
)

MINUTE = 60.0


def ticks(coins: list[str], seed: int, count: int, density: float | None = None,
          start: float = SEEDED_START) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` ticks at maximum speed: coin ids, prices, times."""
    return SimulatedFeed(coins, seed=seed, start_time=start, density=density).take(count)


def last_price_in_each(period: float, stamps: np.ndarray, prices: np.ndarray,
                       start: float = SEEDED_START) -> np.ndarray:
    """The last price of each ``period`` seconds from ``start`` (NaN where none traded)."""
    slot = ((stamps - start) // period).astype(int)
    last = np.full(slot.max() + 1, np.nan)
    last[slot] = prices  # later ticks overwrite earlier ones
    return last


def test_same_seed_gives_the_same_ticks_and_another_seed_other_prices() -> None:
    first, again, other = (ticks(["BTC", "ETH", "SOL"], seed, 30_000) for seed in (42, 42, 43))
    for mine, same in zip(first, again, strict=True):
        np.testing.assert_array_equal(mine, same)
    assert first[1].shape == other[1].shape == (30_000,)
    assert np.mean(first[1] != other[1]) > 0.99


def test_paced_or_at_maximum_speed_the_same_seed_and_density_give_the_same_ticks() -> None:
    paced = drain(SimulatedFeed(["BTC", "ETH"], rate=20_000, seed=5, max_ticks=2_000,
                                start_time=SEEDED_START))
    fast = drain(SimulatedFeed(["BTC", "ETH"], rate=None, seed=5, max_ticks=2_000,
                               start_time=SEEDED_START, density=20_000))
    np.testing.assert_array_equal(prices_of(paced), prices_of(fast))
    np.testing.assert_array_equal(np.concatenate([b.timestamps for b in paced]),
                                  np.concatenate([b.timestamps for b in fast]))


def test_the_tick_rate_does_not_change_the_market() -> None:
    # three days of BTC and ETH sampled at 1 and at 20 ticks a second: the same hourly closes
    # (up to where the hour's last tick falls), so the same daily statistics
    days = 3
    sparse = ticks(["BTC", "ETH"], 11, int(days * 86_400 * 1), density=1)
    dense = ticks(["BTC", "ETH"], 11, int(days * 86_400 * 20), density=20)
    _, market, _, _ = simulated_bars(["BTC", "ETH"], 11, SEEDED_START, days * 24 * 2)
    for coin in (0, 1):
        hourly = [np.log(last_price_in_each(HOUR, stamps[ids == coin], prices[ids == coin]))
                  for ids, prices, stamps in (sparse, dense)]
        hours = min(h.size for h in hourly) - 1  # the last hour may be cut short
        assert hours > 24
        # an hour's last tick is seconds before its close: within a few hundredths of a %
        for closes in hourly:
            np.testing.assert_allclose(closes[:hours], np.log(market[:hours, coin]), atol=0.003)
        returns = [np.diff(closes[:hours]) for closes in hourly]
        assert np.std(returns[0]) == pytest.approx(np.std(returns[1]), rel=0.05)


def test_a_minute_moves_btc_about_a_tenth_of_a_percent_at_any_tick_rate() -> None:
    # the old feed's volatility was per tick: at 1000 ticks/s BTC moved ~0.3% a second
    hourly = MarketParams().hourly_vol
    for density in (20, 500):
        _, prices, stamps = ticks(["BTC"], 3, int(density * 6 * HOUR), density=density)
        minutes = np.diff(np.log(last_price_in_each(MINUTE, stamps, prices)))
        minutes = minutes[np.isfinite(minutes)]
        assert minutes.std() == pytest.approx(hourly / np.sqrt(60), rel=0.5), density
        # five seconds never span 1%, as they could in the old feed
        five = np.log(last_price_in_each(5.0, stamps, prices))
        assert np.nanmax(np.abs(np.diff(five))) < 0.005


def test_btc_and_eth_ticks_move_together_minute_by_minute() -> None:
    ids, prices, stamps = ticks(["BTC", "ETH"], 8, int(20 * 12 * HOUR), density=20)
    minutes = np.array([np.diff(np.log(last_price_in_each(MINUTE, stamps[ids == c],
                                                          prices[ids == c])))
                        for c in (0, 1)])
    both = np.isfinite(minutes).all(axis=0)
    # one market factor: BTC's loading 0.893 times ETH's 0.922
    assert np.corrcoef(minutes[:, both])[0, 1] == pytest.approx(0.823, abs=0.06)


# Levels a trader recognises: BTC in the tens of thousands, ETH in the thousands, and so on.
LEVELS = {"BTC": (10_000, 100_000), "ETH": (1_000, 10_000), "SOL": (10, 1_000),
          "BNB": (100, 2_000), "XRP": (0.01, 10), "DOGE": (0.01, 10)}


def test_each_coin_trades_at_a_realistic_price_level() -> None:
    coins = list(LEVELS)
    ids, prices, _ = ticks(coins, 7, 60_000)
    for index, coin in enumerate(coins):
        own = prices[ids == index]
        low, high = LEVELS[coin]
        assert own.size > 60_000 / len(coins) / 3, coin  # every coin trades
        assert low < own.min() and own.max() < high, (coin, own.min(), own.max())


def test_volume_varies_from_candle_to_candle_and_follows_the_markets_activity() -> None:
    density = 5.0
    ids, _, stamps = ticks(["BTC", "ETH"], 4, int(density * 4 * 86_400), density=density)
    btc = stamps[ids == 0]
    per_minute = np.bincount(((btc - SEEDED_START) // MINUTE).astype(int))
    # not a uniform block: one-minute volumes spread like real ones
    assert per_minute.std() / per_minute.mean() > 0.5
    per_hour = np.bincount(((btc - SEEDED_START) // HOUR).astype(int))
    hours = per_hour.size - 1
    _, _, activity, _ = simulated_bars(["BTC", "ETH"], 4, SEEDED_START, hours)
    expected = density / 2 * HOUR * activity[:, 0]
    assert np.corrcoef(per_hour[:hours], expected)[0, 1] > 0.97
    assert per_hour[:hours].sum() == pytest.approx(expected.sum(), rel=0.02)


def test_at_maximum_speed_the_data_clock_runs_from_the_start_time_at_the_density() -> None:
    batches = drain(SimulatedFeed(["BTC", "ETH"], seed=1, max_ticks=50_000,
                                  start_time=SEEDED_START))
    stamps = np.concatenate([b.timestamps for b in batches])
    assert SEEDED_START <= stamps[0] < SEEDED_START + 1
    assert np.all(np.diff(stamps) >= 0)
    # 50,000 ticks at 100 a second of data time: about 500 s, more or less with the activity
    assert 50 < stamps[-1] - SEEDED_START < 5_000
    assert MAX_SPEED_DENSITY == 100


def test_the_tick_limit_is_exact_at_maximum_speed_and_when_paced() -> None:
    fast = drain(SimulatedFeed(["BTC", "ETH", "SOL"], seed=1, max_ticks=10_001))
    assert sum(len(b) for b in fast) == 10_001
    paced = drain(SimulatedFeed(["BTC"], rate=20_000, seed=1, max_ticks=777))
    assert sum(len(b) for b in paced) == 777


def test_a_paced_feed_runs_its_data_clock_at_real_time() -> None:
    rate = 2_000.0
    feed = SimulatedFeed(["BTC", "ETH"], rate=rate, seed=3)
    time.sleep(0.3)  # an engine may take a while to start streaming (worker processes)
    stop = threading.Event()
    began = time.time()
    produced = 0
    first = None
    for batch in feed.stream(stop):
        first = batch.timestamps[0] if first is None else first
        produced += len(batch)
        # no tick is released before its time (1 ms of slack for the loop)
        assert batch.timestamps[-1] <= time.time() + 0.001
        if time.time() - began >= 0.5:
            stop.set()
    # paced and unseeded, the data clock is the wall clock from the first tick on
    assert began <= first
    assert time.time() - 0.2 <= batch.timestamps[-1] <= time.time()
    # the rate is an average: this hour's activity may halve or double it
    elapsed = time.time() - began
    assert 0.05 * rate * elapsed < produced < 20 * rate * elapsed


def test_bad_rates_are_refused() -> None:
    for keyword in ("rate", "density"):
        with pytest.raises(ValueError, match="must be positive"):
            SimulatedFeed(["BTC"], **{keyword: 0.0})


def test_seeded_runs_begin_on_2024_01_01_and_unseeded_ones_in_the_recent_past() -> None:
    now = 1_800_000_000.0
    assert SEEDED_START == 1_704_067_200.0  # 2024-01-01T00:00:00Z
    for paced in (True, False):
        assert session_start(7, paced, now) == SEEDED_START
    # at maximum speed the clock runs ahead: begin two days back, not in the future
    assert session_start(None, False, now) == now - RECENT_PAST == now - 2 * 86_400
    assert session_start(None, True, now) is None  # paced: the wall clock
