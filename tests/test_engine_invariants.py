"""Invariants of the live pipeline that no tuning may break: fills happen at the feed's own
prices, and the trades do not depend on how ticks were batched or where strategies ran."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from support import INLINE_AND_WORKERS

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds.csvdata import load_ohlcv, write_ohlcv_csv
from velocitas_desktop.feeds.simulated import SimulatedFeed
from velocitas_desktop.paths import sample_data_dir

COINS = ["BTC", "ETH"]


def run_engine(config: EngineConfig, params: dict | None = None) -> list[dict]:
    trades: list[dict] = []
    engine = Engine(restore=False)
    engine.subscribe(lambda e: trades.extend(e.data) if e.kind == "trades" else None)
    for coin in config.coins:
        for name in engine.catalog.names():
            engine.register(StrategySpec(name, coin, (params or {}).get(name, {})))
    engine.start(config)
    assert engine.wait(120), "the run did not end"
    engine.close()
    return trades


def feed_prices(seed: int, ticks: int) -> dict[tuple[int, float], float]:
    feed = SimulatedFeed(COINS, seed=seed, max_ticks=ticks, start_time=0.0)
    prices = {}
    for batch in feed.stream(threading.Event()):
        for coin, price, stamp in zip(batch.coin_ids.tolist(), batch.prices.tolist(),
                                      batch.timestamps.tolist(), strict=True):
            prices[(coin, stamp)] = price
    return prices


@pytest.mark.parametrize("workers", INLINE_AND_WORKERS)
def test_every_fill_is_at_the_feeds_price_at_its_time(workers: int) -> None:
    config = EngineConfig(coins=COINS, rate=None, max_ticks=60_000, seed=11, start_time=0.0,
                          workers=workers, fee=0.0)
    trades = run_engine(config)
    prices = feed_prices(11, 60_000)
    assert len(trades) > 1000
    for trade in trades:
        coin = COINS.index(trade["coin"])
        assert trade["price"] == prices[(coin, trade["timestamp"])], trade


@pytest.mark.slow
def test_trades_do_not_depend_on_workers() -> None:
    base = dict(coins=COINS, rate=None, max_ticks=40_000, seed=5, start_time=0.0)
    inline = run_engine(EngineConfig(**base, workers=0))
    sharded = run_engine(EngineConfig(**base, workers=2))
    assert [t | {"id": 0} for t in inline] == [t | {"id": 0} for t in sharded]
    assert len(inline) > 500


def test_trades_do_not_depend_on_batch_sizes(tmp_path) -> None:
    # The same bars replayed paced (a few prices per batch, update() per price) and at maximum
    # speed (thousands per batch, the vectorised run()) must give the very same trades.
    bars = load_ohlcv(sample_data_dir() / "BTCUSD-1h-sample.csv")
    short = tmp_path / "btc.csv"
    sliced = type(bars)(str(short), *(a[:1200] for a in (bars.timestamp, bars.open, bars.high,
                                                         bars.low, bars.close, bars.volume)),
                        bars.interval)
    write_ohlcv_csv(short, sliced)
    params = {"SMA_Crossover": {"fast": 5, "slow": 12}, "MACD": {"fast": 5, "slow": 13,
                                                                 "signal": 4},
              "RSI": {"period": 6, "oversold": 35, "overbought": 65},
              "Momentum": {"period": 6}}
    common = dict(source="csv", coins=["BTC"], csv_files={"BTC": str(short)})
    fast = run_engine(EngineConfig(**common, speed=None), params)
    paced = run_engine(EngineConfig(**common, speed=3600 * 600.0), params)  # 600 bars/s
    assert len(fast) > 50
    key = [(t["strategy_id"], t["action"], t["price"], t["timestamp"]) for t in fast]
    assert key == [(t["strategy_id"], t["action"], t["price"], t["timestamp"]) for t in paced]
    assert np.all(np.diff([t["id"] for t in paced]) > 0)
