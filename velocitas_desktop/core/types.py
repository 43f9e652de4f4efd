"""Domain values shared by every layer: actions, signals, bars, trades and timeframes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy asks for: buy or sell ``quantity`` units of its coin, or, with no
    quantity, a position worth its account's capital (the ledger sizes it at the fill price)."""

    action: Action
    quantity: float | None = None


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``start`` and ``end`` are epoch seconds, ``end`` is the close time."""

    start: float
    end: float
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


class Trade(NamedTuple):
    """One paper fill, with the seed's fields plus ``id``, ``strategy_id`` and ``fee``.

    ``price`` is the fill price (slippage applied); ``profit_loss`` is the P&L the fill
    realised, net of the fees of both legs (0 for an opening fill); ``position_size`` is the
    strategy's position after the fill (negative when short). A named tuple: immutable, and
    cheap to create on the hot path.
    """

    id: int
    strategy_id: str
    coin: str
    strategy: str
    action: str
    price: float
    quantity: float
    timestamp: float
    profit_loss: float
    position_size: float
    fee: float

    def to_dict(self) -> dict:
        return dict(zip(TRADE_FIELDS, self, strict=True))


TRADE_FIELDS = Trade._fields


# The length in seconds of every bar interval Velocitas names, shortest first: the timeframes
# below, Binance's kline intervals (feeds/binance_rest.py) and the chart's candles all take
# theirs from here. Binance's "1M", a calendar month, has no fixed length, so it is not here.
INTERVAL_SECONDS: dict[str, int] = {
    "1s": 1, "5s": 5, "15s": 15, "30s": 30,
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800,
    "1h": 3600, "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200,
    "1d": 86400, "3d": 259200, "1w": 604800,
}

# Bar intervals a strategy may decide on (every one up to a day), in seconds; "tick" decides on
# every price.
TIMEFRAMES: dict[str, float] = {name: seconds for name, seconds in INTERVAL_SECONDS.items()
                                if seconds <= 86_400}
TICK = "tick"


def timeframe_seconds(timeframe: str) -> float | None:
    """Seconds per bar of ``timeframe``; ``None`` for ``tick``. Raises ValueError if unknown."""
    if timeframe == TICK:
        return None
    try:
        return float(TIMEFRAMES[timeframe])
    except KeyError:
        choices = ", ".join([TICK, *TIMEFRAMES])
        raise ValueError(f"unknown timeframe {timeframe!r}: choose one of {choices}") from None
