"""Vocabulary shared by pipeline specs, the classifier and the maskers (no logic, no I/O).

- ``Classification``: the SOP 1.3.1 labels, ordered from least to most sensitive.
- ``PiiKind``: what a column holds (``none`` when it holds no personal data).
- ``MaskMethod``: how silver protects it (at write).
- ``READ_MASK``: the column-mask function protecting a kind at read (bronze keeps raw values).
"""

from __future__ import annotations

from enum import StrEnum

from lakecrew.core.column_masks import PHONE_PARTIAL, REDACT


class Classification(StrEnum):
    """Data classification label of a dataset (SOP 1.3.1), least to most sensitive."""

    PUBLIC = "Public"
    INTERNAL = "Internal"
    CONFIDENTIAL = "Confidential"
    RESTRICTED = "Restricted"

    @property
    def rank(self) -> int:
        """0 for Public up to 3 for Restricted, so labels can be compared."""
        return list(Classification).index(self)


class PiiKind(StrEnum):
    """What kind of personal data a column holds."""

    NONE = "none"
    PHONE = "phone"
    EMAIL = "email"
    PERSON_NAME = "person_name"
    USERNAME = "username"
    DOB = "dob"
    GEO = "geo"
    NATIONAL_ID = "national_id"
    PATIENT_ID = "patient_id"


class MaskMethod(StrEnum):
    """How a PII column is protected in silver."""

    NONE = "none"
    TOKENIZE = "tokenize"
    PARTIAL = "partial"
    GENERALIZE_YEAR = "generalize_year"
    COARSEN_GEO = "coarsen_geo"
    DROP = "drop"


#: Kinds whose presence makes a dataset at least Restricted (direct identifiers of patients).
RESTRICTED_KINDS = frozenset({PiiKind.NATIONAL_ID, PiiKind.PATIENT_ID, PiiKind.DOB})

#: The masking method proposed by default for each kind.
DEFAULT_MASK: dict[PiiKind, MaskMethod] = {
    PiiKind.NONE: MaskMethod.NONE,
    PiiKind.PHONE: MaskMethod.PARTIAL,
    PiiKind.EMAIL: MaskMethod.TOKENIZE,
    PiiKind.PERSON_NAME: MaskMethod.TOKENIZE,
    PiiKind.USERNAME: MaskMethod.TOKENIZE,
    PiiKind.DOB: MaskMethod.GENERALIZE_YEAR,
    PiiKind.GEO: MaskMethod.COARSEN_GEO,
    PiiKind.NATIONAL_ID: MaskMethod.TOKENIZE,
    PiiKind.PATIENT_ID: MaskMethod.TOKENIZE,
}


def floor_for(kinds: set[PiiKind]) -> Classification:
    """The lowest label a dataset holding these kinds of PII may carry.

    Patient identifiers (dob, national id, patient id): Restricted; any other personal data,
    masked or not (a token or a partial phone is still personal data): Confidential; no
    personal data: any label, Public included (e.g. a facility registry published as open data).
    """
    kinds = kinds - {PiiKind.NONE}
    if kinds & RESTRICTED_KINDS:
        return Classification.RESTRICTED
    if kinds:
        return Classification.CONFIDENTIAL
    return Classification.PUBLIC


def label_for(kinds: set[PiiKind]) -> Classification:
    """The label proposed for a dataset holding these kinds of PII when nobody labelled it.

    The floor (``floor_for``), except that data without PII is proposed Internal, never
    Public: publishing is a decision of the data's owner, not a default.
    """
    return max(floor_for(kinds), Classification.INTERNAL, key=lambda c: c.rank)


#: The column-mask function (core/column_masks.py) a raw column of each kind gets at read: phone
#: numbers keep their country code and last 2 digits, everything else is redacted.
READ_MASK: dict[PiiKind, str] = {kind: REDACT for kind in PiiKind if kind != PiiKind.NONE}
READ_MASK[PiiKind.PHONE] = PHONE_PARTIAL
