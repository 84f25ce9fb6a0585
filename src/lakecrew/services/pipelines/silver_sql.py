"""``silver.sql``: a row-preserving Spark SQL SELECT over the current bronze batch.

The spec's SQL names the batch ``bronze`` (checked at load time by ``sqltext.check_silver_sql``).
Per batch the runner calls ``apply_silver_sql`` where a registered ``python`` transform would
run, before coercion, de-duplication, expectations and masking. The batch goes to the SqlEngine
port (``query_tables``: DuckDB after sqlglot translation locally, ``spark.sql`` on Spark) with a
private row id column; the result must hold every row id exactly once (no row added, lost or
repeated, whatever the engine did), is put back in bronze order, and gets the bronze metadata
columns from the batch itself, so provenance and reconciliation never depend on the SQL.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lakecrew.core.errors import ConfigError, DataError, LakecrewError
from lakecrew.ports.source import METADATA_COLUMNS
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.pipelines.columns import INGESTED_AT
from lakecrew.services.pipelines.sqltext import (
    RESERVED_PREFIX,
    SILVER_INPUT,
    check_silver_sql,
    with_row_id,
)

ROW_ID = f"{RESERVED_PREFIX}row"
PROTECTED: tuple[str, ...] = (*METADATA_COLUMNS, INGESTED_AT)
"""Bronze metadata carried from the batch as is (silver.sql may read, not redefine, it)."""
_FIX = "fix silver.sql (Spark SQL over bronze) and run again"


def apply_silver_sql(engine: SqlEngine, sql: str, raw: pa.Table, *, where: str) -> pa.Table:
    """``raw`` transformed by ``sql``: metadata columns of ``raw`` first, then the SQL's columns.

    ``where`` names the spec (e.g. ``pipeline cases silver.sql``) in errors. ConfigError when the
    SQL fails or does not keep exactly the batch's rows; error messages never quote row values.
    """
    problem = check_silver_sql(sql, PROTECTED)
    if problem:
        raise ConfigError(f"silver.sql is invalid: {problem}", where=where, fix=_FIX)
    n = raw.num_rows
    source = raw.append_column(ROW_ID, pa.array(np.arange(n, dtype=np.int64)))
    try:
        out = engine.query_tables(with_row_id(sql, ROW_ID), {SILVER_INPUT: source})
    except DataError:
        raise ConfigError(
            "silver.sql failed on a value of the batch (message withheld: it may hold PII)",
            where=where,
            fix="guard conversions with try_cast / CASE so every row computes",
        ) from None
    except LakecrewError as exc:
        raise ConfigError(f"silver.sql failed: {exc.what}", where=where, fix=_FIX) from None
    ids = out.column(out.num_columns - 1)
    order = _row_order(ids, n, where)
    meta = [c for c in raw.column_names if c in PROTECTED]
    names = out.column_names[:-1]
    keep = [i for i, c in enumerate(names) if c not in PROTECTED and c != ROW_ID]
    chosen = [names[i] for i in keep]
    if len(set(chosen)) != len(chosen):
        dupes = sorted({c for c in chosen if chosen.count(c) > 1})
        raise ConfigError(
            f"silver.sql outputs column(s) {', '.join(dupes)} twice",
            where=where,
            fix="alias or drop the repeated column (SELECT * already holds every bronze column)",
        )
    columns = [raw.column(c) for c in meta] + [out.column(i).take(order) for i in keep]
    return pa.Table.from_arrays(columns, names=[*meta, *chosen])


def _row_order(ids: pa.ChunkedArray, n: int, where: str) -> pa.Array:
    """Indices putting the result back in batch order; ConfigError unless a permutation."""
    values = ids.to_numpy(zero_copy_only=False) if len(ids) else np.empty(0, np.int64)
    if len(values) == n and ids.null_count == 0:
        order = np.argsort(values, kind="stable")
        if bool((values[order] == np.arange(n)).all()):
            return pa.array(order)
    raise ConfigError(
        f"silver.sql returned {len(values)} row(s) for a batch of {n}: it must keep every row",
        where=where,
        fix="remove rows with a drop/quarantine expectation instead, so they are counted",
    )
