"""KeyIndex: which merge keys a Delta table may already hold, without scanning it per batch.

A sorted array of 64-bit hashes of the table's key column, valid for one table version. A hash
hit means "may be present" (collisions are possible, and harmless: such a row goes through
MERGE, which inserts it when it is in fact new); a miss means "certainly absent", so the row can
be appended. 10 million keys take 80 MB. Hashing is DuckDB's ``hash()`` over the Arrow column
(zero-copy); pyarrow has no public hash kernel. Why not a plain key scan per batch: that made
each batch read every key the table holds, so a run over N batches read O(N²) keys.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa


def key_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """DuckDB's 64-bit hash of each value (nulls hash too; callers mask them out)."""
    if not len(column):
        return np.empty(0, np.uint64)
    keys = pa.table({"k": column})
    con = duckdb.connect()
    try:
        con.register("keys", keys)
        out = con.execute("SELECT hash(k) AS h FROM keys").fetchnumpy()["h"]
    finally:
        con.close()
    return np.asarray(out, np.uint64)


@dataclass(frozen=True)
class Probe:
    """One batch's key hashes, sorted once for every use (distinct check, lookup, insert)."""

    order: np.ndarray
    ordered: np.ndarray

    @classmethod
    def of(cls, hashes: np.ndarray) -> Probe:
        # Any sorting permutation will do (equal hashes need no order among them): numpy's
        # default sort is ~6x faster than the stable one on 1M 64-bit hashes.
        order = np.argsort(hashes)
        return cls(order, hashes[order])

    def distinct(self) -> bool:
        """True when no two hashes are equal (then no two keys are; not conversely)."""
        return not bool((self.ordered[1:] == self.ordered[:-1]).any())


class ProbeCache:
    """The probes of the last few key columns, and what the last one found: a batch's silver
    lookup and then its upsert hash and sort its keys once, and the silver step's build
    thread computes the next batch's probe ahead (``TableStore.prepare_keys``) while this
    batch is written.
    Each column is held while cached, so its buffers (by which a later column is recognised
    as the same values) cannot be reused by other values. Thread-safe."""

    KEEP = 3
    """Enough for the batch being written, the one built ahead and one spare."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probes: OrderedDict[tuple[object, ...], tuple[object, Probe]] = OrderedDict()
        self._found: tuple[Probe, KeyIndex, int, int, np.ndarray] | None = None

    def of(self, column: pa.Array | pa.ChunkedArray) -> Probe:
        """The Probe of ``column``'s key hashes (computed once for the same values)."""
        layout = _layout(column)
        with self._lock:
            cached = self._probes.get(layout)
        if cached is not None:
            return cached[1]
        probe = Probe.of(key_hashes(column))  # outside the lock: the other thread goes on
        with self._lock:
            self._probes[layout] = (column, probe)
            while len(self._probes) > self.KEEP:
                self._probes.popitem(last=False)
        return probe

    def held(self, index: KeyIndex, probe: Probe) -> np.ndarray:
        """``index.may_hold(probe)``, computed once per index state for the last probe."""
        state = (index.version, len(index.hashes))
        found = self._found
        if found is not None and found[0] is probe and found[1] is index and found[2:4] == state:
            return found[4]
        hit = index.may_hold(probe)
        self._found = (probe, index, *state, hit)
        return hit


def _layout(column: pa.Array | pa.ChunkedArray) -> tuple[object, ...]:
    """Type, offset, length and buffer addresses of each chunk: equal for the same values."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return tuple(
        (c.type, c.offset, len(c), tuple(b.address if b is not None else 0 for b in c.buffers()))
        for c in chunks
    )


def distinct_hashes(hashes: np.ndarray) -> bool:
    """True when no two hashes are equal (then no two keys are; the converse may not hold)."""
    return Probe.of(hashes).distinct()


@dataclass
class KeyIndex:
    """Sorted key hashes of one table version, and (when known) which files hold each key.

    ``files[i]`` is the group (in ``groups``: a tuple of Delta file paths) holding the row of
    ``hashes[i]``: one file when the index was read file by file, the files of one commit when
    it was an append. ``files`` is None when a write left the layout unknown (a MERGE)."""

    hashes: np.ndarray
    version: int
    identity: object = None
    """What tells this table from one recreated at the same path (see DeltaStore.identity)."""
    files: np.ndarray | None = None
    groups: list[tuple[str, ...]] = field(default_factory=list)
    _placed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )
    """The last ``may_hold``: (the hashes it searched, the sorted probe, where each probe
    value goes in them), so an ``add`` of the same probe does not search again."""

    @classmethod
    def build(
        cls,
        hashes: np.ndarray,
        version: int,
        identity: object = None,
        files: np.ndarray | None = None,
        groups: Sequence[tuple[str, ...]] = (),
    ) -> KeyIndex:
        if files is None:
            return cls(np.sort(hashes), version, identity)
        order = np.argsort(hashes)
        return cls(hashes[order], version, identity, files[order].astype(np.int32), list(groups))

    def may_hold(self, probe: Probe | np.ndarray) -> np.ndarray:
        """Per hash (batch order): True when the table may hold the key (False: certainly not)."""
        probe = probe if isinstance(probe, Probe) else Probe.of(probe)
        n = len(probe.ordered)
        if not len(self.hashes) or not n:
            return np.zeros(n, np.bool_)
        # Sorted probes walk the index in order (random probes miss the cache: ~10x slower).
        at = np.searchsorted(self.hashes, probe.ordered)
        self._placed = (self.hashes, probe.ordered, at)
        hit = np.empty(n, np.bool_)
        # a probe past the last hash compares with the last one (smaller: not equal)
        hit[probe.order] = self.hashes[np.minimum(at, len(self.hashes) - 1)] == probe.ordered
        return hit

    def holders(self, ordered: np.ndarray) -> list[str] | None:
        """The files that may hold the keys of these sorted hashes (every file of a group
        holding an equal hash); None when the file map is unknown."""
        if self.files is None:
            return None
        lo = np.searchsorted(self.hashes, ordered, "left")
        hi = np.searchsorted(self.hashes, ordered, "right")
        counts = hi - lo
        starts = np.repeat(lo, counts)
        steps = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        ids = np.unique(self.files[starts + steps])
        return sorted({path for i in ids.tolist() for path in self.groups[i]})

    def add(self, ordered: np.ndarray, version: int, files: tuple[str, ...] | None = None) -> None:
        """Sorted hashes of keys just written by this store (the index now describes
        ``version``), inserted at their places: one new array (a sort of the concatenation
        held three copies of a 10M-key index at once, the peak of a 10M-row load).
        ``files``: the files the commit added, holding these keys' rows; None when the commit
        moved rows in ways the index does not know (the file map is dropped)."""
        if files is None:
            self.files, self.groups = None, []
        if len(ordered):
            # np.insert would sort the positions again and build its mask per array: they are
            # sorted already, so each new value goes to its position plus its rank, and one
            # mask places both arrays
            last = self._placed
            if last is not None and last[0] is self.hashes and last[1] is ordered:
                at = last[2]  # found by may_hold for this very probe and index
            else:
                at = np.searchsorted(self.hashes, ordered)
            placed = at + np.arange(len(ordered))
            old = np.ones(len(self.hashes) + len(ordered), np.bool_)
            old[placed] = False
            self.hashes = _merged(self.hashes, ordered, placed, old)
            if files is not None and self.files is not None:
                self.groups.append(files)
                group = np.full(len(ordered), len(self.groups) - 1, np.int32)
                self.files = _merged(self.files, group, placed, old)
        self._placed = None  # it held the old hashes
        self.version = version

    def relocate(self, ordered: np.ndarray, files: tuple[str, ...]) -> None:
        """Keys (sorted hashes) whose rows a deletion-vector upsert moved into ``files``: a
        hash the index holds once now names those files; a hash it holds several times (a
        collision) names its old files and those, so no holder is lost."""
        if self.files is None or not len(ordered):
            return
        lo = np.searchsorted(self.hashes, ordered, "left")
        hi = np.searchsorted(self.hashes, ordered, "right")
        self.groups.append(files)
        target = len(self.groups) - 1
        single = hi - lo == 1
        self.files[lo[single]] = target
        shared = {}
        for a, b in zip(lo[~single].tolist(), hi[~single].tolist(), strict=True):
            for at in range(a, b):
                old = int(self.files[at])
                if old not in shared:
                    self.groups.append((*self.groups[old], *files))
                    shared[old] = len(self.groups) - 1
                self.files[at] = shared[old]

    def moved(self, replaced: Mapping[str, tuple[str, ...]]) -> None:
        """Files rewritten with the same keys (old path → the new files holding them)."""
        if self.files is None or not replaced:
            return
        self.groups = [
            tuple(new for path in group for new in replaced.get(path, (path,)))
            for group in self.groups
        ]


def _merged(held: np.ndarray, new: np.ndarray, placed: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``held`` with ``new`` at positions ``placed`` of the result (``old``: the others)."""
    out = np.empty(len(old), held.dtype)
    out[placed] = new
    out[old] = held
    return out
