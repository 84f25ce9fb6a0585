"""Drift over 10,000,000 inference rows × 20 features: lakecrew vs Evidently's DataDriftPreset.

Run: .venv/bin/python -m benchmarks.bench_drift [--rows 10000000] [--ref 1000000] [--repeats 3]
(Evidently is a benchmark-only dependency: `pip install -c requirements/lock.txt -r
requirements/bench.in`.)

Same data in every step (seeded float32 columns: 20 features, 6 of them shifted or rescaled;
reference 1,000,000 rows). lakecrew computes PSI, Jensen–Shannon and KS for every feature in one
call; Evidently runs its data-drift preset once per method (psi, jensenshannon, ks), since one
preset run computes one statistic. Each step times its own core (data generation excluded) and
reports its process's peak RSS; the statistics are compared feature by feature.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import child_main, measure, report

OUT = Path("bench-out") / "drift"
FEATURES = [f"f{i:02d}" for i in range(20)]


def _data(rows: int, ref_rows: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(20261204)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    for i, f in enumerate(FEATURES):
        ref[f] = rng.normal(0, 1, ref_rows).astype(np.float32)
        shift, scale = (0.25 * (i % 3 + 1), 1.0 + 0.1 * (i % 2)) if i < 6 else (0.0, 1.0)
        cur[f] = rng.normal(shift, scale, rows).astype(np.float32)
    return ref, cur


def step_lakecrew(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.services.mlops.drift import drift_report

    ref, cur = _data(args["rows"], args["ref"])
    t0 = time.perf_counter()
    rep = drift_report(ref, cur, FEATURES)
    seconds = time.perf_counter() - t0
    stats = {
        c.column: {
            "psi": c.psi,
            "js": c.js,
            "ks_pvalue": c.ks_pvalue,
            "ks": c.ks,
            "ks_bound": c.ks_bound,
        }
        for c in rep.columns
    }
    (OUT / "lakecrew.json").write_text(json.dumps(stats))
    return {"seconds": seconds, "drifted": len(rep.drifted)}


def _evidently(args: dict[str, Any], method: str) -> dict[str, Any]:
    import pandas as pd
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    ref, cur = _data(args["rows"], args["ref"])
    ref_df, cur_df = pd.DataFrame(ref), pd.DataFrame(cur)
    del ref, cur
    t0 = time.perf_counter()
    snap = Report([DataDriftPreset(method=method)]).run(
        Dataset.from_pandas(cur_df), Dataset.from_pandas(ref_df)
    )
    seconds = time.perf_counter() - t0
    values = {}
    for m in snap.dict()["metrics"]:
        mid = str(m.get("metric_id") or m.get("metric_name") or "")
        if mid.startswith("ValueDrift(column="):
            values[mid.split("column=")[1].split(",", maxsplit=1)[0]] = float(m["value"])
    (OUT / f"evidently_{method}.json").write_text(json.dumps(values))
    return {"seconds": seconds}


def step_scipy(args: dict[str, Any]) -> dict[str, Any]:
    """The same statistics computed directly: numpy histograms, scipy's jensenshannon, ks_2samp."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref, cur = _data(args["rows"], args["ref"])
    t0 = time.perf_counter()
    values: dict[str, dict[str, float]] = {}
    for f in FEATURES:
        r, c = ref[f].astype(np.float64), cur[f].astype(np.float64)
        edges = np.histogram_bin_edges(np.concatenate([r, c]), bins=30)
        rp = np.histogram(r, edges)[0] / r.size
        cp = np.histogram(c, edges)[0] / c.size
        rp, cp = np.where(rp == 0, 1e-4, rp), np.where(cp == 0, 1e-4, cp)
        ks = stats.ks_2samp(r, c)
        values[f] = {
            "psi": float(np.sum((rp - cp) * np.log(rp / cp))),
            "js": float(jensenshannon(rp, cp)),
            "ks": float(ks.statistic),
            "ks_pvalue": float(ks.pvalue),
        }
    seconds = time.perf_counter() - t0
    (OUT / "scipy.json").write_text(json.dumps(values))
    return {"seconds": seconds}


def step_ev_psi(args: dict[str, Any]) -> dict[str, Any]:
    return _evidently(args, "psi")


def step_ev_js(args: dict[str, Any]) -> dict[str, Any]:
    return _evidently(args, "jensenshannon")


def step_ev_ks(args: dict[str, Any]) -> dict[str, Any]:
    return _evidently(args, "ks")


def _compare() -> dict[str, float]:
    ours = json.loads((OUT / "lakecrew.json").read_text())
    out = {}
    for method, key in (("psi", "psi"), ("jensenshannon", "js"), ("ks", "ks_pvalue")):
        path = OUT / f"evidently_{method}.json"
        if not path.exists():
            continue
        theirs = json.loads(path.read_text())
        diffs = [abs(ours[f][key] - theirs[f]) for f in FEATURES if f in theirs]
        out[f"max_abs_diff_{key}"] = max(diffs) if diffs else float("nan")
    direct = OUT / "scipy.json"
    if direct.exists():
        sp = json.loads(direct.read_text())
        for key in ("psi", "js", "ks", "ks_pvalue"):
            out[f"scipy_max_abs_diff_{key}"] = max(abs(ours[f][key] - sp[f][key]) for f in sp)
    out["max_ks_bound"] = max(v["ks_bound"] for v in ours.values())
    return out


def _progress(m: Any) -> None:
    """One line per finished step, so a long run cut short still leaves its figures."""
    print(
        f"done: {m.name}: median {m.median_s:.2f} s, runs {m.seconds}, peak {m.peak:.0f} MiB",
        flush=True,
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--ref", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peer-repeats", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-peers", action="store_true", help="lakecrew only (Evidently is slow)")
    p.add_argument(
        "--peers",
        default="scipy,ev_psi,ev_js,ev_ks",
        help="comma-separated peer steps in run order (scipy, ev_psi, ev_js, ev_ks)",
    )
    a = p.parse_args(argv)
    if a.quick:
        a.rows, a.ref, a.repeats, a.peer_repeats = 300_000, 100_000, 1, 1
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):  # never compare with another size's results
        old.unlink()
    args = {"rows": a.rows, "ref": a.ref}
    rows = [
        measure(
            "bench_drift",
            "lakecrew",
            args,
            repeats=a.repeats,
            name="lakecrew: PSI + JS + KS, 20 features",
        )
    ]
    labels = {
        "scipy": "scipy/numpy directly (ks_2samp, jensenshannon)",
        "ev_psi": "evidently DataDriftPreset(psi)",
        "ev_js": "evidently DataDriftPreset(jensenshannon)",
        "ev_ks": "evidently DataDriftPreset(ks)",
    }
    peers = [] if a.no_peers else [x.strip() for x in a.peers.split(",") if x.strip()]
    unknown = sorted(set(peers) - set(labels))
    if unknown:
        p.error(f"unknown peer step(s) {', '.join(unknown)}; choose from {', '.join(labels)}")
    _progress(rows[0])
    for step in peers:
        rows.append(measure("bench_drift", step, args, repeats=a.peer_repeats, name=labels[step]))
        _progress(rows[-1])
    title = f"drift: {a.rows:,} inference rows x 20 features vs {a.ref:,} reference rows"
    out = report(title, rows, baseline="lakecrew: PSI + JS + KS, 20 features")
    evidently_total = sum(r.median_s for r in rows if r.name.startswith("evidently")) or float(
        "nan"
    )
    summary = {
        "evidently_presets_s": evidently_total,
        "speedup_vs_evidently_presets_run": evidently_total / rows[0].median_s,
        **_compare(),
    }
    print(json.dumps(summary, indent=1))
    (OUT / "result.json").write_text(json.dumps({"rows": out, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in {"lakecrew", "scipy", "ev_psi", "ev_js", "ev_ks"}:
        child_main(
            {
                "lakecrew": step_lakecrew,
                "scipy": step_scipy,
                "ev_psi": step_ev_psi,
                "ev_js": step_ev_js,
                "ev_ks": step_ev_ks,
            }
        )
    else:
        sys.exit(main(sys.argv[1:]))
