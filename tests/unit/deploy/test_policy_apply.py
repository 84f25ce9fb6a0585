"""`lakecrew policy apply`: plan create/update/unchanged, idempotent apply on the local store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecrew.adapters.local.policy_store import LocalClusterPolicies
from lakecrew.core.errors import Conflict
from lakecrew.core.pack import Pack
from lakecrew.faces.cli.main import app
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.deploy.policy_apply import apply_plan, plan_for, plan_policy_apply
from lakecrew.services.policy.cluster_policy import PolicyDocument, export
from lakecrew.services.policy.loader import load_pack
from lakecrew.testing.workspace import T0, local_workspace


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack().pack


@pytest.fixture(scope="module")
def dev_docs(pack: Pack) -> list[PolicyDocument]:
    return export(pack, "dev")  # an interactive and a job policy


def _existing(doc: PolicyDocument, **changes: Any) -> dict[str, Any]:
    return {"policy_id": f"ID-{doc.name}", **doc.to_api(), **changes}


def test_plan_creates_what_is_missing(dev_docs: list[PolicyDocument]) -> None:
    plan = plan_policy_apply([], dev_docs)
    assert [s.action for s in plan.steps] == ["create", "create"]
    assert plan.summary() == {"create": 2, "update": 0, "unchanged": 0}
    assert not plan.empty


def test_definitions_are_compared_parsed_not_as_strings(dev_docs: list[PolicyDocument]) -> None:
    doc = dev_docs[0]
    reordered = json.dumps(dict(reversed(list(doc.definition.items()))), indent=4)
    plan = plan_policy_apply([_existing(doc, definition=reordered)], [doc])
    assert [s.action for s in plan.steps] == ["unchanged"] and plan.empty


def test_a_changed_definition_or_description_is_an_update(
    dev_docs: list[PolicyDocument],
) -> None:
    job, interactive = sorted(dev_docs, key=lambda d: d.cluster_type != "job")
    older = dict(job.definition)
    older.pop("custom_tags.owner")
    older["autoscale.max_workers"] = {"type": "range", "maxValue": 99}
    existing = [
        _existing(job, definition=json.dumps(older), max_clusters_per_user=3),
        _existing(interactive, description="hand-written"),
        {"policy_id": "OTHER", "name": "Personal Compute", "definition": "{}"},
    ]
    plan = plan_policy_apply(existing, dev_docs)
    by_name = {s.name: s for s in plan.steps}
    step = by_name[job.name]
    assert step.action == "update" and step.changed == ("definition",)
    assert step.definition_diff["added"] == ("custom_tags.owner",)
    assert step.definition_diff["modified"] == ("autoscale.max_workers",)
    assert step.max_clusters_per_user == 3 and step.policy_id == f"ID-{job.name}"
    assert by_name[interactive.name].changed == ("description",)
    assert "Personal Compute" not in by_name  # policies lakecrew did not export are left alone


def test_two_policies_with_one_name_are_a_conflict(dev_docs: list[PolicyDocument]) -> None:
    doc = dev_docs[0]
    with pytest.raises(Conflict, match="two cluster policies"):
        plan_policy_apply([_existing(doc), _existing(doc, policy_id="X2")], [doc])


def test_a_policy_family_policy_is_not_taken_over(dev_docs: list[PolicyDocument]) -> None:
    doc = dev_docs[0]
    with pytest.raises(Conflict, match="policy family"):
        plan_policy_apply([_existing(doc, policy_family_id="job-cluster")], [doc])


def test_apply_on_the_local_store_is_idempotent(tmp_path: Path, pack: Pack) -> None:
    store, _, clock = local_workspace(tmp_path / "ws.db")
    with store:
        port = LocalClusterPolicies(store, clock=clock)
        docs = export(pack, "qa")
        first = plan_for(port, docs)
        done = apply_plan(first, port)
        assert [d.action for d in done] == ["create"]
        stored = list(store.list(ObjectKind.CLUSTER_POLICY))
        assert len(stored) == 1
        assert json.loads(stored[0].data["definition"]) == docs[0].definition
        assert stored[0].data["created_at_timestamp"] == int(T0.timestamp() * 1000)
        second = plan_for(port, docs)
        assert second.empty and apply_plan(second, port) == []
        # a newer export (size S instead of M) is an update of the same policy id
        smaller = [
            PolicyDocument(**{**d.__dict__, "definition": export(pack, "qa", "S")[0].definition})
            for d in docs
        ]
        third = plan_for(port, smaller)
        assert [s.action for s in third.steps] == ["update"]
        apply_plan(third, port)
        assert plan_for(port, smaller).empty
        assert [o.object_id for o in store.list(ObjectKind.CLUSTER_POLICY)] == [stored[0].object_id]


def test_local_create_of_a_taken_name_is_a_conflict(tmp_path: Path, pack: Pack) -> None:
    store, _, clock = local_workspace(tmp_path / "ws.db")
    with store:
        port = LocalClusterPolicies(store, clock=clock)
        doc = export(pack, "prod")[0].to_api()
        port.create(**doc)
        with pytest.raises(Conflict, match="already exists"):
            port.create(**doc)


def test_cli_plans_without_apply_and_acts_with_it(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    base = ["-p", str(tmp_path), "-o", "json", "policy", "apply", "--env", "dev"]

    def run(*extra: str) -> dict[str, Any]:
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    plan = run()
    names = [w["workspace"] for w in plan["items"]]
    assert names == ["malaria-dev-westafrica", "child_health-dev-eastafrica"]
    assert all(w["summary"]["create"] == 2 and not w["applied"] for w in plan["items"])
    assert run()["items"][0]["summary"]["create"] == 2  # planning changed nothing
    applied = run("--apply", "--workspace", "malaria-dev-westafrica")
    assert [a["action"] for a in applied["items"][0]["applied"]] == ["create", "create"]
    again = run("--apply", "--workspace", "malaria-dev-westafrica")
    assert again["items"][0]["summary"] == {"create": 0, "update": 0, "unchanged": 2}
    assert again["items"][0]["applied"] == []


def test_cli_refuses_a_workspace_of_another_environment(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["-p", str(tmp_path), "init"])
    result = runner.invoke(
        app,
        ["-p", str(tmp_path), "policy", "apply", "--env", "qa", "-w", "malaria-dev-westafrica"],
    )
    assert result.exit_code == 2
    assert "is a dev workspace" in result.stderr
