"""`lakecrew model drift`: an inference table against the version's training baseline.

Baseline = the Delta table and version the training run logged as its input dataset (read by
time travel, so later writes to the feature table do not move the baseline); its predictions are
re-scored with the same model version. Current = the inference table's rows for that version
(optionally since a date). Drift, a missing/new column, and a performance drop once labels arrive
become findings in the crew ledger (`lakecrew findings`), with the numbers as evidence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lakecrew.core.errors import DataError, NotFound, UsageError
from lakecrew.core.findings import fingerprint
from lakecrew.ports.ledger import FindingRow
from lakecrew.services.mlops import drift as dr
from lakecrew.services.mlops.gates import metric
from lakecrew.services.mlops.hygiene import MODELS_SCOPE
from lakecrew.services.mlops.service import MlopsDeps, delta_source

META_COLUMNS = ("model_name", "model_version", "scored_at")
SOP = "1.7.2"


@dataclass(frozen=True)
class DriftFinding:
    rule_id: str
    severity: str
    subject: str
    detail: str
    evidence: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "subject": self.subject,
            "detail": self.detail,
            "sop_section": SOP,
        }


@dataclass(frozen=True)
class DriftRun:
    model: str
    version: str
    baseline: str
    inference_table: str
    rows_ref: int
    rows_cur: int
    report: dr.DriftReport
    findings: tuple[DriftFinding, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "baseline": self.baseline,
            "inference_table": self.inference_table,
            "rows_ref": self.rows_ref,
            "rows_cur": self.rows_cur,
            **self.report.as_dict(),
            "findings": [f.as_dict() for f in self.findings],
        }


def _version_of(deps: MlopsDeps, model: str, version: str | None) -> str:
    if version:
        return version
    aliases = deps.registry.get_model(model).aliases
    for alias in deps.config.production_aliases:
        if alias in aliases:
            return aliases[alias]
    versions = deps.registry.list_versions(model)
    if not versions:
        raise NotFound(f"model {model} has no version", fix="register a version first")
    return versions[-1].version


def _baseline(deps: MlopsDeps, model: str, version: str) -> tuple[str, int | None]:
    versions = deps.registry.list_versions(model)
    v = next((x for x in versions if x.version == version), None)
    if v is None:
        known = ", ".join(x.version for x in versions) or "none"
        raise NotFound(
            f"{model} has no version {version}",
            fix=f"its versions: {known} (`lakecrew models`)",
        )
    if not v.run_id:
        raise NotFound(f"{model} v{version} has no source run: no training baseline")
    run = deps.registry.run_facts(v.run_id)
    if run.problem:
        raise DataError(f"{model} v{version}: {run.problem}; no training baseline")
    for ds in run.datasets:
        src = delta_source(ds)
        if src and (ds.context in (None, "training")):
            return src
    raise DataError(
        f"{model} v{version}: its run logged no Delta training dataset; no baseline to compare",
        fix="log the training table with mlflow.log_input(..., context='training')",
    )


def model_drift(
    deps: MlopsDeps,
    model: str,
    version: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DriftRun:
    settings = deps.config.settings(model)
    if not settings.inference_table:
        raise UsageError(
            f"no inference table declared for {model}",
            where="lakecrew.yaml mlops.models",
            fix="set inference_table",
        )
    if not settings.features:
        raise UsageError(f"no features declared for {model}", where="lakecrew.yaml mlops.models")
    version = _version_of(deps, model, version)
    table, tv = _baseline(deps, model, version)
    ref = _training_rows(deps.read_columns(table, tv, None), table, settings)
    cur = deps.read_columns(settings.inference_table, None, None)
    if "model_version" in cur:
        keep = np.asarray(cur["model_version"]).astype(str) == version
        if since is not None and "scored_at" in cur:
            keep &= np.asarray(cur["scored_at"]) >= _naive(since)
        if until is not None and "scored_at" in cur:
            keep &= np.asarray(cur["scored_at"]) < _naive(until)
        cur = {k: np.asarray(v)[keep] for k, v in cur.items()}
    n_cur = len(next(iter(cur.values()))) if cur else 0
    if n_cur == 0:
        raise DataError(
            f"{settings.inference_table} holds no rows for {model} v{version}"
            + (f" since {since.date()}" if since else ""),
            fix="score a batch first, or widen --since",
        )
    present = [f for f in settings.features if f in ref]
    if deps.scorer is not None and present == list(settings.features):
        feats = {f: np.asarray(ref[f], dtype=float) for f in settings.features}
        ref = {**ref, settings.prediction: np.asarray(deps.scorer.predict(model, version, feats))}
    th = dr.Thresholds(**settings.drift.model_dump())
    ignore = {*META_COLUMNS, settings.label, *settings.keys}
    report = dr.drift_report(
        ref, cur, settings.features, prediction=settings.prediction, thresholds=th, ignore=ignore
    )
    perf, note = _performance(deps, model, version, cur, settings)
    report = dr.DriftReport(
        report.columns, report.missing_columns, report.new_columns, perf, note, report.problems
    )
    n_ref = len(next(iter(ref.values()))) if ref else 0
    run = DriftRun(
        model, version, f"{table}@v{tv}", settings.inference_table, n_ref, n_cur, report, ()
    )
    return DriftRun(**{**run.__dict__, "findings": tuple(_findings(run, th))})


def _naive(ts: datetime) -> np.datetime64:
    """UTC wall time without zone (the inference table's timestamps are read as UTC)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(ts, "us")


def _training_rows(ref: dict[str, np.ndarray], table: str, settings: Any) -> dict[str, np.ndarray]:
    """The baseline without the held-out rows, when the gates hold out part of the same table."""
    h = settings.gates.holdout if settings.gates else None
    if h is None or h.table != table or not h.split_column or h.split_column not in ref:
        return ref
    keep = np.asarray(ref[h.split_column]).astype(str) != str(h.split_value)
    return {k: np.asarray(v)[keep] for k, v in ref.items()}


def _performance(
    deps: MlopsDeps, model: str, version: str, cur: Mapping[str, np.ndarray], settings: Any
) -> tuple[dict[str, float] | None, str | None]:
    name = settings.gates.metrics[0].name if settings.gates and settings.gates.metrics else "recall"
    if settings.label not in cur or settings.prediction not in cur:
        return None, f"no {settings.label!r} column yet: performance waits for labels"
    y = np.asarray(cur[settings.label], dtype=float)
    s = np.asarray(cur[settings.prediction], dtype=float)
    ok = np.isfinite(y) & np.isfinite(s)
    if not ok.any():
        return None, "no labelled rows yet: performance waits for labels"
    now = metric(name, y[ok].astype(int), s[ok], settings.threshold)
    v = next(x for x in deps.registry.list_versions(model) if x.version == version)
    trained = deps.registry.run_facts(v.run_id).metrics.get(f"holdout_{name}") if v.run_id else None
    out = {f"{name}_now": float("nan") if now is None else now, "labelled_rows": float(ok.sum())}
    if trained is not None:
        out[f"{name}_training"] = trained
    return out, None


def _findings(run: DriftRun, th: dr.Thresholds) -> list[DriftFinding]:
    out = []
    for c in run.report.drifted:
        rule = "model.prediction_drift" if c.kind == "prediction" else "model.feature_drift"
        out.append(
            DriftFinding(
                rule,
                "warning",
                f"{run.model}/{run.version}:{c.column}",
                f"{c.column}: " + "; ".join(c.reasons),
                c.as_dict(),
            )
        )
    for col in run.report.missing_columns:
        out.append(
            DriftFinding(
                "model.inference_schema",
                "critical",
                f"{run.model}/{run.version}:{col}",
                f"feature {col} missing from {run.inference_table}",
                {"column": col},
            )
        )
    for col in run.report.new_columns:
        out.append(
            DriftFinding(
                "model.inference_schema",
                "info",
                f"{run.model}/{run.version}:{col}",
                f"column {col} in {run.inference_table} is not a model feature",
                {"column": col},
            )
        )
    perf = run.report.performance or {}
    now = next((v for k, v in perf.items() if k.endswith("_now")), None)
    trained = next((v for k, v in perf.items() if k.endswith("_training")), None)
    if now is not None and trained is not None and trained - now > th.performance_drop:
        out.append(
            DriftFinding(
                "model.performance_drop",
                "critical",
                f"{run.model}/{run.version}",
                f"performance {now:.3f} vs {trained:.3f} at training "
                f"(drop > {th.performance_drop})",
                dict(perf),
            )
        )
    return out


def record_findings(deps: MlopsDeps, run: DriftRun, owner: str) -> list[FindingRow]:
    """Upsert the drift findings into the crew ledger (one per rule × subject)."""
    now = deps.clock.now()
    rows = []
    for f in run.findings:
        fp = fingerprint(MODELS_SCOPE, "model_versions", f.subject, f.rule_id)
        rows.append(
            FindingRow(
                fingerprint=fp,
                workspace=MODELS_SCOPE,
                rule_id=f.rule_id,
                severity=f.severity,
                resource_type="model_versions",
                resource_id=f.subject,
                resource_name=run.model,
                owner=owner,
                owner_source="mlops.models.owner",
                status="open",
                evidence_json=json.dumps(f.evidence, default=str, sort_keys=True),
                first_seen=now,
                last_seen=now,
                resolved_at=None,
                sweep_id=f"drift-{now.strftime('%Y%m%dT%H%M%S')}",
                title=f.detail,
            )
        )
    if rows:
        deps.ledger.put_findings(rows)
    return rows


def alert_context(model: str, prod_catalog: str | None, tags: Mapping[str, str]) -> tuple[str, str]:
    """(environment, project) of a model for alert routing: prod when it lives in the prod
    catalog, else the catalog's `_dev`/`_qa`/`_prod` suffix; the project from `project_tags`."""
    catalog = model.split(".", 1)[0]
    env = "prod" if prod_catalog and catalog == prod_catalog else ""
    for suffix in ("dev", "qa", "prod"):
        if not env and catalog.endswith(f"_{suffix}"):
            env = suffix
    return env, tags.get("project", "")


def weekly_section(run: DriftRun) -> list[str]:
    """Markdown lines for the weekly report's model-monitoring section."""
    lines = [
        f"### Model monitoring: {run.model} v{run.version}",
        "",
        f"Baseline {run.baseline} ({run.rows_ref:,} rows) vs {run.inference_table} "
        f"({run.rows_cur:,} rows).",
        "",
        "| column | PSI | Jensen–Shannon | KS | drifted |",
        "|---|---|---|---|---|",
    ]
    for c in run.report.columns:
        lines.append(
            f"| {c.column} | {c.psi:.3f} | {c.js:.3f} | {c.ks:.3f} | "
            f"{'yes' if c.drifted else 'no'} |"
        )
    if run.report.performance:
        lines += [
            "",
            "Performance: " + ", ".join(f"{k} {v:.3f}" for k, v in run.report.performance.items()),
        ]
    elif run.report.performance_note:
        lines += ["", run.report.performance_note]
    lines += [
        "",
        f"{len(run.findings)} finding(s): " + ("; ".join(f.detail for f in run.findings) or "none"),
    ]
    return lines
