"""De-duplication keeping the latest, schema evolution, and count reconciliation."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lakecrew.core.errors import ConfigError, DataError, SchemaMismatch
from lakecrew.services.quality.dedupe import dedupe_latest
from lakecrew.services.quality.reconcile import Reconciliation
from lakecrew.services.quality.schema_evolution import check_evolution, compare_schemas


def test_dedupe_keeps_latest_by_order_then_later_row() -> None:
    t = pa.table(
        {
            "state": ["Edo", "Edo", "Ondo", "Edo", None, None],
            "week": [1, 1, 1, 1, 1, 1],
            "version": [1, 3, 1, 3, 1, 2],
            "row": ["a", "b", "c", "d", "e", "f"],
        }
    )
    out = dedupe_latest(t, ["state", "week"], [("version", "descending")])
    assert out.table.column("row").to_pylist() == ["c", "d", "f"]
    assert out.dropped_count == 3 and out.table.num_rows + out.dropped_count == t.num_rows
    asc = dedupe_latest(t, ["state"], [("version", "ascending")])
    assert "a" in asc.table.column("row").to_pylist()
    with pytest.raises(ConfigError, match="not in the silver table"):
        dedupe_latest(t, ["nope"])


def test_schema_additive_widening_and_breaking() -> None:
    old = pa.schema([pa.field("state", pa.string()), pa.field("cases", pa.int32())])
    add = pa.schema([*old, pa.field("hcw", pa.int32())])
    change = check_evolution("c.s.t", old, add)
    assert change.kind == "additive" and change.added == ("hcw",)
    wide = pa.schema([pa.field("state", pa.string()), pa.field("cases", pa.int64())])
    assert compare_schemas("c.s.t", old, wide).widened == ("cases",)
    assert compare_schemas("c.s.t", old, old).kind == "none"
    assert compare_schemas("c.s.t", None, old).kind == "additive"
    narrowed = pa.schema([pa.field("state", pa.string()), pa.field("cases", pa.string())])
    with pytest.raises(SchemaMismatch) as err:
        check_evolution("c.s.t", old, narrowed)
    assert "c.s.t" in str(err.value) and "cases" in str(err.value)
    removed = pa.schema([pa.field("state", pa.string())])
    with pytest.raises(SchemaMismatch, match="removed: cases"):
        check_evolution("c.s.t", old, removed)
    assert check_evolution("c.s.t", old, removed, approved=["cases"]).kind == "breaking"
    not_null_new = pa.schema([*old, pa.field("x", pa.int32(), nullable=False)])
    assert compare_schemas("c.s.t", old, not_null_new).kind == "breaking"


def test_reconciliation() -> None:
    ok = Reconciliation(
        "c.s.t", bronze_rows=10, silver_rows=6, quarantined_rows=2, duplicate_rows=1, dropped_rows=1
    )
    assert ok.check().balanced and ok.as_result().status == "passed"
    bad = Reconciliation("c.s.t", 10, 6, 2, 1)
    assert bad.as_result().status == "failed" and bad.as_result().failed_count == 1
    with pytest.raises(DataError, match="do not reconcile"):
        bad.check()


def test_single_key_dedupe_groups_nulls_and_keeps_unique_rows_in_order() -> None:
    t = pa.table(
        {
            "id": ["a", None, "b", "a", None, "c"],
            "updated": [1, 1, 5, 2, 3, 9],
            "row": ["r0", "r1", "r2", "r3", "r4", "r5"],
        }
    )
    out = dedupe_latest(t, ["id"], [("updated", "descending")])
    assert out.table.column("row").to_pylist() == ["r2", "r3", "r4", "r5"]
    assert out.kept.to_pylist() == [2, 3, 4, 5] and out.dropped_count == 2
    assert out.keep_mask is not None and t.filter(out.keep_mask).equals(out.table)
    unique = dedupe_latest(t.slice(2, 4), ["id"], [("updated", "descending")])
    assert unique.dropped_count == 0 and unique.table.equals(t.slice(2, 4))
