"""The MLOps part of `lakecrew demo`, on the real NCDC Lassa fever data the pipelines loaded.

gold.lassa_weekly_by_state → features table (lags of weekly confirmed cases per state) → a
logistic-regression model "any confirmed case next week?" logged to the project's MLflow with its
Delta dataset, registered twice → promotion gates (metrics, no regression vs the champion,
recall gap across states, robustness to noisy inputs, approver) → batch scoring of the held-out
weeks into an inference table (shadow scoring when the gates refuse) → a simulated reporting
surge (counts ×3, a later window) that the drift monitor must catch → the hygiene rules over
the registry.

The first promotion attempt has no approver and is refused; the second passes every gate. The
fairness gate is close: recall across the states with enough positive weeks spans about 0.5
(Nasarawa) to 1.0 (Ondo) against a 0.5 limit, and most states have too few positive weeks to
judge (listed, not passed silently). With a time-ordered hold-out (the last 30 % of weeks) the
gap is 0.9 and the gate refuses.
"""

from __future__ import annotations

import math
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakecrew.adapters.mlflow import local_tracking_uri
from lakecrew.adapters.mlflow.training import train_and_register
from lakecrew.services.mlops.config import (
    FairnessGate,
    Gates,
    Holdout,
    MetricGate,
    MlopsConfig,
    ModelSettings,
    RobustnessGate,
)
from lakecrew.services.mlops.monitor import model_drift, record_findings
from lakecrew.wiring.mlops import model_ops

if TYPE_CHECKING:
    from lakecrew.wiring.context import Context

GOLD = "lassa_dev.gold.lassa_weekly_by_state"
FEATURES_TABLE = "lassa_dev.ml.lassa_features"
PREDICTIONS = "lassa_dev.ml.lassa_predictions"
MODEL = "lassa_dev.ml.lassa_next_week"
FEATURES = [
    "log_confirmed",
    "log_lag1",
    "log_lag2",
    "log_lag3",
    "log_mean4",
    "week_sin",
    "week_cos",
]
APPROVER = "ml-lead@ehealthafrica.org"
HOLDOUT_SHARE = 0.3


def demo_settings() -> MlopsConfig:
    """What a project would declare in lakecrew.yaml's `mlops:` for this model."""
    gates = Gates(
        holdout=Holdout(table=FEATURES_TABLE, split_column="split", split_value="holdout"),
        metrics=[
            MetricGate(name="recall", min=0.6, max_regression=0.05),
            MetricGate(name="precision", min=0.5),
        ],
        fairness=FairnessGate(metric="recall", by=["state"], max_gap=0.5, min_group_size=15),
        robustness=RobustnessGate(metric="recall", noise=0.1, max_drop=0.1),
        approvers=[APPROVER],
    )
    settings = ModelSettings(
        owner="data-science@ehealthafrica.org",
        inference_table=PREDICTIONS,
        features=FEATURES,
        keys=["state", "year", "week"],
        label="label",
        prediction="prediction",
        gates=gates,
    )
    return MlopsConfig(
        prod_catalog="lassa_prod",
        project_tags={"project": "lassa_surveillance", "cost_center": "cc-1042"},
        models={MODEL: settings},
    )


def build_features(gold: pa.Table) -> pa.Table:
    """Per state and week: log1p of confirmed cases now and 1-3 weeks back, 4-week mean, season;
    label = any confirmed case the next week; 30 % of state-weeks (seeded draw) are held out.

    A random hold-out keeps the demo's "as reported" scoring window distributed like training
    data, so the drift the monitor reports is the simulated surge's, not the seasons'."""
    rows = sorted(gold.to_pylist(), key=lambda r: (r["state"], r["year"], r["week"]))
    out: list[dict[str, Any]] = []
    rng = np.random.default_rng(18)
    by_state: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_state.setdefault(r["state"], []).append(r)
    for state, series in by_state.items():
        counts = [float(r["confirmed"] or 0) for r in series]
        for i in range(3, len(series) - 1):
            r = series[i]
            angle = 2 * math.pi * (int(r["week"]) - 1) / 52.0
            out.append(
                {
                    "state": state,
                    "year": int(r["year"]),
                    "week": int(r["week"]),
                    "log_confirmed": math.log1p(counts[i]),
                    "log_lag1": math.log1p(counts[i - 1]),
                    "log_lag2": math.log1p(counts[i - 2]),
                    "log_lag3": math.log1p(counts[i - 3]),
                    "log_mean4": math.log1p(sum(counts[i - 3 : i + 1]) / 4),
                    "week_sin": math.sin(angle),
                    "week_cos": math.cos(angle),
                    "label": int(counts[i + 1] >= 1),
                    "split": "holdout" if rng.random() < HOLDOUT_SHARE else "train",
                }
            )
    return pa.Table.from_pylist(out)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _declare(ctx: Context) -> None:
    """Write the demo model's `mlops:` section into the project's lakecrew.yaml (and reload)."""
    import yaml

    from lakecrew.services.estate.config import load_estate

    if ctx.config.mlops.models:
        return
    section = demo_settings().model_dump(mode="json", exclude_defaults=True)
    text = ctx.layout.config_path.read_text(encoding="utf-8").rstrip("\n")
    block = yaml.safe_dump({"mlops": section}, sort_keys=False, allow_unicode=True)
    ctx.layout.config_path.write_text(
        f"{text}\n# MLOps (SOP 1.7): written by the demo\n{block}", encoding="utf-8"
    )
    ctx.config = load_estate(ctx.layout.config_path, require_approved=False)


def _write(ctx: Context, name: str, table: pa.Table) -> int:
    ctx.store.create_table(name, table.schema, exist_ok=True)
    return ctx.store.overwrite(name, table).version


def run_mlops_demo(ctx: Context) -> dict[str, Any]:
    """Train, gate, promote, score, drift-check and sweep the Lassa model; a summary dict."""
    _declare(ctx)
    features = build_features(ctx.store.read(GOLD))
    fv = _write(ctx, FEATURES_TABLE, features)
    split = np.asarray(features.column("split").to_pylist())
    cols = {n: np.asarray(features.column(n).to_pylist()) for n in features.column_names}
    train = {k: v[split == "train"] for k, v in cols.items()}
    hold = {k: v[split == "holdout"] for k, v in cols.items()}
    state = ctx.layout.state_dir
    commit = _git_commit()
    versions = []
    for c in (1.0, 0.05):
        tv = train_and_register(
            local_tracking_uri(state),
            experiment="lassa_next_week",
            artifact_dir=state / "mlflow" / "artifacts",
            model_name=MODEL,
            train=train,
            holdout=hold,
            features=FEATURES,
            label="label",
            dataset_table=FEATURES_TABLE,
            dataset_version=fv,
            dataset_id=str(ctx.store.table(FEATURES_TABLE).metadata().id),
            source_commit=commit,
            params={"C": c, "class_weight": "balanced"},
            description=f"Any confirmed Lassa case next week per state (logistic, C={c})",
            tags={"project": "lassa_surveillance"},
        )
        versions.append(tv)
    ops = model_ops(ctx)
    reg = ops.deps.registry
    reg.set_model_tags(MODEL, {"owner": "data-science@ehealthafrica.org"})
    for tv in versions:
        ops.record_lineage(MODEL, tv.version, run_id=tv.run_id, sources=[FEATURES_TABLE])
    ctx.metastore.record(_edge(GOLD, FEATURES_TABLE, ctx))
    refused, _ = ops.promote(MODEL, versions[-1].version, alias="champion", approver=None)
    gate, row = ops.promote(MODEL, versions[-1].version, alias="champion", approver=APPROVER)
    champion = reg.get_model(MODEL).aliases.get("champion")
    scored_version: str = champion or versions[-1].version  # refused: scored in shadow mode
    scored = _score(ctx, ops, scored_version, hold)
    ops.record_lineage(
        MODEL, scored_version, run_id=None, sources=[], serving=[(PREDICTIONS, "BATCH_SCORING_JOB")]
    )
    surge_start = scored["surge_start"]
    normal = model_drift(ops.deps, MODEL, scored_version, until=surge_start)
    surge = model_drift(ops.deps, MODEL, scored_version, since=surge_start)
    record_findings(ops.deps, surge, "data-science@ehealthafrica.org")
    hygiene = ops.hygiene()
    return {
        "model": MODEL,
        "features_table": f"{FEATURES_TABLE}@v{fv}",
        "rows": {"train": len(train["label"]), "holdout": len(hold["label"])},
        "versions": [{"version": v.version, "run_id": v.run_id, **v.metrics} for v in versions],
        "gate": gate.as_dict(),
        "refused_without_approver": [c.detail for c in refused.failing],
        "champion": champion,
        "promotion": row.action_id if row else None,
        "scored_version": scored_version,
        "inference_rows": scored["rows"],
        "drift_normal": [c.column for c in normal.report.drifted],
        "drift_surge": [c.column for c in surge.report.drifted],
        "drift_findings": [f.detail for f in surge.findings],
        "hygiene_findings": sorted({f.rule_id for f in hygiene.findings}),
    }


def _edge(source: str, target: str, ctx: Context) -> Any:
    from lakecrew.ports.catalog import LineageEdge

    return LineageEdge(
        source, target, "FEATURE_ENGINEERING", "lakecrew.demo.mlops", None, ctx.clock.now()
    )


def _score(ctx: Context, ops: Any, version: str, hold: dict[str, np.ndarray]) -> dict[str, Any]:
    """Two scoring windows of the held-out weeks: as reported, then a simulated surge."""
    assert ops.deps.scorer is not None
    now = ctx.clock.now()
    n = len(hold["label"])
    surge = {
        k: (np.log1p(np.expm1(v.astype(float)) * 3 + 2) if k.startswith("log_") else v)
        for k, v in hold.items()
    }
    tables = []
    for offset, data in ((timedelta(days=14), hold), (timedelta(days=2), surge)):
        feats = {f: np.asarray(data[f], dtype=float) for f in FEATURES}
        pred = ops.deps.scorer.predict(MODEL, version, feats)
        cols: dict[str, Any] = {k: data[k].tolist() for k in ("state", "year", "week")}
        cols.update({f: feats[f].tolist() for f in FEATURES})
        cols["prediction"] = pred
        cols["label"] = [float(x) for x in data["label"]]
        cols["model_name"] = [MODEL] * n
        cols["model_version"] = [version] * n
        cols["scored_at"] = pa.array([now - offset] * n, pa.timestamp("us", tz="UTC"))
        tables.append(pa.table(cols))
    _write(ctx, PREDICTIONS, pa.concat_tables(tables))
    return {"rows": 2 * n, "surge_start": now - timedelta(days=3)}
