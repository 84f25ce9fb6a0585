"""Bind every gold model's SQL against the silver schema before anything is written.

``pipeline validate`` and the start of every run call ``check_gold_sql``: silver's schema comes
from the spec itself (``build_silver`` over an empty batch: types, masks and carried metadata
exactly as a run writes them), each gold query runs over empty inputs through
``SqlEngine.query_tables``, and a model's result schema is an input of the models after it. A
binder error (unknown column, wrong function, type mismatch) becomes a ConfigError naming the
spec's ``file:line`` of that ``sql:``, the pipeline and the gold table, plus the engine's
message (which names the column).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
from pydantic import SecretStr

from lakecrew.core.errors import ConfigError, LakecrewError
from lakecrew.ports.source import METADATA_COLUMNS, SOURCE_ROW
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.pipelines.columns import CARRY, INGESTED_AT, TS
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.silver import build_silver
from lakecrew.services.pipelines.sqltext import inline_tables, referenced_tables
from lakecrew.services.privacy.masking import Tokenizer
from lakecrew.services.quality.engine import CheckContext


def silver_schema(loaded: LoadedPipeline) -> pa.Schema:
    """The silver table's schema as a run writes it (from the spec alone)."""
    spec = loaded.spec.silver
    raw_names = [c.source or c.name for c in spec.columns] + list(spec.carry_columns)
    fields = [pa.field(n, pa.string()) for n in dict.fromkeys(raw_names)]
    types = {INGESTED_AT: TS, SOURCE_ROW: pa.int64()}
    fields += [pa.field(c, types.get(c, pa.string())) for c in CARRY]
    raw = pa.schema([f for f in fields if f.name not in METADATA_COLUMNS or f.name in CARRY])
    carry = list(dict.fromkeys([*spec.carry_columns, *CARRY]))
    silver_spec = spec.model_copy(update={"carry_columns": carry})
    context = CheckContext(now=datetime.now(UTC))
    tokenizer = Tokenizer(SecretStr("schema-only-" + "0" * 40))  # no value is ever tokenized
    outcome = build_silver(
        raw.empty_table(), silver_spec, context, tokenizer, table_name=spec.table
    )
    return outcome.silver.schema


def check_gold_sql(
    engine: SqlEngine,
    loaded: LoadedPipeline,
    schema_of: Callable[[str], pa.Schema | None] = lambda _name: None,
) -> list[str]:
    """ConfigError at the first gold model whose SQL does not bind (see module doc).

    Tables of other pipelines are bound with ``schema_of(full name)`` (their live schema);
    a model reading one that does not exist yet is not bound here: its name is returned.
    """
    spec = loaded.spec
    inputs: dict[str, pa.Table] = {"silver": silver_schema(loaded).empty_table()}
    names = {spec.silver.table: "silver"}
    unbound: list[str] = []
    for i, model in enumerate(spec.gold):
        alias = f"gold{i}"
        if model.sql is None:
            continue
        missing = False
        for ref in referenced_tables(model.sql):
            if ref.lower() in names:
                continue
            live = schema_of(loaded.full_name(ref))
            if live is None:
                missing = True
                continue
            names[ref.lower()] = f"ext{len(inputs)}"
            inputs[names[ref.lower()]] = live.empty_table()
        if missing:
            unbound.append(model.table)
            continue
        where = loaded.gold_sql_at[i] if i < len(loaded.gold_sql_at) else loaded.source
        try:
            sql = inline_tables(model.sql, names)
            result = engine.query_tables(sql, inputs)
        except LakecrewError as exc:
            raise ConfigError(
                f"pipeline {spec.name} gold {model.table}: sql does not bind against silver "
                f"{spec.silver.table}: {exc.what}",
                where=where,
                fix="use silver's column names and types (lakecrew pipeline validate shows "
                "the first problem; silver columns are those of silver.columns and "
                "carry_columns, after masks)",
            ) from None
        inputs[alias] = result.schema.empty_table()
        names[model.table] = alias
    return unbound
