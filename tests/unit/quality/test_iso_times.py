"""parse_iso_array gives exactly what parse_iso (datetime.fromisoformat) gives, value for value."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from lakecrew.services.quality.iso_times import TS, parse_iso, parse_iso_array

EDGES = [
    "2024-01-01",
    "2024-02-29T12:00:00",
    "2023-02-29T12:00:00",
    "1900-02-29",
    "2000-02-29",
    "2024-04-31",
    "2024-13-01",
    "2024-00-10",
    "2024-01-00",
    "2024-01-01T24:00",
    "2024-01-01T23:60",
    "2024-01-01T23:59:60",
    "2024-01-01T10:20:30.1",
    "2024-01-01T10:20:30.123456",
    "2024-01-01T10:20:30.1234567",
    "2024-01-01T10:20:30,5",
    "2024-01-01 10:20Z",
    "2024-01-01T10:20:30Z",
    "2024-01-01T10:20:30+23:59",
    "2024-01-01T10:20:30+24:00",
    "2024-01-01T10:20:30-00:60",
    "2024-01-01T10:20:30+05",
    "2024-01-01T10",
    "2024-01-01Z",
    "20240101",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01",
    "9999-12-31T23:59:59-01:00",
    "0002-01-01T00:00:00+14:00",
    "2024-1-01",
    " 2024-01-01",
    "２０２４-01-01",
    "",
    "Z",
]


def _random(rng: random.Random) -> str:
    y = rng.choice([rng.randint(1, 9999), rng.randint(1990, 2030), 2000, 1900])
    text = f"{y:04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
    if rng.random() < 0.8:
        text += rng.choice("T ") + f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}"
        if rng.random() < 0.8:
            text += f":{rng.randint(0, 61):02d}"
            if rng.random() < 0.6:
                text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 7)))
        zone = rng.random()
        if zone < 0.3:
            text += "Z"
        elif zone < 0.6:
            text += f"{rng.choice('+-')}{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}"
    if rng.random() < 0.05:  # a damaged value
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice("x:-. Z+") + text[at + 1 :]
    return text


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parse_iso_array_equals_parse_iso(seed: int) -> None:
    rng = random.Random(seed)
    values = EDGES + [_random(rng) for _ in range(6000)]
    got = parse_iso_array(pa.array(values, pa.string()))
    want = pa.array([parse_iso(v) for v in values], TS)
    assert got.type == TS
    mismatched = [
        (v, a, b)
        for v, a, b in zip(values, got.to_pylist(), want.to_pylist(), strict=True)
        if a != b
    ]
    assert not mismatched, mismatched[:5]
    assert got.null_count < len(values) // 2, "most generated values are valid timestamps"


def test_a_sliced_array_reads_its_own_values() -> None:
    values = pa.array(["x", "2024-01-01T00:00Z", "2024-06-01T12:30:00+02:00", "bad"])[1:3]
    got = parse_iso_array(values).to_pylist()
    assert got == [parse_iso(v) for v in values.to_pylist()]
