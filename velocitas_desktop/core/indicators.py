"""Technical indicators: O(1) incremental classes for live prices, numpy functions for backtests.

Each indicator exists twice and gives the same numbers both ways: a class fed one value at a
time (``update(x) -> value``, ``math.nan`` until the indicator is defined) for strategies running
live, and a vectorised function over a whole float64 array (nan where undefined) for research.
The formula and its seeding convention are written once, in the class docstring; the function
docstring restates it briefly.

Seeding conventions, chosen to match an established library from the first defined value on:

- SMA, EMA, MACD, ROC, rolling std: pandas / ``ta`` (``ewm(span=n, adjust=False)`` with
  ``min_periods=n`` for the EMA).
- RSI and ATR: J. Welles Wilder's original, as in TA-Lib: the first average is the simple mean
  of the first ``n`` changes (true ranges), then Wilder smoothing
  ``avg = (avg * (n - 1) + x) / n``.
- ADX, +DI and -DI: Wilder's, as in TA-Lib: +DM, -DM and TR smoothed from the sum of their
  first ``n - 1`` values by ``S = S - S / n + x``; the ADX seeded with the mean of the first
  ``n`` DX values (at bar ``2n - 1``), then Wilder smoothing.
- ATR in percent: ATR's, divided by the same bar's close. Realised volatility: the sample
  deviation (ddof 1) of ``n`` log returns (pandas ``rolling(n).std()``), annualised by
  ``sqrt(bars_per_year)``; defined from the ``n + 1``-th price.
- Log-price regression: ordinary least squares of ln(price) on the bar index over each full
  window (``scipy.stats.linregress``); defined from the ``n``-th price, and 0 / 0 / 0 (slope,
  t, r2) for a flat window, r2 1 and t ``±inf`` for a straight line, never nan after that.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from velocitas_desktop.core.errors import ParameterError

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "MACD",
    "ROC",
    "RSI",
    "SMA",
    "ATRPercent",
    "LogRegression",
    "RealisedVolatility",
    "RollingStd",
    "adx",
    "atr",
    "atr_percent",
    "ema",
    "log_regression",
    "macd",
    "minus_di",
    "plus_di",
    "realised_volatility",
    "roc",
    "rolling_std",
    "rsi",
    "sma",
]

FloatArray = NDArray[np.float64]


# --- argument checks ------------------------------------------------------------------------

def _check_period(value: object, name: str = "period", minimum: int = 1, why: str = "") -> int:
    """``value`` as an int of at least ``minimum`` bars, or ParameterError (a ValueError)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ParameterError(
            f"{name} must be a whole number of bars (like 14), got {value!r}")
    if value < minimum:
        reason = f" ({why})" if why else ""
        raise ParameterError(f"{name} must be at least {minimum} bars{reason}, got {value}")
    return int(value)


def _prices(values: ArrayLike, name: str = "prices") -> FloatArray:
    """``values`` as a one-dimensional float64 array, or ParameterError."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ParameterError(
            f"{name} must be a one-dimensional series of numbers, got an array of shape "
            f"{array.shape}")
    return array


def _undefined(length: int) -> FloatArray:
    return np.full(length, np.nan)


# --- numerical kernels shared by the vectorised functions -----------------------------------

def _smooth(values: FloatArray, alpha: float, previous: float) -> FloatArray:
    """The recursion ``y[k] = y[k-1] + alpha * (values[k] - y[k-1])`` from ``y[-1] = previous``.

    Solved in closed form block by block, about 10× faster than a Python loop: inside a block
    of length L that starts after the state ``p``,
    ``y[k] = b**(k+1) * p + alpha * b**k * cumsum(b**-j * values[j])[k]`` with ``b = 1 - alpha``.
    L is kept short enough that ``b**-L`` stays far from overflow; the blocks are then chained
    through their last value. Agrees with the step-by-step recursion to ~1e-13 relative, for
    values up to ~1e170.
    """
    count = len(values)
    if count == 0:
        return np.empty(0)
    decay = 1.0 - alpha
    if decay == 0.0:  # period 1: the average is the last value
        return values.copy()
    # b**-L <= e**300 leaves ~1e170 of headroom for the values themselves.
    length = int(min(1024, max(1, 300.0 / -math.log(decay))))
    blocks = -(-count // length)
    table = np.empty((blocks, length))  # worked in place: 20% faster than fresh arrays
    flat = table.reshape(-1)
    flat[:count] = values
    flat[count:] = 0.0
    steps = np.arange(length, dtype=np.float64)
    grow = decay**-steps
    shrink = decay**steps
    table *= grow
    np.cumsum(table, axis=1, out=table)
    table *= alpha * shrink  # the block's own contribution, as if it started from zero
    carry = decay * shrink  # b**(k+1): how much of the state before the block survives at k
    starts = np.empty(blocks)
    state = previous
    last_carry = float(carry[-1])
    for block, end in enumerate(table[:, -1].tolist()):
        starts[block] = state
        state = last_carry * state + end
    table += np.multiply.outer(starts, carry)
    return flat[:count]


def _rolling_sums(x: FloatArray, period: int) -> FloatArray:
    """Sum of each full window of ``period`` values (length ``len(x) - period + 1``).

    Each window is summed on its own (pairwise), so rounding stays relative to that window's
    values; a running cumsum difference would carry the error of the whole history.
    """
    return sliding_window_view(x, period).sum(axis=1)


# --- incremental indicators -----------------------------------------------------------------

_SHARED: ContextVar[dict | None] = ContextVar("velocitas_shared_indicators", default=None)


@contextmanager
def shared_results(store: dict | None = None) -> Iterator[None]:
    """Within this block, an indicator fed a whole series from a fresh state reuses the result
    (and the final state) of an identical indicator already fed the same series, so a
    parameter grid computes each average once. Results are identical either way. Pass the
    same ``store`` to several blocks to share across them."""
    token = _SHARED.set({} if store is None else store)
    try:
        yield
    finally:
        _SHARED.reset(token)


def _shared(indicator: Any, x: FloatArray, compute: Callable[[FloatArray], FloatArray]
            ) -> FloatArray:
    cache = _SHARED.get()
    if cache is None or not indicator._fresh():
        return compute(x)
    key = (type(indicator), indicator.period, x.__array_interface__["data"][0], x.shape[0],
           x.strides)
    hit = cache.get(key)
    if hit is not None:
        indicator._restore(hit[2])
        return hit[1]
    out = compute(x)
    cache[key] = (x, out, indicator._state())  # holding x keeps its memory (and key) valid
    return out


class SMA:
    """Simple moving average of the last ``period`` values.

    ``SMA_t = (x_t + x_{t-1} + ... + x_{t-period+1}) / period``, defined from the
    ``period``-th value on (pandas ``rolling(period).mean()``).

    O(1) per value: a running sum (add the new value, drop the oldest) that is re-summed exactly
    (``math.fsum`` of the window) every ``RESUM`` values or so (a whole number of windows), so
    rounding never builds up over a long session.
    """

    RESUM = 1024

    __slots__ = ("_count", "_every", "_pos", "_sum", "_window", "_wraps", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._every = max(1, -(-self.RESUM // self.period))  # windows between exact re-sums
        self.reset()

    def reset(self) -> None:
        """Forget every value seen, as if just created."""
        self.value = math.nan
        self._window = [0.0] * self.period
        self._pos = 0
        self._wraps = 0
        self._count = 0
        self._sum = 0.0

    def update(self, x: float) -> float:
        """Add one value and return the new average (nan until ``period`` values)."""
        window = self._window
        pos = self._pos
        self._sum += x - window[pos]
        window[pos] = x
        pos += 1
        if pos == self.period:
            pos = 0
            self._wraps += 1
            if self._wraps == self._every:
                self._wraps = 0
                self._sum = math.fsum(window)
        self._pos = pos
        if self._count < self.period:
            self._count += 1
            if self._count < self.period:
                return self.value
        self.value = self._sum / self.period
        return self.value

    def update_many(self, xs: ArrayLike) -> FloatArray:
        """:meth:`update` on each value in turn, with bit-identical results, vectorised.

        The values up to the end of the current re-sum cycle go through the plain loop; after
        that each cycle is one row: its running sum is a cumulative sum (the same additions in
        the same order as :meth:`update`) ending in the exact ``fsum`` of the last window.
        """
        return _shared(self, np.asarray(xs, dtype=float), self._update_many)

    def _fresh(self) -> bool:
        return self._count == 0 and self._pos == 0 and self._wraps == 0

    def _state(self) -> tuple:
        return (list(self._window), self._pos, self._wraps, self._count, self._sum, self.value)

    def _restore(self, state: tuple) -> None:
        window, self._pos, self._wraps, self._count, self._sum, self.value = state
        self._window = list(window)

    def _update_many(self, x: FloatArray) -> FloatArray:
        n = self.period
        cycle = n * self._every
        head = min(x.shape[0], (cycle - self._wraps * n - self._pos) % cycle)
        first = self._update_loop(x[:head])
        rest = x[head:]
        if rest.shape[0] < 2 * cycle:  # too short to be worth the set-up
            return np.concatenate([first, self._update_loop(rest)])
        return np.concatenate([first, self._update_cycles(rest)])

    def _update_cycles(self, x: FloatArray) -> FloatArray:
        """The vectorised part; requires the state to be at the start of a re-sum cycle."""
        n, m = self.period, x.shape[0]
        cycle = n * self._every
        full, tail = divmod(m, cycle)
        rows = -(-m // cycle)
        previous = np.concatenate([np.asarray(self._window, dtype=float), x[:-n]])
        changes = np.zeros(rows * cycle)
        changes[:m] = x - previous  # x_t − the value it replaces, as update() computes
        ends = x[: full * cycle].reshape(full, cycle)[:, cycle - n:]
        exact = np.fromiter(map(math.fsum, ends.tolist()), dtype=float, count=full)
        table = np.empty((rows, cycle + 1))
        table[:, 0] = np.concatenate([[self._sum], exact])[:rows]
        table[:, 1:] = changes.reshape(rows, cycle)
        sums = np.cumsum(table, axis=1)[:, 1:]
        sums[:full, cycle - 1] = exact
        totals = sums.ravel()[:m]
        out = totals / n
        waiting = max(0, n - self._count - 1)  # values still before the first average
        if waiting:
            out[:waiting] = self.value
        # leave the state exactly as update() would
        window = self._window
        for index in range(m - n, m):
            window[index % n] = float(x[index])
        self._pos = tail % n
        self._wraps = tail // n
        self._sum = float(totals[-1])
        self._count = min(n, self._count + m)
        self.value = float(out[-1])
        return out

    def _update_loop(self, xs: FloatArray) -> FloatArray:
        """:meth:`update` on each value in turn: the same arithmetic, in one tight loop."""
        window, pos, total, count = self._window, self._pos, self._sum, self._count
        n, value, wraps, every = self.period, self.value, self._wraps, self._every
        out = []
        append = out.append
        for x in xs.tolist():
            total += x - window[pos]
            window[pos] = x
            pos += 1
            if pos == n:
                pos = 0
                wraps += 1
                if wraps == every:
                    wraps = 0
                    total = math.fsum(window)
            if count < n:
                count += 1
                if count < n:
                    append(value)
                    continue
            value = total / n
            append(value)
        self._pos, self._sum, self._count, self.value = pos, total, count, value
        self._wraps = wraps
        return np.array(out, dtype=float)


class EMA:
    """Exponential moving average, pandas ``ewm(span=period, adjust=False)`` convention.

    ``alpha = 2 / (period + 1)``; ``y_0 = x_0``; ``y_t = y_{t-1} + alpha * (x_t - y_{t-1})``
    (= ``alpha * x_t + (1 - alpha) * y_{t-1}``). The recursion starts at the first value but is
    reported only from the ``period``-th value on (pandas ``min_periods=period``, ``ta``'s
    ``EMAIndicator``).
    """

    __slots__ = ("_count", "_ema", "alpha", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self.alpha = 2.0 / (self.period + 1)
        self.reset()

    def reset(self) -> None:
        """Forget every value seen, as if just created."""
        self.value = math.nan
        self._ema = math.nan
        self._count = 0

    def update(self, x: float) -> float:
        """Add one value and return the new average (nan until ``period`` values)."""
        if self._count < self.period:
            self._ema = x if self._count == 0 else self._ema + self.alpha * (x - self._ema)
            self._count += 1
            if self._count < self.period:
                return self.value
        else:
            self._ema += self.alpha * (x - self._ema)
        self.value = self._ema
        return self.value

    def update_many(self, xs: ArrayLike) -> FloatArray:
        """:meth:`update` on each value in turn: the same arithmetic, in one tight loop
        (computed once per series and period inside :func:`shared_results`)."""
        return _shared(self, np.asarray(xs, dtype=float), self._update_many)

    def _fresh(self) -> bool:
        return self._count == 0

    def _state(self) -> tuple:
        return (self._ema, self._count, self.value)

    def _restore(self, state: tuple) -> None:
        self._ema, self._count, self.value = state

    def _update_many(self, xs: FloatArray) -> FloatArray:
        ema, count, n, alpha, value = self._ema, self._count, self.period, self.alpha, self.value
        out = []
        append = out.append
        for x in np.asarray(xs, dtype=float).tolist():
            if count < n:
                ema = x if count == 0 else ema + alpha * (x - ema)
                count += 1
                if count < n:
                    append(value)
                    continue
            else:
                ema += alpha * (x - ema)
            value = ema
            append(value)
        self._ema, self._count, self.value = ema, count, value
        return np.array(out, dtype=float)


class RSI:
    """Relative Strength Index with Wilder's original smoothing (as TA-Lib ``RSI``).

    With ``n = period``, change ``d_t = x_t - x_{t-1}``, ``gain_t = max(d_t, 0)``,
    ``loss_t = max(-d_t, 0)``:

    - seed, at the ``n``-th change (the ``n + 1``-th price):
      ``avg_gain = (gain_1 + ... + gain_n) / n``, likewise ``avg_loss``;
    - after that: ``avg_gain_t = (avg_gain_{t-1} * (n - 1) + gain_t) / n``, likewise ``avg_loss``;
    - ``RSI = 100 - 100 / (1 + avg_gain / avg_loss) = 100 * avg_gain / (avg_gain + avg_loss)``.

    Edge values: ``avg_loss == 0 < avg_gain`` gives 100; a flat market (both averages 0) gives 0,
    as TA-Lib does, so a strategy buying "oversold" below 30 should also check that the price
    moved. ``period`` must be at least 2.
    """

    __slots__ = ("_count", "_gain", "_loss", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(
            period, minimum=2, why="an RSI over one change can only read 0 or 100")
        self.reset()

    def reset(self) -> None:
        """Forget every value seen, as if just created."""
        self.value = math.nan
        self._prev = math.nan
        self._count = -1  # number of changes seen; the first price brings none
        self._gain = 0.0
        self._loss = 0.0

    def update(self, x: float) -> float:
        """Add one price and return the new RSI (nan until ``period + 1`` prices)."""
        change = x - self._prev
        self._prev = x
        n = self.period
        if self._count < n:
            self._count += 1
            if self._count == 0:
                return self.value
            # Seeding: sum the first n gains and losses, then take their mean.
            if change > 0.0:
                self._gain += change
            elif change < 0.0:
                self._loss -= change
            if self._count < n:
                return self.value
            self._gain /= n
            self._loss /= n
        else:
            self._gain = (self._gain * (n - 1) + (change if change > 0.0 else 0.0)) / n
            self._loss = (self._loss * (n - 1) + (-change if change < 0.0 else 0.0)) / n
        total = self._gain + self._loss
        self.value = 100.0 * self._gain / total if total > 0.0 else 0.0
        return self.value

    def update_many(self, xs: ArrayLike) -> FloatArray:
        """:meth:`update` on each price in turn: the same arithmetic, in one tight loop
        (computed once per series and period inside :func:`shared_results`)."""
        return _shared(self, np.asarray(xs, dtype=float), self._update_many)

    def _fresh(self) -> bool:
        return self._count == -1

    def _state(self) -> tuple:
        return (self._prev, self._count, self._gain, self._loss, self.value)

    def _restore(self, state: tuple) -> None:
        self._prev, self._count, self._gain, self._loss, self.value = state

    def _update_many(self, xs: FloatArray) -> FloatArray:
        prev, count, gain, loss = self._prev, self._count, self._gain, self._loss
        n, value = self.period, self.value
        out = []
        append = out.append
        for x in np.asarray(xs, dtype=float).tolist():
            change = x - prev
            prev = x
            if count < n:
                count += 1
                if count == 0:
                    append(value)
                    continue
                if change > 0.0:
                    gain += change
                elif change < 0.0:
                    loss -= change
                if count < n:
                    append(value)
                    continue
                gain /= n
                loss /= n
            else:
                gain = (gain * (n - 1) + (change if change > 0.0 else 0.0)) / n
                loss = (loss * (n - 1) + (-change if change < 0.0 else 0.0)) / n
            total = gain + loss
            value = 100.0 * gain / total if total > 0.0 else 0.0
            append(value)
        self._prev, self._count, self._gain, self._loss, self.value = prev, count, gain, loss, value
        return np.array(out, dtype=float)


class MACD:
    """Moving Average Convergence/Divergence, as ``ta``'s ``MACD``.

    - ``macd = EMA(fast) - EMA(slow)`` (both :class:`EMA`, seeded with the first price), defined
      from the ``slow``-th price;
    - ``signal = EMA(signal)`` of the macd line, seeded with the first defined macd value and
      defined once ``signal`` macd values exist (from price number ``slow + signal - 1``);
    - ``hist = macd - signal``.

    ``update`` returns the macd line; ``.value`` and ``.macd`` are the same number.
    """

    __slots__ = ("_fast", "_signal", "_slow", "fast", "hist", "signal", "signal_period", "slow",
                 "value")

    # The lines update_many returns, in order, each with the attribute that holds its latest
    # value: a strategy's rule names one with line(macd, "signal") (core/rules.py). The macd
    # line is read from .value, the same number as the .macd property without its call.
    lines: ClassVar[dict[str, str]] = {"macd": "value", "signal": "signal", "hist": "hist"}

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = _check_period(fast, "fast period")
        self.slow = _check_period(slow, "slow period")
        self.signal_period = _check_period(signal, "signal period")
        if self.fast >= self.slow:
            raise ParameterError(
                f"MACD fast period ({self.fast}) must be shorter than the slow period "
                f"({self.slow})")
        self._fast = EMA(self.fast)
        self._slow = EMA(self.slow)
        self._signal = EMA(self.signal_period)
        self.reset()

    @property
    def macd(self) -> float:
        """The macd line, EMA(fast) - EMA(slow); same as ``.value``."""
        return self.value

    def reset(self) -> None:
        """Forget every value seen, as if just created."""
        self._fast.reset()
        self._slow.reset()
        self._signal.reset()
        self.value = math.nan
        self.signal = math.nan
        self.hist = math.nan

    def update(self, x: float) -> float:
        """Add one price and return the macd line (nan until ``slow`` prices)."""
        fast = self._fast.update(x)
        slow = self._slow.update(x)
        if math.isnan(slow):
            return self.value
        self.value = fast - slow
        self.signal = self._signal.update(self.value)
        self.hist = self.value - self.signal
        return self.value

    def update_many(self, xs: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`update` on each price in turn; returns the (macd, signal, hist) arrays."""
        prices = np.asarray(xs, dtype=float)
        fast = self._fast.update_many(prices)
        slow = self._slow.update_many(prices)
        defined = ~np.isnan(slow)
        line = np.full(prices.shape[0], self.value)
        signal = np.full(prices.shape[0], self.signal)
        if defined.any():
            line[defined] = fast[defined] - slow[defined]
            # each (fast, slow) pair makes a line of its own: kept, it would only hold memory
            signal[defined] = self._signal._update_many(line[defined])
            self.value = float(line[-1])
            self.signal = float(signal[-1])
            self.hist = self.value - self.signal
        return line, signal, line - signal


class RollingStd:
    """Standard deviation of the last ``period`` values (pandas ``rolling(period).std(ddof)``).

    ``std_t = sqrt(sum((x_i - mean_t)**2 for the window) / (period - ddof))``; ``ddof=0`` is
    the population deviation (Bollinger Bands), ``ddof=1`` the sample one. Defined from the
    ``period``-th value on.

    O(1) per value (amortised): Welford's mean and sum of squared deviations, updated by
    replacing the oldest value, are recomputed exactly (two passes, ``math.fsum``) every
    ``period`` values and whenever the sum of squares has fallen by more than 1000× since the
    last recompute (a big price leaving the window, where the running update would keep that
    price's rounding). This keeps prices around 1e5 accurate to ~1e-12 of the price over
    millions of updates, where a sum/sum-of-squares formula loses most of its digits.
    """

    __slots__ = ("_count", "_m2", "_m2_peak", "_mean", "_pos", "_window", "ddof", "period",
                 "value")

    _DROP = 1e-3  # recompute when the sum of squares falls below this share of its peak

    def __init__(self, period: int, ddof: int = 0) -> None:
        self.period = _check_period(
            period, minimum=2, why="the deviation of a single price is always 0")
        if isinstance(ddof, bool) or not isinstance(ddof, int | np.integer) or ddof not in (0, 1):
            raise ParameterError(
                f"ddof must be 0 (population deviation) or 1 (sample deviation), got {ddof!r}")
        self.ddof = int(ddof)
        self.reset()

    def reset(self) -> None:
        """Forget every value seen, as if just created."""
        self.value = math.nan
        self._window = [0.0] * self.period
        self._pos = 0
        self._count = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._m2_peak = 0.0

    def update(self, x: float) -> float:
        """Add one value and return the new deviation (nan until ``period`` values)."""
        window = self._window
        pos = self._pos
        period = self.period
        if self._count < period:  # the window is filling: Welford's add step
            self._count += 1
            delta = x - self._mean
            self._mean += delta / self._count
            self._m2 += delta * (x - self._mean)
        else:  # replace the oldest value in one step
            old = window[pos]
            mean = self._mean + (x - old) / period
            self._m2 += (x - old) * ((x - mean) + (old - self._mean))
            self._mean = mean
        window[pos] = x
        pos += 1
        if pos == period:
            pos = 0
        self._pos = pos
        if self._count < period:
            return self.value
        if pos == 0 or self._m2 < self._m2_peak * self._DROP:
            self._recompute()
        elif self._m2 > self._m2_peak:
            self._m2_peak = self._m2
        self.value = math.sqrt(max(self._m2, 0.0) / (period - self.ddof))
        return self.value

    def _recompute(self) -> None:
        mean = math.fsum(self._window) / self.period
        self._mean = mean
        self._m2 = math.fsum((v - mean) * (v - mean) for v in self._window)
        self._m2_peak = self._m2


class ATR:
    """Average True Range with Wilder's original smoothing (as TA-Lib ``ATR``).

    ``TR_t = max(high_t - low_t, |high_t - close_{t-1}|, |low_t - close_{t-1}|)`` needs the
    previous close, so the first bar gives no true range. With ``n = period``:

    - seed, at the ``n``-th true range (bar ``n + 1``): ``ATR = (TR_1 + ... + TR_n) / n``;
    - after that: ``ATR_t = (ATR_{t-1} * (n - 1) + TR_t) / n``.

    ``update(high, low, close)`` takes one bar (not one price like the other indicators).
    """

    __slots__ = ("_atr", "_count", "_prev_close", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(period)
        self.reset()

    def reset(self) -> None:
        """Forget every bar seen, as if just created."""
        self.value = math.nan
        self._prev_close = math.nan
        self._count = -1  # number of true ranges seen; the first bar brings none
        self._atr = 0.0

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the new ATR (nan until ``period + 1`` bars)."""
        prev = self._prev_close
        self._prev_close = close
        n = self.period
        if self._count == -1:
            self._count = 0
            return self.value
        true_range = max(high - low, abs(high - prev), abs(low - prev))
        if self._count < n:  # seeding: sum the first n true ranges, then take their mean
            self._count += 1
            self._atr += true_range
            if self._count < n:
                return self.value
            self._atr /= n
        else:
            self._atr = (self._atr * (n - 1) + true_range) / n
        self.value = self._atr
        return self.value


class ADX:
    """Average Directional Index with +DI and -DI, Wilder's original (as TA-Lib ``ADX``,
    ``PLUS_DI`` and ``MINUS_DI``).

    From the second bar on, with ``up = high_t - high_{t-1}`` and ``down = low_{t-1} - low_t``:
    ``+DM = up`` if ``up > down`` and ``up > 0``, else 0; ``-DM = down`` if ``down > up`` and
    ``down > 0``, else 0; ``TR`` as in :class:`ATR`. With ``n = period``:

    - each of +DM, -DM and TR is Wilder-smoothed, TA-Lib's way: the sum of the first ``n - 1``
      values, then ``S_t = S_{t-1} - S_{t-1} / n + x_t`` from the ``n``-th on (so the first
      smoothed value, at bar ``n``, is ``sum(x_1..x_{n-1}) * (n - 1) / n + x_n``, not the plain
      sum of ``n`` values);
    - ``+DI = 100 * S(+DM) / S(TR)``, ``-DI = 100 * S(-DM) / S(TR)``, defined from bar ``n``
      (index ``period``); both 0 when ``S(TR)`` is 0 (a market that has not moved);
    - ``DX = 100 * |+DI - -DI| / (+DI + -DI)``, undefined when ``+DI + -DI`` is 0;
    - ``ADX`` seed, at bar ``2n - 1``: the mean of the ``n`` DX values of bars ``n .. 2n - 1``
      (an undefined DX counts as 0); after that ``ADX_t = (ADX_{t-1} * (n - 1) + DX_t) / n``,
      and a bar with no DX leaves the ADX as it was.

    These edge rules are TA-Lib's (0.6), on flat stretches and on coins priced in millionths
    alike. ``update(high, low, close)`` takes one bar and returns the ADX (nan until
    ``2 * period`` bars); ``.plus_di`` and ``.minus_di`` are defined ``period - 1`` bars earlier.
    Because ``update`` takes a bar, there is no ``update_many`` (as for :class:`ATR`).
    """

    __slots__ = ("_count", "_dx_sum", "_minus", "_plus", "_prev_close", "_prev_high",
                 "_prev_low", "_range", "minus_di", "period", "plus_di", "value")

    # The lines a chart draws, each with the attribute that holds its latest value.
    lines: ClassVar[dict[str, str]] = {"adx": "value", "plus_di": "plus_di",
                                       "minus_di": "minus_di"}

    def __init__(self, period: int = 14) -> None:
        self.period = _check_adx_period(period)
        self.reset()

    def reset(self) -> None:
        """Forget every bar seen, as if just created."""
        self.value = math.nan
        self.plus_di = math.nan
        self.minus_di = math.nan
        self._prev_high = self._prev_low = self._prev_close = math.nan
        self._count = -1  # bars with a directional movement; the first bar brings none
        self._plus = self._minus = self._range = 0.0  # Wilder averages (sums / n)
        self._dx_sum = 0.0

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the new ADX (nan until ``2 * period`` bars)."""
        up = high - self._prev_high
        down = self._prev_low - low
        prev_close = self._prev_close
        self._prev_high, self._prev_low, self._prev_close = high, low, close
        n = self.period
        self._count += 1
        count = self._count
        if count == 0:
            return self.value
        plus_dm = up if up > down and up > 0.0 else 0.0
        minus_dm = down if down > up and down > 0.0 else 0.0
        true_range = max(high - low, abs(high - prev_close), abs(low - prev_close))
        if count < n:  # seeding: sum the first n - 1 movements
            self._plus += plus_dm
            self._minus += minus_dm
            self._range += true_range
            return self.value
        if count == n:
            self._plus /= n
            self._minus /= n
            self._range /= n
        alpha = 1.0 / n
        self._plus += alpha * (plus_dm - self._plus)
        self._minus += alpha * (minus_dm - self._minus)
        self._range += alpha * (true_range - self._range)
        if self._range > 0.0:
            self.plus_di = 100.0 * self._plus / self._range
            self.minus_di = 100.0 * self._minus / self._range
        else:
            self.plus_di = self.minus_di = 0.0
        total = self._plus + self._minus  # DX from the sums: the true range cancels out
        dx = 100.0 * abs(self._plus - self._minus) / total if total > 0.0 else 0.0
        if count < 2 * n - 1:
            self._dx_sum += dx
        elif count == 2 * n - 1:
            self.value = (self._dx_sum + dx) / n
        elif total > 0.0:
            self.value += alpha * (dx - self.value)
        return self.value


def _check_adx_period(period: object) -> int:
    return _check_period(
        period, minimum=2, why="Wilder's smoothing over one bar leaves the raw movement")


class ROC:
    """Rate of change in percent over ``period`` values.

    ``ROC_t = 100 * (x_t - x_{t-period}) / x_{t-period}``, defined from the ``period + 1``-th
    value on (``ta``'s ``ROCIndicator``); nan when ``x_{t-period}`` is 0.
    """

    __slots__ = ("_window", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self.reset()

    def reset(self) -> None:
        """Forget every value seen, as if just created."""
        self.value = math.nan
        self._window: deque[float] = deque(maxlen=self.period)

    def update(self, x: float) -> float:
        """Add one value and return the new rate of change (nan until ``period + 1`` values)."""
        window = self._window
        if len(window) == self.period:
            base = window[0]
            self.value = 100.0 * (x - base) / base if base != 0.0 else math.nan
        window.append(x)
        return self.value

    def update_many(self, xs: ArrayLike) -> FloatArray:
        """:meth:`update` on each value in turn, vectorised (the same arithmetic per value)."""
        prices = np.asarray(xs, dtype=float)
        window = self._window
        k, n = len(window), self.period
        combined = np.concatenate([np.fromiter(window, float, k), prices])
        out = np.full(prices.shape[0], self.value)
        first = max(0, n - k)  # first index of ``prices`` whose base price is known
        if first < prices.shape[0]:
            base = combined[k + first - n: k + prices.shape[0] - n]
            current = prices[first:]
            with np.errstate(divide="ignore", invalid="ignore"):
                values = 100.0 * (current - base) / base
            values[base == 0.0] = math.nan
            out[first:] = values
            self.value = float(out[-1])
        window.extend(prices[-n:].tolist())
        return out


class ATRPercent:
    """Average True Range as a percentage of the price: ``100 * ATR_t / close_t``, with
    :class:`ATR`'s formula and seeding (defined from bar ``period + 1``); nan where the close
    is 0. Volatility comparable across prices and coins (1.9 is a typical bar range of 1.9 %).

    ``update(high, low, close)`` takes one bar, as :class:`ATR` does.
    """

    __slots__ = ("_atr", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self._atr = ATR(period)
        self.period = self._atr.period
        self.value = math.nan

    def reset(self) -> None:
        """Forget every bar seen, as if just created."""
        self._atr.reset()
        self.value = math.nan

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the new ATR in percent of its close (nan until
        ``period + 1`` bars)."""
        average = self._atr.update(high, low, close)
        self.value = 100.0 * average / close if close != 0.0 else math.nan
        return self.value


class RealisedVolatility:
    """Annualised realised volatility: the sample standard deviation (ddof 1) of the last
    ``period`` log returns ``r_t = ln(x_t / x_{t-1})``, times ``sqrt(bars_per_year)``.

    0.64 reads 64 % a year. ``bars_per_year`` says how many bars make a year: 365 for daily
    crypto bars, 8,760 for hourly ones, 525,600 for one-minute ones, 252 for stock days.
    Defined from the ``period + 1``-th price (``period`` returns). The deviation is a
    :class:`RollingStd` of the returns, with its accuracy over long sessions. Prices must be
    finite and above 0 (ParameterError otherwise).
    """

    __slots__ = ("_prev", "_scale", "_std", "bars_per_year", "period", "value")

    def __init__(self, period: int, bars_per_year: float) -> None:
        self.period = _check_period(
            period, minimum=2, why="the sample deviation of a single return is undefined")
        self.bars_per_year = _check_bars_per_year(bars_per_year)
        self._scale = math.sqrt(self.bars_per_year)
        self._std = RollingStd(self.period, ddof=1)
        self.reset()

    def reset(self) -> None:
        """Forget every price seen, as if just created."""
        self._std.reset()
        self._prev = math.nan
        self.value = math.nan

    def update(self, x: float) -> float:
        """Add one price and return the new volatility (nan until ``period + 1`` prices)."""
        _check_log_price(x)
        prev = self._prev
        self._prev = x
        if math.isnan(prev):
            return self.value
        deviation = self._std.update(math.log(x / prev))
        if not math.isnan(deviation):
            self.value = deviation * self._scale
        return self.value


def _check_bars_per_year(value: object) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating)
            or not math.isfinite(value) or value <= 0):
        raise ParameterError(
            "bars_per_year must be the number of bars in a year, above 0 (365 for daily bars, "
            f"525,600 for one-minute bars), got {value!r}")
    return float(value)


def _check_log_price(x: float) -> None:
    if not 0.0 < x < math.inf:
        raise ParameterError(
            f"a log-price indicator needs finite prices above 0, got {x!r}")


class LogRegression:
    """Least-squares line through the logarithm of the last ``period`` prices: the trend's pace
    per bar, how clearly it stands out of the noise, and how much of the moves it explains.

    Over the window, ``y_i = ln(price)`` at ``x_i = 0 .. n - 1`` (oldest first), ``n = period``,
    ``x̄ = (n - 1) / 2``, ``Sxx = Σ (x_i - x̄)² = n (n² - 1) / 12``, ``Sxy = Σ (x_i - x̄) y_i``,
    ``SST = Σ (y_i - ȳ)²``:

    - ``slope = Sxy / Sxx``, the change of ln(price) per bar (0.001 is about +0.1 % a bar);
      ``intercept = ȳ - slope * x̄``, the fitted ln(price) at the window's oldest bar;
    - ``SSE = SST - slope * Sxy``, the squared residuals, and ``r2 = 1 - SSE / SST``;
    - ``t_stat = slope / sqrt(SSE / ((n - 2) * Sxx))``: the slope over its standard error,
      Student's t with ``n - 2`` degrees of freedom (|t| above about 2: unlikely to be noise).

    Defined from the ``period``-th price, and never nan after that: a flat window
    (``SST == 0``) has slope 0, t 0 and r2 0 (no trend, nothing explained); a straight line
    (``SSE <= 1e-12 * SST``: residuals at the level of rounding) has r2 1 and t ``±inf``
    (``math.inf`` with the slope's sign). Prices must be finite and above 0 (ParameterError).

    O(1) per price: running sums of ``d = y - c``, ``x * d`` and ``d²`` over the window, ``c``
    a recent log price so the sums stay small. They are recomputed exactly (``math.fsum``),
    re-centred on the newest price, once per window and whenever ``SST`` has fallen below
    1/1000 of its value at the last recompute (after a big move, the rounding it left in the
    sums would otherwise read as a trend in a calm window). A window of equal log prices is
    recognised as flat by counting them, not from the sums.
    """

    __slots__ = ("_centre", "_count", "_pos", "_same", "_sst_peak", "_sum", "_sum_sq", "_sum_x",
                 "_window", "intercept", "period", "r2", "t_stat", "value")

    # The lines a chart draws (or a rule compares), each with the attribute holding its value.
    lines: ClassVar[dict[str, str]] = {"slope": "value", "t_stat": "t_stat", "r2": "r2"}
    _DROP = 1e-3  # recompute when SST falls below this share of its last exact value

    def __init__(self, period: int) -> None:
        self.period = _check_regression_period(period)
        self.reset()

    def reset(self) -> None:
        """Forget every price seen, as if just created."""
        self.value = self.t_stat = self.r2 = self.intercept = math.nan
        self._window = [0.0] * self.period  # log prices, oldest at _pos once full
        self._pos = 0
        self._count = 0
        self._centre = 0.0
        self._sum = self._sum_x = self._sum_sq = 0.0
        self._sst_peak = 0.0
        self._same = 0  # log prices in a row equal to the one before

    def update(self, x: float) -> float:
        """Add one price and return the new slope (nan until ``period`` prices)."""
        _check_log_price(x)
        y = math.log(x)
        n = self.period
        window, pos = self._window, self._pos
        if self._count == 0:
            self._centre = y
        self._same = self._same + 1 if y == window[pos - 1] and self._count else 0
        d = y - self._centre
        if self._count < n:  # filling: the new price takes the next x
            self._sum_x += self._count * d
            self._sum += d
            self._sum_sq += d * d
            self._count += 1
        else:  # the oldest leaves, every other x moves down by one, the new one takes n - 1
            old = window[pos] - self._centre
            self._sum_x += (n - 1) * d - (self._sum - old)
            self._sum += d - old
            self._sum_sq += d * d - old * old
        window[pos] = y
        pos = pos + 1 if pos + 1 < n else 0
        self._pos = pos
        if self._count < n:
            return self.value
        sst = self._sum_sq - self._sum * self._sum / n
        if pos == 0 or sst < self._sst_peak * self._DROP:
            sst = self._recompute()
        elif sst > self._sst_peak:
            self._sst_peak = sst
        if self._same >= n - 1:  # a flat window, whatever rounding the sums carry
            self.value = self.t_stat = self.r2 = 0.0
            self.intercept = y
            return self.value
        sxy = self._sum_x - (n - 1) / 2.0 * self._sum
        self.value, self.t_stat, self.r2 = _line_fit(sxy, sst, n)
        self.intercept = self._centre + self._sum / n - self.value * (n - 1) / 2.0
        return self.value

    def update_many(self, xs: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`update` on each price in turn; returns the (slope, t_stat, r2) arrays."""
        seen = [(self.update(x), self.t_stat, self.r2)
                for x in np.asarray(xs, dtype=float).tolist()]
        table = np.array(seen, dtype=float).reshape(-1, 3)
        return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()

    def _recompute(self) -> float:
        """Exact sums of the window, oldest first, centred on the newest log price; its SST."""
        pos, n = self._pos, self.period
        ordered = self._window[pos:] + self._window[:pos]
        centre = ordered[-1]
        d = [y - centre for y in ordered]
        self._centre = centre
        self._sum = math.fsum(d)
        self._sum_x = math.fsum(i * v for i, v in enumerate(d))
        self._sum_sq = math.fsum(v * v for v in d)
        sst = self._sum_sq - self._sum * self._sum / n
        self._sst_peak = sst
        return sst


_STRAIGHT = 1e-12  # SSE below this share of SST is rounding: the prices lie on a line


def _line_fit(sxy: float, sst: float, n: int) -> tuple[float, float, float]:
    """(slope, t_stat, r2) of :class:`LogRegression` from its sums, with its edge values."""
    if not sst > 0.0:
        return 0.0, 0.0, 0.0
    sxx = n * (n * n - 1) / 12.0
    slope = sxy / sxx
    sse = sst - slope * sxy
    if sse <= _STRAIGHT * sst:
        return slope, math.copysign(math.inf, slope), 1.0
    return slope, slope / math.sqrt(sse / ((n - 2) * sxx)), 1.0 - sse / sst


def _check_regression_period(period: object) -> int:
    return _check_period(
        period, minimum=3, why="a line through two prices always fits: its t-statistic needs "
        "at least one degree of freedom")


# --- vectorised indicators ------------------------------------------------------------------

def sma(x: ArrayLike, period: int) -> FloatArray:
    """Simple moving average ``mean(x[t-period+1 : t+1])``, nan before index ``period - 1``.

    Same numbers as :class:`SMA`.
    """
    period = _check_period(period)
    x = _prices(x)
    out = _undefined(len(x))
    if len(x) >= period:
        out[period - 1:] = _rolling_sums(x, period) / period
    return out


def ema(x: ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, ``y_0 = x_0``,
    ``y_t = y_{t-1} + alpha * (x_t - y_{t-1})``; nan before index ``period - 1``.

    Same numbers as :class:`EMA` (pandas ``ewm(span=period, adjust=False, min_periods=period)``).
    """
    period = _check_period(period)
    x = _prices(x)
    out = _undefined(len(x))
    if len(x) >= period:
        out[period - 1:] = _smooth(x, 2.0 / (period + 1), x[0])[period - 1:]
    return out


def rsi(x: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's RSI: seed ``avg = mean of the first period gains (losses)``, then
    ``avg_t = (avg_{t-1} * (period - 1) + gain_t) / period``;
    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)`` (0 when both are 0); nan before index
    ``period``.

    Same numbers as :class:`RSI` (and TA-Lib ``RSI``).
    """
    period = _check_period(
        period, minimum=2, why="an RSI over one change can only read 0 or 100")
    x = _prices(x)
    out = _undefined(len(x))
    if len(x) <= period:
        return out
    change = np.diff(x)
    gain = np.where(change > 0.0, change, 0.0)
    loss = np.where(change < 0.0, -change, 0.0)
    avg_gain = _wilder(gain, period)
    avg_loss = _wilder(loss, period)
    total = avg_gain + avg_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        out[period:] = np.where(total > 0.0, 100.0 * avg_gain / total, 0.0)
    return out


def _wilder(values: FloatArray, period: int) -> FloatArray:
    """Wilder's average of ``values`` from its ``period``-th element on: the first is the mean
    of the first ``period`` values, then ``avg_t = (avg_{t-1} * (period - 1) + v_t) / period``."""
    seed = math.fsum(values[:period]) / period
    smoothed = _smooth(values[period:], 1.0 / period, seed)
    return np.concatenate(([seed], smoothed))


def macd(
    x: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD: ``macd = ema(x, fast) - ema(x, slow)`` (nan before index ``slow - 1``),
    ``signal`` = EMA(signal) of the macd line seeded with its first defined value (nan before
    index ``slow + signal - 2``), ``hist = macd - signal``.

    Same numbers as :class:`MACD` (and ``ta``'s ``MACD``). Returns ``(macd, signal, hist)``.
    """
    indicator = MACD(fast, slow, signal)  # validates the periods with the same messages
    x = _prices(x)
    line = ema(x, indicator.fast) - ema(x, indicator.slow)
    signal_line = _undefined(len(x))
    start = indicator.slow - 1
    if len(x) > start:
        signal_line[start:] = ema(line[start:], indicator.signal_period)
    return line, signal_line, line - signal_line


def rolling_std(x: ArrayLike, period: int, ddof: int = 0) -> FloatArray:
    """Standard deviation of each window of ``period`` values,
    ``sqrt(sum((x_i - mean)**2) / (period - ddof))``; nan before index ``period - 1``.

    Same numbers as :class:`RollingStd` (and pandas ``rolling(period).std(ddof)``). O(len(x))
    whatever the period: each window's sums of ``x - r`` and ``(x - r)²`` with ``r`` one of
    its own values, over its own values only (see :func:`_window_sums`), so a window's
    rounding stays relative to its spread. 1M prices: about 35 ms at any period, where
    summing each window on its own took 77 ms at period 30 and 1.5 s at period 1000.
    """
    RollingStd(period, ddof)  # validates the arguments with the same messages
    x = _prices(x)
    out = _undefined(len(x))
    if len(x) < period:
        return out
    sums, _, sums_sq = _window_sums(x, period, weighted=False)
    result = out[period - 1:]
    np.multiply(sums, sums / period, out=result)
    np.subtract(sums_sq, result, out=result)
    np.maximum(result, 0.0, out=result)  # rounding may leave -0.0 or a hair below
    np.sqrt(result / (period - ddof), out=result)
    return out


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's Average True Range:
    ``TR_t = max(high_t - low_t, |high_t - close_{t-1}|, |low_t - close_{t-1}|)`` from the
    second bar, seed ``ATR = mean of the first period TRs``, then
    ``ATR_t = (ATR_{t-1} * (period - 1) + TR_t) / period``; nan before index ``period``.

    Same numbers as :class:`ATR` (and TA-Lib ``ATR``).
    """
    period = _check_period(period)
    high, low, close = _bars(high, low, close)
    out = _undefined(len(close))
    if len(close) <= period:
        return out
    out[period:] = _wilder(_true_range(high, low, close), period)
    return out


def _bars(high: ArrayLike, low: ArrayLike, close: ArrayLike
          ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The three series as float64 arrays of one value per bar, or ParameterError."""
    high, low, close = _prices(high, "high"), _prices(low, "low"), _prices(close, "close")
    if not len(high) == len(low) == len(close):
        raise ParameterError(
            f"high, low and close must have one value per bar, got {len(high)}, {len(low)} and "
            f"{len(close)} values")
    return high, low, close


def _true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """Each bar's true range from the second bar on (see :class:`ATR`)."""
    prev_close = close[:-1]
    true_range = high[1:] - low[1:]
    np.maximum(true_range, np.abs(high[1:] - prev_close), out=true_range)
    np.maximum(true_range, np.abs(low[1:] - prev_close), out=true_range)
    return true_range


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14
        ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wilder's ADX with its directional indices, as TA-Lib ``ADX``, ``PLUS_DI``, ``MINUS_DI``:
    +DM, -DM and TR smoothed from the sum of their first ``period - 1`` values by
    ``S_t = S_{t-1} - S_{t-1} / period + x_t``; ``±DI = 100 * S(±DM) / S(TR)`` (0 when
    ``S(TR)`` is 0) from index ``period``; ``DX = 100 * |+DI - -DI| / (+DI + -DI)``; ADX seeded
    with the mean of the first ``period`` DX values at index ``2 * period - 1``, then
    ``ADX_t = (ADX_{t-1} * (period - 1) + DX_t) / period`` (held where DX is undefined).

    Same numbers as :class:`ADX` (whose docstring has the edge rules). Returns
    ``(adx, plus_di, minus_di)``.
    """
    period = _check_adx_period(period)
    return _adx_lines(*_bars(high, low, close), period, with_adx=True)


def plus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """+DI, as in :func:`adx` (and TA-Lib ``PLUS_DI``); nan before index ``period``."""
    period = _check_adx_period(period)
    return _adx_lines(*_bars(high, low, close), period, with_adx=False)[1]


def minus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """-DI, as in :func:`adx` (and TA-Lib ``MINUS_DI``); nan before index ``period``."""
    period = _check_adx_period(period)
    return _adx_lines(*_bars(high, low, close), period, with_adx=False)[2]


_ADX_CHUNK = 1 << 16  # bars per pass: the dozen temporaries stay in cache (1M bars: 100 -> 45 ms)


def _adx_lines(high: FloatArray, low: FloatArray, close: FloatArray, period: int, *,
               with_adx: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(adx, +DI, -DI) as :func:`adx` defines them, a chunk of bars at a time, each chunk's
    smoothing starting from the state the previous one left."""
    count = len(close)
    line, plus, minus = _undefined(count), _undefined(count), _undefined(count)
    if count <= period:
        return line, plus, minus
    alpha = 1.0 / period
    # the averages before bar `period`: the sums of the first period - 1 movements, / period
    state = [math.fsum(m) / period
             for m in _movements(high[:period], low[:period], close[:period])]
    dx = np.zeros(count - period)  # DX from bar `period` on; 0 where undefined
    has_dx = np.zeros(count - period, dtype=bool)
    first = 2 * period - 1  # the ADX's first bar
    adx_state = math.nan
    for start in range(period, count, _ADX_CHUNK):
        stop = min(count, start + _ADX_CHUNK)
        moves = _movements(high[start - 1:stop], low[start - 1:stop], close[start - 1:stop])
        up, down, moved = (_smooth(m, alpha, s) for m, s in zip(moves, state, strict=True))
        state = [up[-1], down[-1], moved[-1]]
        ratio = 100.0 / np.where(moved > 0.0, moved, np.inf)  # DI 0 where nothing moved
        np.multiply(up, ratio, out=plus[start:stop])
        np.multiply(down, ratio, out=minus[start:stop])
        if not with_adx:
            continue
        chunk = slice(start - period, stop - period)  # dx and has_dx start at bar `period`
        _directional_index(up, down, dx[chunk], has_dx[chunk])
        if stop <= first:  # the seed needs `period` DX values
            continue
        begin = max(start, first)
        if begin == first:  # the seed: the mean of the first `period` DX (undefined ones as 0)
            adx_state = math.fsum(dx[:period]) / period
            line[first] = adx_state
            begin += 1
        if begin < stop:
            line[begin:stop] = _smooth_held(dx[begin - period:stop - period],
                                            has_dx[begin - period:stop - period],
                                            alpha, adx_state)
            adx_state = float(line[stop - 1])
    return line, plus, minus


def _movements(high: FloatArray, low: FloatArray, close: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """+DM, -DM and the true range of each bar from the second on (see :class:`ADX`)."""
    up = high[1:] - high[:-1]
    down = low[:-1] - low[1:]
    plus_dm = np.maximum(up, 0.0)
    plus_dm *= up > down
    minus_dm = np.maximum(down, 0.0)
    minus_dm *= down > up
    return plus_dm, minus_dm, _true_range(high, low, close)


def _directional_index(up: FloatArray, down: FloatArray, dx: FloatArray,
                       has_dx: NDArray[np.bool_]) -> None:
    """DX from the smoothed +DM and -DM (the true range cancels out) into ``dx``, and whether
    it is defined (``+DM + -DM > 0``) into ``has_dx``; ``dx`` is 0 where it is not (both
    sums are 0 there, so is their difference)."""
    total = up + down
    np.greater(total, 0.0, out=has_dx)
    np.subtract(up, down, out=dx)
    np.abs(dx, out=dx)
    dx *= 100.0
    np.divide(dx, total, out=dx, where=has_dx)


def _smooth_held(values: FloatArray, defined: NDArray[np.bool_], alpha: float,
                 previous: float) -> FloatArray:
    """:func:`_smooth` over the ``defined`` values; an undefined one repeats the last average."""
    if defined.all():
        return _smooth(values, alpha, previous)
    smoothed = _smooth(values[defined], alpha, previous)
    return np.concatenate(([previous], smoothed))[np.cumsum(defined)]


def roc(x: ArrayLike, period: int) -> FloatArray:
    """Rate of change in percent, ``100 * (x_t - x_{t-period}) / x_{t-period}``; nan before
    index ``period`` and where ``x_{t-period}`` is 0.

    Same numbers as :class:`ROC`.
    """
    period = _check_period(period)
    x = _prices(x)
    out = _undefined(len(x))
    if len(x) > period:
        base = x[:-period]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[period:] = np.where(base != 0.0, 100.0 * (x[period:] - base) / base, np.nan)
    return out


def atr_percent(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14
                ) -> FloatArray:
    """``100 * atr(high, low, close, period) / close``: ATR in percent of the price; nan before
    index ``period`` and where the close is 0.

    Same numbers as :class:`ATRPercent`.
    """
    average = atr(high, low, close, period)
    close = _prices(close, "close")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(close != 0.0, 100.0 * average / close, np.nan)


def realised_volatility(prices: ArrayLike, period: int, bars_per_year: float) -> FloatArray:
    """Annualised realised volatility: the sample deviation (ddof 1) of the last ``period`` log
    returns ``ln(x_t / x_{t-1})``, times ``sqrt(bars_per_year)``; nan before index ``period``.

    Same numbers as :class:`RealisedVolatility`.
    """
    indicator = RealisedVolatility(period, bars_per_year)  # validates, with the same messages
    prices = _log_prices(prices)
    out = _undefined(len(prices))
    if len(prices) > indicator.period:
        returns = np.log(prices[1:] / prices[:-1])
        out[1:] = rolling_std(returns, indicator.period, ddof=1) * math.sqrt(
            indicator.bars_per_year)
    return out


def log_regression(prices: ArrayLike, period: int
                   ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Least squares of ln(price) on the bar index over each window of ``period`` prices:
    ``slope = Sxy / Sxx`` per bar, ``t_stat = slope / sqrt(SSE / ((period - 2) * Sxx))``,
    ``r2 = 1 - SSE / SST``; nan before index ``period - 1``. A flat window gives 0, 0, 0; a
    straight line r2 1 and t ``±inf``.

    Same numbers as :class:`LogRegression` (whose docstring has the formulas in full), in
    O(len(prices)) whatever the period (1M prices: about 40 ms). Returns
    ``(slope, t_stat, r2)``.
    """
    n = _check_regression_period(period)
    logs = np.log(_log_prices(prices))
    slope, t_stat, r2 = _undefined(len(logs)), _undefined(len(logs)), _undefined(len(logs))
    if len(logs) < n:
        return slope, t_stat, r2
    sums, sums_x, sums_sq = _window_sums(logs, n, weighted=True)
    sst = sums_sq - sums * sums / n
    sxy = sums_x - (n - 1) / 2.0 * sums
    sxx = n * (n * n - 1) / 12.0
    fitted, t_fitted, r2_fitted = slope[n - 1:], t_stat[n - 1:], r2[n - 1:]
    np.divide(sxy, sxx, out=fitted)
    sse = sst - fitted * sxy
    flat = ~(sst > 0.0)
    straight = ~flat & (sse <= _STRAIGHT * sst)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(fitted, np.sqrt(sse / ((n - 2) * sxx)), out=t_fitted)
        np.subtract(1.0, sse / sst, out=r2_fitted)
    t_fitted[straight] = np.copysign(np.inf, fitted[straight])
    r2_fitted[straight] = 1.0
    fitted[flat] = t_fitted[flat] = r2_fitted[flat] = 0.0
    return slope, t_stat, r2


_WINDOW_CHUNK = 1 << 16  # values per pass of _window_sums, so its temporaries stay in cache


def _window_sums(values: FloatArray, n: int, *, weighted: bool
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """For each window of ``n`` values: the sums of ``d = y - r``, ``x * d`` (``x = 0 .. n - 1``
    from the window's oldest value; zeros unless ``weighted``) and ``d²``, with ``r`` one of
    the window's values.

    O(len(values)): windows are taken ``n`` at a time, all sharing the middle value of the
    ``2n - 1`` they span (``r``). A window is a tail of the span's first ``n`` values plus a
    head of the rest, so each sum is a running sum from the middle outwards, over the window's
    own values only: a flat window's sums are exactly 0, a huge value just outside a window
    leaves no rounding in it (a running sum from the span's start would), and a nan spoils
    only the windows holding it.
    """
    count = len(values)
    windows = count - n + 1
    blocks = -(-windows // n)
    padded = np.empty(blocks * n + n - 1)
    padded[:count] = values
    padded[count:] = values[-1]
    spans = sliding_window_view(padded, 2 * n - 1)[::n]  # block k: windows k*n .. k*n + n-1
    offsets = np.arange(1.0 - n, n)  # each value's place in the span, from the middle
    starts = np.arange(n - 1.0, -1.0, -1.0)  # x of the middle value in window 0 .. n-1
    sums, sums_x, sums_sq = (np.zeros(blocks * n) for _ in range(3))
    rows = max(1, _WINDOW_CHUNK // (2 * n))
    for first in range(0, blocks, rows):
        last = min(blocks, first + rows)
        span = spans[first:last]
        d = span - span[:, n - 1:n]
        out = slice(first * n, last * n)
        around = _tail_plus_head(d, n)
        sums[out] = around.ravel()
        if weighted:
            sums_x[out] = (_tail_plus_head(d * offsets, n) + starts * around).ravel()
        d *= d
        sums_sq[out] = _tail_plus_head(d, n).ravel()
    return sums[:windows], sums_x[:windows], sums_sq[:windows]


def _tail_plus_head(values: FloatArray, n: int) -> FloatArray:
    """Column ``s`` (0 .. n-1): the sum of ``values[:, s:s + n]`` (rows of ``2n - 1``), as the
    sum of ``values[:, s:n]`` (accumulated from the middle backwards) and
    ``values[:, n:s + n]`` (from the middle forwards)."""
    tails = np.cumsum(values[:, n - 1::-1], axis=1)[:, ::-1]
    tails[:, 1:] += np.cumsum(values[:, n:], axis=1)
    return tails


def _log_prices(values: ArrayLike) -> FloatArray:
    """``values`` as prices a logarithm can be taken of (finite, above 0), or ParameterError
    naming the first that is not."""
    prices = _prices(values)
    if len(prices) and not (prices.min() > 0.0 and prices.max() < np.inf):  # nan fails too
        index = int(np.argmax(~((prices > 0.0) & (prices < np.inf))))
        raise ParameterError(
            f"a log-price indicator needs finite prices above 0, got {prices[index]!r} at "
            f"index {index}")
    return prices
