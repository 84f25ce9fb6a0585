"""The newcomer's path, through the real `lakecrew` console script in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lakecrew.testing.readme_tour import tour_commands

# One demo estate per session: keep this module on one xdist worker (`--dist loadgroup`).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("demo_estate")]

LAKECREW = str(Path(sys.executable).with_name("lakecrew"))


def run(*args: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [LAKECREW, *args], capture_output=True, text=True, cwd=cwd, timeout=600, check=False
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    project = tmp_path_factory.mktemp("demo") / "estate"
    proc = run("demo", "--project", str(project), "--output", "json")
    # libraries stay quiet unless --debug (MLflow's "Successfully registered model …" lines)
    assert "registered model" not in proc.stderr.lower(), proc.stderr[-500:]
    assert "Created version" not in proc.stderr, proc.stderr[-500:]
    return project, json.loads(proc.stdout)["items"][0]


def test_demo_reports_workspaces_resources_and_cost(demo: tuple[Path, dict[str, Any]]) -> None:
    _, data = demo
    summary = data["summary"]
    names = {w["name"] for w in summary["workspaces"]}
    assert {"malaria-dev-westafrica", "lassa-prod-westafrica"} <= names
    assert any(not w["approved"] for w in summary["workspaces"])  # the planted pending one
    assert summary["resources"]["clusters"] > 50
    assert set(summary["cost_by_environment"]) == {"dev", "qa", "prod"}
    assert float(summary["cost_usd"]) > 0  # decimals are strings in JSON
    assert Path(data["data"]["ground_truth"]).exists()


def test_estate_summary_json_has_the_promised_keys(demo: tuple[Path, dict[str, Any]]) -> None:
    project, data = demo
    out = json.loads(run("estate", "summary", "--output", "json", cwd=project).stdout)
    assert out["kind"] == "estate_summary" and {"resources", "cost_usd"} <= set(out["meta"])
    assert {"workspace", "environment", "approved", "resources"} <= set(out["items"][0])
    assert out["meta"]["cost_usd"] == data["summary"]["cost_usd"]


def test_sql_counts_usage_rows(demo: tuple[Path, dict[str, Any]]) -> None:
    project, data = demo
    out = run("sql", "SELECT count(*) AS n FROM system.billing.usage", "-o", "json", cwd=project)
    n = json.loads(out.stdout)["items"][0]["n"]
    assert n == data["simulation"]["rows"]["system.billing.usage"]


def test_sql_is_read_only_and_errors_are_one_line(demo: tuple[Path, dict[str, Any]]) -> None:
    project, _ = demo
    proc = run("sql", "DELETE FROM system.billing.usage", cwd=project, ok=False)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    missing = run("sql", "SELECT * FROM system.billing.nope", cwd=project, ok=False)
    assert missing.returncode == 1 and "system.billing.nope" in missing.stderr


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    proc = run("demo", "--project", str(tmp_path), ok=False)
    assert proc.returncode == 1
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_simulate_refuses_a_real_inventory(tmp_path: Path) -> None:
    run("init", cwd=tmp_path)
    before = (tmp_path / "lakecrew.yaml").read_text()
    proc = run("simulate", cwd=tmp_path, ok=False)
    assert proc.returncode == 1 and "not a simulated estate" in proc.stderr
    assert (tmp_path / "lakecrew.yaml").read_text() == before


def test_demo_mlops_gates_scores_and_catches_the_surge(demo: tuple[Path, dict[str, Any]]) -> None:
    project, data = demo
    m = data["mlops"]
    assert m["refused_without_approver"] and m["promotion"] and m["champion"]
    assert not m["drift_normal"]  # the as-reported window looks like training data
    assert {"log_confirmed", "prediction"} <= set(m["drift_surge"])
    listed = json.loads(run("models", "--output", "json", cwd=project).stdout)["items"]
    model = next(x for x in listed if x["name"] == m["model"])
    assert model["lineage"]["upstream"] == ["lassa_dev.ml.lassa_features"]
    assert model["lineage"]["downstream"] == ["lassa_dev.ml.lassa_predictions"]
    drift = run("model", "drift", m["model"], "--output", "json", cwd=project, ok=False)
    assert drift.returncode == 1  # the whole table includes the surge: findings, exit 1
    assert json.loads(drift.stdout)["items"][0]["findings"]


def test_demo_flags_prod_job_success_below_the_sop_sla(demo: tuple[Path, dict[str, Any]]) -> None:
    """SOP 1.6.2: > 99 % success; the simulated prod estate runs at ~98.6 % and must be flagged."""
    project, _ = demo
    out = json.loads(run("findings", "--output", "json", cwd=project).stdout)
    rows = out["items"]
    env = [r for r in rows if r["rule_id"] == "sla.env_success_rate"]
    assert [r["resource_id"] for r in env] == ["env:prod"]
    evidence = env[0]["evidence"]  # an object, not JSON text
    assert 98.0 < evidence["success_percent"] < 99.0 and evidence["target_percent"] == 99.0
    assert env[0]["severity"] == "critical"


def test_demo_exercises_the_gold_freshness_sla(demo: tuple[Path, dict[str, Any]]) -> None:
    """The demo specs declare `freshness_hours`: dev's gold tables were just written (no
    finding); qa and prod's were never written locally and are flagged, with the SLA in hours."""
    project, _ = demo
    rows = json.loads(
        run("findings", "--rule", "sla.gold_freshness", "-o", "json", cwd=project).stdout
    )
    flagged = {r["resource_id"]: r["evidence"] for r in rows["items"]}
    assert "fresh:lassa_prod.gold.lassa_weekly_by_state" in flagged
    assert "fresh:facilities_qa.gold.facility_counts_by_country" in flagged
    assert not [r for r in flagged if "_dev." in r]
    ev = flagged["fresh:lassa_prod.gold.lassa_weekly_by_state"]
    assert ev["sla_hours"] == 192 and ev["last_write"] is None


README = Path(__file__).parents[2] / "README.md"


def test_the_readme_tour_runs_as_written(demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Every command of the README tour, from the README itself, on a copy of the demo estate.
    Placeholders (ACTION_ID, CLUSTER_ID) take real values; the Spark engine line runs in
    tests/integration/test_spark_parity.py, in process beside the parity runs (one JVM there
    instead of one more subprocess JVM here)."""
    import shutil

    project = tmp_path / "demo-estate"
    shutil.copytree(demo[0], project)
    commands = tour_commands(README)
    assert len(commands) >= 20 and any(code == 2 for _, code in commands)
    for line, expected in commands:
        command = line
        if "--engine spark" in command:
            continue
        if "ACTION_ID" in command:
            applied = json.loads(
                run("actions", "--status", "applied", "-o", "json", cwd=project).stdout
            )
            command = command.replace("ACTION_ID", applied["items"][0]["action_id"])
        if "CLUSTER_ID" in command:
            found = json.loads(
                run("findings", "--rule", "cluster.idle", "-o", "json", cwd=project).stdout
            )
            command = command.replace("CLUSTER_ID", found["items"][0]["resource_id"])
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            env={**os.environ, "L": LAKECREW},
            cwd=project,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == expected, f"{command}\n{proc.stderr[-500:]}"
        if "--apply" in command and "sweep" in command:
            assert "applied" in proc.stdout and "planned" not in proc.stdout.split("# findings")[0]
        if "contact_number" in command:
            assert "******" in proc.stdout  # masking is visible
        if "anomalies detect" in command:
            assert proc.stdout.strip(), "the shipped series.csv has anomalies to show"


def test_the_demo_report_piped_is_tab_separated_and_never_cut(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    """`make demo | cat`: the renderer's piped path (like every command), not rich tables."""
    import io

    from lakecrew.faces.cli.console import Result
    from lakecrew.faces.cli.demo_view import render_demo
    from lakecrew.faces.cli.render import Out

    _, data = demo
    buf = io.StringIO()
    render_demo(Out(file=buf), Result("demo", [data]))
    text = buf.getvalue()
    assert not set(text) & set("┏┃━│…"), "no table drawing and nothing cut when piped"
    rows = [line.split("\t") for line in text.splitlines()]
    longest = max((w["name"] for w in data["summary"]["workspaces"]), key=len)
    assert sum(r[0] == longest for r in rows) == 1  # whole, in its own cell
    assert "# Workspaces (SOP 1.1.3)" in text.splitlines()
