"""Propose a PII kind for every column: by column name, then by regexes over a sample of values.

Names are split into words (``storedBy`` → ``stored by``, ``contact_number`` → ``contact
number``) and matched word-wise, so ``timezone`` is not a ``zone`` and ``statement`` is not a
``state``. Values are sampled in memory only (never stored, logged or returned): a column is
proposed as phone/email/national id when at least ``min_share`` of its sampled non-null values
match. The result is a *proposal* with the reason (``name`` or ``values``) and the share of
matching values — never the values themselves. The steward confirms it in the pipeline spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.services.privacy.kinds import (
    DEFAULT_MASK,
    Classification,
    MaskMethod,
    PiiKind,
    label_for,
)

_NAME_RULES: tuple[tuple[PiiKind, re.Pattern[str]], ...] = (
    (PiiKind.EMAIL, re.compile(r"\b(e ?mail|email address|mail address)\b")),
    (
        PiiKind.PHONE,
        re.compile(r"\b(phone|telephone|tel|mobile|cell|msisdn|contact number|phone number)\b"),
    ),
    (PiiKind.DOB, re.compile(r"\b(dob|birth ?date|date of birth|birthday|birth)\b")),
    (
        PiiKind.NATIONAL_ID,
        re.compile(r"\b(nin|bvn|ssn|national id|passport|nhis|nhia|ghana card|voter id)\b"),
    ),
    (PiiKind.PATIENT_ID, re.compile(r"\b(patient (id|number|no)|mrn|medical record)\b")),
    (
        PiiKind.PERSON_NAME,
        re.compile(
            r"\b(first ?name|last ?name|surname|full ?name|given ?name|family ?name|"
            r"middle ?name|maiden ?name|patient name|person name|contact person|next of kin)\b"
        ),
    ),
    (
        PiiKind.USERNAME,
        re.compile(r"\b(user ?name|user|login|stored by|created by|updated by|changeset user)\b"),
    ),
    (PiiKind.GEO, re.compile(r"\b(lat|lon|lng|latitude|longitude|coordinates?|geometry|gps)\b")),
)

_VALUE_RULES: tuple[tuple[PiiKind, re.Pattern[str]], ...] = (
    (PiiKind.EMAIL, re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")),
    # International numbers, or West African domestic mobiles (0 + 9-10 digits).
    (
        PiiKind.PHONE,
        re.compile(r"^(\+|00)[1-9][\d\s().-]{6,18}\d$|^0[789]\d[\s-]?\d{3}[\s-]?\d{4}$"),
    ),
)


@dataclass(frozen=True)
class ColumnProposal:
    """A proposed classification of one column (no values, only the evidence's kind)."""

    column: str
    pii: PiiKind
    reason: str
    share: float
    mask: MaskMethod


@dataclass(frozen=True)
class TableProposal:
    """Proposals for every column and the lowest classification label the table may carry."""

    columns: tuple[ColumnProposal, ...]
    classification: Classification

    def pii_columns(self) -> dict[str, PiiKind]:
        """``{column: kind}`` of the columns proposed as PII."""
        return {c.column: c.pii for c in self.columns if c.pii != PiiKind.NONE}


def words(name: str) -> str:
    """``'storedBy'`` → ``'stored by'``; ``'contact_number'`` → ``'contact number'``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return re.sub(r"[^a-z0-9]+", " ", spaced.lower()).strip()


def by_name(name: str) -> PiiKind:
    """The PII kind a column name suggests (``none`` when it suggests none)."""
    text = words(name)
    for kind, pattern in _NAME_RULES:
        if pattern.search(text):
            return kind
    return PiiKind.NONE


def by_values(values: pa.Array | pa.ChunkedArray, *, sample: int = 200) -> tuple[PiiKind, float]:
    """The PII kind most sampled values match, with the matching share (0 when none)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return PiiKind.NONE, 0.0
    present = pc.drop_null(arr)
    present = present.filter(pc.not_equal(pc.utf8_trim_whitespace(present), ""))
    if len(present) == 0:
        return PiiKind.NONE, 0.0
    step = max(1, len(present) // sample)
    picked = present.take(pa.array(range(0, len(present), step))[:sample])
    best, best_share = PiiKind.NONE, 0.0
    for kind, pattern in _VALUE_RULES:
        hits = pc.sum(pc.match_substring_regex(picked, pattern.pattern)).as_py() or 0
        share = hits / len(picked)
        if share > best_share:
            best, best_share = kind, share
    return best, best_share


def classify_table(table: pa.Table, *, sample: int = 200, min_share: float = 0.5) -> TableProposal:
    """Propose a PII kind and a mask for every column, and the table's minimum label."""
    proposals: list[ColumnProposal] = []
    for name in table.column_names:
        kind, share = by_values(table.column(name), sample=sample)
        reason = "values"
        if share < min_share:
            kind, reason, share = by_name(name), "name", 0.0
        if kind == PiiKind.NONE:
            reason = "none"
        proposals.append(ColumnProposal(name, kind, reason, round(share, 3), DEFAULT_MASK[kind]))
    label = label_for({p.pii for p in proposals})
    return TableProposal(tuple(proposals), label)
