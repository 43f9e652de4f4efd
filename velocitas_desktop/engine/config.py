"""How a session runs (:class:`EngineConfig`) and the feed it asks for."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from velocitas_desktop.core.ledger import DEFAULT_FEE, DEFAULT_SAMPLE_SECONDS
from velocitas_desktop.core.metrics import DEFAULT_CAPITAL
from velocitas_desktop.feeds.base import Feed
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL, BINANCE_WS_URL

SOURCES = ("simulated", "csv", "binance")
MAX_WORKERS = 64  # worker processes a session may ask for
# Free space kept on the journal's disk: below it trading pauses (no new fills) until there
# is 10% more. A flat-out simulated run writes ~3.7 MB a second (docs/journal.md), so 200 MB
# leaves about a minute of the fastest writing, and the write-ahead log (up to 16 MB) and a
# prune's deletions room to finish.
DEFAULT_MIN_FREE_MB = 200.0


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
    capital: float = DEFAULT_CAPITAL    # each strategy's starting capital, in quote currency
    risk_free_rate: float = 0.0         # yearly, for Sharpe (0.04 = 4 %)
    binance_rest_url: str = BINANCE_REST_URL
    binance_ws_url: str = BINANCE_WS_URL
    quote_asset: str = "USDT"
    start_time: float | None = None     # simulated: first timestamp at maximum speed
    min_free_mb: float = DEFAULT_MIN_FREE_MB  # MB (10⁶ bytes) kept free on the journal's disk; 0: off

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
