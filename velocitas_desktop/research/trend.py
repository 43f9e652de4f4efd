"""Trend analysis: what the market is doing on each timeframe, with numbers a trader can check.

:func:`analyze` takes OHLCV bars, resamples them to coarser timeframes and reports for each one
the direction and strength (ADX, a log-price regression, moving averages), the volatility
regime, the character (trending, mean-reverting or random, from a variance ratio), support and
resistance levels with breakouts, a regression trend line, and a one-line summary. Every figure
is defined in docs/trend.md; the statistics themselves live in core/statistics.py and the
indicators in core/indicators.py, once for live and research alike.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from velocitas_desktop.core import indicators
from velocitas_desktop.core import statistics as stats
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.core.types import INTERVAL_SECONDS

__all__ = [
    "MIN_BARS",
    "Bars",
    "TimeframeReport",
    "TrendError",
    "TrendReport",
    "analyze",
    "default_timeframes",
    "load_bars",
    "resample",
]

MIN_BARS = 60  # fewer bars on a timeframe -> that timeframe has ok=False and a message

# The figures' settings; docs/trend.md defines each figure with these numbers.
ADX_PERIOD = 14
TREND_ADX = 20.0           # ADX below this: a weak trend, or none
STRONG_ADX = 30.0          # ADX at or above this: a strong trend
REGRESSION_BARS = 100      # the log-price regression and the trend line
TREND_R2 = 0.4             # direction: the line explains at least 40% of the log price...
TREND_NOISE = 1.0          # ...and rises (falls) at least one random-walk move over the window
MA_PERIODS = (20, 50, 200)
ATR_PERIOD = 14
VOL_WINDOW = 30            # bars of log returns in the realised volatility
VOL_CUTS = (25.0, 75.0, 95.0)  # percentile cut-offs: calm | normal | high | extreme
CHARACTER_BARS = 500       # the most recent bars the variance ratio and Hurst use
CHARACTER_LAG = 4          # the variance ratio compares 4-bar with 1-bar returns
CONFIDENCE = 0.95          # two-sided; not significant -> "random"
SWING_BARS = 5             # a swing high is the highest high of the 5 bars each side
LEVEL_BARS = 500           # levels come from the swings of the most recent 500 bars
LEVEL_TOLERANCE = 0.5      # swings within 0.5 ATR of a level's central swing join it
MIN_TOUCHES = 2
MAX_LEVELS = 8
MAX_BREAKOUTS = 5
BREAKOUT_BARS = 5          # a breakout's previous 5 closes were all on the other side
COARSER = ("15m", "1h", "4h", "1d", "1w")
MAX_RATIO = 1440           # default timeframes stay within a day of the input's bars
WEEK = 7 * 86_400
MONDAY = 4 * 86_400        # 1970-01-05 00:00 UTC, the first Monday after the epoch
YEAR_SECONDS = 365 * 86_400  # crypto trades every day: realised volatility is annualised by it


class TrendError(VelocitasError, ValueError):
    """The bars or the timeframes cannot be analysed as given; the message says what to fix."""


# --- the bars --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """OHLCV bars as float64 arrays; ``time`` is each bar's open, epoch seconds."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval: float  # seconds per bar

    @classmethod
    def from_ohlcv(cls, data: Any) -> Bars:
        """From a :class:`feeds.csvdata.OHLCV` (a loaded bar file)."""
        return cls.from_arrays(data.timestamp, data.open, data.high, data.low, data.close,
                               data.volume, data.interval)

    @classmethod
    def from_candles(cls, candles: Mapping[str, Any]) -> Bars:
        """From the engine's ``candles(coin)`` dict (lists ``time``, ``open``... and
        ``interval``)."""
        try:
            columns = [candles[name] for name in ("time", "open", "high", "low", "close")]
        except KeyError as exc:
            raise TrendError(f"the candles have no {exc.args[0]!r} list") from None
        return cls.from_arrays(*columns, candles.get("volume"), candles.get("interval"))

    @classmethod
    def from_arrays(cls, time: Any, open: Any, high: Any, low: Any, close: Any,
                    volume: Any = None, interval: float | None = None) -> Bars:
        """Validated bars: one value per bar in every column, strictly increasing times,
        finite positive prices, ``high >= low``; TrendError naming the first bad bar."""
        names = ("time", "open", "high", "low", "close")
        columns = [_column(values, name) for values, name in zip(
            (time, open, high, low, close), names, strict=True)]
        count = len(columns[0])
        volume = np.zeros(count) if volume is None else _column(volume, "volume")
        for name, column in zip((*names[1:], "volume"), (*columns[1:], volume), strict=True):
            if len(column) != count:
                raise TrendError(f"{name} has {len(column)} values for {count} bar times: "
                                 "every column needs one value per bar")
        if count == 0:
            raise TrendError("no bars: give at least two bars (the analysis needs "
                             f"{MIN_BARS} on a timeframe)")
        stamps = columns[0]
        _check_times(stamps)
        for name, column in zip(names[1:], columns[1:], strict=True):
            bad = ~(np.isfinite(column) & (column > 0.0))
            if bad.any():
                i = int(np.argmax(bad))
                raise TrendError(f"bar {i} ({_when(stamps[i])}): {name} is {float(column[i])!r}; "
                                 "prices must be finite numbers above 0")
        bad = ~(np.isfinite(volume) & (volume >= 0.0))
        if bad.any():
            i = int(np.argmax(bad))
            raise TrendError(f"bar {i} ({_when(stamps[i])}): volume is {float(volume[i])!r}; "
                             "volumes must be finite numbers, 0 or more")
        inverted = columns[2] < columns[3]
        if inverted.any():
            i = int(np.argmax(inverted))
            raise TrendError(f"bar {i} ({_when(stamps[i])}): high {float(columns[2][i])!r} is "
                             f"below low {float(columns[3][i])!r}")
        if interval is None:
            if count < 2:
                raise TrendError("one bar and no interval: give at least two bars, or the "
                                 "seconds per bar")
            interval = float(np.median(np.diff(stamps)))
        interval = float(interval)
        if not (math.isfinite(interval) and interval > 0):
            raise TrendError(f"the bar interval must be a positive number of seconds, got "
                             f"{interval!r}")
        return cls(*columns, volume, interval)

    def tail(self, count: int) -> Bars:
        """The most recent ``count`` bars."""
        start = max(len(self) - max(int(count), 0), 0)
        return self._slice(start, len(self))

    def _slice(self, start: int, stop: int) -> Bars:
        return Bars(self.time[start:stop], self.open[start:stop], self.high[start:stop],
                    self.low[start:stop], self.close[start:stop], self.volume[start:stop],
                    self.interval)

    def __len__(self) -> int:
        return int(self.time.shape[0])


def _column(values: Any, name: str) -> np.ndarray:
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TrendError(f"{name} must be a list of numbers") from None
    if array.ndim != 1:
        raise TrendError(f"{name} must be a one-dimensional list of numbers, got shape "
                         f"{array.shape}")
    return array


def _check_times(stamps: np.ndarray) -> None:
    bad = ~np.isfinite(stamps)
    if bad.any():
        i = int(np.argmax(bad))
        raise TrendError(f"bar {i}: time is {float(stamps[i])!r}; bar times must be epoch "
                         "seconds")
    step = np.diff(stamps)
    if (step <= 0.0).any():
        i = int(np.argmax(step <= 0.0)) + 1
        what = "repeats the time of" if step[i - 1] == 0.0 else "is earlier than"
        raise TrendError(f"bar {i} ({_when(stamps[i])}) {what} bar {i - 1}: bars must be "
                         "sorted by time, one bar per time (sort the file and drop duplicates)")


def load_bars(path: str | os.PathLike[str]) -> Bars:
    """The bars of a bar file (any layout :func:`feeds.csvdata.load_ohlcv` reads)."""
    from velocitas_desktop.feeds.csvdata import DataFileError, load_ohlcv

    try:
        data = load_ohlcv(path)
    except DataFileError as exc:
        raise TrendError(str(exc)) from None
    return Bars.from_ohlcv(data)


def resample(bars: Bars, seconds: float) -> Bars:
    """Bars of ``seconds`` each, aligned to the epoch (a 4h bar opens at 00:00, 04:00 UTC...;
    weeks open on Monday 00:00 UTC, as on Binance, where the epoch was a Thursday): open of the
    first bar in the bucket, highest high, lowest low, last close, summed volume. A bucket
    with no bar (a gap) is skipped, not invented."""
    if not seconds > 0:
        raise TrendError(f"a timeframe must be a positive number of seconds, got {seconds!r}")
    if len(bars) == 0:
        return bars
    origin = MONDAY if seconds % WEEK == 0 else 0.0
    bucket = np.floor((bars.time - origin) / seconds)
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.concatenate((starts[1:], [len(bars)])) - 1
    return Bars(bucket[starts] * seconds + origin, bars.open[starts],
                np.maximum.reduceat(bars.high, starts), np.minimum.reduceat(bars.low, starts),
                bars.close[ends], np.add.reduceat(bars.volume, starts), float(seconds))


# --- timeframes ------------------------------------------------------------------------------

def _label(seconds: float) -> str:
    for name, length in INTERVAL_SECONDS.items():
        if length == seconds:
            return name
    return f"{seconds:g}s"


def default_timeframes(interval: float, bars: int | None = None) -> list[str]:
    """The input's own timeframe and up to three coarser ones from 15m, 1h, 4h, 1d and 1w:
    those that are whole multiples of ``interval``, at most a day of its bars (1440×) and, when
    ``bars`` (the input's length) is given, leave at least MIN_BARS bars; the coarsest three of
    them. 1m -> 1m, 1h, 4h, 1d; 1h (a year) -> 1h, 4h, 1d."""
    candidates = []
    for name in COARSER:
        seconds = INTERVAL_SECONDS[name]
        ratio = seconds / interval
        if ratio <= 1 or ratio > MAX_RATIO or abs(ratio - round(ratio)) > 1e-9:
            continue
        if bars is not None and bars / ratio < MIN_BARS:
            continue
        candidates.append(name)
    return [_label(interval), *candidates[-3:]]


def _timeframe_seconds(names: Sequence[str], interval: float) -> list[tuple[str, float]]:
    own = _label(interval)
    valid = [own, *(name for name, seconds in INTERVAL_SECONDS.items()
                    if seconds > interval and _multiple(seconds, interval))]
    chosen: dict[str, float] = {}
    for name in names:
        name = str(name).strip()
        if name == own:
            seconds = float(interval)
        elif name in INTERVAL_SECONDS:
            seconds = float(INTERVAL_SECONDS[name])
            if seconds < interval or not _multiple(seconds, interval):
                why = "shorter than" if seconds < interval else "not a whole multiple of"
                raise TrendError(f"timeframe {name} is {why} the bars' interval ({own}): "
                                 f"choose from {', '.join(valid)}")
        else:
            raise TrendError(f"unknown timeframe {name!r}: choose from {', '.join(valid)}")
        chosen[name] = seconds
    if not chosen:
        raise TrendError(f"no timeframe given: choose from {', '.join(valid)}")
    return sorted(chosen.items(), key=lambda item: item[1])


def _multiple(seconds: float, interval: float) -> bool:
    ratio = seconds / interval
    return abs(ratio - round(ratio)) < 1e-9


# --- the report ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class TimeframeReport:
    """The analysis of one timeframe; ``figures`` holds the JSON fields after ``message``."""

    timeframe: str
    seconds: float
    bars: Bars
    ok: bool
    message: str
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self, candles: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {"timeframe": self.timeframe, "seconds": self.seconds,
                               "bars": len(self.bars), "ok": self.ok, "message": self.message}
        if self.ok:
            out.update(self.figures)
        out["summary"] = self.summary
        if self.ok and candles > 0:
            tail = self.bars.tail(candles)
            out["candles"] = {name: getattr(tail, name).tolist()
                              for name in ("time", "open", "high", "low", "close", "volume")}
        return finite_or_none(out)


@dataclass(frozen=True, slots=True, eq=False)
class TrendReport:
    """What :func:`analyze` found, per timeframe (finest first)."""

    source: str
    coin: str | None
    bars: int
    interval: float
    first: float
    last: float
    price: float
    warnings: tuple[str, ...]
    timeframes: tuple[TimeframeReport, ...]

    def to_json(self, candles: int = 0) -> dict[str, Any]:
        """The report as JSON-ready values (no NaN: missing figures are None); ``candles=N``
        adds each timeframe's last N bars."""
        return {
            "source": self.source, "coin": self.coin, "bars": self.bars,
            "interval": self.interval, "first": self.first, "last": self.last,
            "price": finite_or_none(self.price), "warnings": list(self.warnings),
            "summary": [tf.summary for tf in self.timeframes],
            "timeframes": [tf.to_json(candles) for tf in self.timeframes],
            "suggestions": None,
        }

    def regimes(self) -> dict[str, dict[str, str]]:
        """``{timeframe: {"direction", "strength", "volatility", "character"}}`` of the
        timeframes that could be analysed."""
        out = {}
        for tf in self.timeframes:
            if tf.ok:
                figures = tf.figures
                out[tf.timeframe] = {"direction": figures["direction"],
                                     "strength": figures["strength"],
                                     "volatility": figures["volatility"]["regime"],
                                     "character": figures["character"]["label"]}
        return out

    def text(self) -> str:
        """The readable report the command line prints."""
        name = self.source or "bars"
        coin = f" {self.coin}" if self.coin else ""
        lines = [f"Trend of {name}{coin}: {self.bars:,} bars of {_label(self.interval)}, "
                 f"{_when(self.first)} to {_when(self.last)}, last close "
                 f"{_price_text(self.price)}"]
        lines += [f"warning: {warning}" for warning in self.warnings]
        for tf in self.timeframes:
            lines.append("")
            lines.append(tf.summary)
            if tf.ok:
                lines += ["  " + line for line in _details(tf.figures)]
        return "\n".join(lines)


# --- analysis --------------------------------------------------------------------------------

def analyze(bars: Bars, timeframes: Sequence[str] | None = None, *, source: str = "",
            coin: str | None = None) -> TrendReport:
    """Analyse ``bars`` on each timeframe (names like "4h", or one comma-separated string;
    default: :func:`default_timeframes` of the bars' interval and span).

    A timeframe finer than the bars, or not a whole multiple of their interval, or unknown
    raises TrendError listing the valid ones; a timeframe with too few bars or no price
    movement is reported with ``ok=False`` and a message.
    """
    if not isinstance(bars, Bars):
        raise TrendError(f"analyze() takes Bars, got {type(bars).__name__}")
    if len(bars) == 0:
        raise TrendError("no bars to analyse")
    span = int((bars.time[-1] - bars.time[0]) // bars.interval) + 1
    if isinstance(timeframes, str):  # "1h,4h,1d", as typed on the command line
        timeframes = [name for name in timeframes.split(",") if name.strip()]
    names = default_timeframes(bars.interval, span) if timeframes is None else timeframes
    reports = []
    for name, seconds in _timeframe_seconds(names, bars.interval):
        frame = bars if seconds == bars.interval else resample(bars, seconds)
        reports.append(_analyze_timeframe(frame, name, seconds))
    return TrendReport(
        source=str(source), coin=coin, bars=len(bars), interval=bars.interval,
        first=float(bars.time[0]), last=float(bars.time[-1]), price=float(bars.close[-1]),
        warnings=tuple(_gap_warnings(bars)), timeframes=tuple(reports))


def _gap_warnings(bars: Bars) -> list[str]:
    if len(bars) < 2:
        return []
    missing = np.diff(bars.time) - bars.interval
    gaps = np.flatnonzero(missing > 1e-9 * bars.interval)
    if not gaps.size:
        return []
    widest = int(gaps[np.argmax(missing[gaps])])
    count = f"{gaps.size} gaps" if gaps.size > 1 else "1 gap"
    return [f"{count} in the bars, the largest {_duration(missing[widest])} from "
            f"{_when(bars.time[widest] + bars.interval)}: resampled bars skip them"]


def _analyze_timeframe(bars: Bars, name: str, seconds: float) -> TimeframeReport:
    count = len(bars)
    if count < MIN_BARS:
        message = (f"only {count} {name} bars; at least {MIN_BARS} are needed (give more "
                   "history or choose a finer timeframe)")
        return TimeframeReport(name, seconds, bars, False, message, f"{name}: {message}")
    if bars.high.max() == bars.low.min():
        message = (f"the price never moves on {name} (every bar is "
                   f"{_price_text(float(bars.close[-1]))}): there is no trend to measure")
        return TimeframeReport(name, seconds, bars, False, message, f"{name}: {message}")
    atr_pct = indicators.atr_percent(bars.high, bars.low, bars.close, ATR_PERIOD)
    figures: dict[str, Any] = {"time": float(bars.time[-1])}
    adx = _adx_figures(bars)
    regression, trend_line = _regression(bars)
    figures["direction"] = _direction(regression)
    figures["strength"] = _strength(adx["adx"])
    figures["adx"] = adx
    figures["regression"] = regression
    figures["moving_averages"] = _moving_averages(bars)
    figures["volatility"] = _volatility(bars, atr_pct)
    figures["character"] = _character(bars)
    levels, breakouts = _levels(bars, _last(atr_pct) / 100.0 * float(bars.close[-1]))
    figures["levels"] = levels
    figures["breakouts"] = breakouts
    figures["trend_line"] = trend_line
    figures = finite_or_none(figures)
    return TimeframeReport(name, seconds, bars, True, "", _summary(name, figures), figures)


def _last(values: np.ndarray) -> float:
    return float(values[-1]) if len(values) else math.nan


def _round(value: float, digits: int) -> float:
    return round(value, digits) if math.isfinite(value) else math.nan


def _adx_figures(bars: Bars) -> dict[str, Any]:
    adx, plus, minus = indicators.adx(bars.high, bars.low, bars.close, ADX_PERIOD)
    return {"period": ADX_PERIOD, "adx": _round(_last(adx), 2),
            "plus_di": _round(_last(plus), 2), "minus_di": _round(_last(minus), 2)}


def _regression(bars: Bars) -> tuple[dict[str, Any], dict[str, Any]]:
    count = min(REGRESSION_BARS, len(bars))
    closes = bars.close[-count:]
    slopes, t_stats, r2s = indicators.log_regression(closes, count)
    slope, t_stat, r2 = _last(slopes), _last(t_stats), _last(r2s)
    log_close = np.log(closes)
    noise = float(np.std(np.diff(log_close), ddof=1)) * math.sqrt(count - 1)
    trend_noise = slope * (count - 1) / noise if noise > 0.0 else math.nan
    regression = {"bars": count, "slope_pct_per_bar": _round(100.0 * math.expm1(slope), 4),
                  "t_stat": _round(t_stat, 2), "r2": _round(r2, 4),
                  "trend_noise": _round(trend_noise, 3)}
    # the line through the window's mean, and its residuals' deviation from SSE = (1-R²)·SST
    mean = float(log_close.mean())
    centred = log_close - mean
    residual_std = math.sqrt(max(1.0 - r2, 0.0) * float(centred @ centred) / (count - 2))
    start = mean - slope * (count - 1) / 2.0
    end = mean + slope * (count - 1) / 2.0
    channel = 100.0 * math.expm1(2.0 * residual_std)
    trend_line = {"time": [float(bars.time[-count]), float(bars.time[-1])],
                  "price": [math.exp(start), math.exp(end)], "channel_pct": _round(channel, 3)}
    return regression, trend_line


def _direction(regression: Mapping[str, float]) -> str:
    """up / down when the regression line explains enough of the price (R² >= TREND_R2) and
    its rise or fall over the window is at least TREND_NOISE random-walk moves; else
    sideways."""
    r2, score = regression["r2"], regression["trend_noise"]
    if not (math.isfinite(r2) and math.isfinite(score)) or r2 < TREND_R2:
        return "sideways"
    if score >= TREND_NOISE:
        return "up"
    return "down" if score <= -TREND_NOISE else "sideways"


def _strength(adx: float) -> str:
    if not math.isfinite(adx) or adx < TREND_ADX:
        return "weak"
    return "strong" if adx >= STRONG_ADX else "moderate"


def _moving_averages(bars: Bars) -> dict[str, Any]:
    close = bars.close
    values = [_last(indicators.sma(close[-period:], period)) for period in MA_PERIODS]
    defined = [value for value in values if math.isfinite(value)]
    price = float(close[-1])
    alignment = "mixed"
    if len(defined) >= 2:
        chain = [price, *defined]
        if all(a > b for a, b in itertools.pairwise(chain)):
            alignment = "bullish"
        elif all(a < b for a, b in itertools.pairwise(chain)):
            alignment = "bearish"
    fast, slow = (50, 200) if math.isfinite(values[2]) else (20, 50)
    return {"periods": list(MA_PERIODS), "values": values, "alignment": alignment,
            "last_cross": _last_cross(bars, fast, slow)}


def _last_cross(bars: Bars, fast: int, slow: int) -> dict[str, Any] | None:
    """The most recent bar where SMA(fast) - SMA(slow) changed sign (zeros skipped).

    Searched over the most recent bars first, eight times as many each time, as a cross is
    usually recent: on 1,000,000 bars this saves the two averages of the whole history
    (about 0.1 s). Each window's average is summed on its own, so the values do not depend
    on where the search starts."""
    close = bars.close
    span = 4096
    while True:
        start = max(0, len(close) - span - slow + 1)
        spread = indicators.sma(close[start:], fast) - indicators.sma(close[start:], slow)
        sign = np.sign(spread)
        index = np.flatnonzero(np.isfinite(spread) & (sign != 0))
        signs = sign[index]
        changes = np.flatnonzero(signs[1:] != signs[:-1])
        if changes.size:
            at = start + int(index[changes[-1] + 1])
            kind = "golden" if signs[changes[-1] + 1] > 0 else "death"
            return {"kind": kind, "time": float(bars.time[at]), "bars_ago": len(bars) - 1 - at,
                    "fast": fast, "slow": slow}
        if start == 0:
            return None
        span *= 8


def _volatility(bars: Bars, atr_pct: np.ndarray) -> dict[str, Any]:
    realised = indicators.realised_volatility(bars.close, VOL_WINDOW,
                                              YEAR_SECONDS / bars.interval)
    atr_now, vol_now = _last(atr_pct), _last(realised)
    atr_rank = stats.percentile_rank(atr_pct, atr_now)
    vol_rank = stats.percentile_rank(realised, vol_now)
    ranks = [rank for rank in (atr_rank, vol_rank) if math.isfinite(rank)]
    regime = _vol_regime(sum(ranks) / len(ranks)) if ranks else None
    return {"regime": regime, "atr_pct": _round(atr_now, 4), "atr_percentile":
            _round(atr_rank, 1), "realised_vol": _round(vol_now, 4),
            "realised_vol_percentile": _round(vol_rank, 1), "window": VOL_WINDOW}


def _vol_regime(percentile: float) -> str:
    calm, high, extreme = VOL_CUTS
    if percentile < calm:
        return "calm"
    if percentile < high:
        return "normal"
    return "high" if percentile < extreme else "extreme"


def _character(bars: Bars) -> dict[str, Any]:
    closes = bars.close[-CHARACTER_BARS:]
    log_prices = np.log(closes)
    ratio = stats.variance_ratio(log_prices, CHARACTER_LAG)
    hurst = stats.hurst_rs(np.diff(log_prices))
    label = "random"
    if math.isfinite(ratio.p_value) and ratio.p_value < 1.0 - CONFIDENCE:
        label = "trending" if ratio.ratio > 1.0 else "mean_reverting"
    return {"label": label, "hurst": _round(hurst, 3), "variance_ratio": _round(ratio.ratio, 4),
            "lag": CHARACTER_LAG, "z": _round(ratio.z, 3), "p_value": _round(ratio.p_value, 4),
            "confidence": CONFIDENCE, "bars": len(closes)}


def _levels(bars: Bars, atr: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Support and resistance from clustered swing highs and lows of the last LEVEL_BARS bars
    (within LEVEL_TOLERANCE ``atr`` of each other), and the closes that broke through them."""
    recent = bars.tail(LEVEL_BARS)
    price = float(recent.close[-1])
    tolerance = LEVEL_TOLERANCE * atr
    if not tolerance > 0.0:
        tolerance = LEVEL_TOLERANCE * float(np.median(recent.high - recent.low))
    times, prices = _swings(recent)
    if not prices.size or not tolerance > 0.0:
        return [], []
    clusters = []
    near = np.abs(prices[:, None] - prices[None, :]) <= tolerance
    left = np.ones(prices.size, dtype=bool)
    while True:  # the swing with the most others near it founds a level; they join it
        counts = np.where(left, (near & left).sum(axis=1), 0)
        centre = int(np.argmax(counts))
        if counts[centre] < MIN_TOUCHES:
            break
        members = near[centre] & left
        clusters.append((prices[members], np.sort(times[members])))
        left &= ~members
    levels = []
    for members, touched in clusters:
        level = float(members.mean())
        levels.append({"kind": "resistance" if level > price else "support", "price": level,
                       "low": float(members.min()), "high": float(members.max()),
                       "touches": int(members.size), "last_touch": float(touched[-1]),
                       "distance_pct": abs(level - price) / price * 100.0,
                       "_established": float(touched[MIN_TOUCHES - 1])})
    levels.sort(key=lambda level: level["distance_pct"])
    levels = levels[:MAX_LEVELS]
    breakouts = _breakouts(recent, levels)
    for level in levels:
        del level["_established"]
        level["distance_pct"] = round(level["distance_pct"], 3)
    return levels, breakouts


def _swings(bars: Bars) -> tuple[np.ndarray, np.ndarray]:
    """(times, prices) of the swing highs and lows: a high above the SWING_BARS highs before
    it and not below the SWING_BARS after it (lows mirrored)."""
    k = SWING_BARS
    if len(bars) < 2 * k + 1:
        return np.empty(0), np.empty(0)
    found_times, found_prices = [], []
    for series, sign in ((bars.high, 1.0), (bars.low, -1.0)):
        values = sign * series
        windows = sliding_window_view(values, k)
        centre = values[k:-k]
        before = windows[: len(centre)].max(axis=1)
        after = windows[k + 1: k + 1 + len(centre)].max(axis=1)
        swing = np.flatnonzero((centre > before) & (centre >= after)) + k
        found_times.append(bars.time[swing])
        found_prices.append(series[swing])
    return np.concatenate(found_times), np.concatenate(found_prices)


def _breakouts(bars: Bars, levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Closes through a level after its second touch, the BREAKOUT_BARS closes before on the
    other side (so a close that chops around the level is not a breakout every bar)."""
    close = bars.close
    k = BREAKOUT_BARS
    if len(close) <= k:
        return []
    before = sliding_window_view(close[:-1], k)  # row j: the k closes before bar j + k
    highest, lowest = before.max(axis=1), before.min(axis=1)
    now, times = close[k:], bars.time[k:]
    found = []
    for level in levels:
        after = times > level["_established"]
        up = np.flatnonzero(after & (highest <= level["high"]) & (now > level["high"]))
        down = np.flatnonzero(after & (lowest >= level["low"]) & (now < level["low"]))
        for index, direction in ((up, "up"), (down, "down")):
            for i in index[-MAX_BREAKOUTS:].tolist():
                found.append({"time": float(times[i]), "direction": direction,
                              "level": level["price"], "close": float(now[i])})
    found.sort(key=lambda breakout: breakout["time"], reverse=True)
    return found[:MAX_BREAKOUTS]


# --- words -----------------------------------------------------------------------------------

_DIRECTION_WORDS = {"up": "up-trend", "down": "down-trend", "sideways": "sideways"}
_CHARACTER_WORDS = {"trending": "trending", "mean_reverting": "mean-reverting",
                    "random": "random walk"}


def _summary(name: str, figures: Mapping[str, Any]) -> str:
    adx = figures["adx"]["adx"]
    # ADX grades a trend; beside "sideways" a grade would read as a contradiction ("sideways,
    # strong"), so a sideways market shows the number alone
    grade = "" if figures["direction"] == "sideways" else f", {figures['strength']}"
    parts = [f"{_DIRECTION_WORDS[figures['direction']]}{grade}"
             + (f" (ADX {adx:.0f})" if adx is not None else " (ADX not defined yet)")]
    volatility = figures["volatility"]
    if volatility["regime"] is not None:
        ranks = [r for r in (volatility["atr_percentile"], volatility["realised_vol_percentile"])
                 if r is not None]
        parts.append(f"{volatility['regime']} volatility "
                     f"({_ordinal(sum(ranks) / len(ranks))} percentile)")
    character = figures["character"]
    if character["variance_ratio"] is not None:
        parts.append(f"{_CHARACTER_WORDS[character['label']]} "
                     f"(VR {character['variance_ratio']:.2f}, p {character['p_value']:.2f})")
    if figures["levels"]:
        level = figures["levels"][0]
        parts.append(f"{level['kind']} at {_price_text(level['price'])} touched "
                     f"{level['touches']} times")
    return f"{name}: " + ", ".join(parts)


def _details(figures: Mapping[str, Any]) -> list[str]:
    adx, reg = figures["adx"], figures["regression"]
    ma, vol, char = figures["moving_averages"], figures["volatility"], figures["character"]
    lines = [
        f"ADX({adx['period']}) {_num(adx['adx'], 1)}, +DI {_num(adx['plus_di'], 1)}, "
        f"-DI {_num(adx['minus_di'], 1)}; regression over {reg['bars']} bars: "
        f"{_num(reg['slope_pct_per_bar'], 3)}% per bar, t {_num(reg['t_stat'], 1)}, "
        f"R² {_num(reg['r2'], 2)}",
        "moving averages " + ", ".join(
            f"SMA{p} {_price_text(v) if v is not None else 'n/a'}"
            for p, v in zip(ma["periods"], ma["values"], strict=True))
        + f": {ma['alignment']}" + _cross_text(ma["last_cross"]),
        f"volatility: ATR {_num(vol['atr_pct'], 2)}% of price "
        f"({_percentile_text(vol['atr_percentile'])}), realised "
        f"{_num(None if vol['realised_vol'] is None else 100 * vol['realised_vol'], 1)}% "
        f"a year ({_percentile_text(vol['realised_vol_percentile'])})",
        f"character: {_CHARACTER_WORDS[char['label']]}: variance ratio "
        f"VR({char['lag']}) {_num(char['variance_ratio'], 3)}, z {_num(char['z'], 2)}, "
        f"p {_num(char['p_value'], 3)}, Hurst {_num(char['hurst'], 2)} over "
        f"{char['bars']} bars",
    ]
    for level in figures["levels"]:
        lines.append(f"{level['kind']} {_price_text(level['price'])} "
                     f"({_price_text(level['low'])}-{_price_text(level['high'])}), "
                     f"{level['touches']} touches, last {_when(level['last_touch'])}, "
                     f"{level['distance_pct']:.2f}% away")
    for breakout in figures["breakouts"]:
        lines.append(f"breakout {breakout['direction']} through "
                     f"{_price_text(breakout['level'])} at {_when(breakout['time'])} "
                     f"(close {_price_text(breakout['close'])})")
    return lines


def _cross_text(cross: Mapping[str, Any] | None) -> str:
    if cross is None:
        return ""
    return (f"; last cross: {cross['kind']} ({cross['fast']}/{cross['slow']}) "
            f"{cross['bars_ago']} bars ago")


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percentile_text(value: float | None) -> str:
    return "percentile n/a" if value is None else f"{_ordinal(value)} percentile"


def _ordinal(value: float) -> str:
    number = math.floor(float(value) + 0.5)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(
        number % 10, "th")
    return f"{number}{suffix}"


def _price_text(price: float) -> str:
    if not math.isfinite(price):
        return "n/a"
    if abs(price) >= 1000:
        return f"{price:,.0f}"
    return f"{price:.4g}"


def _when(stamp: float) -> str:
    try:
        moment = dt.datetime.fromtimestamp(float(stamp), dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"time {stamp!r}"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    parts = []
    remaining = math.floor(float(seconds) + 0.5)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts[:2]) or "0s"
