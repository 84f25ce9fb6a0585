"""LocalSqlEngine vs raw DuckDB over the same Delta files (ratio, not absolute time).

Usage: .venv/bin/python benchmarks/bench_lakehouse_sql.py [rows]   (default 10_000_000)
Writes a narrow usage-shaped Delta table, then times one aggregate with a filter through the
engine (translation + registration + pushdown) and through DuckDB on the same Arrow dataset.
"""

from __future__ import annotations

import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine

SQL = (
    "SELECT sku_name, SUM(usage_quantity) AS q FROM main.bench.usage "
    "WHERE workspace_id = :ws GROUP BY ALL ORDER BY 1"
)
RAW = (
    "SELECT sku_name, SUM(usage_quantity) AS q FROM ds "
    "WHERE workspace_id = $ws GROUP BY ALL ORDER BY 1"
)


def main(rows: int) -> None:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = DeltaStore(Path(tmp) / "lake")
        engine = LocalSqlEngine(store, SqliteMetastore(Path(tmp) / "m.db"), writable=True)
        chunk = 1_000_000
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            data = pa.table({
                "workspace_id": pa.array(rng.integers(0, 20, n).astype(str)),
                "sku_name": pa.array(rng.choice(["JOBS", "SQL", "ALL_PURPOSE"], n)),
                "usage_quantity": pa.array(rng.random(n) * 10).cast(pa.decimal128(38, 18)),
            })  # fmt: skip
            engine.save_table("main.bench.usage", data)
        params = {"ws": "3"}
        engine.fetch(SQL, params)  # warm the translation cache
        t0 = time.perf_counter()
        ours = engine.fetch(SQL, params)
        t1 = time.perf_counter()
        con = duckdb.connect()
        con.register("ds", store.to_arrow("main.bench.usage"))
        raw = con.execute(RAW, params).fetchall()
        t2 = time.perf_counter()
        assert [tuple(r) for r in ours.rows] == [tuple(r) for r in raw]
        assert isinstance(ours.rows[0][1], Decimal)
        print(f"rows={rows:,} engine={t1 - t0:.3f}s raw_duckdb={t2 - t1:.3f}s "
              f"ratio={(t1 - t0) / (t2 - t1):.2f}")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
