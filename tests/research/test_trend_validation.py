"""The trend analyzer on synthetic bars whose answer is known (issue #16, point 5).

Every series is generated here from a fixed seed: planted up, down and sideways segments; calm
and volatile segments; trending (positively autocorrelated) and mean-reverting returns; a range
between planted support and resistance; pure random walks. A "window" is the analysis of the
bars up to a bar inside a segment, at least a stated margin after the segment began, so the
figures it reads lie wholly inside the segment. docs/trend.md states the same numbers.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import lfilter

from velocitas_desktop.research.trend import (
    CHARACTER_BARS,
    REGRESSION_BARS,
    Bars,
    analyze,
)

HOUR = 3600.0
START = 1_600_000_000.0 - 1_600_000_000.0 % 86_400
ACCURACY = 0.95  # the least share of windows labelled correctly, per label


def bars_from_log_close(log_close: np.ndarray, sigma: float | np.ndarray, seed: int) -> Bars:
    """Hourly OHLC bars around the closes ``exp(log_close)``: each bar opens at the previous
    close and its wicks reach half a return's deviation beyond the body."""
    rng = np.random.default_rng(seed + 10_000)
    close = np.exp(log_close)
    open_ = np.concatenate(([close[0]], close[:-1]))
    wicks = np.abs(rng.normal(0.0, 1.0, (2, len(close)))) * 0.5 * sigma
    high = np.maximum(open_, close) * np.exp(wicks[0])
    low = np.minimum(open_, close) * np.exp(-wicks[1])
    return Bars.from_arrays(START + HOUR * np.arange(len(close)), open_, high, low, close,
                            None, HOUR)


def prefix(bars: Bars, stop: int, keep: int | None = None) -> Bars:
    """The bars up to bar ``stop`` (exclusive), the last ``keep`` of them when given."""
    start = 0 if keep is None else max(0, stop - keep)
    return Bars(bars.time[start:stop], bars.open[start:stop], bars.high[start:stop],
                bars.low[start:stop], bars.close[start:stop], bars.volume[start:stop],
                bars.interval)


def share_correct(results: dict[str, list[bool]]) -> dict[str, float]:
    return {label: float(np.mean(hits)) for label, hits in results.items()}


def first_tf(bars: Bars) -> dict:
    report = analyze(bars, ["1h"])
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    return data["timeframes"][0]


# --- direction -------------------------------------------------------------------------------

SIGMA = 0.01        # 1% per bar
DRIFT = 0.0035      # planted trend: 0.35% per bar (0.35 sigma), 35% over the regression window
REVERT = 0.9        # sideways: log price pulled back 10% of the way to its level each bar
SEGMENT = 400
DIRECTION_MARGIN = REGRESSION_BARS  # windows start once the regression sees only the segment
DIRECTION_KINDS = ["sideways", "up", "sideways", "down", "up", "down", "sideways", "up", "down",
                   "sideways", "down", "up"]


def direction_series(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, SIGMA, len(DIRECTION_KINDS) * SEGMENT)
    x = np.empty(noise.size)
    last = math.log(100.0)
    for s, kind in enumerate(DIRECTION_KINDS):
        level = last
        part = noise[s * SEGMENT:(s + 1) * SEGMENT]
        if kind == "sideways":
            deviation = lfilter([1.0], [1.0, -REVERT], part, zi=[REVERT * (last - level)])[0]
            segment = level + deviation
        else:
            segment = last + np.cumsum(part + (DRIFT if kind == "up" else -DRIFT))
        x[s * SEGMENT:(s + 1) * SEGMENT] = segment
        last = segment[-1]
    return x


def test_planted_up_down_and_sideways_segments_are_labelled():
    # Windows of one segment overlap, so one unlucky segment sways a whole series: the share
    # is pooled over four series (about 250 windows per label).
    results: dict[str, list[bool]] = {}
    for seed in range(1, 5):
        bars = bars_from_log_close(direction_series(seed), SIGMA, seed)
        for s, kind in enumerate(DIRECTION_KINDS):
            for stop in range(s * SEGMENT + DIRECTION_MARGIN, (s + 1) * SEGMENT + 1, 20):
                label = first_tf(prefix(bars, stop, keep=300))["direction"]
                results.setdefault(kind, []).append(label == kind)
    shares = share_correct(results)
    assert min(shares.values()) >= ACCURACY, shares


# --- volatility ------------------------------------------------------------------------------

# (bars, sigma): a long ordinary stretch, then calm and volatile ones
VOLATILITY_SEGMENTS = [(3000, 0.01), (500, 0.003), (800, 0.01), (500, 0.03), (800, 0.01),
                       (500, 0.003), (500, 0.01), (500, 0.03)]
VOLATILITY_MARGIN = 60  # ATR(14)'s Wilder average and the 30-bar realised volatility settle
EXPECTED_REGIME = {0.003: {"calm"}, 0.03: {"high", "extreme"}}


def test_calm_and_volatile_segments_are_labelled_against_the_history():
    sigma = np.concatenate([np.full(count, s) for count, s in VOLATILITY_SEGMENTS])
    results: dict[str, list[bool]] = {}
    for seed in (3, 4):
        rng = np.random.default_rng(seed)
        log_close = math.log(100.0) + np.cumsum(rng.normal(0.0, sigma))
        bars = bars_from_log_close(log_close, sigma, seed)
        begin = 0
        for count, level in VOLATILITY_SEGMENTS:
            if level in EXPECTED_REGIME:
                for stop in range(begin + VOLATILITY_MARGIN, begin + count + 1, 20):
                    regime = first_tf(prefix(bars, stop))["volatility"]["regime"]
                    results.setdefault(str(level), []).append(regime in EXPECTED_REGIME[level])
            begin += count
    shares = share_correct(results)
    assert min(shares.values()) >= ACCURACY, shares


# --- character -------------------------------------------------------------------------------

PHI = 0.3           # autocorrelation of returns: +0.3 trending, -0.3 mean-reverting
CHARACTER_SEGMENT = 1200
CHARACTER_KINDS = ["trending", "mean_reverting"] * 3


def test_trending_and_mean_reverting_segments_are_labelled():
    results: dict[str, list[bool]] = {}
    for seed in (5, 6):
        rng = np.random.default_rng(seed)
        returns = [lfilter([1.0], [1.0, -PHI if kind == "trending" else PHI],
                           rng.normal(0.0, SIGMA, CHARACTER_SEGMENT))
                   for kind in CHARACTER_KINDS]
        log_close = math.log(100.0) + np.cumsum(np.concatenate(returns))
        bars = bars_from_log_close(log_close, SIGMA, seed)
        for s, kind in enumerate(CHARACTER_KINDS):
            for stop in range(s * CHARACTER_SEGMENT + CHARACTER_BARS + 1,
                              (s + 1) * CHARACTER_SEGMENT + 1, 25):
                window = prefix(bars, stop, keep=CHARACTER_BARS)
                results.setdefault(kind, []).append(
                    first_tf(window)["character"]["label"] == kind)
    shares = share_correct(results)
    assert min(shares.values()) >= ACCURACY, shares


@pytest.mark.parametrize("heavy_tails", [False, True])
def test_a_random_walk_is_random_at_the_stated_confidence(heavy_tails):
    # 300 independent walks of CHARACTER_BARS bars. At 95% confidence about 5% are called
    # trending or mean-reverting by chance: 15 of 300, with a binomial deviation of 3.8. The
    # bounds are 3 deviations either side, so the test fails for a biased test, not by luck.
    walks, called = 300, 0
    for seed in range(walks):
        rng = np.random.default_rng(1000 + seed)
        if heavy_tails:  # Student t(4) returns whose scale doubles for a stretch
            scale = np.where(np.arange(CHARACTER_BARS) % 200 < 100, SIGMA, 2 * SIGMA)
            returns = rng.standard_t(4, CHARACTER_BARS) * scale / math.sqrt(2)
        else:
            scale = SIGMA
            returns = rng.normal(0.0, SIGMA, CHARACTER_BARS)
        bars = bars_from_log_close(math.log(100.0) + np.cumsum(returns), scale, seed)
        character = first_tf(bars)["character"]
        assert character["confidence"] == 0.95 and character["bars"] == CHARACTER_BARS
        called += character["label"] != "random"
    assert 4 <= called <= 26, called


# --- support and resistance ------------------------------------------------------------------

SUPPORT, RESISTANCE = 95.0, 105.0
LEVEL_TOLERANCE = 0.005  # a found level's price within 0.5% of the planted one


def range_bound_series(seed: int, legs: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(close, high, low): legs between SUPPORT and RESISTANCE of 15 to 30 bars with 0.4%
    noise, each turning bar reaching the level to within 0.1%."""
    rng = np.random.default_rng(seed)
    close, high, low = [], [], []
    price = 100.0
    for leg in range(legs):
        target = RESISTANCE if leg % 2 == 0 else SUPPORT
        steps = int(rng.integers(15, 31))
        path = np.linspace(math.log(price), math.log(target), steps + 1)[1:]
        path[:-1] += rng.normal(0.0, 0.004, steps - 1)
        path = np.exp(path)
        path[:-1] = np.clip(path[:-1], SUPPORT * 1.01, RESISTANCE * 0.99)
        top = path * np.exp(np.abs(rng.normal(0.0, 0.002, steps)))
        bottom = path * np.exp(-np.abs(rng.normal(0.0, 0.002, steps)))
        top = np.minimum(top, RESISTANCE * 0.995)
        bottom = np.maximum(bottom, SUPPORT * 1.005)
        touch = target * (1.0 + rng.uniform(-0.001, 0.001))
        path[-1] = target * (0.997 if target == RESISTANCE else 1.003)
        if target == RESISTANCE:
            top[-1], bottom[-1] = touch, path[-1] * 0.998
        else:
            top[-1], bottom[-1] = path[-1] * 1.002, touch
        close += path.tolist()
        high += top.tolist()
        low += bottom.tolist()
        price = path[-1]
    return np.array(close), np.array(high), np.array(low)


def range_bars(close: np.ndarray, high: np.ndarray, low: np.ndarray) -> Bars:
    open_ = np.concatenate(([100.0], close[:-1]))
    return Bars.from_arrays(START + HOUR * np.arange(len(close)), open_,
                            np.maximum.reduce([high, open_, close]),
                            np.minimum.reduce([low, open_, close]), close, None, HOUR)


@pytest.mark.parametrize("seed", range(8))
def test_planted_support_and_resistance_are_found_with_their_touches(seed):
    bars = range_bars(*range_bound_series(seed))
    levels = first_tf(bars)["levels"]
    for planted, kind in ((RESISTANCE, "resistance"), (SUPPORT, "support")):
        near = [level for level in levels
                if abs(level["price"] / planted - 1.0) <= LEVEL_TOLERANCE]
        assert len(near) == 1, (planted, levels)
        assert near[0]["kind"] == kind and near[0]["touches"] >= 5
        assert near[0]["low"] <= planted * 1.001 and near[0]["high"] >= planted * 0.999
    strongest = sorted(levels, key=lambda level: level["touches"])[-2:]
    assert {round(level["price"] / 5) * 5 for level in strongest} == {SUPPORT, RESISTANCE}


@pytest.mark.parametrize("seed", range(4))
def test_a_close_through_planted_resistance_is_a_breakout(seed):
    close, high, low = range_bound_series(seed)
    rally = RESISTANCE * np.exp(np.linspace(0.0, 0.05, 21)[1:]) * 0.999 + 0.0
    rally[0] = RESISTANCE * 1.01  # the first close above the level
    bars = range_bars(np.concatenate((close, rally)), np.concatenate((high, rally * 1.002)),
                      np.concatenate((low, rally * 0.998)))
    tf = first_tf(bars)
    through = [b for b in tf["breakouts"]
               if b["direction"] == "up" and abs(b["level"] / RESISTANCE - 1) <= LEVEL_TOLERANCE]
    assert through and through[0]["time"] == bars.time[len(close)]
    assert through[0]["close"] == pytest.approx(RESISTANCE * 1.01)
    resistance = [level for level in tf["levels"]
                  if abs(level["price"] / RESISTANCE - 1) <= LEVEL_TOLERANCE]
    assert resistance[0]["kind"] == "support"  # broken resistance, now below the price
