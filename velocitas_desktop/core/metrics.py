"""Performance formulas: win rate, drawdown and Sharpe, each written once for live and backtest.

Definitions (DESIGN.md, "Metrics"):

* ``win_rate`` = winning closes / all closes × 100 (0 when nothing has closed).
* ``max_drawdown`` = the largest peak-to-trough fall of equity, in quote currency:
  ``max_t (max_{u<=t} E_u − E_t)``; 0 for a curve that never falls.
* ``sharpe_ratio`` = ``mean(ΔE) / std(ΔE) × sqrt(P)``, where ``ΔE`` are the changes of equity
  between samples taken on a fixed clock, ``std`` is the sample standard deviation (ddof=1)
  and ``P`` is the number of sampling periods in a year (crypto trades 365 days a year, so a
  60-second clock gives ``P = 525,600``). The changes are the returns on a constant capital
  base, whose size cancels out, so no starting capital has to be invented. It is 0 with fewer
  than two changes or when equity never varies (zero variance).
"""

from __future__ import annotations

import math

import numpy as np

SECONDS_PER_YEAR = 365.0 * 86400.0


def win_rate(winning: int, closed: int) -> float:
    """``winning / closed × 100``, or 0.0 when no position has been closed."""
    return 100.0 * winning / closed if closed else 0.0


def max_drawdown(equity: np.ndarray | list[float]) -> float:
    """Largest peak-to-trough fall of an equity curve: ``max_t (max_{u<=t} E_u − E_t)``."""
    curve = np.asarray(equity, dtype=float)
    if curve.size == 0:
        return 0.0
    return float(np.max(np.maximum.accumulate(curve) - curve))


def sharpe_from_moments(count: int, mean: float, std: float, periods_per_year: float) -> float:
    """``mean / std × sqrt(periods_per_year)`` of ``count`` equity changes (see module doc)."""
    # a std at float-rounding level of the mean is a constant curve: zero variance
    if count < 2 or not std > 1e-12 * abs(mean):
        return 0.0
    return mean / std * math.sqrt(periods_per_year)


def sharpe_ratio(equity: np.ndarray | list[float], periods_per_year: float) -> float:
    """Annualised Sharpe of an equity curve sampled on a fixed clock (see module doc)."""
    changes = np.diff(np.asarray(equity, dtype=float))
    if changes.size < 2:
        return 0.0
    return sharpe_from_moments(
        changes.size, float(changes.mean()), float(changes.std(ddof=1)), periods_per_year)


def periods_per_year(sample_seconds: float) -> float:
    return SECONDS_PER_YEAR / sample_seconds


class DrawdownTracker:
    """Running form of :func:`max_drawdown`: feed equity values one at a time or as a list."""

    __slots__ = ("max_drawdown", "peak")

    def __init__(self) -> None:
        self.peak = -math.inf
        self.max_drawdown = 0.0

    def update(self, equity: float) -> None:
        if equity > self.peak:
            self.peak = equity
        elif self.peak - equity > self.max_drawdown:
            self.max_drawdown = self.peak - equity

    def update_values(self, values: list[float]) -> None:
        """:meth:`update` on each value, in one loop with local variables."""
        peak, worst = self.peak, self.max_drawdown
        for value in values:
            if value > peak:
                peak = value
            elif peak - value > worst:
                worst = peak - value
        self.peak, self.max_drawdown = peak, worst


class ChangeStats:
    """Running mean and variance (Welford) of the changes of a sampled equity curve.

    Gives the same Sharpe as :func:`sharpe_ratio` on the whole sampled curve, in O(1) per
    sample, so a long live session never re-reads its history.
    """

    __slots__ = ("count", "last", "m2", "mean")

    def __init__(self) -> None:
        self.last = math.nan
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, equity: float) -> None:
        last = self.last
        self.last = equity
        if last != last:  # first sample: no change yet
            return
        change = equity - last
        self.count += 1
        delta = change - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (change - self.mean)

    def add_flat(self, periods: int) -> None:
        """``periods`` more samples at the last equity (zero changes), in O(1).

        Merges a group of ``k`` zeros (mean 0, no spread) into the running moments with the
        parallel form of Welford's update (Chan et al.).
        """
        if periods <= 0 or self.last != self.last:
            return
        n, k = self.count, periods
        total = n + k
        delta = -self.mean
        self.m2 += delta * delta * n * k / total
        self.mean = self.mean * n / total
        self.count = total

    def sharpe(self, periods: float) -> float:
        if self.count < 2:
            return 0.0
        std = math.sqrt(self.m2 / (self.count - 1))
        return sharpe_from_moments(self.count, self.mean, std, periods)


# --- backtest report formulas (docs/backtesting.md) -------------------------------------


def max_drawdown_pct(equity: np.ndarray | list[float]) -> float:
    """Largest peak-to-trough fall as a percent of the peak: ``max_t (P_t − E_t) / P_t × 100``.

    ``P_t = max_{u<=t} E_u``. The curve must include the starting cash (a positive peak); a
    curve whose peak is not positive has no meaningful percentage and gives 0.
    """
    curve = np.asarray(equity, dtype=float)
    if curve.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(curve)
    if not peaks[0] > 0:
        return 0.0
    return float(np.max((peaks - curve) / peaks) * 100.0)


def sortino_ratio(equity: np.ndarray | list[float], periods_per_year: float) -> float:
    """``mean(ΔE) / DD × sqrt(P)`` with the downside deviation ``DD = sqrt(mean(min(ΔE, 0)²))``.

    ``ΔE`` and ``P`` as for :func:`sharpe_ratio` (the target return is 0 and the mean of the
    squared shortfalls runs over every change, not only the losing ones). 0 with fewer than two
    changes or when equity never falls (no downside: the ratio is undefined).
    """
    changes = np.diff(np.asarray(equity, dtype=float))
    if changes.size < 2:
        return 0.0
    downside = math.sqrt(float(np.mean(np.minimum(changes, 0.0) ** 2)))
    mean = float(changes.mean())
    if not downside > 1e-12 * abs(mean):
        return 0.0
    return mean / downside * math.sqrt(periods_per_year)


def calmar_ratio(equity: np.ndarray | list[float], periods_per_year: float) -> float:
    """Annualised P&L over the largest drawdown: ``mean(ΔE) × P / max_drawdown(E)``.

    Both sides are in quote currency, so like Sharpe it needs no invented capital base. 0 with
    fewer than two changes or when the curve never falls.
    """
    curve = np.asarray(equity, dtype=float)
    if curve.size < 3:
        return 0.0
    drawdown = max_drawdown(curve)
    if not drawdown > 0.0:
        return 0.0
    return float(np.diff(curve).mean()) * periods_per_year / drawdown


def profit_factor(profit_loss: np.ndarray | list[float]) -> float:
    """Gross profit / gross loss of closed trades: ``Σ max(p, 0) / Σ max(−p, 0)``.

    ``inf`` when there are profits and no losses; 0 when there are no profits.
    """
    pnl = np.asarray(profit_loss, dtype=float)
    gains = float(pnl[pnl > 0].sum())
    losses = float(-pnl[pnl < 0].sum())
    if losses == 0.0:
        return math.inf if gains > 0.0 else 0.0
    return gains / losses


def expectancy(profit_loss: np.ndarray | list[float]) -> float:
    """Average realised P&L per closed trade, ``Σ p / n`` (0 when nothing closed)."""
    pnl = np.asarray(profit_loss, dtype=float)
    return float(pnl.mean()) if pnl.size else 0.0
