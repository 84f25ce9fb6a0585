"""Leak scan of a project folder: no planted secret and no raw PII value outside the places
that hold them by design.

    python benchmarks/leak_scan.py PROJECT   (after `lakecrew demo --project PROJECT`)

Secrets: every credential-shaped value (core/findings.py detectors) found in the workspace
objects of `.lakecrew/workspace.db` (the simulated workspaces themselves, which hold them by
design). PII: every value of a PII-tagged or PII-named column of the bronze tables (which keep
raw data by design). Every other file under PROJECT is read as bytes and searched for each value.
Prints the counts and any hit; exit 1 when something leaked.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from lakecrew.core.findings import looks_like_secret, secret_key_name
from lakecrew.core.redact import is_pii_key


def _secrets(node: Any, key: str, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _secrets(v, str(k), out)
    elif isinstance(node, list):
        for v in node:
            _secrets(v, key, out)
    elif (
        isinstance(node, str)
        and len(node) >= 8
        and "{{secrets/" not in node
        and (looks_like_secret(node) or (secret_key_name(key) and not node.startswith("<")))
    ):
        out.add(node)


def planted_secrets(project: Path) -> set[str]:
    db = sqlite3.connect(project / ".lakecrew" / "workspace.db")
    found: set[str] = set()
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        for col in cols:
            for (value,) in db.execute(f"SELECT {col} FROM {table}"):
                if isinstance(value, str) and value.startswith(("{", "[")):
                    with contextlib.suppress(ValueError):
                        _secrets(json.loads(value), "", found)
    db.close()
    return found


def bronze_pii(project: Path) -> tuple[set[str], set[Path]]:
    import pyarrow.parquet as pq

    values: set[str] = set()
    files: set[Path] = set()
    lakehouse = project / ".lakecrew" / "lakehouse"
    for table_dir in lakehouse.glob("*/bronze/*"):
        for part in table_dir.glob("**/*.parquet"):
            files.add(part.resolve())
            pf = pq.ParquetFile(part)
            cols = [c for c in pf.schema_arrow.names if is_pii_key(c)]
            if not cols:
                continue
            for col in cols:
                for v in pf.read(columns=[col]).column(0).to_pylist():
                    if isinstance(v, str) and len(v.strip()) >= 7:
                        values.add(v)
    return values, files


def main(project: Path) -> int:
    secrets = planted_secrets(project)
    pii, bronze_files = bronze_pii(project)
    allowed = {(project / ".lakecrew" / "workspace.db").resolve()} | bronze_files
    scanned, hits = 0, []
    for path in sorted(project.rglob("*")):
        if not path.is_file() or path.resolve() in allowed or path.name.startswith("workspace.db"):
            continue
        data = path.read_bytes()
        scanned += 1
        hits += [f"{path.relative_to(project)}: secret" for s in secrets if s.encode() in data]
        hits += [f"{path.relative_to(project)}: PII" for v in pii if v.encode() in data]
    print(
        f"planted secrets: {len(secrets)}; raw PII values in bronze: {len(pii)}; "
        f"files scanned: {scanned}; leaks: {len(hits)}"
    )
    for hit in sorted(set(hits))[:50]:
        print("  " + hit)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
