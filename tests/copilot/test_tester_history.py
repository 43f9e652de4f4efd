"""Testing rules on history: the shipped sample's firings and a kill switch's effect."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas_desktop.copilot import RuleError
from velocitas_desktop.copilot.tester import test_rules as replay
from velocitas_desktop.paths import resolve_sample
from velocitas_desktop.research.backtest import backtest, load_bars

SAMPLE = resolve_sample("sample:BTCUSD-1h")
CROSS = {"id": "cross", "name": "BTC over 10k",
         "condition": {"type": "price_cross", "params": {"level": 10000, "direction": "up"}},
         "scope": {"kind": "coin", "value": "BTC"}, "message": "{coin} over {threshold} at {price}"}
KILL = {"id": "kill", "name": "Kill switch",
        "condition": {"type": "drawdown", "params": {"percent": 5}},
        "scope": {"kind": "strategy", "value": "BTC_SMA_Crossover"},
        "frequency": {"mode": "once"}, "severity": "critical",
        "action": {"type": "pause_strategy", "params": {}, "auto": True}}


@pytest.fixture(scope="module")
def series():
    return load_bars(SAMPLE)


def test_the_sample_lists_each_firing_with_its_time_and_price(series):
    progress = []
    report = replay(SAMPLE, [CROSS], on_progress=lambda done, total: progress.append(
        (done, total)))
    closes, stamps = series.prices, series.stamps
    crossed = np.flatnonzero((closes[:-1] <= 10000) & (closes[1:] > 10000)) + 1
    assert crossed.shape[0] >= 2
    # each bar's close is a price at the bar's close time
    assert [(f["time"], f["price"]) for f in report["firings"]] == [
        (stamps[i], closes[i]) for i in crossed]
    assert report["firings"][0]["message"] == f"BTC over 10,000 at {closes[crossed[0]]:,.2f}"
    assert report["counts"] == {"cross": crossed.shape[0]}
    assert report["bars"] == len(series) and report["effects"] == []
    assert progress[-1] == (len(series), len(series))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    # a BarSeries (closes only) replays the same price rules
    assert replay(series, [CROSS])["firings"] == report["firings"]


def test_a_kill_switch_shows_the_drawdown_it_would_have_saved(series):
    report = replay(SAMPLE, [KILL], strategy="SMA_Crossover")
    base = backtest("SMA_Crossover", series)
    account = np.concatenate(([base.stats["starting_cash"]], base.equity))
    peaks = np.maximum.accumulate(account)
    over = np.flatnonzero((peaks - account) / peaks * 100.0 >= 5.0)
    fired = over[0] - 1  # the account's bar index (the curve starts with the capital)
    assert [(f["rule_id"], f["time"]) for f in report["firings"]] == [
        ("kill", series.stamps[fired])]
    (effect,) = report["effects"]
    without, applied = effect["without"], effect["with"]
    assert without["return_pct"] == pytest.approx(base.stats["total_return_pct"])
    assert without["max_drawdown_pct"] == pytest.approx(base.stats["max_drawdown_pct"])
    assert without["trades"] == base.stats["total_trades"]
    # paused after its firing's bar: no fill later, the open position held to the end
    assert applied["trades"] == int(np.count_nonzero(base.fill_bars <= fired))
    position = applied["open_position"]
    final = base.equity[fired] + position * (series.prices[-1] - series.prices[fired])
    assert applied["return_pct"] == pytest.approx(
        (final - base.stats["starting_cash"]) / base.stats["starting_cash"] * 100.0)
    assert effect["drawdown_saved_pct"] == pytest.approx(
        without["max_drawdown_pct"] - applied["max_drawdown_pct"])
    assert effect["applied_at"] == [series.stamps[fired]]


def test_close_position_closes_at_each_firing_and_the_strategy_trades_on(series):
    closing = {**KILL, "id": "close", "frequency": {"mode": "every_time"},
               "action": {"type": "close_position", "params": {}, "auto": False}}
    report = replay(SAMPLE, [closing], strategy="SMA_Crossover")
    (effect,) = report["effects"]
    assert effect["applied_at"] == [f["time"] for f in report["firings"]]
    assert effect["with"]["trades"] >= report["counts"]["close"]
    assert effect["with"]["return_pct"] != effect["without"]["return_pct"]


def test_rules_the_file_cannot_serve_are_skipped_or_refused():
    stalled = {"id": "feed", "name": "feed", "condition": {"type": "feed_stalled"}}
    report = replay(SAMPLE, [CROSS, KILL, stalled])
    assert report["skipped"] == [
        {"rule_id": "kill", "reason": "not replayed: it watches a strategy; choose one to "
                                      "test it on"},
        {"rule_id": "feed", "reason": "not replayed: a bar file has no feed"}]
    fine = {"id": "rsi", "name": "rsi", "condition": {"type": "rsi", "params": {
        "timeframe": "15m", "above": 70}}}
    with pytest.raises(RuleError, match=r"^rule 'rsi': its rsi reads 15m bars, finer than "
                                        r"the file's 1h bars; choose 1h or longer, or a finer "
                                        r"file$"):
        replay(SAMPLE, [fine])


def _pause(close_positions: bool) -> dict:
    return {**KILL, "action": {"type": "pause_strategy",
                               "params": {"close_positions": close_positions}, "auto": True}}


def _max_drawdown_pct(account: np.ndarray) -> float:
    peaks = np.maximum.accumulate(account)
    return float(np.max((peaks - account) / peaks * 100.0))


def test_a_kill_switch_that_closes_the_position_saves_the_drawdown_a_pause_alone_adds(series):
    base = backtest("SMA_Crossover", series)
    cash = base.stats["starting_cash"]
    kept = replay(SAMPLE, [_pause(False)], strategy="SMA_Crossover")
    closed = replay(SAMPLE, [_pause(True)], strategy="SMA_Crossover")
    assert [f["time"] for f in kept["firings"]] == [f["time"] for f in closed["firings"]]
    fired = int(np.searchsorted(series.stamps, closed["firings"][0]["time"]))
    # the position the strategy held after its own fills of the firing's bar
    held = [t.position_size for t, b in zip(base.trades, base.fill_bars, strict=True)
            if b <= fired][-1]
    assert held > 0
    # kept: no fill after the firing, the position valued to the end of the file
    keep_curve = np.concatenate(([cash], base.equity[:fired + 1],
                                 base.equity[fired] + held * (series.prices[fired + 1:]
                                                              - series.prices[fired])))
    # closed: sold at the firing bar's close, its fee (0.1% of the sale) paid, flat after
    exit_fee = series.prices[fired] * held * 0.001
    close_curve = np.concatenate(([cash], base.equity[:fired],
                                  np.full(len(series) - fired, base.equity[fired] - exit_fee)))
    without = _max_drawdown_pct(np.concatenate(([cash], base.equity)))
    (keep,) = kept["effects"]
    (close,) = closed["effects"]
    assert keep["with"]["max_drawdown_pct"] == pytest.approx(_max_drawdown_pct(keep_curve))
    assert keep["with"]["return_pct"] == pytest.approx((keep_curve[-1] - cash) / cash * 100)
    assert keep["with"]["open_position"] == pytest.approx(held)
    assert close["with"]["max_drawdown_pct"] == pytest.approx(_max_drawdown_pct(close_curve))
    assert close["with"]["return_pct"] == pytest.approx((close_curve[-1] - cash) / cash * 100)
    assert close["with"]["open_position"] == 0.0
    assert close["with"]["trades"] == keep["with"]["trades"] + 1  # the closing fill
    assert close["with"]["max_drawdown"] == pytest.approx(
        float(np.max(np.maximum.accumulate(close_curve) - close_curve)))
    # holding after the pause makes the drawdown worse; closing saves some of it
    assert keep["drawdown_saved_pct"] == pytest.approx(
        without - _max_drawdown_pct(keep_curve)) and keep["drawdown_saved_pct"] < 0
    assert close["drawdown_saved_pct"] == pytest.approx(
        without - _max_drawdown_pct(close_curve)) and close["drawdown_saved_pct"] > 0
    assert close["applied_at"] == [series.stamps[fired]]
