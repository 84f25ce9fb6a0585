"""Recommendations on a hand-made dataset (expected savings computed by hand).

Window 2026-01-01..2026-01-22 (21 days): monthly figures are × 30/21.
  c-idle  ALL_PURPOSE 2 DBU/h × 0.55 for 10 h; CPU 1 % in hours 0-5, 20 % in hours 6-9
          idle: 6 h × 1.10 = 6.60 → 9.43/month; over-provisioned: 4 h × 1.10 × 0.5 → 3.14
  c-busy  ALL_PURPOSE 2 DBU/h for 4 h at 80 % CPU: nothing
  j-ap    10 DBU ALL_PURPOSE (0.55) instead of JOBS (0.15): 4.00 → 5.71/month
  j-low   criticality=low, 10 DBU JOBS × 0.15 on Wed 10:00 UTC (peak): 1.50 × 0.2 → 0.43
  j-high  criticality=high at peak; j-night criticality=low at 02:00: nothing
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.services.finops.recommendations import recommendations

from .conftest import ALL_PURPOSE, JOBS, WS, load, price, usage


def _node(cluster: str, instance: str, hour: int, cpu: float) -> dict[str, Any]:
    start = datetime(2026, 1, 12, hour, 0, tzinfo=UTC)
    return {"account_id": "acc", "workspace_id": WS, "cluster_id": cluster,
            "instance_id": instance, "start_time": start, "end_time": start.replace(minute=1),
            "driver": instance.endswith("d"), "cpu_user_percent": cpu * 0.75,
            "cpu_system_percent": cpu * 0.25, "cpu_wait_percent": 0.0,
            "mem_used_percent": 30.0, "mem_swap_percent": 0.0, "network_sent_bytes": 0,
            "network_received_bytes": 0, "disk_free_bytes_per_mount_point": {},
            "node_type": "m5.xlarge"}  # fmt: skip


def _job(job: str, criticality: str) -> dict[str, Any]:
    return {"account_id": "acc", "workspace_id": WS, "job_id": job, "name": job,
            "tags": {"criticality": criticality},
            "change_time": datetime(2026, 1, 2, tzinfo=UTC)}  # fmt: skip


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _load(engine: LocalSqlEngine) -> None:
    rows = [usage(f"i{h}", ALL_PURPOSE, "2", _at(12, h), cluster_id="c-idle") for h in range(10)]
    rows += [usage(f"b{h}", ALL_PURPOSE, "2", _at(12, h), cluster_id="c-busy") for h in range(4)]
    rows += [
        usage("ap", ALL_PURPOSE, "10", _at(13, 2), job_id="j-ap", cluster_id="c-ap2"),
        usage("lo", JOBS, "10", _at(14, 10), job_id="j-low"),
        usage("hi", JOBS, "10", _at(14, 10), job_id="j-high"),
        usage("ni", JOBS, "10", _at(14, 2), job_id="j-night"),
    ]
    nodes = [_node("c-idle", f"i-{n}", h, 1.0 if h < 6 else 20.0) for h in range(10) for n in "dw"]
    nodes += [_node("c-busy", f"b-{n}", h, 80.0) for h in range(4) for n in "dw"]
    load(engine.store, "system.billing.usage", rows)
    load(engine.store, "system.billing.list_prices", [
        price(JOBS, "0.15", datetime(2025, 1, 1, tzinfo=UTC), None),
        price(ALL_PURPOSE, "0.55", datetime(2025, 1, 1, tzinfo=UTC), None),
    ])  # fmt: skip
    load(engine.store, "system.compute.node_timeline", nodes)
    load(engine.store, "system.lakeflow.jobs",
         [_job("j-low", "low"), _job("j-high", "high"), _job("j-night", "low")])  # fmt: skip


def test_compute_recommendations_with_hand_computed_savings(engine: LocalSqlEngine) -> None:
    _load(engine)
    found = recommendations(engine, date(2026, 1, 1), date(2026, 1, 22), {WS: "prod"})
    got = {(r.code, r.resource): r for r in found}
    savings = {k: r.as_dict()["monthly_savings_usd"] for k, r in got.items()}
    assert savings == {
        ("cluster.idle", f"cluster:c-idle@{WS}"): "9.43",
        ("cluster.over_provisioned", f"cluster:c-idle@{WS}"): "3.14",
        ("job.on_all_purpose", f"job:j-ap@{WS}"): "5.71",
        ("job.off_peak", f"job:j-low@{WS}"): "0.43",
    }
    idle = got[("cluster.idle", f"cluster:c-idle@{WS}")]
    assert idle.evidence == "6 of 10 running hours idle"
    assert (
        "p90 of hourly mean CPU 20.0 %"
        in got[("cluster.over_provisioned", f"cluster:c-idle@{WS}")].evidence
    )
    assert "c-ap2" in got[("job.on_all_purpose", f"job:j-ap@{WS}")].evidence
    assert [r.monthly_savings for r in found] == sorted(
        (r.monthly_savings for r in found), reverse=True
    )
    assert all(r.monthly_savings > Decimal(0) for r in found)


def test_a_window_without_usage_has_no_findings(engine: LocalSqlEngine) -> None:
    _load(engine)
    found = recommendations(engine, date(2026, 1, 20), date(2026, 1, 22), {WS: "dev"})
    assert found == []  # no usage in the window
