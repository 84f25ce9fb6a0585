"""The other system tables: prices, node types, SCD2 histories, run timeline, node timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core import system_tables as st
from lakecrew.services.simulate.catalogue import (
    LIST_PRICES,
    NODE_TYPES,
    PRICE_CHANGE,
    PRICE_EPOCH,
    WAREHOUSE_SIZES,
    price_change_time,
)
from lakecrew.services.simulate.estate import ACCOUNT_ID, SimWorkspace
from lakecrew.services.simulate.jobs import job_runs
from lakecrew.services.simulate.model import Clock, RunningCluster, SimJob, rng_for

S = pa.string()
UTC = PRICE_EPOCH.tzinfo


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _price(value: str) -> dict[str, Any]:
    d = Decimal(value)
    return {"default": d, "promotional": {"default": None}, "effective_list": {"default": d}}


def list_prices(clock: Clock) -> pa.Table:
    """List prices since PRICE_EPOCH, with the simulated mid-period change of PRICE_CHANGE."""
    change = price_change_time(clock.now.date())
    rows = []
    for sku, price in LIST_PRICES:
        end = change if sku == PRICE_CHANGE[0] else None
        rows.append(
            {
                "account_id": ACCOUNT_ID,
                "price_start_time": PRICE_EPOCH,
                "price_end_time": end,
                "sku_name": sku,
                "cloud": "AWS",
                "currency_code": "USD",
                "usage_unit": "DBU",
                "pricing": _price(price),
            }
        )
    rows.append(
        {
            "account_id": ACCOUNT_ID,
            "price_start_time": change,
            "price_end_time": None,
            "sku_name": PRICE_CHANGE[0],
            "cloud": "AWS",
            "currency_code": "USD",
            "usage_unit": "DBU",
            "pricing": _price(PRICE_CHANGE[1]),
        }
    )
    return pa.Table.from_pylist(rows, schema=st.BILLING_LIST_PRICES)


def node_types() -> pa.Table:
    """system.compute.node_types for the node catalogue."""
    rows = [
        {
            "account_id": ACCOUNT_ID,
            "node_type": n.name,
            "core_count": n.cores,
            "memory_mb": n.memory_mb,
            "gpu_count": n.gpus,
        }
        for n in NODE_TYPES.values()
    ]
    return pa.Table.from_pylist(rows, schema=st.COMPUTE_NODE_TYPES)


def cluster_row(
    ws: SimWorkspace, c: dict[str, Any], change_ms: int, deleted_ms: int | None
) -> dict[str, Any]:
    """One system.compute.clusters version from a ClusterDetails dict."""
    aws = c.get("aws_attributes", {})
    auto = c.get("autoscale")
    change = _ts(change_ms)
    assert change is not None
    return {
        "account_id": ACCOUNT_ID,
        "workspace_id": ws.workspace_id,
        "cluster_id": c["cluster_id"],
        "cluster_name": c["cluster_name"],
        "owned_by": c["creator_user_name"],
        "create_time": _ts(c["start_time"]),
        "delete_time": _ts(deleted_ms),
        "driver_node_type": c["driver_node_type_id"],
        "worker_node_type": c["node_type_id"],
        "worker_count": None if auto else c.get("num_workers", 0),
        "min_autoscale_workers": auto["min_workers"] if auto else None,
        "max_autoscale_workers": auto["max_workers"] if auto else None,
        "auto_termination_minutes": c.get("autotermination_minutes", 0),
        "enable_elastic_disk": c.get("enable_elastic_disk"),
        "tags": c.get("custom_tags", {}),
        "cluster_source": c["cluster_source"],
        "init_scripts": [],
        "aws_attributes": {
            k: aws.get(k)
            for k in (
                "instance_profile_arn",
                "zone_id",
                "first_on_demand",
                "availability",
                "spot_bid_price_percent",
                "ebs_volume_type",
                "ebs_volume_count",
                "ebs_volume_size",
                "ebs_volume_iops",
                "ebs_volume_throughput",
            )
        },
        "azure_attributes": None,
        "gcp_attributes": None,
        "driver_instance_pool_id": None,
        "worker_instance_pool_id": None,
        "dbr_version": c["spark_version"],
        "change_time": change,
        "change_date": change.date(),
        "data_security_mode": c.get("data_security_mode"),
        "policy_id": c.get("policy_id"),
    }


def warehouse_row(ws: SimWorkspace, w: dict[str, Any], change_ms: int) -> dict[str, Any]:
    """One system.compute.warehouses version from an EndpointInfo dict."""
    return {
        "warehouse_id": w["id"],
        "workspace_id": ws.workspace_id,
        "account_id": ACCOUNT_ID,
        "warehouse_name": w["name"],
        "warehouse_type": "SERVERLESS"
        if w.get("enable_serverless_compute")
        else w["warehouse_type"],
        "warehouse_channel": "CURRENT",
        "warehouse_size": WAREHOUSE_SIZES[w["cluster_size"]][0],
        "min_clusters": w["min_num_clusters"],
        "max_clusters": w["max_num_clusters"],
        "auto_stop_minutes": w["auto_stop_mins"],
        "tags": {t["key"]: t["value"] for t in w["tags"]["custom_tags"]},
        "change_time": _ts(change_ms),
        "delete_time": None,
    }


def job_rows(
    ws: SimWorkspace, job: dict[str, Any], clock: Clock, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """SCD2 versions of one job: created, then (for some) a later edit of the schedule."""
    s = job["settings"]
    sched = s.get("schedule")
    base = {
        "account_id": ACCOUNT_ID,
        "workspace_id": ws.workspace_id,
        "job_id": str(job["job_id"]),
        "name": s["name"],
        "creator_id": str(7_000_000 + sum(map(ord, job["creator_user_name"]))),
        "tags": s.get("tags", {}),
        "run_as": job.get("run_as_user_name"),
        "delete_time": None,
        "description": s.get("description"),
        "trigger": {
            "schedule": {
                "quartz_cron_expression": sched["quartz_cron_expression"],
                "timezone_id": sched["timezone_id"],
            }
        }
        if sched
        else None,
        "trigger_type": "CRON" if sched else None,
        "run_as_user_name": job.get("run_as_user_name"),
        "creator_user_name": job["creator_user_name"],
        "paused": False,
        "timeout_seconds": s.get("timeout_seconds"),
        "health_rules": [],
        "deployment": None,
        "create_time": _ts(job["created_time"]),
    }
    rows = [{**base, "change_time": _ts(job["created_time"])}]
    if rng.random() < 0.4:
        edited = clock.now - timedelta(hours=float(rng.uniform(48, 24 * 60)))
        rows[0]["tags"] = {k: v for k, v in base["tags"].items() if k != "environment"}
        rows.append({**base, "change_time": edited})
    return rows


def run_timeline(jobs: Sequence[SimJob], clock: Clock, seed: int) -> pa.Table:
    """system.lakeflow.job_run_timeline: hourly slices, result_state on the final slice only."""
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("j", "run", "s", "e", "final", "retry", "res", "rs", "re")
    }
    for j, job in enumerate(jobs):
        r = job_runs(job, clock, seed)
        now = clock.hours + clock.now.minute / 60
        end = np.where(r["result"] == -1, now, r["end"])
        h0 = np.floor(r["start"]).astype(np.int64)
        n = np.maximum(np.ceil(end).astype(np.int64) - h0, 1)
        run = np.repeat(np.arange(h0.size), n)
        first = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
        k = np.arange(run.size) - first[run]
        hour = h0[run] + k
        cols["j"].append(np.full(run.size, j))
        cols["run"].append(r["run_id"][run])
        cols["s"].append(np.maximum(r["start"][run], hour))
        cols["e"].append(np.minimum(end[run], hour + 1))
        cols["final"].append((k == n[run] - 1) & (r["result"][run] >= 0))
        cols["retry"].append(r["retry"][run])
        cols["res"].append(r["result"][run])
        cols["rs"].append(r["start"][run])
        cols["re"].append(end[run])
    c = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    return _timeline_table(jobs, clock, c)


def _timeline_table(jobs: Sequence[SimJob], clock: Clock, c: dict[str, np.ndarray]) -> pa.Table:
    n = c["j"].size
    j = pa.array(c["j"].astype(np.int64))
    start_us = int(clock.start.timestamp() * 1_000_000)
    ts = pa.timestamp("us", tz="UTC")
    final = pa.array(c["final"].astype(bool))
    null = pa.nulls(n, S)
    res = pc.take(
        pa.array(["SUCCEEDED", "FAILED"], S), pa.array(np.clip(c["res"], 0, 1).astype(np.int64))
    )
    term = pc.take(
        pa.array(["SUCCESS", "RUN_EXECUTION_ERROR"], S),
        pa.array(np.clip(c["res"], 0, 1).astype(np.int64)),
    )
    run_s = pc.cast(pa.array(c["run"].astype(np.int64)), S)
    run_ts = pa.array(start_us + np.floor(c["rs"] * 3600).astype(np.int64) * 1_000_000, ts).cast(
        pa.timestamp("s", tz="UTC")
    )
    per_run = pc.binary_join_element_wise(
        pc.strftime(run_ts, "%m%d-%H%M%S"),
        pc.utf8_lpad(pc.cast(pa.array(c["run"].astype(np.int64) % 10**7), S), 7, "0"),
        "-r",
    )
    kinds = np.array(
        [{"job_cluster": 0, "existing": 1, "serverless": 2}[jb.compute] for jb in jobs], np.int64
    )
    kind = kinds[c["j"].astype(np.int64)] if n else np.zeros(0, np.int64)
    existing = pc.take(pa.array([jb.cluster_id for jb in jobs], S), j)
    cid = pc.if_else(pa.array(kind == 0), per_run, existing)
    has = kind != 2
    offsets = pa.array(np.concatenate([[0], np.cumsum(has)]).astype(np.int32))
    cid_vals = pc.filter(cid, pa.array(has))
    ctype = pc.take(pa.array(["JOB_CLUSTER", "ALL_PURPOSE"], S), pa.array(kind[has]))
    compute = pa.StructArray.from_arrays(
        [ctype, cid_vals, pa.nulls(len(cid_vals), S)], names=["type", "cluster_id", "warehouse_id"]
    )
    dur = np.round((c["re"] - c["rs"]) * 3600).astype(np.int64)
    dur_final = pa.array(np.where(c["final"], dur, 0)).cast(pa.int64())
    dur_arr = pc.if_else(final, dur_final, pa.nulls(n, pa.int64()))
    cols = {
        "account_id": pc.take(pa.array([ACCOUNT_ID], S), pa.array(np.zeros(n, np.int64))),
        "workspace_id": pc.take(pa.array([jb.workspace.workspace_id for jb in jobs], S), j),
        "job_id": pc.take(pa.array([str(jb.job_id) for jb in jobs], S), j),
        "run_id": run_s,
        "period_start_time": pa.array(start_us + np.round(c["s"] * 3600e6).astype(np.int64), ts),
        "period_end_time": pa.array(start_us + np.round(c["e"] * 3600e6).astype(np.int64), ts),
        "trigger_type": pc.take(
            pa.array(["CRON", "ONETIME_RETRY"], S), pa.array(c["retry"].astype(np.int64))
        ),
        "run_type": pc.take(pa.array(["JOB_RUN"], S), pa.array(np.zeros(n, np.int64))),
        "run_name": pc.take(pa.array([jb.name for jb in jobs], S), j),
        "compute_ids": pa.ListArray.from_arrays(offsets, cid_vals),
        "result_state": pc.if_else(final, res, null),
        "termination_code": pc.if_else(final, term, null),
        "job_parameters": pa.nulls(n, st.STR_MAP),
        "source_task_run_id": null,
        "root_task_run_id": null,
        "compute": pa.ListArray.from_arrays(offsets, compute),
        "termination_type": pc.if_else(
            final,
            pc.take(
                pa.array(["SUCCESS", "CLIENT_ERROR"], S),
                pa.array(np.clip(c["res"], 0, 1).astype(np.int64)),
            ),
            null,
        ),
        "setup_duration_seconds": pc.if_else(
            final, pa.array(np.full(n, 45, np.int64)), pa.nulls(n, pa.int64())
        ),
        "queue_duration_seconds": pc.if_else(
            final, pa.array(np.zeros(n, np.int64)), pa.nulls(n, pa.int64())
        ),
        "run_duration_seconds": dur_arr,
        "cleanup_duration_seconds": pc.if_else(
            final, pa.array(np.full(n, 5, np.int64)), pa.nulls(n, pa.int64())
        ),
        "execution_duration_seconds": dur_arr,
    }
    return pa.Table.from_arrays(
        [cols[f.name].cast(f.type) for f in st.LAKEFLOW_JOB_RUN_TIMELINE],
        schema=st.LAKEFLOW_JOB_RUN_TIMELINE,
    )


def node_timeline(
    running: Sequence[RunningCluster], clock: Clock, seed: int, minutes: int = 240
) -> pa.Table:
    """Per-minute, per-instance utilisation for the last `minutes` of RUNNING clusters."""
    rows: list[dict[str, Any]] = []
    for k, rc in enumerate(running):
        rng = rng_for(seed, 4, rc.workspace.index, k)
        node = NODE_TYPES[rc.node_type]
        idle_from = clock.now - timedelta(hours=clock.hours - rc.idle_since_hour)
        for inst in range(rc.workers + 1):
            iid = f"i-{rc.cluster_id[-8:]}{inst:04d}"
            for m in range(minutes):
                t = clock.now - timedelta(minutes=minutes - m)
                busy = (
                    rc.activity == "busy"
                    or (rc.activity == "active" and m >= minutes - 20)
                    or (rc.activity == "idle" and t < idle_from)
                )
                cpu = float(rng.uniform(55, 90)) if busy else float(rng.uniform(0.2, 1.5))
                rows.append(
                    {
                        "account_id": ACCOUNT_ID,
                        "workspace_id": rc.workspace.workspace_id,
                        "cluster_id": rc.cluster_id,
                        "instance_id": iid,
                        "start_time": t,
                        "end_time": t + timedelta(minutes=1),
                        "driver": inst == 0,
                        "cpu_user_percent": round(cpu * 0.85, 3),
                        "cpu_system_percent": round(cpu * 0.15, 3),
                        "cpu_wait_percent": round(float(rng.uniform(0, 2)), 3),
                        "mem_used_percent": round(
                            float(rng.uniform(40, 80) if busy else rng.uniform(15, 25)), 3
                        ),
                        "mem_swap_percent": 0.0,
                        "network_sent_bytes": int(
                            rng.integers(10**6, 10**8) if busy else rng.integers(10**3, 10**4)
                        ),
                        "network_received_bytes": int(
                            rng.integers(10**6, 10**8) if busy else rng.integers(10**3, 10**4)
                        ),
                        "disk_free_bytes_per_mount_point": {
                            "/": 60 * 2**30,
                            "/local_disk0": 120 * 2**30,
                        },
                        "node_type": node.name,
                    }
                )
    return pa.Table.from_pylist(rows, schema=st.COMPUTE_NODE_TIMELINE)


def workspaces_latest(workspaces: Sequence[SimWorkspace], clock: Clock) -> pa.Table:
    """system.access.workspaces_latest: the inventory workspaces plus the shadow one."""
    rows = [
        {
            "account_id": ACCOUNT_ID,
            "workspace_id": w.workspace_id,
            "workspace_name": w.name,
            "workspace_url": f"https://dbc-{w.workspace_id[-8:]}.cloud.databricks.com",
            "create_time": clock.start - timedelta(days=400 - w.index * 7),
            "status": "RUNNING",
        }
        for w in workspaces
    ]
    return pa.Table.from_pylist(rows, schema=st.ACCESS_WORKSPACES_LATEST)
