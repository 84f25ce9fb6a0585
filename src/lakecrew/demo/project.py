"""Composition-level use cases that build a project from scratch: `simulate` and `demo`.

They live outside services/ because they choose adapters (like the wiring package).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.simulation_sink import LocalSimulationSink
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.core.errors import SafetyRefusal
from lakecrew.core.files import write_atomic
from lakecrew.demo.pipelines import run_demo_pipelines
from lakecrew.ports.clock import FixedClock, SystemClock
from lakecrew.services.estate.summary import estate_summary
from lakecrew.services.simulate import simulate, write_ground_truth
from lakecrew.services.simulate.estate import inventory, shadow_workspace
from lakecrew.wiring.context import Context
from lakecrew.wiring.crew import sweep, targets

SIMULATED_MARK = "# SIMULATED ESTATE"
DEMO_MARK = ".lakecrew-demo"
Progress = Callable[[int, int], None]


def simulate_project(
    project_dir: Path,
    *,
    seed: int = 7,
    scale: int = 1,
    as_of: date | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Fill a project with the simulated estate (replacing any earlier simulation there).

    A project whose lakecrew.yaml is a real inventory is refused: the simulation would mix
    invented resources into it.
    """
    layout = ProjectLayout(Path(project_dir).resolve())
    if layout.config_path.exists():
        head = layout.config_path.read_text(encoding="utf-8")[:200]
        if not head.startswith(SIMULATED_MARK):
            raise SafetyRefusal(
                "this project's lakecrew.yaml is not a simulated estate",
                where=str(layout.config_path),
                fix="run `lakecrew simulate` (or `lakecrew demo`) in an empty folder",
            )
    if layout.state_dir.exists():
        shutil.rmtree(layout.state_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.ensure()
    store = DeltaStore.for_project(layout)
    metastore = SqliteMetastore(layout.metastore_path)
    ensure_system_tables(store, metastore)
    ids = {w.name: w.workspace_id for w in [*inventory(), shadow_workspace()]}
    steps: dict[str, int] = {}

    def progress(step: str, done: int, total: int) -> None:
        steps[step] = done
        if on_progress is not None:
            on_progress(done, total)

    sink = LocalSimulationSink(
        layout, store, metastore, ids, clock=SystemClock(), on_progress=progress
    )
    t0 = time.perf_counter()
    try:
        report = simulate(sink, seed=seed, scale=scale, as_of=as_of)
    finally:
        sink.close()
        metastore.close()
    write_atomic(layout.config_path, report.estate_yaml)
    truth_path = layout.simulation_dir / "ground_truth.json"
    write_ground_truth(report, truth_path)
    return {
        "project": str(layout.root),
        "seed": seed,
        "scale": scale,
        "as_of": report.as_of.isoformat(),
        "seconds": round(time.perf_counter() - t0, 1),
        "resources": report.resources,
        "resource_total": report.resource_total,
        "rows": report.rows,
        "planted_violations": len(report.ground_truth.get("violations", [])),
        "ground_truth": str(truth_path),
    }


def run_demo(
    project_dir: Path, *, seed: int = 7, on_progress: Progress | None = None
) -> dict[str, Any]:
    """`lakecrew demo`: a fresh simulated estate, then the report a newcomer should see."""
    root = Path(project_dir).resolve()
    if root.exists() and any(root.iterdir()) and not (root / DEMO_MARK).exists():
        raise SafetyRefusal(
            "the demo folder exists and was not made by `lakecrew demo`",
            where=str(root),
            fix="pass --project with an empty or new folder",
        )
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / DEMO_MARK).write_text("made by `lakecrew demo`; safe to delete\n", encoding="utf-8")
    sim = simulate_project(root, seed=seed, on_progress=on_progress)
    truth = json.loads(Path(sim["ground_truth"]).read_text(encoding="utf-8"))
    # The simulated estate's "now" (its billing lag, idle clusters) is the ground truth's clock.
    clock = FixedClock(datetime.fromisoformat(truth["now"]))
    with Context.open(root, writable=True, clock=clock) as ctx:
        summary = estate_summary(ctx.config, ctx.workspace, ctx.sql)
        pipelines = run_demo_pipelines(ctx)
        from lakecrew.demo.mlops import run_mlops_demo  # imports mlflow (seconds)

        mlops = run_mlops_demo(ctx)
        swept = _demo_sweep(ctx, truth)
        write_cost_series(ctx.sql, root / "series.csv")
    return {
        "simulation": sim,
        "summary": summary,
        "pipelines": pipelines,
        "mlops": mlops,
        "sweep": swept,
        "data": _where_data_lives(ctx.layout),
    }


DAILY_COST_SQL = """
SELECT CAST(u.usage_date AS STRING) AS day,
       u.workspace_id || '/' || coalesce(u.custom_tags['project'], 'untagged') AS series,
       CAST(round(SUM(u.usage_quantity * lp.pricing.effective_list.default), 2) AS STRING) AS usd
FROM system.billing.usage u
JOIN system.billing.list_prices lp
  ON  u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
  AND lp.currency_code = 'USD'
  AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
GROUP BY ALL
ORDER BY day, series
""".strip()


def write_cost_series(sql: Any, path: Path) -> Path:
    """series.csv (day, series = workspace_id/project, usd): the simulated daily list cost, the
    input of the README's `lakecrew anomalies detect --csv series.csv` step (simulated data)."""
    import csv

    rows = sql.fetch(DAILY_COST_SQL).rows
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["day", "series", "usd"])
        writer.writerows(rows)
    return path


def _demo_sweep(ctx: Context, truth: dict[str, Any]) -> dict[str, Any]:
    """A phase-1 sweep of the whole estate (read-only) and a phase-2 plan for Dev (not applied)."""
    results = sweep(ctx, apply=False, phase=1)
    findings = [tf.finding for r in results for tf in r.findings]
    by_rule: dict[str, dict[str, Any]] = {}
    for f in findings:
        row = by_rule.setdefault(f.rule_id, {"rule": f.rule_id, "sop": f.sop_section})
        row[f.severity] = row.get(f.severity, 0) + 1
    found = [(f.rule_id, f.resource_type, f.resource_id) for f in findings]
    planted = {(v["code"], v["kind"], v["resource_id"]) for v in truth["violations"]}
    hits = len(planted & set(found))
    dev = [t for t in targets(ctx) if t.info.environment == "dev"]
    dev_plan = ctx.crew.sweep(dev, apply=False, phase=2)
    planned: dict[str, int] = {}
    for r in dev_plan:
        for a in r.plan.actions:
            planned[f"{a.action} ({a.status})"] = planned.get(f"{a.action} ({a.status})", 0) + 1
    lines = [
        f"phase-1 sweep: {sum(r.discovered for r in results)} resources discovered, "
        f"{sum(r.evaluated for r in results)} evaluated, {len(findings)} findings; "
        f"planted violations found: {hits}/{len(planted)} "
        f"(recall {hits / max(len(planted), 1):.2f}, precision "
        f"{hits / max(len(set(found)), 1):.2f})",
        "phase-2 plan for Dev (not applied; `lakecrew sweep --phase 2 --apply` acts): "
        + ", ".join(f"{n} × {k}" for k, n in sorted(planned.items())),
    ]
    return {
        "title": "Phase-1 sweep of the estate: findings by rule and severity",
        "by_rule": sorted(by_rule.values(), key=lambda r: r["rule"]),
        "findings": len(findings),
        "recall": hits / max(len(planted), 1),
        "precision": hits / max(len(set(found)), 1),
        "dev_phase2_plan": planned,
        "lines": lines,
    }


def _where_data_lives(layout: ProjectLayout) -> dict[str, str]:
    return {
        "estate": str(layout.config_path),
        "delta_tables": str(layout.lakehouse_dir),
        "metastore": str(layout.metastore_path),
        "workspace_objects": str(layout.workspace_db),
        "ground_truth": str(layout.simulation_dir / "ground_truth.json"),
    }
