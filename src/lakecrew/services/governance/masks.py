"""The column-mask function a PII column gets, by its kind and type (SOP 1.3.1, 3.1.4).

The kind → mask table is ``privacy.kinds.READ_MASK`` (the one table a new PiiKind extends; a
kind it does not name is redacted). The function is the registry's own
(``core/column_masks.py``), so a Databricks workspace gets the same body the local engine
applies on read. Unity Catalog wants the mask's parameter to have the column's type: a string
mask on a string column is used as is; any other column gets a typed ``redact_<type>``
function (NULL of that type) — which the local engine, not knowing the name, also redacts
(masks fail closed), so both backends show the same thing.
"""

from __future__ import annotations

import re

from lakecrew.core.column_masks import MASK_FUNCTIONS, REDACT, mask_function
from lakecrew.ports.catalog import FunctionDef
from lakecrew.services.privacy.kinds import READ_MASK, PiiKind

_STRING = ("string", "varchar", "char")


def mask_name_for_kind(kind: str) -> str:
    """The registry mask of a `pii` tag value (several kinds, or an unknown one: redact)."""
    parts = [p.strip().lower() for p in kind.split(",") if p.strip()]
    if len(parts) != 1:
        return REDACT
    try:
        return READ_MASK.get(PiiKind(parts[0]), REDACT)
    except ValueError:
        return REDACT


def mask_for(kind: str, type_text: str) -> FunctionDef:
    """The function to create and attach for a column of this PII kind and SQL type."""
    fn = mask_function(mask_name_for_kind(kind))
    sql_type = (type_text or "string").strip().lower()
    if sql_type.startswith(_STRING):
        return FunctionDef(fn.name, fn.body, "STRING", "STRING", fn.doc)
    redact = MASK_FUNCTIONS[REDACT]
    suffix = re.sub(r"[^a-z0-9]+", "_", sql_type).strip("_")
    upper = sql_type.upper()
    return FunctionDef(f"{redact.name}_{suffix}", redact.body, upper, upper, redact.doc)
