"""Cluster-policy export → evaluate round trips per environment and size, and SDK parsing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lakecrew.core.errors import ConfigError, UsageError
from lakecrew.services.policy.cluster_policy import (
    cluster_type_of,
    evaluate_policies,
    evaluate_policy,
    export,
)
from lakecrew.services.policy.loader import load_pack

PACK = load_pack().pack
GOOD_NODE = {"S": "m5.xlarge", "M": "m5.4xlarge", "L": "r5.8xlarge", "GPU": "g4dn.xlarge"}
BOUNDS = {"dev": (1, 2), "qa": (2, 4), "prod": (4, 16)}
SIZES = [
    ("dev", "S"),
    ("dev", "GPU"),
    ("qa", "S"),
    ("qa", "M"),
    ("qa", "GPU"),
    ("prod", "S"),
    ("prod", "M"),
    ("prod", "L"),
    ("prod", "GPU"),
]


def good_spec(env: str, size: str, source: str) -> dict[str, Any]:
    lo, hi = BOUNDS[env]
    limit = {"S": 4, "M": 8, "L": 16}.get(size, 99)
    node = GOOD_NODE[size]
    spec: dict[str, Any] = {
        "cluster_source": source,
        "node_type_id": node,
        "driver_node_type_id": node,
        "autoscale": {"min_workers": lo, "max_workers": min(hi, limit)},
        "custom_tags": {
            "cost_center": "Health",
            "project": "p",
            "owner": "o",
            "environment": env.upper(),
        },
        "aws_attributes": {"availability": "SPOT_WITH_FALLBACK" if env != "prod" else "ON_DEMAND"},
    }
    spec["autotermination_minutes"] = 30 if source == "UI" else 0
    return spec


def sources(env: str) -> list[str]:
    return ["UI", "JOB"] if env == "dev" else ["JOB"]


@pytest.mark.parametrize(("env", "size"), SIZES)
def test_compliant_specs_are_accepted(env: str, size: str) -> None:
    docs = export(PACK, env, size)
    for source in sources(env):
        assert evaluate_policies(docs, good_spec(env, size, source)) == []


def _break(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    node = spec
    *parents, last = path.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return spec


VIOLATIONS = [
    ("custom_tags.owner", ..., "cluster.tags_missing"),
    ("custom_tags.cost_center", "", "cluster.tags_missing"),
    ("custom_tags.environment", "prod-ish", "cluster.tags_environment_mismatch"),
    ("node_type_id", "r5.16xlarge", "cluster.size_out_of_policy / high memory"),
    ("driver_node_type_id", "x1.16xlarge", "cluster.high_memory_unapproved"),
    ("node_type_id", "p3.8xlarge", "cluster.gpu_unapproved"),
    ("node_type_id", "unknown.type", "outside the catalogue"),
    ("autoscale.max_workers", 40, "cluster.size_out_of_policy"),
    ("autoscale.min_workers", 0, "cluster.autoscale_out_of_bounds"),
    ("autoterm_too_long", 45, "cluster.autotermination_too_long"),
]


@pytest.mark.parametrize(("env", "size"), [s for s in SIZES if s[1] != "GPU"])
@pytest.mark.parametrize(("path", "value", "why"), VIOLATIONS)
def test_each_kind_of_violation_is_rejected(
    env: str, size: str, path: str, value: Any, why: str
) -> None:
    docs = export(PACK, env, size)
    for source in sources(env):
        spec = good_spec(env, size, source)
        bad = (
            _break(spec, "autotermination_minutes", value)
            if path == "autoterm_too_long"
            else _break(spec, path, value)
        )
        assert evaluate_policies(docs, bad), f"{why} accepted in {env}/{size}/{source}"


def test_env_specific_rejections() -> None:
    dev = export(PACK, "dev")
    ui = good_spec("dev", "S", "UI")
    assert evaluate_policies(dev, _break(ui, "autotermination_minutes", 0))
    assert evaluate_policies(dev, _break(ui, "autotermination_minutes", ...))
    assert evaluate_policies(dev, _break(ui, "aws_attributes.availability", "ON_DEMAND"))
    fixed = _break(_break(ui, "autoscale", ...), "num_workers", 2)
    assert evaluate_policies(dev, fixed)
    single = {**_break(ui, "autoscale", ...), "num_workers": 0, "is_single_node": True}
    assert evaluate_policies(dev, single) == []
    for env in ("qa", "prod"):
        interactive = good_spec(env, PACK.environments[env].size, "UI")
        violations = evaluate_policies(export(PACK, env), interactive)
        assert any(v.path == "cluster_type" for v in violations)
    qa_job = good_spec("qa", "M", "JOB")
    assert evaluate_policies(
        export(PACK, "qa"), _break(qa_job, "aws_attributes.availability", "ON_DEMAND")
    )
    assert evaluate_policies(export(PACK, "prod"), good_spec("prod", "L", "JOB")) == []


def test_larger_size_than_env_is_refused_and_unknown_inputs() -> None:
    with pytest.raises(UsageError, match="larger"):
        export(PACK, "dev", "L")
    with pytest.raises(UsageError):
        export(PACK, "staging")
    with pytest.raises(UsageError):
        export(PACK, "dev", "XL")


def test_azure_export_uses_azure_nodes_and_spot_kinds() -> None:
    (doc,) = export(PACK, "qa", cloud="azure")
    assert all(n.startswith("Standard_") for n in doc.definition["node_type_id"]["values"])
    assert "azure_attributes.availability" in doc.definition


@pytest.mark.parametrize(
    ("limit", "value", "ok"),
    [
        ({"type": "fixed", "value": "x"}, "x", True),
        ({"type": "fixed", "value": "x"}, "y", False),
        ({"type": "fixed", "value": "x"}, ..., True),
        ({"type": "fixed", "value": True, "hidden": "true"}, "true", True),
        ({"type": "forbidden", "hidden": True}, "p1", False),
        ({"type": "forbidden"}, ..., True),
        ({"type": "allowlist", "values": ["a", "b"]}, "b", True),
        ({"type": "allowlist", "values": ["a", "b"]}, "c", False),
        ({"type": "allowlist", "values": ["a"]}, ..., False),
        ({"type": "allowlist", "values": ["a"], "isOptional": "true"}, ..., True),
        ({"type": "blocklist", "values": ["a"]}, "a", False),
        ({"type": "blocklist", "values": ["a"]}, "b", True),
        ({"type": "regex", "pattern": "ab+"}, "abb", True),
        ({"type": "regex", "pattern": "ab+"}, "xabb", False),
        ({"type": "range", "minValue": 10, "maxValue": 30}, 30, True),
        ({"type": "range", "minValue": 10, "maxValue": 30}, 31, False),
        ({"type": "range", "minValue": 10}, 9, False),
        ({"type": "range", "maxValue": 3}, "2", True),
        ({"type": "range", "maxValue": 3}, "many", False),
        ({"type": "unlimited"}, ..., True),
        ({"type": "unlimited", "isOptional": False}, ..., False),
        ({"type": "unlimited", "isOptional": "false"}, "v", True),
    ],
)
def test_policy_language_semantics(limit: dict[str, Any], value: Any, ok: bool) -> None:
    spec: dict[str, Any] = {"spark_version": "15.4.x-scala2.12"}
    if value is not ...:
        spec["custom_tags"] = {"team.name": value}
    violations = evaluate_policy({"custom_tags.team.name": limit}, spec)
    assert (violations == []) is ok


def test_cluster_type_virtual_attribute_and_json_definition() -> None:
    assert cluster_type_of({"cluster_source": "JOB"}) == "job"
    assert cluster_type_of({"cluster_source": "PIPELINE"}) == "dlt"
    assert cluster_type_of({"cluster_source": "UI"}) == "all-purpose"
    assert cluster_type_of({}) == "all-purpose"
    definition = json.dumps(
        {
            "cluster_type": {"type": "fixed", "value": "job"},
            "dbus_per_hour": {"type": "range", "maxValue": 10},
        }
    )
    assert evaluate_policy(definition, {"cluster_source": "JOB"}) == []
    assert evaluate_policy(definition, {"cluster_source": "API"})[0].path == "cluster_type"
    with pytest.raises(ConfigError, match="limit type"):
        evaluate_policy({"x": {"type": "required"}}, {"x": 1})


def test_exported_policies_parse_with_databricks_sdk() -> None:
    from databricks.sdk.service.compute import Policy

    for env in PACK.environments:
        for doc in export(PACK, env):
            api = json.loads(json.dumps(doc.to_api()))
            policy = Policy.from_dict(api)
            assert policy.name == doc.name and policy.description
            assert json.loads(policy.definition or "{}") == doc.definition
