"""A shard: a fixed set of live strategies fed batches of prices, inline or in a worker process.

The same class runs in the consumer thread (``workers=0``) and inside each worker process, so
a strategy's state never crosses a process boundary: a worker receives one message per batch
(the prices of the coins it trades) and answers with the signals of that batch.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from velocitas_desktop.catalog import StrategyRef, resolve
from velocitas_desktop.core.bars import BarBuilder
from velocitas_desktop.core.strategy import Strategy, StrategySpec
from velocitas_desktop.core.types import Signal, timeframe_seconds

# (strategy_id, index in the coin's price array, signal, price, timestamp)
RawSignal = tuple[str, int, Signal, float, float]
# coin -> (prices, timestamps) of one batch
CoinPrices = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(slots=True)
class Runner:
    spec: StrategySpec
    strategy: Strategy
    bar_seconds: float | None
    failed: bool = False


class Shard:
    """Owns strategies for their whole life and runs them over batches of prices."""

    def __init__(self) -> None:
        self.runners: dict[str, Runner] = {}
        self.by_coin: dict[str, list[Runner]] = {}
        # one bar builder per (coin, interval), shared by the strategies that use it
        self.bars: dict[tuple[str, float], BarBuilder] = {}

    def add(self, spec: StrategySpec, ref: StrategyRef,
            warmup: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Create the strategy from its spec; feed it ``warmup`` prices, ignoring signals."""
        cls = resolve(ref)
        strategy = cls(coin=spec.coin, timeframe=spec.timeframe, **dict(spec.params))
        runner = Runner(spec, strategy, timeframe_seconds(spec.timeframe))
        if warmup is not None and warmup[0].size:
            self._warm(runner, warmup[0], warmup[1])
        self.remove(spec.id)
        self.runners[spec.id] = runner
        self.by_coin.setdefault(spec.coin, []).append(runner)

    def _warm(self, runner: Runner, prices: np.ndarray, stamps: np.ndarray) -> None:
        if runner.bar_seconds is None:
            runner.strategy.run(prices, stamps)
            return
        builder = BarBuilder(runner.bar_seconds)
        for price, stamp in zip(prices.tolist(), stamps.tolist(), strict=True):
            bar = builder.push(price, stamp)
            if bar is not None:
                runner.strategy.update_bar(bar)
        # the shared builder of this coin/interval may not exist yet: seed it with the open bar
        key = (runner.spec.coin, runner.bar_seconds)
        if key not in self.bars:
            self.bars[key] = builder

    def remove(self, strategy_id: str) -> None:
        runner = self.runners.pop(strategy_id, None)
        if runner is None:
            return
        siblings = self.by_coin.get(runner.spec.coin, [])
        if runner in siblings:
            siblings.remove(runner)
        if not siblings:
            self.by_coin.pop(runner.spec.coin, None)

    def process(self, coins: CoinPrices) -> tuple[list[RawSignal], list[tuple[str, str]]]:
        """Run every strategy over its coin's prices; return signals and new failures."""
        signals: list[RawSignal] = []
        failures: list[tuple[str, str]] = []
        for coin, (prices, stamps) in coins.items():
            runners = self.by_coin.get(coin)
            if not runners:
                continue
            price_list: list[float] | None = None
            stamp_list: list[float] = []
            bar_events: dict[float, list[tuple[int, Any]]] = {}
            for runner in runners:
                if runner.failed:
                    continue
                try:
                    if runner.bar_seconds is None:
                        _run_ticks(runner, prices, stamps, signals)
                    else:
                        if price_list is None:
                            price_list, stamp_list = prices.tolist(), stamps.tolist()
                        if runner.bar_seconds not in bar_events:
                            bar_events[runner.bar_seconds] = self._close_bars(
                                coin, runner.bar_seconds, price_list, stamp_list)
                        _run_bars(runner, bar_events[runner.bar_seconds], signals)
                except Exception as exc:  # one strategy's bug must not stop the others
                    runner.failed = True
                    failures.append((runner.spec.id, _describe(exc)))
        return signals, failures

    def _close_bars(self, coin: str, seconds: float, prices: list[float],
                    stamps: list[float]) -> list[tuple[int, Any]]:
        """Bars closed by this batch, each with the index of the last tick inside it."""
        builder = self.bars.get((coin, seconds))
        if builder is None:
            builder = self.bars[(coin, seconds)] = BarBuilder(seconds)
        closed = []
        push = builder.push
        for i, (price, stamp) in enumerate(zip(prices, stamps, strict=True)):
            bar = push(price, stamp)
            if bar is not None:
                closed.append((i - 1, bar))
        return closed


# Below this many prices a batch goes through update() one price at a time: numpy's fixed
# cost per call makes run() slower on tiny batches (both give the same signals, tested).
SMALL_BATCH = 96


def _run_ticks(runner: Runner, prices: np.ndarray, stamps: np.ndarray,
               out: list[RawSignal]) -> None:
    sid = runner.spec.id
    if prices.shape[0] < SMALL_BATCH:
        update = runner.strategy.update
        price_list, stamp_list = prices.tolist(), stamps.tolist()
        for i, price in enumerate(price_list):
            signal = update(price, stamp_list[i])
            if signal is not None:
                out.append((sid, i, signal, price, stamp_list[i]))
        return
    for i, signal in runner.strategy.run(prices, stamps):
        out.append((sid, i, signal, float(prices[i]), float(stamps[i])))


def _run_bars(runner: Runner, bars: list[tuple[int, Any]], out: list[RawSignal]) -> None:
    update_bar = runner.strategy.update_bar
    sid = runner.spec.id
    for index, bar in bars:
        signal = update_bar(bar)
        if signal is not None:
            # a bar strategy fills at its bar's close, at the bar's close time
            out.append((sid, max(index, 0), signal, bar.close, bar.end))


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}{where}" if str(exc) else f"{text}{where}"

