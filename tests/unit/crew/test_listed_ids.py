"""The ids a listing delivered: compact while they arrive in order, a set once they do not; a
repeat is found either way (a page shifted under the listing is judged once)."""

from __future__ import annotations

import pytest

from lakecrew.services.crew.observer import ListedIds


@pytest.mark.parametrize(
    "listing",
    [
        ["a", "b", "c", "c", "d"],  # the last item of a page delivered again, in order
        ["a", "b", "c", "d", "b", "e"],  # a page shifted back: out of order
        ["d", "a", "c", "a", "b"],  # an unordered listing
        ["é1", "€2", "x", "x"],  # ids beyond ASCII keep their lengths in characters
    ],
)
def test_each_id_is_delivered_once_and_kept(listing: list[str]) -> None:
    ids = ListedIds()
    ids.CHUNK = 2  # several full chunks in a short listing
    delivered = [x for x in listing if ids.add(x)]
    assert delivered == list(dict.fromkeys(listing))
    assert sorted(ids.all()) == sorted(set(listing))


def test_an_ordered_listing_is_kept_as_text_not_a_set() -> None:
    ids = ListedIds()
    for n in range(10_000):
        assert ids.add(f"id-{n:06d}")
    assert ids.unordered is None and len(ids.chunks) == 10_000 // ids.CHUNK
    full = len(ids.chunks) * ids.CHUNK
    assert sum(map(len, ids.chunks)) * 2 < sum(len(f"id-{n:06d}") for n in range(full))
    assert ids.all() == [f"id-{n:06d}" for n in range(10_000)]
