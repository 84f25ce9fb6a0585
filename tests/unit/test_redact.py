"""The one redactor (core/redact.py): secrets by the hardcoded-secret detectors, PII by key."""

from __future__ import annotations

import pytest

from lakecrew.core.errors import UsageError
from lakecrew.core.redact import Unrecoverable, redact, redact_json, redact_text, restore_redacted

TOKEN = "dapi0123456789abcdef0123456789abcd"


def test_states_are_redacted_structurally_and_restorable() -> None:
    state = {
        "settings": {
            "tasks": [{"parameters": [f"--token={TOKEN}", "--day=3"]}],
            "tags": {"patient_phone": "+234 803 555 0199", "project": "malaria"},
            "spark_env_vars": {"DB_PASSWORD": "hunter2", "REF": "{{secrets/etl/pw}}"},
        },
        "url": "postgresql://etl:hunter2@db/x",
        "patient_age": 34,
    }
    out = redact(state)
    text = str(out)
    assert TOKEN not in text and "hunter2" not in text and "555 0199" not in text
    assert out["patient_age"] == "<redacted 2 chars>"
    assert out["settings"]["tags"]["project"] == "malaria"
    assert out["settings"]["spark_env_vars"]["REF"] == "{{secrets/etl/pw}}"
    assert out["settings"]["tasks"][0]["parameters"][1] == "--day=3"
    assert redact(out) == out  # idempotent
    assert restore_redacted(out, state) == state
    with pytest.raises(Unrecoverable, match=r"spark_env_vars\.DB_PASSWORD"):
        restore_redacted(out, {**state, "settings": {**state["settings"], "spark_env_vars": {}}})


def test_free_text_and_json_and_errors() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    line = f'failed: token={TOKEN} password: "s3cret" https://u:pw@h/ Authorization: Bearer {jwt}'
    out = redact_text(line)
    assert TOKEN not in out and "s3cret" not in out and ":pw@" not in out and jwt not in out
    assert redact_json('{"api_key": "abc", "n": 1}') == '{"api_key":"<redacted 3 chars>","n":1}'
    err = UsageError(f"bad value {TOKEN}", where="job 1", fix="use {{secrets/s/k}}")
    assert TOKEN not in err.one_line() and TOKEN not in str(err)


@pytest.mark.parametrize(
    "pii",
    [
        "+234 803 555 0199",  # Nigeria, international
        "08035550199",  # Nigeria, domestic
        "0803-555-0199",
        "+233 24 123 4567",  # Ghana
        "024 123 4567",
        "+232 76 123456",  # Sierra Leone
        "076 123456",
        "+231 770 123 456",  # Liberia
        "0770 123 456",
        "12345678901",  # Nigerian NIN
        "GHA-123456789-0",  # Ghana Card
        "amina.kamara@example.org",
    ],
)
def test_free_text_pii_is_redacted_by_its_shape(pii: str) -> None:
    out = redact_text(f"row 7 rejected: contact {pii}, see log")
    assert pii not in out and "<redacted" in out
    assert out.startswith("row 7 rejected: contact <redacted") and out.endswith(", see log")


@pytest.mark.parametrize(
    "text",
    [
        "job 123456789012 failed after 3 attempts",  # 12-digit ids are not NINs
        "run-12345678901 and /tmp/12345678901/x and v=12345678901x",  # glued to an id or path
        "cluster 0923-164208-meows279 on 2026-11-04T10:00:00Z",
        "version 13.3.x-scala2.12, ip 10.0.0.1, ts 1733300000000, cost 1234.5678",
        "<redacted 17 chars> stays as it is",
    ],
)
def test_free_text_without_pii_is_kept(text: str) -> None:
    assert redact_text(text) == text


def test_cached_key_verdicts_follow_each_calls_pii_columns() -> None:
    # key verdicts are cached by name; a call's own PII columns must still count, and a
    # column named PII by one call must not leak into the next call's verdict
    assert redact({"district": "Kano"}) == {"district": "Kano"}
    assert redact({"district": "Kano"}, pii=["district"]) == {"district": "<redacted 4 chars>"}
    assert redact({"district": "Kano"}) == {"district": "Kano"}
    assert redact({"patient_name": "Ada", "api_token": "x1"}) == {
        "patient_name": "<redacted 3 chars>",
        "api_token": "<redacted 2 chars>",
    }
    assert redact({"district": 7}, pii=["District"]) == {"district": "<redacted 1 chars>"}
