"""The notifier's own life: bad settings or a malformed alert cost only themselves, stop() is
bounded by its timeout whatever an endpoint does, a failing heartbeat is recorded."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
from fakes.webhook_receiver import Answer, Receiver, wait_until

from velocitas_desktop.copilot import notify
from velocitas_desktop.copilot.notify import Notifier
from velocitas_desktop.store.outbox import OutboxStore

T0 = 1_765_000_000.0


def alert(n: int, **changes: Any) -> dict[str, Any]:
    return {"id": n, "rule_id": "r", "rule_name": "r", "time": T0 + n, "severity": "info",
            "message": f"alert {n}", "dedup_key": f"r:{n}", **changes}


def notifier_for(settings: dict[str, Any]) -> Notifier:
    return Notifier(OutboxStore(":memory:"), lambda: settings)


@pytest.mark.slow
def test_a_webhook_the_settings_got_wrong_is_skipped_and_the_others_hear_the_alert(
        caplog) -> None:
    with Receiver() as receiver:
        notifier = notifier_for({"webhooks": [{"url": "ftp://nowhere"}, {"url": receiver.url}]})
        notifier.start()
        try:
            with caplog.at_level(logging.WARNING, logger=notify.__name__):
                notifier.alert(alert(1))
                (request,) = receiver.wait_for(1)
            assert request.body["id"] == 1
            assert "a webhook is skipped: webhook.url: 'ftp://nowhere'" in caplog.text
        finally:
            notifier.stop()


@pytest.mark.slow
def test_a_malformed_alert_costs_only_itself(caplog) -> None:
    with Receiver() as receiver:
        notifier = notifier_for({"webhooks": [{"url": receiver.url}]})
        notifier.alert(alert(1))
        notifier.alert(alert(2, time="yesterday"))   # its key cannot be made
        notifier.alert(alert(3))
        with caplog.at_level(logging.ERROR, logger=notify.__name__):
            notifier.start()                           # all three in one batch
            try:
                got = receiver.wait_for(2)
            finally:
                notifier.stop()
    assert sorted(r.body["id"] for r in got) == [1, 3]
    assert "could not render alert 2" in caplog.text


@pytest.mark.slow
def test_stop_returns_within_its_timeout_while_a_post_hangs() -> None:
    with Receiver(default=Answer(hang=True)) as receiver:
        notifier = notifier_for({"webhooks": [{"url": receiver.url}]})
        notifier.start()
        notifier.alert(alert(1))
        receiver.wait_for(1)
        began = time.monotonic()
        notifier.stop(timeout=0.3)
        assert time.monotonic() - began < 2.0   # 0.3 s, with room for a loaded machine
        (row,) = notifier.deliveries()
        assert row["status"] == "pending" and row["attempts"] == 1   # the next start's


@pytest.mark.slow
def test_a_heartbeat_that_cannot_arrive_is_recorded_failed_and_beats_again() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/beat"
    notifier = notifier_for({"heartbeat": {"url": url, "interval_s": 0.02}})
    notifier.start()
    try:
        row = wait_until(lambda: [d for d in notifier.deliveries() if d["attempts"] >= 2])[0]
    finally:
        notifier.stop()
    assert row["channel"] == "heartbeat" and row["status"] == "failed"
    assert "ConnectError" in row["last_error"] and row["sent"] is None
