"""Specification of the four built-in strategies: the bars each one signals on in a hand-made
price series, the warm-up rule, long-only trading through the ledger, proof that each
vectorised ``run()`` gives exactly the signals of ``update()`` per price, and proof that each
rule gives exactly the signals of the hand-written ``next()``/``signal_array()`` it replaced."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from velocitas_desktop.builtin_strategies.macd import MACD
from velocitas_desktop.builtin_strategies.momentum import Momentum
from velocitas_desktop.builtin_strategies.rsi import RSI
from velocitas_desktop.builtin_strategies.sma_crossover import SMA_Crossover

from velocitas_desktop.core import indicators
from velocitas_desktop.core.ledger import Ledger
from velocitas_desktop.core.strategy import Crossover, Param, Strategy
from velocitas_desktop.core.types import Action, Signal
from velocitas_desktop.feeds.csvdata import load_ohlcv

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "data" / "BTCUSD-1h-sample.csv"
BUY, SELL = Action.BUY, Action.SELL


def signal_bars(strategy: Strategy, prices) -> list[tuple[int, Action]]:
    """(index, action) of every signal ``update()`` gives, fed one price at a time."""
    out = []
    for i, price in enumerate(prices):
        signal = strategy.update(float(price), float(i))
        if signal is not None:
            out.append((i, signal.action))
    return out


def run_bars(strategy: Strategy, prices) -> list[tuple[int, Action]]:
    """(index, action) of every signal the batch ``run()`` gives on the whole series."""
    prices = np.asarray(prices, dtype=float)
    return [(i, s.action) for i, s in strategy.run(prices, np.arange(prices.size, dtype=float))]


def assert_signals(make, prices, expected) -> None:
    """Both the per-price and the batch form give exactly ``expected``."""
    assert signal_bars(make(), prices) == expected
    assert run_bars(make(), prices) == expected


# --- signal bars on hand-made series ----------------------------------------------------------

SMA_PRICES = [10, 11, 12, 13, 12, 11, 10, 11, 12, 12, 10, 12, 13, 9, 13, 9, 11, 15]
# fast = SMA(2), slow = SMA(4); d = fast - slow, sign kept through d = 0.
#  i  price  fast   slow    d      crossing
#  3   13   12.5   11.5   +1      first defined: sign +, no signal
#  4   12   12.5   12     +0.5
#  5   11   11.5   12     -0.5    below -> SELL
#  6   10   10.5   11.5   -1
#  7   11   10.5   11     -0.5
#  8   12   11.5   11     +0.5    above -> BUY
#  9   12   12     11.25  +0.75
# 10   10   11     11.25  -0.25   below -> SELL
# 11   12   11     11.5   -0.5
# 12   13   12.5   11.75  +0.75   above -> BUY
# 13    9   11     11      0      tie keeps +
# 14   13   11     11.75  -0.75   below (from the kept +) -> SELL
# 15    9   11     11      0      tie keeps -
# 16   11   10     10.5   -0.5    still below: a touch is not a crossing
# 17   15   13     12     +1      above -> BUY


def test_sma_crossover_signals_where_the_fast_average_crosses_the_slow_one():
    assert_signals(lambda: SMA_Crossover(coin="BTC", fast=2, slow=4), SMA_PRICES,
                   [(5, SELL), (8, BUY), (10, SELL), (12, BUY), (14, SELL), (17, BUY)])


MOMENTUM_PRICES = [100, 100, 110, 100, 100, 105, 110, 110, 104.5, 99, 99, 110, 103, 121, 100, 95]
# ROC(2) = 100 * (p[i] - p[i-2]) / p[i-2]; BUY when it crosses above +5, SELL below -5.
#  i  price  ROC     vs +5   vs -5   signal
#  2  110   +10      +       +       first defined: no signal although above +5
#  3  100     0      -       +       falls under +5: not a signal
#  4  100    -9.09   -       -       below -5 -> SELL
#  5  105    +5      tie -   +       touching +5 is not crossing it
#  6  110   +10      +       +       above +5 -> BUY
#  7  110    +4.76   -       +
#  8  104.5  -5      -       tie +   touching -5 is not crossing it
#  9   99   -10      -       -       below -5 -> SELL
# 10   99    -5.26   -       -
# 11  110   +11.1    +       +       above +5 -> BUY
# 12  103    +4.04   -       +
# 13  121   +10      +       +       above +5 -> BUY (again)
# 14  100    -2.91   -       +
# 15   95   -21.5    -       -       below -5 -> SELL


def test_momentum_signals_where_the_rate_of_change_crosses_its_thresholds():
    assert_signals(lambda: Momentum(coin="BTC", period=2, threshold=5), MOMENTUM_PRICES,
                   [(4, SELL), (6, BUY), (9, SELL), (11, BUY), (13, BUY), (15, SELL)])


def test_momentum_with_a_zero_threshold_signals_on_every_change_of_direction():
    # ROC(1) signs: (i1) +, -, -, 0 (tie keeps -), +, -  -> SELL at 2, BUY at 5, SELL at 6
    assert_signals(lambda: Momentum(coin="BTC", period=1, threshold=0), [10, 11, 10, 9, 9, 10, 9],
                   [(2, SELL), (5, BUY), (6, SELL)])


RSI_PRICES = [10, 11, 12, 11, 10, 9, 10, 12, 11, 10, 10, 8]
# Wilder RSI(2): seed = mean of the first 2 gains / losses, then avg = (avg + new) / 2;
# RSI = 100 * gain / (gain + loss). BUY when it crosses below 30, SELL when above 70.
#  i  price change  gain       loss       RSI     signal
#  2   12    +1     1          0          100     first defined: no SELL although above 70
#  3   11    -1     0.5        0.5         50     falls under 70: not a signal
#  4   10    -1     0.25       0.75        25     below 30 -> BUY
#  5    9    -1     0.125      0.875       12.5
#  6   10    +1     0.5625     0.4375      56.25
#  7   12    +2     1.28125    0.21875     85.42  above 70 -> SELL
#  8   11    -1     0.640625   0.609375    51.25
#  9   10    -1     0.3203125  0.8046875   28.47  below 30 -> BUY
# 10   10     0     0.16015625 0.40234375  28.47  no change halves both: RSI stays
# 11    8    -2     0.08007813 1.20117188   6.25


def test_rsi_signals_where_wilders_rsi_crosses_its_bands():
    assert_signals(lambda: RSI(coin="BTC", period=2, oversold=30, overbought=70), RSI_PRICES,
                   [(4, BUY), (7, SELL), (9, BUY)])


MACD_PRICES = [10, 10, 10, 10, 10, 10, 10, 12, 14, 13, 11, 9, 8, 8, 9, 11, 13, 14, 12, 10]
# EMA(3) alpha 1/2, EMA(7) alpha 1/4 (both seeded with the first price, the slow one reported
# from the 7th price), MACD line = EMA(3) - EMA(7) from i=6, signal = EMA(3) of the line
# seeded with its first value and reported from its 3rd (i=8). d = line - signal.
#  i  price  EMA(3)   EMA(7)   line      signal    d        signal
#  6   10    10       10        0         -         -
#  7   12    11       10.5      0.5       -         -       line defined, signal not yet
#  8   14    12.5     11.375    1.125     0.6875   +0.4375  first defined: no BUY
#  9   13    12.75    11.78     0.969     0.828    +0.141
# 10   11    11.875   11.586    0.289     0.559    -0.270   below -> SELL
# 11    9    10.438   10.939   -0.502     0.028    -0.530
# 12    8     9.219   10.205   -0.986    -0.479    -0.507
# 13    8     8.609    9.653   -1.044    -0.761    -0.283
# 14    9     8.805    9.490   -0.685    -0.723    +0.038   above -> BUY
# 15-17 rising                                     +
# 18   12    12.363   11.616    0.747     0.740    +0.007
# 19   10    11.181   11.212   -0.031     0.355    -0.385   below -> SELL


def test_macd_signals_where_the_macd_line_crosses_its_signal_line():
    assert_signals(lambda: MACD(coin="BTC", fast=3, slow=7, signal=3), MACD_PRICES,
                   [(10, SELL), (14, BUY), (19, SELL)])


def test_signals_carry_the_quantity_parameter():
    strategy = SMA_Crossover(coin="BTC", fast=2, slow=4, quantity=0.25)
    signals = [s for s in map(strategy.update, map(float, SMA_PRICES)) if s is not None]
    assert {s.quantity for s in signals} == {0.25}
    batch = SMA_Crossover(coin="BTC", fast=2, slow=4, quantity=0.25).run(
        np.array(SMA_PRICES, dtype=float), np.zeros(len(SMA_PRICES)))
    assert {s.quantity for _, s in batch} == {0.25}


def test_the_defaults_are_the_documented_ones():
    # quantity 0: each BUY opens a position worth the account's capital
    assert SMA_Crossover.defaults() == {"fast": 10, "slow": 30, "quantity": 0.0}
    assert Momentum.defaults() == {"period": 20, "threshold": 0.0, "quantity": 0.0}
    assert RSI.defaults() == {"period": 14, "oversold": 30.0, "overbought": 70.0,
                              "quantity": 0.0}
    assert MACD.defaults() == {"fast": 12, "slow": 26, "signal": 9, "quantity": 0.0}


# --- the warm-up rule ---------------------------------------------------------------------------

# (factory, index of the first price on which every average involved is defined)
WARM_UP = {
    "SMA_Crossover": (lambda: SMA_Crossover(coin="BTC", fast=3, slow=5), 4),
    "Momentum": (lambda: Momentum(coin="BTC", period=4, threshold=0.5), 4),
    "RSI": (lambda: RSI(coin="BTC", period=3, oversold=45, overbought=55), 3),
    "MACD": (lambda: MACD(coin="BTC", fast=2, slow=4, signal=3), 5),
}


@pytest.mark.parametrize("name", list(WARM_UP))
def test_no_signal_until_every_average_is_defined_on_the_current_and_previous_price(name):
    make, first_defined = WARM_UP[name]
    rng = np.random.default_rng(7)
    earliest = []
    for _ in range(400):
        prices = np.round(100 + np.cumsum(rng.normal(0, 1, 30)), 1)
        bars = signal_bars(make(), prices)
        assert run_bars(make(), prices) == bars
        if bars:
            earliest.append(bars[0][0])
    # never on the first defined price, but as soon as the next one in some series
    assert min(earliest) == first_defined + 1


def test_a_fast_average_already_above_when_the_slow_one_appears_is_not_a_buy():
    # SMA(2): 9.5, 8.5, 14 - below anything slow could be, then above at i=3 where SMA(4)
    # = 11.75 first exists; the crossing happened while the slow average was undefined.
    assert signal_bars(SMA_Crossover(coin="BTC", fast=2, slow=4), [10, 9, 8, 20, 21]) == []


# --- long-only trading through the ledger -------------------------------------------------------

def trade_through_ledger(strategy: Strategy, prices, **ledger_options):
    """Feed each price to ``strategy`` and fill its signals in a ledger, as the engine does."""
    allow_short = ledger_options.pop("allow_short", False)
    ledger = Ledger(fee_rate=0.0, **ledger_options)
    book = ledger.open_book("BTC_" + strategy.name, "BTC", strategy.name, allow_short)
    for i, price in enumerate(prices):
        signal = strategy.update(float(price), float(i))
        if signal is not None:
            ledger.fill(book.strategy_id, signal, float(price), float(i))
        book.mark(float(price))
    return ledger, book


def test_spot_is_long_only_buy_opens_sell_closes_and_the_rest_do_nothing():
    # Momentum's signals: SELL 4 (flat: nothing), BUY 6 (opens), SELL 9 (closes),
    # BUY 11 (opens), BUY 13 (already long: nothing), SELL 15 (closes)
    ledger, book = trade_through_ledger(Momentum(coin="BTC", period=2, threshold=5, quantity=2.5),
                                        MOMENTUM_PRICES)
    assert [(t.timestamp, t.action, t.price, t.quantity, t.position_size)
            for t in ledger.trades] == [
        (6.0, "BUY", 110.0, 2.5, 2.5),
        (9.0, "SELL", 99.0, 2.5, 0.0),
        (11.0, "BUY", 110.0, 2.5, 2.5),
        (15.0, "SELL", 95.0, 2.5, 0.0),
    ]
    assert [t.profit_loss for t in ledger.trades] == [0.0, -27.5, 0.0, -37.5]
    assert book.position == 0.0
    assert book.metrics()["total_trades"] == 4


def test_a_sell_when_flat_opens_a_short_only_when_shorting_is_allowed():
    strategy = SMA_Crossover(coin="BTC", fast=2, slow=4, quantity=1)
    ledger, _ = trade_through_ledger(strategy, SMA_PRICES[:9], allow_short=True)
    # SELL at 5 opens a short of 1 at 11, BUY at 8 covers it at 12
    assert [(t.timestamp, t.action, t.position_size, t.profit_loss) for t in ledger.trades] == [
        (5.0, "SELL", -1.0, 0.0), (8.0, "BUY", 0.0, -1.0)]


# --- the vectorised run() is the incremental update() -------------------------------------------

def make_strategy(draw, name: str) -> Strategy:
    """A built-in with small random parameters, so that short series produce signals."""
    if name == "SMA_Crossover":
        fast = draw(st.integers(2, 6))
        return SMA_Crossover(coin="BTC", fast=fast, slow=draw(st.integers(fast + 1, 12)))
    if name == "Momentum":
        return Momentum(coin="BTC", period=draw(st.integers(1, 8)),
                        threshold=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0])))
    if name == "RSI":
        return RSI(coin="BTC", period=draw(st.integers(2, 8)),
                   oversold=draw(st.sampled_from([20.0, 30.0, 40.0, 50.0])),
                   overbought=draw(st.sampled_from([55.0, 60.0, 70.0, 80.0])))
    fast = draw(st.integers(2, 5))
    return MACD(coin="BTC", fast=fast, slow=draw(st.integers(fast + 1, 10)),
                signal=draw(st.integers(1, 5)))


@st.composite
def random_walks(draw) -> np.ndarray:
    """A positive random walk of 20-200 prices; rounded to few decimals two times in three,
    which makes ties (equal averages, a rate of change of exactly the threshold...)."""
    size = draw(st.integers(20, 200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    prices = 100.0 + np.cumsum(rng.normal(0.0, draw(st.sampled_from([0.3, 1.0, 3.0])), size))
    decimals = draw(st.sampled_from([None, 0, 1]))
    return prices if decimals is None else np.round(prices, decimals)


def batches(draw, length: int) -> list[tuple[int, int]]:
    cuts = sorted(draw(st.lists(st.integers(0, length), max_size=8)))
    bounds = [0, *cuts, length]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b >= a]


def assert_run_equals_update(make, prices: np.ndarray, spans, per_price) -> None:
    stamps = np.arange(prices.size, dtype=float) * 60.0
    reference = make()
    expected = [(i, s) for i in range(prices.size)
                if (s := reference.update(float(prices[i]), float(stamps[i]))) is not None]
    strategy = make()
    got: list[tuple[int, Signal]] = []
    for (start, end), one_by_one in zip(spans, per_price, strict=True):
        if one_by_one:  # the engine may switch forms between batches: state must carry over
            for i in range(start, end):
                signal = strategy.update(float(prices[i]), float(stamps[i]))
                if signal is not None:
                    got.append((i, signal))
        else:
            got.extend((start + i, s)
                       for i, s in strategy.run(prices[start:end], stamps[start:end]))
    assert got == expected
    assert (strategy.price, strategy.timestamp) == (reference.price, reference.timestamp)


@pytest.mark.parametrize("name", ["SMA_Crossover", "Momentum", "RSI", "MACD"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_run_over_any_batches_gives_exactly_the_signals_of_update_per_price(name, data):
    seed = make_strategy(data.draw, name)
    params = seed.param_values
    prices = data.draw(random_walks())
    spans = batches(data.draw, prices.size)
    per_price = data.draw(st.lists(st.booleans(), min_size=len(spans), max_size=len(spans)))
    assert_run_equals_update(lambda: type(seed)(coin="BTC", **params), prices, spans, per_price)


@pytest.fixture(scope="module")
def sample_closes() -> np.ndarray:
    return np.array(load_ohlcv(SAMPLE).close, dtype=float)


@pytest.mark.parametrize(("cls", "params"), [
    (SMA_Crossover, {}), (SMA_Crossover, {"fast": 3, "slow": 8}),
    (Momentum, {}), (Momentum, {"period": 5, "threshold": 1.0}),
    (RSI, {}), (RSI, {"period": 5, "oversold": 25, "overbought": 75}),
    (MACD, {}), (MACD, {"fast": 4, "slow": 9, "signal": 3}),
])
def test_run_equals_update_on_the_real_btc_sample(cls, params, sample_closes):
    n = sample_closes.size
    rng = np.random.default_rng(11)
    cuts = sorted(rng.integers(0, n, 25).tolist())
    bounds = [0, *cuts, n]
    spans = list(itertools.pairwise(bounds))
    reference = cls(coin="BTC", **params)
    signals = [s for s in map(reference.update, sample_closes.tolist()) if s is not None]
    assert len(signals) >= 10  # the comparison below is not vacuous
    whole = cls(coin="BTC", **params).run(sample_closes, np.arange(n, dtype=float))
    assert [s for _, s in whole] == signals
    assert_run_equals_update(lambda: cls(coin="BTC", **params), sample_closes, spans,
                             [i % 3 == 0 for i in range(len(spans))])


# --- each rule gives exactly the signals of the hand-written code it replaced ----------------
# Until the built-ins stated their rules once, each wrote it twice, per price and per batch.
# Those implementations, copied here unchanged but for their names, are the reference.

class HandWrittenSMA_Crossover(Strategy):
    """Buy when the fast SMA crosses above the slow one; sell when it crosses below."""

    fast = Param(10, low=2, high=500, step=1, doc="prices in the fast average")
    slow = Param(30, low=3, high=2000, step=1, doc="prices in the slow average")
    constraints = ("fast < slow",)

    def init(self) -> None:
        self.fast_ma = self.indicator(indicators.SMA, self.fast)
        self.slow_ma = self.indicator(indicators.SMA, self.slow)
        self.cross = Crossover()

    def next(self):
        crossing = self.cross.update(self.fast_ma.value, self.slow_ma.value)
        if crossing > 0:
            return self.buy()
        if crossing < 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        return self.cross.update_many(self.fast_ma.update_many(prices),
                                      self.slow_ma.update_many(prices))


class HandWrittenMomentum(Strategy):
    """Buy when the rate of change crosses above +threshold %; sell below −threshold %."""

    period = Param(20, low=1, high=1000, step=1, doc="prices back for the rate of change")
    threshold = Param(0.0, low=0.0, high=100.0, step=0.1, doc="percent the change must clear")

    def init(self) -> None:
        self.roc = self.indicator(indicators.ROC, self.period)
        self.rise = Crossover()
        self.fall = Crossover()

    def next(self):
        rose = self.rise.update(self.roc.value, self.threshold)
        fell = self.fall.update(self.roc.value, -self.threshold)
        if rose > 0:
            return self.buy()
        if fell < 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        roc = self.roc.update_many(prices)
        rose = self.rise.update_many(roc, self.threshold)
        fell = self.fall.update_many(roc, -self.threshold)
        return np.where(rose > 0, 1, np.where(fell < 0, -1, 0))


class HandWrittenRSI(Strategy):
    """Buy when Wilder's RSI crosses below oversold; sell when it crosses above overbought."""

    period = Param(14, low=2, high=500, step=1, doc="prices in Wilder's RSI")
    oversold = Param(30.0, low=0.0, high=100.0, step=5.0, doc="buy when RSI falls below this")
    overbought = Param(70.0, low=0.0, high=100.0, step=5.0, doc="sell when RSI rises above this")
    constraints = ("oversold < overbought",)

    def init(self) -> None:
        self.rsi = self.indicator(indicators.RSI, self.period)
        self.low_band = Crossover()
        self.high_band = Crossover()

    def next(self):
        below = self.low_band.update(self.rsi.value, self.oversold)
        above = self.high_band.update(self.rsi.value, self.overbought)
        if below < 0:
            return self.buy()
        if above > 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        rsi = self.rsi.update_many(prices)
        below = self.low_band.update_many(rsi, self.oversold)
        above = self.high_band.update_many(rsi, self.overbought)
        return np.where(below < 0, 1, np.where(above > 0, -1, 0))


class HandWrittenMACD(Strategy):
    """Buy when the MACD line crosses above its signal line; sell when it crosses below."""

    fast = Param(12, low=2, high=500, step=1, doc="prices in the fast EMA")
    slow = Param(26, low=3, high=1000, step=1, doc="prices in the slow EMA")
    signal = Param(9, low=1, high=500, step=1, doc="MACD values in the signal EMA")
    constraints = ("fast < slow",)

    def init(self) -> None:
        self.macd = self.indicator(indicators.MACD, self.fast, self.slow, self.signal)
        self.cross = Crossover()

    def next(self):
        crossing = self.cross.update(self.macd.macd, self.macd.signal)
        if crossing > 0:
            return self.buy()
        if crossing < 0:
            return self.sell()
        return None

    def signal_array(self, prices, stamps):
        line, signal, _ = self.macd.update_many(prices)
        return self.cross.update_many(line, signal)


HAND_WRITTEN = {SMA_Crossover: HandWrittenSMA_Crossover, Momentum: HandWrittenMomentum,
                RSI: HandWrittenRSI, MACD: HandWrittenMACD}

PARAMETER_SETS = [
    (SMA_Crossover, {}), (SMA_Crossover, {"fast": 2, "slow": 3}),
    (SMA_Crossover, {"fast": 4, "slow": 40}),
    (Momentum, {}), (Momentum, {"period": 1, "threshold": 0.0}),
    (Momentum, {"period": 3, "threshold": 0.5}), (Momentum, {"period": 10, "threshold": 2.0}),
    (RSI, {}), (RSI, {"period": 2, "oversold": 30, "overbought": 70}),
    (RSI, {"period": 5, "oversold": 45, "overbought": 55}),
    (MACD, {}), (MACD, {"fast": 2, "slow": 4, "signal": 2}),
    (MACD, {"fast": 3, "slow": 7, "signal": 3}),
]


def walk(seed: int, size: int, step: float, decimals: int | None = None) -> np.ndarray:
    prices = 100.0 + np.cumsum(np.random.default_rng(seed).normal(0.0, step, size))
    return prices if decimals is None else np.round(prices, decimals)


SERIES = {
    "random walk": walk(21, 3000, 1.0),
    # whole prices moving by a third of a unit: flat stretches, equal averages, a rate of
    # change of exactly the threshold, RSI at 0 in a flat market
    "rounded walk with ties": walk(22, 3000, 0.3, decimals=0),
    # barely longer than the warm-up: the first crossings meet the nan averages
    "short, mostly warm-up": walk(23, 45, 2.0, decimals=1),
}


def mixed_signals(strategy: Strategy, prices: np.ndarray, cuts: list[int],
                  one_by_one: list[bool]) -> list[tuple[int, Signal]]:
    """The signals of ``strategy`` fed the series in spans between ``cuts``, each span per
    price or as one batch, as the engine does."""
    stamps = np.arange(prices.size, dtype=float)
    bounds = [0, *cuts, prices.size]
    out: list[tuple[int, Signal]] = []
    for (start, end), single in zip(itertools.pairwise(bounds), one_by_one, strict=True):
        if single:
            out.extend((i, s) for i in range(start, end)
                       if (s := strategy.update(float(prices[i]), stamps[i])) is not None)
        else:
            out.extend((start + i, s) for i, s in strategy.run(prices[start:end],
                                                               stamps[start:end]))
    return out


@pytest.mark.parametrize("series", list(SERIES))
@pytest.mark.parametrize(("cls", "params"), PARAMETER_SETS,
                         ids=[f"{c.__name__}{p or ''}" for c, p in PARAMETER_SETS])
def test_the_rule_gives_the_hand_written_signals_per_price_per_batch_and_across_batches(
        cls, params, series):
    prices = SERIES[series]
    n = prices.size
    make_rule = lambda: cls(coin="BTC", **params)  # noqa: E731
    make_reference = lambda: HAND_WRITTEN[cls](coin="BTC", **params)  # noqa: E731
    per_price = mixed_signals(make_reference(), prices, [], [True])
    assert mixed_signals(make_rule(), prices, [], [True]) == per_price
    assert mixed_signals(make_rule(), prices, [], [False]) == mixed_signals(
        make_reference(), prices, [], [False])
    rng = np.random.default_rng(n)
    for _ in range(6):
        cuts = sorted(rng.integers(0, n + 1, rng.integers(1, 12)).tolist())
        one_by_one = rng.random(len(cuts) + 1).tolist()
        flags = [x < 0.5 for x in one_by_one]
        assert mixed_signals(make_rule(), prices, cuts, flags) == mixed_signals(
            make_reference(), prices, cuts, flags)


@pytest.mark.parametrize(("cls", "params"), PARAMETER_SETS,
                         ids=[f"{c.__name__}{p or ''}" for c, p in PARAMETER_SETS])
def test_the_comparison_with_the_hand_written_code_is_not_vacuous(cls, params):
    for series in ("random walk", "rounded walk with ties"):
        reference = HAND_WRITTEN[cls](coin="BTC", **params)
        assert len(mixed_signals(reference, SERIES[series], [], [True])) >= 5


def test_the_rounded_walk_makes_the_ties_the_crossing_rule_must_keep():
    prices = SERIES["rounded walk with ties"]
    assert np.count_nonzero(indicators.sma(prices, 2) == indicators.sma(prices, 3)) > 100
    assert np.count_nonzero(indicators.roc(prices, 1) == 0.0) > 100


# --- the documentation shows the real thing ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", "docs/strategies.md"])
def test_the_documented_example_is_the_built_in_sma_crossover_file_itself(document):
    source = (ROOT / "strategies" / "sma_crossover.py").read_text(encoding="utf-8")
    assert f"```python\n{source}```" in (ROOT / document).read_text(encoding="utf-8")
