"""Drift of an inference table against the training baseline (SOP 1.7.2 Monitoring).

Per feature: PSI and Jensen–Shannon distance over 30 equal-width bins spanning both samples
(Evidently's binning: empty bins floored at 0.0001), and the two-sample Kolmogorov–Smirnov
statistic with its asymptotic p-value. Predictions get the same statistics (prediction drift);
once labels arrive, the performance metric is compared with the training one.

Large samples are never sorted: one histogram pass per side on `BINS × FINE` equal-width cells
gives the PSI/JS bins exactly (groups of FINE cells) and both empirical CDFs at every cell edge,
so the KS statistic can be under-estimated by at most the two samples' mass in one cell
(reported as `ks_bound`). Up to `EXACT_KS_ROWS` rows the KS is scipy's exact two-sample one.

With 1,000 rows or fewer on either side, 30-bin PSI and Jensen–Shannon are dominated by sampling
noise (two samples of 400 rows from one distribution give a PSI above 0.2), so — as Evidently's
default test selection does for small references — the drift verdict is the KS test alone
(p-value below `ks_pvalue`); PSI and JS are still reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

BINS = 30
FLOOR = 0.0001
FINE = 2048  # fine cells per PSI bin for the KS grid
EXACT_KS_ROWS = 200_000
SMALL_SAMPLE = 1000  # at or below (either side): the verdict is the KS test alone


@dataclass(frozen=True)
class Thresholds:
    """A feature drifts when any statistic crosses its threshold."""

    psi: float = 0.2
    js: float = 0.1
    ks_pvalue: float = 0.05
    ks_statistic: float = 0.1
    performance_drop: float = 0.1


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # "feature" | "prediction"
    n_ref: int
    n_cur: int
    psi: float
    js: float
    ks: float
    ks_pvalue: float
    ks_bound: float
    nulls_cur: int
    drifted: bool
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "kind": self.kind,
            "n_ref": self.n_ref,
            "n_cur": self.n_cur,
            "psi": round(self.psi, 6),
            "js": round(self.js, 6),
            "ks": round(self.ks, 6),
            "ks_pvalue": self.ks_pvalue,
            "ks_bound": round(self.ks_bound, 6),
            "nulls_cur": self.nulls_cur,
            "drifted": self.drifted,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class DriftReport:
    columns: tuple[ColumnDrift, ...]
    missing_columns: tuple[str, ...] = ()
    new_columns: tuple[str, ...] = ()
    performance: Mapping[str, float] | None = None
    performance_note: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    def as_dict(self) -> dict[str, object]:
        return {
            "columns": [c.as_dict() for c in self.columns],
            "drifted": [c.column for c in self.drifted],
            "missing_columns": list(self.missing_columns),
            "new_columns": list(self.new_columns),
            "performance": dict(self.performance) if self.performance else None,
            "performance_note": self.performance_note,
            "problems": list(self.problems),
        }


def _finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    arr = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(arr)
    nulls = int(arr.size - int(ok.sum()))
    return (arr if nulls == 0 else arr[ok]), nulls


def _range(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    lo = float(min(ref.min(), cur.min()))
    hi = float(max(ref.max(), cur.max()))
    if hi == lo:
        hi = lo + 1.0 if lo == 0 else lo + abs(lo) * 1e-9 + 1e-12
    return lo, hi


def fine_histograms(
    ref: np.ndarray, cur: np.ndarray, bins: int = BINS, fine: int = FINE
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples in `bins × fine` equal-width cells over their joint range.

    Summing groups of `fine` cells gives Evidently's `bins` equal-width bins exactly; the cells
    themselves give both empirical CDFs on a fine grid for the KS statistic.
    """
    lo, hi = _range(ref, cur)
    r = np.histogram(ref, bins=bins * fine, range=(lo, hi))[0]
    c = np.histogram(cur, bins=bins * fine, range=(lo, hi))[0]
    return r, c


def binned_percents(
    ref: np.ndarray, cur: np.ndarray, bins: int = BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's `get_binned_data` for numeric columns: equal-width bins over both samples."""
    r, c = fine_histograms(ref, cur, bins, 1)
    return _percents(r, ref.size), _percents(c, cur.size)


def _percents(counts: np.ndarray, n: int) -> np.ndarray:
    pct = counts / n
    return np.where(pct == 0, FLOOR, pct)


def psi(ref_pct: np.ndarray, cur_pct: np.ndarray) -> float:
    return float(np.sum((ref_pct - cur_pct) * np.log(ref_pct / cur_pct)))


def jensen_shannon(ref_pct: np.ndarray, cur_pct: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon (natural log) on the binned percents."""
    p = ref_pct / ref_pct.sum()
    q = cur_pct / cur_pct.sum()
    m = (p + q) / 2.0
    div = (np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m))) / 2.0
    return float(math.sqrt(max(div, 0.0)))


def ks_from_counts(r: np.ndarray, c: np.ndarray) -> tuple[float, float, float]:
    """(statistic, asymptotic p-value, bound) from both samples' counts on one fine grid.

    The empirical CDFs are exact at every cell edge; between edges the statistic can be larger
    by at most the two samples' mass in one cell (`bound`).
    """
    n, m = int(r.sum()), int(c.sum())
    rc, cc = np.cumsum(r) / n, np.cumsum(c) / m
    d = float(np.max(np.abs(rc - cc)))
    bound = float(np.max(r / n + c / m))
    return d, _ks_pvalue(d, n, m), bound


def _ks_pvalue(d: float, n: int, m: int) -> float:
    from scipy import stats  # ~0.9 s to import: only where a KS test runs

    en = n * m / (n + m)
    return float(stats.kstwobign.sf(d * math.sqrt(en)))


def ks_two_sample(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """(statistic, asymptotic p-value, bound on the statistic's under-estimate)."""
    if max(ref.size, cur.size) <= EXACT_KS_ROWS:
        from scipy import stats

        res = stats.ks_2samp(ref, cur, method="asymp")
        return float(res.statistic), float(res.pvalue), 0.0
    return ks_from_counts(*fine_histograms(ref, cur))


def column_drift(
    name: str, ref: np.ndarray, cur: np.ndarray, th: Thresholds, kind: str = "feature"
) -> ColumnDrift:
    r, _ = _finite(ref)
    c, nulls = _finite(cur)
    if r.size == 0 or c.size == 0:
        return ColumnDrift(
            name,
            kind,
            int(r.size),
            int(c.size),
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            0.0,
            nulls,
            True,
            ("no values to compare (empty reference or current column)",),
        )
    if max(r.size, c.size) <= EXACT_KS_ROWS:
        rp, cp = binned_percents(r, c)
        ks, pv, bound = ks_two_sample(r, c)
    else:
        fr, fc = fine_histograms(r, c)
        rp = _percents(fr.reshape(BINS, FINE).sum(axis=1), r.size)
        cp = _percents(fc.reshape(BINS, FINE).sum(axis=1), c.size)
        ks, pv, bound = ks_from_counts(fr, fc)
    p, js = psi(rp, cp), jensen_shannon(rp, cp)
    reasons = []
    binned_ok = min(r.size, c.size) > SMALL_SAMPLE
    if binned_ok and p >= th.psi:
        reasons.append(f"PSI {p:.3f} ≥ {th.psi}")
    if binned_ok and js >= th.js:
        reasons.append(f"Jensen–Shannon {js:.3f} ≥ {th.js}")
    if pv < th.ks_pvalue and (ks >= th.ks_statistic or not binned_ok):
        reasons.append(f"KS {ks:.3f} ≥ {th.ks_statistic} (p={pv:.2g})")
    return ColumnDrift(
        name,
        kind,
        int(r.size),
        int(c.size),
        p,
        js,
        ks,
        pv,
        bound,
        nulls,
        bool(reasons),
        tuple(reasons),
    )


def drift_report(
    reference: Mapping[str, np.ndarray],
    current: Mapping[str, np.ndarray],
    features: Sequence[str],
    *,
    prediction: str | None = None,
    thresholds: Thresholds = Thresholds(),
    ignore: Iterable[str] = (),
) -> DriftReport:
    """Drift of every feature (and the prediction) present on both sides.

    Features the model expects but the inference table lacks are reported as missing (a finding,
    never skipped silently); columns only the inference table has are listed as new.
    """
    skip = set(ignore)
    missing = tuple(f for f in features if f not in current)
    expected = {*features, *([prediction] if prediction else [])}
    new = tuple(sorted(c for c in current if c not in expected and c not in skip))
    cols = [
        column_drift(f, reference[f], current[f], thresholds)
        for f in features
        if f in current and f in reference
    ]
    problems = [f"feature {f!r} has no training baseline" for f in features if f not in reference]
    if prediction and prediction in current and prediction in reference:
        cols.append(
            column_drift(
                prediction, reference[prediction], current[prediction], thresholds, "prediction"
            )
        )
    elif prediction:
        problems.append(f"prediction column {prediction!r} missing from the inference table")
    return DriftReport(tuple(cols), missing, new, problems=tuple(problems))
