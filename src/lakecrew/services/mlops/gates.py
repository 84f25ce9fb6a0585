"""Promotion gates (SOP 1.7.2 Approval Workflow): accuracy, fairness, robustness, approver.

Every gate is computed on the same held-out rows for the candidate and the current champion.
A gate that cannot be computed fails with the reason — it never passes silently: a metric with
no defined value (recall without positives), a subgroup below `min_group_size` (listed as not
evaluated), fewer than two evaluable subgroups, a missing column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakecrew.services.mlops.config import HIGHER_IS_BETTER, Gates, ModelSettings

Predict = Callable[[str, Mapping[str, np.ndarray]], np.ndarray]  # (version, features) -> scores


@dataclass(frozen=True)
class GateCheck:
    gate: str  # metric | regression | fairness | robustness | approver | data
    name: str
    passed: bool
    detail: str
    numbers: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "numbers": dict(self.numbers),
        }


@dataclass(frozen=True)
class GateResult:
    model: str
    version: str
    baseline: str | None
    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failing(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "baseline": self.baseline,
            "passed": self.passed,
            "checks": [c.as_dict() for c in self.checks],
        }


def _denominator(name: str, y: np.ndarray, pred: np.ndarray) -> int:
    if name == "recall":
        return int((y == 1).sum())
    if name == "precision":
        return int((pred == 1).sum())
    return int(y.size)


def metric(name: str, y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> float | None:
    """The metric on labels `y` and scores; None when undefined (no positives for recall...)."""
    if y.size == 0:
        return None
    if name in ("mae", "rmse"):
        err = score.astype(float) - y.astype(float)
        return float(np.mean(np.abs(err))) if name == "mae" else float(np.sqrt(np.mean(err**2)))
    pred = (score >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    if name == "accuracy":
        return float((pred == y).mean())
    if _denominator(name, y, pred) == 0 and name in ("recall", "precision"):
        return None
    if name == "recall":
        return tp / int((y == 1).sum())
    if name == "precision":
        return tp / int((pred == 1).sum())
    denom = int((pred == 1).sum()) + int((y == 1).sum())
    return None if denom == 0 else 2 * tp / denom


def _fmt(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.3f}"


def _better(name: str, a: float, b: float) -> float:
    """How much better `a` is than `b` (positive = better) for metric `name`."""
    return a - b if HIGHER_IS_BETTER[name] else b - a


def evaluate(
    model: str,
    version: str,
    settings: ModelSettings,
    holdout: Mapping[str, np.ndarray],
    predict: Predict,
    *,
    champion: str | None,
    approver: str | None,
) -> GateResult:
    gates = settings.gates
    if gates is None:
        check = GateCheck("data", "gates", False, f"no gates declared for {model} in lakecrew.yaml")
        return GateResult(model, version, champion, (check,))
    needed = [*settings.features, settings.label]
    if gates.fairness:
        needed += gates.fairness.by
    missing = [c for c in needed if c not in holdout]
    if missing:
        detail = f"held-out table {gates.holdout.table} lacks column(s) {', '.join(missing)}"
        return GateResult(model, version, champion, (GateCheck("data", "holdout", False, detail),))
    y = np.asarray(holdout[settings.label]).astype(int)
    feats = {f: np.asarray(holdout[f], dtype=float) for f in settings.features}
    cand = np.asarray(predict(version, feats), dtype=float)
    base = np.asarray(predict(champion, feats), dtype=float) if champion else None
    checks = _metric_checks(
        gates, y=y, cand=cand, base=base, champion=champion, threshold=settings.threshold
    )
    if gates.fairness:
        checks.append(_fairness(gates, holdout, y, cand, settings.threshold))
    if gates.robustness:
        checks.append(
            _robustness(
                gates,
                feats=feats,
                y=y,
                cand=cand,
                version=version,
                predict=predict,
                th=settings.threshold,
            )
        )
    checks.append(_approver(gates, approver))
    return GateResult(model, version, champion, tuple(checks))


def _metric_checks(
    gates: Gates,
    *,
    y: np.ndarray,
    cand: np.ndarray,
    base: np.ndarray | None,
    champion: str | None,
    threshold: float,
) -> list[GateCheck]:
    out = []
    for g in gates.metrics:
        value = metric(g.name, y, cand, threshold)
        nums: dict[str, Any] = {"candidate": value, "min": g.min, "max": g.max, "rows": int(y.size)}
        if value is None:
            out.append(
                GateCheck(
                    "metric",
                    g.name,
                    False,
                    f"{g.name} undefined on the held-out rows (no positives/predictions)",
                    nums,
                )
            )
            continue
        ok = (g.min is None or value >= g.min) and (g.max is None or value <= g.max)
        bounds = " ".join(
            s
            for s in (
                f"≥ {g.min}" if g.min is not None else "",
                f"≤ {g.max}" if g.max is not None else "",
            )
            if s
        )
        out.append(
            GateCheck("metric", g.name, ok, f"{g.name} {value:.3f} (needs {bounds or 'any'})", nums)
        )
        if g.max_regression is None:
            continue
        if base is None or champion is None:
            out.append(
                GateCheck(
                    "regression",
                    g.name,
                    True,
                    "no current champion to compare with",
                    {"candidate": value},
                )
            )
            continue
        before = metric(g.name, y, base, threshold)
        if before is None:
            out.append(
                GateCheck(
                    "regression",
                    g.name,
                    True,
                    f"champion v{champion}'s {g.name} undefined; nothing to regress from",
                    {"candidate": value},
                )
            )
            continue
        gain = _better(g.name, value, before)
        out.append(
            GateCheck(
                "regression",
                g.name,
                gain >= -g.max_regression,
                f"{g.name} {value:.3f} vs champion v{champion} {before:.3f} "
                f"(change {gain:+.3f}, allowed loss {g.max_regression})",
                {
                    "candidate": value,
                    "champion": before,
                    "change": gain,
                    "max_regression": g.max_regression,
                },
            )
        )
    return out


def _fairness(
    gates: Gates, holdout: Mapping[str, np.ndarray], y: np.ndarray, score: np.ndarray, th: float
) -> GateCheck:
    f = gates.fairness
    assert f is not None
    pred = (score >= th).astype(int)
    groups: dict[str, float] = {}
    small: dict[str, int] = {}
    for col in f.by:
        keys = np.asarray(holdout[col]).astype(str)
        for key in sorted(set(keys.tolist())):
            mask = keys == key
            n = _denominator(f.metric, y[mask], pred[mask])
            value = metric(f.metric, y[mask], score[mask], th)
            if n < f.min_group_size or value is None:
                small[f"{col}={key}"] = n
            else:
                groups[f"{col}={key}"] = value
    nums: dict[str, Any] = {
        "by_group": groups,
        "too_small": small,
        "min_group_size": f.min_group_size,
        "max_gap": f.max_gap,
    }
    note = (
        (
            f"; {len(small)} group(s) below {f.min_group_size} rows counted by {f.metric} "
            f"not evaluated: {', '.join(sorted(small))}"
        )
        if small
        else ""
    )
    if len(groups) < 2:
        return GateCheck(
            "fairness",
            f.metric,
            False,
            f"fairness not computable: {len(groups)} subgroup(s) large enough{note}",
            nums,
        )
    hi = max(groups, key=lambda k: groups[k])
    lo = min(groups, key=lambda k: groups[k])
    gap = groups[hi] - groups[lo]
    nums["gap"] = gap
    return GateCheck(
        "fairness",
        f.metric,
        gap <= f.max_gap,
        f"{f.metric} gap {gap:.3f} across {len(groups)} groups ({hi} {groups[hi]:.3f}, "
        f"{lo} {groups[lo]:.3f}; limit {f.max_gap}){note}",
        nums,
    )


def perturb(feats: Mapping[str, np.ndarray], noise: float, seed: int) -> dict[str, np.ndarray]:
    """Each value scaled by (1 + noise·N(0,1)), seeded: the same perturbation every run."""
    rng = np.random.default_rng(seed)
    return {k: v * (1.0 + noise * rng.standard_normal(v.size)) for k, v in feats.items()}


def _robustness(
    gates: Gates,
    *,
    feats: Mapping[str, np.ndarray],
    y: np.ndarray,
    cand: np.ndarray,
    version: str,
    predict: Predict,
    th: float,
) -> GateCheck:
    r = gates.robustness
    assert r is not None
    clean = metric(r.metric, y, cand, th)
    noisy_scores = np.asarray(predict(version, perturb(feats, r.noise, r.seed)), dtype=float)
    noisy = metric(r.metric, y, noisy_scores, th)
    nums = {"clean": clean, "perturbed": noisy, "noise": r.noise, "max_drop": r.max_drop}
    if clean is None or noisy is None or math.isnan(clean) or math.isnan(noisy):
        return GateCheck(
            "robustness", r.metric, False, f"{r.metric} undefined under perturbation", nums
        )
    drop = -_better(r.metric, noisy, clean)
    return GateCheck(
        "robustness",
        r.metric,
        drop <= r.max_drop,
        f"{r.metric} {clean:.3f} → {noisy:.3f} with ±{r.noise:.0%} input noise "
        f"(drop {drop:.3f}, limit {r.max_drop})",
        {**nums, "drop": drop},
    )


def _approver(gates: Gates, approver: str | None) -> GateCheck:
    if not gates.approvers:
        return GateCheck(
            "approver",
            "approver",
            bool(approver),
            f"approved by {approver}" if approver else "no approver given (--approver)",
            {"approver": approver},
        )
    ok = approver in gates.approvers
    detail = (
        f"approved by {approver}"
        if ok
        else f"approver {approver or '(none)'} is not one of {', '.join(gates.approvers)}"
    )
    return GateCheck("approver", "approver", ok, detail, {"approver": approver})


def columns_of(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, np.ndarray]:
    return {n: np.asarray([r.get(n) for r in rows]) for n in names}
