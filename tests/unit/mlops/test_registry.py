"""The ModelRegistry port over a real local MLflow store, hygiene rules on bad input, actions
with rollback, promotion gates, drift over an inference table and the CLI."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakecrew.core.errors import NotFound
from lakecrew.faces.cli.main import app
from lakecrew.ports.clock import FixedClock
from lakecrew.services.mlops.monitor import model_drift
from lakecrew.testing.mlflow_store import APPROVER, MODEL, StoreProject, synthetic
from lakecrew.wiring.context import Context
from lakecrew.wiring.mlops import model_ops, rollback_action, sweep_models

# one session MLflow store (store_project, ~8 s to build) for both files: one worker
pytestmark = pytest.mark.xdist_group("mlflow_store")


@pytest.fixture
def ctx(store_project: StoreProject) -> Iterator[Context]:
    c = Context.open(store_project.root, writable=True)
    yield c
    c.close()


def _register_copy(sp: StoreProject, name: str, version_index: int = 0) -> str:
    """Register the same logged model under a new name (cheap: no training)."""
    import mlflow

    mlflow.set_tracking_uri(sp.tracking_uri)
    mlflow.set_registry_uri(sp.tracking_uri)
    client = mlflow.MlflowClient()
    src = client.get_model_version(MODEL, sp.versions[version_index].version)
    return str(mlflow.register_model(src.source, name).version)


def _findings(ctx: Context, prefix: str, *, now: datetime | None = None) -> set[tuple[str, str]]:
    if now is not None:
        ctx.clock = FixedClock(now)
    res = model_ops(ctx).hygiene()
    return {(f.rule_id, f.resource_id) for f in res.findings if f.resource_id.startswith(prefix)}


def test_port_reads_versions_runs_datasets_and_aliases(ctx: Context) -> None:
    reg = model_ops(ctx).deps.registry
    versions = reg.list_versions(MODEL)
    assert [v.version for v in versions][:2] == ["1", "2"]
    v = versions[0]
    assert v.has_signature and v.has_input_example and v.artifact_problem is None
    run = reg.run_facts(v.run_id or "")
    assert run.source_commit == "0123abc" and run.problem is None
    assert (
        run.datasets[0].name.startswith("dev.ml.feat@v") and run.datasets[0].context == "training"
    )
    assert set(run.metrics) >= {"holdout_recall", "holdout_f1"}


def test_hygiene_flags_bad_registry_input(ctx: Context, store_project: StoreProject) -> None:
    import mlflow

    reg = model_ops(ctx).deps.registry
    client = reg.client
    # a model without any version
    client.create_registered_model("dev.ml.hyg_empty")
    # a version whose run was deleted, one whose artifacts are gone, one whose run is unknown
    deleted = _register_copy(store_project, "dev.ml.hyg_deleted")
    with mlflow.start_run(experiment_id=store_project.versions[0].experiment_id) as run:
        mlflow.log_metric("f1", float("nan"))
        mlflow.log_metric("rmse", 1.0)
    client.delete_run(store_project.versions[1].run_id)
    try:
        nan_model = (
            client.create_model_version("dev.ml.hyg_nan", "file:///nowhere/model", run.info.run_id)
            if client.create_registered_model("dev.ml.hyg_nan")
            else None
        )
        client.create_registered_model("dev.ml.hyg_foreign")
        client.create_model_version("dev.ml.hyg_foreign", "file:///nowhere/m", "0" * 32)
        found = _findings(ctx, "dev.ml.hyg_")
    finally:
        client.restore_run(store_project.versions[1].run_id)
    assert ("model.no_versions", "dev.ml.hyg_empty") in found
    assert ("model.owner_missing", "dev.ml.hyg_empty") in found
    assert ("model_version.metrics_non_numeric", f"dev.ml.hyg_nan/{nan_model.version}") in found
    assert ("model_version.artifacts_missing", "dev.ml.hyg_nan/1") in found
    assert ("model_version.source_commit_missing", "dev.ml.hyg_nan/1") in found
    assert ("model_version.dataset_missing", "dev.ml.hyg_nan/1") in found
    assert ("model_version.run_unreadable", "dev.ml.hyg_foreign/1") in found
    assert ("model_version.run_unreadable", f"dev.ml.hyg_deleted/{deleted}") not in found
    assert ("model.tags_missing", "dev.ml.hyg_empty") in found


def test_deleted_run_is_reported_not_skipped(ctx: Context, store_project: StoreProject) -> None:
    reg = model_ops(ctx).deps.registry
    run_id = store_project.versions[1].run_id
    reg.client.delete_run(run_id)
    try:
        facts = reg.run_facts(run_id)
    finally:
        reg.client.restore_run(run_id)
    assert facts.deleted and facts.problem == f"run {run_id} is deleted"


def test_model_actions_run_through_the_crew_executor_and_roll_back(
    ctx: Context, store_project: StoreProject
) -> None:
    """archive_model_version and add_model_tags are rule-engine plugins the crew's Executor
    takes in the `(models)` sweep scope: phase gates, intent with the before-state, applied,
    verified by the next sweep; `lakecrew rollback` restores them; a crashed intent is
    reconciled from the registry's live state."""
    from lakecrew.services.crew.executor import Executor
    from lakecrew.services.policy.actions import ActionPorts

    name = "dev.ml.hyg_stale"
    version = _register_copy(store_project, name)
    reg = model_ops(ctx).deps.registry
    reg.set_alias(name, "challenger", version)
    reg.set_model_tags(name, {"owner": "ds@example.org"})
    ctx.clock = FixedClock(datetime.now(UTC) + timedelta(days=120))
    first = sweep_models(ctx, apply=True, phase=2, only=name)
    assert first is not None and first.scope == "(models)" and not first.failed
    assert ("model_version.stale", f"{name}/{version}") in {
        (tf.finding.rule_id, tf.finding.resource_id) for tf in first.findings
    }
    archive = next(a for a in first.plan.actions if a.action == "archive_model_version")
    assert archive.status == "skipped" and "phase 2 < 3" in archive.reason
    assert reg.get_model(name).aliases == {"challenger": version}  # phase 2: not archived
    tags = next(a for a in first.applied if a.action == "add_model_tags")
    assert json.loads(tags.before_json or "")["tags"] == {"owner": "ds@example.org"}
    assert reg.get_model(name).tags == {"owner": "ds@example.org", "project": "p1",
                                        "cost_center": "cc-1"}  # fmt: skip

    done = sweep_models(ctx, apply=True, phase=3, only=name)
    assert done is not None
    row = next(a for a in done.applied if a.action == "archive_model_version")
    assert row.resource_id == f"{name}/{version}" and row.workspace == "(models)"
    assert json.loads(row.before_json or "")["aliases"] == ["challenger"]
    assert reg.get_model(name).aliases == {}
    assert reg.list_versions(name)[0].tags["gov.lifecycle"] == "archived"
    assert [a.principal for a in reg.permissions(name) or ()] == ["ds@example.org"]
    again = sweep_models(ctx, apply=True, phase=3, only=name)  # idempotent, and verified
    assert again is not None and not again.applied and not again.plan.runnable
    assert ctx.crew.action(row.action_id).verified_at is not None

    out = CliRunner().invoke(app, ["rollback", row.action_id, "--project", str(store_project.root)])
    assert out.exit_code == 0, out.output
    assert reg.get_model(name).aliases == {"challenger": version}
    assert "gov.lifecycle" not in reg.list_versions(name)[0].tags
    assert reg.permissions(name) is None
    rolled = rollback_action(ctx, ctx.crew.action(tags.action_id))
    assert rolled.status == "rolled_back" and reg.get_model(name).tags == {
        "owner": "ds@example.org"
    }

    # a crash after the intent was recorded, before the registry call: planned again
    intent = replace(row, status="intent", action_id="0" * 24, after_json=None)
    ctx.ledger.record_action(intent)
    ports = ActionPorts("(models)", models=reg)
    (settled,) = Executor(ports, ctx.ledger, ctx.clock).reconcile([intent])
    assert settled.status == "planned", settled.reason


def test_promotion_gates_then_alias_move_and_rollback(
    ctx: Context, store_project: StoreProject
) -> None:
    ops = model_ops(ctx)
    refused, row = ops.promote(MODEL, "1", alias="champion", approver=None)
    assert row is None and [c.gate for c in refused.failing] == ["approver"]
    fair = next(c for c in refused.checks if c.gate == "fairness")
    assert "group=g4" in fair.numbers["too_small"]  # the 6-row group is named, not skipped
    result, row = ops.promote(MODEL, "1", alias="champion", approver=APPROVER)
    assert result.passed and row is not None and row.status == "applied"
    assert ops.deps.registry.get_model(MODEL).aliases["champion"] == "1"
    tags = ops.deps.registry.list_versions(MODEL)[0].tags
    assert tags["gov.approved_by"] == APPROVER and tags["gov.lifecycle"] == "champion"
    # v2 (C=0.01) is compared with champion v1 on the same held-out rows
    second, row2 = ops.promote(MODEL, "2", alias="champion", approver=APPROVER)
    assert second.baseline == "1"
    assert any(c.gate == "regression" for c in second.checks)
    ops.rollback(row2) if row2 is not None else None
    ops.rollback(row)
    assert "champion" not in ops.deps.registry.get_model(MODEL).aliases
    assert "gov.approved_by" not in ops.deps.registry.list_versions(MODEL)[0].tags


def _inference(ctx: Context, version: str, *, shift: float, drop: str | None = None) -> None:
    rng = np.random.default_rng(11)
    n = 400
    base = synthetic()
    train = base["split"] == "train"  # calm = resampled training rows: the same distribution
    cols = {"a": rng.choice(base["a"][train], n) + shift, "b": rng.choice(base["b"][train], n)}
    ops = model_ops(ctx)
    pred = ops.deps.scorer.predict(MODEL, version, cols) if ops.deps.scorer else []
    data = {
        **{k: v.tolist() for k, v in cols.items()},
        "prediction": pred,
        "model_name": [MODEL] * n,
        "model_version": [version] * n,
        "new_col": [1.0] * n,
        "scored_at": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
    }
    if drop:
        data.pop(drop)
    table = pa.table(data)
    if not ctx.store.exists("dev.ml.pred"):  # an earlier call may have dropped a column
        ctx.store.create_table("dev.ml.pred", table.schema)
    ctx.store.overwrite("dev.ml.pred", table, overwrite_schema=True)


def test_drift_against_the_logged_training_table(ctx: Context) -> None:
    _inference(ctx, "1", shift=0.0)
    calm = model_drift(model_ops(ctx).deps, MODEL, "1")
    assert calm.baseline.startswith("dev.ml.feat@v")
    assert not [c for c in calm.report.drifted if c.kind == "feature"]
    assert calm.report.new_columns == ("new_col",)
    assert calm.report.performance_note and "waits for labels" in calm.report.performance_note
    _inference(ctx, "1", shift=1.5, drop="b")
    moved = model_drift(model_ops(ctx).deps, MODEL, "1")
    rules = {(f.rule_id, f.subject.split(":")[-1]) for f in moved.findings}
    assert ("model.feature_drift", "a") in rules
    assert ("model.inference_schema", "b") in rules  # missing feature: a critical finding
    with pytest.raises(NotFound, match=f"{MODEL} has no version 99") as missing:
        model_drift(model_ops(ctx).deps, MODEL, "99")
    assert missing.value.fix is not None and "its versions: 1" in missing.value.fix


def test_cli_lists_models_as_json(store_project: StoreProject) -> None:
    out = CliRunner().invoke(
        app, ["--project", str(store_project.root), "--output", "json", "models"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["kind"] == "models" and data["meta"]["count"] == len(data["items"])
    model = next(m for m in data["items"] if m["name"] == MODEL)
    assert [v["version"] for v in model["versions"]][:2] == ["1", "2"]
    assert model["versions"][0]["datasets"][0].startswith("dev.ml.feat@v")


def test_cli_refuses_promotion_with_the_failing_gate(store_project: StoreProject) -> None:
    out = CliRunner().invoke(
        app,
        ["--project", str(store_project.root), "model", "promote", MODEL, "1", "--to", "champion"],
    )
    assert out.exit_code == 1
    assert "FAIL  approver" in out.stdout and "refused" in out.stdout


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    from lakecrew.testing.pipelines import make_project

    make_project(tmp_path)
    out = CliRunner().invoke(app, ["--project", str(tmp_path), "models"])
    assert out.exit_code == 1 and "no MLflow store" in out.stderr
    assert not (tmp_path / ".lakecrew" / "mlflow" / "mlflow.db").exists()
    shutil.rmtree(tmp_path / ".lakecrew", ignore_errors=True)


def test_drift_findings_are_routed_through_the_outbox(
    store_project: StoreProject, tmp_path: Path
) -> None:
    """Issue 18: `model drift` findings go through lakecrew.yaml's routes and the durable
    outbox like a sweep's; the same evidence is not sent twice."""
    from lakecrew.adapters.local.channels import FileChannel

    root = store_project.root
    with Context.open(root, writable=True) as c:
        _inference(c, "1", shift=1.7)  # a shift no other test uses: evidence new to the ledger
    sink = tmp_path / "ml-alerts.jsonl"
    config = root / "lakecrew.yaml"
    original = config.read_text(encoding="utf-8")
    config.write_text(
        original + "\nnotifications:\n  channels:\n"
        f"    ml: {{type: file, path: {sink}}}\n"
        "  routes:\n    - {name: models, match: {rule: ['model.*']}, channels: [ml]}\n",
        encoding="utf-8",
    )
    try:
        args = ["-p", str(root), "-o", "json", "model", "drift", MODEL, "--version", "1"]
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 1, first.output  # drift findings
        assert first.stdout, first.stderr
        alerts = json.loads(first.stdout)["meta"]["alerts"]
        sent = FileChannel(sink).read()
        assert alerts["routed"] and alerts["delivered"] == len(sent) >= 1
        assert {i.rule_id for n in sent for i in n.items} >= {"model.feature_drift"}
        assert all(i.workspace == "(models)" and i.resource_type == "model_versions"
                   for n in sent for i in n.items)  # fmt: skip
        again = json.loads(CliRunner().invoke(app, args).stdout)["meta"]["alerts"]
        assert again["queued"] == 0 and len(FileChannel(sink).read()) == len(sent)
    finally:
        config.write_text(original, encoding="utf-8")


@pytest.mark.slow  # a whole sweep of the project with --apply (~9 s of CPU)
def test_whole_estate_sweep_evaluates_and_acts_on_the_registry(
    store_project: StoreProject, tmp_path: Path
) -> None:
    """A whole-estate sweep sweeps the registry as the `(models)` scope; `--apply` takes the
    model actions through the crew's Executor."""
    from lakecrew.wiring.crew import sweep

    root = tmp_path / "copy"
    shutil.copytree(store_project.root, root)
    later = datetime.now(UTC) + timedelta(days=120)
    config = root / "lakecrew.yaml"  # 3 actions on 5 objects: past the default blast radius
    text = re.sub(r"(?m)^  max_percent: \d+", "  max_percent: 100", config.read_text(), count=1)
    config.write_text(text)
    with Context.open(root, writable=True, clock=FixedClock(later)) as c:
        results = sweep(c, apply=True, phase=3)
        models = next(r for r in results if r.scope == "(models)")
        assert {f.finding.resource_type for f in models.findings} >= {"model_versions", "models"}
        rows = {(f.rule_id, f.resource_id) for f in c.ledger.findings("(models)")}
        assert ("model_version.stale", f"{MODEL}/1") in rows
        acted = [
            a
            for a in c.ledger.actions()
            if a.action == "archive_model_version" and a.resource_id == f"{MODEL}/1"
        ]
        assert [a.status for a in acted] == ["applied"], [a.reason for a in acted]
        first = model_ops(c).deps.registry.list_versions(MODEL)[0]
        assert first.tags["gov.lifecycle"] == "archived"
    off = root / "lakecrew.yaml"
    off.write_text(off.read_text().replace("mlops:\n", "mlops:\n  sweep: false\n", 1))
    with Context.open(root, writable=True, clock=FixedClock(later)) as c:
        assert "(models)" not in {r.scope for r in sweep(c, phase=1)}


def test_artifacts_read_from_the_project_store_not_the_working_folder(
    store_project: StoreProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 resolves `models:/m-…` sources through its global tracking URI, which falls back
    to sqlite:///mlflow.db in the working folder: the read must use the project's store."""
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    assert not mlflow.is_tracking_uri_set()
    with Context.open(store_project.root, writable=False) as c:
        versions = model_ops(c).deps.registry.list_versions(MODEL)
    assert versions[0].source.startswith("models:/")
    assert versions[0].artifact_problem is None and versions[0].has_signature
    assert not (tmp_path / "mlflow.db").exists()
    assert not mlflow.is_tracking_uri_set()  # put back as it was
