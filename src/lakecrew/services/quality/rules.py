"""Expectation rules: the declarative vocabulary of silver data quality (SOP 1.6.1, 1.6.2).

Each rule has a ``name`` (unique in a table), a ``type`` and an ``action``:

- ``warn``: the row is kept and counted;
- ``drop``: the row is removed and counted;
- ``quarantine``: the row goes to the quarantine table with the rule name and reason;
- ``fail``: the run fails (after results are recorded).

Row rules: ``not_null`` (completeness; blank text counts as missing), ``unique`` (one or more
columns; rows whose key is null are not checked), ``between``, ``in_set``, ``regex`` (the whole
value must match), ``compare`` (cross-column, e.g. ``deaths <= confirmed``), ``foreign_key``
(referential integrity against another table's keys). A null value passes every row rule except
``not_null`` — completeness is ``not_null``'s job, as in SQL CHECK constraints.

Dataset rules (action ``warn`` or ``fail`` only): ``freshness`` (newest value of a date/timestamp
column no older than ``max_age``) and ``row_count_anomaly`` (batch row count against the table's
own history, robust z-score with median/MAD).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

Action = Literal["warn", "drop", "quarantine", "fail"]
RULE_NAME = r"^[a-z][a-z0-9_]{0,62}$"
ColumnName = Annotated[str, Field(min_length=1, max_length=128)]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|h|d|w)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``'90m'``, ``'36h'``, ``'7d'``, ``'2w'`` → timedelta."""
    match = _DURATION.match(text.strip())
    if not match:
        raise PydanticCustomError(
            "duration", "not a duration", {"fix": "write a number and a unit: 90m, 36h, 7d, 2w"}
        )
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=RULE_NAME)]
    action: Action = "quarantine"
    description: str | None = None

    @property
    def columns_checked(self) -> tuple[str, ...]:
        """The columns this rule reads (for results and lineage)."""
        return ()

    @property
    def row_level(self) -> bool:
        """Whether the rule judges individual rows (else the whole batch)."""
        return True


class NotNull(_Rule):
    """Completeness: none of ``columns`` is null or blank."""

    type: Literal["not_null"]
    columns: Annotated[list[ColumnName], Field(min_length=1)]

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return tuple(self.columns)


class Unique(_Rule):
    """Uniqueness of one column or of a composite key."""

    type: Literal["unique"]
    columns: Annotated[list[ColumnName], Field(min_length=1)]

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return tuple(self.columns)


class Between(_Rule):
    """``min <= column <= max`` (either bound may be left out; numbers or dates)."""

    type: Literal["between"]
    column: ColumnName
    min: float | date | None = None
    max: float | date | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Between:
        if self.min is None and self.max is None:
            raise PydanticCustomError(
                "bounds", "give min, max or both", {"fix": "add min: or max:"}
            )
        return self

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return (self.column,)


class InSet(_Rule):
    """The value is one of ``values`` (with ``negate: true``: is none of them)."""

    type: Literal["in_set"]
    column: ColumnName
    values: Annotated[list[str | int | float | bool], Field(min_length=1)]
    case_insensitive: bool = False
    negate: bool = False

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return (self.column,)


class Regex(_Rule):
    """The whole text value matches ``pattern`` (RE2 syntax: no look-around, no back-refs)."""

    type: Literal["regex"]
    column: ColumnName
    pattern: Annotated[str, Field(min_length=1)]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError(
                "regex", "invalid regular expression: " + str(exc), {"fix": "fix the pattern"}
            ) from None
        if re.search(r"\(\?<?[=!]|\\[1-9]", value):
            raise PydanticCustomError(
                "regex", "look-around and back-references are not supported", {"fix": "simplify"}
            )
        return value

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return (self.column,)


class Compare(_Rule):
    """Cross-column rule ``left <op> right`` (e.g. deaths <= confirmed)."""

    type: Literal["compare"]
    left: ColumnName
    op: Literal["<", "<=", "==", "!=", ">", ">="]
    right: ColumnName

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return (self.left, self.right)


class ForeignKey(_Rule):
    """Every non-null key in ``columns`` exists in ``ref_columns`` of ``ref_table``."""

    type: Literal["foreign_key"]
    columns: Annotated[list[ColumnName], Field(min_length=1)]
    ref_table: Annotated[str, Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){1,2}$")]
    ref_columns: list[ColumnName] | None = None

    @model_validator(mode="after")
    def _same_arity(self) -> ForeignKey:
        if self.ref_columns is not None and len(self.ref_columns) != len(self.columns):
            raise PydanticCustomError(
                "arity", "ref_columns and columns differ in length", {"fix": "pair them up"}
            )
        return self

    @property
    def reference_columns(self) -> tuple[str, ...]:
        """Columns of the referenced table (same names by default)."""
        return tuple(self.ref_columns or self.columns)

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return tuple(self.columns)


class _DatasetRule(_Rule):
    action: Literal["warn", "fail"] = "warn"

    @property
    def row_level(self) -> bool:
        return False


class Freshness(_DatasetRule):
    """The newest value of ``column`` is at most ``max_age`` old (``36h``, ``7d``...)."""

    type: Literal["freshness"]
    column: ColumnName
    max_age: str

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def max_age_delta(self) -> timedelta:
        """``max_age`` as a timedelta."""
        return parse_duration(self.max_age)

    @property
    def columns_checked(self) -> tuple[str, ...]:
        return (self.column,)


class RowCountAnomaly(_DatasetRule):
    """Batch row count within ``max_deviation`` robust z-scores of the table's history."""

    type: Literal["row_count_anomaly"]
    min_history: Annotated[int, Field(ge=3)] = 5
    max_deviation: Annotated[float, Field(gt=0)] = 3.5
    min_rows: Annotated[int, Field(ge=0)] | None = None


Expectation = Annotated[
    NotNull | Unique | Between | InSet | Regex | Compare | ForeignKey | Freshness | RowCountAnomaly,
    Field(discriminator="type"),
]
RULE_TYPES = (
    "not_null",
    "unique",
    "between",
    "in_set",
    "regex",
    "compare",
    "foreign_key",
    "freshness",
    "row_count_anomaly",
)
