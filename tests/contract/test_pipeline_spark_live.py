"""eha_locations on a real Databricks job cluster through the Spark TableStore (`live` marker).

Skipped unless DATABRICKS_HOST, a credential (as in test_databricks_live.py), a Unity Catalog
catalog the principal may create schemas, volumes and tables in (LAKECREW_LIVE_CATALOG), a SQL
warehouse to read the results with (DATABRICKS_WAREHOUSE_ID) and a built lakecrew wheel
(LAKECREW_LIVE_WHEEL, e.g. `dist/lakecrew-*.whl`) are set. It WRITES: schemas bronze, silver,
gold and lakecrew of that catalog, and the volume lakecrew.lakecrew_state.

The run is the task `pipeline bundle eha_locations --workspace W` defines (its job cluster and
its `pipeline run ... --workspace W --engine spark` parameters), submitted once with
`jobs.submit`; a short driver script copies the project from the volume to the driver's disk
first (SQLite and flock do not work on a FUSE volume) and calls the CLI with those parameters.
The same spec run locally must give the same silver and gold rows; Unity Catalog must hold the
tables by name with their owner-facing properties, and the checkpoint must be in the volume.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

from lakecrew.testing.pipelines import make_project
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

_CREDS = (
    os.environ.get("DATABRICKS_TOKEN")
    or os.environ.get("DATABRICKS_CONFIG_PROFILE")
    or (os.environ.get("DATABRICKS_CLIENT_ID") and os.environ.get("DATABRICKS_CLIENT_SECRET"))
)
_NEEDS = (
    "DATABRICKS_HOST",
    "LAKECREW_LIVE_CATALOG",
    "DATABRICKS_WAREHOUSE_ID",
    "LAKECREW_LIVE_WHEEL",
)
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (_CREDS and all(os.environ.get(v) for v in _NEEDS)),
        reason="needs " + ", ".join(_NEEDS) + " and credentials",
    ),
]
WS = "live-spark"
DRIVER = """\
import shutil, sys
from lakecrew.faces.cli.main import app
src, args = sys.argv[1], sys.argv[2:]
shutil.copytree(src, "/tmp/lakecrew-project", dirs_exist_ok=True)
app([*args, "--project", "/tmp/lakecrew-project"], standalone_mode=True)
"""


def _project(root: Path, catalog: str, host: str) -> Path:
    """A project whose eha_locations writes `catalog` and whose workspace is the live one."""
    make_project(root)
    (root / "lakecrew.yaml").write_text(
        f"""version: 1
workspaces:
  - name: {WS}
    environment: dev
    region: westafrica
    backend: databricks
    host: {host}
    owner: data-engineering@ehealthafrica.org
    project: facility_registry
    cost_center: cc-1042
    approval: {{status: approved, approved_by: Board, approved_on: 2025-03-12}}
"""
    )
    spec = (pw.demo_dir() / "eha_locations.yaml").read_text(encoding="utf-8")
    (root / "pipelines").mkdir(exist_ok=True)
    (root / "pipelines" / "eha_locations.yaml").write_text(
        spec.replace("catalog: facilities_dev", f"catalog: {catalog}")
    )
    data = root / "pipelines" / "data" / "eha_locations"
    data.mkdir(parents=True)
    src = pw.demo_dir() / "data" / "eha_locations" / "liberia_locations_input.csv"
    (data / src.name).write_bytes(src.read_bytes())
    return root


def _upload(w: Any, folder: Path, target: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and ".lakecrew" not in path.parts:
            rel = path.relative_to(folder).as_posix()
            w.files.upload(f"{target}/{rel}", io.BytesIO(path.read_bytes()), overwrite=True)


def _rows(w: Any, warehouse: str, sql: str) -> list[tuple[Any, ...]]:
    got = w.statement_execution.execute_statement(
        statement=sql, warehouse_id=warehouse, wait_timeout="50s"
    )
    assert got.status.state.value == "SUCCEEDED", got.status
    return sorted(tuple(r) for r in (got.result.data_array or []))


def test_eha_locations_on_a_job_cluster_writes_unity_catalog_tables(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import compute, jobs

    from lakecrew.services.pipelines.bundle import job_definition

    catalog = os.environ["LAKECREW_LIVE_CATALOG"]
    warehouse = os.environ["DATABRICKS_WAREHOUSE_ID"]
    w = WorkspaceClient()
    project = _project(tmp_path / "project", catalog, str(w.config.host))
    for stmt in (
        f"CREATE SCHEMA IF NOT EXISTS `{catalog}`.lakecrew",
        f"CREATE VOLUME IF NOT EXISTS `{catalog}`.lakecrew.lakecrew_state",
    ):
        _rows(w, warehouse, stmt)
    run_dir = f"/Volumes/{catalog}/lakecrew/lakecrew_state/live/{int(time.time())}"
    _upload(w, project, f"{run_dir}/project")
    wheel = Path(os.environ["LAKECREW_LIVE_WHEEL"])
    w.files.upload(f"{run_dir}/{wheel.name}", io.BytesIO(wheel.read_bytes()), overwrite=True)
    w.files.upload(f"{run_dir}/driver.py", io.BytesIO(DRIVER.encode()), overwrite=True)

    with Context.open(project) as ctx:
        loaded = pw.load(ctx, "eha_locations")
        job = next(
            iter(job_definition(loaded, ctx.pack, workspace=WS)["resources"]["jobs"].values())
        )
    task = job["tasks"][0]
    new_cluster = dict(job["job_clusters"][0]["new_cluster"])
    new_cluster.pop("policy_id")  # a bundle variable (the SOP policy may not exist there)
    cluster = compute.ClusterSpec.from_dict(new_cluster)
    cluster.spark_env_vars = {"DATABRICKS_HOST": str(w.config.host)}
    run = w.jobs.submit_and_wait(
        run_name="lakecrew live: eha_locations through SparkTableStore",
        tasks=[
            jobs.SubmitTask(
                task_key="run_pipeline",
                new_cluster=cluster,
                spark_python_task=jobs.SparkPythonTask(
                    python_file=f"{run_dir}/driver.py",
                    parameters=[f"{run_dir}/project", *task["python_wheel_task"]["parameters"]],
                ),
                libraries=[compute.Library(whl=f"{run_dir}/{wheel.name}")],
            )
        ],
    )
    assert run.state is not None and run.state.result_state == jobs.RunResultState.SUCCESS, (
        run.state
    )

    local = make_project(tmp_path / "local")
    with Context.open(local, writable=True) as ctx:
        pw.runner_for(ctx).run(pw.load(ctx, "eha_locations"))
        silver_local = sorted(
            tuple(r.values()) for r in ctx.store.read("facilities_dev.silver.admin_areas")
            .select(["org_unit_id", "county", "district"]).to_pylist()
        )  # fmt: skip
        gold_local = sorted(
            tuple(str(v) for v in r.values())
            for r in ctx.store.read("facilities_dev.gold.admin_area_counts")
            .select(["county", "districts", "communities", "villages"]).to_pylist()
        )  # fmt: skip
    silver = _rows(
        w, warehouse, f"SELECT org_unit_id, county, district FROM `{catalog}`.silver.admin_areas"
    )
    gold = _rows(
        w, warehouse,
        f"SELECT county, districts, communities, villages FROM `{catalog}`.gold.admin_area_counts",
    )  # fmt: skip
    assert len(silver) == len(silver_local) > 14000
    assert [tuple(str(v) for v in r) for r in gold] == [
        tuple(str(v) for v in r) for r in gold_local
    ]
    # the checkpoint is in the volume, the run record in a UC table
    listed = list(w.files.list_directory_contents(
        f"/Volumes/{catalog}/lakecrew/lakecrew_state/checkpoints/eha_locations/dev"
    ))  # fmt: skip
    assert any(str(e.name) == "source.json" for e in listed)
    runs = _rows(
        w, warehouse,
        f"SELECT result_state FROM `{catalog}`.lakecrew.lakeflow_job_run_timeline",
    )  # fmt: skip
    assert ("SUCCEEDED",) in runs
