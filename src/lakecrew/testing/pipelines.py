"""Test helpers for pipeline runs: a project with a small spec over an ``incoming/`` folder.

``make_project(root)`` writes a starter lakecrew.yaml; ``write_spec(root, ...)`` writes
``<root>/pipelines/<name>.yaml`` reading ``<root>/incoming/*.csv`` (a case register with a
phone number, so masking and PII tags are exercised). ``python -m lakecrew.testing.pipelines
ROOT NAME [--kill-at before_silver_commit|after_silver_commit]`` runs the pipeline in a
subprocess and, with ``--kill-at``, SIGKILLs itself at that point of the first silver write
(for the crash tests).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lakecrew.services.estate.starter import write_starter

CASES_HEADER = "case_id,state,week,confirmed,deaths,phone,updated\n"

SPEC = """\
version: 1
name: {name}
description: Test case register by state and week.
owner: data-engineering@example.org
steward: dq-steward@example.org
tags: {{cost_center: cc-1, project: tests, owner: data-engineering, environment: "${{env.name}}"}}
schedule: {{cron: "0 0 6 ? * MON", timezone: UTC}}
retries: {{max_retries: 1, min_retry_interval_millis: 1000}}
notifications: {{on_failure: [data-eng-oncall]}}
environments:
  dev: {{catalog: t_dev, paths: {{raw: ../incoming}}}}
  qa: {{catalog: t_qa, paths: {{raw: /Volumes/t_qa/raw}}}}
  prod: {{catalog: t_prod, paths: {{raw: /Volumes/t_prod/raw}}}}
privacy: {{key_scope: tests, key_name: pii_hmac_key}}
source:
  type: csv
  options: {{path: "${{env.paths.raw}}", pattern: "*.csv"}}
bronze:
  table: bronze.cases_raw
  description: Case rows as received.
silver:
  table: silver.cases
  description: One row per case, typed, validated and masked.
  classification: Confidential
  columns:
    - {{name: case_id, type: string}}
    - {{name: state, type: string}}
    - {{name: week, type: int}}
    - {{name: confirmed, type: int}}
    - {{name: deaths, type: int}}
    - {{name: phone, type: string, pii: phone, mask: partial}}
    - {{name: updated, type: {updated_type}}}
  dedupe: {{keys: [case_id], order_by: [updated desc]}}
  expectations:
    - {{name: id_present, type: not_null, columns: [case_id], action: quarantine}}
    - {{name: week_ok, type: between, column: week, min: 1, max: 53, action: quarantine}}
    - name: deaths_le_confirmed
      type: compare
      left: deaths
      op: "<="
      right: confirmed
      action: quarantine
  quarantine: {{table: silver.cases_quarantine}}
  schema: {{approved_breaking_changes: {approved}}}
gold:
  - table: gold.cases_by_state
    description: Confirmed cases and deaths by state and week.
    sql: |
      SELECT state, week, SUM(confirmed) AS confirmed, SUM(deaths) AS deaths
      FROM silver.cases GROUP BY state, week
    partition_by: [week]
"""


def make_project(root: Path) -> Path:
    """A project folder with a starter lakecrew.yaml and an empty ``incoming/``."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "lakecrew.yaml").exists():
        write_starter(root)
    (root / "incoming").mkdir(exist_ok=True)
    return root


def write_spec(
    root: Path,
    name: str = "cases",
    *,
    updated_type: str = "date",
    approved: Sequence[str] = (),
) -> Path:
    """Write the test spec to ``<root>/pipelines/<name>.yaml``."""
    folder = root / "pipelines"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    text = SPEC.format(name=name, updated_type=updated_type, approved=json.dumps(list(approved)))
    path.write_text(text, encoding="utf-8")
    return path


STANDARDISE_STATES = """\
SELECT case_id,
       CASE WHEN upper(trim(state)) IN ('FCT', 'ABUJA') THEN 'FCT'
            ELSE initcap(lower(trim(state))) END AS state,
       week, confirmed, deaths, phone, updated
FROM bronze
"""
"""A silver.sql for the test spec: state names trimmed, capitalised, Abuja as FCT."""


def add_silver_sql(spec_path: Path, sql: str = STANDARDISE_STATES) -> None:
    """Give the test spec at ``spec_path`` a ``silver.sql`` (a YAML block under silver)."""
    text = spec_path.read_text(encoding="utf-8")
    block = "".join(f"    {line}\n" for line in sql.strip().splitlines())
    marker = "  table: silver.cases\n"
    if marker not in text:
        raise ValueError(f"{spec_path} is not the test spec")
    spec_path.write_text(text.replace(marker, f"{marker}  sql: |\n{block}", 1), encoding="utf-8")


def case_rows(start: int, count: int, *, week: int = 3) -> str:
    """``count`` valid CSV rows with ids from ``start`` (no header)."""
    states = ("Edo", "Ondo", "Bauchi", "Taraba")
    return "".join(
        f"C{i:05d},{states[i % 4]},{week},{i % 7 + 1},{i % 2},+2348031234{i % 1000:03d},"
        f"2024-01-{i % 28 + 1:02d}\n"
        for i in range(start, start + count)
    )


def _install_kill(point: str) -> None:
    from lakecrew.adapters.local.table_store import DeltaTableStore

    original = DeltaTableStore.merge

    def merge(self: DeltaTableStore, full_name: str, data: Any, keys: Sequence[str]) -> int:
        if ".silver." in full_name and point == "before_silver_commit":
            os.kill(os.getpid(), signal.SIGKILL)
        version = original(self, full_name, data, keys)
        if ".silver." in full_name and point == "after_silver_commit":
            os.kill(os.getpid(), signal.SIGKILL)
        return version

    DeltaTableStore.merge = merge  # type: ignore[method-assign]
    if point == "after_silver_append":
        _kill_after_silver_append()


def _kill_after_silver_append() -> None:
    """Die between the two commits of an upsert (rows with new keys appended, not yet merged)."""
    from lakecrew.adapters.local.delta import DeltaStore

    original = DeltaStore.append

    def append(self: DeltaStore, full_name: str, data: Any, **kwargs: Any) -> Any:
        result = original(self, full_name, data, **kwargs)
        if ".silver." in full_name and not full_name.endswith("_quarantine"):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    DeltaStore.append = append  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    """Run a pipeline of a test project (optionally killing itself mid-run)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("name")
    parser.add_argument("--kill-at", default=None)
    args = parser.parse_args(argv)
    if args.kill_at:
        _install_kill(args.kill_at)
    from lakecrew.wiring import pipelines as pw
    from lakecrew.wiring.context import Context

    ctx = Context.open(args.root, writable=True)
    try:
        report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, args.name))
        sys.stdout.write(json.dumps({"layers": report.layers, "reconciled": report.reconciled}))
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
