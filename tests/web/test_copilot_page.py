"""The Copilot page: a rule written in its form (the form's own check first, then the API's
refusal shown as the API words it), an alert of that rule arriving live over /ws/alerts while
a replay runs (counted on the Copilot link while another page is open), its pending action
confirmed and the strategy paused; and the same page on a token-protected server."""

from __future__ import annotations

import csv
import json
import re
import statistics
import time
from itertools import islice
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from web_helpers import TOKEN

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "data" / "BTCUSD-1h-sample.csv"
STRATEGY = "BTC_SMA_Crossover"


def crossed_level() -> float:
    """A price the replay crosses within its first hours: the median close of its first 200
    bars (prices on both sides of it, so a cross either way comes early)."""
    with SAMPLE.open() as handle:
        closes = [float(row["close"]) for row in islice(csv.DictReader(handle), 200)]
    return round(statistics.median(closes), 2)


def start_replay(server) -> None:
    reply = server.api.post("/api/engine/start", params={
        "data_source": "csv", "csv": "BTC=sample:BTCUSD-1h", "speed": 100_000})
    assert reply.status_code == 200, reply.text


def open_new_rule(page: Page) -> Locator:
    page.get_by_role("region", name="Rules").get_by_role("button", name="New rule").click()
    dialog = page.get_by_role("dialog", name="New rule")
    expect(dialog).to_be_visible()
    return dialog


def wait_for(condition, what: str, timeout: float = 30.0):
    """Polls ``condition`` until it returns something true; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.1)


def test_a_rule_from_the_form_alerts_live_and_its_action_is_confirmed(server, page):
    registered = server.api.post("/api/strategies/register", json={
        "name": "SMA_Crossover", "coin": "BTC", "params": {"fast": 10, "slow": 30}})
    assert registered.status_code == 200, registered.text
    page.goto(server.url + "/copilot")
    dialog = open_new_rule(page)
    dialog.get_by_label("Name", exact=True).fill("BTC cross")

    # the form's own check: a price_cross without its level is not sent
    dialog.get_by_label("Condition", exact=True).select_option("price_cross")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("level is needed")).to_be_visible()
    expect(dialog.get_by_label("level", exact=True)).to_have_attribute("aria-invalid", "true")
    assert server.api.get("/api/copilot/rules").json() == []

    # what only the rules know (a fast average as slow as the slow one): the API's words
    dialog.get_by_label("Condition", exact=True).select_option("ma_cross")
    dialog.get_by_label("fast", exact=True).fill("50")
    dialog.get_by_label("slow", exact=True).fill("10")
    with page.expect_response(lambda r: r.url.endswith("/api/copilot/rules")
                              and r.request.method == "POST") as refused:
        dialog.get_by_role("button", name="Save").click()
    assert refused.value.status == 422
    detail = refused.value.json()["detail"]
    assert "fast" in detail and "slow" in detail
    expect(dialog.get_by_role("alert")).to_have_text(detail)
    assert server.api.get("/api/copilot/rules").json() == []

    level = crossed_level()
    dialog.get_by_label("Condition", exact=True).select_option("price_cross")
    dialog.get_by_label("level", exact=True).fill(str(level))
    dialog.get_by_label("direction", exact=True).select_option("either")
    dialog.get_by_label("Scope", exact=True).select_option("coin")
    dialog.get_by_label("Coin", exact=True).fill("BTC")
    dialog.get_by_label("Severity", exact=True).select_option("critical")
    dialog.get_by_label("Frequency", exact=True).select_option("once")
    dialog.get_by_label("Message", exact=True).fill("{rule}: {coin} crossed {threshold} at {price:,.2f}")
    dialog.get_by_label("Action", exact=True).select_option("pause_strategy")
    dialog.get_by_label("Strategy id", exact=True).fill(STRATEGY)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    rules = server.api.get("/api/copilot/rules").json()
    assert len(rules) == 1
    rule = rules[0]
    assert rule["condition"] == {"type": "price_cross",
                                 "params": {"level": level, "direction": "either"}}
    assert rule["scope"] == {"kind": "coin", "value": "BTC"}
    assert rule["frequency"]["mode"] == "once" and rule["severity"] == "critical"
    assert rule["action"] == {"type": "pause_strategy", "params": {"strategy_id": STRATEGY},
                              "auto": False}
    row = page.get_by_test_id(f"rule-row-{rule['id']}")
    expect(row).to_contain_text("BTC cross")
    expect(row.get_by_role("checkbox", name="Enabled: BTC cross")).to_be_checked()

    # on another page, the alert is counted on the Copilot link
    nav = page.get_by_role("navigation", name="Pages")
    nav.get_by_role("link", name="Live").click()
    start_replay(server)
    # the link reads "Copilot (1 unread alert)" to a screen reader
    expect(nav.get_by_role("link", name="Copilot (1 unread alert)", exact=True)).to_be_visible(
        timeout=60_000)
    nav.get_by_role("link", name="Copilot").click()
    expect(page.get_by_test_id("unread-alerts")).to_have_count(0)

    alerts = wait_for(lambda: server.api.get("/api/copilot/alerts").json(), "the rule's alert")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["rule_id"] == rule["id"] and alert["severity"] == "critical"
    assert alert["message"].startswith("BTC cross: BTC crossed ")
    shown = page.get_by_role("list", name="Live alerts").locator("[data-alert-id]")
    expect(shown).to_have_count(1)
    expect(shown.first).to_have_attribute("data-alert-id", str(alert["id"]))
    expect(shown.first).to_have_attribute("data-severity", "critical")
    expect(shown.first).to_contain_text(alert["message"])
    assert page.evaluate("() => window.__velocitas.alerts.duplicates") == 0

    # its action waits for the trader; Confirm pauses the strategy
    pending = page.get_by_role("region", name="Pending actions")
    actions = server.api.get("/api/copilot/actions", params={"status": "pending"}).json()
    assert [a["alert_id"] for a in actions] == [alert["id"]]
    action = actions[0]
    expect(pending.locator(f'[data-action-id="{action["id"]}"]')).to_contain_text(action["reason"])
    assert server.api.get(f"/api/strategies/{STRATEGY}").json()["status"] == "active"
    pending.get_by_role("button", name=f"Confirm action {action['id']}").click()
    expect(page.get_by_test_id("action-outcome")).to_contain_text("executed")
    expect(pending.locator("[data-action-id]")).to_have_count(0)
    wait_for(lambda: server.api.get(f"/api/strategies/{STRATEGY}").json()["status"] == "paused",
             f"{STRATEGY} paused")
    decided = server.api.get("/api/copilot/actions").json()
    assert [(a["id"], a["status"], a["decided_by"]) for a in decided] == [
        (action["id"], "executed", "browser")]

    # acknowledged from the list, as the API then says
    page.get_by_role("button", name=f"Acknowledge alert {alert['id']}").click()
    expect(page.get_by_role("button", name=f"Acknowledge alert {alert['id']}")).to_have_count(0)
    assert server.api.get("/api/copilot/alerts").json()[0]["acknowledged"] is True


def test_on_a_protected_server_the_page_asks_for_the_token_and_its_alerts_socket_carries_it(
        token_server, page):
    level = crossed_level()
    made = token_server.api.post("/api/copilot/rules", json={
        "name": "BTC level", "condition": {"type": "price_cross",
                                          "params": {"level": level, "direction": "either"}},
        "scope": {"kind": "coin", "value": "BTC"}, "frequency": {"mode": "once"},
        "severity": "warning"})
    assert made.status_code == 201, made.text
    rule_id = made.json()["id"]

    page.goto(token_server.url + "/copilot")
    expect(page.get_by_role("heading", name="Access token")).to_be_visible()
    expect(page.get_by_role("region", name="Rules")).to_have_count(0)
    page.get_by_label("Token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_test_id(f"rule-row-{rule_id}")).to_contain_text("BTC level")
    expect(page.get_by_test_id("alerts-connection")).to_have_text("Live")

    start_replay(token_server)
    shown = page.get_by_role("list", name="Live alerts").locator("[data-alert-id]")
    expect(shown).to_have_count(1, timeout=60_000)
    alert = token_server.api.get("/api/copilot/alerts").json()[0]
    expect(shown.first).to_contain_text(alert["message"])
    expect(shown.first).to_have_attribute("data-severity", "warning")


def test_rules_imported_from_a_file_are_tested_on_history_and_one_is_deleted_after_asking(
        server, page, tmp_path):
    level = crossed_level()
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"rules": [
        {"name": "BTC level", "condition": {"type": "price_cross", "params": {"level": level}},
         "scope": {"kind": "coin", "value": "BTC"}, "frequency": {"mode": "every_time"}},
        {"name": "Drawdown guard", "condition": {"type": "drawdown", "params": {"percent": 3}},
         "scope": {"kind": "all"}, "frequency": {"mode": "once"}, "severity": "critical",
         "action": {"type": "pause_strategy", "params": {}, "auto": True}},
    ]}))
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"rules": [{"name": "x", "condition": {"type": "nope"}}]}))
    page.goto(server.url + "/copilot")
    rules = page.get_by_role("region", name="Rules")

    # one bad rule imports none, with the API's reason
    rules.get_by_role("button", name="Import").click()
    dialog = page.get_by_role("dialog", name="Import rules")
    dialog.get_by_label("Rules file", exact=True).set_input_files(str(bad_file))
    with page.expect_response(lambda r: r.url.endswith("/api/copilot/rules/import")) as refused:
        dialog.get_by_role("button", name="Import", exact=True).click()
    assert refused.value.status == 422
    expect(dialog.get_by_role("alert")).to_have_text(refused.value.json()["detail"])
    assert server.api.get("/api/copilot/rules").json() == []
    dialog.get_by_label("Rules file", exact=True).set_input_files(str(rules_file))
    dialog.get_by_role("button", name="Import", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(rules.get_by_role("status")).to_have_text("Imported 2 rules")
    expect(page.get_by_test_id("rule-row-btc-level")).to_be_visible()
    expect(page.get_by_test_id("rule-row-drawdown-guard")).to_be_visible()

    # both replayed over the sample beside an SMA crossover's backtest
    page.get_by_role("tab", name="Test on history", exact=True).click()
    form = page.get_by_role("form", name="Test on history")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Strategy (optional)", exact=True).select_option("SMA_Crossover")
    form.get_by_role("button", name="Run test").click()
    expect(page.get_by_test_id("job-status")).to_contain_text("finished", timeout=120_000)
    job_id = page.get_by_test_id("job-status").inner_text().split()[0]
    result = server.api.get(f"/api/copilot/test/{job_id}").json()["result"]
    assert result["counts"]["btc-level"] >= 1
    firings = page.get_by_role("region", name="Firings")
    expect(firings.locator("[data-firing]")).to_have_count(len(result["firings"]))
    expect(firings.locator('[data-firing="btc-level"]').first).to_contain_text(
        result["firings"][0]["message"])
    effects = page.get_by_role("region", name="Effects")
    expect(effects.locator("[data-effect]")).to_have_count(len(result["effects"]))
    assert [e["rule_id"] for e in result["effects"]] == ["drawdown-guard"]

    # Delete asks first; Cancel keeps the rule
    page.get_by_role("tab", name="Monitor", exact=True).click()
    rules.get_by_role("button", name="Delete BTC level").click()
    ask = page.get_by_role("dialog", name="Delete BTC level?")
    ask.get_by_role("button", name="Cancel").click()
    expect(ask).to_be_hidden()
    assert len(server.api.get("/api/copilot/rules").json()) == 2
    rules.get_by_role("button", name="Delete BTC level").click()
    ask.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_test_id("rule-row-btc-level")).to_have_count(0)
    assert [r["id"] for r in server.api.get("/api/copilot/rules").json()] == ["drawdown-guard"]


# Keeps every /ws/alerts socket the page opens and its address, so the test can drop the live
# one as a network would and see where the page resumed.
ALERT_SOCKET_SPY = """
(() => {
  const spy = window.__alertSpy = {sockets: [], urls: []};
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/ws/alerts")) return;
      spy.sockets.push(this);
      spy.urls.push(String(url));
    }
  };
})();
"""

# drops the open socket; returns how many it dropped and the newest alert id the page had then
DROP_ALERTS = """() => {
  const open = window.__alertSpy.sockets.filter((s) => s.readyState === WebSocket.OPEN);
  open.forEach((s) => s.close(4001, "dropped by the test"));
  return [open.length, window.__velocitas.alerts.lastId];
}"""


def alert_counters(page: Page) -> dict:
    return page.evaluate("() => ({...window.__velocitas.alerts})")


def test_a_dropped_alerts_socket_resumes_after_the_last_alert_with_each_alert_once(
        server, context, page):
    with SAMPLE.open() as handle:
        closes = sorted(float(row["close"]) for row in islice(csv.DictReader(handle), 300))
    for quartile in (1, 2, 3):  # three levels the replay crosses again and again
        level = round(closes[len(closes) * quartile // 4], 2)
        made = server.api.post("/api/copilot/rules", json={
            "name": f"level {quartile}", "condition": {"type": "price_cross",
                                                       "params": {"level": level}},
            "scope": {"kind": "coin", "value": "BTC"}, "frequency": {"mode": "every_time"}})
        assert made.status_code == 201, made.text
    context.add_init_script(ALERT_SOCKET_SPY)
    page.goto(server.url + "/copilot")
    connection = page.get_by_test_id("alerts-connection")
    expect(connection).to_have_text("Live")
    reply = server.api.post("/api/engine/start", params={  # two hourly bars a second
        "data_source": "csv", "csv": "BTC=sample:BTCUSD-1h", "speed": 7_200})
    assert reply.status_code == 200, reply.text

    wait_for(lambda: alert_counters(page)["received"] > 0, "the first alert over the socket")
    dropped, seen = page.evaluate(DROP_ALERTS)
    assert dropped == 1
    expect(connection).to_contain_text(f"Resumed after #{seen}")
    urls = page.evaluate("() => window.__alertSpy.urls")
    assert len(urls) == 2 and f"after_id={seen}&" in urls[1] + "&"
    wait_for(lambda: alert_counters(page)["lastId"] > seen, "an alert after the resume", 120)

    assert server.api.post("/api/engine/stop").status_code == 200
    ids = [a["id"] for a in server.api.get("/api/copilot/alerts", params={"limit": 1000}).json()]
    wait_for(lambda: alert_counters(page)["lastId"] == ids[0], "the page's newest alert")
    counters = alert_counters(page)
    assert counters["resumes"] == 1 and counters["duplicates"] == 0
    shown = page.get_by_role("list", name="Live alerts").locator("[data-alert-id]")
    expect(shown).to_have_count(len(ids))
    assert [int(i) for i in shown.evaluate_all(
        "items => items.map((li) => li.dataset.alertId)")] == ids


def test_the_built_in_daily_loss_guard_is_listed_but_changed_only_in_settings(server, page):
    page.goto(server.url + "/copilot")
    page.get_by_role("tab", name="Settings", exact=True).click()
    settings = page.get_by_role("form", name="Copilot settings")
    settings.get_by_label("Pause every strategy when the day's loss passes the limit").check()
    settings.get_by_label("or loss %", exact=True).fill("4")
    settings.get_by_role("button", name="Save settings").click()
    expect(settings.get_by_role("status")).to_have_text("Settings saved")
    assert server.api.get("/api/copilot/settings").json()["daily_loss"] == {
        "enabled": True, "amount": None, "percent": 4.0, "close_positions": True}
    close = settings.get_by_label("Close every position too")
    expect(close).to_be_checked()  # the default, as GET /api/copilot/settings says
    close.uncheck()
    settings.get_by_role("button", name="Save settings").click()
    wait_for(lambda: server.api.get("/api/copilot/settings").json()["daily_loss"] == {
        "enabled": True, "amount": None, "percent": 4.0, "close_positions": False},
        "the guard saved as pause only")
    expect(close).not_to_be_checked()

    page.get_by_role("tab", name="Monitor", exact=True).click()
    row = page.get_by_test_id("rule-row-daily-loss-guard")
    expect(row).to_contain_text("built in: set it in Settings")
    expect(row.get_by_title("pause_all close_positions=false")).to_be_visible()  # the guard remade
    expect(row.get_by_role("checkbox")).to_be_disabled()
    expect(row.get_by_role("button")).to_have_count(0)  # no Edit, no Delete


def test_editing_a_kill_switch_rule_keeps_its_close_positions(server, page):
    made = server.api.post("/api/copilot/rules", json={
        "id": "kill-switch", "name": "Kill switch",
        "condition": {"type": "drawdown", "params": {"percent": 10}},
        "scope": {"kind": "all"}, "frequency": {"mode": "once"}, "severity": "critical",
        "action": {"type": "pause_strategy", "params": {"close_positions": True}, "auto": True}})
    assert made.status_code in (200, 201), made.text
    page.goto(server.url + "/copilot")
    page.get_by_role("region", name="Rules").get_by_role("button", name="Edit Kill switch").click()
    dialog = page.get_by_role("dialog", name="Edit rule kill-switch")
    close = dialog.get_by_label("Close the position too")
    expect(close).to_be_checked()  # read from the rule, not dropped by the form
    dialog.get_by_label("Name", exact=True).fill("Kill switch 10%")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    rule = server.api.get("/api/copilot/rules").json()[0]
    assert rule["name"] == "Kill switch 10%"
    assert rule["action"] == {"type": "pause_strategy", "params": {"close_positions": True},
                              "auto": True}

    page.get_by_role("region", name="Rules").get_by_role("button", name="Edit Kill switch 10%").click()
    dialog = page.get_by_role("dialog", name="Edit rule kill-switch")
    dialog.get_by_label("Close the position too").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert server.api.get("/api/copilot/rules").json()[0]["action"]["params"] == {
        "close_positions": False}


def test_a_telegram_webhook_is_saved_with_its_chat_and_test_sends_a_message(server, page):
    from fakes.webhook_receiver import Answer, Receiver

    page.goto(server.url + "/copilot")
    page.get_by_role("tab", name="Settings", exact=True).click()
    settings = page.get_by_role("form", name="Copilot settings")
    settings.get_by_role("button", name="Add webhook").click()
    hook = settings.get_by_role("group", name="Webhook 1")
    with Receiver(answers=[Answer(), Answer(status=500)]) as receiver:
        url = f"{receiver.url}/bot123/sendMessage"
        hook.get_by_label("Webhook 1 URL").fill(url)
        hook.get_by_label("Webhook 1 format").select_option("telegram")
        chat = hook.get_by_label("Webhook 1 Telegram chat id")
        expect(chat).to_be_visible()  # only Telegram asks for a chat

        # Test before the chat id is given: the API's words
        hook.get_by_role("button", name="Send webhook 1 a test message").click()
        outcome = settings.get_by_label("Webhook test")
        expect(outcome).to_contain_text("No test message sent: webhook.chat_id: a telegram "
                                        "webhook needs the chat id")
        assert receiver.received == []

        chat.fill("-100200300")
        hook.get_by_role("button", name="Send webhook 1 a test message").click()
        expect(outcome).to_contain_text(f"Webhook 1: Test message delivered to {url} (telegram, ")
        (got,) = receiver.received
        assert got.path == "/bot123/sendMessage" and got.body["chat_id"] == "-100200300"
        assert "test message from Velocitas" in got.body["text"]
        hook.get_by_role("button", name="Send webhook 1 a test message").click()
        expect(outcome).to_contain_text(f"Test message not delivered to {url}: HTTP 500")
    assert server.api.get("/api/copilot/settings").json()["webhooks"] == []  # not saved yet

    settings.get_by_role("button", name="Save settings").click()
    expect(settings.get_by_role("status").filter(has_text="Settings saved")).to_be_visible()
    assert server.api.get("/api/copilot/settings").json()["webhooks"] == [{
        "url": url, "format": "telegram", "min_severity": "warning", "enabled": True,
        "chat_id": "-100200300"}]
    page.reload()
    page.get_by_role("tab", name="Settings", exact=True).click()
    expect(page.get_by_label("Webhook 1 Telegram chat id")).to_have_value("-100200300")


def test_rules_changed_elsewhere_show_on_the_open_page_at_once(server, page):
    """The window or a script changes the rules; the page, open on its Monitor, lists them as
    they are now without being reloaded or switched away (the rules frames of /ws/alerts)."""
    page.goto(server.url + "/copilot")
    rules = page.get_by_role("region", name="Rules")
    expect(page.get_by_test_id("rule-row-from-window")).to_have_count(0)
    made = server.api.post("/api/copilot/rules", json={
        "id": "from-window", "name": "From the window",
        "condition": {"type": "price_cross", "params": {"level": 70000, "direction": "up"}},
        "scope": {"kind": "coin", "value": "BTC"}})
    assert made.status_code == 201, made.text
    row = page.get_by_test_id("rule-row-from-window")
    expect(row).to_be_visible()
    expect(row.get_by_role("checkbox")).to_be_checked()
    server.api.post("/api/copilot/rules/from-window/disable")
    expect(row.get_by_role("checkbox")).not_to_be_checked()
    server.api.delete("/api/copilot/rules/from-window")
    expect(row).to_have_count(0)
    expect(rules).to_be_visible()


def make_crossing_rule(server, rule_id: str, frequency: dict) -> None:  # type: ignore[no-untyped-def]
    """A rule on BTC crossing, either way, a level the replay crosses early."""
    made = server.api.post("/api/copilot/rules", json={
        "id": rule_id, "name": f"BTC {rule_id}", "frequency": frequency,
        "condition": {"type": "price_cross", "params": {"level": crossed_level(),
                                                        "direction": "either"}},
        "scope": {"kind": "coin", "value": "BTC"}})
    assert made.status_code == 201, made.text


def test_an_alert_acknowledged_elsewhere_shows_seen_on_the_open_page(server, page):
    make_crossing_rule(server, "cross", {"mode": "once"})
    page.goto(server.url + "/copilot")
    start_replay(server)
    alerts = page.get_by_role("list", name="Live alerts")
    item = alerts.locator("[data-alert-id]").first
    expect(item).to_be_visible(timeout=60_000)
    alert_id = int(item.get_attribute("data-alert-id"))
    expect(item.get_by_role("button", name=f"Acknowledge alert {alert_id}")).to_be_visible()
    seen = server.api.post(f"/api/copilot/alerts/{alert_id}/acknowledge")  # the window, say
    assert seen.status_code == 200 and seen.json()["acknowledged"] is True
    expect(item.get_by_title("acknowledged")).to_be_visible()
    expect(item.get_by_role("button", name=f"Acknowledge alert {alert_id}")).to_have_count(0)
    assert server.api.post("/api/engine/stop").status_code in (200, 409)


def test_acknowledge_all_marks_every_listed_alert_seen_in_every_view(server, page):
    make_crossing_rule(server, "crosses", {"mode": "every_time", "cooldown_s": 0})
    page.goto(server.url + "/copilot")
    start_replay(server)
    items = page.get_by_role("list", name="Live alerts").locator("[data-alert-id]")
    wait_for(lambda: items.count() >= 4, "a few alerts", 60)
    assert server.api.post("/api/engine/stop").status_code in (200, 409)

    def all_listed() -> bool:  # the monitor's last look may raise one after the stop
        stored = server.api.get("/api/copilot/alerts", params={"limit": 1000}).json()
        return items.count() == len(stored)

    wait_for(all_listed, "every alert listed")
    time.sleep(0.5)
    wait_for(all_listed, "every alert listed")
    panel = page.get_by_role("region", name="Alerts")
    panel.get_by_role("button", name="Acknowledge all").click()
    expect(panel.get_by_role("button", name=re.compile(r"^Acknowledge alert "))).to_have_count(0)
    expect(panel.get_by_role("button", name="Acknowledge all")).to_be_disabled()
    listed = [int(i) for i in items.evaluate_all("items => items.map((li) => li.dataset.alertId)")]
    stored = {a["id"]: a for a in server.api.get("/api/copilot/alerts",
                                                 params={"limit": 1000}).json()}
    assert listed and all(stored[i]["acknowledged"] for i in listed)
