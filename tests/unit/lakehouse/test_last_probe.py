"""LastProbe: a batch's silver lookup and its upsert hash and probe its keys once, and a
different column is never mistaken for the cached one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lakecrew.adapters.local.key_index import KeyIndex, LastProbe, Probe, key_hashes


def _keys(prefix: str, n: int = 1000) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array([f"{prefix}-{i}" for i in range(n)])])


def test_the_same_values_reuse_the_probe_and_other_values_do_not() -> None:
    cache = LastProbe()
    table = pa.table({"k": _keys("a"), "v": np.arange(1000)})
    first = cache.of(table.column("k"))
    assert cache.of(table.select(["k"]).column("k")) is first  # same buffers: no new hash
    other = _keys("b")  # same length and type, other values
    second = cache.of(other)
    assert second is not first
    expected = Probe.of(key_hashes(other))
    assert np.array_equal(second.ordered, expected.ordered)
    sliced = table.column("k").slice(1)  # same buffers, another offset
    assert np.array_equal(cache.of(sliced).ordered, Probe.of(key_hashes(sliced)).ordered)


def test_found_keys_are_recomputed_when_the_index_changes() -> None:
    cache = LastProbe()
    column = _keys("a", 10)
    probe = cache.of(column)
    index = KeyIndex.build(key_hashes(_keys("a", 5)), version=1)
    assert cache.held(index, probe).tolist() == [True] * 5 + [False] * 5
    index.add(np.sort(key_hashes(_keys("a", 10).slice(5))), version=2)
    assert cache.held(index, probe).all()  # the index grew: not the cached answer
    rebuilt = KeyIndex.build(key_hashes(_keys("z", 3)), version=2)
    assert not cache.held(rebuilt, probe).any()  # another index object, same version
