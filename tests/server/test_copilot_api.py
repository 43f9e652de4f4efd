"""The copilot over REST: rules written, listed, updated, enabled, deleted, exported and
imported; alerts paged and acknowledged; actions confirmed and rejected (who decided is
recorded); settings; a test of rules on a data file as a job; each mistake a 4xx with the
copilot's own message; and everything in the OpenAPI document."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fakes.webhook_receiver import Answer, Receiver
from fastapi.testclient import TestClient

from velocitas_desktop.copilot.conditions import describe_conditions
from velocitas_desktop.copilot.rules import Rule
from velocitas_desktop.copilot.tester import test_rules
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.research.trend import load_bars
from velocitas_desktop.server.app import create_app
from velocitas_desktop.store.journal import Journal

SAMPLE = "BTCUSD-1h-sample.csv"
BTC_70K = {"id": "btc-70k", "name": "BTC above 70k",
           "condition": {"type": "price_cross", "params": {"level": 70000, "direction": "up"}},
           "scope": {"kind": "coin", "value": "BTC"}, "severity": "critical",
           "message": "{coin} crossed {threshold:,.0f} at {price:,.2f}"}
DD_GUARD = {"id": "dd-guard", "name": "Drawdown guard",
            "condition": {"type": "drawdown", "params": {"percent": 10}},
            "scope": {"kind": "strategy", "value": "BTC_SMA_Crossover"},
            "action": {"type": "pause_strategy", "params": {}, "auto": True}}
BTC_10K = {"id": "btc-10k", "name": "BTC above 10k", "frequency": {"mode": "once"},
           "condition": {"type": "price_cross", "params": {"level": 10000, "direction": "up"}},
           "scope": {"kind": "coin", "value": "BTC"}}
# each bad rule and the copilot's own message for it (copilot/rules.py)
BAD_RULES = {
    "unknown condition": (
        {**BTC_70K, "condition": {"type": "moon_phase", "params": {}}},
        "rule 'btc-70k': unknown condition type 'moon_phase'; choose one of price_cross, "
        "price_channel, price_move, rsi, ma_cross, volatility_spike, trend_change, drawdown, "
        "losing_streak, pnl_target, no_trade, strategy_error, feed_stalled, "
        "feed_reconnecting, journal_paused, worker_died, daily_loss"),
    "wrong scope": (
        {**DD_GUARD, "scope": {"kind": "coin", "value": "BTC"}},
        "rule 'dd-guard': a drawdown condition cannot be scoped to a coin; its scope must be "
        "strategy or all"),
    "malformed template": (
        {**BTC_70K, "message": "{coin crossed"},
        "rule 'btc-70k': the message has a '{' that is not closed: close the placeholder, or "
        "write '{{' for a brace"),
    "unknown placeholder": (
        {**BTC_70K, "message": "{planet} aligned"},
        "rule 'btc-70k': the message has an unknown placeholder {planet}: the placeholders "
        "are {coin}, {price}, {value}, {threshold}, {strategy}, {time}, {rule}; a price_cross "
        "rule's also {level}, {direction}"),
    "out-of-range threshold": (
        {**BTC_70K, "condition": {"type": "rsi", "params": {"timeframe": "1h", "above": 150}}},
        "rule 'btc-70k': rsi above must be between 0 and 100 (got 150)"),
}


@pytest.fixture
def engine(home) -> Iterator[Engine]:
    engine = Engine(journal=Journal(home / "journal.sqlite3"), restore=False)
    yield engine
    if engine.status in ("running", "starting"):
        engine.stop()
    engine.close()


@pytest.fixture
def client(engine, tmp_path) -> Iterator[TestClient]:
    optimization = OptimizationService([sample_data_dir()], upload_dir=tmp_path / "uploads")
    app = create_app(engine, optimization=optimization, max_workers=0)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client
    app.state.copilot_tests.shutdown(timeout=30)
    optimization.shutdown()


def refused(reply, status: int) -> str:
    assert reply.status_code == status, (reply.status_code, reply.text[:400])
    return reply.json()["detail"]


def wait_until(check, timeout: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} did not hold within {timeout} s")


# --- rules -------------------------------------------------------------------------------

def test_the_condition_types_are_the_copilots_declarations(client) -> None:
    reply = client.get("/api/copilot/conditions")
    assert reply.status_code == 200
    assert reply.json() == json.loads(json.dumps(describe_conditions()))


def test_a_rule_is_created_read_updated_enabled_and_deleted(client) -> None:
    reply = client.post("/api/copilot/rules", json=BTC_70K)
    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert created == {**Rule.from_json(BTC_70K).to_json(), "created": created["created"]}
    assert created["created"] > 0 and created["fired"] == 0
    assert client.get("/api/copilot/rules").json() == [created]
    assert client.get("/api/copilot/rules/btc-70k").json() == created

    updated = client.put("/api/copilot/rules/btc-70k", json={**BTC_70K, "severity": "info"})
    assert updated.status_code == 200, updated.text
    assert updated.json() == {**created, "severity": "info"}  # created kept
    # the id may be left out of the body: the address names the rule
    no_id = {key: value for key, value in BTC_70K.items() if key != "id"}
    assert client.put("/api/copilot/rules/btc-70k", json=no_id).json()["severity"] == "critical"

    disabled = client.post("/api/copilot/rules/btc-70k/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert client.post("/api/copilot/rules/btc-70k/enable").json()["enabled"] is True

    assert client.delete("/api/copilot/rules/btc-70k").status_code == 204
    assert client.get("/api/copilot/rules").json() == []
    assert refused(client.get("/api/copilot/rules/btc-70k"), 404) == \
        "no copilot rule with id 'btc-70k'"


def test_a_rule_without_an_id_gets_one_from_its_name(client) -> None:
    rule = {key: value for key, value in BTC_70K.items() if key != "id"}
    assert client.post("/api/copilot/rules", json=rule).json()["id"] == "btc-above-70k"


def test_what_is_not_there_is_404_and_a_taken_id_409(client) -> None:
    assert client.post("/api/copilot/rules", json=BTC_70K).status_code == 201
    assert refused(client.post("/api/copilot/rules", json=BTC_70K), 409) == (
        "a copilot rule with id 'btc-70k' exists; update it, or give the new rule another "
        "id or name")
    missing = "no copilot rule with id 'nope'"
    assert refused(client.put("/api/copilot/rules/nope", json={**BTC_70K, "id": "nope"}),
                   404) == missing
    assert refused(client.delete("/api/copilot/rules/nope"), 404) == missing
    assert refused(client.post("/api/copilot/rules/nope/enable"), 404) == missing
    assert refused(client.post("/api/copilot/alerts/99/acknowledge"), 404) == \
        "no copilot alert with id 99"
    assert refused(client.post("/api/copilot/actions/99/confirm"), 404).startswith(
        "no copilot action with id 99")
    assert refused(client.get("/api/copilot/test/test-99"), 404) == \
        "no rule test job 'test-99'"


def test_a_body_whose_id_is_not_the_addresses_is_refused(client) -> None:
    client.post("/api/copilot/rules", json=BTC_70K)
    assert refused(client.put("/api/copilot/rules/btc-70k", json={**BTC_70K, "id": "other"}),
                   422) == ("rule 'btc-70k': the body's id 'other' is not the one in the "
                            "address; leave it out or make them the same")


@pytest.mark.parametrize("case", list(BAD_RULES))
def test_a_bad_rule_is_a_422_with_the_copilots_message_from_every_route(client,
                                                                       case) -> None:
    bad, message = BAD_RULES[case]
    assert refused(client.post("/api/copilot/rules", json=bad), 422) == message
    client.post("/api/copilot/rules", json={**bad, **{k: v for k, v in (
        BTC_70K if bad["id"] == "btc-70k" else DD_GUARD).items()}})
    assert refused(client.put(f"/api/copilot/rules/{bad['id']}", json=bad), 422) == message
    assert refused(client.post("/api/copilot/rules/import",
                               json={"rules": [BTC_10K, bad]}), 422) == f"rules[1]: {message}"
    assert refused(client.post("/api/copilot/test", json={
        "data_file": SAMPLE, "rules": [BTC_10K, bad]}), 422) == f"rules[1]: {message}"
    # nothing of the import was saved: only the good rule written above is there
    assert [r["id"] for r in client.get("/api/copilot/rules").json()] == [bad["id"]]


def test_an_unknown_field_is_named_by_the_rules_own_check(client) -> None:
    assert refused(client.post("/api/copilot/rules", json={**BTC_70K, "colour": "red"}),
                   422).startswith("rule 'btc-70k': unknown field 'colour'; a rule's fields "
                                   "are id, name, enabled, condition,")


def test_export_writes_a_rules_file_that_import_reads_back(client) -> None:
    for rule in (BTC_70K, DD_GUARD):
        client.post("/api/copilot/rules", json=rule)
    exported = client.get("/api/copilot/rules/export")
    assert exported.status_code == 200
    rules = exported.json()["rules"]
    assert [r["id"] for r in rules] == ["btc-70k", "dd-guard"]
    assert rules == client.get("/api/copilot/rules").json()

    reply = client.post("/api/copilot/rules/import", json={"rules": [BTC_10K], "replace": True})
    assert reply.status_code == 200
    assert [r["id"] for r in reply.json()] == ["btc-10k"]
    assert [r["id"] for r in client.get("/api/copilot/rules").json()] == ["btc-10k"]
    reply = client.post("/api/copilot/rules/import", json=exported.json())
    assert [r["id"] for r in reply.json()] == ["btc-70k", "dd-guard"]
    assert [r["id"] for r in client.get("/api/copilot/rules").json()] == [
        "btc-10k", "btc-70k", "dd-guard"]


# --- alerts and actions --------------------------------------------------------------------

def moving(i: int, **extra) -> dict:
    """A rule that fires once, on the first tick the price moves at all."""
    return {"id": f"move-{i}", "name": f"move {i}", "frequency": {"mode": "once"},
            "condition": {"type": "price_move", "params": {"percent": 0.000001, "window_s": 60}},
            "scope": {"kind": "coin", "value": "BTC"}, **extra}


def raise_alerts(client, count: int, actions: int = 0) -> list[dict]:
    """``count`` alerts from a session on the simulated market, the last ``actions`` of them
    proposing to pause the registered strategy; the alerts, newest first."""
    client.post("/api/strategies/register", json={"name": "RSI", "coin": "BTC"})
    pause = {"type": "pause_strategy", "params": {"strategy_id": "BTC_RSI"}}
    for i in range(count):
        extra = {"action": pause, "severity": "critical"} if i >= count - actions else {}
        assert client.post("/api/copilot/rules", json=moving(i, **extra)).status_code == 201
    assert client.post("/api/engine/start?coins=BTC&rate=2000&seed=7").status_code == 200
    return wait_until(lambda: (alerts := client.get("/api/copilot/alerts").json())
                      and len(alerts) >= count and alerts, what=f"{count} alerts")


def test_alerts_come_newest_first_and_page_back_with_before_id(client) -> None:
    alerts = raise_alerts(client, 5, actions=2)
    ids = [a["id"] for a in alerts]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    first = alerts[-1]
    assert first["rule_id"].startswith("move-") and first["coin"] == "BTC"
    assert first["message"].startswith("BTC moved ") and first["price"] > 0
    assert first["acknowledged"] is False and first["throttled"] is False
    page = client.get("/api/copilot/alerts", params={"limit": 2}).json()
    older = client.get("/api/copilot/alerts",
                       params={"limit": 2, "before_id": page[-1]["id"]}).json()
    assert [a["id"] for a in page + older] == ids[:4]
    assert [a["id"] for a in client.get("/api/copilot/alerts",
                                        params={"after_id": ids[2]}).json()] == ids[:2]
    critical = client.get("/api/copilot/alerts", params={"severity": "critical"}).json()
    assert len(critical) == 2 and all(a["action_id"] for a in critical)

    acknowledged = client.post(f"/api/copilot/alerts/{first['id']}/acknowledge")
    assert acknowledged.status_code == 200
    assert acknowledged.json() == {**first, "acknowledged": True}
    assert client.get("/api/copilot/alerts").json()[-1]["acknowledged"] is True


def test_pending_actions_are_confirmed_or_rejected_once_and_say_who(client) -> None:
    raise_alerts(client, 2, actions=2)
    pending = client.get("/api/copilot/actions", params={"status": "pending"}).json()
    assert len(pending) == 2 and {a["type"] for a in pending} == {"pause_strategy"}
    first, second = sorted(pending, key=lambda a: a["id"])
    assert first["reason"] and first["decided_by"] is None

    confirmed = client.post(f"/api/copilot/actions/{first['id']}/confirm",
                            headers={"X-Velocitas-Client": "browser"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "executed"
    assert confirmed.json()["decided_by"] == "browser" and confirmed.json()["decided"]
    assert client.get("/api/strategies/BTC_RSI").json()["status"] == "paused"

    rejected = client.post(f"/api/copilot/actions/{second['id']}/reject").json()
    assert (rejected["status"], rejected["decided_by"]) == ("rejected", "api")
    again = refused(client.post(f"/api/copilot/actions/{second['id']}/confirm"), 409)
    assert f"{second['id']}" in again and "rejected" in again
    assert client.get("/api/copilot/actions", params={"status": "pending"}).json() == []
    assert [a["id"] for a in client.get("/api/copilot/actions").json()] == [
        second["id"], first["id"]]
    assert refused(client.post(f"/api/copilot/actions/{first['id']}/reject",
                               headers={"X-Velocitas-Client": "robot"}), 422)


# --- settings and deliveries ---------------------------------------------------------------

def test_settings_change_in_the_parts_given_and_a_bad_one_is_named(client) -> None:
    settings = client.get("/api/copilot/settings").json()
    assert settings["daily_loss"]["enabled"] is False and settings["webhooks"] == []
    reply = client.put("/api/copilot/settings", json={
        "daily_loss": {"enabled": True, "percent": 3}})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {**settings, "daily_loss": {"enabled": True, "amount": None,
                                                       "percent": 3.0, "close_positions": True}}
    assert client.get("/api/copilot/settings").json() == reply.json()
    assert refused(client.put("/api/copilot/settings", json={"throttle": {"count": 0}}),
                   422) == "throttle.count: expected a whole number from 1 to 10000 (got 0)"
    # a part changes only the fields it gives: the guard needs an amount or a percent left
    assert refused(client.put("/api/copilot/settings", json={
        "daily_loss": {"enabled": True, "percent": None}}), 422) == (
        "daily_loss: give an amount (quote currency) or a percent of the day's opening value "
        "to turn the guard on")
    assert client.get("/api/copilot/settings").json() == reply.json()
    # a guard that only pauses, leaving the positions open, is asked for by name
    paused_only = client.put("/api/copilot/settings", json={
        "daily_loss": {"close_positions": False}}).json()["daily_loss"]
    assert paused_only == {**reply.json()["daily_loss"], "close_positions": False}
    assert client.get("/api/copilot/rules/daily-loss-guard").json()["action"] == {
        "type": "pause_all", "params": {"close_positions": False}, "auto": True}


def test_deliveries_list_what_the_webhooks_were_sent(client) -> None:
    assert client.get("/api/copilot/deliveries").json() == []
    hook = {"url": "http://127.0.0.1:9/hook", "format": "slack", "min_severity": "info"}
    assert client.put("/api/copilot/settings", json={"webhooks": [hook]}).status_code == 200
    alerts = raise_alerts(client, 1)
    delivery = wait_until(lambda: client.get("/api/copilot/deliveries").json(),
                          what="a delivery")[0]
    assert delivery["alert_id"] == alerts[0]["id"] and delivery["channel"] == "webhook"
    assert delivery["target"] == hook["url"] and delivery["format"] == "slack"


def test_a_telegram_webhook_is_saved_with_its_chat_and_refused_without(client) -> None:
    hook = {"url": "https://api.telegram.org/bot123:abc/sendMessage", "format": "telegram",
            "min_severity": "warning", "chat_id": "-100200300"}
    reply = client.put("/api/copilot/settings", json={"webhooks": [hook]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["webhooks"] == [{**hook, "enabled": True}]
    without = {key: value for key, value in hook.items() if key != "chat_id"}
    assert refused(client.put("/api/copilot/settings", json={"webhooks": [without]}),
                   422).startswith("webhooks[0].chat_id: a telegram webhook needs the chat id")
    assert refused(client.put("/api/copilot/settings", json={"webhooks": [
        {"url": "https://example.com/h", "chat_id": "1"}]}), 422) == (
        "webhooks[0].chat_id: only a telegram webhook takes a chat id")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "discord", "slack", "telegram"])
def test_a_test_message_reaches_the_webhook_in_its_format(client, fmt) -> None:
    with Receiver() as receiver:
        hook = {"url": f"{receiver.url}/hook", "format": fmt, "enabled": False,
                **({"chat_id": "42"} if fmt == "telegram" else {})}
        reply = client.post("/api/copilot/webhooks/test", json=hook)
        assert reply.status_code == 200, reply.text
        (got,) = receiver.received
    result = reply.json()
    assert result["delivered"] is True and result["error"] is None
    assert result["url"] == hook["url"] and result["format"] == fmt
    assert result["elapsed_ms"] >= 0
    assert got.path == "/hook" and got.headers["Idempotency-Key"].startswith("velocitas-test:")
    text = json.dumps(got.body)
    assert "test message from Velocitas" in text
    if fmt == "telegram":
        assert got.body["chat_id"] == "42"
    # a test is not an alert: nothing was raised, queued or recorded
    assert client.get("/api/copilot/alerts").json() == []
    assert client.get("/api/copilot/deliveries").json() == []


@pytest.mark.slow
def test_a_test_message_that_fails_says_why(client) -> None:
    with Receiver(default=Answer(status=404)) as receiver:
        reply = client.post("/api/copilot/webhooks/test", json={"url": receiver.url})
    assert reply.status_code == 200
    assert reply.json()["delivered"] is False
    assert reply.json()["error"] == "HTTP 404: ok"
    with Receiver() as receiver:
        closed = receiver.url  # nothing listens there once the receiver is gone
    reply = client.post("/api/copilot/webhooks/test", json={"url": closed, "format": "slack"})
    assert reply.status_code == 200 and reply.json()["delivered"] is False
    assert reply.json()["error"].startswith("ConnectError")
    for hook, words in (({"url": "ftp://x"}, "is not an http:// or https:// URL"),
                        ({"url": "https://x.example", "format": "telegram"},
                         "a telegram webhook needs the chat id"),
                        ({"url": "https://x.example", "format": "sms"}, "'sms' is not one of")):
        assert words in refused(client.post("/api/copilot/webhooks/test", json=hook), 422)


# --- test on history -----------------------------------------------------------------------

def test_rules_tested_on_the_sample_give_the_testers_result(client) -> None:
    reply = client.post("/api/copilot/test", json={
        "data_file": SAMPLE, "rules": [BTC_10K, DD_GUARD], "strategy": "SMA_Crossover",
        "params": {"fast": 10, "slow": 30}, "coin": "btc", "wait": 30})
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["status"] == "finished" and job["data"] == SAMPLE and job["error"] is None
    assert job["done"] == job["total"] and job["progress"] == 1.0
    expected = test_rules(load_bars(sample_data_dir() / SAMPLE), [BTC_10K, DD_GUARD],
                          strategy="SMA_Crossover", params={"fast": 10, "slow": 30},
                          coin="BTC")
    assert job["result"] == json.loads(json.dumps(expected))
    assert job["result"]["counts"] == {"btc-10k": 1, "dd-guard": 1}
    (effect,) = job["result"]["effects"]
    assert effect["drawdown_saved_pct"] > 0
    assert client.get(f"/api/copilot/test/{job['job_id']}").json() == job


def test_a_test_without_wait_answers_at_once_and_is_polled_to_its_end(client) -> None:
    reply = client.post("/api/copilot/test", json={"data_file": SAMPLE, "rules": [BTC_10K]})
    assert reply.status_code == 202
    job_id = reply.json()["job_id"]
    job = wait_until(lambda: (j := client.get(f"/api/copilot/test/{job_id}").json())
                     ["status"] == "finished" and j, what="the test's end")
    assert [f["rule_id"] for f in job["result"]["firings"]] == ["btc-10k"]


def test_one_test_runs_at_a_time_and_a_second_is_told_which_runs(engine, tmp_path) -> None:
    from test_trend_api import write_walk

    data = tmp_path / "data"
    data.mkdir()
    write_walk(data / "walk-1h.csv", 200_000)  # seconds of replay with a strategy beside it
    optimization = OptimizationService([data], upload_dir=tmp_path / "uploads")
    app = create_app(engine, optimization=optimization, max_workers=0)
    guard = {**DD_GUARD, "scope": {"kind": "all", "value": None}}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        first = client.post("/api/copilot/test", json={
            "data_file": "walk-1h.csv", "rules": [guard], "strategy": "SMA_Crossover"})
        assert first.status_code == 202, first.text
        second = client.post("/api/copilot/test", json={"data_file": "walk-1h.csv",
                                                        "rules": [BTC_10K]})
        assert refused(second, 409) == ("test-1 is running already; one rule test runs at a "
                                        "time here: wait for it to finish")
        job = wait_until(lambda: (j := client.get("/api/copilot/test/test-1").json())
                         ["status"] == "finished" and j, timeout=120, what="the test's end")
        assert job["done"] == job["total"] == 200_000
    app.state.copilot_tests.shutdown(timeout=30)
    optimization.shutdown()


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"data_file": "nope.csv"}, 404, "nope.csv"),
    ({"strategy": "Nope"}, 404, "unknown strategy 'Nope'"),
    ({"strategy": "SMA_Crossover", "params": {"fast": -3}}, 422,
     "fast must be between 2 and 500 (got -3)"),
    ({"rules": [{**BTC_10K, "condition": {"type": "rsi", "params": {
        "timeframe": "5m", "below": 30}}}]}, 422,
     "rule 'btc-10k': its rsi reads 5m bars, finer than the file's 1h bars; choose 1h or "
     "longer, or a finer file"),
    ({"rules": []}, 422, "rules"),
    ({"coin": "BT-C"}, 422, "coin"),
])
def test_a_bad_test_request_is_a_4xx_that_says_what_and_leaves_no_job(client, body, status,
                                                                      words) -> None:
    reply = client.post("/api/copilot/test", json={"data_file": SAMPLE, "rules": [BTC_10K],
                                                   **body})
    assert words in refused(reply, status)
    assert client.app.state.copilot_tests.jobs() == []


# --- the contract --------------------------------------------------------------------------

def test_every_copilot_route_and_shape_is_in_the_openapi_document(client) -> None:
    document = client.get("/openapi.json").json()
    paths = {path: set(methods) for path, methods in document["paths"].items()
             if path.startswith("/api/copilot")}
    assert paths == {
        "/api/copilot/conditions": {"get"},
        "/api/copilot/rules": {"get", "post"},
        "/api/copilot/rules/export": {"get"},
        "/api/copilot/rules/import": {"post"},
        "/api/copilot/rules/{rule_id}": {"get", "put", "delete"},
        "/api/copilot/rules/{rule_id}/enable": {"post"},
        "/api/copilot/rules/{rule_id}/disable": {"post"},
        "/api/copilot/alerts": {"get"},
        "/api/copilot/alerts/{alert_id}/acknowledge": {"post"},
        "/api/copilot/actions": {"get"},
        "/api/copilot/actions/{action_id}/confirm": {"post"},
        "/api/copilot/actions/{action_id}/reject": {"post"},
        "/api/copilot/settings": {"get", "put"},
        "/api/copilot/deliveries": {"get"},
        "/api/copilot/webhooks/test": {"post"},
        "/api/copilot/test": {"post"},
        "/api/copilot/test/{job_id}": {"get"},
    }
    schemas = document["components"]["schemas"]
    for name in ("RuleIn", "RuleOut", "AlertOut", "ActionOut", "SettingsOut", "SettingsIn",
                 "DeliveryOut", "ConditionTypeOut", "TestIn", "TestJobOut",
                 "WebhookTestOut"):
        assert name in schemas, name
    assert set(schemas["AlertOut"]["properties"]) >= {
        "id", "rule_id", "rule_name", "time", "tick_time", "coin", "strategy_id", "severity",
        "message", "price", "value", "threshold", "acknowledged", "action_id", "throttled"}


def test_the_copilot_needs_the_token_like_every_route(engine) -> None:
    app = create_app(engine, token="t0ken")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/api/copilot/rules").status_code == 401
        assert client.post("/api/copilot/rules", json=BTC_70K).status_code == 401
        assert client.get("/copilot").status_code == 200  # the page: nothing private
        bearer = {"Authorization": "Bearer t0ken"}
        assert client.post("/api/copilot/rules", json=BTC_70K, headers=bearer
                           ).status_code == 201
        evil = {**bearer, "Origin": "http://evil.example"}
        assert refused(client.post("/api/copilot/rules/btc-70k/disable", headers=evil),
                       403).startswith("pages at http://evil.example may not use this server")
    app.state.copilot_tests.shutdown()


# --- the alerts socket's client rules (the socket itself: test_copilot_api_ws.py) ----------

def queued(client) -> list[tuple[str, int]]:
    out = []
    while not client.queue.empty():
        kind, data = client.queue.get_nowait()
        out.append((kind, data["id"]))
    return out


def test_alerts_raised_during_a_replay_are_sent_after_it_each_once() -> None:
    from velocitas_desktop.server.alerts_socket import AlertClient

    client = AlertClient(live=False, last_id=1, sent_id=1)
    client.offer("alert", {"id": 3})       # raised while the replay reads the journal...
    client.offer("action", {"id": 7})
    client.offer("alert", {"id": 4})
    for stored in (2, 3):                  # ... which already holds alert 3
        client.put("alert", {"id": stored})
    client.go_live()
    client.offer("alert", {"id": 4})       # a late copy of one sent
    client.offer("alert", {"id": 5})
    assert queued(client) == [("alert", 2), ("alert", 3), ("action", 7), ("alert", 4),
                              ("alert", 5)]


def test_a_client_with_too_many_alerts_waiting_is_told_where_to_resume() -> None:
    from velocitas_desktop.server.alerts_socket import MAX_QUEUED, AlertClient

    client = AlertClient(live=True, last_id=0, sent_id=40)
    for i in range(MAX_QUEUED):
        client.offer("alert", {"id": 41 + i})
    assert not client.ended.is_set()
    client.offer("alert", {"id": 41 + MAX_QUEUED})
    assert client.ended.is_set() and client.close_code == 1013
    assert client.close_reason == (f"too slow: {MAX_QUEUED} alerts waited for you; "
                                   "reconnect with ?after_id=40")
