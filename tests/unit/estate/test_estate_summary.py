"""estate_summary against the real local backend (Delta system tables, DuckDB, SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.core.errors import PermissionDenied
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.clock import FixedClock
from lakecrew.ports.workspace import ObjectKind, WorkspaceReader
from lakecrew.services.estate.config import EstateConfig, load_estate
from lakecrew.services.estate.starter import write_starter
from lakecrew.services.estate.summary import estate_summary

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def usage(ws_id: str, sku: str, qty: str, record_type: str = "ORIGINAL") -> dict[str, Any]:
    return {
        "account_id": "acc",
        "workspace_id": ws_id,
        "record_id": f"{ws_id}-{sku}-{qty}-{record_type}",
        "sku_name": sku,
        "cloud": "AZURE",
        "usage_start_time": T0,
        "usage_end_time": T0.replace(hour=11),
        "usage_date": date(2026, 3, 1),
        "usage_unit": "DBU",
        "usage_quantity": Decimal(qty),
        "record_type": record_type,
    }


def price(sku: str, amount: str) -> dict[str, Any]:
    d = Decimal(amount)
    return {
        "account_id": "acc",
        "price_start_time": datetime(2025, 1, 1, tzinfo=UTC),
        "price_end_time": None,
        "sku_name": sku,
        "cloud": "AZURE",
        "currency_code": "USD",
        "usage_unit": "DBU",
        "pricing": {"default": d, "promotional": {"default": d}, "effective_list": {"default": d}},
    }


@pytest.fixture
def estate(
    tmp_path: Path,
) -> Iterator[tuple[EstateConfig, LocalSqlEngine, dict[str, LocalWorkspace]]]:
    config = load_estate(write_starter(tmp_path), require_approved=True)
    layout = ProjectLayout(tmp_path).ensure()
    engine = LocalSqlEngine.open(layout, writable=True)
    store = DeltaStore.for_project(layout)
    ensure_system_tables(store, engine.metastore)
    rows = [
        usage("1000000000000001", "PREMIUM_ALL_PURPOSE_COMPUTE", "10"),
        usage("1000000000000001", "PREMIUM_ALL_PURPOSE_COMPUTE", "-2", "RETRACTION"),
        usage("1000000000000004", "PREMIUM_JOBS_COMPUTE", "5"),
        usage("1000000000000003", "PREMIUM_JOBS_COMPUTE", "1"),
        usage("9999", "PREMIUM_JOBS_COMPUTE", "3"),  # a workspace not in lakecrew.yaml
        usage("1000000000000001", "NEW_SKU_WITHOUT_PRICE", "7"),
    ]
    store.append(
        "system.billing.usage",
        pa.Table.from_pylist(rows, schema=SYSTEM_TABLES["system.billing.usage"]),
    )
    prices = [price("PREMIUM_ALL_PURPOSE_COMPUTE", "0.55"), price("PREMIUM_JOBS_COMPUTE", "0.30")]
    store.append(
        "system.billing.list_prices",
        pa.Table.from_pylist(prices, schema=SYSTEM_TABLES["system.billing.list_prices"]),
    )
    events: list[dict[str, Any]] = []
    clock = FixedClock(T0)
    workspaces = {
        ws.name: LocalWorkspace(
            ws.name, ws.workspace_id or "0", layout.workspace_db, events.append, clock
        )
        for ws in config.workspaces
        if ws.backend == "local"
    }
    dev = workspaces["malaria-dev-westafrica"]
    dev.put_many(ObjectKind.CLUSTER, [{"cluster_id": "c-1"}, {"cluster_id": "c-2"}])
    dev.put_many(ObjectKind.JOB, [{"job_id": 11}])
    workspaces["child_health-dev-eastafrica"].put_many(ObjectKind.CLUSTER, [{"cluster_id": "c-9"}])
    yield config, engine, workspaces
    for ws in workspaces.values():
        ws.close()
    engine.close()


def test_summary_counts_resources_and_list_cost(
    estate: tuple[EstateConfig, LocalSqlEngine, dict[str, LocalWorkspace]],
) -> None:
    config, engine, workspaces = estate

    def reader_for(name: str) -> WorkspaceReader:
        if name not in workspaces:
            raise PermissionDenied("no credentials for the databricks profile", where=name)
        return workspaces[name]

    seen: list[str] = []
    data = estate_summary(config, reader_for, engine, on_workspace=seen.append)
    assert seen == config.names()
    assert [(w["name"], w["environment"], w["approved"]) for w in data["workspaces"]] == [
        ("malaria-dev-westafrica", "dev", True),
        ("malaria-qa-westafrica", "qa", True),
        ("malaria-prod-westafrica", "prod", True),
        ("child_health-dev-eastafrica", "dev", True),
    ]
    assert data["resources"]["clusters"] == 3 and data["resources"]["jobs"] == 1
    assert data["resources"]["per_workspace"]["malaria-dev-westafrica"]["clusters"] == 2
    assert list(data["unreachable"]) == ["malaria-prod-westafrica"]
    # (10 - 2) * 0.55 = 4.40 ; 5 * 0.30 = 1.50 ; 1 * 0.30 = 0.30 ; unregistered 3 * 0.30 = 0.90
    assert data["cost_usd"] == Decimal("7.10")
    assert data["cost_by_workspace"]["malaria-dev-westafrica"] == Decimal("4.40")
    assert data["cost_by_project"] == {"child_health": Decimal("1.50"), "malaria": Decimal("4.70")}
    assert data["cost_by_environment"] == {"dev": Decimal("5.90"), "prod": Decimal("0.30")}
    assert data["unattributed_cost_usd"] == Decimal("0.90")
    assert data["unpriced_usage_records"] == 1
    assert data["billing_data"] is True


def test_fresh_project_without_billing_tables_costs_nothing(tmp_path: Path) -> None:
    config = load_estate(write_starter(tmp_path), require_approved=True)
    engine = LocalSqlEngine.open(ProjectLayout(tmp_path))
    try:
        data = estate_summary(config, _unreachable, engine)
    finally:
        engine.close()
    assert data["billing_data"] is False and data["cost_usd"] == Decimal("0.00")
    assert len(data["unreachable"]) == 4 and data["resources"]["per_workspace"] == {}


def _unreachable(name: str) -> WorkspaceReader:
    raise PermissionDenied("not opened in this test", where=name)


def test_a_summary_missing_a_workspace_shows_the_rest_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The starter's Databricks workspace has no credentials here: the local ones are still
    summarised, the missing one is named with why, and the exit is not a whole summary's 0."""
    from typer.testing import CliRunner

    from lakecrew.faces.cli.main import app

    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.databrickscfg"))
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    write_starter(tmp_path)
    result = CliRunner().invoke(app, ["-p", str(tmp_path), "estate", "summary"])
    assert result.exit_code == 1
    assert "malaria-dev-westafrica" in result.stdout
    assert "unreachable malaria-prod-westafrica:" in result.stdout
