"""The outbox: where it lives, and what a restart delivers (what was pending, once; never what
was sent), with a real receiver on 127.0.0.1."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.webhook_receiver import Answer, Receiver, wait_until

from velocitas_desktop import paths
from velocitas_desktop.copilot import webhooks
from velocitas_desktop.copilot.notify import Notifier
from velocitas_desktop.copilot.outbox import deliveries_for, open_outbox
from velocitas_desktop.copilot.webhooks import Webhook
from velocitas_desktop.store.journal import Journal
from velocitas_desktop.store.outbox import Claim, NewDelivery, OutboxStore

T0 = 1_765_000_000.0


def alert(n: int) -> dict[str, Any]:
    return {"id": n, "rule_id": "btc-70k", "rule_name": "BTC above 70k", "time": T0 + n,
            "coin": "BTC", "severity": "warning", "message": f"alert {n}",
            "throttled": False, "dedup_key": f"btc-70k:{n}"}


def delivery(n: int, target: str) -> NewDelivery:
    (row,) = deliveries_for(alert(n), [Webhook(target)])
    return row


@pytest.fixture
def notifiers() -> Iterator[list[Notifier]]:
    made: list[Notifier] = []
    yield made
    for notifier in made:
        notifier.stop()


def notifier_on(store: OutboxStore, url: str, made: list[Notifier]) -> Notifier:
    settings = {"webhooks": [{"url": url}], "heartbeat": {"url": None}}
    notifier = Notifier(store, lambda: settings)
    made.append(notifier)
    notifier.start()
    return notifier


def statuses(store: OutboxStore) -> dict[int, tuple[str, int]]:
    return {d["alert_id"]: (d["status"], d["attempts"]) for d in store.deliveries()}


def test_the_journal_file_holds_the_outbox_table(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        with sqlite3.connect(tmp_path / "journal.sqlite3") as conn:
            assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
        store = open_outbox(journal.path)
        journal.begin_session({})  # the journal writes while the outbox is open beside it
        assert store.add([delivery(1, "https://h/x")], T0) == 1
        assert store.path == journal.path
        store.close()
    finally:
        journal.close()


def test_without_a_journal_the_outbox_is_its_own_file_in_the_data_folder() -> None:
    store = open_outbox(None)
    store.add([delivery(1, "https://h/x")], T0)
    store.close()
    assert store.path == paths.data_dir() / "outbox.sqlite3"
    assert [d["alert_id"] for d in open_outbox(None).deliveries()] == [1]


def test_an_alert_owes_each_enabled_webhook_that_wants_its_severity_one_delivery() -> None:
    hooks = [Webhook("https://h/all"), Webhook("https://h/loud", min_severity="critical"),
             Webhook("https://h/off", enabled=False),
             Webhook("https://api.telegram.org/bot1:x/sendMessage", "telegram", chat_id="42")]
    rows = deliveries_for(alert(7), hooks)
    assert [(r.target, r.format) for r in rows] == [
        ("https://h/all", "json"), ("https://api.telegram.org/bot1:x/sendMessage#chat=42",
                                    "telegram")]
    assert rows[0].dedup_key == webhooks.dedup_key(alert(7), "https://h/all")
    assert rows[0].body["dedup_key"] == rows[0].dedup_key and rows[0].alert_id == 7
    assert rows[1].body == {"chat_id": "42", "text": rows[1].body["text"],
                            "disable_web_page_preview": True}


def test_a_key_is_written_once(tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.sqlite3")
    assert store.add([delivery(1, "https://h/x"), delivery(2, "https://h/x")], T0) == 2
    assert store.add([delivery(1, "https://h/x"), delivery(1, "https://h/y")], T0) == 1
    assert len(store.deliveries()) == 3


def test_a_claim_counts_the_attempt_and_a_sent_delivery_is_never_claimed_again(
        tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.sqlite3")
    store.add([delivery(1, "https://h/x")], T0)
    claim = store.claim("https://h/x", T0)
    assert isinstance(claim, Claim) and claim.attempt == 1
    store.retry(claim.id, "HTTP 500", T0 + 1.0)
    assert store.claim("https://h/x", T0 + 0.5) == T0 + 1.0   # not due yet: when it will be
    claim = store.claim("https://h/x", T0 + 1.0)
    assert isinstance(claim, Claim) and claim.attempt == 2
    store.sent(claim.id, T0 + 1.1)
    assert store.claim("https://h/x", T0 + 99) is None
    assert statuses(store) == {1: ("sent", 2)}


def test_a_delivery_owed_for_over_a_day_expires_instead_of_being_sent(tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.sqlite3", now=T0)
    store.add([delivery(1, "https://h/x"), delivery(2, "https://h/y")], T0)
    store.add([delivery(3, "https://h/x")], T0 + 30 * 3_600)
    claim = store.claim("https://h/x", T0)
    store.retry(claim.id, "HTTP 503: down", T0 + 60)
    # the app was stopped with the endpoint down, and starts again 31 hours later: the first
    # alert's delivery is 31 h old (expired), the last one's 1 h (sent)
    later = T0 + 31 * 3_600
    claim = store.claim("https://h/x", later)
    assert isinstance(claim, Claim) and claim.body["id"] == 3
    rows = {d["alert_id"]: d for d in store.deliveries()}
    assert rows[1]["status"] == "failed" and rows[1]["attempts"] == 1
    assert rows[1]["last_error"] == ("expired: still owed 31 h after its alert (the limit is "
                                     "24 h); not sent (last error: HTTP 503: down)")
    assert rows[2]["status"] == "pending"  # another target's: expired when its lane claims
    assert store.claim("https://h/y", later) is None
    expired = {d["alert_id"]: d for d in store.deliveries()}[2]
    assert expired["status"] == "failed" and expired["attempts"] == 0
    assert expired["last_error"] == ("expired: still owed 31 h after its alert (the limit is "
                                     "24 h); not sent")
    assert store.pending_count() == 1      # the claimed one, until it is sent
    # a day to the second is still sent
    store.add([delivery(4, "https://h/z")], later)
    assert isinstance(store.claim("https://h/z", later + 86_400), Claim)


def test_old_finished_rows_go_when_the_store_opens_and_pending_ones_stay(tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.sqlite3", now=T0)
    store.add([delivery(1, "https://h/x"), delivery(2, "https://h/x")], T0)
    store.sent(store.claim("https://h/x", T0).id, T0)
    store.close()
    reopened = OutboxStore(tmp_path / "o.sqlite3", now=T0 + 31 * 86_400)
    assert statuses(reopened) == {2: ("pending", 0)}


@pytest.mark.slow
def test_a_restart_sends_what_was_pending_once_and_never_what_was_sent(
        tmp_path: Path, notifiers: list[Notifier]) -> None:
    path = tmp_path / "journal.sqlite3"
    with Receiver([Answer(200), Answer(503), Answer(503)]) as receiver:
        first = notifier_on(OutboxStore(path), receiver.url, notifiers)
        for n in (1, 2, 3):
            first.alert(alert(n))
        receiver.wait_for(3)                # 1 answered 200; 2 and 3 got a 503 and wait 1 s+
        wait_until(lambda: statuses(first.store) == {1: ("sent", 1), 2: ("pending", 1),
                                                    3: ("pending", 1)}, what="first run")
        first.stop()
        first.store.close()                 # the process ends before the retries

        second = notifier_on(OutboxStore(path), receiver.url, notifiers)
        wait_until(lambda: statuses(second.store) == {1: ("sent", 1), 2: ("sent", 2),
                                                     3: ("sent", 2)}, what="second run")
        second.alert(alert(4))              # the marker: anything resent would come before it
        receiver.wait_for(1, where=lambda r: r.body["id"] == 4)
        second.stop()
        second.store.close()

        third = notifier_on(OutboxStore(path), receiver.url, notifiers)
        third.alert(alert(5))
        receiver.wait_for(1, where=lambda r: r.body["id"] == 5)
        third.alert(alert(5))               # the same alert again: its key is known
        third.alert(alert(6))
        receiver.wait_for(1, where=lambda r: r.body["id"] == 6)
        ids = [r.body["id"] for r in receiver.received]
    assert ids[:3] == [1, 2, 3] and sorted(ids[3:5]) == [2, 3] and ids[5:] == [4, 5, 6]
    assert len({r.headers["Idempotency-Key"] for r in receiver.received}) == 6


@pytest.mark.slow
def test_a_delivery_claimed_when_the_process_died_is_sent_again_with_the_same_key(
        tmp_path: Path, notifiers: list[Notifier]) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Receiver() as receiver:
        crashed = OutboxStore(path)
        now = time.time()                          # the notifier's clock: an alert of today
        crashed.add([delivery(1, receiver.url)], now)
        claim = crashed.claim(receiver.url, now)  # the POST went out; no answer was recorded
        crashed.close()
        notifier = notifier_on(OutboxStore(path), receiver.url, notifiers)
        (request,) = receiver.wait_for(1)
        wait_until(lambda: statuses(notifier.store) == {1: ("sent", 2)}, what="the resend")
    assert request.headers["Idempotency-Key"] == claim.dedup_key == request.body["dedup_key"]


@pytest.mark.slow
def test_alerts_queued_when_the_notifier_stops_are_sent_by_the_next_one_once(
        tmp_path: Path, notifiers: list[Notifier]) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Receiver() as receiver:
        first = notifier_on(OutboxStore(path), receiver.url, notifiers)
        for n in range(1, 51):
            first.alert(alert(n))
        first.stop()                        # at once: most are still queued or pending
        first.store.close()
        second = notifier_on(OutboxStore(path), receiver.url, notifiers)
        second.alert(alert(51))
        wait_until(lambda: len(second.store.deliveries(1000)) == 51
                   and {s for s, _ in statuses_all(second.store)} == {"sent"},
                   what="all 51 sent")
        second.stop()
    assert sorted(r.body["id"] for r in receiver.received) == list(range(1, 52))


def statuses_all(store: OutboxStore) -> list[tuple[str, int]]:
    return [(d["status"], d["attempts"]) for d in store.deliveries(1000)]
