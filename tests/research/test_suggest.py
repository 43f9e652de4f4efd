"""Strategy suggestions: walk-forward evidence against holding and cash, after fees, on
series whose answer is known; progress, cancel, user strategies, look-ahead, bad settings."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from velocitas_desktop.catalog import Catalog, StrategyInfo, StrategyRef, load_catalog
from velocitas_desktop.core.strategy import Param, Strategy
from velocitas_desktop.research.backtest import BarSeries, backtest
from velocitas_desktop.research.optimize import OptimizeError
from velocitas_desktop.research.suggest import SuggestError, SuggestSettings, suggest
from velocitas_desktop.research.trend import Bars, TrendError

HOUR = 3600.0
BARS = 2500  # 4 folds: five windows of 500 hourly bars


def bars_of(prices: np.ndarray, interval: float = HOUR) -> Bars:
    opened = 1_600_000_000.0 + interval * np.arange(len(prices))
    return Bars.from_arrays(opened, prices, prices, prices, prices, interval=interval)


def swings(seed: int = 7, n: int = BARS, amplitude: float = 0.3) -> np.ndarray:
    """Price swinging ±30% on a 250-bar cycle with a little noise: trend followers ride each
    swing, a dip buyer sells into the rally too early and holds through the fall."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100.0 * np.exp(amplitude * np.sin(2 * np.pi * t / 250)
                          + np.cumsum(rng.normal(0, 0.002, n)))


def steady_rise(seed: int = 7, n: int = BARS) -> np.ndarray:
    """A steady up-trend (+0.1% a bar) with small noise: holding wins."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(0.001 * np.arange(n) + np.cumsum(rng.normal(0, 0.003, n)))


def steady_fall(seed: int = 7, n: int = BARS) -> np.ndarray:
    """A noisy down-trend: long-only strategies lose less than holding, but still lose."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(-0.0005 * np.arange(n) + np.cumsum(rng.normal(0, 0.006, n)))


def run(prices: np.ndarray, strategies: tuple[str, ...] = ("SMA_Crossover", "RSI"),
        **settings) -> dict:
    return suggest(bars_of(prices), SuggestSettings(workers=0, strategies=strategies,
                                                    **settings))


def test_trend_following_on_swings_is_ranked_first_and_beats_holding_and_cash():
    result = run(swings())
    assert [item["strategy"] for item in result["items"]] == ["SMA_Crossover"]
    best = result["items"][0]
    assert best["rank"] == 1 and best["beats_hold"] and best["beats_cash"]
    assert best["oos_return_pct"] > result["hold"]["oos_return_pct"] + 100
    assert best["trades"] > 0 and best["fees"] > 0 and best["timeframe"] == "1h"
    assert len(best["folds"]) == 4 and best["fitted_on"]["bars"] == 500
    assert set(best["params"]) >= {"fast", "slow"}
    assert result["verdict"] == ""
    assert [r["strategy"] for r in result["rejected"]] == ["RSI"]
    assert result["lookahead"] == [{"strategy": "SMA_Crossover", "ok": True,
                                    "prefix_bars": 1250, "first_difference": None,
                                    "message": result["lookahead"][0]["message"]}]


def test_the_figures_compound_the_folds_and_hold_pays_both_legs():
    result = run(swings(), strategies=("SMA_Crossover",))
    best = result["items"][0]
    growth = np.prod([1 + fold["oos_return_pct"] / 100 for fold in best["folds"]])
    assert best["oos_return_pct"] == pytest.approx((growth - 1) * 100)
    assert best["trades"] == sum(fold["trades"] for fold in best["folds"])
    assert best["fees"] == pytest.approx(sum(fold["fees"] for fold in best["folds"]))
    held = np.prod([1 + fold["hold_return_pct"] / 100 for fold in best["folds"]])
    assert result["hold"]["oos_return_pct"] == pytest.approx((held - 1) * 100)
    # each window's hold buys 10,000 worth and sells it: a fee on each leg
    windows = result["windows"][1:]
    prices = swings()
    fees = 0.0
    for window in windows:
        first = int((window["from"] - 1_600_000_000.0) / HOUR)
        last = int((window["to"] - 1_600_000_000.0) / HOUR)
        units = 10_000.0 / prices[first]
        fees += 10_000.0 * 0.001 + units * prices[last] * 0.001
    assert result["hold"]["fees"] == pytest.approx(fees)


def test_a_steady_rise_where_holding_wins_gets_no_suggestion_and_a_verdict_with_the_best():
    result = run(steady_rise())
    assert result["items"] == []
    best = result["rejected"][0]
    assert not best["beats_hold"] and best["beats_cash"]
    assert result["verdict"].startswith(
        "Nothing beat holding or cash out of sample after fees: the best, "
        f"{best['strategy']} (")
    assert f"{best['oos_return_pct']:+.2f}%" in result["verdict"]
    assert f"{result['hold']['oos_return_pct']:+.2f}% for holding" in result["verdict"]
    assert "less than holding" in best["reason"] and result["lookahead"] == []


def test_a_fall_where_strategies_lose_less_than_holding_is_still_no_suggestion():
    result = run(steady_fall(), strategies=("SMA_Crossover",))
    best = result["rejected"][0]
    assert result["items"] == [] and result["hold"]["oos_return_pct"] < 0
    assert best["beats_hold"] and not best["beats_cash"]
    assert best["reason"].endswith("less than cash (0%)") and "0% for cash" in result["verdict"]


def test_fees_are_counted_a_high_fee_turns_the_winner_into_a_rejection():
    gentle = swings(amplitude=0.05)  # ±5%: a crossover catches a few % a swing
    cheap = run(gentle, strategies=("SMA_Crossover",), fee=0.001)
    dear = run(gentle, strategies=("SMA_Crossover",), fee=0.03)
    assert cheap["items"] and cheap["items"][0]["oos_return_pct"] > 10
    assert dear["items"] == [] and dear["rejected"][0]["fees"] > 10 * cheap["items"][0]["fees"]
    assert dear["rejected"][0]["oos_return_pct"] < 0 and dear["verdict"]
    free = run(gentle, strategies=("SMA_Crossover",), fee=0.0)
    assert free["items"][0]["fees"] == 0.0 and free["hold"]["fees"] == 0.0


def test_a_position_open_at_a_window_end_is_sold_at_its_last_close_paying_the_fee():
    prices = swings()
    result = run(prices, strategies=("SMA_Crossover",))
    series = BarSeries.from_arrays(prices, 1_600_000_000.0 + HOUR * np.arange(1, BARS + 1))
    opened = 0
    for fold in result["items"][0]["folds"]:
        start = round((fold["out_of_sample"]["from"] - 1_600_000_000.0) / HOUR)
        stop = round((fold["out_of_sample"]["to"] - 1_600_000_000.0) / HOUR) + 1
        stats = backtest("SMA_Crossover", series.slice(start, stop), fold["params"]).stats
        exit_fee = stats["open_position"] * prices[stop - 1] * 0.001
        opened += stats["open_position"] > 0
        assert fold["fees"] == pytest.approx(stats["fees"] + exit_fee)
        assert fold["trades"] == stats["total_trades"] + (stats["open_position"] > 0)
        assert fold["oos_return_pct"] == pytest.approx(
            (stats["final_equity"] - exit_fee - 10_000.0) / 100.0)
    assert opened  # the series leaves a position open in at least one window


def test_each_fold_chooses_its_parameters_from_bars_before_its_evaluation_window():
    prices = swings()
    before = run(prices, strategies=("SMA_Crossover", "Momentum"))
    start = 2 * 500  # fold 2 is scored from bar 1000
    changed = prices.copy()
    changed[start:] = steady_fall(seed=3)[start:] * prices[start - 1] / 50.0
    after = run(changed, strategies=("SMA_Crossover", "Momentum"))

    def folds(result: dict) -> dict[str, list[dict]]:
        return {item["strategy"]: item["folds"] for item in result["items"] + result["rejected"]}

    for name in ("SMA_Crossover", "Momentum"):
        old, new = folds(before)[name], folds(after)[name]
        for fold in (0, 1):  # folds 1 and 2: fitted on bars before 1000
            assert new[fold]["params"] == old[fold]["params"]
            assert new[fold]["in_sample_score"] == old[fold]["in_sample_score"]
        assert new[0]["oos_return_pct"] == old[0]["oos_return_pct"]  # scored before 1000 too
        assert new[1]["oos_return_pct"] != old[1]["oos_return_pct"]  # its window did change


class PeeksAhead(Strategy):
    """Buys at the lowest close of whatever it is shown and sells at the highest after it:
    a perfect trader, because it reads the future."""

    spread = Param(1, low=1, high=3, step=1)

    def next(self):
        return None

    def run(self, prices, stamps):
        low = int(np.argmin(prices[:-self.spread]))
        high = low + self.spread + int(np.argmax(prices[low + self.spread:]))
        return [(low, self.buy()), (high, self.sell())]


def _catalog(*classes: type[Strategy]) -> Catalog:
    return Catalog(StrategyInfo(cls.name, cls, StrategyRef(cls.__name__, module=__name__),
                                __file__) for cls in classes)


def test_a_strategy_that_peeks_ahead_wins_out_of_sample_but_the_lookahead_check_rejects_it():
    catalog = _catalog(PeeksAhead, load_catalog().get("SMA_Crossover"))
    result = suggest(bars_of(swings()), SuggestSettings(workers=0), catalog=catalog)
    assert result["rejected"][-1]["strategy"] == "PeeksAhead"  # last: the best is honest
    peek = result["rejected"][-1]
    assert peek["beats_hold"] and peek["beats_cash"] and "look-ahead" in peek["reason"]
    checks = {check["strategy"]: check["ok"] for check in result["lookahead"]}
    assert checks == {"PeeksAhead": False, "SMA_Crossover": True}
    assert [item["strategy"] for item in result["items"]] == ["SMA_Crossover"]


def test_when_only_a_peeking_strategy_beat_holding_the_verdict_says_it_failed_the_check():
    result = suggest(bars_of(swings()), SuggestSettings(workers=0),
                     catalog=_catalog(PeeksAhead))
    assert result["items"] == [] and result["rejected"][0]["lookahead"] is False
    assert result["verdict"].startswith("Nothing can be suggested: PeeksAhead beat holding "
                                        "and cash out of sample but failed the look-ahead check")


def test_progress_counts_every_combination_up_to_the_total():
    seen: list[tuple[int, int]] = []
    result = suggest(bars_of(swings()), SuggestSettings(workers=0, strategies=("Momentum",)),
                     on_progress=lambda done, total: seen.append((done, total)))
    total = result["combinations"]
    assert seen[0] == (0, total) and seen[-1] == (total, total) == (result["completed"], 80)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_cancel_stops_after_the_work_in_flight_and_says_so():
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done:
            cancel.set()

    result = suggest(bars_of(swings()), SuggestSettings(workers=0), on_progress=progress,
                     cancel=cancel)
    assert result["cancelled"] and 0 < result["completed"] < result["combinations"]
    assert "cancelled before its grid finished" in {s["reason"] for s in result["skipped"]}


USER_STRATEGY = '''
from velocitas_desktop.core.indicators import SMA
from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below
from velocitas_desktop.core.strategy import Param, Strategy


class MyTrend(Strategy):
    """A trader's own crossover, on a coarse grid."""

    fast = Param(8, low=4, high=16, step=4)
    slow = Param(40, low=20, high=80, step=20)
    constraints = ("fast < slow",)

    def init(self):
        self.fast_ma = self.indicator(SMA, self.fast)
        self.slow_ma = self.indicator(SMA, self.slow)

    def rule(self):
        return Rule(buy=crossed_above(self.fast_ma, self.slow_ma),
                    sell=crossed_below(self.fast_ma, self.slow_ma))
'''

BROKEN_STRATEGY = '''
from velocitas_desktop.core.strategy import Param, Strategy


class Fragile(Strategy):
    """Fails on one value of its grid only: found by the workers, not by the first check."""

    period = Param(4, low=2, high=8, step=2)

    def next(self):
        if self.period == 8:
            raise RuntimeError(f"period {self.period} is not supported")
        return None
'''


@pytest.mark.slow
def test_a_user_strategy_from_a_folder_is_searched_in_the_worker_pool(tmp_path: Path):
    (tmp_path / "my_trend.py").write_text(USER_STRATEGY)
    (tmp_path / "fragile.py").write_text(BROKEN_STRATEGY)
    catalog = load_catalog([tmp_path])
    assert {"MyTrend", "Fragile", "RSI"} <= set(catalog.names())
    result = suggest(bars_of(swings()), SuggestSettings(workers=1, strategies=(
        "MyTrend", "Fragile", "Momentum")), catalog=catalog)
    evaluated = {r["strategy"] for r in result["items"] + result["rejected"]}
    assert evaluated == {"MyTrend", "Momentum"}
    assert result["completed"] == result["combinations"] - 4  # Fragile's four failed
    skipped = {s["strategy"]: s["reason"] for s in result["skipped"]}
    assert list(skipped) == ["Fragile"] and "period 8 is not supported" in skipped["Fragile"]
    mine = next(r for r in result["items"] + result["rejected"] if r["strategy"] == "MyTrend")
    assert mine["combinations"] == 16 and mine["params"]["fast"] in (4, 8, 12, 16)


def test_every_registered_strategy_is_included_when_none_is_named(tmp_path: Path):
    (tmp_path / "my_trend.py").write_text(USER_STRATEGY)
    catalog = load_catalog([tmp_path])
    seen: list[int] = []
    # the grids planned before any work: cancel at once and read what was planned
    cancel = threading.Event()
    cancel.set()
    result = suggest(bars_of(swings()), SuggestSettings(workers=0), catalog=catalog,
                     cancel=cancel, on_progress=lambda done, total: seen.append(total))
    planned = {s["strategy"] for s in result["skipped"]}
    assert planned == {"MACD", "Momentum", "RSI", "SMA_Crossover", "MyTrend"}
    assert result["completed"] == 0 and seen == [result["combinations"]]
    assert result["verdict"].startswith("No strategy could be evaluated (cancelled")


def test_a_strategy_whose_first_backtest_fails_is_skipped_with_its_reason(tmp_path: Path):
    (tmp_path / "fragile.py").write_text(BROKEN_STRATEGY.replace("== 8", ">= 2"))
    result = suggest(bars_of(swings()), SuggestSettings(workers=0, strategies=(
        "Fragile", "Momentum")), catalog=load_catalog([tmp_path]))
    assert result["skipped"] == [{"strategy": "Fragile",
                                  "reason": "period 2 is not supported"}]
    assert [r["strategy"] for r in result["items"] + result["rejected"]] == ["Momentum"]


def test_a_strategy_failing_on_one_combination_is_skipped_and_progress_still_ends(
        tmp_path: Path):
    (tmp_path / "fragile.py").write_text(BROKEN_STRATEGY)
    seen: list[tuple[int, int]] = []
    result = suggest(bars_of(swings()), SuggestSettings(workers=0, strategies=(
        "Fragile", "Momentum")), catalog=load_catalog([tmp_path]),
        on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (84, 84) and result["completed"] == 80
    assert result["skipped"] == [{"strategy": "Fragile", "reason":
                                  "its backtest failed: period 8 is not supported"}]


def test_sharpe_falls_back_to_total_return_when_a_window_is_under_30_days():
    result = run(swings(), strategies=("Momentum",))
    assert result["requested_metric"] == "sharpe_ratio" and result["metric"] == "total_return"
    assert "needs 30 daily returns" in result["warnings"][0]
    daily = suggest(bars_of(swings(n=1200), interval=4 * HOUR),
                    SuggestSettings(workers=0, folds=3, strategies=("Momentum",)))
    assert daily["metric"] == "sharpe_ratio" and daily["warnings"] == []
    assert daily["timeframe"] == "4h"


def test_only_the_most_recent_bars_are_used():
    result = suggest(bars_of(swings(n=3000)), SuggestSettings(
        workers=0, bars=2000, folds=3, strategies=("Momentum",)))
    assert result["bars"] == 2000
    assert result["from"] == 1_600_000_000.0 + 1000 * HOUR
    assert result["to"] == 1_600_000_000.0 + 2999 * HOUR
    assert [w["bars"] for w in result["windows"]] == [500, 500, 500, 500]


@pytest.mark.parametrize(("settings", "timeframe", "message"), [
    ({"folds": 0}, None, "folds must be a whole number of at least 1"),
    ({"folds": 30}, None, "too few bars for 30 folds: 31 windows of at least 100 bars need "
                          "3,100 bars, and there are 2,500"),
    ({"bars": 0}, None, "bars must be a whole number of at least 1"),
    ({"strategies": ("SMA_Crossover", "Turtle")}, None,
     "unknown strategy 'Turtle': available strategies are MACD, Momentum, RSI, SMA_Crossover"),
    ({"metric": "luck"}, None, "unknown metric 'luck'"),
    ({"fee": 1.5}, None, "the fee must be a fraction from 0 to 1"),
    ({"top": 0}, None, "top must be at least 1"),
    ({"workers": -1}, None, "workers must be 0 or more"),
    ({}, "4h", "timeframe '4h' is 14400 s but the bars are 3600 s apart"),
    ({}, "2d", "unknown timeframe '2d'"),
])
def test_bad_settings_are_refused_with_a_clear_message(settings, timeframe, message):
    with pytest.raises(SuggestError, match=message) as caught:
        suggest(bars_of(swings()), SuggestSettings(**{"workers": 0, **settings}),
                timeframe=timeframe)
    assert isinstance(caught.value, OptimizeError) and isinstance(caught.value, TrendError)


def test_top_limits_the_suggestions():
    result = run(swings(), strategies=("SMA_Crossover", "Momentum"), top=1)
    assert len(result["items"]) == 1 and result["items"][0]["rank"] == 1
