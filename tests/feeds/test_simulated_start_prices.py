"""A simulated market that goes on: given each coin's last price, it starts there."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas_desktop.feeds.simulated import SimulatedFeed

START = 1_704_067_200.0


def first_prices(feed: SimulatedFeed) -> dict[str, float]:
    coin_ids, prices, _ = feed.take(2_000)
    return {coin: float(prices[np.flatnonzero(coin_ids == i)[0]])
            for i, coin in enumerate(feed.coins)}


def test_a_market_given_start_prices_opens_at_them_and_others_at_their_usual_level():
    usual = first_prices(SimulatedFeed(["BTC", "ETH"], seed=5, start_time=START))
    going_on = first_prices(SimulatedFeed(["BTC", "ETH"], seed=5, start_time=START,
                                          start_prices={"BTC": 41_250.0}))
    # the first tick is a few seconds of data in: within a fraction of a percent
    assert going_on["BTC"] == pytest.approx(41_250.0, rel=0.003)
    assert going_on["ETH"] == pytest.approx(usual["ETH"], rel=1e-9)
    assert usual["BTC"] == pytest.approx(65_000.0, rel=0.01)
