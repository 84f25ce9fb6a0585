"""HTTP helpers shared by the channels: one requests Session per channel, answers → Delivery.

No error text ever contains the URL (webhook URLs are secrets: the path is the credential):
requests' own exception messages name the URL, so only the exception's class is kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from lakecrew.ports.notify import Delivery

PERMANENT = {400, 401, 403, 404, 405, 410, 413, 422}
TIMEOUT = (5.0, 15.0)  # connect, read (seconds)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or a date."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def answer(status: int, headers: Mapping[str, str], text: str, what: str) -> Delivery:
    """A receiver's HTTP answer as a Delivery (2xx delivered; 429 and 5xx retryable)."""
    if 200 <= status < 300:
        return Delivery(True)
    detail = " ".join(text.split())[:200]
    error = f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        return Delivery(False, error, retry_after=retry_after(headers))
    return Delivery(False, error, permanent=status in PERMANENT)


def post_json(
    session: requests.Session,
    url: str,
    body: Any,
    what: str,
    headers: Mapping[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> tuple[Delivery, requests.Response | None]:
    """POST `body` as JSON (or the exact bytes `raw`); never raises for network trouble."""
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        resp = session.post(url, data=data, headers=hdrs, timeout=TIMEOUT, allow_redirects=False)
    except requests.Timeout:
        return Delivery(False, f"{what} did not answer within {TIMEOUT[1]:.0f}s"), None
    except requests.RequestException as exc:
        return Delivery(False, f"{what} unreachable ({type(exc).__name__})"), None
    return answer(resp.status_code, resp.headers, resp.text, what), resp
