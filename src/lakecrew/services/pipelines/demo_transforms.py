"""Python transforms of the demo pipelines (registered on import; see transforms.py).

``lassa.harmonize`` turns either NCDC extraction into one shape, still as text, so the silver
step's coercion and expectations apply to both:

- BioDivHealth rows: ``year`` (two-digit), ``week``, ``states``, counts as floats;
- fbranda rows: ``EpiWeek``, ``DateMin``/``DateMax``, ``States``, ``SuspCases``..., ``NA`` text.

Output columns: ``year`` (4 digits), ``week``, ``state`` (standardised name), ``suspected``,
``confirmed``, ``probable``, ``hcw``, ``deaths``, ``week_start``/``week_end`` (ISO dates: given
by fbranda, derived from the ISO calendar for BioDivHealth), ``report_source``; bronze metadata
columns pass through unchanged.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pyarrow as pa

from lakecrew.ports.source import METADATA_COLUMNS
from lakecrew.services.pipelines.transforms import register_transform

_ALIASES = {
    "fct": "FCT",
    "abuja": "FCT",
    "federal capital territory": "FCT",
    "fct abuja": "FCT",
    "akwa-ibom": "Akwa Ibom",
    "akwaibom": "Akwa Ibom",
    "nassarawa": "Nasarawa",
    "cross-river": "Cross River",
}
_MISSING = {"", "na", "n/a", "null", "none", "nan"}
_OUT = (
    "year", "week", "state", "suspected", "confirmed", "probable", "hcw", "deaths",
    "week_start", "week_end", "report_source",
)  # fmt: skip


def standard_state(value: str | None) -> str | None:
    """Nigerian state name in NCDC spelling (``Akwa-Ibom`` → ``Akwa Ibom``); None if missing."""
    if value is None:
        return None
    text = re.sub(r"\s+", " ", value).strip()
    if text.lower() in _MISSING:
        return None
    alias = _ALIASES.get(text.lower())
    if alias:
        return alias
    return " ".join(w if w.isupper() and len(w) > 1 else w.capitalize() for w in text.split(" "))


def _int_text(value: str | None) -> int | None:
    if value is None or value.strip().lower() in _MISSING:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _col(table: pa.Table, name: str) -> list[str | None]:
    """Column ``name`` as text; matched case-insensitively (Delta merges ``states``/``States``)."""
    found = next((c for c in table.column_names if c.lower() == name.lower()), None)
    if found is None:
        return [None] * table.num_rows
    return [None if v is None else str(v) for v in table.column(found).to_pylist()]


def _week_bounds(year: int | None, week: int | None) -> tuple[str | None, str | None]:
    if year is None or week is None:
        return None, None
    try:
        return (
            date.fromisocalendar(year, week, 1).isoformat(),
            date.fromisocalendar(year, week, 7).isoformat(),
        )
    except ValueError:
        return None, None


@register_transform("lassa.harmonize")
def harmonize(table: pa.Table) -> pa.Table:
    """Both NCDC extractions → one text shape (see the module doc)."""
    epi = table.column("EpiWeek") if "EpiWeek" in table.column_names else None
    # Bronze holds both shapes (merged schema): a batch is fbranda's when EpiWeek has values.
    if epi is not None and epi.null_count < table.num_rows:
        out = _fbranda(table)
    else:
        out = _biodivhealth(table)
    for name in (*METADATA_COLUMNS, "_ingested_at"):
        if name in table.column_names:
            out[name] = table.column(name)
    arrays = {
        k: v if isinstance(v, pa.ChunkedArray) else pa.array(v, pa.string()) for k, v in out.items()
    }
    return pa.table(arrays)


def _biodivhealth(table: pa.Table) -> dict[str, object]:
    years = [_int_text(y) for y in _col(table, "year")]
    years = [y + 2000 if y is not None and y < 100 else y for y in years]
    weeks = [_int_text(w) for w in _col(table, "week")]
    bounds = [_week_bounds(y, w) for y, w in zip(years, weeks, strict=True)]
    return {
        "year": [None if y is None else str(y) for y in years],
        "week": _col(table, "week"),
        "state": [standard_state(s) for s in _col(table, "states")],
        "suspected": _col(table, "suspected"),
        "confirmed": _col(table, "confirmed"),
        "probable": _col(table, "probable"),
        "hcw": _col(table, "hcw"),
        "deaths": _col(table, "deaths"),
        "week_start": [b[0] for b in bounds],
        "week_end": [b[1] for b in bounds],
        "report_source": ["biodivhealth"] * table.num_rows,
    }


def _fbranda(table: pa.Table) -> dict[str, object]:
    ends = _col(table, "DateMax")
    return {
        "year": [e[:4] if e and e[:4].isdigit() else None for e in ends],
        "week": _col(table, "EpiWeek"),
        "state": [standard_state(s) for s in _col(table, "States")],
        "suspected": _col(table, "SuspCases"),
        "confirmed": _col(table, "ConfCases"),
        "probable": _col(table, "ProbCases"),
        "hcw": _col(table, "ConfCasesHCW"),
        "deaths": _col(table, "ConfDeaths"),
        "week_start": _col(table, "DateMin"),
        "week_end": ends,
        "report_source": ["fbranda"] * table.num_rows,
    }


# DHIS2 demo database ("Person" tracked entity type): attribute ids of the fields used here.
TEI_ATTRIBUTES = {"w75KJ2mc4zz": "first_name", "zDhUuAYrxNC": "last_name", "cejWyOfXge6": "sex"}


@register_transform("dhis2.flatten_tracked_entities")
def flatten_tracked_entities(table: pa.Table) -> pa.Table:
    """Tracked-entity records (attributes and enrollments as JSON text) → one text row each.

    Output: ``org_unit``, ``tracked_entity_type``, ``first_name``, ``last_name``, ``sex``,
    ``enrollments``, ``events``; bronze metadata passes through. Names are tokenized by the spec.
    """
    attrs = [_json_list(v) for v in _col(table, "attributes")]
    enrollments = [_json_list(v) for v in _col(table, "enrollments")]
    out: dict[str, object] = {
        "org_unit": _col(table, "orgUnit"),
        "tracked_entity_type": _col(table, "trackedEntityType"),
        "enrollments": [str(len(e)) for e in enrollments],
        "events": [str(sum(_count(x.get("events")) for x in e)) for e in enrollments],
    }
    for attribute, column in TEI_ATTRIBUTES.items():
        out[column] = [_attribute(a, attribute) for a in attrs]
    for name in (*METADATA_COLUMNS, "_ingested_at"):
        if name in table.column_names:
            out[name] = table.column(name)
    return pa.table(
        {
            k: v if isinstance(v, pa.ChunkedArray) else pa.array(v, pa.string())
            for k, v in out.items()
        }
    )


def _count(value: object) -> int:
    return len(value) if isinstance(value, list) else 0


def _json_list(text: str | None) -> list[dict[str, object]]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _attribute(attributes: list[dict[str, object]], attribute: str) -> str | None:
    for item in attributes:
        if item.get("attribute") == attribute:
            value = item.get("value")
            return None if value is None else str(value)
    return None
