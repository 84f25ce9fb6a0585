"""Warehouses, pools, policies, secret scopes and workspace conf; the per-workspace assembly.

`build_unit(ws, unit, ...)` builds unit 0 (the demo set with the planted violations of
`plants.py`) or a scale unit (light, mostly compliant resources, one rotating violation).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lakecrew.ports.workspace import ObjectKind, secret_acl_id
from lakecrew.services.simulate.catalogue import (
    AUTOSCALE,
    COMPLIANT_NODES,
    SKU_SQL_PRO,
    SKU_SQL_SERVERLESS,
    SPARK_VERSIONS,
    TSHIRT,
    WAREHOUSE_SIZES,
)
from lakecrew.services.simulate.clusters import person, suffix
from lakecrew.services.simulate.estate import SimWorkspace
from lakecrew.services.simulate.model import Clock, UsageStream, WorkspaceBuild


def build_warehouse(
    b: WorkspaceBuild,
    rng: np.random.Generator,
    clock: Clock,
    *,
    name: str,
    size: str = "Small",
    auto_stop: int = 15,
    tags: dict[str, str] | None = None,
    serverless: bool = True,
    codes: tuple[str, ...] = (),
    pattern: str = "business",
) -> None:
    """A SQL warehouse (`EndpointInfo`), its usage stream and ground truth."""
    wid = "".join(rng.choice(list("0123456789abcdef"), 16))
    tag_map = b.ws.mandatory_tags() if tags is None else tags
    creator = person(rng)
    data: dict[str, Any] = {
        "id": wid,
        "name": name,
        "cluster_size": size,
        "min_num_clusters": 1,
        "max_num_clusters": 2 if b.ws.environment == "prod" else 1,
        "auto_stop_mins": auto_stop,
        "creator_name": creator,
        "enable_photon": True,
        "enable_serverless_compute": serverless,
        "warehouse_type": "PRO",
        "spot_instance_policy": "COST_OPTIMIZED",
        "channel": {"name": "CHANNEL_NAME_CURRENT"},
        "state": "STOPPED",
        "num_clusters": 0,
        "num_active_sessions": 0,
        "jdbc_url": f"jdbc:spark://{b.ws.name}.sim.local:443/default;httpPath=/sql/1.0/warehouses/{wid}",
        "tags": {"custom_tags": [{"key": k, "value": v} for k, v in tag_map.items()]},
    }
    b.add(ObjectKind.WAREHOUSE, wid, data)
    b.mark(ObjectKind.WAREHOUSE, wid, codes)
    b.history.append({"warehouse": data, "change_ms": clock.ms(-float(rng.integers(2300, 6000)))})
    b.streams.append(
        UsageStream(
            workspace_id=b.ws.workspace_id,
            sku=SKU_SQL_SERVERLESS if serverless else SKU_SQL_PRO,
            dbu_per_hour=WAREHOUSE_SIZES[size][1],
            tags=dict(tag_map),
            metadata={"warehouse_id": wid, "node_type": WAREHOUSE_SIZES[size][0]},
            identity={"owned_by": creator},
            photon=True,
            pattern="always" if auto_stop == 0 else pattern,
        )
    )


def build_pool(
    b: WorkspaceBuild,
    rng: np.random.Generator,
    *,
    name: str,
    tags: dict[str, str] | None = None,
    codes: tuple[str, ...] = (),
) -> None:
    """An instance pool (`InstancePoolAndStats`); idle pool instances bill no DBUs."""
    prefix = f"{int(rng.integers(1000, 1299))}-{int(rng.integers(100000, 999999))}"
    pid = f"{prefix}-{suffix(rng, 5)}-pool-{suffix(rng)}"
    env = b.ws.environment
    node = COMPLIANT_NODES[env][0]
    data = {
        "instance_pool_id": pid,
        "instance_pool_name": name,
        "node_type_id": node,
        "min_idle_instances": 0,
        "max_capacity": TSHIRT[env][0] * 2,
        "idle_instance_autotermination_minutes": 15,
        "enable_elastic_disk": True,
        "preloaded_spark_versions": [SPARK_VERSIONS[0]],
        "aws_attributes": {"availability": "SPOT" if env != "prod" else "ON_DEMAND"},
        "custom_tags": b.ws.mandatory_tags() if tags is None else tags,
        "default_tags": {"Vendor": "Databricks", "DatabricksInstancePoolId": pid},
        "state": "ACTIVE",
        "stats": {
            "idle_count": 0,
            "used_count": 0,
            "pending_idle_count": 0,
            "pending_used_count": 0,
        },
    }
    b.add(ObjectKind.INSTANCE_POOL, pid, data)
    b.mark(ObjectKind.INSTANCE_POOL, pid, codes)


def policy_definition(env: str) -> dict[str, Any]:
    """The SOP cluster policy of one environment (T-shirt size, autoscale, spot, tags)."""
    lo, hi = AUTOSCALE[env]
    definition: dict[str, Any] = {
        "autotermination_minutes": {
            "type": "range",
            "minValue": 10,
            "maxValue": 30,
            "defaultValue": 30,
        },
        "autoscale.min_workers": {
            "type": "range",
            "minValue": lo,
            "maxValue": hi,
            "defaultValue": lo,
        },
        "autoscale.max_workers": {
            "type": "range",
            "minValue": lo,
            "maxValue": hi,
            "defaultValue": hi,
        },
        "node_type_id": {"type": "allowlist", "values": list(COMPLIANT_NODES[env])},
        "custom_tags.environment": {"type": "fixed", "value": env},
    }
    for tag in ("cost_center", "project", "owner"):
        definition[f"custom_tags.{tag}"] = {"type": "unlimited", "isOptional": False}
    if env != "prod":
        definition["aws_attributes.availability"] = {"type": "fixed", "value": "SPOT_WITH_FALLBACK"}
    return definition


def build_policies(b: WorkspaceBuild, rng: np.random.Generator, clock: Clock) -> None:
    """Three policies: the environment's SOP policy, a job-cluster policy and a GPU policy."""
    env = b.ws.environment
    jobs_def = {**policy_definition(env), "cluster_type": {"type": "fixed", "value": "job"}}
    gpu_def = {
        "node_type_id": {"type": "allowlist", "values": ["g4dn.xlarge", "g5.xlarge"]},
        "custom_tags.gpu_approval": {"type": "unlimited", "isOptional": False},
    }
    for name, definition, desc in (
        (f"sop-{env}-interactive", policy_definition(env), "SOP 1.2 all-purpose clusters"),
        (f"sop-{env}-jobs", jobs_def, "SOP 1.2.7 job clusters"),
        ("sop-gpu-approved", gpu_def, "SOP 1.2.6 GPU clusters (Board approval id required)"),
    ):
        pid = "".join(rng.choice(list("0123456789ABCDEF"), 16))
        b.add(
            ObjectKind.CLUSTER_POLICY,
            pid,
            {
                "policy_id": pid,
                "name": name,
                "definition": json.dumps(definition, sort_keys=True),
                "description": desc,
                "creator_user_name": b.ws.owner,
                "is_default": False,
                "created_at_timestamp": clock.ms(-float(rng.integers(2400, 9000))),
            },
        )


def build_scope(
    b: WorkspaceBuild, *, name: str, broad: str | None = None, codes: tuple[str, ...] = ()
) -> None:
    """A secret scope with ACLs (never values). `broad`: the permission planted for `users`."""
    b.add(ObjectKind.SECRET_SCOPE, name, {"name": name, "backend_type": "DATABRICKS"})
    b.mark(ObjectKind.SECRET_SCOPE, name, codes)
    acls = [("admins", "MANAGE"), (f"{b.ws.project}-engineers", "READ")]
    if broad:
        acls.append(("users", broad))
    for principal, permission in acls:
        b.add(
            ObjectKind.SECRET_ACL,
            secret_acl_id(name, principal),
            {"principal": principal, "permission": permission},
        )


def workspace_conf(ws: SimWorkspace, *, audit_logs: bool) -> dict[str, str]:
    """Workspace settings; `lakecrew.simulated` labels the workspace as simulated."""
    return {
        "enableVerboseAuditLogs": "true" if audit_logs else "false",
        "enableIpAccessLists": "true",
        "maxTokenLifetimeDays": "90",
        "enableTokensConfig": "true",
        "enableResultsDownloading": "true" if ws.environment == "dev" else "false",
        "enableDbfsFileBrowser": "false",
        "enableExportNotebook": "true",
        "enableJobViewAcls": "true",
        "enforceUserIsolation": "true",
        "lakecrew.simulated": "true",
    }
