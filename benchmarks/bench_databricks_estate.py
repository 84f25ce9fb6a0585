"""The estate scope's Unity Catalog read: N tables with grants, local metastore vs Databricks path.

A local metastore is filled with N tables (10 catalogs × 10 schemas, two columns each, the
column `phone` tagged `pii` on every other table, a classification tag on 19 tables in 20, two
direct grants per table). Two ways of building the crew's `tables` resources from it are timed,
each in a fresh child process:

- `local`: `table_resources(SqliteMetastore)`, what a local project's estate scope does;
- `databricks`: `table_resources(DatabricksCatalog)` through the real databricks-sdk over real
  HTTP against the replay server, which answers the UC listings (`catalogs.list`,
  `schemas.list`, `tables.list`) and the three `system.information_schema` statements (table
  tags, column tags, table privileges) from the same metastore
  (`lakecrew.testing.duck_warehouse`). Its time includes the server's own work (rendering the
  information_schema views in DuckDB), which a real workspace does on its side.

Both must give the same resources (digest checked). Requests are counted on the server: they
must grow with schemas, not tables. Peak RSS is the child's (client side only).

Run: .venv/bin/python -m benchmarks.bench_databricks_estate [--quick]
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Measurement, child_main, measure, report

OUT = Path("bench-out") / "databricks_estate"
WAREHOUSE = "wh00estate000001"


def _digest(resources: list[Any]) -> str:
    text = "\n".join(json.dumps(r.data, sort_keys=True, default=str) for r in resources)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def local(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.adapters.local.metastore import SqliteMetastore
    from lakecrew.services.crew.catalog_source import table_resources

    ms = SqliteMetastore(Path(args["project"]) / ".lakecrew" / "metastore.db", read_only=True)
    t0 = time.perf_counter()
    got = table_resources(ms, ms, "(estate)")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "tables": len(got), "digest": _digest(got)}


def databricks(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.adapters.databricks.catalog import DatabricksCatalog
    from lakecrew.adapters.databricks.client import build_client
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
    from lakecrew.services.crew.catalog_source import table_resources
    from lakecrew.testing.databricks_replay import TOKEN

    client = build_client(host=args["url"], token=TOKEN)
    cat = DatabricksCatalog(client, DatabricksSqlEngine(client, args.get("warehouse", WAREHOUSE)))
    t0 = time.perf_counter()
    got = table_resources(cat, cat, "(estate)")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "tables": len(got), "digest": _digest(got)}


def build(project: Path, n: int) -> None:
    """The project folder with N registered tables (built once per N)."""
    from lakecrew.testing.databricks_project import project_yaml

    if (project / "built").exists():
        return
    (project / ".lakecrew").mkdir(parents=True, exist_ok=True)
    (project / "lakecrew.yaml").write_text(project_yaml())
    register_tables(project / ".lakecrew" / "metastore.db", n)
    (project / "built").write_text(str(n))


def register_tables(metastore: Path, n: int) -> None:
    """N tables in catalogs c0..c9 × schemas s0..s9 of a metastore, two grants each."""
    from lakecrew.adapters.local.metastore import SqliteMetastore
    from lakecrew.ports.catalog import ColumnInfo, Grant, TableInfo

    ms = SqliteMetastore(metastore)
    per_schema = max(1, n // 100)
    for i in range(n):
        cat, sch = f"c{i // (per_schema * 10) % 10}", f"s{i // per_schema % 10}"
        name = f"{cat}.{sch}.t{i}"
        pii = {"pii": "phone"} if i % 2 == 0 else {}
        tags = {"classification": "Internal"} if i % 20 else {}
        columns = (ColumnInfo("id", "bigint"), ColumnInfo("phone", "string", tags=pii))
        ms.register_table(TableInfo(name, f"owner{i % 7}", "bench table", tags=tags,
                                    columns=columns))  # fmt: skip
        for who in ("analysts", "stewards"):
            ms.grant(Grant(who, "SELECT", "TABLE", name))
    ms.close()


def run_size(n: int, repeats: int) -> list[Measurement]:
    from lakecrew.testing.databricks_replay import DatabricksReplay
    from lakecrew.testing.duck_warehouse import DuckWarehouse

    project = (OUT / f"project-{n}").resolve()
    build(project, n)
    rows = [measure("bench_databricks_estate", "local", {"project": str(project)},
                    repeats=repeats, name=f"local metastore {n:,} tables")]  # fmt: skip
    with DuckWarehouse(project, WAREHOUSE) as wh, DatabricksReplay(handlers=[wh]) as replay:
        rows.append(
            measure(
                "bench_databricks_estate",
                "databricks",
                {"url": replay.url},
                repeats=repeats,
                name=f"databricks path {n:,} tables",
            )
        )
        uc = [r for r in replay.seen if r.path.startswith("/api/2.1/unity-catalog/")]
        statements = [r for r in replay.seen if r.path == "/api/2.0/sql/statements"]
    rows[1].extra["requests_per_run"] = (len(uc) + len(statements)) / repeats
    rows[1].extra["statements_per_run"] = len(statements) / repeats
    a, b = rows[0].extra, rows[1].extra
    if (a["tables"], a["digest"]) != (b["tables"], b["digest"]):
        raise SystemExit(f"local and databricks paths differ at {n}: {a} vs {b}")
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [1_000] if quick else [1_000, 10_000]
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[Measurement] = []
    for n in sizes:
        rows.extend(run_size(n, repeats=1 if quick else 3))
    out = report(
        "estate scope: Unity Catalog tables + tags + grants, local vs databricks-sdk path",
        rows,
        baseline=rows[0].name,
    )
    (OUT / "result.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("local", "databricks"):
        child_main({"local": local, "databricks": databricks})
    else:
        main()
