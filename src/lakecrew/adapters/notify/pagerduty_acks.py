"""Acknowledgements read from PagerDuty's REST API v2 (the AckSource port).

`GET /incidents?incident_key=<fingerprint>&date_range=all` (header `Authorization: Token
token=<REST API key>`, `Accept: application/vnd.pagerduty+json;version=2`): the incident our
Events API trigger opened carries the finding's fingerprint as its `incident_key` (our
`dedup_key`). An incident `acknowledged` or `resolved` in PagerDuty is an acknowledgement: the
escalation stops. Who: the last `acknowledgements[].acknowledger.summary`, else
`last_status_change_by.summary`; when: that acknowledgement's `at`, else
`last_status_change_at`.

Written over requests by hand for the reason given in channels.py (the official client sleeps
through 429s in process); polling is one documented GET per unacknowledged critical finding
old enough to escalate, so the request count stays small. The REST API key never appears in
errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from pydantic import SecretStr

from lakecrew.adapters.notify.http import TIMEOUT
from lakecrew.core.errors import DataError, PermissionDenied, Transient
from lakecrew.ports.outbox import Ack

PD_API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"


class PagerDutyAcks:
    """AckSource over PagerDuty incidents."""

    def __init__(self, name: str, token: SecretStr, *, url: str = PD_API_URL) -> None:
        self.name = name
        self.base = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token token={token.get_secret_value()}", "Accept": ACCEPT}
        )
        self.requests = 0

    def acks(self, fingerprints: Sequence[str], now: datetime) -> list[Ack]:
        out = []
        for fp in fingerprints:
            incident = self._incident(fp)
            if incident is not None and incident.get("status") in ("acknowledged", "resolved"):
                out.append(_ack(fp, incident, f"pagerduty:{self.name}", now))
        return out

    def _incident(self, fingerprint: str) -> dict[str, Any] | None:
        self.requests += 1
        what = f"pagerduty {self.name} GET /incidents"
        params = {"incident_key": fingerprint, "date_range": "all", "limit": "1"}
        try:
            resp = self.session.get(f"{self.base}/incidents", params=params, timeout=TIMEOUT)
        except requests.Timeout:
            raise Transient(f"{what}: no answer within {TIMEOUT[1]:.0f}s") from None
        except requests.RequestException as exc:
            raise Transient(f"{what}: unreachable ({type(exc).__name__})") from None
        detail = " ".join(resp.text.split())[:200]
        if resp.status_code in (401, 403):
            raise PermissionDenied(
                f"{what}: HTTP {resp.status_code} {detail}",
                fix="check the REST API key (api_token) of this channel in the SecretStore",
            )
        if resp.status_code == 429 or resp.status_code >= 500:
            raise Transient(f"{what}: HTTP {resp.status_code} {detail}")
        if resp.status_code != 200:
            raise DataError(f"{what}: HTTP {resp.status_code} {detail}")
        incidents = resp.json().get("incidents") or []
        return incidents[0] if incidents else None


def _ack(fingerprint: str, incident: dict[str, Any], source: str, now: datetime) -> Ack:
    acks = incident.get("acknowledgements") or []
    last = acks[-1] if acks else {}
    who = (last.get("acknowledger") or incident.get("last_status_change_by") or {}).get("summary")
    when = last.get("at") or incident.get("last_status_change_at")
    note = f"PagerDuty incident {incident.get('id', '?')} {incident.get('status')}"
    return Ack(fingerprint, str(who or "pagerduty"), source, _time(when, now), note)


def _time(text: Any, default: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return default
    return parsed if parsed.tzinfo is not None else default
