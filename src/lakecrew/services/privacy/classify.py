"""Propose a PII kind for every column, with a confidence, from its name and sampled values.

Names are split into words (``storedBy`` → ``stored by``, ``contact_number`` → ``contact
number``) and matched word-wise, so ``timezone`` is not a ``zone`` and ``statement`` is not a
``state``. Values are sampled in memory only (never stored, logged or returned) and matched
whole against the region's shapes (`core/pii_shapes.py`: Nigerian, Ghanaian, Sierra Leonean and
Liberian phone numbers, NIN, Ghana Card, e-mail, GPS points, dates, name-shaped values).

How name and values combine into a proposal and its confidence (0–1):

- values of a PII shape on ``min_share`` or more of the sampled non-empty values → that kind,
  confidence ``0.5 + 0.45 · share`` (+ 0.05 when the name says the same);
- a name that says PII, confirmed by values of a compatible shape (a date under ``dob``, a
  coordinate under ``lat``, a name-shaped value under ``first_name``, an 11-digit number under
  ``nin``) → the name's kind at ``0.6 + 0.35 · share``;
- a name alone → 0.6 when there was nothing to sample, 0.45 when the sampled values contradict;
- dates and name-shaped values never make a column PII on their own (report dates, facility
  names); nor do numbers outside a name's hint.

The result carries how many values were sampled and matched — never the values. Stewards confirm
a proposal in the pipeline spec (or phase 3 applies it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.pii_shapes import COORDINATE, value_shape
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
        re.compile(
            r"\b(phone|telephone|tel|mobile|cell|msisdn|contact number|phone number|"
            r"gsm|whatsapp)\b"
        ),
    ),
    (PiiKind.DOB, re.compile(r"\b(dob|birth ?date|date of birth|birthday|birth)\b")),
    (
        PiiKind.NATIONAL_ID,
        re.compile(
            r"\b(nin|bvn|ssn|national id|passport|nhis|nhia|ghana card|ghanacard|voter id|"
            r"national identification number|id card)\b"
        ),
    ),
    (PiiKind.PATIENT_ID, re.compile(r"\b(patient (id|number|no)|mrn|medical record)\b")),
    (
        PiiKind.PERSON_NAME,
        re.compile(
            r"\b(first ?name|last ?name|surname|full ?name|given ?name|family ?name|"
            r"middle ?name|maiden ?name|patient name|person name|contact person|next of kin|"
            r"caregiver name|mother name|father name|head of household|head name|"
            r"household head|respondent name|child name|client name|beneficiary name)\b"
        ),
    ),
    (
        PiiKind.USERNAME,
        re.compile(r"\b(user ?name|user|login|stored by|created by|updated by|changeset user)\b"),
    ),
    (
        PiiKind.GEO,
        re.compile(
            r"\b(lat|lon|lng|latitude|longitude|coordinates?|geometry|gps|geolocation|"
            r"household location)\b"
        ),
    ),
)

#: value shape → the kind it proves on its own
_SHAPE_KIND = {
    "email": PiiKind.EMAIL,
    "phone": PiiKind.PHONE,
    "national_id": PiiKind.NATIONAL_ID,
    "geo": PiiKind.GEO,
}
#: name kind → value shapes that confirm it
_CONFIRMS: dict[PiiKind, frozenset[str]] = {
    PiiKind.DOB: frozenset({"date"}),
    PiiKind.GEO: frozenset({"geo", "coordinate"}),
    PiiKind.PERSON_NAME: frozenset({"name"}),
    PiiKind.USERNAME: frozenset({"name", "email", "username"}),
    PiiKind.NATIONAL_ID: frozenset({"national_id", "id"}),
    PiiKind.PATIENT_ID: frozenset({"national_id", "id"}),
    PiiKind.PHONE: frozenset({"phone", "national_id"}),
    PiiKind.EMAIL: frozenset({"email"}),
}
_USERNAME = re.compile(r"[A-Za-z][\w.-]{1,39}")
_ID = re.compile(r"[A-Za-z0-9][\w/-]{3,30}")


@dataclass(frozen=True)
class ColumnProposal:
    """A proposed classification of one column (no values, only counts of the evidence)."""

    column: str
    pii: PiiKind
    reason: str  # "values", "name+values", "name" or "none"
    share: float
    mask: MaskMethod
    confidence: float = 0.0
    matched: int = 0
    sampled: int = 0


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


def _sample(values: pa.Array | pa.ChunkedArray, sample: int) -> list[str]:
    """Up to `sample` non-empty values spread evenly over the column, as strings."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        arr = pc.cast(arr, pa.float64())
        present = pc.drop_null(arr)
        step = max(1, len(present) // sample)
        return [repr(float(v)) for v in present.to_pylist()[::step][:sample]]
    if pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return []
    present = pc.drop_null(arr)
    present = present.filter(pc.not_equal(pc.utf8_trim_whitespace(present), ""))
    step = max(1, len(present) // sample)
    return [str(v) for v in present.to_pylist()[::step][:sample]]


def _shapes(value: str) -> set[str]:
    """Every shape a value has, including the weak ones only a column name can use."""
    found = set()
    shape = value_shape(value)
    if shape:
        found.add(shape)
    v = value.strip()
    if COORDINATE.fullmatch(v):
        found.add("coordinate")
    if _USERNAME.fullmatch(v):
        found.add("username")
    if _ID.fullmatch(v) and any(c.isdigit() for c in v):
        found.add("id")
    return found


def by_values(values: pa.Array | pa.ChunkedArray, *, sample: int = 200) -> tuple[PiiKind, float]:
    """The PII kind most sampled values match on their own, with the matching share."""
    picked = _sample(values, sample)
    counts = _shape_counts(picked)
    return _best_value_kind(counts, len(picked))


def _shape_counts(picked: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in picked:
        for shape in _shapes(v):
            counts[shape] = counts.get(shape, 0) + 1
    return counts


def _best_value_kind(counts: dict[str, int], n: int) -> tuple[PiiKind, float]:
    best, share = PiiKind.NONE, 0.0
    for shape, kind in _SHAPE_KIND.items():
        s = counts.get(shape, 0) / n if n else 0.0
        if s > share:
            best, share = kind, s
    return best, share


def propose_column(
    name: str, values: pa.Array | pa.ChunkedArray, *, sample: int = 200, min_share: float = 0.5
) -> ColumnProposal:
    """One column's proposal (see the module doc for how name and values combine)."""
    picked = _sample(values, sample)
    n = len(picked)
    counts = _shape_counts(picked)
    named = by_name(name)
    valued, share = _best_value_kind(counts, n)
    if valued != PiiKind.NONE and share >= min_share:
        agree = named == valued
        confidence = 0.5 + 0.45 * share + (0.05 if agree else 0.0)
        return _proposal(name, valued, "name+values" if agree else "values", share, confidence, n)
    if named == PiiKind.NONE:
        return _proposal(name, PiiKind.NONE, "none", 0.0, 0.0, n)
    confirming = max((counts.get(s, 0) for s in _CONFIRMS.get(named, ())), default=0)
    conf_share = confirming / n if n else 0.0
    if n and conf_share >= min_share:
        return _proposal(name, named, "name+values", conf_share, 0.6 + 0.35 * conf_share, n)
    return _proposal(name, named, "name", conf_share, 0.45 if n else 0.6, n)


def _proposal(
    name: str, kind: PiiKind, reason: str, share: float, confidence: float, n: int
) -> ColumnProposal:
    return ColumnProposal(
        column=name,
        pii=kind,
        reason=reason,
        share=round(share, 3),
        mask=DEFAULT_MASK[kind],
        confidence=round(min(confidence, 1.0), 3),
        matched=round(share * n),
        sampled=n,
    )


def classify_table(table: pa.Table, *, sample: int = 200, min_share: float = 0.5) -> TableProposal:
    """Propose a PII kind and a mask for every column, and the table's minimum label."""
    proposals = tuple(
        propose_column(name, table.column(name), sample=sample, min_share=min_share)
        for name in table.column_names
    )
    return TableProposal(proposals, label_for({p.pii for p in proposals}))
