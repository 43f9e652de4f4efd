"""Webhooks: each format's body as a real receiver on 127.0.0.1 gets it, the retry schedule
on endpoints that fail (500s, a closed port, one slower than the timeout, a 429), and the
caller that never waits. The retry schedule runs on a test clock: exact, and quick."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes.webhook_receiver import Answer, Receiver, wait_until

from velocitas_desktop.copilot import webhooks
from velocitas_desktop.copilot.notify import Notifier
from velocitas_desktop.copilot.webhooks import Webhook, WebhookError, render
from velocitas_desktop.store.outbox import OutboxStore

T0 = 1_765_000_000.0
ALERT = {"id": 17, "rule_id": "btc-70k", "rule_name": "BTC above 70k", "time": T0 + 0.12,
         "tick_time": T0 + 0.10, "coin": "BTC", "strategy_id": None, "severity": "warning",
         "message": "BTC crossed 70,000 at 70,012.50", "price": 70012.5, "value": 70012.5,
         "threshold": 70000, "acknowledged": False, "action_id": None, "throttled": False,
         "dedup_key": "btc-70k:17"}


class TestClock:
    """Time that moves only when the notifier sleeps: each pause is recorded, none is waited."""

    __test__ = False

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class Half:
    """A random source always at the middle: the jitter is exactly half of its 10%."""

    def random(self) -> float:
        return 0.5


def alert(n: int = 17, **changes: Any) -> dict[str, Any]:
    return {**ALERT, "id": n, "dedup_key": f"btc-70k:{n}", **changes}


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


def notifier_for(hooks: list[dict[str, Any]], clock: TestClock | None = None,
                 **options: Any) -> Notifier:
    settings = {"webhooks": hooks, "heartbeat": {"url": None, "interval_s": 60}}
    if clock is not None:
        options.update(clock=clock, sleep=clock.sleep, rng=Half())
    return Notifier(OutboxStore(":memory:"), lambda: settings, **options)


@pytest.fixture
def running() -> Iterator[list[Notifier]]:
    started: list[Notifier] = []
    yield started
    for notifier in started:
        notifier.stop()


def start(running: list[Notifier], notifier: Notifier) -> Notifier:
    notifier.start()
    running.append(notifier)
    return notifier


def delivered(notifier: Notifier, status: str, count: int = 1) -> list[dict[str, Any]]:
    def rows() -> list[dict[str, Any]] | None:
        found = [d for d in notifier.deliveries(10_000) if d["status"] == status]
        return found if len(found) >= count else None
    return wait_until(rows, what=f"{count} deliveries {status}")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the bodies ----------------------------------------------------------------------------

def test_the_json_body_is_the_alert_with_its_delivery_key() -> None:
    body = render("json", ALERT, key="k1")
    assert body["app"] == "velocitas" and body["dedup_key"] == "k1"
    assert {k: body[k] for k in ALERT if k != "dedup_key"} == \
        {k: v for k, v in ALERT.items() if k != "dedup_key"}


def test_discord_gets_content_and_an_embed_coloured_by_severity() -> None:
    body = render("discord", alert(severity="critical"), key="k1")
    assert body["content"] == "🚨 CRITICAL: BTC above 70k: BTC crossed 70,000 at 70,012.50"
    (embed,) = body["embeds"]
    assert embed["color"] == 0xE74C3C and embed["footer"] == {"text": "key k1"}
    assert embed["timestamp"] == "2025-12-06T05:46:40+00:00"
    assert {"name": "Coin", "value": "BTC", "inline": True} in embed["fields"]
    assert {"name": "Price", "value": "70,012.5", "inline": True} in embed["fields"]


def test_slack_gets_text_and_blocks_with_the_key_in_small_print() -> None:
    body = render("slack", ALERT, key="k1")
    assert body["text"] == "⚠️ WARNING: BTC above 70k: BTC crossed 70,000 at 70,012.50"
    assert body["blocks"][0] == {"type": "section", "text": {
        "type": "mrkdwn", "text": "*⚠️ WARNING: BTC above 70k*\nBTC crossed 70,000 at 70,012.50"}}
    assert {"type": "mrkdwn", "text": "*Threshold*\n70,000"} in body["blocks"][1]["fields"]
    assert body["blocks"][-1] == {"type": "context",
                                  "elements": [{"type": "mrkdwn", "text": "key k1"}]}


def test_telegram_gets_the_chat_and_plain_text() -> None:
    body = render("telegram", ALERT, chat_id="-100123")
    assert body["chat_id"] == "-100123"
    assert body["text"].splitlines()[:3] == ["⚠️ WARNING: BTC above 70k",
                                             "BTC crossed 70,000 at 70,012.50", "Coin: BTC"]


def test_a_long_message_is_cut_to_each_services_limit() -> None:
    long = alert(message="x" * 5000)
    assert len(render("discord", long)["content"]) == 2000
    assert len(render("discord", long)["embeds"][0]["description"]) == 4096
    assert len(render("slack", long)["blocks"][0]["text"]["text"]) == 3000
    assert render("telegram", long, chat_id="1")["text"].endswith("x…")
    assert render("json", long)["message"] == "x" * 5000


def test_a_throttled_alert_says_so_in_every_format() -> None:
    throttled = alert(throttled=True, message="btc-70k fired 15 times in 180 s; throttled")
    assert render("json", throttled)["throttled"] is True
    assert "(throttled)" in render("discord", throttled)["content"]
    assert "(throttled)" in render("slack", throttled)["text"]
    assert "(throttled)" in render("telegram", throttled, chat_id="1")["text"]


@pytest.mark.parametrize(("hook", "says"), [
    ({"url": "ftp://x", "format": "json"}, "webhooks[0].url: 'ftp://x' is not an http"),
    ({"url": "https://x", "format": "teams"}, "webhooks[0].format: 'teams' is not one of"),
    ({"url": "https://x", "min_severity": "loud"}, "webhooks[0].min_severity: 'loud'"),
    ({"url": "https://x", "format": "telegram"}, "webhooks[0].chat_id: a telegram webhook"),
    ({"url": "https://x", "chat_id": 5}, "only a telegram webhook takes a chat id"),
    ({"url": "https://x", "enabled": "yes"}, "webhooks[0].enabled: expected true or false"),
])
def test_a_bad_webhook_setting_is_named_with_what_to_fix(hook: dict[str, Any], says: str) -> None:
    with pytest.raises(WebhookError, match=re.escape(says)):
        webhooks.check_settings({"webhooks": [hook]})


def test_settings_are_filled_with_their_defaults() -> None:
    checked = webhooks.check_settings({"webhooks": [{"url": " https://h/x "}],
                                       "heartbeat": {"url": "", "interval_s": 30}})
    assert checked == {"webhooks": [{"url": "https://h/x", "format": "json",
                                     "min_severity": "info", "enabled": True}],
                       "heartbeat": {"url": None, "interval_s": 30}}
    with pytest.raises(WebhookError, match=r"heartbeat\.interval_s"):
        webhooks.check_settings({"heartbeat": {"url": "https://h", "interval_s": 1}})


def test_min_severity_lets_through_that_severity_and_above() -> None:
    hook = Webhook.from_json({"url": "https://h", "min_severity": "warning"})
    assert [hook.wants(s) for s in ("info", "warning", "critical")] == [False, True, True]
    assert not Webhook.from_json({"url": "https://h", "enabled": False}).wants("critical")


def test_the_retry_schedule_doubles_from_one_second_to_a_minute_with_jitter() -> None:
    assert [webhooks.pause(n, Half()) for n in range(1, 9)] == \
        [1.05, 2.1, 4.2, 8.4, 16.8, 33.6, 63.0, 63.0]


def test_retry_after_reads_seconds_or_a_date_and_is_capped() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})
    assert webhooks.retry_after(answer("7")) == 7.0
    assert webhooks.retry_after(answer("86400")) == webhooks.MAX_RETRY_AFTER
    assert webhooks.retry_after(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0
    assert webhooks.retry_after(answer("soon")) is None


def test_a_delivery_key_is_the_alerts_key_time_and_target() -> None:
    one = webhooks.dedup_key(ALERT, "https://a")
    assert one.startswith("btc-70k:17@1765000000120/")
    assert one == webhooks.dedup_key(dict(ALERT), "https://a")
    assert one != webhooks.dedup_key(ALERT, "https://b")
    assert one != webhooks.dedup_key({**ALERT, "time": T0 + 60}, "https://a")


# --- on the wire -----------------------------------------------------------------------------

@pytest.mark.slow
def test_each_format_reaches_a_receiver_as_rendered_with_its_key(running) -> None:
    with Receiver() as receiver:
        hooks = [{"url": f"{receiver.url}/{f}", "format": f} for f in ("json", "discord",
                                                                          "slack")]
        hooks.append({"url": f"{receiver.url}/bot1:x/sendMessage", "format": "telegram",
                      "chat_id": "-100123"})
        notifier = start(running, notifier_for(hooks))
        notifier.alert(ALERT)
        got = {r.path: r for r in receiver.wait_for(4)}
        sent = delivered(notifier, "sent", 4)
    for row in sent:
        request = got["/" + row["target"].split("/", 3)[3].split("#")[0]]
        hook = next(h for h in hooks if row["target"].startswith(h["url"]))
        assert row["format"] == hook["format"] and row["attempts"] == 1
        assert request.headers["Idempotency-Key"] == row["dedup_key"]
        assert request.headers["X-Velocitas-Dedup-Key"] == row["dedup_key"]
        assert request.body == render(hook["format"], ALERT, chat_id=hook.get("chat_id"),
                                      key=row["dedup_key"])
    assert got["/bot1:x/sendMessage"].body["chat_id"] == "-100123"


@pytest.mark.slow
def test_a_webhook_hears_only_alerts_of_its_min_severity(running) -> None:
    with Receiver() as receiver:
        notifier = start(running, notifier_for([{"url": receiver.url,
                                                 "min_severity": "critical"}]))
        notifier.alert(alert(1, severity="info"))
        notifier.alert(alert(2, severity="warning"))
        notifier.alert(alert(3, severity="critical"))
        (request,) = receiver.wait_for(1)
        assert request.body["id"] == 3
        assert [d["alert_id"] for d in delivered(notifier, "sent")] == [3]


@pytest.mark.slow
def test_500s_are_retried_on_the_schedule_then_recorded_failed(running, clock) -> None:
    with Receiver(default=Answer(500)) as receiver:
        notifier = start(running, notifier_for([{"url": receiver.url}], clock, attempts=5))
        notifier.alert(ALERT)
        (failed,) = delivered(notifier, "failed")
        assert len(receiver.received) == 5
    assert clock.sleeps == [1.05, 2.1, 4.2, 8.4]
    assert failed["attempts"] == 5 and failed["last_error"] == "attempt 5: HTTP 500: ok"


@pytest.mark.slow
def test_a_failing_endpoint_rests_longer_after_each_failure_whichever_alert_is_next(
        running, clock) -> None:
    with Receiver(default=Answer(503)) as receiver:
        notifier = notifier_for([{"url": receiver.url}], clock, attempts=2)
        for n in (1, 2, 3):
            notifier.alert(alert(n))       # queued before the start: one batch in the outbox
        start(running, notifier)
        failed = delivered(notifier, "failed", 3)
        assert [r.body["id"] for r in receiver.received] == [1, 2, 3, 1, 2, 3]
    assert clock.sleeps == [1.05, 2.1, 4.2, 8.4, 16.8]   # not one POST per alert per second
    assert {d["attempts"] for d in failed} == {2}


@pytest.mark.slow
def test_a_closed_port_is_retried_on_the_schedule_then_recorded_failed(running, clock) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    notifier = start(running, notifier_for([{"url": url}], clock, attempts=4))
    notifier.alert(ALERT)
    (failed,) = delivered(notifier, "failed")
    assert clock.sleeps == [1.05, 2.1, 4.2]
    assert failed["attempts"] == 4 and "ConnectError" in failed["last_error"]


@pytest.mark.slow
def test_an_endpoint_slower_than_the_timeout_is_retried_then_failed(running, clock) -> None:
    with Receiver(default=Answer(hang=True)) as receiver:
        notifier = start(running, notifier_for([{"url": receiver.url}], clock, attempts=3,
                                               timeout=webhooks.timeouts(1.0, 0.2)))
        notifier.alert(ALERT)
        (failed,) = delivered(notifier, "failed")
        assert len(receiver.received) == 3
    assert clock.sleeps == [1.05, 2.1]
    assert failed["last_error"] == "attempt 3: timed out (ReadTimeout)"


@pytest.mark.slow
def test_a_404_is_not_retried(running, clock) -> None:
    with Receiver(default=Answer(404)) as receiver:
        notifier = start(running, notifier_for([{"url": receiver.url}], clock))
        notifier.alert(ALERT)
        (failed,) = delivered(notifier, "failed")
        assert len(receiver.received) == 1 and clock.sleeps == []
    assert failed["attempts"] == 1 and "HTTP 404" in failed["last_error"]


@pytest.mark.slow
def test_a_429_is_tried_again_after_its_retry_after(running, clock) -> None:
    with Receiver([Answer(429, {"Retry-After": "7"})]) as receiver:
        notifier = start(running, notifier_for([{"url": receiver.url}], clock))
        notifier.alert(ALERT)
        (sent,) = delivered(notifier, "sent")
        assert len(receiver.received) == 2
    assert clock.sleeps == [7.0]
    assert sent["attempts"] == 2 and sent["last_error"] is None


@pytest.mark.slow
def test_the_caller_never_waits_for_an_endpoint_that_hangs(running) -> None:
    with Receiver(default=Answer(hang=True)) as receiver:
        notifier = start(running, notifier_for([{"url": receiver.url}],
                                               timeout=webhooks.timeouts(1.0, 30.0)))
        notifier.alert(alert(1))
        receiver.wait_for(1)  # the first POST is now stuck in the receiver
        began = time.perf_counter()
        for n in range(2, 202):
            notifier.alert(alert(n))
        took = time.perf_counter() - began
        assert not receiver.release.is_set()  # every call returned while the POST hung
        assert took < 1.0
        receiver.release.set()
        delivered(notifier, "sent", 201)


@pytest.mark.slow
def test_a_dead_endpoint_holds_up_only_its_own_deliveries(running) -> None:
    with Receiver(default=Answer(hang=True)) as dead, Receiver() as alive:
        notifier = start(running, notifier_for([{"url": dead.url}, {"url": alive.url}],
                                               timeout=webhooks.timeouts(1.0, 30.0)))
        notifier.alert(alert(1))
        dead.wait_for(1)
        notifier.alert(alert(2))
        assert [r.body["id"] for r in alive.wait_for(2)] == [1, 2]
        assert not dead.release.is_set()


def test_a_full_queue_drops_alerts_instead_of_waiting(monkeypatch) -> None:
    from velocitas_desktop.copilot import notify
    monkeypatch.setattr(notify, "QUEUE_LIMIT", 3)
    notifier = notifier_for([{"url": "http://127.0.0.1:9/x"}])  # not started: nothing drains
    for n in range(5):
        notifier.alert(alert(n))
    assert notifier.dropped == 2


@pytest.mark.slow
def test_the_heartbeat_reaches_its_url_every_interval(running) -> None:
    with Receiver() as receiver:
        settings = {"webhooks": [], "heartbeat": {"url": receiver.url + "/beat",
                                                  "interval_s": 0.05}}
        notifier = start(running, Notifier(OutboxStore(":memory:"), lambda: settings,
                                           status=lambda: "trading"))
        beats = receiver.wait_for(3)
    assert all(b.path == "/beat" for b in beats)
    body = beats[0].body
    assert set(body) == {"app", "version", "time", "status", "alerts_pending"}
    assert body["app"] == "velocitas" and body["status"] == "trading"
    assert body["alerts_pending"] == 0
    assert beats[2].body["time"] - beats[0].body["time"] >= 0.09   # two intervals apart
    row = wait_until(lambda: [d for d in notifier.deliveries() if d["attempts"] >= 3])[0]
    assert row["channel"] == "heartbeat" and row["status"] == "sent"


@pytest.mark.slow
def test_a_heartbeat_set_while_running_starts_at_once(running) -> None:
    with Receiver() as receiver:
        settings: dict[str, Any] = {"webhooks": [], "heartbeat": {"url": None}}
        notifier = start(running, Notifier(OutboxStore(":memory:"), lambda: settings))
        settings["heartbeat"] = {"url": receiver.url, "interval_s": 60}
        notifier.settings_changed()
        receiver.wait_for(1, timeout=webhooks.CONNECT_TIMEOUT)
