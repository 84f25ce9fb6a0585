"""The key index saved at the end of a run: used by the next process only for the table version
and table it describes, ignored (rebuilt from the table) otherwise, never half-written."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from lakecrew.adapters.local import key_index_file, table_store
from lakecrew.adapters.local.key_index import KeyIndex, key_hashes
from lakecrew.adapters.local.key_index_file import index_path, load, snapshot, write
from lakecrew.adapters.local.table_store import DeltaTableStore
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

SILVER = "t_dev.silver.cases"


def save(index: KeyIndex, path: Path) -> bool:
    """What a store's persist does for one index: snapshot it, write it (False: too small)."""
    snap = snapshot(index)
    if snap is None:
        return False
    write(snap, path)
    return True


def _index(n: int = 50, *, files: bool = True) -> KeyIndex:
    hashes = key_hashes(pa.array([f"k{i}" for i in range(n)]))
    if not files:
        return KeyIndex.build(hashes, version=7, identity=(11, 22))
    owner = np.arange(n, dtype=np.int32) % 2
    return KeyIndex.build(hashes, 7, (11, 22), owner, [("a.parquet",), ("b.parquet", "c")])


@pytest.mark.parametrize("files", [True, False])
def test_saved_and_loaded_for_the_same_version_and_table_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: bool
) -> None:
    monkeypatch.setattr(key_index_file, "SMALLEST", 0)
    index, path = _index(files=files), index_path(tmp_path, "case id/1")
    assert save(index, path)
    back = load(path, 7, (11, 22))
    assert back is not None
    assert np.array_equal(back.hashes, index.hashes) and back.hashes.dtype == np.uint64
    if files:
        assert back.files is not None and np.array_equal(back.files, index.files)
        assert back.groups == index.groups
    else:
        assert back.files is None
    assert load(path, 8, (11, 22)) is None  # another version
    assert load(path, 7, (11, 23)) is None  # the table was recreated
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_a_small_index_is_not_saved_and_a_damaged_file_is_ignored(tmp_path: Path) -> None:
    path = index_path(tmp_path, "k")
    assert not save(_index(), path) and not path.exists()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93NUMPY damaged")
    assert load(path, 7, (11, 22)) is None
    assert load(tmp_path / "absent.npz", 7, (11, 22)) is None


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setattr(key_index_file, "SMALLEST", 0)
    root = make_project(tmp_path / "proj")
    write_spec(root)
    (root / "incoming" / "a.csv").write_text(CASES_HEADER + case_rows(0, 40))
    context = Context.open(root, writable=True)
    yield context
    context.close()


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every key index built from a table (instead of loaded)."""
    built: list[str] = []
    original = table_store._read_index

    def counted(*args: object, **kwargs: object) -> KeyIndex:
        built.append(str(args[1]))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(table_store, "_read_index", counted)
    return built


def _next_run(ctx: Context, name: str, rows: str) -> None:
    (ctx.layout.root / "incoming" / name).write_text(CASES_HEADER + rows)
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))  # a new store
    assert report.reconciled


def test_the_next_process_starts_from_the_saved_index(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    assert index_path(ctx.store.path(SILVER), "case_id").exists()
    built = _reads(monkeypatch)
    _next_run(ctx, "b.csv", case_rows(20, 40))  # 20 keys silver holds, 20 new
    assert built == []
    ids = ctx.store.read(SILVER, columns=["case_id"]).column(0).to_pylist()
    assert sorted(ids) == [f"C{i:05d}" for i in range(60)]


def test_a_table_written_by_another_writer_since_is_read_again(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    other = DeltaTableStore(ctx.store)  # appends a key the saved index does not know
    row = ctx.store.read(SILVER).slice(0, 1)
    other.append(SILVER, row.set_column(0, "case_id", pa.array(["C09999"])))
    built = _reads(monkeypatch)
    _next_run(ctx, "b.csv", case_rows(9999, 1))  # C09999 again: must replace, not duplicate
    assert built == ["case_id"]
    ids = ctx.store.read(SILVER, columns=["case_id"]).column(0).to_pylist()
    assert ids.count("C09999") == 1


def test_a_properties_only_commit_leaves_the_rows_an_index_describes(ctx: Context) -> None:
    table = "t_dev.bronze.plain"
    ctx.store.create_table(table, pa.schema([("k", pa.string())]))
    before = ctx.store.version(table)
    ctx.store.append(table, pa.table({"k": ["a", "b"]}))
    appended = ctx.store.version(table)
    ctx.store.table(table).alter.set_table_properties({"delta.appendOnly": "false"})
    props = ctx.store.version(table)
    path = ctx.store.path(table)
    assert props == appended + 1
    assert key_index_file.rows_unchanged(path, appended, props)
    assert not key_index_file.rows_unchanged(path, before, props)  # the append is in between
    assert not key_index_file.rows_unchanged(path, appended, props + 1)  # no such commit


def test_a_save_that_fails_does_not_fail_the_run(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(key_index_file, "write", full_disk)
    report = pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    assert report.reconciled
    assert not index_path(ctx.store.path(SILVER), "case_id").exists()


def test_the_file_map_is_saved_in_one_byte_a_key_and_loads_back_whole(tmp_path: Path) -> None:
    n = SMALL = key_index_file.SMALLEST
    hashes = key_hashes(pa.array([f"k{i}" for i in range(n)]))
    owner = (np.arange(n) % 3).astype(np.int32)
    index = KeyIndex.build(hashes, 4, (1, 2), owner, [("a",), ("b",), ("c",)])
    path = index_path(tmp_path, "case_id")
    assert save(index, path)
    assert path.stat().st_size < SMALL * 9 + 4096  # 8 bytes of hash, 1 of file map
    back = load(path, 4, (1, 2))
    assert back is not None and back.files is not None
    assert np.array_equal(back.hashes, index.hashes)
    assert np.array_equal(back.files, index.files) and back.files.dtype == np.int32


def test_an_index_saved_before_a_properties_only_commit_loads_after_it(ctx: Context) -> None:
    """A run saves silver's index while gold runs, before its SET TBLPROPERTIES commit: the
    file must still serve the next run, and the run's end must not write it again."""
    pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    path, table = index_path(ctx.store.path(SILVER), "case_id"), ctx.store.path(SILVER)
    with path.open("rb") as handle:
        saved_at = int(json.loads(str(np.load(handle)))["version"])
    ctx.store.table(SILVER).alter.set_table_properties({"delta.appendOnly": "false"})
    now = ctx.store.version(SILVER)
    identity = ctx.store.identity(SILVER)
    assert now > saved_at and key_index_file.describes(table, saved_at, now)
    back = load(path, now, identity)
    assert back is not None and back.version == now
    ctx.store.append(SILVER, ctx.store.read(SILVER).slice(0, 1))  # rows written since
    assert load(path, ctx.store.version(SILVER), identity) is None
    assert load(path, saved_at - 1, identity) is None  # saved after the version asked for


def _store_with_index(ctx: Context) -> DeltaTableStore:
    """A store holding silver's index at silver's current version (not saved yet)."""
    pw.runner_for(ctx, create_keys=True).run(pw.load(ctx, "cases"))
    index_path(ctx.store.path(SILVER), "case_id").unlink()
    store = DeltaTableStore(ctx.store)
    store._index(SILVER, "case_id")  # built from the table: the file was removed
    return store


def test_persisting_writes_the_index_while_the_block_runs_and_waits_at_its_end(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store_with_index(ctx)
    path = index_path(ctx.store.path(SILVER), "case_id")
    in_block, writing = threading.Event(), threading.Event()
    original = key_index_file.write

    def held(snap: key_index_file.Snapshot, where: Path) -> None:
        writing.set()
        assert in_block.wait(30), "the block never ran while the file was being written"
        original(snap, where)

    monkeypatch.setattr(key_index_file, "write", held)
    with store.persisting():
        assert writing.wait(30)  # the write began; it can only finish once the block says so
        assert not path.exists()
        in_block.set()
    assert store._saving is None and path.exists()  # the block's end waited for it
    assert load(path, ctx.store.version(SILVER), ctx.store.identity(SILVER)) is not None


def test_a_block_that_fails_still_waits_for_the_file(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store_with_index(ctx)
    path = index_path(ctx.store.path(SILVER), "case_id")
    release = threading.Event()
    original = key_index_file.write

    def held(snap: key_index_file.Snapshot, where: Path) -> None:
        assert release.wait(30)
        original(snap, where)

    monkeypatch.setattr(key_index_file, "write", held)
    with pytest.raises(RuntimeError, match="gold failed"), store.persisting():
        release.set()
        raise RuntimeError("gold failed")
    assert store._saving is None and path.exists()
    assert not [t for t in threading.enumerate() if t.name == "lakecrew-key-index-save"]


def test_a_snapshot_is_not_changed_by_later_updates_of_the_index(tmp_path: Path) -> None:
    index = _index(200_000)
    snap = key_index_file.snapshot(index)
    assert snap is not None and index.files is not None
    before = index.files.copy()
    index.files[:] = 1  # an update moves every key to another file group, in place
    with pytest.raises(ValueError, match="read-only"):
        index.hashes[0] = 0  # hashes are replaced on insert, never written into
    path = index_path(tmp_path, "k")
    key_index_file.write(snap, path)
    back = load(path, 7, (11, 22))
    assert back is not None and back.files is not None
    assert np.array_equal(back.files, before) and len(set(before.tolist())) == 2
