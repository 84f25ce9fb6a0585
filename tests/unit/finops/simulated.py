"""The simulated estate (seed 7, scale 1) loaded into a real local lakehouse, priced once.

Shared by the simulator-based FinOps tests (session-scoped: simulating and pricing 0.57 M usage
rows takes about 15 s).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.finops import PricedUsage
from lakecrew.services.estate.config import EstateConfig, load_estate
from lakecrew.services.finops.allocation import Allocator
from lakecrew.services.finops.cost import CostModel
from lakecrew.services.simulate.simulator import simulate
from lakecrew.testing.memory_sinks import MemorySink, system_tables_lakehouse

AS_OF = date(2026, 3, 31)
START, END = AS_OF - timedelta(days=89), AS_OF + timedelta(days=1)


@dataclass
class Simulated:
    engine: LocalSqlEngine
    truth: dict[str, Any]
    workspace_ids: dict[str, str]
    priced: PricedUsage
    allocator: Allocator
    table_total: dict[str, Any]
    config: EstateConfig
    now: datetime
    project: Path


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    sink = MemorySink()
    report = simulate(sink, seed=7, scale=1, as_of=AS_OF)
    lake = system_tables_lakehouse(sink, Path(tmp_path_factory.mktemp("sim")) / "proj")
    engine, layout = lake.engine, lake.layout
    now = datetime.fromisoformat(report.ground_truth["now"])
    layout.config_path.write_text(report.estate_yaml, encoding="utf-8")
    model = CostModel(engine)
    priced = model.priced_usage(START, END, as_of=now, by_resource=True)
    workspaces = sink.table("system.access.workspaces_latest").to_pylist()
    yield Simulated(
        engine=engine,
        truth=report.ground_truth,
        workspace_ids={w["workspace_name"]: w["workspace_id"] for w in workspaces},
        priced=priced,
        allocator=Allocator(priced),
        table_total=model.table_total(START, END),
        config=load_estate(layout.config_path, require_approved=False),
        now=now,
        project=layout.root,
    )
    lake.close()
