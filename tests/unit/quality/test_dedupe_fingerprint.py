"""The text-key shortcut of ``dedupe_latest``: every row whose key repeats is flagged (the
exact ordering and grouping then decide), for any text layout, and the result equals the hash
count's (``group_by``) on the same rows."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from lakecrew.services.quality import dedupe
from lakecrew.services.quality.dedupe import dedupe_latest, repeated_text

WORDS = ["", "a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "x" * 25 + "1", "x" * 25 + "2", "é"]


def _values(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        pick = rng.random()
        if pick < 0.1:
            out.append(None)
        elif pick < 0.7:
            out.append(rng.choice(WORDS))
        else:
            out.append("".join(rng.choice("ab") for _ in range(rng.randint(0, 20))))
    return out


def test_every_repeated_value_is_flagged_whatever_the_layout() -> None:
    rng = random.Random(7)
    for _ in range(150):
        values = _values(rng, rng.randint(0, 40))
        cut = rng.randint(0, len(values))
        for typ in (pa.string(), pa.large_string()):
            arr = pa.array(values, typ)
            chunked = pa.chunked_array([arr.slice(0, cut), arr.slice(cut)], typ)
            for layout in (arr, arr.slice(cut), chunked):
                held = layout.to_pylist()
                flagged = repeated_text(layout)
                assert flagged is not None and len(flagged) == len(held)
                exact = np.array([held.count(v) > 1 for v in held], np.bool_)
                assert not (exact & ~flagged).any(), held
    assert repeated_text(pa.array([1, 2])) is None  # other types take the hash count


def test_dedupe_is_the_same_with_and_without_the_shortcut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(11)
    tables = []
    for _ in range(40):
        n = rng.randint(1, 60)
        ids = pa.array(_values(rng, n), pa.string())
        at = pa.array([rng.choice([None, 1, 2, 3]) for _ in range(n)], pa.int64())
        tables.append(pa.table({"id": ids, "at": at}))
    order = [("at", "descending")]
    fast = [dedupe_latest(t, ["id"], order) for t in tables]  # type: ignore[list-item]
    monkeypatch.setattr(dedupe, "repeated_text", lambda column: None)  # the hash count
    slow = [dedupe_latest(t, ["id"], order) for t in tables]  # type: ignore[list-item]
    for a, b in zip(fast, slow, strict=True):
        assert a.kept.to_pylist() == b.kept.to_pylist()
        assert a.dropped_count == b.dropped_count and a.table.equals(b.table)
