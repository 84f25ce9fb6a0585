"""Secret scanning on a labelled corpus: `lakecrew secrets scan` vs detect-secrets' defaults.

The corpus (`benchmarks/secrets_corpus.py`): 400 generated notebooks/scripts with planted
credentials and look-alikes, plus detect-secrets' own public test cases. A flagged (file, line)
is a true positive when the line is labelled, a false positive otherwise; precision, recall and
F1 over lines, and files per second. Baseline in the same session: detect-secrets 1.5.0's
`SecretsCollection.scan_files` under `default_settings()` (its default plugins and filters, one
process — the CLI's `--all-files` engine).

    .venv/bin/python -m benchmarks.bench_secrets [--files 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report
from benchmarks.secrets_corpus import build


def _score(labels: dict[str, set[int]], flagged: set[tuple[str, int]]) -> dict[str, Any]:
    truth = {(f, n) for f, lines in labels.items() for n in lines}
    tp = len(truth & flagged)
    fp, fn = len(flagged - truth), len(truth - flagged)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(f1, 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def lakecrew(args: dict[str, Any]) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp()) / "corpus"
    labels = build(root, files=int(args["files"]))
    from lakecrew.wiring.security import scan_path

    t0 = time.perf_counter()
    scan = scan_path(root)
    seconds = time.perf_counter() - t0
    flagged = {(f.path.split("[")[0], f.line) for f in scan.findings}
    return {
        "seconds": seconds,
        "files_per_s": round(len(labels) / seconds),
        **_score(labels, flagged),
    }


def detect_secrets(args: dict[str, Any]) -> dict[str, Any]:
    import os

    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    root = Path(tempfile.mkdtemp()) / "corpus"
    labels = build(root, files=int(args["files"]))
    os.chdir(root)  # detect-secrets ignores paths outside the working directory
    t0 = time.perf_counter()
    secrets = SecretsCollection()
    with default_settings():
        secrets.scan_files(*sorted(labels))
    seconds = time.perf_counter() - t0
    flagged = {(name, s.line_number) for name, s in secrets}
    return {
        "seconds": seconds,
        "files_per_s": round(len(labels) / seconds),
        **_score(labels, flagged),
    }


STEPS = {"lakecrew": lakecrew, "detect_secrets": detect_secrets}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    args = {"files": opts.files}
    rows = [
        measure(
            "bench_secrets",
            "detect_secrets",
            args,
            repeats=opts.repeats,
            name="detect-secrets defaults",
        ),
        measure(
            "bench_secrets", "lakecrew", args, repeats=opts.repeats, name="lakecrew secrets scan"
        ),
    ]
    printed = report(
        f"secret scanning, {opts.files} + 3 files", rows, baseline="detect-secrets defaults"
    )
    Path(tempfile.gettempdir(), "bench_secrets.json").write_text(json.dumps(printed, indent=2))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        child_main(STEPS)
    else:
        main()
