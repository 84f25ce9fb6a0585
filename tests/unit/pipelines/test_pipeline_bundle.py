"""`lakecrew pipeline bundle`: the Databricks job definition follows the SOP pack and the spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakecrew.services.pipelines.bundle import job_definition, job_key
from lakecrew.services.policy.loader import load_pack
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context


def _job_settings(job: dict[str, Any]) -> Any:
    """The SDK's own JobSettings (imported here: ~1 s, not at every collection)."""
    from databricks.sdk.service.jobs import JobSettings

    return JobSettings.from_dict(job)


def test_job_definition_uses_job_cluster_tags_retries_and_notifications(tmp_path: Path) -> None:
    ctx = Context.open(make_project(tmp_path / "proj"))
    pack = load_pack().pack
    for env in ("dev", "prod"):
        loaded = pw.load(ctx, "lassa_weekly", env)
        job = job_definition(loaded, pack)["resources"]["jobs"][job_key(loaded)]
        settings = _job_settings(job)  # parses with the SDK's own JobSettings
        assert settings.job_clusters is not None and settings.tasks is not None
        cluster = settings.job_clusters[0].new_cluster
        assert cluster is not None and cluster.autoscale is not None
        assert cluster.autoscale.max_workers == pack.environments[env].autoscale.max_workers
        limit = pack.size_of(env).max_node_memory_gb
        assert limit is not None
        assert pack.node_types[str(cluster.node_type_id)].memory_gb <= limit
        assert cluster.custom_tags is not None and cluster.custom_tags["environment"] == env
        assert {"cost_center", "project", "owner"} <= set(cluster.custom_tags)
        task = settings.tasks[0]
        assert task.job_cluster_key == "pipeline_cluster" and task.existing_cluster_id is None
        assert task.max_retries == loaded.spec.retries.max_retries
        assert task.python_wheel_task is not None
        assert task.python_wheel_task.parameters == [
            "pipeline",
            "run",
            "lassa_weekly",
            "--env",
            env,
        ]
        assert job["webhook_notifications"]["on_failure"] == [{"id": "data-eng-oncall"}]
        spot = job["job_clusters"][0]["new_cluster"]["aws_attributes"]["availability"]
        assert spot == (
            "SPOT_WITH_FALLBACK" if pack.environments[env].spot_required else "ON_DEMAND"
        )
    ctx.close()


def test_a_bundle_for_a_workspace_runs_the_pipeline_on_unity_catalog_by_name(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from lakecrew.faces.cli.main import app
    from lakecrew.testing.databricks_project import WS, project_yaml

    root = tmp_path / "proj"
    root.mkdir()
    yaml_text = project_yaml("https://adb-1.2.azuredatabricks.net")
    (root / "lakecrew.yaml").write_text(
        yaml_text.replace("    workspace_id:", "    warehouse_id: wh1\n    workspace_id:", 1)
    )
    args = ["pipeline", "bundle", "eha_locations", "--project", str(root), "-o", "json"]
    result = CliRunner().invoke(app, [*args, "--workspace", WS])
    assert result.exit_code == 0, result.output
    jobs = json.loads(result.stdout)["items"][0]["resources"]["jobs"]
    job = next(iter(jobs.values()))
    task = _job_settings(job).tasks[0]  # type: ignore[index]
    assert task.python_wheel_task is not None
    assert task.python_wheel_task.parameters == [
        "pipeline", "run", "eha_locations", "--env", "dev", "--workspace", WS,
        "--engine", "spark",
    ]  # fmt: skip
    # the job cluster's Spark writes the tables: no warehouse needed for the bundle
    (root / "lakecrew.yaml").write_text(yaml_text)
    assert CliRunner().invoke(app, [*args, "--workspace", WS]).exit_code == 0
    # the same run outside a Databricks runtime: one clear line, exit 2, nothing written
    run = ["pipeline", "run", "eha_locations", "--project", str(root), "--workspace", WS]
    refused = CliRunner().invoke(
        app, [*run, "--engine", "spark"], env={"DATABRICKS_RUNTIME_VERSION": ""}
    )
    assert refused.exit_code == 2, refused.output
    assert "runs on a Databricks cluster" in refused.output
    assert not (root / ".lakecrew" / "spark-catalog").exists()


def test_the_pipeline_job_cluster_is_inside_the_environments_sop_policy(tmp_path: Path) -> None:
    """Each environment's job cluster passes the job policy `lakecrew policy export` generates
    for it, and names that policy (looked up by name when the bundle is deployed)."""
    from lakecrew.services.policy.cluster_policy import evaluate_policy, export

    ctx = Context.open(make_project(tmp_path / "p"))
    try:
        for env in ("dev", "qa", "prod"):
            loaded = pw.load(ctx, "lassa_weekly", env)
            bundle = job_definition(loaded, ctx.pack)
            job = bundle["resources"]["jobs"][job_key(loaded)]
            cluster = job["job_clusters"][0]["new_cluster"]
            policy = next(d for d in export(ctx.pack, env) if d.cluster_type == "job")
            assert cluster["policy_id"] == "${var.pipeline_cluster_policy_id}"
            lookup = bundle["variables"]["pipeline_cluster_policy_id"]["lookup"]
            assert lookup == {"cluster_policy": policy.name}
            spec = {k: v for k, v in cluster.items() if k != "policy_id"}
            assert evaluate_policy(policy.definition, {**spec, "cluster_type": "job"}) == [], env
            # one worker more than the environment allows is outside the policy
            wider = {**spec["autoscale"], "max_workers": 10_000}
            too_big = {**spec, "autoscale": wider, "cluster_type": "job"}
            assert evaluate_policy(policy.definition, too_big) != [], env
    finally:
        ctx.close()
