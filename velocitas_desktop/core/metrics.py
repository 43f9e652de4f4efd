"""Performance formulas: win rate, drawdown and Sharpe, each written once for live and backtest.

Definitions (docs/metrics.md states each with its reasons):

* ``win_rate`` = winning round trips / round trips × 100 (0 when nothing has closed).
* ``max_drawdown`` = the largest peak-to-trough fall of equity, in quote currency:
  ``max_t (max_{u<=t} E_u − E_t)``; ``max_drawdown_pct`` is the same fall as a percentage of
  the peak account value, ``(P_t − E_t) / (C + P_t) × 100`` over a starting capital ``C``.
* ``sharpe_ratio`` is computed from daily mark-to-market returns of the account
  ``r_d = A_d / A_{d−1} − 1`` (``A`` = capital + equity at each UTC day's end, days without
  prices included as flat days): ``mean(r − rf_d) / std(r, ddof=1) × √365``, with the annual
  risk-free rate ``rf`` turned daily as ``(1 + rf)^(1/365) − 1``. Below
  :data:`MIN_SHARPE_DAYS` daily returns it has no value, only the reason why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

DEFAULT_CAPITAL = 10_000.0   # quote currency each strategy's paper account starts with
DAY = 86_400.0
DAYS_PER_YEAR = 365          # crypto trades every day of the year
# The standard error of an annualised Sharpe from n daily returns is about √(365 / n) (Lo,
# 2002, for independent returns): 3.5 at 30 days, against ±25 for the hour of data whose
# Sharpe ranged from −21 to +30 over 20 seeds of a zero-edge market. Below a month the number
# says nothing, so none is shown.
MIN_SHARPE_DAYS = 30


class Sharpe(NamedTuple):
    """An annualised Sharpe ratio, or None with the reason there is none."""

    value: float | None
    note: str = ""


def win_rate(winning: int, closed: int) -> float:
    """``winning / closed × 100``, or 0.0 when no position has been closed."""
    return 100.0 * winning / closed if closed else 0.0


# --- drawdown ------------------------------------------------------------------------------


def max_drawdown(equity: np.ndarray | Sequence[float]) -> float:
    """Largest peak-to-trough fall of an equity curve: ``max_t (max_{u<=t} E_u − E_t)``."""
    curve = np.asarray(equity, dtype=float)
    if curve.size == 0:
        return 0.0
    return float(np.max(np.maximum.accumulate(curve) - curve))


def max_drawdown_pct(equity: np.ndarray | Sequence[float]) -> float:
    """Largest peak-to-trough fall as a percent of the peak: ``max_t (P_t − E_t) / P_t × 100``.

    ``P_t = max_{u<=t} E_u``. The curve is the account's value, starting capital included (a
    positive peak); a curve whose peak is not positive has no meaningful percentage and
    gives 0.
    """
    curve = np.asarray(equity, dtype=float)
    if curve.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(curve)
    if not peaks[0] > 0:
        return 0.0
    return float(np.max((peaks - curve) / peaks) * 100.0)


class Drawdown:
    """Running form of :func:`max_drawdown` and :func:`max_drawdown_pct` over an equity curve
    (P&L, starting at 0) on a ``capital`` base; values come one at a time, as a list, or as an
    array.

    It keeps the current episode, the peak and the lowest value since it: within an episode
    the running peak is constant, so its worst fall is ``peak − trough`` in quote currency and
    ``(peak − trough) / (capital + peak)`` in percent. An episode is settled when a new peak
    starts the next, so a price costs one or two comparisons, as a plain running maximum does.
    """

    __slots__ = ("capital", "peak", "trough", "worst", "worst_pct")

    def __init__(self, capital: float = DEFAULT_CAPITAL, start: float = 0.0) -> None:
        self.capital = capital
        self.peak = start
        self.trough = start
        self.worst = 0.0
        self.worst_pct = 0.0

    @property
    def max_drawdown(self) -> float:
        return max(self.worst, self.peak - self.trough)

    @property
    def max_drawdown_pct(self) -> float:
        return max(self.worst_pct, self._pct(self.peak - self.trough, self.peak))

    def _pct(self, fall: float, peak: float) -> float:
        base = self.capital + peak
        return fall / base * 100.0 if fall > 0.0 and base > 0.0 else 0.0

    def _settle(self) -> None:
        fall = self.peak - self.trough
        if fall > self.worst:
            self.worst = fall
        pct = self._pct(fall, self.peak)
        if pct > self.worst_pct:
            self.worst_pct = pct

    def update(self, value: float) -> None:
        if value > self.peak:
            if self.trough < self.peak:
                self._settle()
            self.peak = self.trough = value
        elif value < self.trough:
            self.trough = value

    def update_values(self, values: list[float]) -> None:
        """:meth:`update` on each value, in one loop with local variables."""
        peak, trough = self.peak, self.trough
        for value in values:
            if value > peak:
                if trough < peak:
                    self.peak, self.trough = peak, trough
                    self._settle()
                peak = trough = value
            elif value < trough:
                trough = value
        self.peak, self.trough = peak, trough

    def update_array(self, values: np.ndarray) -> None:
        """:meth:`update` on each value of an array, vectorised (the engine's global curve).
        Its falls are taken whole, so the episode in progress may count among the settled
        ones: both are read through ``max``, so the figures are the same."""
        if values.shape[0] == 0:
            return
        peaks = np.maximum(np.maximum.accumulate(values), self.peak)
        falls = peaks - values
        bases = self.capital + peaks
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where((falls > 0.0) & (bases > 0.0), falls / bases * 100.0, 0.0)
        self.worst = max(self.max_drawdown, float(falls.max()))
        self.worst_pct = max(self.max_drawdown_pct, float(pct.max()))
        top = float(peaks[-1])
        if top > self.peak:
            first = int(np.searchsorted(peaks, top, side="left"))
            self.peak, self.trough = top, float(values[first:].min())
        else:
            self.trough = min(self.trough, float(values.min()))

    def deposit(self, amount: float) -> None:
        """More capital joins the account (a strategy added mid-session): the percentages of
        later falls are taken on the larger base; the P&L curve itself does not move."""
        self.capital += amount

    def state(self) -> dict[str, float]:
        return {"capital": self.capital, "peak": self.peak, "trough": self.trough,
                "worst": self.worst, "worst_pct": self.worst_pct}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Drawdown:
        tracker = cls(float(state["capital"]))
        tracker.peak, tracker.trough = float(state["peak"]), float(state["trough"])
        tracker.worst, tracker.worst_pct = float(state["worst"]), float(state["worst_pct"])
        return tracker


# --- Sharpe on daily returns ---------------------------------------------------------------


def daily_risk_free(annual: float) -> float:
    """The daily rate of an annual risk-free rate: ``(1 + rf)^(1/365) − 1`` (as QuantStats)."""
    return (1.0 + annual) ** (1.0 / DAYS_PER_YEAR) - 1.0


def daily_closes(stamps: np.ndarray, equity: np.ndarray, start: float) -> np.ndarray:
    """The account's value at the start, then at the end of every UTC day from the first
    price's day to the last one's: ``[start, A_d1, A_d2, ...]``.

    A day's close is the value after the last price stamped before the next midnight (a
    price at 00:00:00 opens its day); a day without prices closes where the day before did
    (a flat day); the last day closes at the final value.
    """
    stamps = np.asarray(stamps, dtype=float)
    first_day = math.floor(stamps[0] / DAY)
    last_day = math.floor(float(np.max(stamps)) / DAY)
    midnights = DAY * np.arange(first_day + 1, last_day + 1)
    clock = np.maximum.accumulate(stamps)  # a late price belongs to the day already reached
    ends = np.searchsorted(clock, midnights, side="left") - 1
    closes = np.empty(midnights.shape[0] + 2)
    closes[0] = start
    closes[1:-1] = np.asarray(equity, dtype=float)[ends]
    closes[-1] = equity[-1]
    return closes


def sharpe_ratio(closes: np.ndarray | Sequence[float], risk_free: float = 0.0,
                 min_days: int = MIN_SHARPE_DAYS) -> Sharpe:
    """The annualised Sharpe ratio of the daily returns of ``closes`` (see module doc)."""
    values = np.asarray(closes, dtype=float)
    if values.shape[0] and not np.all(values[:-1] > 0.0):
        return Sharpe(None, _LOST)
    returns = np.diff(values) / values[:-1] if values.shape[0] > 1 else np.empty(0)
    count = int(returns.shape[0])
    if count < 2:
        return _sharpe(count, 0.0, 0.0, risk_free, min_days)
    return _sharpe(count, float(returns.mean()), float(returns.std(ddof=1)), risk_free,
                   min_days)


def sortino_ratio(closes: np.ndarray | Sequence[float], risk_free: float = 0.0,
                  min_days: int = MIN_SHARPE_DAYS) -> float | None:
    """``mean(r − rf_d) / √mean(min(r − rf_d, 0)²) × √365`` on the daily returns of
    ``closes`` (QuantStats' form: the squared shortfalls are averaged over every day).
    None when Sharpe would be (too few days, capital lost) or when equity never falls."""
    if sharpe_ratio(closes, risk_free, min_days).value is None:
        return None
    values = np.asarray(closes, dtype=float)
    excess = np.diff(values) / values[:-1] - daily_risk_free(risk_free)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    mean = float(excess.mean())
    if not downside > 1e-12 * abs(mean):
        return None
    return mean / downside * math.sqrt(DAYS_PER_YEAR)


def calmar_ratio(closes: np.ndarray | Sequence[float], max_drawdown_percent: float,
                 min_days: int = MIN_SHARPE_DAYS) -> float | None:
    """Annual return over the worst fall, both in percent: ``mean(r) × 365 × 100 /
    max_drawdown_pct``. The return is simple, not compounded, because positions are a fixed
    size. None with too few days, a lost capital, or no fall."""
    values = np.asarray(closes, dtype=float)
    if (values.shape[0] - 1 < min_days or not np.all(values[:-1] > 0.0)
            or not max_drawdown_percent > 0.0):
        return None
    annual = float(np.mean(np.diff(values) / values[:-1])) * DAYS_PER_YEAR * 100.0
    return annual / max_drawdown_percent


_LOST = "the account's value fell to zero or below: daily returns are undefined"


def _sharpe(count: int, mean: float, std: float, risk_free: float, min_days: int) -> Sharpe:
    """The ratio from the moments of ``count`` daily returns, or the reason for none."""
    if count < min_days:
        return Sharpe(None, f"needs {min_days} daily returns, has {count}")
    # a std at float-rounding level of the mean is a constant curve: zero variance
    if not std > 1e-12 * abs(mean):
        return Sharpe(None, "equity never varied from day to day")
    return Sharpe((mean - daily_risk_free(risk_free)) / std * math.sqrt(DAYS_PER_YEAR))


class DailyReturns:
    """Running form of :func:`sharpe_ratio`: the account's value closes one day at a time
    (:meth:`close_days`), and :meth:`sharpe` adds the current value as the close of the day
    in progress, as :func:`daily_closes` does with the final value. Welford's running mean and
    variance give the same number as the formula on the whole list, in O(1) a day."""

    __slots__ = ("count", "last", "lost", "m2", "mean")

    def __init__(self, start: float = DEFAULT_CAPITAL) -> None:
        self.last = start       # the last close (the start before the first)
        self.count = 0          # daily returns closed
        self.mean = 0.0
        self.m2 = 0.0
        self.lost = False       # a day closed from a value of zero or below

    def close_days(self, value: float, days: int = 1) -> None:
        """``days`` midnights passed with the account at ``value``: one return, then flat
        days (zero returns) for the midnights of a gap in the data."""
        if days <= 0:
            return
        if not self.last > 0.0:
            self.lost = True
        self._add(value / self.last - 1.0 if self.last > 0.0 else 0.0)
        if days > 1:
            self._add_zeros(days - 1)
        self.last = value

    def deposit(self, amount: float) -> None:
        """Capital joins the account mid-day: it moves the last close, so it is no return."""
        self.last += amount

    def sharpe(self, current: float, risk_free: float = 0.0,
               min_days: int = MIN_SHARPE_DAYS) -> Sharpe:
        """The ratio of the closed days plus the day in progress, valued at ``current``."""
        if self.lost or not self.last > 0.0:
            return Sharpe(None, _LOST)
        count, mean, m2 = _welford(self.count, self.mean, self.m2, current / self.last - 1.0)
        std = math.sqrt(m2 / (count - 1)) if count > 1 else 0.0
        return _sharpe(count, mean, std, risk_free, min_days)

    def _add(self, value: float) -> None:
        self.count, self.mean, self.m2 = _welford(self.count, self.mean, self.m2, value)

    def _add_zeros(self, k: int) -> None:
        """Merge ``k`` zero returns (mean 0, no spread) into the moments in O(1): the parallel
        form of Welford's update (Chan et al.)."""
        n, total = self.count, self.count + k
        self.m2 += self.mean * self.mean * n * k / total
        self.mean = self.mean * n / total
        self.count = total

    def state(self) -> dict[str, Any]:
        return {"last": self.last, "count": self.count, "mean": self.mean, "m2": self.m2,
                "lost": self.lost}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DailyReturns:
        daily = cls(float(state["last"]))
        daily.count, daily.mean, daily.m2 = (int(state["count"]), float(state["mean"]),
                                             float(state["m2"]))
        daily.lost = bool(state["lost"])
        return daily


def _welford(count: int, mean: float, m2: float, value: float) -> tuple[int, float, float]:
    count += 1
    delta = value - mean
    mean += delta / count
    return count, mean, m2 + delta * (value - mean)


# --- backtest report formulas (docs/backtesting.md) -------------------------------------


def profit_factor(profit_loss: np.ndarray | Sequence[float]) -> float:
    """Gross profit / gross loss of closed trades: ``Σ max(p, 0) / Σ max(−p, 0)``.

    ``inf`` when there are profits and no losses; 0 when there are no profits.
    """
    pnl = np.asarray(profit_loss, dtype=float)
    gains = float(pnl[pnl > 0].sum())
    losses = float(-pnl[pnl < 0].sum())
    if losses == 0.0:
        return math.inf if gains > 0.0 else 0.0
    return gains / losses


def expectancy(profit_loss: np.ndarray | Sequence[float]) -> float:
    """Average realised P&L per closed trade, ``Σ p / n`` (0 when nothing closed)."""
    pnl = np.asarray(profit_loss, dtype=float)
    return float(pnl.mean()) if pnl.size else 0.0
