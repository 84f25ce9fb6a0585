"""Pipeline spec: one declarative YAML file per medallion pipeline (version 1).

Models are pydantic v2, frozen, with unknown keys rejected. A spec names its owner, steward,
tags, schedule, retries and failure notifications; one settings block per environment (dev, qa
and prod, all three required: SOP 1.1.6 and 1.5.3); the source; the bronze table; the silver table
(typed columns with coercion, PII kind and mask per column, de-duplication, expectations,
quarantine, schema-evolution approvals); and gold models written in Spark SQL (or a registered
Python transform).

Tables are written ``schema.table``; the catalog comes from the environment's settings, so a dev
run can never write to a prod catalog. Environment-specific values are referenced as
``${env.<key>}`` (see loader.py). The loader (``load_pipeline_spec``) reports every problem at
``file:line``.
"""

from __future__ import annotations

import builtins
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lakecrew.core.errors import did_you_mean
from lakecrew.core.kafka_spec import KafkaSourceOptions, validate_kafka_options
from lakecrew.ports.source import SOURCE_TYPES
from lakecrew.services.deploy.schedule import CRON_FIX, TIMEZONE_FIX, cron_problem, timezone_problem
from lakecrew.services.pipelines.number_spec import NumberSpec
from lakecrew.services.pipelines.source_options import (
    SOURCE_OPTION_MODELS,
    validate_source_options,
)
from lakecrew.services.privacy.kinds import Classification, MaskMethod, PiiKind, floor_for
from lakecrew.services.privacy.masking import ColumnMask
from lakecrew.services.quality.coercion import DEFAULT_DATE_FORMATS, DEFAULT_NULLS, ColumnCoercion
from lakecrew.services.quality.dedupe import Order
from lakecrew.services.quality.numbers import NUMERIC, NumberFormat
from lakecrew.services.quality.rules import Expectation

SPEC_VERSION = 1
Environment = Literal["dev", "qa", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "qa", "prod")
SparkType = Literal["string", "int", "bigint", "double", "float", "boolean", "date", "timestamp"]
Ident = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,127}$")]
ColumnName = Annotated[str, Field(min_length=1, max_length=128)]
TableName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")]
NonEmpty = Annotated[str, Field(min_length=1)]
REQUIRED_TAGS = ("cost_center", "project", "owner", "environment")
_TRANSFORM = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


def _fail(kind: str, message: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message.replace("{", "(").replace("}", ")"), {"fix": fix})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentSettings(_Strict):
    """Settings of one environment: its catalog, paths and free options (``${env.*}``)."""

    catalog: Ident
    paths: dict[str, NonEmpty] = Field(default_factory=dict)
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Schedule(_Strict):
    """Quartz cron expression (as Databricks jobs use) and an IANA timezone."""

    cron: NonEmpty
    timezone: NonEmpty = "UTC"
    paused: bool = False

    @field_validator("cron")
    @classmethod
    def _quartz(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem is not None:
            raise _fail("cron", problem, CRON_FIX)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if timezone_problem(value) is not None:
            raise _fail("timezone", "unknown timezone", TIMEZONE_FIX)
        return value


class Retries(_Strict):
    """Task retries, with Databricks job field names."""

    max_retries: Annotated[int, Field(ge=0, le=10)]
    min_retry_interval_millis: Annotated[int, Field(ge=0)] = 300_000
    retry_on_timeout: bool = False


class Notifications(_Strict):
    """Routes (names from lakecrew.yaml, or ``email:``/``slack:`` addresses) per event."""

    on_failure: Annotated[list[NonEmpty], Field(min_length=1)]
    on_success: list[NonEmpty] = Field(default_factory=list)
    on_start: list[NonEmpty] = Field(default_factory=list)
    on_quality_warning: list[NonEmpty] = Field(default_factory=list)


class SourceSpec(_Strict):
    """Where bronze reads from; ``type`` and ``options`` are those of the ingestion source."""

    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SOURCE_TYPES:
            raise _fail(
                "source_type",
                f"unknown source type {value!r}{did_you_mean(value, list(SOURCE_TYPES))}",
                f"use one of {', '.join(SOURCE_TYPES)}",
            )
        return value

    @classmethod
    def nested_model(cls, field: str, data: Any) -> builtins.type[BaseModel] | None:
        """The model checking ``options`` for this source type (for did-you-mean hints)."""
        kind = data.get("type") if isinstance(data, dict) else None
        if field != "options" or not isinstance(kind, str):
            return None
        return KafkaSourceOptions if kind == "kafka" else SOURCE_OPTION_MODELS.get(kind)

    @field_validator("options", mode="before")
    @classmethod
    def _typed_options(cls, value: Any, info: ValidationInfo) -> Any:
        # Sources with a strict option model are checked here, so errors point at file:line.
        kind = info.data.get("type")
        if kind == "kafka":
            return validate_kafka_options(value)
        return validate_source_options(str(kind), value)


class BronzeSpec(_Strict):
    """The raw, append-only table (classified Restricted unless stated: raw data is unscreened).

    Bronze keeps raw values; its PII columns get a column mask (applied at read). They are the
    sources of the silver PII columns, plus ``pii_columns``: raw columns holding personal data
    that no silver column names (e.g. JSON a python transform parses), with their kind.
    """

    table: TableName
    description: NonEmpty
    classification: Classification = Classification.RESTRICTED
    partition_by: list[ColumnName] = Field(default_factory=list)
    pii_columns: dict[ColumnName, PiiKind] = Field(default_factory=dict)
    # Off: both columns are kept locally, and a workspace run refuses the second before writing.
    unify_column_case: bool = False
    """Store `states` under bronze's `States` (UC names ignore case); header in _renamed_columns"""
    statistics: Literal["metadata", "all"] = "metadata"
    """Delta data-skipping statistics of new bronze tables: lakecrew's columns only, or all"""

    @field_validator("pii_columns")
    @classmethod
    def _kinds(cls, value: dict[str, PiiKind]) -> dict[str, PiiKind]:
        if PiiKind.NONE in value.values():
            raise _fail(
                "pii_kind", "a bronze pii column needs a kind other than none", "e.g. phone"
            )
        return value


class ColumnSpec(_Strict):
    """One silver column: where it comes from, its type and coercion, and its PII treatment."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    source: ColumnName | None = None
    type: SparkType
    nullable: bool = True
    description: str | None = None
    null_values: list[str] | None = None
    """Trimmed values (any letter case) read as NULL; unset: ``silver.null_values``."""
    number: NumberSpec | None = None
    """Number notation of this (numeric) column; unset: ``silver.number``."""
    date_formats: list[NonEmpty] | None = None
    two_digit_year_pivot: Annotated[int, Field(ge=1, le=99)] | None = None
    pii: PiiKind = PiiKind.NONE
    mask: MaskMethod = MaskMethod.NONE
    keep_last: Annotated[int, Field(ge=0, le=4)] = 2
    keep_first: Annotated[int, Field(ge=0, le=2)] = 1
    keep_country_code: bool = True
    grid: Annotated[float, Field(gt=0, le=5)] = 0.1

    @model_validator(mode="after")
    def _protected(self) -> ColumnSpec:
        if self.pii != PiiKind.NONE and self.mask == MaskMethod.NONE:
            raise _fail(
                "pii_unmasked",
                f"column {self.name} holds PII ({self.pii.value}) but mask is none",
                "choose mask: tokenize, partial, generalize_year, coarsen_geo or drop",
            )
        if self.pii == PiiKind.NONE and self.mask not in (MaskMethod.NONE, MaskMethod.DROP):
            raise _fail(
                "mask_without_pii",
                f"column {self.name} is masked but pii is none",
                "set pii: to the kind of personal data it holds",
            )
        if self.mask == MaskMethod.GENERALIZE_YEAR and self.type not in ("date", "timestamp"):
            raise _fail("mask_type", "generalize_year needs type date or timestamp", "fix type:")
        if self.mask == MaskMethod.COARSEN_GEO and self.type not in ("double", "float"):
            raise _fail("mask_type", "coarsen_geo needs type double or float", "fix type:")
        if self.two_digit_year_pivot is not None and self.type not in ("int", "bigint"):
            raise _fail("pivot_type", "two_digit_year_pivot needs type int or bigint", "fix type:")
        if self.number is not None and self.type not in NUMERIC:
            raise _fail("number_type", "number: applies to int, bigint, double, float", "fix type:")
        return self

    def coercion(
        self, number: NumberSpec | None = None, null_values: list[str] | None = None
    ) -> ColumnCoercion:
        """How quality/coercion builds this column (``number``/``null_values``: silver's)."""
        nulls = self.null_values if self.null_values is not None else null_values
        fmt = self.number or number
        return ColumnCoercion(
            source=self.source or self.name,
            target=self.name,
            type=self.type,
            null_values=tuple(nulls) if nulls is not None else DEFAULT_NULLS,
            date_formats=tuple(self.date_formats or DEFAULT_DATE_FORMATS),
            two_digit_year_pivot=self.two_digit_year_pivot,
            number=fmt.format() if fmt is not None else NumberFormat(),
            masked=self.pii != PiiKind.NONE,
        )

    def mask_rule(self) -> ColumnMask:
        """How privacy/masking protects this column."""
        return ColumnMask(
            column=self.name,
            method=self.mask,
            pii=self.pii,
            keep_last=self.keep_last,
            keep_first=self.keep_first,
            keep_country_code=self.keep_country_code,
            grid=self.grid,
        )


class DedupeSpec(_Strict):
    """Keep the latest row per key; ``order_by`` items are ``col`` / ``col desc`` / ``col asc``."""

    keys: Annotated[list[ColumnName], Field(min_length=1)]
    order_by: list[Annotated[str, Field(pattern=r"^\S+(\s+(?i:asc|desc))?$")]] = Field(
        default_factory=list
    )

    def ordering(self) -> list[Order]:
        """``[("col", "descending"), ...]``: latest first (``col`` alone means descending)."""
        out: list[Order] = []
        for item in self.order_by:
            parts = item.split()
            asc = len(parts) == 2 and parts[1].lower() == "asc"
            out.append((parts[0], "ascending" if asc else "descending"))
        return out


class QuarantineSpec(_Strict):
    """Where rejected rows go (PII columns in it are tokenized; labelled Restricted)."""

    table: TableName
    classification: Classification = Classification.RESTRICTED


class SchemaPolicy(_Strict):
    """Breaking schema changes approved after review (column names), per SOP 1.6.2."""

    approved_breaking_changes: list[ColumnName] = Field(default_factory=list)


class SilverSpec(_Strict):
    """The validated table: typed columns, de-duplication, expectations, quarantine, masking.

    ``sql`` (or ``python``, never both) reshapes each bronze batch *before* coercion,
    de-duplication, expectations and masking, so its output columns are the raw columns that
    ``columns`` (``source`` or ``name``) and ``carry_columns`` read. ``sql`` is one Spark SQL
    SELECT over ``bronze`` (the current batch: the bronze table's columns and its metadata
    ``_source_uri``, ``_source_row``, ``_batch_id``, ``_raw``, ``_ingested_at``), e.g.
    ``SELECT *, upper(trim(states)) AS state FROM bronze``. It must keep every row, one output
    row per input row: no WHERE, GROUP BY, DISTINCT, JOIN, LIMIT, set operations, CTEs,
    subqueries, aggregates (window functions are fine) or generators; remove rows with a
    ``drop`` or ``quarantine`` expectation instead, so they are counted and reconcile. Bronze
    metadata is carried through unchanged whether or not the SELECT names it, and may not be
    computed under its own name. The same SQL runs on DuckDB (translated by sqlglot) and Spark.
    """

    table: TableName
    description: NonEmpty
    classification: Classification
    columns: Annotated[list[ColumnSpec], Field(min_length=1)]
    carry_columns: list[ColumnName] = Field(default_factory=list)
    dedupe: DedupeSpec | None = None
    expectations: list[Expectation] = Field(default_factory=list)
    quarantine: QuarantineSpec
    schema_policy: SchemaPolicy = Field(default_factory=SchemaPolicy, alias="schema")
    sql: NonEmpty | None = None
    python: Annotated[str, Field(pattern=_TRANSFORM.pattern)] | None = None
    max_quarantine_rate: Annotated[float, Field(ge=0, le=1)] = 0.2
    """Fail the run when more than this share of a run's rows is quarantined (0.2 = 20 %)."""
    null_values: list[str] | None = None
    """Trimmed values (any letter case) every column reads as NULL; unset: the defaults below."""
    number: NumberSpec | None = None
    """Number notation of every numeric column (a column's own ``number`` wins)."""

    @field_validator("sql")
    @classmethod
    def _row_preserving_sql(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from lakecrew.services.pipelines.silver_sql import PROTECTED
        from lakecrew.services.pipelines.sqltext import check_silver_sql

        problem = check_silver_sql(value, PROTECTED)
        if problem:
            raise _fail(
                "sql",
                problem,
                "write one Spark SQL SELECT ... FROM bronze that keeps every row; remove rows "
                "with a drop/quarantine expectation so they are counted",
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SilverSpec:
        names = [c.name for c in self.columns] + list(self.carry_columns)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _fail("dupe_column", f"columns repeat: {', '.join(dupes)}", "rename them")
        rules = [e.name for e in self.expectations]
        dupes = sorted({n for n in rules if rules.count(n) > 1})
        if dupes:
            raise _fail("dupe_rule", f"expectation names repeat: {', '.join(dupes)}", "rename")
        known = set(names)
        for rule in self.expectations:
            unknown = [c for c in rule.columns_checked if c not in known]
            if unknown:
                raise _fail(
                    "rule_column",
                    f"expectation {rule.name} reads unknown column(s) {', '.join(unknown)}",
                    "use silver column names",
                )
        if self.dedupe is not None:
            used = [*self.dedupe.keys, *(c for c, _ in self.dedupe.ordering())]
            unknown = [c for c in used if c not in known]
            if unknown:
                raise _fail(
                    "dedupe_column",
                    f"dedupe uses unknown column(s) {', '.join(unknown)}",
                    "use silver column names",
                )
        self._check_classification()
        if self.sql is not None and self.python is not None:
            raise _fail("transform", "give sql or python, not both", "keep one")
        return self

    def _check_classification(self) -> None:
        kept = [c for c in self.columns if c.mask != MaskMethod.DROP and c.pii != PiiKind.NONE]
        floor = floor_for({c.pii for c in kept})
        if self.classification.rank >= floor.rank:
            return
        deciding = [c for c in kept if floor_for({c.pii}) == floor]
        held = ", ".join(f"{c.name} ({c.pii.value}, {c.mask.value})" for c in deciding)
        raise _fail(
            "classification",
            f"silver keeps personal data ({held}) that needs at least {floor.value}, "
            f"not {self.classification.value}",
            f"set classification: {floor.value} (masked values are still personal data: a "
            "token or a partial phone links back to the person), or drop the column",
        )

    def coercions(self) -> list[ColumnCoercion]:
        """How every column is built from the bronze batch (silver defaults applied)."""
        return [c.coercion(self.number, self.null_values) for c in self.columns]

    def column_tags(self) -> dict[str, dict[str, str]]:
        """UC column tags for the silver table: ``{column: {"pii": kind, "masking": method}}``."""
        return {
            c.name: {"pii": c.pii.value, "masking": c.mask.value}
            for c in self.columns
            if c.pii != PiiKind.NONE and c.mask != MaskMethod.DROP
        }


class GoldSpec(_Strict):
    """A business table built by Spark SQL over ``schema.table`` names, or a Python transform."""

    table: TableName
    description: NonEmpty
    classification: Classification = Classification.INTERNAL
    sql: NonEmpty | None = None
    python: Annotated[str, Field(pattern=_TRANSFORM.pattern)] | None = None
    partition_by: list[ColumnName] = Field(default_factory=list)
    zorder_by: list[ColumnName] = Field(default_factory=list)
    # SOP 1.8.2 data freshness: the table must have been written within this many hours
    # (checked by the crew's `sla.gold_freshness` rule from system.access.table_lineage)
    freshness_hours: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_transform(self) -> GoldSpec:
        if (self.sql is None) == (self.python is None):
            raise _fail(
                "transform",
                "a gold model needs exactly one of sql or python",
                "add sql: | SELECT ... (Spark SQL) or python: <registered transform>",
            )
        if self.sql is not None:
            from lakecrew.services.pipelines.sqltext import check_spark_sql

            problem = check_spark_sql(self.sql)
            if problem:
                raise _fail(
                    "sql",
                    f"gold sql does not parse as Spark SQL: {problem}",
                    "fix the SQL (Spark SQL dialect)",
                )
        return self


class PrivacySpec(_Strict):
    """Where the tokenization key lives in the secret store (never the key itself)."""

    key_scope: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] = "lakecrew"
    key_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] = "pii_hmac_key"


class PipelineSpec(_Strict):
    """A whole pipeline, already resolved for one environment (``${env.*}`` substituted)."""

    version: Literal[1]
    name: Ident
    description: NonEmpty
    owner: NonEmpty
    steward: NonEmpty
    tags: dict[str, NonEmpty]
    schedule: Schedule
    retries: Retries
    notifications: Notifications
    environments: dict[Environment, EnvironmentSettings]
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    source: SourceSpec
    bronze: BronzeSpec
    silver: SilverSpec
    gold: list[GoldSpec] = Field(default_factory=list)

    @field_validator("environments")
    @classmethod
    def _all_envs(cls, value: dict[str, EnvironmentSettings]) -> dict[str, EnvironmentSettings]:
        missing = [e for e in ENVIRONMENTS if e not in value]
        if missing:
            raise _fail(
                "missing_env",
                f"no settings for environment(s) {', '.join(missing)}",
                "add a block per environment (dev, qa, prod): SOP 1.1.6 and 1.5.3",
            )
        return value

    @field_validator("tags")
    @classmethod
    def _required_tags(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [t for t in REQUIRED_TAGS if t not in value]
        if missing:
            raise _fail(
                "missing_tag",
                f"missing required tag(s) {', '.join(missing)}",
                "add them (environment: ${env.name}) — SOP 1.2.3",
            )
        return value

    @model_validator(mode="after")
    def _distinct_tables(self) -> PipelineSpec:
        tables = [self.bronze.table, self.silver.table, self.silver.quarantine.table]
        tables += [g.table for g in self.gold]
        dupes = sorted({t for t in tables if tables.count(t) > 1})
        if dupes:
            raise _fail("dupe_table", f"tables used twice: {', '.join(dupes)}", "rename them")
        return self

    def table_names(self) -> list[str]:
        """Every table the pipeline writes, ``schema.table``."""
        return [self.bronze.table, self.silver.table, self.silver.quarantine.table] + [
            g.table for g in self.gold
        ]
