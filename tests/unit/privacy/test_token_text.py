"""The vectorised normalisation and HMAC give exactly what the per-value Python ones give."""

from __future__ import annotations

import hashlib
import hmac
import random

import pyarrow as pa
import pytest
from pydantic import SecretStr

from lakecrew.services.privacy.kinds import PiiKind
from lakecrew.services.privacy.masking import TOKEN_PREFIX, Tokenizer
from lakecrew.services.privacy.token_text import HmacPads, normalize, normalized

SPACES = "\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f"
ALPHABET = SPACES + "\x00\x07abcXYZ019+-.@_()/;,'\"" + "ßＡé\xa0\u2003\u0085İǅ\u00b2٣Ω\U0001f600"
CORPUS = [
    "",
    " ",
    "  +234 803 555 0101 ",
    "\x1cP-001\x1f",
    "\x0bAmina  Bello\x0c",
    "a\x1db\x1ec",
    "MiXeD\tCase\r\nText",
    "ＡＢＣ１２３",
    "Straße",
    "\xa0padded\u2003",
    "İstanbul",
    "x\x85y",
    "٣٤٥ 12",
    "plain",
]


def _random(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("kind", list(PiiKind))
def test_normalized_equals_normalize_value_for_value(kind: PiiKind) -> None:
    rng = random.Random(str(kind))
    words = CORPUS + [_random(rng) for _ in range(3000)]
    got = normalized(pa.array(words, pa.string()), kind).to_pylist()
    assert got == [normalize(w, kind) for w in words]


@pytest.mark.parametrize("size", [16, 32, 63, 64, 65, 200])
def test_hmac_pads_equal_hmac(size: int) -> None:
    key = bytes(range(256))[:size]
    messages = [b"", b"a", b"phone\x1f2348035550101", bytes(range(200))]
    want = [hmac.new(key, m, hashlib.sha256).hexdigest() for m in messages]
    assert HmacPads(key).hexdigests(messages) == want


def test_tokenize_equals_the_hmac_of_each_normalised_value() -> None:
    key = "k3y-for-tests-0123456789abcdef-xyz"
    values = pa.chunked_array([[*CORPUS[:7], None], CORPUS[7:] + CORPUS[:3]], pa.string())
    for kind in (PiiKind.PATIENT_ID, PiiKind.PHONE, PiiKind.PERSON_NAME):
        got = Tokenizer(SecretStr(key)).tokenize(values, kind).to_pylist()
        want = [
            None
            if v is None
            else TOKEN_PREFIX
            + hmac.new(
                key.encode(), f"{kind}\x1f{normalize(v, kind)}".encode(), hashlib.sha256
            ).hexdigest()[:32]
            for v in values.to_pylist()
        ]
        assert got == want
        assert got[:7] == [Tokenizer(SecretStr(key)).token(v, kind) for v in CORPUS[:7]]


def test_hmac_pads_never_show_or_pickle_the_key() -> None:
    import pickle

    pads = HmacPads(b"secret-key-material-0123456789")
    assert "secret" not in repr(pads)
    with pytest.raises(TypeError):
        pickle.dumps(pads)
