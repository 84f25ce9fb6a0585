"""Cost anomaly detector: seconds at 4,000 and 1,000,000 points, and detection quality on the
simulator's labelled cost anomalies, against a rolling robust z-score baseline run in the same
session.

- lakecrew: `services.finops.anomaly` (Theil–Sen trend on weekly-aligned pairs, weekday medians,
  MAD scale, dollar and percent floors), whole windows fitted together in numpy;
- one-by-one: the same fit point by point (the previous implementation), 4k points only;
- baseline: rolling robust z-score in numpy — median and 1.4826·MAD of the previous 56 points,
  flag when (x − median) / scale > 4 (no trend, no seasonality, no floors);
- ADTK 0.6.2 (an established detector library, `requirements/bench.in`), when installed:
  `SeasonalAD(freq=7, c=3)` (weekly seasonal decomposition fitted on the whole series, so it
  sees the future — an advantage a live detector does not have) and `PersistAD(window=56, c=4)`
  (rolling comparison with the previous 56 points); both one-sided (`side="positive"`).

Quality: the simulator's estate (seed 7) priced like `lakecrew cost report`; a detection is true
when its (workspace, SKU family, day) lies inside an injected anomaly; recall = injected
anomalies found, false alarms per series = untrue detections / series.

Public labelled series: one KPI of the 2018 AIOps Challenge (tests/fixtures/anomaly/SOURCE.md,
8,784 five-minute points, four operator-labelled windows), lakecrew through the path of
`lakecrew anomalies detect --csv` with several user options, against the z-score baseline and
ADTK, both sides; recall of labelled windows, false alarms (detections outside every window).

Run: .venv/bin/python -m benchmarks.bench_anomaly [--quick]   (quick: no 1M run)
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from lakecrew.services.finops import anomaly

WINDOW = 56
K = 4.0


def series(n: int, seed: int = 99) -> np.ndarray:
    """Daily-cost-like series: trend, weekly pattern, noise, 2 % spikes."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = 100 + 0.01 * t + 20 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 5, n)
    spikes = rng.choice(n, n // 50, replace=False)
    v[spikes] += rng.uniform(50, 300, len(spikes))
    return v


def zscore(
    values: np.ndarray, window: int = WINDOW, k: float = K, both: bool = False
) -> np.ndarray:
    """Indexes flagged by the rolling robust z-score baseline (upward, or both sides)."""
    hist = np.lib.stride_tricks.sliding_window_view(values, window)[:-1]
    mid = np.median(hist, axis=1)
    mad = 1.4826 * np.median(np.abs(hist - mid[:, None]), axis=1)
    score = (values[window:] - mid) / np.maximum(mad, 1e-9)
    return np.flatnonzero((np.abs(score) if both else score) > k) + window


def adtk_flags(values: np.ndarray, which: str, freq: int = 7, side: str = "positive") -> np.ndarray:
    """Indexes ADTK flags on a series (`seasonal` with period `freq`, or `persist`)."""
    import warnings

    import pandas as pd
    from adtk.data import validate_series
    from adtk.detector import PersistAD, SeasonalAD

    detector = (
        SeasonalAD(freq=freq, c=3.0, side=side)
        if which == "seasonal"
        else PersistAD(window=WINDOW, c=K, side=side)
    )
    # hourly stamps: 1M daily points would overflow pandas datetimes; ADTK counts in samples
    index = pd.date_range("2000-01-01", periods=len(values), freq="h")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ADTK 0.6.2 on pandas 2: FutureWarnings only
        flags = detector.fit_detect(validate_series(pd.Series(values, index=index)))
    return np.flatnonzero(flags.eq(True).to_numpy())  # NaN (no verdict) is not a flag


def have_adtk() -> bool:
    try:
        import adtk  # noqa: F401
    except ImportError:
        print("(ADTK not installed: pip install -c requirements/lock.txt -r requirements/bench.in)")
        return False
    return True


def one_by_one(values: np.ndarray) -> list[int]:
    """The reference path: each point fitted alone (what the detector did before)."""
    cfg = anomaly.COST_CONFIG
    x = np.arange(len(values), dtype=np.float64)
    found = []
    for i in range(len(values)):
        fit = anomaly._fit_row(x, values, i, cfg)
        if fit is None:
            continue
        scale = max(fit.scale, cfg.rel_scale_floor * abs(fit.expected), 1e-9)
        if anomaly._is_anomalous(float(values[i] - fit.expected), fit.expected, scale, cfg):
            found.append(i)
    return found


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], float, float, Any]:
    """Median wall seconds of `repeats` runs, median CPU seconds of the process (all threads; on
    a loaded machine the closer guide to an idle machine's wall time), then peak MiB from one
    more run under tracemalloc (tracing numpy's allocations slows it, so timed runs are not)."""
    runs: list[float] = []
    cpu: list[float] = []
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return median(runs), runs, median(cpu), peak, out


def speed(quick: bool) -> None:
    print("\n== seconds (median of repeats; ratio against the z-score baseline of the same size)")
    print("| series | method | median s | runs | ratio | CPU s | peak MiB | flagged |")
    print("|---|---|---|---|---|---|---|---|")
    sizes = [(4_000, 5)] + ([] if quick else [(1_000_000, 3)])
    for n, repeats in sizes:
        v = series(n)
        pos = np.arange(n, dtype=np.float64)
        base = timed(lambda v=v: zscore(v), repeats)
        rows = [("z-score baseline", base)]
        rows.append(("lakecrew", timed(lambda v=v, p=pos: anomaly.detect_positions(p, v), repeats)))
        if n <= 4_000:
            rows.append(("lakecrew one-by-one (before)", timed(lambda v=v: one_by_one(v), 1)))
        if have_adtk():
            for which in ("seasonal", "persist"):
                runs = repeats if n <= 4_000 else 1
                rows.append((f"ADTK {which}", timed(lambda v=v, w=which: adtk_flags(v, w), runs)))
        for name, (med, runs, cpu, peak, out) in rows:
            shown = ", ".join(f"{r:.3f}" for r in runs)
            print(
                f"| {n:,} | {name} | {med:.3f} | {shown} | {med / base[0]:.1f} | {cpu:.3f} "
                f"| {peak:,.0f} | {len(out)} |"
            )


def quality() -> None:
    from lakecrew.services.finops.allocation import Allocator
    from lakecrew.services.finops.cost import CostModel
    from lakecrew.services.finops.detection import daily_cost, detect_cost_anomalies
    from lakecrew.services.simulate.simulator import simulate
    from lakecrew.testing.memory_sinks import MemorySink, system_tables_lakehouse

    as_of = date(2026, 3, 31)
    sink = MemorySink()
    report = simulate(sink, seed=7, scale=1, as_of=as_of)
    import tempfile
    from datetime import datetime
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        lake = system_tables_lakehouse(sink, Path(tmp) / "proj")
        engine = lake.engine
        now = datetime.fromisoformat(report.ground_truth["now"])
        priced = CostModel(engine).priced_usage(
            as_of - timedelta(days=89), as_of + timedelta(days=1), as_of=now, by_resource=True
        )
        alloc = Allocator(priced)
        ids = {
            w["workspace_name"]: w["workspace_id"]
            for w in sink.table("system.access.workspaces_latest").to_pylist()
        }
        injected = [
            (ids[a["workspace"]], a["sku_family"], date.fromisoformat(a["start"]),
             date.fromisoformat(a["end"]))
            for a in report.ground_truth["anomalies"]
        ]  # fmt: skip
        cost_series = daily_cost(alloc)
        done = priced.completeness

        t0 = time.perf_counter()
        ours = [(a.series, a.at) for a in detect_cost_anomalies(alloc)]
        methods = [("lakecrew", ours, time.perf_counter() - t0)]
        peers: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [("z-score baseline", zscore)]
        if have_adtk():
            peers += [
                (f"ADTK {w}", lambda a, w=w: adtk_flags(a, w)) for w in ("seasonal", "persist")
            ]
        for name, flag in peers:
            t0 = time.perf_counter()
            flagged = _flag_each(cost_series, done, flag)
            methods.append((name, flagged, time.perf_counter() - t0))
        lake.close()

    print(f"\n== simulator's labelled cost anomalies (seed 7): {len(injected)} injected, "
          f"{len(cost_series)} series")  # fmt: skip
    print("| method | detections | true | recall | false alarms / series | seconds |")
    print("|---|---|---|---|---|---|")
    for name, found, secs in methods:
        _score(name, found, secs, injected, len(cost_series))


def _flag_each(
    cost_series: dict[tuple[str, ...], dict[date, float]],
    done: Any,
    flag: Callable[[np.ndarray], np.ndarray],
) -> list[tuple[tuple[str, ...], date]]:
    """(series, day) flagged by a whole-series detector run on each complete daily series."""
    flagged = []
    for key, values in cost_series.items():
        days = sorted(d for d in values if done.is_complete(d))
        if len(days) <= WINDOW:
            continue
        first = days[0]
        full = [first + timedelta(days=i) for i in range((days[-1] - first).days + 1)]
        arr = np.array([values.get(d, 0.0) for d in full])
        flagged += [(key, full[i]) for i in flag(arr)]
    return flagged


def _score(
    name: str,
    found: list[tuple[tuple[str, ...], date]],
    secs: float,
    injected: list[tuple[str, str, date, date]],
    n_series: int,
) -> None:
    hits: set[int] = set()
    true = 0
    for key, at in found:
        family = key[2].removesuffix("_SERVERLESS")
        matched = [
            i
            for i, (ws, fam, lo, hi) in enumerate(injected)
            if ws == key[0] and fam == family and lo <= at <= hi
        ]
        true += bool(matched)
        hits.update(matched)
    false_per = (len(found) - true) / max(n_series, 1)
    print(f"| {name} | {len(found)} | {true} | {len(hits)}/{len(injected)} "
          f"| {false_per:.3f} | {secs:.2f} |")  # fmt: skip


KPI_FILE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "anomaly" / "kpi.csv"
KPI_PERIOD = 288  # 5-minute points: one day


def public() -> None:
    """The labelled public KPI series (tests/fixtures/anomaly/SOURCE.md): lakecrew through the
    same path as `lakecrew anomalies detect --csv` with the options a user would pass for a
    non-dollar metric where a dip is as bad as a spike, against the baselines (both sides)."""
    import tempfile

    from lakecrew.services.finops.csv_series import detect_csv
    from lakecrew.testing.labelled_series import read_labelled, score, write_iso_csv

    series = read_labelled(KPI_FILE)
    values = np.asarray(series.values)
    row_of = {t: i for i, t in enumerate(series.times)}
    methods: list[tuple[str, Callable[[], list[int]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_iso_csv(series, Path(tmp) / "kpi.csv")
        for label, tuning in LAKECREW_OPTIONS:

            def ours(tuning: dict[str, Any] = tuning) -> list[int]:
                found = detect_csv(csv_path, "at", "value", tuning=tuning)
                return [row_of[str(a["at"])] for a in found]

            methods.append((f"lakecrew `{label}`", ours))
        methods.append(
            ("z-score baseline (both sides, k 4)", lambda: list(zscore(values, both=True)))
        )
        if have_adtk():
            methods += [
                (
                    f"ADTK SeasonalAD(freq={KPI_PERIOD}, c=3, both)",
                    lambda: list(adtk_flags(values, "seasonal", KPI_PERIOD, "both")),
                ),
                (f"ADTK PersistAD(window={WINDOW}, c=4, both)",
                 lambda: list(adtk_flags(values, "persist", side="both"))),
            ]  # fmt: skip
        labelled = sum(hi - lo + 1 for lo, hi in series.windows)
        print(f"\n== labelled public series: AIOps 2018 KPI {len(values):,} points at 5 min, "
              f"{len(series.windows)} labelled windows ({labelled} points)")  # fmt: skip
        print("| method | detections | true | windows found | false alarms | seconds |")
        print("|---|---|---|---|---|---|")
        for name, run in methods:
            t0 = time.perf_counter()
            flagged = run()
            secs = time.perf_counter() - t0
            s = score(flagged, series.windows)
            print(f"| {name} | {s.detections} | {s.true} | {s.found}/{s.windows} "
                  f"| {s.false_alarms} | {secs:.2f} |")  # fmt: skip


NO_FLOORS: dict[str, Any] = {"abs_floor": 0.0, "pct_floor": 0.0, "direction": "both"}
LAKECREW_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--no-floors --direction both", NO_FLOORS),
    ("--no-floors --direction both --k 5", {**NO_FLOORS, "k": 5.0}),
    ("--no-floors --direction both --window 56 --k 6", {**NO_FLOORS, "window": 56, "k": 6.0}),
    (
        f"--no-floors --direction both --period {KPI_PERIOD} --window {2 * KPI_PERIOD}",
        {**NO_FLOORS, "period": KPI_PERIOD, "window": 2 * KPI_PERIOD},
    ),
]


def main() -> None:
    quick = "--quick" in sys.argv
    speed(quick)
    quality()
    public()


if __name__ == "__main__":
    main()
