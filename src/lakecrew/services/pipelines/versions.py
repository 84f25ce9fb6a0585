"""A changed source file replaces its own earlier contribution to silver and quarantine.

Bronze keeps every version of a file (its rows carry ``_file_sha256``); silver and quarantine
hold only the current one. The batch log records the ``_source_uri`` and ``_file_sha256`` of
every batch silver processed, so when silver meets the first batch of a new version of a file
whose older version it holds, it *retires* the older version before writing the new one:

1. the silver rows of the old version's batches are deleted; with dedupe keys, each key they
   held is restored from the other current batches (their latest valid row, as a from-scratch
   load in ingestion order keeps it); the new version is then merged as usual, so it wins ties
   and loses only to strictly newer rows (``order_by``);
2. the quarantine rows of the old batches (source and silver stages) are deleted;
3. the old batch ids are logged ``retired``.

Each step is idempotent (the restored rows are recomputed from bronze and merged under the
not-older rule), so a crash anywhere is completed by the next run. ``--full-refresh`` skips
superseded batches (``superseded``). Cost: restoring keys builds the other batches' silver rows
again (reads bronze), only when a changed file arrives in a pipeline with dedupe keys.
Limit: a file changed back to an earlier content has that version's batch ids, which bronze
already holds; silver then keeps the later version (re-run with ``--full-refresh``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.ports.source import BATCH_ID, FILE_SHA256, SOURCE_URI
from lakecrew.services.pipelines.columns import INGESTED_AT
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.steps import RunnerDeps
from lakecrew.services.quality.dedupe import dedupe_latest, not_older

RETIRED = "retired"
Build = Callable[[pa.Table], pa.Table]
"""Bronze rows of one batch → the silver rows they give (coerced, checked, de-duplicated)."""


@dataclass
class HeldVersions:
    """The batches silver holds, in processing order, and their file versions."""

    order: list[str] = field(default_factory=list)
    files: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """``{source_uri: {file_sha256: [batch ids]}}`` of file batches."""

    def add(self, bid: str, version: tuple[str, str] | None) -> None:
        """Silver now holds batch ``bid`` (of file version ``(uri, sha)``, if a file)."""
        self.order.append(bid)
        if version is not None:
            uri, sha = version
            self.files.setdefault(uri, {}).setdefault(sha, []).append(bid)

    def retire(self, bids: list[str]) -> None:
        """Forget batches of a replaced version."""
        gone = set(bids)
        self.order = [b for b in self.order if b not in gone]
        for versions in self.files.values():
            for sha in list(versions):
                versions[sha] = [b for b in versions[sha] if b not in gone]
                if not versions[sha]:
                    del versions[sha]

    def older(self, version: tuple[str, str] | None) -> list[str]:
        """Batch ids of other versions of the same file that silver still holds."""
        if version is None:
            return []
        uri, sha = version
        return [b for s, bids in self.files.get(uri, {}).items() if s != sha for b in bids]

    @classmethod
    def from_log(cls, rows: list[dict[str, Any]]) -> HeldVersions:
        """From batch-log rows since the last reset, in commit order."""
        held = cls()
        for row in rows:
            if row["layer"] == "silver":
                uri, sha = row.get("source_uri"), row.get("file_sha256")
                held.add(row["batch_id"], (uri, sha) if uri and sha else None)
            elif row["layer"] == RETIRED:
                held.retire([row["batch_id"]])
        return held


def version_of(rows: pa.Table) -> tuple[str, str] | None:
    """``(source_uri, file_sha256)`` of a batch of one file version; None for other sources."""
    if FILE_SHA256 not in rows.column_names or not rows.num_rows:
        return None
    shas = pc.unique(rows.column(FILE_SHA256)).drop_null()
    uris = pc.unique(rows.column(SOURCE_URI)).drop_null()
    if len(shas) != 1 or len(uris) != 1:
        return None
    return str(uris[0].as_py()), str(shas[0].as_py())


def superseded(deps: RunnerDeps, bronze: str) -> set[str]:
    """Bronze batch ids of file versions that a later-ingested version of the file replaced."""
    schema = deps.tables.schema(bronze)
    if schema is None or FILE_SHA256 not in schema.names:
        return set()
    meta = deps.tables.read(bronze, [BATCH_ID, SOURCE_URI, FILE_SHA256, INGESTED_AT])
    meta = meta.filter(pc.is_valid(meta.column(FILE_SHA256)))
    if not meta.num_rows:
        return set()
    per = meta.group_by([BATCH_ID, SOURCE_URI, FILE_SHA256]).aggregate([(INGESTED_AT, "min")])
    rows = sorted(per.to_pylist(), key=lambda r: (r[f"{INGESTED_AT}_min"], r[BATCH_ID]))
    latest: dict[str, str] = {}
    for row in rows:
        latest[row[SOURCE_URI]] = row[FILE_SHA256]
    return {r[BATCH_ID] for r in rows if latest[r[SOURCE_URI]] != r[FILE_SHA256]}


@dataclass(frozen=True)
class Retired:
    """What retiring one old file version removed and restored."""

    silver_removed: int
    quarantine_removed: int
    restored: int


def retire(
    deps: RunnerDeps,
    loaded: LoadedPipeline,
    old: list[str],
    others: list[str],
    build: Build,
) -> Retired:
    """Remove batches ``old`` from silver and quarantine; restore their keys from ``others``."""
    spec = loaded.spec.silver
    bronze = loaded.full_name(loaded.spec.bronze.table)
    silver = loaded.full_name(spec.table)
    keys = _old_keys(deps, bronze, old, build, spec.dedupe.keys) if spec.dedupe else None
    removed = _delete(deps, silver, old)
    qremoved = _delete(deps, loaded.full_name(spec.quarantine.table), old)
    restored = 0
    if keys is not None and keys.num_rows and spec.dedupe is not None:
        rows = [_matching(build(_batch(deps, bronze, b)), keys) for b in others]
        rows = [r for r in rows if r.num_rows]
        if rows:
            dedupe = spec.dedupe
            candidates = pa.concat_tables(rows, promote_options="permissive")
            latest = dedupe_latest(candidates, dedupe.keys, dedupe.ordering()).table
            fresh, _ = not_older_than_silver(deps, loaded, latest)
            if fresh.num_rows:
                deps.tables.merge(silver, fresh, dedupe.keys)
            restored = fresh.num_rows
    return Retired(removed, qremoved, restored)


def not_older_than_silver(
    deps: RunnerDeps, loaded: LoadedPipeline, rows: pa.Table, also: Sequence[str] = ()
) -> tuple[pa.Table, pa.Table | None]:
    """``rows`` without those older (``order_by``) than silver's row of their key, and silver's
    rows of their keys (``order_by`` and ``also`` columns; None when none were looked up)."""
    dedupe = loaded.spec.silver.dedupe
    if dedupe is None or not rows.num_rows or not (dedupe.order_by or also):
        return rows, None
    order = dedupe.ordering() if dedupe.order_by else []
    silver = loaded.full_name(loaded.spec.silver.table)
    wanted = list(dict.fromkeys([*(c for c, _ in order), *also]))
    held = deps.tables.lookup(silver, dedupe.keys, rows.select(dedupe.keys), wanted)
    if not order:
        return rows, held
    keep = not_older(rows, held, dedupe.keys, order)
    if keep.false_count == 0:  # nothing older: the batch as it is (a filter would copy it)
        return rows, held
    return rows.filter(keep), held


def _batch(deps: RunnerDeps, bronze: str, bid: str) -> pa.Table:
    return deps.tables.read(bronze, where={BATCH_ID: bid})


def _old_keys(
    deps: RunnerDeps, bronze: str, old: list[str], build: Build, keys: list[str]
) -> pa.Table | None:
    """The silver keys the old batches gave (recomputed from bronze: idempotent)."""
    tables = [build(_batch(deps, bronze, b)).select(keys) for b in old]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _matching(rows: pa.Table, keys: pa.Table) -> pa.Table:
    if not rows.num_rows:
        return rows
    names = keys.column_names
    wanted = keys.group_by(names).aggregate([])
    positions = pa.array(range(rows.num_rows), pa.int64())
    probe = rows.select(names).append_column("__lc_pos", positions)
    hit = probe.join(wanted, keys=names, join_type="left semi").column("__lc_pos")
    hit = hit.combine_chunks()
    return rows.take(hit.take(pc.sort_indices(hit)))


def _delete(deps: RunnerDeps, table: str, bids: list[str]) -> int:
    """Delete the rows of ``bids`` (one commit per batch that has rows); rows deleted."""
    schema = deps.tables.schema(table)
    if schema is None:
        return 0
    removed = 0
    for bid in bids:
        n = deps.tables.read(table, [BATCH_ID], where={BATCH_ID: bid}).num_rows
        if n:
            deps.tables.replace(table, schema.empty_table(), where={BATCH_ID: bid})
            removed += n
    return removed
