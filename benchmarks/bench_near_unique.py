"""Columns of near-unique values: lakecrew vs the per-value way (and the HMAC alone).

A silver column of patient identifiers or phone numbers is near-unique, so masking it is one
Python call per row when done value by value. Tokens, three ways over the
same values, each in its own process (harness.py):

- ``lakecrew``: ``Tokenizer.tokenize`` (each distinct value once; ASCII values normalised by
  pyarrow.compute; HMAC-SHA256 with the key's pads hashed once);
- ``per_value``: what it did before: ``normalize`` and ``hmac.new`` per distinct value
  (the straightforward Python); its tokens must equal lakecrew's (checked);
- ``hmac_only``: the limit in Python: only the digests of already-normalised messages, with the
  pads hashed once (no normalisation, no Arrow in or out).

Partial phone masks, two ways: ``phones`` (``masking.partial``: pyarrow.compute for ASCII cells
holding one number) and ``phones_per_value`` (``mask_phone`` per distinct value, as before);
their masks must be equal (checked).

Usage: .venv/bin/python -m benchmarks.bench_near_unique [--rows N] [--distinct D] [--repeats R]
       (default 1,000,000 rows, all distinct)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import child_main, measure, report

KEY = "bench-tokenization-key-0123456789abcdef"


def _values(args: dict[str, Any]) -> Any:
    import pyarrow as pa

    rows, distinct = args["rows"], args["distinct"]
    return pa.array([f" NG-PAT {i % distinct:09d}" for i in range(rows)], pa.string())


def step_lakecrew(args: dict[str, Any]) -> dict[str, Any]:
    from pydantic import SecretStr

    from lakecrew.services.privacy.kinds import PiiKind
    from lakecrew.services.privacy.masking import Tokenizer

    values = _values(args)
    tokenizer = Tokenizer(SecretStr(KEY))
    t0 = time.perf_counter()
    tokens = tokenizer.tokenize(values, PiiKind.PATIENT_ID)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "digest": _digest(tokens.to_pylist())}


def step_per_value(args: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.compute as pc

    from lakecrew.services.privacy.kinds import PiiKind
    from lakecrew.services.privacy.masking import TOKEN_PREFIX
    from lakecrew.services.privacy.token_text import normalize

    values = _values(args)
    key, kind = KEY.encode(), PiiKind.PATIENT_ID
    t0 = time.perf_counter()
    encoded = pc.dictionary_encode(values)
    words = encoded.dictionary.to_pylist()
    mapped = [
        TOKEN_PREFIX
        + hmac.new(key, f"{kind}\x1f{normalize(w, kind)}".encode(), hashlib.sha256).hexdigest()[:32]
        for w in words
    ]
    tokens = [mapped[i] for i in encoded.indices.to_pylist()]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "digest": _digest(tokens)}


def step_hmac_only(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.services.privacy.token_text import HmacPads

    messages = [f"patient_id\x1fng-pat{i:09d}".encode() for i in range(args["distinct"])]
    pads = HmacPads(KEY.encode())
    t0 = time.perf_counter()
    pads.hexdigests(messages)
    return {"seconds": time.perf_counter() - t0}


def _phones(args: dict[str, Any]) -> Any:
    import pyarrow as pa

    rows, distinct = args["rows"], args["distinct"]
    return pa.array([f"+234 803 {i % distinct:07d}" for i in range(rows)], pa.string())


def step_phones(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.services.privacy.kinds import MaskMethod, PiiKind
    from lakecrew.services.privacy.masking import ColumnMask, partial

    values = _phones(args)
    t0 = time.perf_counter()
    masked = partial(values, ColumnMask("phone", MaskMethod.PARTIAL, PiiKind.PHONE))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "digest": _digest(masked.to_pylist())}


def step_phones_per_value(args: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.compute as pc

    from lakecrew.services.privacy.phone_mask import mask_phone

    values = _phones(args)
    t0 = time.perf_counter()
    encoded = pc.dictionary_encode(values)
    mapped = [mask_phone(w) for w in encoded.dictionary.to_pylist()]
    masked = [mapped[i] for i in encoded.indices.to_pylist()]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "digest": _digest(masked)}


def _digest(tokens: list[str | None]) -> str:
    return hashlib.sha256("\n".join(t or "" for t in tokens).encode()).hexdigest()[:16]


STEPS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "lakecrew": step_lakecrew,
    "per_value": step_per_value,
    "hmac_only": step_hmac_only,
    "phones": step_phones,
    "phones_per_value": step_phones_per_value,
}
TOKENS = ("lakecrew", "per_value", "hmac_only")
PHONES = ("phones", "phones_per_value")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args(argv)
    args = {"rows": opts.rows, "distinct": opts.distinct or opts.rows}

    def run(names: tuple[str, ...]) -> dict[str, Any]:
        return {n: measure("bench_near_unique", n, args, repeats=opts.repeats) for n in names}

    tokens, phones = run(TOKENS), run(PHONES)
    of = f"{opts.rows:,} values ({args['distinct']:,} distinct)"
    report(f"tokenize {of}, patient_id, ratio vs lakecrew", list(tokens.values()), "lakecrew")
    report(f"partial phone masks of {of}, ratio vs lakecrew", list(phones.values()), "phones")
    same = {
        "tokens": tokens["lakecrew"].extra["digest"] == tokens["per_value"].extra["digest"],
        "phone masks": phones["phones"].extra["digest"]
        == phones["phones_per_value"].extra["digest"],
    }
    print("equal to the per-value way:", same)
    if not all(same.values()):
        print("RESULTS DIFFER between lakecrew and the per-value way")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        child_main(STEPS)
    else:
        sys.exit(main(sys.argv[1:]))
