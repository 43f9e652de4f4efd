"""Copilot price conditions and the frequencies: scripted price paths, exact triggers."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas_desktop.copilot import Evaluator, Rule

COIN = {"kind": "coin", "value": "BTC"}


def make(kind: str, params: dict, *, rule_id: str = "r", scope=COIN, frequency=None,
         **fields) -> Rule:
    return Rule.from_json({"id": rule_id, "name": rule_id, "scope": scope,
                           "condition": {"type": kind, "params": params},
                           "frequency": frequency or {"mode": "every_time"}, **fields})


def run(rules, prices, times, coin="BTC", evaluator=None):
    evaluator = evaluator or Evaluator(rules)
    return evaluator.on_prices(coin, np.asarray(prices, float), np.asarray(times, float),
                               float(times[-1]) + 0.5)


def seen(triggers):
    return [(t.time, t.price, t.message) for t in triggers]


def test_price_cross_fires_on_each_crossing_in_its_direction_with_its_message():
    prices, times = [99, 101, 99, 100, 98, 102], [0, 1, 2, 3, 4, 5]
    up = make("price_cross", {"level": 100, "direction": "up"},
              message="{coin} crossed {threshold} at {price:,.2f}")
    # as chart platforms' crossover: from at or below the level to above it (touching the
    # level at 3 is no crossing; leaving it downwards at 4 is)
    assert seen(run([up], prices, times)) == [(1, 101, "BTC crossed 100 at 101.00"),
                                              (5, 102, "BTC crossed 100 at 102.00")]
    down = make("price_cross", {"level": 100, "direction": "down"})
    assert [t.time for t in run([down], prices, times)] == [2, 4]
    either = make("price_cross", {"level": 100})
    triggers = run([either], prices, times)
    assert [t.time for t in triggers] == [1, 2, 4, 5]
    assert (triggers[0].coin, triggers[0].value, triggers[0].threshold,
            triggers[0].tick_time) == ("BTC", 101, 100, 5.5)


def test_the_first_price_seen_only_sets_the_side_of_the_level():
    assert run([make("price_cross", {"level": 100})], [101, 102, 103], [0, 1, 2]) == []


def test_price_channel_enter_and_leave():
    prices, times = [90, 95, 105, 111, 104, 80], [0, 1, 2, 3, 4, 5]
    leave = make("price_channel", {"low": 100, "high": 110, "event": "leave"})
    triggers = run([leave], prices, times)
    assert [(t.time, t.threshold, t.message) for t in triggers] == [
        (3, 110, "BTC left the channel 100 to 110 at 111"),
        (5, 100, "BTC left the channel 100 to 110 at 80")]
    enter = make("price_channel", {"low": 100, "high": 110, "event": "enter"})
    assert [t.time for t in run([enter], prices, times)] == [2, 4]


def test_price_move_compares_with_the_price_a_window_earlier():
    rule = make("price_move", {"percent": 5, "window_s": 60, "direction": "up"})
    # at 50 the move from 100 (t=0) is 5.5%; at 90 it is 106/103 - 1 (t=30 is 60 s before);
    # at 200 the price is 5% over its price at 140 again, after falling back below
    prices = [100, 103, 105.5, 106, 100, 105]
    times = [0, 30, 50, 90, 140, 200]
    triggers = run([rule], prices, times)
    assert [(t.time, round(t.value, 3)) for t in triggers] == [(50, 5.5), (200, 5.0)]
    assert triggers[0].message == "BTC moved +5.50% within 60 s to 105.50"
    down = make("price_move", {"percent": 5, "window_s": 60, "direction": "down"})
    assert [t.time for t in run([down], [100, 97, 94], [0, 10, 20])] == [20]


CROSSINGS = np.arange(0, 181, 10.0)  # the price flips around 100 every 10 s
FLIPPING = np.where(np.arange(CROSSINGS.shape[0]) % 2 == 0, 99.0, 101.0)


def test_every_time_waits_out_its_cooldown():
    rule = make("price_cross", {"level": 100}, frequency={"mode": "every_time",
                                                          "cooldown_s": 30})
    assert [t.time for t in run([rule], FLIPPING, CROSSINGS)] == [10, 40, 70, 100, 130, 160]


def test_once_fires_once_and_is_finished():
    rule = make("price_cross", {"level": 100}, frequency={"mode": "once"})
    evaluator = Evaluator([rule])
    assert [t.time for t in run([rule], FLIPPING, CROSSINGS, evaluator=evaluator)] == [10]
    assert evaluator.finished() == [("r", "fired once")]
    assert run([rule], [99, 101], [200, 201], evaluator=evaluator) == []


def test_once_per_bar_fires_at_the_first_crossing_of_each_bar():
    rule = make("price_cross", {"level": 100}, frequency={"mode": "once_per_bar",
                                                          "bar": "1m"})
    assert [t.time for t in run([rule], FLIPPING, CROSSINGS)] == [10, 60, 120, 180]


def test_once_per_bar_close_reads_only_the_bars_closes():
    # bar 0 closes at 99; bar 1 crosses up and back (closes 99); bar 2 closes at 102: the
    # crossing of the closes is revealed by bar 3's first tick, at 185, with bar 2's close
    prices = [99, 99, 101, 99, 101, 102, 100.5]
    times = [10, 50, 70, 110, 130, 170, 185]
    on_close = make("price_cross", {"level": 100, "direction": "up"},
                    frequency={"mode": "once_per_bar_close", "bar": "1m"})
    assert seen(run([on_close], prices, times)) == [(185, 102, "BTC crossed 100 at 102")]
    every = make("price_cross", {"level": 100, "direction": "up"})
    assert [t.time for t in run([every], prices, times)] == [70, 130]


def test_a_rule_does_not_fire_at_or_after_its_expiry():
    rule = make("price_cross", {"level": 100}, expires=45)
    evaluator = Evaluator([rule])
    assert [t.time for t in run([rule], FLIPPING, CROSSINGS, evaluator=evaluator)] == [
        10, 20, 30, 40]
    assert evaluator.finished() == [("r", "expired at 1970-01-01 00:00:45 UTC")]
    clocked = Evaluator([rule])
    assert clocked.on_clock(50.0) == []
    assert clocked.finished() == [("r", "expired at 1970-01-01 00:00:45 UTC")]


def test_a_runaway_rule_is_throttled_after_15_triggers_in_3_minutes_and_says_so():
    times = np.arange(5, 601, 5.0)  # a crossing every 5 s for ten minutes
    prices = np.where(np.arange(times.shape[0]) % 2 == 0, 101.0, 99.0)
    rule = make("price_cross", {"level": 100}, rule_id="runaway")
    triggers = run([rule], np.concatenate(([99.0], prices)), np.concatenate(([0.0], times)))
    assert [t.time for t in triggers[:15]] == list(np.arange(5, 76, 5.0))
    throttled = triggers[15]
    assert (throttled.time, throttled.throttled) == (80, True)
    assert throttled.message == (
        "runaway: more than 15 alerts within 180 s, so the rule is throttled: silent until "
        "1970-01-01 00:04:20 UTC, then it fires again")
    # silent until 260; then it fires again, and is throttled again after 15 more
    assert triggers[16].time == 260 and not triggers[16].throttled
    assert [t.time for t in triggers if t.throttled] == [80, 335, 590]
    assert len(triggers) == 48  # 3 × (15 alerts and the one that says the rule is throttled)


def test_scope_coin_and_all():
    btc = make("price_cross", {"level": 100}, rule_id="btc")
    every_coin = make("price_cross", {"level": 100}, rule_id="all", scope={"kind": "all"})
    evaluator = Evaluator([btc, every_coin])
    run(None, [99], [0], coin="ETH", evaluator=evaluator)
    run(None, [99], [0], coin="BTC", evaluator=evaluator)
    eth = run(None, [101], [1], coin="ETH", evaluator=evaluator)
    assert [(t.rule.id, t.coin) for t in eth] == [("all", "ETH")]
    assert {t.rule.id for t in run(None, [101], [1], coin="btc", evaluator=evaluator)} == {
        "btc", "all"}


def test_a_rule_that_raises_is_set_aside_with_its_reason_and_the_others_go_on():
    bad, good = make("price_cross", {"level": 100}, rule_id="bad"), make(
        "price_cross", {"level": 100}, rule_id="good")
    evaluator = Evaluator([bad, good])

    def broken(run):
        raise ZeroDivisionError("boom")

    evaluator.state("bad").watch("BTC").prices = broken
    triggers = run(None, [99, 101], [0, 1], evaluator=evaluator)
    assert [t.rule.id for t in triggers] == ["good"]
    assert evaluator.failures() == [
        ("bad", "its price_cross condition failed on BTC: ZeroDivisionError: boom")]
    evaluator.replace([bad.with_(name="fixed"), good])  # a failed rule starts afresh
    assert evaluator.failures() == []


def test_replace_keeps_the_state_of_unchanged_rules():
    rule = make("price_cross", {"level": 100}, frequency={"mode": "every_time",
                                                          "cooldown_s": 60})
    evaluator = Evaluator([rule])
    assert len(run(None, [99, 101], [0, 1], evaluator=evaluator)) == 1
    evaluator.replace([rule.with_(message="renamed {price}")])  # same watch: same cooldown
    assert run(None, [99, 101], [10, 11], evaluator=evaluator) == []
    evaluator.replace([rule.with_(enabled=False)])
    assert evaluator.rules == []


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_a_batch_gives_the_triggers_of_its_ticks_one_by_one(chunk):
    rng = np.random.default_rng(7)
    times = np.cumsum(rng.uniform(0.5, 20.0, 1500))
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, times.shape[0])))
    rules = [
        make("price_cross", {"level": 100}, rule_id="cross",
             frequency={"mode": "every_time", "cooldown_s": 120}),
        make("price_move", {"percent": 1.5, "window_s": 300}, rule_id="move"),
        make("price_channel", {"low": 98, "high": 102}, rule_id="channel",
             frequency={"mode": "once_per_bar", "bar": "15m"}),
        make("price_cross", {"level": 101}, rule_id="close",
             frequency={"mode": "once_per_bar_close", "bar": "5m"}),
        make("rsi", {"timeframe": "1m", "period": 6, "above": 70}, rule_id="rsi"),
        make("ma_cross", {"timeframe": "5m", "fast": 3, "slow": 8, "average": "ema"},
             rule_id="ma"),
    ]
    whole = Evaluator(rules).on_prices("BTC", prices, times, 0.0)
    evaluator, pieces = Evaluator(rules), []
    for start in range(0, times.shape[0], chunk):
        pieces += evaluator.on_prices("BTC", prices[start:start + chunk],
                                      times[start:start + chunk], 0.0)
    assert {t.rule.id for t in whole} == {"cross", "move", "channel", "close", "rsi", "ma"}
    assert sorted(map(_key, pieces)) == sorted(map(_key, whole))


def _key(trigger):
    return trigger.time, trigger.rule.id, trigger.message
