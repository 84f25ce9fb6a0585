"""table.pii_unmasked: a PII column is compliant when masked at read (column mask) or at write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.resources import Resource
from lakecrew.services.policy.engine import evaluate
from lakecrew.services.policy.loader import load_pack

PACK = load_pack().pack
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _findings(column: dict[str, Any], classification: str = "Restricted") -> list[Any]:
    tags = column.pop("tags")
    data = {
        "full_name": "c.s.t",
        "owner": "data-eng",
        "comment": "t",
        "properties": {"steward": "s@example.org"},
        "tags": {"classification": classification},
        "columns": [{"name": "phone", "type_text": "string", **column, "tags": tags}],
        "column_tags": {"phone": tags},
        "grants": [],
    }
    res = Resource("tables", "c.s.t", "estate", data, "c.s.t")
    result = evaluate(PACK, [res], EvaluationContext("estate", "dev", now=NOW))
    return [f for f in result.findings if f.rule_id == "table.pii_unmasked"]


@pytest.mark.parametrize("method", ["tokenize", "partial", "generalize_year", "coarsen_geo"])
def test_masked_at_write_is_compliant(method: str) -> None:
    assert _findings({"mask": None, "tags": {"pii": "phone", "masking": method}}) == []


def test_column_mask_is_compliant() -> None:
    assert _findings({"mask": "lakecrew.masks.phone_partial", "tags": {"pii": "phone"}}) == []


@pytest.mark.parametrize("masking", [None, "none", "rot13"])
def test_pii_without_mask_or_write_time_masking_is_a_violation(masking: str | None) -> None:
    tags = {"pii": "phone"} | ({"masking": masking} if masking else {})
    found = _findings({"mask": None, "tags": tags})
    assert len(found) == 1
    assert found[0].evidence["unmasked_pii_columns"] == ["phone"]


def test_public_tables_are_not_judged() -> None:
    assert _findings({"mask": None, "tags": {"pii": "phone"}}, classification="Internal") == []
