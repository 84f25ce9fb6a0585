"""The durable outbox: a channel down for an hour then back (nothing lost, nothing twice),
429 Retry-After honoured, dead letters with their reason, rate limits, and kill -9 between
sending and recording (the receiver de-duplicates on the idempotency key and sees each once)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from lakecrew.adapters.local.outbox_store import SqliteOutbox
from lakecrew.adapters.notify.channels import SignedWebhookChannel
from lakecrew.ports.notify import Notification
from lakecrew.services.notify.messages import queue
from lakecrew.services.notify.outbox import Dispatcher, OutboxSettings
from lakecrew.testing.outbox_crash import NOW
from lakecrew.testing.receivers import Answer, Receiver
from notify.helpers import recorded

pytestmark = pytest.mark.integration


def _fill(store: SqliteOutbox, n: int, channel: str = "hook") -> list[str]:
    msgs = [
        queue(channel, Notification(f"n-{i:04d}", "ws", "owner", "warning", f"s{i}", "b"), NOW)
        for i in range(n)
    ]
    assert store.put(msgs) == n
    assert store.put(msgs) == 0  # queueing the same news again adds nothing
    return [m.message_id for m in msgs]


def _hook(url: str) -> dict[str, SignedWebhookChannel]:
    return {"hook": SignedWebhookChannel("hook", SecretStr(url + "/hook"), SecretStr("k"))}


def test_channel_down_for_an_hour_then_back_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    _fill(store, 12)
    with Receiver(Answer(204)) as rx:
        rx.down = True
        d = Dispatcher(store, _hook(rx.url), OutboxSettings(max_attempts=20, base_delay=60))
        now = NOW
        while now < NOW + timedelta(hours=1):
            report = d.drain(now)
            assert report.delivered == 0 and report.dead == 0
            now += timedelta(minutes=5)
        # down: one request per drain reaches the receiver, the rest of the queue waits
        assert len(store.messages("pending")) == 12
        rx.down = False
        for _ in range(40):
            d.drain(now)
            now += timedelta(minutes=10)
            if not store.messages("pending"):
                break
    assert store.messages("dead") == []
    assert len(store.messages("delivered")) == 12
    keys = rx.delivered_keys()
    assert len(keys) == 12 and len(set(keys)) == 12  # every message once


def test_429_retry_after_is_honoured_and_permanent_refusals_go_to_dead_letter(
    tmp_path: Path,
) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    _fill(store, 1)
    with Receiver(Answer(204), script=[recorded("teams", "throttled")]) as rx:
        d = Dispatcher(store, _hook(rx.url), OutboxSettings(base_delay=1))
        assert d.drain(NOW).failed == 1
        (msg,) = store.messages("pending")
        assert msg.next_attempt_at >= NOW + timedelta(seconds=120)
        assert d.drain(NOW + timedelta(seconds=60)).delivered == 0  # not due yet
        assert d.drain(NOW + timedelta(seconds=121)).delivered == 1
    store2 = SqliteOutbox(tmp_path / "outbox2.db")
    _fill(store2, 2)
    with Receiver(recorded("teams", "invalid")) as rx:
        report = Dispatcher(store2, _hook(rx.url)).drain(NOW)
    assert report.dead == 2
    dead = store2.messages("dead")
    assert all(m.last_error and m.last_error.startswith("refused: webhook answered HTTP 400")
               for m in dead)  # fmt: skip


def test_gives_up_after_max_attempts_with_the_reason(tmp_path: Path) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    _fill(store, 1)
    with Receiver(Answer(500, b"boom")) as rx:
        d = Dispatcher(store, _hook(rx.url), OutboxSettings(max_attempts=3, base_delay=1))
        now = NOW
        for _ in range(5):
            d.drain(now)
            now += timedelta(hours=1)
    (msg,) = store.messages("dead")
    assert msg.attempts == 3
    assert msg.last_error == "gave up after 3 attempts: webhook answered HTTP 500: boom"


def test_rate_limit_defers_without_counting_an_attempt(tmp_path: Path) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    _fill(store, 5)
    with Receiver(Answer(204)) as rx:
        d = Dispatcher(store, _hook(rx.url), OutboxSettings(rate_per_minute={"hook": 2}))
        first = d.drain(NOW)
        assert (first.delivered, first.deferred) == (2, 3)
        assert all(m.attempts == 0 for m in store.messages("pending"))
        d.drain(NOW + timedelta(minutes=1))
        d.drain(NOW + timedelta(minutes=2))
    assert len(store.messages("delivered")) == 5
    assert len(rx.ok()) == 5


def test_kill_9_between_send_and_record_the_receiver_still_sees_each_message_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "outbox.db"
    ids = _fill(SqliteOutbox(db), 6)
    with Receiver(Answer(204)) as rx:
        url = rx.url + "/hook"
        crashed = subprocess.run(
            [sys.executable, "-m", "lakecrew.testing.outbox_crash", str(db), url, "3"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert crashed.returncode == -9
        store = SqliteOutbox(db)
        assert len(store.messages("delivered")) == 2  # the 3rd was sent, not recorded
        unrecorded = {json.loads(m.payload_json)["notification_id"]
                      for m in store.messages("pending")}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "lakecrew.testing.outbox_crash", str(db), url, "0"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        assert b"'delivered': 4" in done.stdout
    assert {m.message_id for m in store.messages("delivered")} == set(ids)
    keys = rx.delivered_keys()
    counts = Counter(keys)
    assert set(counts) == {f"n-{i:04d}" for i in range(6)}  # nothing lost
    assert sorted(counts.values()) == [1, 1, 1, 1, 1, 2]  # the crash point's message repeated
    (repeated,) = [k for k, c in counts.items() if c == 2]
    assert repeated in unrecorded  # … with the same key: a de-duplicating receiver sees it once


def test_payloads_in_the_outbox_hold_no_secret(tmp_path: Path) -> None:
    store = SqliteOutbox(tmp_path / "outbox.db")
    _fill(store, 1)
    with Receiver(Answer(500)) as rx:
        Dispatcher(store, _hook(rx.url + "/SECRETxyz")).drain(NOW)
    raw = (tmp_path / "outbox.db").read_bytes()
    for extra in tmp_path.glob("outbox.db-*"):
        raw += extra.read_bytes()
    assert b"SECRETxyz" not in raw
    assert datetime.now(UTC) > NOW - timedelta(days=3650)
