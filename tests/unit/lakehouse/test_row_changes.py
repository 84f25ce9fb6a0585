"""`DeltaTableStore.changes`: the rows a table lost and gained between two versions, from its
log (delta_changes.py). For every pair of versions, the rows live then, less those removed,
plus those added, are the rows live now — with deletion vectors and with copy-on-write
rewrites, on eHealth Africa's real Bo village registry loaded and corrected in batches."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.ports.tables import RowChanges

NAME = "c.s.villages"
SCHEMA = pa.schema([("place", pa.string()), ("line", pa.int64()), ("note", pa.string())])
REGISTRY = Path(__file__).parents[2] / "fixtures" / "real" / "eha_sl_bo_village.csv"


def _bag(table: pa.Table) -> Counter[tuple[object, ...]]:
    return Counter(tuple(r.values()) for r in table.select(["place", "line", "note"]).to_pylist())


def _load(tables: DeltaTableStore) -> tuple[list[int], RowChanges | str]:
    """The registry (1,001 rows, 979 localities) upserted 260 rows at a time, then every tenth
    locality corrected, OPTIMIZE, five rows corrected again; the table version after each
    write, and the changes the first correction made (told right after it)."""
    with REGISTRY.open(encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    keys = ["|".join((r["CHIEFDOM"], r["SECTION"], r["LOCALITY"])) for r in raw]
    tables.create(NAME, SCHEMA)
    versions = [tables.version(NAME) or 0]
    seen: dict[str, int] = {}
    for start in range(0, len(raw), 260):
        batch = {k: i for i, k in enumerate(keys) if start <= i < start + 260}
        seen.update(batch)
        rows = {"place": list(batch), "line": list(batch.values()), "note": ["loaded"] * len(batch)}
        versions.append(tables.merge(NAME, pa.table(rows, SCHEMA), ["place"]))
    fixes = sorted(seen)[::10]
    rows = {"place": fixes, "line": [-1] * len(fixes), "note": ["fixed"] * len(fixes)}
    versions.append(tables.merge(NAME, pa.table(rows, SCHEMA), ["place"]))
    fixed = tables.changes(NAME, versions[-2], ["note"], 10_000)
    tables.maintain(NAME, retention_hours=10_000)  # OPTIMIZE: files with vectors compacted
    versions.append(tables.version(NAME) or 0)
    tables.merge(NAME, pa.table({k: v[:5] for k, v in rows.items()}, SCHEMA), ["place"])
    versions.append(tables.version(NAME) or 0)
    return versions, fixed


@pytest.mark.parametrize("vectors", [True, False], ids=["deletion-vectors", "copy-on-write"])
def test_then_less_removed_plus_added_is_now_for_every_pair_of_versions(
    store: DeltaStore, vectors: bool
) -> None:
    tables = DeltaTableStore(store, deletion_vectors=vectors)
    versions, fixed = _load(tables)
    now = versions[-1]
    live_now = _bag(store.read(NAME))
    assert sum(live_now.values()) == 979
    for since in versions:
        found = tables.changes(NAME, since, ["place", "line", "note"], 10_000)
        assert isinstance(found, RowChanges), found
        assert (found.since, found.version) == (since, now)
        then = _bag(store.read(NAME, version=since))
        removed, added = _bag(found.removed), _bag(found.added)
        assert not removed - then  # only rows that were live then were removed
        assert then - removed + added == live_now, since
    assert len(set(versions)) == len(versions) == 8
    assert isinstance(fixed, RowChanges) and fixed.added.column_names == ["note"]
    if vectors:  # the correction marked 98 rows and added 98: nothing else was read
        assert (fixed.removed.num_rows, fixed.added.num_rows) == (98, 98)
        assert set(fixed.added.column("note").to_pylist()) == {"fixed"}


def test_what_cannot_be_told_is_said(store: DeltaStore) -> None:
    tables = DeltaTableStore(store, deletion_vectors=True)
    versions, _ = _load(tables)
    told = tables.changes(NAME, versions[1], ["place"], 10_000)
    assert isinstance(told, RowChanges)
    total = told.removed.num_rows + told.added.num_rows  # counted from the log alone
    assert tables.changes(NAME, versions[1], ["place"], total - 1) == (
        f"{total} rows changed, over {total - 1}"
    )
    assert (
        tables.changes(NAME, 99, ["place"], 10)
        == f"version 99 is newer than the table's {versions[-1]}"
    )
    assert tables.changes(NAME, 0, ["nope"], 10) == "the table has no column nope"
    assert tables.changes("c.s.absent", 0, ["place"], 10) == "c.s.absent does not exist"
    wider = SCHEMA.append(pa.field("extra", pa.int64()))
    tables.append(NAME, wider.empty_table(), merge_schema=True)
    assert tables.changes(NAME, versions[-1], ["place"], 10_000) == (
        "the table's schema changed between the versions"
    )


def test_a_vacuumed_file_of_the_older_version_is_said_not_raised(store: DeltaStore) -> None:
    tables = DeltaTableStore(store, deletion_vectors=False)  # rewrites: old files removed
    versions, _ = _load(tables)
    gone = sorted(store.path(NAME).glob("*.parquet"))
    live = {p.split("/")[-1] for p in store.table(NAME).file_uris()}
    stale = [p for p in gone if p.name not in live]
    assert stale
    for path in stale:  # what VACUUM does to files no live version needs
        path.unlink()
    told = tables.changes(NAME, versions[1], ["place"], 10_000)
    assert told == f"version {versions[1]}'s files cannot be read (FileNotFoundError)"
