"""ProbeCache: a batch's silver lookup and its upsert hash and probe its keys once (also when
another thread prepared them), a different column is never mistaken for a cached one, and an
add after a lookup places the keys where the lookup found them."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa

from lakecrew.adapters.local.key_index import KeyIndex, Probe, ProbeCache, key_hashes


def _keys(prefix: str, n: int = 1000) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array([f"{prefix}-{i}" for i in range(n)])])


def test_the_same_values_reuse_the_probe_and_other_values_do_not() -> None:
    cache = ProbeCache()
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
    cache = ProbeCache()
    column = _keys("a", 10)
    probe = cache.of(column)
    index = KeyIndex.build(key_hashes(_keys("a", 5)), version=1)
    assert cache.held(index, probe).tolist() == [True] * 5 + [False] * 5
    index.add(np.sort(key_hashes(_keys("a", 10).slice(5))), version=2)
    assert cache.held(index, probe).all()  # the index grew: not the cached answer
    rebuilt = KeyIndex.build(key_hashes(_keys("z", 3)), version=2)
    assert not cache.held(rebuilt, probe).any()  # another index object, same version


def test_a_probe_prepared_on_another_thread_is_reused_beside_other_columns() -> None:
    cache = ProbeCache()
    now, ahead = _keys("now"), _keys("ahead")
    current = cache.of(now)
    worker = threading.Thread(target=cache.of, args=(ahead,))
    worker.start()
    worker.join()
    assert cache.of(now) is current  # the next batch's probe did not evict this one
    prepared = cache.of(ahead)
    assert cache.of(pa.table({"k": ahead}).column("k")) is prepared
    for i in range(ProbeCache.KEEP):
        cache.of(_keys(f"other{i}"))
    assert cache.of(now) is not current  # evicted: computed again, equal
    assert np.array_equal(cache.of(now).ordered, current.ordered)


def test_an_add_after_a_lookup_gives_the_index_a_fresh_build_gives() -> None:
    held = key_hashes(_keys("a", 500))
    new = _keys("b", 300)
    index = KeyIndex.build(held, version=1)
    probe = Probe.of(key_hashes(new))
    assert not index.may_hold(probe).any()
    index.add(probe.ordered, version=2)  # the positions may_hold found
    fresh = KeyIndex.build(np.concatenate([held, key_hashes(new)]), version=2)
    assert np.array_equal(index.hashes, fresh.hashes)
    other = Probe.of(key_hashes(_keys("c", 200)))
    index.add(other.ordered, version=3)  # not the probe last searched: searched again
    assert np.array_equal(np.sort(index.hashes), index.hashes)
    assert len(index.hashes) == 1000
