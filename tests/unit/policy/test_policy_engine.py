"""The rule engine on hand-written REST objects: each cluster/job/warehouse/pool rule fires on a
violating object and stays quiet on a compliant one."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lakecrew.core.findings import Approval, EvaluationContext, fingerprint
from lakecrew.core.resources import RESOURCE_TYPES, Resource
from lakecrew.services.policy.engine import Engine, evaluate
from lakecrew.services.policy.loader import load_pack

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PACK = load_pack().pack
ENGINE = Engine(PACK)
TAGS = {"cost_center": "Health", "project": "malaria", "owner": "amina", "environment": "dev"}
CLUSTER: dict[str, Any] = {
    "cluster_id": "0301-000000-abc",
    "cluster_name": "malaria-dev",
    "cluster_source": "UI",
    "policy_id": "E0631F5C0D000001",  # created under the SOP policy (SOP 1.2.8)
    "node_type_id": "m5.xlarge",
    "driver_node_type_id": "m5.xlarge",
    "autoscale": {"min_workers": 1, "max_workers": 2},
    "autotermination_minutes": 30,
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK"},
    "custom_tags": dict(TAGS),
    "state": "RUNNING",
}
JOB: dict[str, Any] = {
    "job_id": 42,
    "settings": {
        "name": "ingest",
        "tags": dict(TAGS),
        "run_as": {"user_name": "amina@x.org"},
        "email_notifications": {"on_failure": ["team@x.org"]},
        "tasks": [
            {
                "task_key": "a",
                "max_retries": 2,
                "job_cluster_key": "c",
                "notebook_task": {
                    "notebook_path": "/x",
                    "base_parameters": {"token": "{{secrets/s/k}}"},
                },
            }
        ],
    },
}
WAREHOUSE: dict[str, Any] = {
    "id": "wh1",
    "name": "bi",
    "auto_stop_mins": 15,
    "tags": {"custom_tags": [{"key": k, "value": v} for k, v in TAGS.items()]},
}
POOL: dict[str, Any] = {
    "instance_pool_id": "p1",
    "instance_pool_name": "pool",
    "custom_tags": dict(TAGS),
}
DOCS = {"clusters": CLUSTER, "jobs": JOB, "warehouses": WAREHOUSE, "instance_pools": POOL}


def run(rtype: str, data: dict[str, Any], env: str = "dev", **ctx: Any) -> dict[str, Any]:
    res = RESOURCE_TYPES.get(rtype).obj.make("malaria-dev-westafrica", data)
    c = EvaluationContext("malaria-dev-westafrica", env, now=NOW, **ctx)
    return {f.rule_id: dict(f.evidence) for f in ENGINE.evaluate([res], c).findings}


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    node = doc
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is ...:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("rtype", "env"),
    [("clusters", "dev"), ("jobs", "prod"), ("warehouses", "qa"), ("instance_pools", "prod")],
)
def test_compliant_objects_have_no_findings(rtype: str, env: str) -> None:
    data = copy.deepcopy(DOCS[rtype])
    if rtype == "jobs":
        data["settings"]["tags"] = {**TAGS, "environment": env}
    assert run(rtype, data, env) == {}


CASES = [
    ("clusters", "custom_tags.owner", " ", "dev", "cluster.tags_missing"),
    ("clusters", "custom_tags.environment", "prod", "dev", "cluster.tags_environment_mismatch"),
    ("clusters", "node_type_id", "r5.xlarge", "dev", "cluster.size_out_of_policy"),
    ("clusters", "node_type_id", "z9.unknown", "dev", "cluster.size_out_of_policy"),
    (
        "clusters",
        "autoscale",
        {"min_workers": 1, "max_workers": 6},
        "dev",
        "cluster.size_out_of_policy",
    ),
    ("clusters", "policy_id", ..., "dev", "security.cluster.no_policy"),
    ("clusters", "policy_id", "", "dev", "security.cluster.no_policy"),
    ("clusters", "autotermination_minutes", 0, "dev", "cluster.autotermination_disabled"),
    ("clusters", "autotermination_minutes", ..., "dev", "cluster.autotermination_disabled"),
    ("clusters", "autotermination_minutes", 45, "dev", "cluster.autotermination_too_long"),
    (
        "clusters",
        "autoscale",
        {"min_workers": 1, "max_workers": 3},
        "dev",
        "cluster.autoscale_out_of_bounds",
    ),
    ("clusters", "aws_attributes.availability", "ON_DEMAND", "dev", "cluster.spot_required"),
    ("clusters", "node_type_id", "g4dn.xlarge", "dev", "cluster.gpu_unapproved"),
    ("clusters", "node_type_id", "x1.16xlarge", "dev", "cluster.high_memory_unapproved"),
    (
        "jobs",
        "settings.tasks.0.existing_cluster_id",
        "0301-000000-abc",
        "prod",
        "job.all_purpose_compute",
    ),
    ("jobs", "settings.tasks.0.max_retries", 0, "dev", "job.retries_missing"),
    ("jobs", "settings.tasks.0.max_retries", ..., "dev", "job.retries_missing"),
    ("jobs", "settings.email_notifications", {}, "dev", "job.notifications_missing"),
    ("jobs", "settings.tags.project", "", "dev", "job.tags_missing"),
    (
        "jobs",
        "settings.tasks.0.notebook_task.base_parameters.token",
        "dapi0123456789abcdef0123456789abcdef",
        "dev",
        "job.hardcoded_secret",
    ),
    ("warehouses", "auto_stop_mins", 0, "dev", "warehouse.autostop_missing"),
    ("warehouses", "auto_stop_mins", 120, "dev", "warehouse.autostop_missing"),
    (
        "warehouses",
        "tags.custom_tags",
        [{"key": "project", "value": "m"}],
        "dev",
        "warehouse.tags_missing",
    ),
    ("instance_pools", "custom_tags", {}, "dev", "pool.tags_missing"),
]


@pytest.mark.parametrize(("rtype", "path", "value", "env", "code"), CASES)
def test_each_rule_fires_on_its_violation(
    rtype: str, path: str, value: Any, env: str, code: str
) -> None:
    base = copy.deepcopy(DOCS[rtype])
    if rtype == "jobs":
        base["settings"]["tags"]["environment"] = env
    found = run(rtype, with_(base, path, value), env)
    assert code in found


def test_fixed_size_cluster_and_single_node() -> None:
    fixed = with_(with_(CLUSTER, "autoscale", ...), "num_workers", 2)
    assert "cluster.autoscale_disabled" in run("clusters", fixed)
    single = {**with_(CLUSTER, "autoscale", ...), "num_workers": 0, "is_single_node": True}
    assert run("clusters", single) == {}


def test_interactive_outside_dev_and_job_clusters() -> None:
    qa = with_(CLUSTER, "custom_tags.environment", "qa")
    assert "cluster.interactive_outside_dev" in run("clusters", qa, "qa")
    job_cluster = {
        **with_(qa, "autotermination_minutes", 0),
        "cluster_source": "JOB",
        "autoscale": {"min_workers": 2, "max_workers": 4},
    }
    assert run("clusters", job_cluster, "qa") == {}


def test_job_owner_missing_needs_both_owner_and_run_as_missing() -> None:
    no_owner = with_(JOB, "settings.tags.owner", ...)
    assert "job.owner_missing" not in run("jobs", no_owner)
    assert "job.owner_missing" in run("jobs", with_(no_owner, "settings.run_as", ...))


def test_idle_uses_activity_facts_and_clock() -> None:
    ctx = {"last_activity": {CLUSTER["cluster_id"]: NOW - timedelta(minutes=45)}}
    assert run("clusters", CLUSTER, **ctx)["cluster.idle"]["idle_minutes"] == 45
    ctx = {"last_activity": {CLUSTER["cluster_id"]: NOW - timedelta(minutes=10)}}
    assert "cluster.idle" not in run("clusters", CLUSTER, **ctx)
    assert "cluster.idle" not in run("clusters", CLUSTER)  # no facts, no claim


def test_approvals_silence_gpu_and_autotermination_rules() -> None:
    gpu = with_(CLUSTER, "node_type_id", "g4dn.xlarge")
    ok = Approval("gpu", "DGB", "CNN training", resource_name_glob="malaria-*")
    assert "cluster.gpu_unapproved" not in run("clusters", gpu, approvals=(ok,))
    expired = Approval("gpu", "DGB", "x", expires=NOW - timedelta(days=1))
    assert "cluster.gpu_unapproved" in run("clusters", gpu, approvals=(expired,))
    long = with_(CLUSTER, "autotermination_minutes", 120)
    exc = Approval(
        "autotermination", "DGB", "prod batch", resource_id=CLUSTER["cluster_id"], max_minutes=180
    )
    assert "cluster.autotermination_too_long" not in run("clusters", long, approvals=(exc,))


def test_secret_evidence_is_masked() -> None:
    secret = "dapi0123456789abcdef0123456789abcdef"
    job = with_(JOB, "settings.tasks.0.notebook_task.base_parameters.password", "hunter2hunter2")
    job = with_(job, "settings.tasks.0.notebook_task.base_parameters.token", secret)
    evidence = run("jobs", job)["job.hardcoded_secret"]
    assert secret not in str(evidence) and "hunter2" not in str(evidence)
    assert {s["location"].rsplit(".", 1)[-1] for s in evidence["secrets"]} == {"token", "password"}


def test_fingerprint_is_stable_and_distinct() -> None:
    a = fingerprint("ws", "clusters", "c1", "cluster.idle")
    assert a == fingerprint("ws", "clusters", "c1", "cluster.idle")
    assert a != fingerprint("ws", "clusters", "c1", "cluster.tags_missing")
    res = Resource("clusters", "c1", "ws", with_(CLUSTER, "custom_tags", {}))
    f1 = evaluate(PACK, [res], EvaluationContext("ws", "dev", now=NOW)).findings
    f2 = evaluate(PACK, [res], EvaluationContext("ws", "dev", now=NOW + timedelta(days=3))).findings
    assert [f.fingerprint for f in f1] == [f.fingerprint for f in f2]


def test_every_resource_is_counted_even_without_rules() -> None:
    resources = [
        Resource("clusters", "c1", "ws", CLUSTER),
        Resource("models", "m", "ws", {}),
        Resource("nothing_knows_me", "x", "ws", {}),
    ]
    result = evaluate(PACK, resources, EvaluationContext("ws", "dev", now=NOW))
    assert result.evaluated == 3
    assert result.evaluated_by_type == {"clusters": 1, "models": 1, "nothing_knows_me": 1}


def test_unknown_environment_is_a_config_error() -> None:
    from lakecrew.core.errors import ConfigError

    with pytest.raises(ConfigError, match="environment 'staging'"):
        evaluate(PACK, [], EvaluationContext("ws", "staging"))
