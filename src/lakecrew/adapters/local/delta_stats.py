"""No patient identifier in a Delta log: column statistics of PII columns are never written.

Delta writers record per-file min/max values of columns in the `_delta_log` JSON (and
checkpoints): for a phone or name column those are raw identifiers, outside the data files and
their access rules. Which columns hold PII comes from the metastore's classification (a column
tagged `pii: <kind>`, passed in by the store's `pii_columns` callback), plus any column named
like one (core/redact.py `PII_KEY`) as a safety net before a table is classified. Such a table
gets `delta.dataSkippingStatsColumns` set to its other columns — delta-rs then writes no
statistics for them — and the first write after the classification changes scrubs the
statistics older commits and checkpoints already hold (stats are optional in the protocol, so
readers only lose data skipping on those columns).

Crash safety: the scrub comes first, file by file, each file replaced whole with
`core.files.write_atomic` (a reader sees the old file or the new one); the property commit comes
last and marks the work done. A crash anywhere before it leaves the properties unset, so the
next write scrubs again (idempotent) — never a table with the property set and raw statistics
left behind. `CRASH_POINT` is called at each step (tests choose where to stop).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError

from lakecrew.adapters.local import deletion_vectors
from lakecrew.core.files import write_atomic
from lakecrew.core.redact import is_pii_key

STATS_COLUMNS = "delta.dataSkippingStatsColumns"
NUM_INDEXED = "delta.dataSkippingNumIndexedCols"
PII_TAG = "pii"
NOT_PII = frozenset({"", "none", "false", "no"})


def _no_crash(step: str) -> None:
    return None


CRASH_POINT: Callable[[str], None] = _no_crash  # tests replace it to stop at a chosen step


def classified(column_tags: Mapping[str, Mapping[str, str]]) -> set[str]:
    """Columns the catalog classifies as PII (tag `pii` with a kind)."""
    return {
        col
        for col, tags in column_tags.items()
        if col and str(tags.get(PII_TAG, "")).strip().lower() not in NOT_PII
    }


def pii_columns(schema: pa.Schema, extra: Collection[str] = ()) -> list[str]:
    """Top-level columns holding PII (classified in `extra`, or named like PII)."""
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


DEFAULT_INDEXED = "32"
CHOSEN = "-1"
"""`delta.dataSkippingNumIndexedCols` beside a list set on purpose (``only_stats_of``): for
Delta the list wins whatever this says; for lakecrew it tells a chosen list, which only loses
its PII columns, from one derived from the PII columns, which grows with the table."""


def only_stats_of(columns: Collection[str]) -> dict[str, str]:
    """Table properties that give data-skipping statistics to ``columns`` alone."""
    if not columns:
        return {NUM_INDEXED: "0"}
    return {STATS_COLUMNS: ",".join(_quoted(n) for n in columns), NUM_INDEXED: CHOSEN}


def without_stats(config: Mapping[str, str], names: Collection[str]) -> list[str]:
    """Columns among ``names`` whose statistics the Delta log does not keep (the table's
    `delta.dataSkippingStatsColumns`, or `delta.dataSkippingNumIndexedCols` of 0): the Parquet
    writer need not compute them. Empty under Delta's default (first 32 columns), which is
    left to delta-rs."""
    if config.get(STATS_COLUMNS) is not None:
        kept = set(_names(config[STATS_COLUMNS]))
        return [n for n in names if n not in kept]
    if config.get(NUM_INDEXED) == "0":
        return list(names)
    return []


def _names(listed: str) -> list[str]:
    """The column names of a `delta.dataSkippingStatsColumns` value (as `_quoted` writes)."""
    names: list[str] = []
    for found in re.findall(r"`(?:[^`]|``)*`|[^,]+", listed):
        part = found.strip()
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            names.append(part[1:-1].replace("``", "`"))
        elif part:
            names.append(part)
    return names


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
    """Before a write: scrub the existing statistics of the PII columns, then set the
    properties (`props`: how that commit is made). Returns True when anything changed."""
    schema = pa.schema(table.schema().to_arrow())
    wanted = stats_properties(schema, extra)
    config = table.metadata().configuration
    if not wanted or all(config.get(k) == v for k, v in wanted.items()):
        return False
    pii = set(pii_columns(schema, extra))
    listed = config.get(STATS_COLUMNS)
    if listed is not None and config.get(NUM_INDEXED) == CHOSEN:
        # A chosen list (bronze's metadata columns) only loses its PII columns; a column
        # added later gets no statistics. Emptied, it becomes the PII-derived list.
        chosen = _names(listed)
        if not set(chosen) & pii:
            return False
        kept = [c for c in chosen if c not in pii]
        wanted = only_stats_of(kept) if kept else {**wanted, NUM_INDEXED: DEFAULT_INDEXED}
    _scrub_log(path / "_delta_log", set(pii_columns(schema, extra)))
    CRASH_POINT("before properties")
    set_properties(table, path, wanted, props)
    return True


def set_properties(
    table: DeltaTable, path: Path, wanted: Mapping[str, str], props: CommitProperties | None
) -> None:
    """Set table properties in one commit. On a table-features protocol (writer 7: a table
    with deletion vectors) the commit is written here: delta-rs 1.6.6's SET TBLPROPERTIES
    there also adds the ``variantType`` reader and writer feature, which no column needs, so
    readers without Variant support refuse the table and the upsert that marks deletion
    vectors no longer applies to it (every later batch went through MERGE)."""
    if table.protocol().min_writer_version < 7:
        table.alter.set_table_properties(dict(wanted), commit_properties=props)
        return
    version = int(table.version())
    live = deletion_vectors.LiveFiles.at(path, version)
    config = {**(live.metadata.get("configuration") or {}), **wanted}
    info: dict[str, Any] = {
        "timestamp": int(time.time() * 1000),
        "operation": "SET TBLPROPERTIES",
        "operationParameters": {"properties": json.dumps(dict(wanted))},
        "engineInfo": "lakecrew",
        **((props.custom_metadata or {}) if props else {}),
    }
    actions = [{"commitInfo": info}, {"metaData": {**live.metadata, "configuration": config}}]
    if not deletion_vectors.commit(path, version + 1, actions):
        raise CommitFailedError(f"version {version + 1} of {path.name} was committed first")
    table.update_incremental()


def _scrub_log(log: Path, pii: set[str]) -> None:
    for commit in sorted(log.glob("[0-9]" * 20 + ".json")):
        _scrub_commit(commit, pii)
    rewritten = [
        cp for cp in sorted(log.glob("*.checkpoint*.parquet")) if _scrub_checkpoint(cp, pii)
    ]
    if rewritten:
        _refresh_last_checkpoint(log)


def _scrub_commit(commit: Path, pii: set[str]) -> None:
    lines = commit.read_text(encoding="utf-8").splitlines()
    changed = False
    out: list[str] = []
    for text in lines:
        line = text
        action = json.loads(line) if line.strip() else None
        add = action.get("add") if isinstance(action, dict) else None
        if isinstance(add, dict) and isinstance(add.get("stats"), str):
            clean = _clean_stats(add["stats"], pii)
            if clean != add["stats"]:
                add["stats"] = clean
                line = json.dumps(action, separators=(",", ":"))
                changed = True
        out.append(line)
    if changed:
        CRASH_POINT(f"before {commit.name}")
        write_atomic(commit, "\n".join(out) + "\n")
        CRASH_POINT(f"after {commit.name}")


def _scrub_checkpoint(checkpoint: Path, pii: set[str]) -> bool:
    """Rewrite the `add.stats` of a checkpoint file without the PII columns; True if changed."""
    import pyarrow.parquet as pq  # only when a checkpoint is scrubbed

    table = pq.read_table(checkpoint)
    if "add" not in table.column_names:
        return False
    index = table.column_names.index("add")
    add = table.column("add").combine_chunks()
    if not isinstance(add, pa.StructArray) or add.type.get_field_index("stats") < 0:
        return False
    names = [add.type.field(i).name for i in range(add.type.num_fields)]
    children = [add.field(i) for i in range(add.type.num_fields)]
    stats = children[names.index("stats")].to_pylist()
    clean = [s if s is None else _clean_stats(s, pii) for s in stats]
    if clean == stats:
        return False
    children[names.index("stats")] = pa.array(clean, pa.string())
    if "stats_parsed" in names:  # a typed copy of the same values: dropped, stats stay in JSON
        slot = names.index("stats_parsed")
        children[slot] = pa.nulls(len(add), children[slot].type)
    mask = add.is_null() if add.null_count else None
    rebuilt = pa.StructArray.from_arrays(children, fields=list(add.type), mask=mask)
    table = table.set_column(index, table.schema.field(index), rebuilt)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    CRASH_POINT(f"before {checkpoint.name}")
    write_atomic(checkpoint, buffer.getvalue())
    CRASH_POINT(f"after {checkpoint.name}")
    return True


def _refresh_last_checkpoint(log: Path) -> None:
    """`_last_checkpoint` names the checkpoint's size in bytes, an optional hint: dropped."""
    hint = log / "_last_checkpoint"
    try:
        data = json.loads(hint.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and "sizeInBytes" in data:
        data.pop("sizeInBytes")
        write_atomic(hint, json.dumps(data, separators=(",", ":")))


def _clean_stats(text: str, pii: set[str]) -> str:
    stats = json.loads(text)
    clean = _without(stats, pii) if isinstance(stats, dict) else stats
    return text if clean == stats else json.dumps(clean, separators=(",", ":"))


def _without(stats: Mapping[str, Any], pii: set[str]) -> dict[str, Any]:
    out = dict(stats)
    for part in ("minValues", "maxValues", "nullCount"):
        values = out.get(part)
        if isinstance(values, dict):
            out[part] = {k: v for k, v in values.items() if k not in pii}
    return out
