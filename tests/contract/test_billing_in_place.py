"""FinOps on a real workspace without an import: billing system tables read in place.

With a `backend: databricks` workspace that has a `warehouse_id`, `lakecrew cost report` and
`lakecrew cost export --focus` read system.billing.* through the Statement Execution API (the
real SDK over real HTTP). The warehouse here is the replay server answering statements from the
seed-7 project's engine (`lakecrew.testing.duck_warehouse`), so the same data is read two ways:
the report over the warehouse must equal the report over local tables, figure for figure, while
the new project holds no system table at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.testing.crew import ground_truth
from lakecrew.testing.databricks_project import cli_env
from lakecrew.testing.databricks_replay import DatabricksReplay, Handler
from lakecrew.testing.duck_warehouse import DuckWarehouse

WAREHOUSE = "wh00billing00001"
FIRST = "  - name: malaria-dev-westafrica\n    environment: dev\n    region: westafrica\n"


def _remote_yaml(local_yaml: str, host: str) -> str:
    """The seed-7 inventory with its first workspace on Databricks, reading via a warehouse."""
    assert FIRST + "    backend: local\n" in local_yaml
    remote = f"    backend: databricks\n    host: {host}\n    warehouse_id: {WAREHOUSE}\n"
    return local_yaml.replace(FIRST + "    backend: local\n", FIRST + remote, 1)


def remote_copies(
    root: Path, tmp: Path, variants: Mapping[str, Sequence[Handler]]
) -> Iterator[tuple[str, Path, DatabricksReplay]]:
    """For each variant: a databricks copy of the seed-7 project (`_remote_yaml`) whose replay
    server answers with the variant's handlers first, then the warehouse over `root`'s engine."""
    local_yaml = (root / "lakecrew.yaml").read_text()
    with DuckWarehouse(root, WAREHOUSE) as warehouse:
        for name, first in variants.items():
            with DatabricksReplay(handlers=[*first, warehouse]) as replay:
                remote = tmp / name
                remote.mkdir()
                (remote / "lakecrew.yaml").write_text(_remote_yaml(local_yaml, replay.url))
                yield name, remote, replay


def _cli(root: Path, env: dict[str, str] | None, *args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, [*args, "--project", str(root), "--output", "json"], env=env or {}
    )
    assert result.exit_code == code, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.fixture(scope="module")
def both(seed7_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Reports and exports of the same week read locally and through the warehouse."""
    root = seed7_project
    now = ground_truth(root)["now"]
    week = ("cost", "report", "--period", "week", "--as-of", now[:10])
    out: dict[str, Any] = {"local": _cli(root, None, *week, "--source", "local")}
    tmp = tmp_path_factory.mktemp("billing-remote")
    with (
        DuckWarehouse(root, WAREHOUSE) as warehouse,
        DatabricksReplay(handlers=[warehouse]) as replay,
    ):
        remote = tmp / "proj"
        remote.mkdir()
        local_yaml = (root / "lakecrew.yaml").read_text()
        (remote / "lakecrew.yaml").write_text(_remote_yaml(local_yaml, replay.url))
        env = cli_env(tmp)
        out["remote"] = _cli(remote, env, *week)
        out["statements"] = len(replay.requests_to("POST", "/api/2.0/sql/statements"))
        export = ("cost", "export", "--focus", "--start", "2026-02-01", "--end", "2026-03-01")
        out["local_export"] = _cli(
            root, None, *export, "--out", str(tmp / "l.csv"), "--source", "local"
        )
        out["remote_export"] = _cli(remote, env, *export, "--out", str(tmp / "r.csv"))
        out["summary"] = (
            _cli(root, None, "estate", "summary", "--source", "local"),
            # the replay records no clusters/list (404): that workspace is unread, so exit 1
            _cli(remote, env, "estate", "summary", code=1),
        )
        out["remote_store"] = sorted(p.name for p in (remote / ".lakecrew").rglob("usage*"))
    out["csv"] = ((tmp / "l.csv").read_text(), (tmp / "r.csv").read_text())
    return out


def test_the_weekly_report_through_a_warehouse_equals_the_local_one(both: dict[str, Any]) -> None:
    local, remote = both["local"], both["remote"]
    assert remote["meta"]["billing_source"].startswith(
        f"system tables in place on SQL warehouse {WAREHOUSE}"
    )
    assert local["meta"]["billing_source"].startswith("local system tables")
    assert both["statements"] >= 2  # usage and list prices at least, all through the API
    # the SLA section reads the project's own system tables (not the warehouse) on both sides
    strip = [
        {k: v for k, v in i.items() if k != "sla"} for i in (remote["items"][0], local["items"][0])
    ]
    assert strip[0] == strip[1]
    report = remote["items"][0]
    assert report["by_workspace"] and report["budgets"]  # not an empty report that happens to match
    assert both["remote_store"] == []  # nothing was imported into the databricks project


def test_the_focus_export_through_a_warehouse_equals_the_local_one(both: dict[str, Any]) -> None:
    local, remote = both["local_export"]["items"][0], both["remote_export"]["items"][0]
    assert remote["rows"] == local["rows"] > 0
    assert remote["billed_cost"] == local["billed_cost"]
    local_csv, remote_csv = both["csv"]
    assert remote_csv == local_csv


def test_estate_summary_reads_cost_in_place_without_an_import(both: dict[str, Any]) -> None:
    local, remote = (m["meta"] for m in both["summary"])
    assert remote["billing_source"].startswith(
        f"system tables in place on SQL warehouse {WAREHOUSE}"
    )
    costs = ("cost_usd", "cost_by_workspace", "cost_by_project", "unpriced_usage_records")
    assert {k: remote[k] for k in costs} == {k: local[k] for k in costs}
    assert remote["billing_data"] and remote["cost_by_workspace"]
    assert both["remote_store"] == []
    assert "(404)" in remote["unreachable"]["malaria-dev-westafrica"] and not local["unreachable"]


def test_source_warehouse_without_one_configured_is_a_usage_error(seed7_project: Path) -> None:
    args = ["cost", "report", "--source", "warehouse", "--project", str(seed7_project)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "no databricks workspace in lakecrew.yaml has a warehouse_id" in result.stderr
