"""The durable outbox and ticket upserts, against local HTTP servers (loopback only).

1. 10,000 notifications through the outbox to a signed-webhook receiver that fails 20 % of
   requests (a digest of the idempotency key and attempt picks them: deterministic): messages
   per second, lost (queued − distinct keys received), duplicates (2xx requests − distinct
   keys), peak RSS; baseline in the same session: the same 10,000 POSTed straight, no outbox,
   to a receiver that never fails (the cost of durability + retries).
2. Ticket upsert of 10,000 findings to the Jira v3 endpoint: a first sweep (all new), then a
   second with 10 % resolved and 5 % new — requests made vs the minimum needed (one create per
   new finding, one transition per resolved one).

    .venv/bin/python -m benchmarks.bench_outbox [--n 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _fails(key: str, attempt: int, rate: float) -> bool:
    h = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 < rate


def outbox(args: dict[str, Any]) -> dict[str, Any]:
    from pydantic import SecretStr

    from lakecrew.adapters.local.outbox_store import SqliteOutbox
    from lakecrew.adapters.notify.channels import SignedWebhookChannel
    from lakecrew.ports.notify import Notification
    from lakecrew.services.notify.messages import queue
    from lakecrew.services.notify.outbox import Dispatcher, OutboxSettings
    from lakecrew.testing.receivers import Answer, Received, Receiver

    n, rate = int(args["n"]), float(args["fail"])
    tries: dict[str, int] = {}

    def answer(r: Received) -> Answer:
        key = r.headers.get("Idempotency-Key", "")
        tries[key] = tries.get(key, 0) + 1
        return Answer(503, b"injected") if _fails(key, tries[key], rate) else Answer(204)

    with tempfile.TemporaryDirectory() as tmp, Receiver(answer) as rx:
        store = SqliteOutbox(Path(tmp) / "outbox.db")
        t0 = time.perf_counter()
        msgs = [
            queue(
                "hook", Notification(f"n-{i:06d}", "ws", "o", "warning", f"s{i}", "body " * 20), NOW
            )
            for i in range(n)
        ]
        store.put(msgs)
        channel = SignedWebhookChannel("hook", SecretStr(rx.url + "/hook"), SecretStr("k"))
        d = Dispatcher(store, {"hook": channel}, OutboxSettings(max_attempts=20, base_delay=1))
        now, drains = NOW, 0
        while store.due(now + timedelta(days=1), 1):
            d.drain(now)
            now += timedelta(minutes=5)
            drains += 1
        elapsed = time.perf_counter() - t0
        keys = rx.delivered_keys()
        return {
            "seconds": elapsed,
            "messages": n,
            "msgs_per_s": round(n / elapsed, 1),
            "requests": len(rx.requests),
            "injected_failures": len(rx.requests) - len(keys),
            "lost": n - len(set(keys)),
            "duplicates": len(keys) - len(set(keys)),
            "dead": len(store.messages("dead")),
            "drains": drains,
        }


def direct(args: dict[str, Any]) -> dict[str, Any]:
    import requests

    from lakecrew.testing.receivers import Answer, Receiver

    n = int(args["n"])
    with Receiver(Answer(204)) as rx:
        s = requests.Session()
        t0 = time.perf_counter()
        for i in range(n):
            s.post(
                rx.url + "/hook",
                data=json.dumps({"id": i, "body": "body " * 20}),
                headers={"Idempotency-Key": f"n-{i}"},
                timeout=10,
            )
        elapsed = time.perf_counter() - t0
        return {"seconds": elapsed, "msgs_per_s": round(n / elapsed, 1), "received": len(rx.ok())}


def tickets(args: dict[str, Any]) -> dict[str, Any]:
    from pydantic import SecretStr

    from lakecrew.adapters.notify.ticket_index import TicketIndex
    from lakecrew.adapters.notify.trackers import JiraTracker
    from lakecrew.ports.tickets import TicketDraft
    from lakecrew.testing.receivers import Receiver
    from lakecrew.testing.trackers import JiraState, basic

    n = int(args["n"])

    def draft(i: int) -> TicketDraft:
        fp = hashlib.sha256(str(i).encode()).hexdigest()[:32]
        return TicketDraft(
            fp,
            "malaria-prod-westafrica",
            "cluster.idle",
            f"c-{i}",
            "warning",
            "owner@example.org",
            f"Idle cluster c-{i}",
            f"evidence {i}",
        )

    state = JiraState(basic("bot@example.org", "t"))
    with tempfile.TemporaryDirectory() as tmp, Receiver(state) as rx:
        jira = JiraTracker(
            TicketIndex(Path(tmp) / "t.db", "jira"),
            url=rx.url,
            email="bot@example.org",
            token=SecretStr("t"),
            project="DATA",
        )
        t0 = time.perf_counter()
        first = [draft(i) for i in range(n)]
        jira.upsert_many(first, NOW)
        sweep1 = len(rx.requests)
        resolved = first[: n // 10]
        second = first[n // 10 :] + [draft(n + i) for i in range(n // 20)]
        jira.upsert_many(second, NOW)
        for dr in resolved:
            jira.resolve(dr.fingerprint, "resolved", NOW)
        elapsed = time.perf_counter() - t0
        sweep2 = len(rx.requests) - sweep1
        return {
            "seconds": elapsed,
            "sweep1_requests": sweep1,
            "sweep1_minimum": n,
            "sweep2_requests": sweep2,
            "sweep2_minimum": n // 20 + n // 10,
        }


STEPS = {"outbox": outbox, "direct": direct, "tickets": tickets}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    base = measure("bench_outbox", "direct", {"n": a.n}, repeats=a.repeats, name="direct POST")
    box = measure(
        "bench_outbox",
        "outbox",
        {"n": a.n, "fail": 0.2},
        repeats=a.repeats,
        name="outbox, 20 % failures",
    )
    tix = measure("bench_outbox", "tickets", {"n": a.n}, repeats=1, name="jira upsert")
    print(f"{'step':28} {'median s':>9} {'msgs/s':>8} {'peak MiB':>9}")
    for m in (base, box):
        rate = a.n / m.median_s
        print(f"{m.name:28} {m.median_s:9.2f} {rate:8.0f} {m.peak:9.0f}")
    print(f"ratio outbox/direct time: {box.median_s / base.median_s:.2f}x")
    print("outbox:", json.dumps(box.extra))
    print(f"{tix.name}: {tix.median_s:.2f}s peak {tix.peak:.0f} MiB", json.dumps(tix.extra))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        child_main(STEPS)
    else:
        main()
