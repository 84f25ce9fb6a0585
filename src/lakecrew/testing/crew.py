"""A local project filled by the simulator, for the crew's tests and benchmarks.

`simulated_project(root, seed=7, scale=1)` writes lakecrew.yaml, every workspace object into the
project's workspace.db, the system tables into its lakehouse, UC metadata into its metastore, and
the ground truth into `.lakecrew/simulation/ground_truth.json`; it returns the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.ports.clock import SystemClock
from lakecrew.ports.workspace import ObjectKind, WorkspaceObject
from lakecrew.services.simulate.estate import inventory, shadow_workspace
from lakecrew.services.simulate.simulator import SimulationReport, simulate

AS_OF = date(2026, 3, 2)


class LocalProjectSink:
    """SimulationSink writing into one local project."""

    def __init__(self, layout: ProjectLayout) -> None:
        self.layout = layout.ensure()
        self.store = DeltaStore.for_project(layout)
        self.metastore = SqliteMetastore(layout.metastore_path)
        ensure_system_tables(self.store, self.metastore)
        ids = {w.name: w.workspace_id for w in [*inventory(), shadow_workspace()]}
        self.workspaces = {
            name: LocalWorkspace(name, wid, layout.workspace_db, lambda _row: None, SystemClock())
            for name, wid in ids.items()
        }

    def put_objects(self, workspace: str, kind: ObjectKind, objects: list[WorkspaceObject]) -> None:
        self.workspaces[workspace].load({kind: objects})

    def set_workspace_conf(self, workspace: str, conf: Mapping[str, str]) -> None:
        self.workspaces[workspace].load({}, conf=dict(conf))

    def save_table(self, full_name: str, table: pa.Table, mode: str) -> None:
        if mode == "overwrite":
            self.store.overwrite(full_name, table)
        else:
            self.store.append(full_name, table)

    def register_table_metadata(self, info: TableInfo) -> None:
        self.metastore.register_table(info)

    def grant(self, grant: Grant) -> None:
        self.metastore.grant(grant)

    def progress(self, step: str, done: int, total: int) -> None:
        return None

    def close(self) -> None:
        for ws in self.workspaces.values():
            ws.close()
        self.metastore.close()


def simulated_project(
    root: Path, *, seed: int = 7, scale: int = 1, as_of: date = AS_OF
) -> SimulationReport:
    """Fill `root` with the simulated estate; returns the report (ground truth included)."""
    layout = ProjectLayout(Path(root))
    sink = LocalProjectSink(layout)
    try:
        report = simulate(sink, seed=seed, scale=scale, as_of=as_of)
    finally:
        sink.close()
    layout.config_path.write_text(report.estate_yaml, encoding="utf-8")
    (layout.simulation_dir / "ground_truth.json").write_text(
        json.dumps(report.ground_truth, default=str), encoding="utf-8"
    )
    return report


def ground_truth(root: Path) -> dict[str, Any]:
    """The ground truth written by `simulated_project`."""
    path = ProjectLayout(Path(root)).simulation_dir / "ground_truth.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# ---- a small hand-built crew for unit tests --------------------------------------------------

DEV_TAGS = {
    "cost_center": "Health",
    "project": "malaria",
    "owner": "team@x.example",
    "environment": "dev",
}


def cluster(cluster_id: str, **fields: Any) -> dict[str, Any]:
    """A compliant Dev all-purpose cluster (REST shape); override any field."""
    data: dict[str, Any] = {
        "cluster_id": cluster_id,
        "cluster_name": f"name-{cluster_id}",
        "cluster_source": "UI",
        "state": "TERMINATED",
        "node_type_id": "m5.xlarge",
        "driver_node_type_id": "m5.xlarge",
        "autoscale": {"min_workers": 1, "max_workers": 2},
        "autotermination_minutes": 30,
        "aws_attributes": {"availability": "SPOT_WITH_FALLBACK"},
        "custom_tags": dict(DEV_TAGS),
        "creator_user_name": "creator@x.example",
        "spark_version": "15.4.x-scala2.12",
    }
    data.update(fields)
    return data


def job(job_id: int, **settings: Any) -> dict[str, Any]:
    """A compliant Dev job (REST shape); override any settings field."""
    body: dict[str, Any] = {
        "name": f"job-{job_id}",
        "tags": dict(DEV_TAGS),
        "tasks": [
            {
                "task_key": "main",
                "max_retries": 2,
                "notebook_task": {"notebook_path": "/x"},
                "job_cluster_key": "jc",
            }
        ],
        "job_clusters": [{"job_cluster_key": "jc", "new_cluster": {"num_workers": 1}}],
        "email_notifications": {"on_failure": ["team@x.example"]},
        "run_as": {"user_name": "runner@x.example"},
    }
    body.update(settings)
    return {
        "job_id": job_id,
        "creator_user_name": "creator@x.example",
        "settings": body,
        "run_as_user_name": body["run_as"].get("user_name") if body.get("run_as") else None,
    }
