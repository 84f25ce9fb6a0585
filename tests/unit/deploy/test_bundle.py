"""`lakecrew deploy bundle`: the generated Databricks Asset Bundle and lakecrew's checks of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lakecrew.core.errors import DataError, SafetyRefusal, UsageError
from lakecrew.core.pack import Pack
from lakecrew.faces.cli.main import app
from lakecrew.services.deploy.bundle import (
    JOB_KEY,
    Bundle,
    build_bundle,
    check_bundle,
    ensure_ok,
    read_bundle_files,
    settings_from_estate,
    write_bundle,
)
from lakecrew.services.estate.config import EstateConfig, load_estate
from lakecrew.services.estate.starter import starter_text
from lakecrew.services.policy.loader import load_pack

JOB_FILE = f"resources/{JOB_KEY}.job.yml"
TAGS = {"cost_center", "project", "owner", "environment"}


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack().pack


@pytest.fixture
def estate(tmp_path: Path) -> EstateConfig:
    (tmp_path / "lakecrew.yaml").write_text(starter_text(), encoding="utf-8")
    return load_estate(tmp_path / "lakecrew.yaml", require_approved=False)


@pytest.fixture
def bundle(pack: Pack, estate: EstateConfig) -> Bundle:
    return build_bundle(pack, settings_from_estate(estate, "0.1.0", estate_yaml=starter_text()))


def _job(files: dict[str, str]) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load(files[JOB_FILE])["resources"]["jobs"][JOB_KEY]
    return job


def _with_job(bundle: Bundle, job: dict[str, Any]) -> dict[str, str]:
    files = dict(bundle.files)
    files[JOB_FILE] = yaml.safe_dump({"resources": {"jobs": {JOB_KEY: job}}}, sort_keys=False)
    return files


def test_every_yaml_file_parses_and_interpolations_are_kept(bundle: Bundle) -> None:
    for path, text in bundle.files.items():
        if path.endswith((".yml", ".yaml")):
            assert yaml.safe_load(text) is not None, path
    job = _job(dict(bundle.files))
    assert job["tags"]["cost_center"] == "${var.cost_center}"
    assert job["tags"]["environment"] == "${bundle.target}"
    assert "&id" not in bundle.files["databricks.yml"]  # no YAML aliases


def test_targets_modes_run_as_and_hosts(bundle: Bundle) -> None:
    root = bundle.yaml("databricks.yml")
    assert root["include"] == ["resources/*.yml"]
    targets = root["targets"]
    assert list(targets) == ["dev", "qa", "prod"]
    assert targets["dev"]["mode"] == "development" and targets["dev"]["default"] is True
    assert "run_as" not in targets["dev"]
    for name in ("qa", "prod"):
        assert targets[name]["mode"] == "production"
        assert targets[name]["run_as"] == {"service_principal_name": "${var.sp_application_id}"}
        assert "${bundle.target}" in targets[name]["workspace"]["root_path"]
    # the starter estate's prod workspace is a databricks one: its host becomes the target's
    assert targets["prod"]["workspace"]["host"].startswith("https://adb-1000000000000003")
    assert "host" not in targets.get("dev", {}).get("workspace", {})
    variables = root["variables"]
    for name in ("cost_center", "project", "owner", "notification_email", "catalog"):
        assert name in variables
    assert {"sp_application_id", "warehouse_id", "lakecrew_wheel"} <= set(variables)
    prod = targets["prod"]["variables"]
    assert prod["catalog"] == "malaria_prod" and prod["pause_status"] == "UNPAUSED"
    assert (prod["min_workers"], prod["max_workers"]) == (4, 16)
    assert targets["dev"]["variables"]["pause_status"] == "PAUSED"
    assert targets["qa"]["variables"]["availability"] == "SPOT_WITH_FALLBACK"
    assert prod["availability"] == "ON_DEMAND"
    assert prod["cluster_policy_id"] == {"lookup": {"cluster_policy": "lakecrew-prod-l-job"}}


def test_job_has_tags_schedule_retries_notifications_and_a_governed_job_cluster(
    bundle: Bundle,
) -> None:
    job = _job(dict(bundle.files))
    assert set(job["tags"]) == TAGS
    assert job["schedule"]["quartz_cron_expression"] == "0 0 6 * * ?"
    assert job["schedule"]["pause_status"] == "${var.pause_status}"
    assert job["max_concurrent_runs"] == 1 and job["timeout_seconds"] > 0
    assert job["email_notifications"]["on_failure"] == ["${var.notification_email}"]
    (cluster,) = job["job_clusters"]
    spec = cluster["new_cluster"]
    assert set(spec["custom_tags"]) == TAGS
    assert "autotermination_minutes" not in spec
    assert spec["aws_attributes"]["availability"] == "${var.availability}"
    assert spec["policy_id"] == "${var.cluster_policy_id}"
    (task,) = job["tasks"]
    assert task["job_cluster_key"] == cluster["job_cluster_key"]
    assert task["max_retries"] >= 1 and task["min_retry_interval_millis"] > 0
    assert task["retry_on_timeout"] is True
    wheel = task["python_wheel_task"]
    assert wheel["package_name"] == "lakecrew"
    assert wheel["parameters"][:3] == ["sweep", "--phase", "${var.phase}"]
    assert task["libraries"] == [{"whl": "${var.lakecrew_wheel}"}]


def test_layout_follows_sop_4_1_2(bundle: Bundle) -> None:
    files = set(bundle.files)
    for folder in ("notebooks/", "jobs/", "pipelines/", "tests/"):
        assert any(f.startswith(folder) for f in files), folder
    assert {"requirements.txt", "README.md", ".github/workflows/deploy.yml"} <= files
    assert "lakecrew==0.1.0" in bundle.files["requirements.txt"].splitlines()
    workflow = yaml.safe_load(bundle.files[".github/workflows/deploy.yml"])
    steps = json.dumps(workflow["jobs"])
    assert "databricks bundle validate -t dev" in steps
    assert "databricks bundle deploy -t prod" in steps
    assert workflow["jobs"]["deploy-prod"]["environment"] == "prod"
    assert "refs/heads/main" in workflow["jobs"]["deploy-prod"]["if"]
    assert "pull_request" in workflow["jobs"]["deploy-dev"]["if"]


def test_the_bundles_own_smoke_test_passes(bundle: Bundle, tmp_path: Path) -> None:
    out = tmp_path / "b"
    write_bundle(bundle, out)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out / "tests")],
        capture_output=True,
        text=True,
        cwd=out,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_generated_bundle_passes_lakecrews_checks_in_every_target(
    bundle: Bundle, pack: Pack
) -> None:
    check = check_bundle(bundle.files, pack)
    assert check.ok, [p.one_line() for p in check.problems]
    assert check.checked == {"dev": 2, "qa": 2, "prod": 2}  # the job and its job cluster
    assert any("cluster_policy_id" in u for u in check.unresolved)


def test_check_fails_without_a_mandatory_tag(bundle: Bundle, pack: Pack) -> None:
    job = _job(dict(bundle.files))
    del job["job_clusters"][0]["new_cluster"]["custom_tags"]["owner"]
    del job["tags"]["cost_center"]
    check = check_bundle(_with_job(bundle, job), pack)
    rules = {(p.target, p.rule) for p in check.problems}
    for target in ("dev", "qa", "prod"):
        assert (target, "job.tags_missing") in rules
        assert (target, "cluster.tags_missing") in rules
        assert (target, "policy:custom_tags.owner") in rules
    with pytest.raises(SafetyRefusal, match=r"job\.tags_missing"):
        ensure_ok(check)


def test_check_fails_without_retries_or_notifications(bundle: Bundle, pack: Pack) -> None:
    job = _job(dict(bundle.files))
    del job["tasks"][0]["max_retries"]
    del job["email_notifications"]
    rules = {p.rule for p in check_bundle(_with_job(bundle, job), pack).problems}
    assert {"job.retries_missing", "job.notifications_missing"} <= rules


def test_check_refuses_a_schedule_databricks_would_refuse(bundle: Bundle, pack: Pack) -> None:
    job = _job(dict(bundle.files))
    job["schedule"] = {"quartz_cron_expression": "0 0 25 * * ?", "timezone_id": "Lagos"}
    found = {
        (p.target, p.rule): p.message for p in check_bundle(_with_job(bundle, job), pack).problems
    }
    for target in ("dev", "qa", "prod"):
        assert (
            "[hour=25] Value 25 is out of bounds (0-23)"
            in found[(target, "schedule.quartz_cron_expression")]
        )
        assert found[(target, "schedule.timezone_id")] == "unknown timezone 'Lagos'"


def test_cli_deploy_bundle_refuses_a_cron_out_of_range(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    out = tmp_path / "dab"
    args = ["-p", str(tmp_path), "deploy", "bundle", "--out", str(out), "--cron", "0 0 6 32 * ?"]
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and not out.exists()  # nothing is written when it fails
    assert "schedule.quartz_cron_expression" in result.stderr and "day_of_month=32" in result.stderr


def test_check_applies_the_environment_bounds_per_target(bundle: Bundle, pack: Pack) -> None:
    # 8 workers are fine in prod (4-16) but outside dev (1-2) and qa (2-4): policy and rules say so
    problems = check_bundle(bundle.files, pack, overrides={"max_workers": 8}).problems
    targets = {p.target for p in problems}
    assert targets == {"dev", "qa"}
    assert any(p.rule == "cluster.autoscale_out_of_bounds" for p in problems)
    assert any(p.rule == "policy:autoscale.max_workers" for p in problems)


def test_check_refuses_prod_without_a_service_principal(bundle: Bundle, pack: Pack) -> None:
    root = bundle.yaml("databricks.yml")
    del root["targets"]["prod"]["run_as"]
    files = {**bundle.files, "databricks.yml": yaml.safe_dump(root, sort_keys=False)}
    problems = check_bundle(files, pack).problems
    assert [(p.target, p.rule) for p in problems] == [("prod", "bundle.run_as")]


def test_check_reports_invalid_yaml_with_its_line(bundle: Bundle, pack: Pack) -> None:
    files = {**bundle.files, JOB_FILE: "resources:\n  jobs: [unclosed\n"}
    with pytest.raises(DataError, match=JOB_FILE):
        check_bundle(files, pack)
    bad_date = {**bundle.files, JOB_FILE: "resources:\n  jobs: {}\nsince: 2026-02-30\n"}
    with pytest.raises(DataError, match=f"{JOB_FILE}:3.*'2026-02-30' is not a valid date"):
        check_bundle(bad_date, pack)


def test_write_is_atomic_and_refuses_to_overwrite_without_force(
    bundle: Bundle, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    written = write_bundle(bundle, out)
    assert all(p.is_file() for p in written)
    assert read_bundle_files(out)["databricks.yml"] == bundle.files["databricks.yml"]
    (out / "stray.txt").write_text("mine")
    with pytest.raises(UsageError, match="--force"):
        write_bundle(bundle, out)
    assert (out / "stray.txt").exists()
    write_bundle(bundle, out, force=True)
    assert not (out / "stray.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "lakecrew.yaml"]


def test_owner_that_is_not_an_email_needs_notify(pack: Pack, tmp_path: Path) -> None:
    text = starter_text().replace("data-engineering@example.org", "data engineering")
    (tmp_path / "lakecrew.yaml").write_text(text, encoding="utf-8")
    config = load_estate(tmp_path / "lakecrew.yaml", require_approved=False)
    with pytest.raises(UsageError, match="--notify"):
        settings_from_estate(config, "0.1.0")
    s = settings_from_estate(config, "0.1.0", notification_email="oncall@example.org")
    assert {t.notification_email for t in s.targets} == {"oncall@example.org"}


def test_cli_deploy_bundle_then_check(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    out = tmp_path / "dab"
    result = runner.invoke(app, ["-p", str(tmp_path), "deploy", "bundle", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "lakecrew checks passes" in result.stdout
    assert (out / "databricks.yml").is_file() and (out / "lakecrew.yaml").is_file()
    result = runner.invoke(app, ["-p", str(tmp_path), "-o", "json", "deploy", "check", str(out)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["items"][0]["check"]["ok"] is True
    job = yaml.safe_load((out / JOB_FILE).read_text())
    del job["resources"]["jobs"][JOB_KEY]["tasks"][0]["max_retries"]
    (out / JOB_FILE).write_text(yaml.safe_dump(job))
    result = runner.invoke(app, ["-p", str(tmp_path), "deploy", "check", str(out)])
    assert result.exit_code == 1
    assert "job.retries_missing" in result.stderr
