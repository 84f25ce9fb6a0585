"""Where a crew ledger write goes: redaction vs the Delta MERGE (issue 15, sweep at scale).

Writes N finding rows shaped like a sweep's (`DeltaLedgerStore.put_findings`, fresh table), and
in the same session times its two parts alone: redacting the rows (`DeltaLedgerStore._clean`,
what every ledger write does to its rows) and the Delta MERGE of the already-built Arrow table.
Ratios are against the whole write. Each measurement is its own process (medians of 3).
Run: .venv/bin/python -m benchmarks.bench_ledger_write [--rows 30000]
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report

OUT = Path("bench-out") / "ledger_write"


def _rows(n: int) -> list[Any]:
    from lakecrew.ports.ledger import FindingRow

    now = datetime(2026, 3, 2, tzinfo=UTC)
    return [
        FindingRow(
            f"{i:024x}",
            "malaria-dev-westafrica",
            "cluster.autotermination_too_long",
            "warning",
            "clusters",
            f"0302-{i:06d}-abcd",
            f"etl-cluster-{i}",
            "data-eng@sim.ehealthafrica.example",
            "tag",
            '{"autotermination_minutes": 240, "max_minutes": 60, "spark_conf": '
            '{"spark.databricks.delta.preview.enabled": "true"}, "custom_tags": '
            f'{{"owner": "data-eng", "project": "malaria", "run": "r{i}"}}}}',
            "open",
            now,
            now,
            None,
            "20260302T100000-abcdef01",
            "Auto-termination longer than the SOP allows",
        )
        for i in range(n)
    ]


def step(args: dict[str, Any]) -> dict[str, Any]:
    import dataclasses

    import pyarrow as pa

    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.ledger_store import DeltaLedgerStore, schema_of
    from lakecrew.ports.ledger import FindingRow

    root = OUT / args["what"]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ledger = DeltaLedgerStore(DeltaStore(root))
    rows = _rows(int(args["rows"]))
    name = ledger._table(FindingRow)
    names = [f.name for f in dataclasses.fields(FindingRow)]
    t0 = time.perf_counter()
    if args["what"] == "put_findings":
        ledger.put_findings(rows)
    elif args["what"] == "redaction":
        DeltaLedgerStore._clean(FindingRow, rows)  # what every write does to its rows
    else:  # the MERGE of a table built (unredacted) before the clock starts
        table = pa.Table.from_pylist(
            [{n: getattr(r, n) for n in names} for r in rows], schema=schema_of(FindingRow)
        )
        t0 = time.perf_counter()
        ledger.store.merge(name, table, ["fingerprint"])
    return {"seconds": time.perf_counter() - t0}


def main() -> None:
    n = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 30_000
    rows = [
        measure("bench_ledger_write", "step", {"what": w, "rows": n}, name=f"{w} ({n:,} rows)")
        for w in ("put_findings", "redaction", "merge")
    ]
    report("crew ledger write: whole vs its parts", rows, baseline=rows[0].name)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "step":
        child_main({"step": step})
    else:
        main()
