"""The demo pipelines on the bundled real data, and the `lakecrew pipeline` commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lakecrew.demo import pipelines as demo
from lakecrew.faces.cli.main import app
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring.context import Context


def test_every_demo_pipeline_runs_reconciled_with_pii_protected(tmp_path: Path) -> None:
    ctx = Context.open(make_project(tmp_path / "proj"), writable=True)
    try:
        result = demo.run_demo_pipelines(ctx)
        assert set(result) == set(demo.DEMO_PIPELINES)
        assert all(r["reconciled"] for r in result.values())
        assert all(n > 0 for r in result.values() for t, n in r["tables"].items() if "gold" in t)
        facilities = ctx.store.read("facilities_dev.silver.facilities")
        users = facilities.column("changeset_user").drop_null().to_pylist()
        assert users and all(u.startswith("tok_") for u in users)
        phones = [p for p in facilities.column("contact_number").drop_null().to_pylist() if p]
        assert phones and all("*" in p for p in phones)
        names = ctx.store.read("dhis2_dev.silver.tracked_entities", columns=["first_name"])
        assert names.column(0).to_pylist()[0].startswith("tok_")
        stored_by = ctx.store.read("dhis2_dev.silver.data_values", columns=["stored_by"])
        assert "bombali2" not in stored_by.column(0).to_pylist()
        gold = ctx.store.read("dhis2_dev.gold.values_by_org_unit_period")
        assert gold.column("org_unit_name").null_count < gold.num_rows  # joined to org units
        info = ctx.metastore.get_table("facilities_dev.silver.facilities")
        column = info.column("changeset_user")
        assert column is not None and column.tags["pii"] == "username"
    finally:
        ctx.close()


def test_cli_pipeline_run_prints_layers_and_reconciled(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    runner = CliRunner()
    listed = runner.invoke(app, ["--project", str(project), "pipeline", "list", "-o", "json"])
    names = [p["pipeline"] for p in json.loads(listed.stdout)["items"]]
    assert listed.exit_code == 0 and "lassa_weekly" in names
    result = runner.invoke(
        app, ["--project", str(project), "pipeline", "run", "lassa_weekly", "--output", "json"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)["items"][0]
    assert data["reconciled"] is True
    for layer in ("bronze", "silver", "gold"):
        assert {"read", "written", "quarantined"} <= set(data["layers"][layer])
    bad = runner.invoke(app, ["--project", str(project), "pipeline", "run", "nope"])
    assert bad.exit_code == 2 and "unknown pipeline 'nope'" in bad.stderr
    close = runner.invoke(app, ["--project", str(project), "pipeline", "run", "lassa_weekli"])
    assert close.exit_code == 2 and "did you mean 'lassa_weekly'?" in close.stderr
