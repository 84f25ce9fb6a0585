"""`lakecrew policy apply` through the real databricks-sdk over real HTTP (replay server)."""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest

from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.policies import DatabricksClusterPolicies
from lakecrew.core.errors import PermissionDenied, UsageError
from lakecrew.services.deploy.policy_apply import apply_plan, plan_for
from lakecrew.services.policy.cluster_policy import PolicyDocument, export
from lakecrew.services.policy.loader import load_pack
from lakecrew.testing.databricks_policies import ClusterPoliciesHandler
from lakecrew.testing.databricks_replay import TOKEN, DatabricksReplay, VirtualClock

from .conftest import OPTIONS

DOCS: list[PolicyDocument] = export(load_pack().pack, "dev")  # interactive + job
EXPECTED = {d.name: (d.definition, d.description) for d in DOCS}


def _older(doc: PolicyDocument) -> dict[str, object]:
    """The job policy as an earlier lakecrew wrote it: no owner tag rule, laxer autoscale."""
    definition = dict(doc.definition)
    definition.pop("custom_tags.owner")
    definition["autoscale.max_workers"] = {"type": "range", "maxValue": 10}
    return {
        "policy_id": "0003D1B2F4A5C6E7",
        "name": doc.name,
        "definition": json.dumps(definition),
        "description": doc.description,
        "max_clusters_per_user": 2,
        "creator_user_name": "admin@example.org",
    }


def _port(stack: ExitStack, handler: ClusterPoliciesHandler) -> DatabricksClusterPolicies:
    replay = stack.enter_context(DatabricksReplay(handlers=[handler]))
    client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=VirtualClock())
    return DatabricksClusterPolicies("ehealth-dev-eu", client)


def test_plan_update_and_creates_apply_them_then_plan_nothing() -> None:
    job = next(d for d in DOCS if d.cluster_type == "job")
    handler = ClusterPoliciesHandler([_older(job)], expected=EXPECTED)
    with ExitStack() as stack:
        port = _port(stack, handler)
        plan = plan_for(port, DOCS)
        assert plan.summary() == {"create": len(DOCS) - 1, "update": 1, "unchanged": 0}
        (update,) = plan.of("update")
        assert update.policy_id == "0003D1B2F4A5C6E7" and update.changed == ("definition",)

        done = apply_plan(plan, port)

        assert sorted(d.action for d in done) == sorted(["update"] + ["create"] * (len(DOCS) - 1))
        edits = [b for op, b in handler.writes if op == "edit"]
        creates = [b for op, b in handler.writes if op == "create"]
        assert len(edits) == 1 and len(creates) == len(DOCS) - 1
        assert edits[0]["policy_id"] == "0003D1B2F4A5C6E7"
        assert edits[0]["max_clusters_per_user"] == 2  # kept across the replace
        assert json.loads(edits[0]["definition"]) == job.definition
        assert {c["name"] for c in creates} == {d.name for d in DOCS if d is not job}

        second = plan_for(port, DOCS)
        assert second.empty and apply_plan(second, port) == []
        assert len(handler.writes) == len(DOCS)  # the second run sent nothing


def test_a_non_admin_gets_permission_denied_naming_the_call() -> None:
    handler = ClusterPoliciesHandler(deny_writes=True)
    with ExitStack() as stack:
        port = _port(stack, handler)
        plan = plan_for(port, DOCS)
        with pytest.raises(PermissionDenied) as info:
            apply_plan(plan, port)
    message = str(info.value)
    assert "cluster_policies.create" in message and "workspace admin" in message
    assert TOKEN not in message


def test_a_wrong_body_is_refused_by_the_server() -> None:
    # the server expects other definitions: what the client sends is checked, not trusted
    wrong = {
        d.name: ({"cluster_type": {"type": "fixed", "value": "job"}}, d.description) for d in DOCS
    }
    handler = ClusterPoliciesHandler(expected=wrong)
    with ExitStack() as stack:
        port = _port(stack, handler)
        with pytest.raises(UsageError, match=r"cluster_policies\.create: rejected"):
            apply_plan(plan_for(port, DOCS), port)
    assert handler.writes == []
