"""How a session runs (:class:`EngineConfig`), its checks, and the feed it asks for."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from velocitas_desktop.core.ledger import DEFAULT_FEE, DEFAULT_SAMPLE_SECONDS
from velocitas_desktop.core.strategy import check_coin
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.feeds.base import Feed

SOURCES = ("simulated", "csv", "binance")


@dataclass(slots=True)
class EngineConfig:
    """How to run: the data source and its options, workers, costs and limits."""

    source: str = "simulated"
    coins: list[str] = field(default_factory=lambda: ["BTC", "ETH"])
    csv_files: dict[str, str] = field(default_factory=dict)
    speed: float | None = None          # csv replay: 1 = real time, None = as fast as possible
    rate: float | None = 1000.0         # simulated ticks/s in total, None = as fast as possible
    ohlc_path: bool = False             # csv: replay open-high-low-close instead of the close
    workers: int = 0
    fee: float = DEFAULT_FEE
    slippage: float = 0.0
    seed: int | None = None
    max_ticks: int | None = None
    duration: float | None = None
    sample_seconds: float = DEFAULT_SAMPLE_SECONDS
    binance_rest_url: str = "https://api.binance.com"
    binance_ws_url: str = "wss://stream.binance.com:9443"
    quote_asset: str = "USDT"
    start_time: float | None = None     # simulated: first timestamp at maximum speed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_config(config: EngineConfig) -> None:
    if config.source not in SOURCES:
        raise EngineError(f"unknown data source {config.source!r}: choose "
                          + ", ".join(SOURCES))
    if not config.coins and config.source != "csv":
        raise EngineError("choose at least one coin")
    config.coins = [check_coin(c) for c in config.coins]
    if config.workers < 0 or config.workers > 64:
        raise EngineError("workers must be between 0 and 64")
    if not 0 <= config.fee < 1 or not 0 <= config.slippage < 1:
        raise EngineError("fee and slippage are fractions between 0 and 1 (0.001 = 0.1%)")
    for name in ("rate", "speed", "duration"):
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise EngineError(f"{name} must be positive")
    if config.max_ticks is not None and config.max_ticks < 1:
        raise EngineError("the tick limit must be at least 1")


def build_feed(config: EngineConfig) -> Feed:
    """The feed ``config`` asks for (not yet opened)."""
    if config.source == "simulated":
        from velocitas_desktop.feeds.simulated import SimulatedFeed

        seed = config.seed if config.seed is not None else int(time.time())
        return SimulatedFeed(config.coins, rate=config.rate, seed=seed,
                             max_ticks=config.max_ticks, start_time=config.start_time)
    if config.source == "csv":
        from velocitas_desktop.feeds.csvfeed import CsvFeed

        return CsvFeed(config.csv_files, speed=config.speed, ohlc_path=config.ohlc_path,
                       max_ticks=config.max_ticks)
    from velocitas_desktop.feeds.binance import BinanceFeed

    return BinanceFeed(config.coins, rest_url=config.binance_rest_url,
                       ws_url=config.binance_ws_url, quote_asset=config.quote_asset)
