"""The one redactor: what lakecrew stores or shows never holds a secret or a patient identifier.

Used for action before/after states and targets, notifications, tickets, log records,
exception messages and JSON output. Secrets are found by the same detectors as the
`job.hardcoded_secret` rule (core/findings.py: credential-shaped values, keys named like
credentials); PII by the keys it sits under (`PII_KEY`: patient identifiers and contact details)
and by the columns a table's classification marks as PII (`pii` argument).

- `redact(value, pii=())`: a copy of a JSON-like value with secret and PII values replaced by
  `<redacted N chars>` (secret references `{{secrets/scope/key}}` are kept).
- `redact_text(text)`: free text (a message, an exception, a log line, a JSON document) with
  credential-shaped substrings, `key=value` / `"key": "value"` credentials and personal data by
  its shape (phone numbers, Nigerian NINs, Ghana Card PINs, e-mail addresses: the detectors of
  `core/pii_shapes.py` the column classifier uses) replaced.
- `restore_redacted(saved, live)`: a saved (redacted) state with each placeholder taken back
  from the live object at the same path — how a rollback restores a state it never stored
  in full; `Unrecoverable` names the path when the live object no longer has the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from lakecrew.core.findings import looks_like_secret, redacted, secret_key_name
from lakecrew.core.pii_shapes import redact_pii_text

PLACEHOLDER = re.compile(r"^<redacted \d+ chars>$")
_HOLE = re.compile(r"<redacted \d+ chars>")
PII_KEY = re.compile(
    r"(patient|phone|mobile|msisdn|contact_?number|national_?id|\bnin\b|passport|"
    r"date_?of_?birth|\bdob\b|first_?name|last_?name|full_?name|surname|home_?address)",
    re.IGNORECASE,
)
_SECRET_REF = re.compile(r"^\{\{\s*secrets/[^}]+\}\}$")
_SECRET_SUBSTR = re.compile(
    r"(dapi[0-9a-f]{20,}|dose[0-9a-f]{20,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9]{20,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$))",
    re.DOTALL,
)
_BEARER = re.compile(r"(\b(?:Bearer|Basic)\s+)([A-Za-z0-9._~+/=-]{8,})")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)([^/\s@]+)(@)")
_KEY_VALUE = re.compile(
    # the key ends with the credential word: `db_password=x`, `"api_token": "x"`, never an id
    # such as `security.secret_access_anomaly:ws` (a rule id followed by a workspace)
    r"""(?P<key>(?<![\w.])["']?[\w-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|"""
    r"""private[_-]?key|credential)s?["']?\s*[=:]\s*)(?P<q>["']?)(?P<value>[^\s"',;}&]+)""",
    re.IGNORECASE,
)


class Unrecoverable(ValueError):
    """A redacted value whose live counterpart is gone (the message names the path only)."""


def is_pii_key(key: str, pii: Collection[str] = ()) -> bool:
    if not pii:
        return _pii_name(key)
    k = key.lower()
    return k in {p.lower() for p in pii} or _pii_name(key)


# Key names repeat across every object and finding (`spark_conf`, `owner`, ...), so their
# verdicts are cached — names only, never values. Redaction is most of a sweep's ledger write.
@lru_cache(maxsize=8192)
def _pii_name(key: str) -> bool:
    return bool(PII_KEY.search(key))


@lru_cache(maxsize=8192)
def _sensitive_name(key: str) -> bool:
    return secret_key_name(key) or _pii_name(key)


def redact(value: Any, pii: Collection[str] = (), *, key: str = "") -> Any:
    """A copy of a JSON-like `value` with secrets and PII replaced (see module doc)."""
    if isinstance(value, Mapping):
        named = value.get("key")  # [{"key": "api_token", "value": "..."}] (warehouse tags, conf)
        if isinstance(named, str) and "value" in value and set(value) <= {"key", "value"}:
            return {"key": named, "value": redact(value["value"], pii, key=named)}
        return {k: redact(v, pii, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, pii, key=key) for v in value]
    if isinstance(value, str):
        if not value or PLACEHOLDER.match(value) or _SECRET_REF.match(value.strip()):
            return value
        if (key and (_sensitive_name(key) or (bool(pii) and is_pii_key(key, pii)))) or (
            looks_like_secret(value)
        ):
            return redacted(value)
        return _flag_value(value)
    if key and value is not None and not isinstance(value, bool) and is_pii_key(key, pii):
        return redacted(value)
    return value


def _flag_value(value: str) -> str:
    """`--password=x`, `token=x` inside one string value (task parameters)."""
    return redact_text(value) if ("=" in value or ":" in value) else value


def redact_text(text: str) -> str:
    """Free text with credential-shaped parts replaced (see module doc)."""
    if not text:
        return text
    out = _SECRET_SUBSTR.sub(lambda m: redacted(m.group(0)), text)
    out = _BEARER.sub(lambda m: m.group(1) + redacted(m.group(2)), out)
    out = _URL_PASSWORD.sub(lambda m: m.group(1) + redacted(m.group(2)) + m.group(3), out)

    def _kv(m: re.Match[str]) -> str:
        value = m.group("value")
        if PLACEHOLDER.match(value) or value.startswith("<redacted") or value.startswith("{{"):
            return m.group(0)
        return m.group("key") + m.group("q") + redacted(value)

    return redact_pii_text(_KEY_VALUE.sub(_kv, out), redacted)


def redact_json(text: str | None, pii: Collection[str] = ()) -> str | None:
    """JSON text redacted structurally (key order kept); other text as free text."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return redact_text(text)
    clean = redact(value, pii)
    if clean == value:
        return text  # nothing to hide: the text is kept byte for byte
    return json.dumps(clean, separators=(",", ":"), ensure_ascii=False)


def restore_redacted(saved: Any, live: Any, path: str = "") -> Any:
    """`saved` with each placeholder replaced by `live`'s value at the same path."""
    if isinstance(saved, str) and _HOLE.search(saved):
        if live is None or (isinstance(live, str) and _HOLE.search(live)):
            raise Unrecoverable(path or "(root)")
        return live
    if isinstance(saved, Mapping):
        lv = live if isinstance(live, Mapping) else {}
        return {
            k: restore_redacted(v, lv.get(k), f"{path}.{k}" if path else k)
            for k, v in saved.items()
        }
    if isinstance(saved, list):
        ll = live if isinstance(live, list) else []
        return [
            restore_redacted(v, ll[i] if i < len(ll) else None, f"{path}[{i}]")
            for i, v in enumerate(saved)
        ]
    return saved
