"""Statistics of a price series for the trend analyzer: variance ratio, Hurst exponent, ranks.

Pure numpy on float64 arrays, no I/O. Each formula is written once, here, and its definition is
in the docstring (docs/trend.md restates them for traders). A statistic that cannot be computed
(too few values, a flat series) is ``math.nan``; the caller turns that into ``None`` and a
message, never a number in a report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "VarianceRatio",
    "hurst_rs",
    "log_spaced_windows",
    "normal_two_sided_p",
    "percentile_rank",
    "rescaled_range",
    "variance_ratio",
]

FloatArray = NDArray[np.float64]


def normal_two_sided_p(z: float) -> float:
    """``P(|Z| >= |z|)`` for a standard normal ``Z``: ``erfc(|z| / sqrt(2))``; nan for nan."""
    if not math.isfinite(z):
        return 0.0 if math.isinf(z) else math.nan
    return math.erfc(abs(z) / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class VarianceRatio:
    """Lo–MacKinlay variance ratio of a log-price series at ``lag`` (see :func:`variance_ratio`)."""

    ratio: float     # VR(q): 1 for a random walk, > 1 trending, < 1 mean-reverting
    z: float         # heteroskedasticity-robust z statistic, asymptotically N(0, 1) under H0
    p_value: float   # two-sided
    lag: int
    count: int       # returns used


def variance_ratio(log_prices: ArrayLike, lag: int) -> VarianceRatio:
    """The Lo–MacKinlay (1988) variance ratio of ``q = lag``-bar to one-bar returns.

    With ``y`` the log prices (``T + 1`` of them), returns ``d_t = y_t - y_{t-1}`` (``T``),
    ``mu = (y_T - y_0) / T``:

    - ``s1 = sum((d_t - mu)**2) / (T - 1)``;
    - ``sq = sum((y_t - y_{t-q} - q*mu)**2) / m`` over the ``T - q + 1`` overlapping q-bar
      returns, ``m = q * (T - q + 1) * (1 - q / T)`` (both variances de-biased);
    - ``VR(q) = sq / s1``;
    - heteroskedasticity-robust variance of ``VR``: ``theta = sum_{k=1}^{q-1}
      4 (1 - k/q)**2 * delta_k``, ``delta_k = T * sum(e_t**2 e_{t-k}**2) / (sum(e_t**2))**2``
      with ``e_t = d_t - mu``;
    - ``z = sqrt(T) * (VR - 1) / sqrt(theta)``, two-sided ``p = erfc(|z| / sqrt(2))``.

    The same numbers as ``arch.unitroot.VarianceRatio(y, lags=q)`` (its defaults: constant,
    de-biased, robust, overlapping). Needs ``lag >= 2`` and more than ``2 * lag`` returns;
    otherwise (or for a flat series) every figure is nan.
    """
    y = np.asarray(log_prices, dtype=np.float64)
    q = int(lag)
    count = len(y) - 1
    undefined = VarianceRatio(math.nan, math.nan, math.nan, q, max(count, 0))
    if q < 2 or count <= 2 * q:
        return undefined
    mu = (y[-1] - y[0]) / count
    e = np.diff(y) - mu
    e2 = e * e
    total = float(e2.sum())
    if not total > 0.0:
        return undefined
    s1 = total / (count - 1)
    long = y[q:] - y[:-q] - q * mu
    m = q * (count - q + 1) * (1.0 - q / count)
    sq = float(long @ long) / m
    ratio = sq / s1
    theta = 0.0
    for k in range(1, q):
        theta += 4.0 * (1.0 - k / q) ** 2 * count * float(e2[k:] @ e2[:-k]) / total**2
    if not theta > 0.0:
        return undefined
    z = math.sqrt(count) * (ratio - 1.0) / math.sqrt(theta)
    return VarianceRatio(ratio, z, normal_two_sided_p(z), q, count)


def log_spaced_windows(count: int, smallest: int = 8, steps: int = 12) -> FloatArray:
    """Window sizes for :func:`hurst_rs`: up to ``steps`` distinct integers spaced evenly in
    log between ``smallest`` and ``count // 4`` (at least four windows per size)."""
    largest = count // 4
    if largest < smallest:
        return np.empty(0)
    sizes = np.unique(np.round(np.logspace(math.log10(smallest), math.log10(largest), steps)))
    return sizes.astype(np.float64)


def rescaled_range(returns: FloatArray, size: int) -> float:
    """Mean rescaled range ``R/S`` of the non-overlapping windows of ``size`` returns.

    For each window: ``Z = cumsum(x - mean(x))``, ``R = max(Z) - min(Z)``, ``S`` the sample
    standard deviation (ddof 1); windows with ``R == 0`` (all values equal) are left out; nan if none is left.
    """
    blocks = len(returns) // size
    if blocks < 1 or size < 2:
        return math.nan
    x = returns[: blocks * size].reshape(blocks, size)
    centred = x - x.mean(axis=1, keepdims=True)
    walk = np.cumsum(centred, axis=1)
    spread = walk.max(axis=1) - walk.min(axis=1)
    deviation = centred.std(axis=1, ddof=1)
    useful = spread > 0.0
    if not useful.any():
        return math.nan
    return float(np.mean(spread[useful] / deviation[useful]))


def _expected_rs(size: int) -> float:
    """Anis–Lloyd–Peters expected ``R/S`` of ``size`` independent normal values."""
    n = size
    front = (n - 0.5) / n
    if n <= 340:
        front *= math.gamma((n - 1) / 2) / (math.sqrt(math.pi) * math.gamma(n / 2))
    else:
        front *= 1.0 / math.sqrt(math.pi * n / 2)
    return front * sum(math.sqrt((n - i) / i) for i in range(1, n))


def hurst_rs(returns: ArrayLike, windows: ArrayLike | None = None, *,
             corrected: bool = True) -> float:
    """Hurst exponent of a return series by rescaled-range (R/S) analysis.

    ``H`` is the slope of the least-squares line through ``(log n, log R/S(n))`` over the window
    sizes ``n`` (default :func:`log_spaced_windows`). ``corrected`` subtracts the
    Anis–Lloyd–Peters expectation for independent values from ``log R/S(n)`` and adds 0.5, which
    removes R/S's small-sample upward bias (a random walk's returns then give ``H ≈ 0.5``).
    ``H > 0.5``: persistent (trending); ``H < 0.5``: anti-persistent (mean-reverting).

    The same numbers as ``nolds.hurst_rs(returns, nvals=windows, fit="poly",
    corrected=corrected, unbiased=True)``. nan with fewer than two usable window sizes.
    """
    x = np.asarray(returns, dtype=np.float64)
    sizes = log_spaced_windows(len(x)) if windows is None else np.asarray(windows, dtype=float)
    points = []
    for size in sizes.astype(int).tolist():
        value = rescaled_range(x, size)
        if math.isfinite(value) and value > 0.0:
            points.append((size, value))
    if len(points) < 2:
        return math.nan
    n = np.log([p[0] for p in points])
    rs = np.log([p[1] for p in points])
    if corrected:
        rs = rs - np.log([_expected_rs(p[0]) for p in points])
    slope = float(np.polyfit(n, rs, 1)[0])
    return slope + 0.5 if corrected else slope


def percentile_rank(history: ArrayLike, value: float) -> float:
    """Percent of the finite values of ``history`` below ``value``, ties counted half:
    ``100 * (below + 0.5 * equal) / count`` (``scipy.stats.percentileofscore(kind="mean")``).
    nan when ``value`` is not finite or ``history`` has no finite value."""
    x = np.asarray(history, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not x.size or not math.isfinite(value):
        return math.nan
    below = int(np.count_nonzero(x < value))
    equal = int(np.count_nonzero(x == value))
    return 100.0 * (below + 0.5 * equal) / x.size
