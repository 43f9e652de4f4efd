"""The statistics the simulated market is calibrated on, measured alike on real bars and on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from velocitas_desktop.feeds.market_model import (
    DAY,
    HOUR,
    Market,
    MarketParams,
    seeded_generators,
)

WEEK_HOURS = 7 * 24


@dataclass(frozen=True, slots=True)
class MarketStatistics:
    """What a trader sees in hourly bars. Returns are log returns; "daily" means from one UTC
    midnight close to the next."""

    hourly_vol: float        # standard deviation of hourly returns
    daily_vol: float         # standard deviation of daily returns
    hourly_kurtosis: float   # excess kurtosis of hourly returns (0 for a normal distribution)
    daily_kurtosis: float    # the same, daily
    clustering_1h: float     # autocorrelation of |hourly return| one hour apart
    clustering_1d: float     # ... one day apart
    clustering_5d: float     # ... five days apart
    volume_vs_move: float    # correlation of an hour's volume with its |return|
    volume_spread: float     # coefficient of variation of hourly volume
    volume_persistence: float  # autocorrelation of hourly volume one hour apart
    widest_week: float       # the largest |log move| over any 7 x 24 hours

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def excess_kurtosis(values: np.ndarray) -> float:
    """The bias-adjusted sample excess kurtosis G2 (as pandas' ``kurt`` and Excel's KURT):
    with g2 = m4 / m2^2 - 3 from the central moments m_k = mean((x - mean)^k),
    G2 = ((n + 1) g2 + 6) (n - 1) / ((n - 2) (n - 3))."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 4:
        raise ValueError("the kurtosis needs at least 4 values")
    deviations = x - x.mean()
    m2 = np.mean(deviations ** 2)
    g2 = np.mean(deviations ** 4) / (m2 * m2) - 3.0
    return float(((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)))


def autocorrelation(values: np.ndarray, lag: int) -> float:
    """Pearson's correlation of the series with itself ``lag`` steps later (as pandas'
    ``Series.autocorr``)."""
    x = np.asarray(values, dtype=float)
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


def daily_closes(close_times: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """The closes (along the first axis) of the bars that end at a UTC midnight."""
    return closes[np.mod(close_times, DAY) == 0]


def market_statistics(close_times: np.ndarray, closes: np.ndarray,
                      volume: np.ndarray) -> MarketStatistics:
    """The statistics of consecutive hourly bars: their close times (epoch seconds), closing
    prices and volumes."""
    close_times = np.asarray(close_times, dtype=float)
    if np.any(np.diff(close_times) != HOUR):
        raise ValueError("the bars must be consecutive hours")
    log_close = np.log(np.asarray(closes, dtype=float))
    hourly = np.diff(log_close)
    daily = np.diff(daily_closes(close_times, log_close))
    moves = np.abs(hourly)
    volume = np.asarray(volume, dtype=float)[1:]  # each return's own hour
    return MarketStatistics(
        hourly_vol=float(hourly.std()), daily_vol=float(daily.std()),
        hourly_kurtosis=excess_kurtosis(hourly), daily_kurtosis=excess_kurtosis(daily),
        clustering_1h=autocorrelation(moves, 1), clustering_1d=autocorrelation(moves, 24),
        clustering_5d=autocorrelation(moves, 120),
        volume_vs_move=float(np.corrcoef(volume, moves)[0, 1]),
        volume_spread=float(volume.std() / volume.mean()),
        volume_persistence=autocorrelation(volume, 1),
        widest_week=float(np.max(np.abs(log_close[WEEK_HOURS:] - log_close[:-WEEK_HOURS]))))


def daily_correlation(close_times: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """The correlation of two coins' daily log returns, from their hourly closes."""
    a = np.diff(np.log(daily_closes(close_times, np.asarray(first, dtype=float))))
    b = np.diff(np.log(daily_closes(close_times, np.asarray(second, dtype=float))))
    return float(np.corrcoef(a, b)[0, 1])


def simulated_bars(coins: list[str], seed: int, start: float, hours: int,
                   params: MarketParams | None = None) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray, np.ndarray]:
    """``hours`` hourly bars of the simulated market from ``start`` (a top of the hour): close
    times, closing prices (hours x coins), expected volumes (activity) and regimes, drawn as
    the feed draws them for ``seed``."""
    path = Market(coins, seeded_generators(seed)[0], start, params).run(hours)
    return path.start + HOUR, np.exp(path.close), path.activity, path.regime
