"""A table's key index kept on disk between runs, valid for the rows of the version it describes.

Each ``lakecrew pipeline run`` is a new process: without this, its first upsert read every key
silver holds and hashed them (10M keys: ~0.5 s of a ~2.9 s incremental run in a new process).
The index is saved once silver is committed, next to the table's log, in
``<table>/_lakecrew_key_index/<key>.keys`` (a folder whose name starts with ``_``: Delta readers
and VACUUM leave it alone), with the table version and identity it belongs to; the next process
uses it for that version of that same table, or a later one reached only by commits that change
no row (a run's own SET TBLPROPERTIES after it), and builds the index from the table otherwise
(another writer, a recreated table, a file that does not load). The file is numpy's ``.npy``
format three times over (the JSON metadata, the hashes, the file map; no pickle, no zip:
``savez``'s zip and CRC took 0.56 s for 10M keys), written to a temporary name and renamed over
the old one: a crash leaves the previous file or the new one, never half of one. It takes 9
bytes a key on disk when the table has under 256 file groups (8 for the hash, 1 for the file
map; 10M keys: 87 MB, 0.15-0.5 s to write here, mostly the kernel's page-cache copy). So the
writing runs on a thread of its own (``write_later``) from a ``snapshot`` taken on the caller's
thread, while the run builds its gold tables (``DeltaTableStore.persisting``). Deleting the
folder only costs the next run the read of the keys.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from lakecrew.adapters.local.key_index import KeyIndex

FOLDER = "_lakecrew_key_index"
SMALLEST = 100_000
"""Fewer keys are read from the table faster than the file is written and read."""


def index_path(table: Path, key: str) -> Path:
    return table / FOLDER / f"{quote(key, safe='')}.keys"


@dataclass(frozen=True)
class Snapshot:
    """What ``write`` puts in the file, taken from an index at one moment: the metadata as
    JSON, the hashes (an index replaces its hash array on insert, never writes into it; the
    array is made read-only here so that a change in place fails instead of tearing a file
    being written) and a copy of the file map (updates do change it in place)."""

    meta: str
    hashes: np.ndarray
    files: np.ndarray | None


def snapshot(index: KeyIndex) -> Snapshot | None:
    """The index as it is now, to write (here or on another thread); None when it is too small
    to be worth a file."""
    if len(index.hashes) < SMALLEST:
        return None
    meta = {
        "version": index.version,
        "identity": list(index.identity) if isinstance(index.identity, tuple) else None,
        "groups": [list(g) for g in index.groups] if index.files is not None else None,
    }
    index.hashes.setflags(write=False)
    files = None
    if index.files is not None:
        files = _narrow(index.files, len(index.groups))
        files = files.copy() if files is index.files else files
    return Snapshot(json.dumps(meta), index.hashes, files)


def write(snap: Snapshot, path: Path) -> None:
    """Write a snapshot to ``path`` (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        np.save(handle, np.array(snap.meta), allow_pickle=False)
        np.save(handle, snap.hashes, allow_pickle=False)
        if snap.files is not None:
            np.save(handle, snap.files, allow_pickle=False)
    os.replace(temporary, path)


@dataclass(frozen=True)
class Pending:
    """A snapshot to write: whose index (table, key column), the version it describes, where."""

    name: tuple[str, str]
    version: int
    snap: Snapshot
    path: Path


def write_later(pending: list[Pending]) -> Future[dict[tuple[str, str], int]]:
    """Write the snapshots on a thread of their own; the future holds the version of each one
    written. One that cannot be written (a full disk, a read-only lakehouse) is left out: the
    next run reads the keys instead. Not a daemon thread: the process waits for it before it
    exits, so a file is never cut short by the interpreter ending (and a crash leaves the
    previous file, see ``write``)."""
    future: Future[dict[tuple[str, str], int]] = Future()

    def run() -> None:
        saved = {}
        try:
            for item in pending:
                try:
                    write(item.snap, item.path)
                except OSError:
                    continue
                saved[item.name] = item.version
        except BaseException as exc:  # noqa: BLE001 - re-raised to whoever waits for the result
            future.set_exception(exc)
        else:
            future.set_result(saved)

    threading.Thread(target=run, name="lakecrew-key-index-save").start()
    return future


def _narrow(files: np.ndarray, groups: int) -> np.ndarray:
    """The file map in the smallest unsigned type that numbers every file group (uint8 up to
    255 groups): 1 byte a key instead of 4 for most tables, a quarter less to write and read."""
    for kind in (np.uint8, np.uint16):
        if groups <= np.iinfo(kind).max and (not len(files) or int(files.min()) >= 0):
            return files.astype(kind)
    return files


def load(path: Path, version: int, identity: object) -> KeyIndex | None:
    """The saved index when it describes ``version`` of the table with ``identity`` (saved at
    that version, or at an earlier one followed only by commits that change no row, such as a
    run's SET TBLPROPERTIES); None when there is none, it describes other rows or another
    table, or it does not load."""
    try:
        with path.open("rb") as handle:
            meta = json.loads(str(np.load(handle, allow_pickle=False)))
            kept = tuple(meta["identity"]) if meta["identity"] is not None else None
            if kept != identity or not describes(path.parent.parent, meta["version"], version):
                return None  # read no further
            hashes = np.load(handle, allow_pickle=False)
            files = np.load(handle, allow_pickle=False) if meta["groups"] is not None else None
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
    if hashes.dtype != np.uint64 or (files is not None and len(files) != len(hashes)):
        return None
    if files is not None and files.dtype not in (np.uint8, np.uint16, np.int32):
        return None
    if files is None:
        return KeyIndex(hashes, version, identity)
    groups = [tuple(g) for g in meta["groups"]]
    return KeyIndex(hashes, version, identity, files.astype(np.int32, copy=False), groups)


def describes(table: Path, saved: object, version: int) -> bool:
    """Whether an index saved at version ``saved`` of ``table`` describes ``version`` too."""
    if not isinstance(saved, int) or saved > version:
        return False
    return saved == version or rows_unchanged(table, saved, version)


ROWS_UNTOUCHED = {"commitInfo", "metaData", "protocol", "txn", "domainMetadata"}
"""Commit actions that change no row and no file (e.g. SET TBLPROPERTIES)."""


def rows_unchanged(table: Path, since: int, until: int) -> bool:
    """Whether the commits after ``since`` up to ``until`` hold only actions that change no
    data file (then an index of ``since`` describes ``until`` too); False when one is missing."""
    log = table / "_delta_log"
    for version in range(since + 1, until + 1):
        try:
            lines = (log / f"{version:020d}.json").read_text(encoding="utf-8").splitlines()
        except OSError:
            return False
        for line in lines:
            if line.strip() and not set(json.loads(line)) <= ROWS_UNTOUCHED:
                return False
    return True
