"""masked_phones gives exactly what mask_phone gives, value for value."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from lakecrew.services.privacy.phone_mask import mask_phone, masked_phones

CELLS = [
    "",
    "   ",
    "+234 803 123 4589",
    "08031234589",
    "00234 803 123 4589",
    "+1 (415) 555-0101",
    "+7 912 345 67 89",
    "+44 20 7946 0958",
    "+2",
    "+",
    "00",
    "0044",
    "123",
    "+234 803 123 4589; 0803 555 0101",
    "tel: +233 24 123 4567 ext 9",
    "\x1c+221 77 123 45 67\x1f",
    "+234 ８０３ 123 4589",
    "٠٨٠٣١٢٣٤٥٨٩",
    "+234\xa0803\xa0123\xa04589",
]
ALPHABET = "0123456789" * 3 + "+() -.\t\x0b\x1dx" + ";,/|" + "٣８\xa0"


def _random(rng: random.Random) -> str:
    start = rng.choice(["", "+", "00", " +", "0"])
    return start + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 16)))


@pytest.mark.parametrize("keep_last", [0, 2, 3])
@pytest.mark.parametrize("keep_country_code", [True, False])
def test_masked_phones_equal_mask_phone(keep_last: int, keep_country_code: bool) -> None:
    rng = random.Random(keep_last * 2 + keep_country_code)
    cells = CELLS + [_random(rng) for _ in range(4000)]
    got = masked_phones(
        pa.array(cells, pa.string()), keep_last=keep_last, keep_country_code=keep_country_code
    ).to_pylist()
    want = [mask_phone(c, keep_last=keep_last, keep_country_code=keep_country_code) for c in cells]
    assert got == want
    assert got[2] == ("+234********89" if keep_last == 2 and keep_country_code else got[2])
