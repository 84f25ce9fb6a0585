"""Shared bits of the notification tests: recorded answers and a hostile notification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakecrew.ports.notify import AlertItem, Notification
from lakecrew.testing.receivers import Answer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "notify"
_RECORDED: dict[str, Any] = json.loads((FIXTURES / "responses.json").read_text("utf-8"))
HOSTILE = "<!channel> *bold* _it_ ~x~ `code` @here <b>html</b> & [link](http://x)"
FP = "0123456789abcdef0123456789abcdef"


def recorded(vendor: str, name: str) -> Answer:
    r = _RECORDED[vendor][name]
    body = r["body"]
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return Answer(
        r["status"],
        raw,
        dict(r.get("headers", {})),
        r.get("content_type", "application/json; charset=utf-8"),
    )


def item(event: str = "new", severity: str = "critical", **kw: Any) -> AlertItem:
    base: dict[str, Any] = {
        "fingerprint": FP,
        "event": event,
        "severity": severity,
        "rule_id": "cluster.autotermination_missing",
        "title": "Cluster without auto-termination",
        "sop_section": "1.2.3",
        "resource_type": "clusters",
        "resource_id": "0101-abc",
        "resource_name": HOSTILE,
        "workspace": "malaria-prod-westafrica",
        "environment": "prod",
        "project": "malaria",
        "owner": "data-eng@example.org",
        "evidence": json.dumps({"comment": HOSTILE, "autotermination_minutes": 0}),
        "fix": "Set autotermination_minutes <= 60. " + HOSTILE,
        "links": (
            ("roll back set_autotermination", "lakecrew rollback a1"),
            ("acknowledge", f"lakecrew ack {FP}"),
        ),
    }
    base.update(kw)
    return AlertItem(**base)


def note(*items: AlertItem, nid: str = "n-0001", thread: str | None = None) -> Notification:
    its = items or (item(),)
    return Notification(
        nid,
        "malaria-prod-westafrica",
        "data-eng@example.org",
        its[0].severity,
        its[0].title,
        "body",
        tuple(its),
        thread_ref=thread,
    )


def texts(obj: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in texts(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in texts(v)]
    return [obj] if isinstance(obj, str) else []
