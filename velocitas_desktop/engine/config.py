"""How a session runs (:class:`EngineConfig`), the feed it asks for, and what its clock is."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
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


class SessionChoice(StrEnum):
    """Whether a start goes on with the last session or begins a new one (docs/gui.md,
    "Sessions go on")."""

    AUTO = "auto"          # go on when its market goes on (same source, not a replay), else new
    CONTINUE = "continue"  # go on with the last session; refused when it cannot
    NEW = "new"            # a new session; the last one's open positions as ``positions`` says


class PositionsChoice(StrEnum):
    """What a new session does with the last session's open positions."""

    CLOSE = "close"  # closed at their last prices and time, as the last session's last fills
    CARRY = "carry"  # taken over at their entry prices (docs/metrics.md)


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
    start_time: float | None = None     # simulated: where the data clock begins; None: by
                                        # feeds.simulated.session_start (for a paced, unseeded
                                        # run, the wall clock)
    min_free_mb: float = DEFAULT_MIN_FREE_MB  # MB (10⁶ bytes) kept free on the journal's disk; 0: off
    session: SessionChoice = SessionChoice.AUTO     # go on with the last session, or a new one
    positions: PositionsChoice = PositionsChoice.CLOSE  # a new session: the last one's positions
    start_prices: dict[str, float] = field(default_factory=dict)  # simulated: where each coin
                                        # starts (a session that goes on: its last prices)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> EngineConfig:
        """The configuration :meth:`to_dict` gave (a journal's session); fields it does not
        know (an older or newer journal) are left out or take their defaults."""
        known = {f.name for f in fields(cls)}
        config = cls(**{key: value for key, value in saved.items() if key in known})
        config.session = SessionChoice(config.session)
        config.positions = PositionsChoice(config.positions)
        return config


def why_not_go_on(last: EngineConfig | None, config: EngineConfig) -> str | None:
    """Why a start on ``config`` cannot go on with the session run on ``last`` (None: no
    session yet), or None when it can: a session goes on on the same data source and the
    same equity clock, and never on a replay, which starts again from its first bar. The
    engine decides by it; the window asks it before Start, to know what to ask."""
    if last is None:
        return "no session has run yet"
    if config.source != last.source:
        return f"the last session ran on {last.source} prices, not {config.source}"
    if config.source == "csv":
        return "a replay starts again from its first bar"
    if config.sample_seconds != last.sample_seconds:
        return (f"the last session sampled its equity every {last.sample_seconds:g} s, not "
                f"every {config.sample_seconds:g} s")
    return None


def build_feed(config: EngineConfig) -> Feed:
    """The feed ``config`` asks for (not yet opened)."""
    if config.source == "simulated":
        from velocitas_desktop.feeds.simulated import SimulatedFeed, session_start

        now = time.time()
        seed = config.seed if config.seed is not None else int(now)
        start = config.start_time
        if start is None:
            start = session_start(config.seed, config.rate is not None, now)
        return SimulatedFeed(config.coins, rate=config.rate, seed=seed,
                             max_ticks=config.max_ticks, start_time=start,
                             start_prices=config.start_prices)
    if config.source == "csv":
        from velocitas_desktop.feeds.csvfeed import CsvFeed

        return CsvFeed(config.csv_files, speed=config.speed, ohlc_path=config.ohlc_path,
                       max_ticks=config.max_ticks)
    from velocitas_desktop.feeds.binance import BinanceFeed

    return BinanceFeed(config.coins, rest_url=config.binance_rest_url,
                       ws_url=config.binance_ws_url, quote_asset=config.quote_asset)


class ClockKind(StrEnum):
    """Whose time a session's ticks (and so its trades) are stamped with."""

    SIMULATED = "simulated"  # the simulated market's own clock
    REPLAY = "replay"        # the times written in the csv files
    EXCHANGE = "exchange"    # the exchange's trade times


CLOCK_KINDS = {"simulated": ClockKind.SIMULATED, "csv": ClockKind.REPLAY,
               "binance": ClockKind.EXCHANGE}


def data_clock(config: EngineConfig | None, data_time: float | None) -> dict[str, Any]:
    """What the stamps of the session run on ``config`` mean (None: no session has run yet):
    ``kind`` (a :class:`ClockKind`, or None), ``time`` the newest tick's time (epoch seconds,
    None before the first) and ``speed``, the seconds of data time that pass per second of
    wall time: 1 for real time, None when the feed goes as fast as the engine, so that its
    clock runs ahead of the wall clock."""
    stamp = None if data_time is None or math.isnan(data_time) else float(data_time)
    if config is None:
        return {"kind": None, "time": stamp, "speed": None}
    if config.source == "simulated":
        speed = None if config.rate is None else 1.0
    elif config.source == "csv":
        speed = config.speed
    else:
        speed = 1.0
    return {"kind": CLOCK_KINDS[config.source], "time": stamp, "speed": speed}


def clock_text(clock: Mapping[str, Any]) -> str:
    """The clock for a person: "simulated time 2024-01-02 09:15 UTC, faster than real time";
    empty when no session has run."""
    kind = clock.get("kind")
    if not kind:
        return ""
    stamp = clock.get("time")
    when = f" {time.strftime('%Y-%m-%d %H:%M', time.gmtime(stamp))} UTC" if stamp else ""
    speed = clock.get("speed")
    if kind == ClockKind.EXCHANGE:
        return f"exchange time{when}"
    if speed is None:
        pace = "faster than real time"
    elif speed == 1:
        pace = "real-time pace"
    else:
        pace = f"{speed:g}x real time"
    return f"{kind} time{when}, {pace}"
