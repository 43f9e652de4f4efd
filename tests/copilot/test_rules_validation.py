"""Copilot rules: what a valid rule is, the exact messages a bad one gets, the rules file."""

from __future__ import annotations

import json

import pytest

from velocitas_desktop.copilot import (
    CONDITIONS,
    Rule,
    RuleError,
    describe_conditions,
    parse_rules_file,
    render,
    rules_file,
    template_problem,
)

BTC_70K = {"id": "btc-70k", "name": "BTC above 70k",
           "condition": {"type": "price_cross", "params": {"level": 70000, "direction": "up"}},
           "scope": {"kind": "coin", "value": "BTC"},
           "frequency": {"mode": "every_time", "cooldown_s": 60},
           "severity": "warning", "message": "{coin} crossed {threshold} at {price:,.2f}"}


def rule(**changes) -> dict:
    return {**BTC_70K, **changes}


def error(data) -> str:
    with pytest.raises(RuleError) as caught:
        Rule.from_json(data)
    return str(caught.value)


def test_a_rule_round_trips_through_its_json_and_the_rules_file():
    kill = {"name": "Kill switch", "condition": {"type": "drawdown", "params": {"percent": 10}},
            "scope": {"kind": "strategy", "value": "BTC_SMA"},
            "frequency": {"mode": "once"}, "severity": "critical", "expires": 1.9e9,
            "action": {"type": "pause_strategy", "params": {}, "auto": True}}
    rules = [Rule.from_json(BTC_70K), Rule.from_json(kill)]
    assert [Rule.from_json(r.to_json()) for r in rules] == rules
    assert parse_rules_file(rules_file(rules)) == rules
    assert parse_rules_file(json.dumps([r.to_json() for r in rules])) == rules
    assert rules[1].id == "kill-switch"
    assert rules[1].to_json()["condition"] == {"type": "drawdown", "params": {"percent": 10.0}}
    assert rules[0].to_json()["frequency"] == {"mode": "every_time", "cooldown_s": 60.0}


def test_defaults_fill_what_a_rule_leaves_out():
    made = Rule.from_json({"name": "RSI hot", "condition": {"type": "rsi",
                                                            "params": {"above": 70}}})
    assert made.condition.params == {"timeframe": "1h", "period": 14, "above": 70.0}
    assert made.scope.kind == "all" and made.scope.value is None
    assert made.frequency.mode == "every_time" and made.frequency.cooldown_s == 0
    assert made.frequency.bar == "1h"  # a bar mode would count the condition's own bars
    assert made.severity == "warning" and made.enabled and made.action is None


def test_unknown_condition_type_names_the_choices():
    assert error(rule(condition={"type": "moon_phase"})) == (
        "rule 'btc-70k': unknown condition type 'moon_phase'; choose one of "
        + ", ".join(CONDITIONS))


def test_a_condition_scoped_where_it_cannot_look_is_refused():
    assert error({"name": "dd", "condition": {"type": "drawdown", "params": {"percent": 10}},
                  "scope": {"kind": "coin", "value": "BTC"}}) == (
        "rule 'dd': a drawdown condition cannot be scoped to a coin; its scope must be "
        "strategy or all")
    assert error(rule(scope={"kind": "strategy", "value": "S1"})) == (
        "rule 'btc-70k': a price_cross condition cannot be scoped to a strategy; its scope "
        "must be coin or all")
    assert error({"name": "f", "condition": {"type": "feed_stalled"},
                  "scope": {"kind": "coin", "value": "BTC"}}) == (
        "rule 'f': a feed_stalled condition cannot be scoped to a coin; its scope must be all")
    assert error(rule(scope={"kind": "coin"})) == (
        "rule 'btc-70k': a coin scope needs the coin's symbol as its value")


@pytest.mark.parametrize(("condition", "message"), [
    ({"type": "rsi", "params": {"above": 170}},
     "rsi above must be between 0 and 100 (got 170)"),
    ({"type": "price_cross", "params": {"level": -5}},
     "price_cross level must be above 0 (got -5)"),
    ({"type": "price_cross", "params": {"level": 1, "direction": "sideways"}},
     "price_cross direction must be one of up, down, either (got 'sideways')"),
    ({"type": "drawdown", "params": {"percent": 120}},
     "drawdown percent must be above 0 and at most 100 (got 120)"),
    ({"type": "drawdown", "params": {"percent": 5, "amount": 100}},
     "drawdown takes exactly one of amount or percent (both given)"),
    ({"type": "rsi", "params": {"period": 14.5, "below": 30}},
     "rsi period must be a whole number (got 14.5)"),
    ({"type": "ma_cross", "params": {"fast": 50, "slow": 20}},
     "ma_cross's fast period (50) must be shorter than its slow one (20)"),
    ({"type": "price_channel", "params": {"low": 200, "high": 100}},
     "price_channel's low (200) must be below its high (100)"),
    ({"type": "price_move", "params": {"percent": 5}}, "price_move needs window_s"),
    ({"type": "losing_streak", "params": {"count": 0}},
     "losing_streak count must be between 1 and 1000 (got 0)"),
    ({"type": "volatility_spike", "params": {"method": "atr_percentile", "threshold": 3}},
     "volatility_spike's threshold is a percentile with atr_percentile: it must be between "
     "50 and 100 (got 3)"),
    ({"type": "trend_change", "params": {"field": "direction", "to": "strong"}},
     "trend_change's direction is one of up, down, sideways (got to='strong')"),
    ({"type": "price_cross", "params": {"level": 1, "price": 2}},
     "price_cross has no parameter 'price' (its parameters: level, direction)"),
    ({"type": "rsi", "params": {"timeframe": "7m", "above": 70}},
     "rsi timeframe must be one of 1s, 5s, 15s, 30s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, "
     "8h, 12h, 1d (got '7m')"),
])
def test_thresholds_out_of_range_name_the_bounds(condition, message):
    scope = {"kind": "strategy", "value": "S"} if condition["type"] in (
        "drawdown", "losing_streak") else {"kind": "all"}
    assert error({"name": "r", "condition": condition, "scope": scope}) == f"rule 'r': {message}"


@pytest.mark.parametrize(("template", "message"), [
    ("{coin crossed", "has a '{' that is not closed: close the placeholder, or write '{{' for "
                      "a brace"),
    ("price } 70k", "has a '}' with no '{' before it: write '}}' for a brace in the text"),
    ("{coins} up", "has an unknown placeholder {coins}: the placeholders are {coin}, {price}, "
                   "{value}, {threshold}, {strategy}, {time}, {rule}; a price_cross rule's "
                   "also {level}, {direction}"),
    ("{} up", "has an empty placeholder {}: name one of {coin}, {price}, {value}, "
              "{threshold}, {strategy}, {time}, {rule}; a price_cross rule's also {level}, "
              "{direction}"),
    ("{direction:.2f}", "has a format spec '.2f' that does not suit {direction} (text)"),
    ("{coin:,.2f}", "has a format spec ',.2f' that does not suit {coin} (text)"),
    ("{price:%H}", "has a format spec '%H' that does not suit {price} (a number)"),
])
def test_a_malformed_template_says_what_is_wrong(template, message):
    assert error(rule(message=template)) == f"rule 'btc-70k': the message {message}"


def test_templates_render_placeholders_with_specs_and_missing_values():
    assert template_problem("{coin} {price:,.2f} at {time:%H:%M} ({value!r})") is None
    values = {"coin": "BTC", "price": 70012.5, "threshold": 70000.0, "time": 1765000000.0,
              "value": None}
    assert render("{coin} crossed {threshold} at {price}", values) == (
        "BTC crossed 70,000 at 70,012.50")
    assert render("{time} | {time:%H:%M} | {value:.2f} | {strategy}", values) == (
        "2025-12-06 05:46:40 UTC | 05:46 | n/a | n/a")
    assert render("{price:.6g} {{literal}}", {"price": 0.000123456}) == "0.000123456 {literal}"


def test_a_template_may_name_its_conditions_parameters_and_figures():
    made = Rule.from_json({"name": "dd", "scope": {"kind": "all"},
                           "condition": {"type": "daily_loss", "params": {"percent": 5}},
                           "message": "day's loss {value:,.2f}{unit} past {percent}{unit}"})
    assert made.message.startswith("day's loss")
    assert error({"name": "rsi", "condition": {"type": "rsi", "params": {"below": 30}},
                  "message": "{above}"}).startswith(
        "rule 'rsi': the message has an unknown placeholder {above}")
    for kind in CONDITIONS.values():  # each type's own message is a valid template
        params = {name: f.default if f.default is not None else 1.0
                  for name, f in kind.fields.items()}
        assert template_problem(kind.message, kind.placeholders(params), kind.type) is None


@pytest.mark.parametrize(("action", "message"), [
    ({"type": "explode"}, "unknown action type 'explode'; choose one of pause_strategy, "
                          "resume_strategy, set_quantity, close_position, pause_all, "
                          "stop_engine, apply_suggestion"),
    ({"type": "pause_strategy"}, "action pause_strategy needs a strategy: give "
                                 "params.strategy_id (a price_cross alert names no strategy)"),
    ({"type": "set_quantity", "params": {"strategy_id": "S"}},
     "action set_quantity needs quantity"),
    ({"type": "set_quantity", "params": {"strategy_id": "S", "quantity": -1}},
     "action set_quantity: quantity must be a number above 0 (got -1)"),
    ({"type": "pause_all", "auto": "yes"}, "action auto must be true or false (got 'yes')"),
    ({"type": "pause_all", "params": {"close_positions": "yes"}},
     "action pause_all: close_positions must be true (pause, then close every open position) "
     "or false (pause only) (got 'yes')"),
    ({"type": "pause_strategy", "params": {"strategy_id": "S", "close_positions": 1}},
     "action pause_strategy: close_positions must be true (pause, then close its position) "
     "or false (pause only) (got 1)"),
    ({"type": "resume_strategy", "params": {"strategy_id": "S", "close_positions": True}},
     "action resume_strategy has no parameter 'close_positions' (its parameters: "
     "strategy_id)"),
])
def test_bad_actions_are_refused(action, message):
    assert error(rule(action=action)) == f"rule 'btc-70k': {message}"


def test_other_fields_get_clear_messages():
    assert error(rule(frequency={"mode": "once", "cooldown_s": 30})) == (
        "rule 'btc-70k': cooldown_s applies to every_time only (the mode is once); drop it or "
        "choose every_time")
    assert error(rule(frequency={"mode": "hourly"})) == (
        "rule 'btc-70k': frequency mode must be one of once, once_per_bar, once_per_bar_close, "
        "every_time (got 'hourly')")
    assert error(rule(severity="urgent")) == (
        "rule 'btc-70k': severity must be one of info, warning, critical (got 'urgent')")
    assert error(rule(colour="red")).startswith("rule 'btc-70k': unknown field 'colour'")
    assert error(rule(id="no spaces")) == (
        "rule 'no spaces': id 'no spaces' must be 1 to 64 letters, digits, '_', '.' or '-'")
    assert error({"condition": {"type": "price_cross", "params": {"level": 1}}}) == (
        "the rule has neither a name nor an id: give it a name")
    assert error(rule(expires="next week")) == (
        "rule 'btc-70k': expires must be epoch seconds or an ISO time like "
        "2026-12-31T23:59:00Z (got 'next week')")
    assert error([1]) == "a rule must be a JSON object (got a list)"


def test_an_expiry_in_the_past_is_allowed_and_noted():
    made = Rule.from_json(rule(expires="2020-01-01T00:00:00Z"))
    assert made.expires == 1577836800.0
    assert made.notes(now=1.7e9) == [
        "rule 'btc-70k' expired at 2020-01-01 00:00:00 UTC: it will not fire until its expiry "
        "is moved or cleared"]


def test_the_rules_file_is_all_or_nothing_and_says_which_rule_is_bad():
    with pytest.raises(RuleError, match=r"^the rules file is not JSON: Expecting value at "
                                        r"line 1, column 1$"):
        parse_rules_file("rules: []")
    bad = json.dumps({"rules": [BTC_70K, rule(id="two", severity="loud")]})
    with pytest.raises(RuleError) as caught:
        parse_rules_file(bad)
    assert str(caught.value) == ("rule 2 of the file: rule 'two': severity must be one of "
                                 "info, warning, critical (got 'loud')")
    with pytest.raises(RuleError, match="rule 2 of the file has the id 'btc-70k' of rule 1: "
                                        "ids must be unique"):
        parse_rules_file(json.dumps([BTC_70K, BTC_70K]))
    with pytest.raises(RuleError, match=r'must be \{"rules": \[...\]\} or a list of rules'):
        parse_rules_file('{"alerts": []}')


def test_every_condition_type_is_described_for_the_forms():
    described = {d["type"]: d for d in describe_conditions()}
    assert set(described) == {
        "price_cross", "price_channel", "price_move", "rsi", "ma_cross", "volatility_spike",
        "trend_change", "drawdown", "losing_streak", "pnl_target", "no_trade",
        "strategy_error", "feed_stalled", "feed_reconnecting", "journal_paused",
        "worker_died", "daily_loss"}
    rsi = described["rsi"]
    assert rsi["group"] == "indicator" and rsi["one_of"] == [["above", "below"]]
    period = next(p for p in rsi["params"] if p["name"] == "period")
    assert period == {"name": "period", "kind": "integer", "default": 14, "low": 2,
                      "high": 500, "exclusive_low": False, "choices": None,
                      "doc": "the RSI's period, in bars"}
    assert described["drawdown"]["scopes"] == ["strategy", "all"]
    for kind in described.values():
        assert kind["doc"] and all(p["doc"] for p in kind["params"])
