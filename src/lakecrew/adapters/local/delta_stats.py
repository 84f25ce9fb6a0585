"""No patient identifier in a Delta log: column statistics of PII columns are never written.

Delta writers record per-file min/max values of columns in the `_delta_log` JSON (and
checkpoints): for a phone or name column those are raw identifiers, outside the data files and
their access rules. A table with PII columns (named like one: core/redact.py `PII_KEY`, or given
by the caller) gets `delta.dataSkippingStatsColumns` set to its other columns — delta-rs then
writes no statistics for them — and the first write after the property is set scrubs the
statistics older commits already hold (each commit file rewritten whole and renamed; stats are
optional in the protocol, so readers only lose data skipping on those columns). Checkpoints,
which copy the statistics, are dropped while the full JSON log is still there and written anew.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable

from lakecrew.core.redact import is_pii_key

STATS_COLUMNS = "delta.dataSkippingStatsColumns"
NUM_INDEXED = "delta.dataSkippingNumIndexedCols"


def pii_columns(schema: pa.Schema, extra: Collection[str] = ()) -> list[str]:
    """Top-level columns holding PII (by name, plus `extra`)."""
    return [f.name for f in schema if is_pii_key(f.name, extra)]


def stats_properties(schema: pa.Schema, extra: Collection[str] = ()) -> dict[str, str]:
    """Table properties that keep statistics off the PII columns ({} when there are none)."""
    pii = set(pii_columns(schema, extra))
    if not pii:
        return {}
    keep = [f.name for f in schema if f.name not in pii]
    if not keep:
        return {NUM_INDEXED: "0"}
    return {STATS_COLUMNS: ",".join(_quoted(n) for n in keep)}


def _quoted(name: str) -> str:
    """A column name as the property lists it (backticks around anything but [A-Za-z0-9_])."""
    return name if re.fullmatch(r"\w+", name, re.ASCII) else "`" + name.replace("`", "``") + "`"


def enforce(
    table: DeltaTable,
    path: Path,
    extra: Collection[str] = (),
    *,
    props: CommitProperties | None = None,
) -> bool:
    """Before a write: set the properties if missing and scrub the existing statistics.
    Returns True when anything changed (`props`: how the property change is committed)."""
    schema = pa.schema(table.schema().to_arrow())
    wanted = stats_properties(schema, extra)
    config = table.metadata().configuration
    if not wanted or all(config.get(k) == v for k, v in wanted.items()):
        return False
    table.alter.set_table_properties(wanted, commit_properties=props)
    pii = set(pii_columns(schema, extra))
    _scrub_log(path / "_delta_log", pii)
    return True


def _scrub_log(log: Path, pii: set[str]) -> None:
    commits = sorted(log.glob("[0-9]" * 20 + ".json"))
    for commit in commits:
        _scrub_commit(commit, pii)
    checkpoints = list(log.glob("*.checkpoint*.parquet"))
    full_log = bool(commits) and commits[0].name == f"{0:020d}.json"
    if checkpoints and full_log:
        for cp in checkpoints:
            cp.unlink()
        (log / "_last_checkpoint").unlink(missing_ok=True)
        DeltaTable(str(log.parent)).create_checkpoint()


def _scrub_commit(commit: Path, pii: set[str]) -> None:
    lines = commit.read_text(encoding="utf-8").splitlines()
    changed = False
    out: list[str] = []
    for text in lines:
        line = text
        action = json.loads(line) if line.strip() else None
        add = action.get("add") if isinstance(action, dict) else None
        if isinstance(add, dict) and isinstance(add.get("stats"), str):
            stats = json.loads(add["stats"])
            clean = _without(stats, pii)
            if clean != stats:
                add["stats"] = json.dumps(clean, separators=(",", ":"))
                line = json.dumps(action, separators=(",", ":"))
                changed = True
        out.append(line)
    if changed:
        tmp = commit.with_name(f".{commit.name}.scrub")
        tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
        os.replace(tmp, commit)


def _without(stats: Mapping[str, Any], pii: set[str]) -> dict[str, Any]:
    out = dict(stats)
    for part in ("minValues", "maxValues", "nullCount"):
        values = out.get(part)
        if isinstance(values, dict):
            out[part] = {k: v for k, v in values.items() if k not in pii}
    return out
