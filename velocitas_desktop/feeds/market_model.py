"""The simulated market, hour by hour: volatility, tails, trends and ranges, and activity.

Everything here is defined in data time (per hour of the simulated clock), never per tick, so
the market is the same whatever the tick rate; the feed (feeds/simulated.py) samples ticks
inside each hour. docs/simulation.md describes the model, its parameters and their sources.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

HOUR = 3600.0
DAY = 86_400.0
MINUTE_EDGES = np.arange(61) * 60.0  # seconds into the hour at which each minute starts

# Trading activity by hour of the day (UTC) and by weekday (Monday first), relative to the
# mean: the volume of the shipped BTC sample (resources/data/BTCUSD-1h-sample.csv, 208 days
# of 2019) averaged per hour and per weekday. Busiest at 16:00 UTC as New York opens,
# quietest around 08:00, weekends 28% quieter. tests/feeds/test_market_model.py recomputes
# them from the file.
HOUR_OF_DAY = np.array([1.31, 1.00, 0.92, 0.93, 0.91, 0.70, 0.67, 0.67, 0.60, 0.62, 0.67, 0.76,
                        0.96, 1.01, 1.15, 1.25, 1.42, 1.24, 1.14, 1.16, 1.38, 1.07, 1.22, 1.25])
WEEKDAY = np.array([1.01, 1.13, 1.23, 1.16, 1.03, 0.72, 0.72])


@dataclass(frozen=True, slots=True)
class CoinProfile:
    """How a coin moves: its starting price (USDT), its volatility relative to BTC's, and
    its loading on the market factor (two coins' returns correlate by the product of their
    loadings)."""

    level: float
    vol: float = 1.5
    loading: float = 0.85


# BTC, ETH and LTC are fitted to 2018-2019 daily closes (docs/simulation.md): volatility
# 1 : 1.26 : 1.30 and correlations BTC/ETH 0.823, BTC/LTC 0.810, ETH/LTC 0.836, which one
# factor reproduces with loadings 0.893, 0.922 and 0.907. The other coins get their price
# level and a generic altcoin's 1.5x BTC's volatility and 0.85 loading: assumed, not fitted.
PROFILES: dict[str, CoinProfile] = {
    "BTC": CoinProfile(65_000.0, 1.0, 0.893),
    "ETH": CoinProfile(3_200.0, 1.26, 0.922),
    "LTC": CoinProfile(75.0, 1.30, 0.907),
    "SOL": CoinProfile(150.0), "BNB": CoinProfile(580.0), "XRP": CoinProfile(0.55),
    "ADA": CoinProfile(0.45), "DOGE": CoinProfile(0.14), "AVAX": CoinProfile(32.0),
    "DOT": CoinProfile(6.5), "LINK": CoinProfile(14.0), "TRX": CoinProfile(0.12),
}
UNKNOWN_COIN = CoinProfile(10.0)


def profile(coin: str) -> CoinProfile:
    return PROFILES.get(coin, UNKNOWN_COIN)


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The model's parameters, per hour of data time; docs/simulation.md gives each one's
    source (fitted to the BTC sample, or chosen and checked against it)."""

    hourly_vol: float = 0.0092          # BTC's long-run hourly volatility (log), deseasonalised
    garch_alpha: float = 0.05           # weight of the last hour's squared shock in the variance
    garch_beta: float = 0.94            # weight of the last hour's variance
    tail_dof: float = 5.0               # Student-t degrees of freedom of the hourly shocks
    slow_vol_sd: float = 0.35           # log-sd of the slow volatility level (calm, wild months)
    slow_vol_half_life: float = 20 * 24.0   # hours
    fast_vol_sd: float = 0.2            # log-sd of each hour's own volatility
    max_variance: float = 4.0           # the variance stays under 4x its long-run level
    range_hours: float = 5 * 24.0       # mean length of a ranging stretch
    trend_hours: float = 4 * 24.0       # mean length of a trend
    trend_drift: float = 0.012 / 24     # drift of a trend per hour, times the coin's vol
    range_half_life: float = 3 * 24.0   # hours for a move away from the range's centre to halve
    anchor_half_life: float = 90 * 24.0  # the same, away from the coin's starting level
    lean: float = 3.0                   # a new trend is up with odds exp(-lean * level)
    busy_weight: float = 0.5            # share of activity that follows the hour's move
    activity_sd: float = 0.55           # log-sd of the activity's own persistent swings
    activity_persistence: float = 0.98  # per hour
    minute_sd: float = 0.5              # log-sd of activity from one minute to the next
    minute_persistence: float = 0.8     # per minute


class Regime(IntEnum):
    """The market's mood: drifting up or down, or ranging around a centre."""

    DOWN = -1
    RANGE = 0
    UP = 1


@dataclass(frozen=True, slots=True)
class Hour:
    """One hour of the market: each coin's price where the hour's ticks begin and at its end,
    how widely it moves in between, and how busy it is."""

    start: float            # epoch seconds at the top of the hour
    begins: float           # business time (0 to 1) of the hour's first tick: 0 but in a
                            # run that starts mid-hour
    open: np.ndarray        # log price of each coin at ``begins``
    close: np.ndarray       # log price of each coin at the end of the hour
    scale: np.ndarray       # each coin's log-price sd over a whole hour of business time
    activity: np.ndarray    # each coin's expected ticks relative to its average (mean 1)
    clock: np.ndarray       # business time at each minute's start (61 values, 0 to 1)
    regime: Regime


@dataclass(frozen=True, slots=True)
class MarketPath:
    """Many hours of the market, one row per hour (for statistics and tests)."""

    start: np.ndarray       # (hours,) epoch seconds
    close: np.ndarray       # (hours, coins) log prices at each hour's end
    activity: np.ndarray    # (hours, coins)
    regime: np.ndarray      # (hours,)


def seeded_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The market's random generator and the ticks' for ``seed``: two separate streams, so
    how densely ticks sample the market cannot change the market."""
    market, ticks = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(market), np.random.default_rng(ticks)


def seasonal_activity(stamp: float) -> float:
    """How busy the hour starting at ``stamp`` is, relative to the week's mean."""
    day = math.floor(stamp / DAY)
    hour = int((stamp - day * DAY) // HOUR)
    return float(HOUR_OF_DAY[hour] * WEEKDAY[(day + 3) % 7])  # 1970-01-01 was a Thursday


def mean_abs_student(dof: float) -> float:
    """E|t| of a Student-t with ``dof`` degrees of freedom scaled to unit variance."""
    return (math.sqrt(2 / math.pi) * math.sqrt((dof - 2) / 2)
            * math.exp(math.lgamma((dof - 1) / 2) - math.lgamma(dof / 2)))


class Market:
    """The market of ``coins`` from ``start`` (epoch seconds), hour after hour.

    Each hour, for the market as a whole: a GARCH(1,1) variance times a slow volatility level
    times the hour's seasonal activity and its own volatility; a shock drawn from a
    multivariate Student-t (one factor: the coins' correlations are products of loadings); a
    drift from the regime (a trend, or a pull back to the range's centre) and a faint pull
    back to the starting level. The draws use only ``rng``, so the same generator state gives
    the same market whatever samples it.
    """

    def __init__(self, coins: list[str], rng: np.random.Generator, start: float,
                 params: MarketParams | None = None,
                 prices: Mapping[str, float] | None = None) -> None:
        p = self.params = params or MarketParams()
        self.start = start
        self._rng = rng
        profiles = [profile(coin) for coin in coins]
        self.vol = np.array([pr.vol for pr in profiles])
        self.loading = np.array([pr.loading for pr in profiles])
        self._own = np.sqrt(1.0 - self.loading ** 2)
        self.base = np.log([pr.level for pr in profiles])
        self._long_run = p.hourly_vol ** 2
        self._omega = self._long_run * (1.0 - p.garch_alpha - p.garch_beta)
        self._slow_keep = 0.5 ** (1.0 / p.slow_vol_half_life)
        self._range_pull = 1.0 - 0.5 ** (1.0 / p.range_half_life)
        self._anchor_pull = 1.0 - 0.5 ** (1.0 / p.anchor_half_life)
        self._busy_mean = mean_abs_student(p.tail_dof) * math.exp(-p.fast_vol_sd ** 2 / 2)
        steps = np.arange(60)
        self._minute_decay = p.minute_persistence ** (steps + 1)
        lags = steps[:, None] - steps[None, :]
        self._minute_mix = np.where(lags >= 0, p.minute_persistence ** np.maximum(lags, 0), 0.0)
        # the state, each part drawn from its long-run distribution
        self._variance = self._long_run
        self._slow = p.slow_vol_sd * rng.standard_normal()
        self._noise = p.activity_sd * rng.standard_normal(len(coins))
        self._minute = p.minute_sd * rng.standard_normal()
        in_range = rng.random() < p.range_hours / (p.range_hours + p.trend_hours)
        self.regime = Regime.RANGE if in_range else Regime(1 if rng.random() < 0.5 else -1)
        self._log_price = self.base.copy()
        for i, coin in enumerate(coins):  # a session that goes on starts where it stood
            if prices and prices.get(coin, 0.0) > 0.0:
                self._log_price[i] = math.log(prices[coin])
        self._centre = self._log_price.copy()
        self._next_start = math.floor(start / HOUR) * HOUR
        self._first_offset = start - self._next_start

    def next_hour(self) -> Hour:
        """The next hour; the first one begins at ``start``, wherever that falls in its hour."""
        p, rng = self.params, self._rng
        start = self._next_start
        season = seasonal_activity(start)
        clock = self._minute_clock()
        begins = float(np.interp(self._first_offset, MINUTE_EDGES, clock))
        left = 1.0 - begins
        level = self._variance / self._long_run * self._slow_factor()
        fast = math.exp(p.fast_vol_sd * rng.standard_normal() - p.fast_vol_sd ** 2)
        mixing = (p.tail_dof - 2.0) / rng.chisquare(p.tail_dof)   # Student-t's variance mix
        factor = rng.standard_normal()
        normals = self.loading * factor + self._own * rng.standard_normal(self.vol.size)
        hour_sd = math.sqrt(min(level, p.max_variance) * self._long_run * season * mixing) * fast
        scale = self.vol * hour_sd
        opening = self._log_price
        close = opening + self._drift() * left + scale * math.sqrt(left) * normals
        busy = math.sqrt(mixing) * fast * np.abs(normals) / self._busy_mean
        calm_or_wild = math.exp(self._slow - p.slow_vol_sd ** 2 / 2)  # mean 1, like the rest
        activity = (season * calm_or_wild * np.exp(self._noise - p.activity_sd ** 2 / 2)
                    * (1.0 - p.busy_weight + p.busy_weight * busy))
        hour = Hour(start, begins, opening, close, scale, activity, clock, self.regime)
        self._advance(close, mixing * factor ** 2)
        return hour

    def run(self, hours: int) -> MarketPath:
        """The next ``hours`` hours as arrays."""
        rows = [self.next_hour() for _ in range(hours)]
        return MarketPath(np.array([h.start for h in rows]), np.array([h.close for h in rows]),
                          np.array([h.activity for h in rows]),
                          np.array([int(h.regime) for h in rows]))

    def _drift(self) -> np.ndarray:
        """Each coin's expected log move over the next hour."""
        x = self._log_price
        if self.regime == Regime.RANGE:
            drift = -self._range_pull * (x - self._centre)
        else:
            drift = int(self.regime) * self.params.trend_drift * self.vol
        return drift - self._anchor_pull * (x - self.base)

    def _slow_factor(self) -> float:
        """The slow volatility level as a variance multiplier with mean 1."""
        sd = self.params.slow_vol_sd
        return math.exp(2.0 * self._slow - 2.0 * sd * sd)

    def _minute_clock(self) -> np.ndarray:
        """Business time at each minute's start: minutes of busier trading take a larger
        share of the hour's ticks and of its variance."""
        p = self.params
        innovations = p.minute_sd * math.sqrt(1 - p.minute_persistence ** 2) * (
            self._rng.standard_normal(60))
        logs = self._minute_decay * self._minute + self._minute_mix @ innovations
        self._minute = float(logs[-1])
        weights = np.exp(logs)
        clock = np.concatenate(([0.0], np.cumsum(weights)))
        return clock / clock[-1]

    def _advance(self, close: np.ndarray, news: float) -> None:
        """Carry the state over to the next hour: variances, activity, regime."""
        p, rng = self.params, self._rng
        self._variance = self._omega + (p.garch_alpha * news + p.garch_beta) * self._variance
        self._slow = (self._slow_keep * self._slow + p.slow_vol_sd
                      * math.sqrt(1 - self._slow_keep ** 2) * rng.standard_normal())
        keep = p.activity_persistence
        self._noise = keep * self._noise + p.activity_sd * math.sqrt(1 - keep ** 2) * (
            rng.standard_normal(self._noise.size))
        self._log_price = close
        self._next_start += HOUR
        self._first_offset = 0.0
        mean_hours = p.range_hours if self.regime == Regime.RANGE else p.trend_hours
        if rng.random() >= 1.0 / mean_hours:
            return
        if self.regime == Regime.RANGE:
            # trends lean back toward the starting levels, so prices stay in a plausible band
            level = float(np.mean((close - self.base) / self.vol))
            up = rng.random() < 1.0 / (1.0 + math.exp(p.lean * level))
            self.regime = Regime.UP if up else Regime.DOWN
        else:
            self.regime = Regime.RANGE
            self._centre = close.copy()
