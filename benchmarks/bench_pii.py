"""PII detection on labelled strings: lakecrew's shapes vs Presidio's analyzer (same strings).

The set (`benchmarks/data/pii/strings.csv`, see its SOURCE.md): public West African strings and
generated identifiers, each labelled phone / email / national_id / geo / none, split dev/test.
A string's prediction is the kind of the detector that covers it (≥ 80 % of its characters for
Presidio; a whole-value match for lakecrew's `core/pii_shapes.value_shape`). Per kind: precision
and recall on the held-out `test` split (and on all rows), then strings per second over all rows.

Presidio runs pattern-only (a blank spaCy pipeline saved on disk: no model download, so no
PERSON/LOCATION — names are judged per column by lakecrew, not per string here) in two setups:
`presidio` (default recognizers + the NG_NIN recognizer) and `presidio-wa` (the phone recognizer
given NG, GH, SL, LR, CI, SN, GN, CM as regions too).

    .venv/bin/pip install -c requirements/lock.txt -r requirements/bench.in   # Presidio
    .venv/bin/python -m benchmarks.bench_pii [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report

DATA = Path(__file__).parent / "data" / "pii" / "strings.csv"
KINDS = ("phone", "email", "national_id", "geo")
PRESIDIO_KIND = {
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "NG_NIN": "national_id",
}
WA_REGIONS = (
    "US",
    "GB",
    "DE",
    "FR",
    "IL",
    "IN",
    "CA",
    "BR",
    "NG",
    "GH",
    "SL",
    "LR",
    "CI",
    "SN",
    "GN",
    "CM",
)


def _rows() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _scores(rows: list[dict[str, str]], predicted: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("test", "all"):
        per: dict[str, dict[str, float]] = {}
        pairs = [
            (r["kind"], p)
            for r, p in zip(rows, predicted, strict=True)
            if split == "all" or r["split"] == split
        ]
        for kind in KINDS:
            tp = sum(1 for t, p in pairs if t == kind and p == kind)
            fp = sum(1 for t, p in pairs if t != kind and p == kind)
            fn = sum(1 for t, p in pairs if t == kind and p != kind)
            per[kind] = {
                "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
                "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            }
        out[split] = per
    return out


def _timed(rows: list[dict[str, str]], predict: Callable[[str], str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    predicted = [predict(r["text"]) for r in rows]
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "strings_per_s": round(len(rows) / seconds),
        **_scores(rows, predicted),
    }


def lakecrew(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.core.pii_shapes import value_shape

    rows = _rows()

    def predict(text: str) -> str:
        shape = value_shape(text)
        return shape if shape in KINDS else "none"

    return _timed(rows, predict)


def presidio(args: dict[str, Any]) -> dict[str, Any]:
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import NgNinRecognizer, PhoneRecognizer

    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    model = Path(tempfile.mkdtemp()) / "blank_en"
    spacy.blank("en").to_disk(model)
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": str(model)}],
        }
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    engine.registry.add_recognizer(NgNinRecognizer())
    if args.get("regions") == "wa":
        engine.registry.remove_recognizer("PhoneRecognizer")
        engine.registry.add_recognizer(PhoneRecognizer(supported_regions=WA_REGIONS))
    rows = _rows()
    engine.analyze("warm up a@b.org +2348035550199", language="en")  # tldextract, caches

    def predict(text: str) -> str:
        best, score = "none", 0.0
        for r in engine.analyze(text, language="en"):
            kind = PRESIDIO_KIND.get(r.entity_type)
            if kind and (r.end - r.start) >= 0.8 * len(text.strip()) and r.score > score:
                best, score = kind, r.score
        return best

    return _timed(rows, predict)


def redactor(args: dict[str, Any]) -> dict[str, Any]:
    """`redact_text` over 50,000 typical messages (1 in 10 holding a phone or an e-mail)."""
    from lakecrew.core import redact

    if args.get("without_pii"):
        redact.redact_pii_text = lambda text, replace: text  # the redactor before issue 17
    msgs = [
        f"cluster 0923-164208-meows{i:03d} in malaria-dev-westafrica has no auto-termination "
        f"(owner team-data, job {1000 + i}, {i % 7} days idle)"
        + (f" — call +234 803 555 {i % 10000:04d} or x{i}@example.org" if i % 10 == 0 else "")
        for i in range(50_000)
    ]
    t0 = time.perf_counter()
    out = [redact.redact_text(m) for m in msgs]
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "messages_per_s": round(len(msgs) / seconds),
        "changed": sum(a != b for a, b in zip(msgs, out, strict=True)),
    }


STEPS = {"lakecrew": lakecrew, "presidio": presidio, "redactor": redactor}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    rows = [
        measure("bench_pii", "presidio", {}, repeats=opts.repeats, name="presidio"),
        measure(
            "bench_pii", "presidio", {"regions": "wa"}, repeats=opts.repeats, name="presidio-wa"
        ),
        measure("bench_pii", "lakecrew", {}, repeats=opts.repeats, name="lakecrew"),
    ]
    printed = report(
        f"PII strings ({len(_rows())}), seconds over all rows", rows, baseline="presidio"
    )
    for r in rows:
        print(f"\n{r.name}: {r.extra['strings_per_s']} strings/s (last run)")
        for kind in KINDS:
            t, a = r.extra["test"][kind], r.extra["all"][kind]
            print(
                f"  {kind:<12} test P {t['precision']:.3f} R {t['recall']:.3f}"
                f"   all P {a['precision']:.3f} R {a['recall']:.3f}"
            )
    speed = {r.name: len(_rows()) / r.median_s for r in rows}
    print(
        f"\nspeed-up vs presidio: {speed['lakecrew'] / speed['presidio']:.0f}x,"
        f" vs presidio-wa: {speed['lakecrew'] / speed['presidio-wa']:.0f}x"
    )
    red = [
        measure(
            "bench_pii",
            "redactor",
            {"without_pii": True},
            repeats=opts.repeats,
            name="redact_text, secrets only",
        ),
        measure(
            "bench_pii",
            "redactor",
            {},
            repeats=opts.repeats,
            name="redact_text, secrets + PII shapes",
        ),
    ]
    printed += report("redact_text on 50,000 messages", red, baseline="redact_text, secrets only")
    Path(tempfile.gettempdir(), "bench_pii.json").write_text(json.dumps(printed, indent=2))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        child_main(STEPS)
    else:
        main()
