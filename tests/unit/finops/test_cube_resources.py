"""The cost cube's resource companion: recommendations read it and get the same findings.

On the hand-made recommendations dataset (test_recommendations.py): after a refresh, the
recommendations read through the cube equal those from raw usage; then a late-arriving
correction for a closed day, a list-price change and a cluster newly in node_timeline each make
exactly the affected days stale (as does a cluster newly created from the UI: only such
clusters' spend is kept, not every per-run job cluster's) — while stale, recommendations read
raw usage — and the next refresh recomputes those days only (counted from the days bound to
the companion query, through a recording wrapper around the real engine), after which cube and
raw agree again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.services.finops.cube import CostCube
from lakecrew.services.finops.cube_resources import RESOURCES
from lakecrew.services.finops.recommendations import Recommendation, recommendations

from .conftest import ALL_PURPOSE, JOBS, WS, load, price, usage
from .test_recommendations import _at, _load, _node

START, END = date(2026, 1, 1), date(2026, 1, 22)
ENVS = {WS: "dev"}


class Recording:
    """The real engine, recording the days bound to each companion computation."""

    def __init__(self, engine: LocalSqlEngine) -> None:
        self.engine = engine
        self.companion_days: list[set[date] | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def fetch_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        if "GROUPING SETS" in sql and "cluster_hour" in sql:
            days = {v for k, v in (params or {}).items() if k.startswith("cube_day_")}
            self.companion_days.append(days if "cube_day_" in sql else None)
        return self.engine.fetch_arrow(sql, params)


def _ui_cluster(cluster_id: str) -> dict[str, Any]:
    """A Dev all-purpose cluster created from the UI, on on-demand instances."""
    return {"account_id": "acc", "workspace_id": WS, "cluster_id": cluster_id,
            "cluster_name": cluster_id, "cluster_source": "UI",
            "aws_attributes": {"availability": "ON_DEMAND"}, "change_time": _at(1, 0)}  # fmt: skip


@pytest.fixture
def recording(engine: LocalSqlEngine) -> Recording:
    _load(engine)
    load(engine.store, "system.compute.clusters", [_ui_cluster("c-busy")])
    return Recording(LocalSqlEngine(engine.store, engine.metastore, writable=True))


def _both(rec: Recording) -> tuple[list[Recommendation], list[Recommendation], bool]:
    cube = CostCube(rec)  # type: ignore[arg-type]  # a recording wrapper of the real engine
    fresh = cube.fresh(START, END)
    cubed = recommendations(rec, START, END, ENVS, cube=cube)  # type: ignore[arg-type]
    raw = recommendations(rec.engine, START, END, ENVS)
    return cubed, raw, fresh


def test_recommendations_read_the_companion_and_follow_changes(recording: Recording) -> None:
    rec, cube = recording, CostCube(recording)  # type: ignore[arg-type]
    assert cube.refresh().days == {date(2026, 1, d) for d in (12, 13, 14)}
    assert rec.companion_days == [None]  # first build: every day, no day list
    cubed, raw, fresh = _both(rec)
    assert fresh and cubed == raw and len(raw) == 5
    assert ("cluster.dev_on_demand", f"cluster:c-busy@{WS}") in {(r.code, r.resource) for r in raw}
    kinds = rec.engine.fetch(f"SELECT DISTINCT kind, rid FROM {RESOURCES} ORDER BY 1, 2").rows
    # spend per cluster only for the UI cluster (c-idle and c-ap2 are in no clusters row)
    assert [k for k in kinds if k[0] == "cluster"] == [("cluster", "c-busy")]
    assert {k for k, _ in kinds} == {"job", "cluster", "cluster_hour"}

    # Late-arriving correction for the closed day 13: half of j-ap's all-purpose DBUs retracted.
    load(rec.engine.store, "system.billing.usage", [
        usage("ap-x", ALL_PURPOSE, "-5", _at(13, 2), kind="RETRACTION", job_id="j-ap",
              cluster_id="c-ap2"),
    ])  # fmt: skip
    cube = CostCube(rec)  # type: ignore[arg-type]
    assert cube.plan().stale["changed"] == (date(2026, 1, 13),)
    cubed, raw, fresh = _both(rec)
    assert not fresh and cubed == raw  # stale: read raw usage, never the old companion
    saving = {r.code: r.as_dict()["monthly_savings_usd"] for r in raw}["job.on_all_purpose"]
    assert saving == "2.86"  # 5 DBU × (0.55 − 0.15) × 30/21 (was 5.71 for 10 DBU)
    rec.companion_days.clear()
    assert cube.refresh().days == {date(2026, 1, 13)}
    assert rec.companion_days == [{date(2026, 1, 13)}]  # days 12 and 14 not rescanned
    cubed, raw, fresh = _both(rec)
    assert fresh and cubed == raw

    # A re-price: the all-purpose list price rises from day 14 on.
    prices = [
        price(JOBS, "0.15", datetime(2025, 1, 1, tzinfo=UTC), None),
        price(ALL_PURPOSE, "0.55", datetime(2025, 1, 1, tzinfo=UTC), _at(14, 0)),
        price(ALL_PURPOSE, "0.75", _at(14, 0), None),
    ]
    rec.engine.store.overwrite(
        "system.billing.list_prices",
        pa.Table.from_pylist(prices, schema=SYSTEM_TABLES["system.billing.list_prices"]),
    )
    cube = CostCube(rec)  # type: ignore[arg-type]
    repriced = set(cube.plan().stale["repriced"])
    assert date(2026, 1, 14) in repriced and date(2026, 1, 12) not in repriced
    rec.companion_days.clear()
    assert cube.refresh().days == repriced
    assert rec.companion_days == [repriced]
    cubed, raw, fresh = _both(rec)
    assert fresh and cubed == raw

    # A cluster newly in node_timeline: the days of its usage are recomputed (hourly rows).
    node = _node("c-ap2", "x-d", 2, 1.0) | {"start_time": _at(13, 2), "end_time": _at(13, 3)}
    load(rec.engine.store, "system.compute.node_timeline", [node])
    cube = CostCube(rec)  # type: ignore[arg-type]
    assert cube.plan().stale["watched"] == (date(2026, 1, 13),)
    rec.companion_days.clear()
    cube.refresh()
    assert rec.companion_days == [{date(2026, 1, 13)}]
    cubed, raw, fresh = _both(rec)
    assert fresh and cubed == raw
    assert ("cluster.idle", f"cluster:c-ap2@{WS}") in {(r.code, r.resource) for r in cubed}

    # A cluster newly known as created from the UI: the days of its usage are recomputed.
    load(rec.engine.store, "system.compute.clusters", [_ui_cluster("c-ap2")])
    cube = CostCube(rec)  # type: ignore[arg-type]
    assert cube.plan().stale["watched"] == (date(2026, 1, 13),)
    rec.companion_days.clear()
    cube.refresh()
    assert rec.companion_days == [{date(2026, 1, 13)}]
    cubed, raw, fresh = _both(rec)
    assert fresh and cubed == raw
    assert ("cluster.dev_on_demand", f"cluster:c-ap2@{WS}") in {(r.code, r.resource) for r in cubed}
