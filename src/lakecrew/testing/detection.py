"""Scoring the crew's detection against the simulator's ground truth (tests and `make bench`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str, str]  # (code, resource kind, resource id)


def score(truth: Mapping[str, Any], found: Iterable[Key]) -> dict[str, dict[str, float]]:
    """Per code: planted, found, true positives, precision, recall."""
    planted: set[Key] = {(v["code"], v["kind"], v["resource_id"]) for v in truth["violations"]}
    got = set(found)
    codes = sorted({k[0] for k in planted | got})
    out: dict[str, dict[str, float]] = {}
    for code in codes:
        p = {k for k in planted if k[0] == code}
        g = {k for k in got if k[0] == code}
        tp = len(p & g)
        out[code] = {
            "planted": len(p),
            "found": len(g),
            "tp": tp,
            "precision": tp / len(g) if g else 1.0,
            "recall": tp / len(p) if p else 1.0,
        }
    return out


def flagged_compliant(truth: Mapping[str, Any], found: Iterable[Key]) -> list[Key]:
    """Findings on resources the simulator planted as fully compliant."""
    ok = {(c["kind"], c["resource_id"]) for c in truth["compliant"]}
    return sorted(k for k in found if (k[1], k[2]) in ok)


def table(scores: Mapping[str, Mapping[str, float]]) -> str:
    lines = [f"{'code':38} {'planted':>7} {'found':>6} {'tp':>4} {'prec':>6} {'recall':>6}"]
    tot: dict[str, float] = defaultdict(float)
    for code, s in scores.items():
        lines.append(
            f"{code:38} {s['planted']:7.0f} {s['found']:6.0f} {s['tp']:4.0f} "
            f"{s['precision']:6.3f} {s['recall']:6.3f}"
        )
        for k in ("planted", "found", "tp"):
            tot[k] += s[k]
    p = tot["tp"] / tot["found"] if tot["found"] else 1.0
    r = tot["tp"] / tot["planted"] if tot["planted"] else 1.0
    lines.append(
        f"{'TOTAL':38} {tot['planted']:7.0f} {tot['found']:6.0f} {tot['tp']:4.0f} {p:6.3f} {r:6.3f}"
    )
    return "\n".join(lines)
