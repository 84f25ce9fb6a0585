"""Access review benchmark: 1,000,000 audit rows and 100,000 grants on the local backend.

Steps (each in its own subprocess, for honest peak memory; the review steps time their core,
not interpreter start-up and imports):
- `build`: a project with `system.access.audit` (Delta, 1M rows: Unity Catalog `getTable` /
  `generateTemporaryTableCredential` events over 365 days by 3,000 users, 3 % of them 403s)
  and a metastore of 10,000 tables (classification tags) and 100,000 grants (users, groups,
  `account users`, schema and catalog grants, ALL_PRIVILEGES, grants on dropped tables);
  skipped when the project exists;
- `lakecrew`: `wiring.governance.access_review` (the GROUP BY through the LocalSqlEngine,
  grants and tables through the Grants/Catalog ports, the join and flags in Python);
- `raw`: the same review hand-written as one DuckDB query over the Delta table's live Parquet
  files, with the grants and tags read from the SQLite metastore into Arrow; the run fails
  unless both give the same count for every flag.
Ratio = lakecrew / raw (target <= 1.3x).
Run: python -m benchmarks.bench_access_review [--audit N] [--grants N] [--repeats R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report

AT = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = 365

RAW_SQL = """
WITH a AS (
  SELECT lower(coalesce(request_params['full_name_arg'], request_params['table_full_name'])) AS s,
         lower(user_identity.email) AS p, event_time AS t, service_name, response.status_code AS st
  FROM read_parquet($files)
  WHERE event_time >= $since
), agg AS (
  SELECT s, p, max(t) AS t FROM a
  WHERE service_name = 'unityCatalog' AND st = 200 AND s IS NOT NULL GROUP BY 1, 2
), names AS (
  SELECT s AS n, p, t FROM agg
  UNION ALL SELECT split_part(s, '.', 1) || '.' || split_part(s, '.', 2), p, t FROM agg
  UNION ALL SELECT split_part(s, '.', 1), p, t FROM agg
), by_np AS (SELECT n, p, max(t) AS t FROM names GROUP BY 1, 2),
by_n AS (SELECT n, max(t) AS t FROM names GROUP BY 1),
seen AS (SELECT DISTINCT p FROM a WHERE p IS NOT NULL),
lab AS (
  SELECT n, max(r) AS r FROM (
    SELECT n, r FROM labels
    UNION ALL SELECT split_part(n, '.', 1) || '.' || split_part(n, '.', 2), r FROM labels
    UNION ALL SELECT split_part(n, '.', 1), r FROM labels) GROUP BY 1
), j AS (
  SELECT g.*, position('@' IN g.principal) > 0 AS is_user,
         CASE WHEN position('@' IN g.principal) > 0 THEN np.t ELSE bn.t END AS last_used,
         seen.p IS NOT NULL AS was_seen, lab.r AS r, tb.n IS NOT NULL AS registered
  FROM grants g
  LEFT JOIN by_np np ON np.n = g.securable_name AND np.p = lower(g.principal)
  LEFT JOIN by_n bn ON bn.n = g.securable_name
  LEFT JOIN seen ON seen.p = lower(g.principal)
  LEFT JOIN lab ON lab.n = g.securable_name
  LEFT JOIN labels tb ON tb.n = g.securable_name
)
SELECT
  count(*) AS grants,
  count(*) FILTER (WHERE greatest(last_used, granted_at) < $cutoff
                   OR (last_used IS NULL AND granted_at < $cutoff)) AS unused_90d,
  count(*) FILTER (WHERE privilege = 'ALL_PRIVILEGES') AS all_privileges,
  count(*) FILTER (WHERE is_user) AS user_grant,
  count(*) FILTER (WHERE lower(principal) = 'account users' AND r = 3) AS broad_group_restricted,
  count(*) FILTER (WHERE securable_type = 'TABLE' AND NOT registered) AS securable_missing,
  count(*) FILTER (WHERE is_user AND NOT was_seen) AS principal_not_seen,
  0 AS principal_unknown  -- no SCIM directory in this estate: not judged (as lakecrew)
FROM j
"""


def _build(args: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa

    from lakecrew.ports.catalog import TableInfo
    from lakecrew.services.estate.starter import write_starter
    from lakecrew.wiring.context import Context

    root = Path(args["project"])
    if (root / "lakecrew.yaml").exists():
        return {"skipped": True}
    write_starter(root)
    rng = np.random.default_rng(17)
    n_tables, n_audit, n_grants = 10_000, int(args["audit"]), int(args["grants"])
    cats = [f"proj{i}_prod" for i in range(20)]
    tables = [f"{cats[i % 20]}.s{(i // 20) % 10}.t{i}" for i in range(n_tables)]
    users = [f"user{i}@moh.example" for i in range(3000)]
    labels = ["Public", "Internal", "Confidential", "Restricted"]
    with Context.open(root, writable=True) as ctx:
        ctx.ensure_system_tables()
        ms = ctx.metastore
        for i, t in enumerate(tables):
            ms.register_table(TableInfo(t, "owner", tags={"classification": labels[i % 4]}))
        with ms._tx() as c:  # bulk grants: one transaction (the port's grant() is one each)
            rows = []
            for i in range(n_grants):
                kind = i % 10
                if kind < 7:
                    p, stype, name = (
                        users[rng.integers(3000)],
                        "TABLE",
                        tables[rng.integers(n_tables)],
                    )
                elif kind == 7:
                    p, stype, name = (
                        f"group{i % 200}",
                        "SCHEMA",
                        tables[rng.integers(n_tables)].rsplit(".", 1)[0],
                    )
                elif kind == 8:
                    p, stype, name = "account users", "TABLE", tables[rng.integers(n_tables)]
                else:
                    p, stype, name = f"group{i % 200}", "CATALOG", cats[rng.integers(20)]
                if i % 97 == 0:
                    stype, name = "TABLE", f"{cats[0]}.s0.dropped{i}"
                priv = "ALL_PRIVILEGES" if i % 50 == 0 else "SELECT"
                at = AT - timedelta(days=int(rng.integers(1, 400)))
                rows.append((p, priv, stype, name, None, at.isoformat(), None))
            c.executemany("INSERT OR IGNORE INTO grants VALUES (?,?,?,?,?,?,?)", rows)
        ts = audit_times(rng, n_audit)
        who = rng.integers(0, 3000, n_audit)
        what = rng.integers(0, n_tables, n_audit)
        status = np.where(rng.random(n_audit) < 0.03, 403, 200)
        tbl = pa.table(
            {
                "account_id": pa.array(["acc"] * n_audit),
                "workspace_id": pa.array(["1"] * n_audit),
                "event_time": pa.array(ts, pa.timestamp("us", tz="UTC")),
                "event_date": pa.array(ts.astype("datetime64[D]")),
                "user_identity": pa.array([{"email": users[w], "subject_name": None} for w in who]),
                "service_name": pa.array(["unityCatalog"] * n_audit),
                "action_name": pa.array(["getTable"] * n_audit),
                "request_params": pa.array(
                    [[("full_name_arg", tables[w])] for w in what],
                    pa.map_(pa.string(), pa.string()),
                ),
                "response": pa.array(
                    [{"status_code": int(s), "error_message": None, "result": None} for s in status]
                ),
                "event_id": pa.array([f"e{i}" for i in range(n_audit)]),
            }
        )
        from lakecrew.core.system_tables import SYSTEM_TABLES

        schema = SYSTEM_TABLES["system.access.audit"]
        full = pa.table(
            {
                f.name: (
                    tbl.column(f.name).cast(f.type)
                    if f.name in tbl.column_names
                    else pa.nulls(n_audit, f.type)
                )
                for f in schema
            },
            schema=schema,
        )
        ctx.store.append("system.access.audit", full)
    return {"audit": n_audit, "grants": n_grants}


def audit_times(rng: Any, n: int) -> Any:
    import numpy as np

    secs = rng.integers(0, WINDOW * 86_400, n).astype("timedelta64[s]")
    return np.datetime64(AT.replace(tzinfo=None), "us") - secs


def _lakecrew(args: dict[str, Any]) -> dict[str, Any]:
    # Both sides time the work, not library imports: the raw step imports duckdb, pyarrow and
    # deltalake before its clock starts, so the engine module (duckdb, sqlglot, pyarrow.dataset)
    # is imported here before lakecrew's clock starts; opening the engine is still timed.
    import lakecrew.adapters.local.sql_engine  # noqa: F401
    from lakecrew.ports.clock import FixedClock
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.governance import access_review

    with Context.open(Path(args["project"]), clock=FixedClock(AT)) as ctx:
        t0 = time.perf_counter()
        rev = access_review(ctx, window_days=WINDOW)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "counts": {"grants": len(rev.grants), **rev.counts()}}


def _raw(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    import pyarrow as pa
    from deltalake import DeltaTable

    root = Path(args["project"]) / ".lakecrew"
    t0 = time.perf_counter()
    files = DeltaTable(str(root / "lakehouse" / "system" / "access" / "audit")).file_uris()
    db = sqlite3.connect(root / "metastore.db")
    g = db.execute(
        "SELECT principal, privilege, securable_type, securable_name, granted_at FROM grants"
    ).fetchall()
    grants = pa.table(
        {
            "principal": [r[0] for r in g],
            "privilege": [r[1] for r in g],
            "securable_type": [r[2] for r in g],
            "securable_name": [r[3] for r in g],
            "granted_at": pa.array(
                [datetime.fromisoformat(r[4]) for r in g], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    rank = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
    tags = db.execute(
        "SELECT catalog_name || '.' || schema_name || '.' || table_name, tag_value "
        "FROM tags WHERE column_name = '' AND tag_name = 'classification'"
    ).fetchall()
    labels = pa.table({"n": [t[0] for t in tags], "r": [rank.get(t[1].lower(), -1) for t in tags]})
    con = duckdb.connect()
    con.register("grants", grants)
    con.register("labels", labels)
    since, cutoff = AT - timedelta(days=WINDOW), AT - timedelta(days=90)
    row = con.execute(RAW_SQL, {"files": files, "since": since, "cutoff": cutoff}).fetchone()
    seconds = time.perf_counter() - t0
    names = (
        "grants",
        "unused_90d",
        "all_privileges",
        "user_grant",
        "broad_group_restricted",
        "securable_missing",
        "principal_not_seen",
        "principal_unknown",
    )
    return {"seconds": seconds, "counts": dict(zip(names, row, strict=True))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--grants", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--project", default="bench-out/access_review")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.audit, a.grants, a.repeats, a.project = 20_000, 5_000, 1, a.project + "_quick"
    if a.rebuild:
        shutil.rmtree(a.project, ignore_errors=True)
    args = {"project": a.project, "audit": a.audit, "grants": a.grants}
    build = measure("bench_access_review", "build", args, repeats=1)
    print(f"build: {build.median_s:.1f} s {build.extra}")
    rows = [
        measure("bench_access_review", "raw", args, repeats=a.repeats, name="raw DuckDB"),
        measure(
            "bench_access_review",
            "lakecrew",
            args,
            repeats=a.repeats,
            name="lakecrew access review",
        ),
    ]
    raw_counts, lc_counts = rows[0].extra["counts"], rows[1].extra["counts"]
    for r in rows:
        r.extra = {}
    out = report(f"access review: {a.audit:,} audit rows, {a.grants:,} grants", rows, "raw DuckDB")
    print(f"flags: {json.dumps(lc_counts)}")
    if raw_counts != lc_counts:
        raise SystemExit(f"results differ: raw {raw_counts} vs lakecrew {lc_counts}")
    Path("bench-out").mkdir(exist_ok=True)
    Path("bench-out/access_review.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in ("build", "lakecrew", "raw"):
        child_main({"build": _build, "lakecrew": _lakecrew, "raw": _raw})
    else:
        main()
