"""The exported cluster policies against the simulator's planted clusters (ground truth).

Every planted cluster whose violations are properties of its spec must be REJECTED by the exported
policies of its workspace's environment; every compliant planted cluster must be ACCEPTED. The one
planted cluster code that is not a spec property is `cluster.idle` (runtime activity): a cluster
planted only with it must be accepted. The rule engine must also find every planted cluster code.

Uses the simulator's unit builder (services/simulate/plants.py) and its ground truth
(WorkspaceBuild.violations / .compliant).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

try:
    from lakecrew.services.simulate.estate import inventory
    from lakecrew.services.simulate.model import Clock, WorkspaceBuild
    from lakecrew.services.simulate.plants import build_unit
except ImportError as exc:  # only the simulator's absence skips this module
    pytest.skip(f"simulator not available yet: {exc}", allow_module_level=True)

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.resources import RESOURCE_TYPES
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.policy.cluster_policy import evaluate_policies, export
from lakecrew.services.policy.engine import Engine
from lakecrew.services.policy.loader import load_pack

RUNTIME_CODES = {"cluster.idle"}
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def builds() -> list[WorkspaceBuild]:
    clock = Clock(start=NOW - timedelta(days=30), now=NOW)
    return [build_unit(ws, unit, clock, 7) for ws in inventory() for unit in (0, 1, 2)]


def _clusters(build: WorkspaceBuild) -> dict[str, Any]:
    return {o.object_id: o.data for o in build.objects.get(ObjectKind.CLUSTER, [])}


def test_every_planted_cluster_is_rejected_and_every_compliant_one_accepted(builds: list[WorkspaceBuild]) -> None:
    pack = load_pack().pack
    policies = {env: export(pack, env) for env in pack.environments}
    checked_bad = checked_good = 0
    failures: list[str] = []
    for b in builds:
        clusters = _clusters(b)
        planted: dict[str, set[str]] = {}
        for v in b.violations:
            if v.kind == "clusters":
                planted.setdefault(v.resource_id, set()).add(v.code)
        for cid, data in clusters.items():
            codes = planted.get(cid, set())
            spec_codes = codes - RUNTIME_CODES
            violations = evaluate_policies(policies[b.ws.environment], data)
            if spec_codes:
                checked_bad += 1
                if not violations:
                    failures.append(f"{b.ws.name}/{cid} {sorted(spec_codes)} accepted")
            else:
                checked_good += 1
                if violations:
                    failures.append(f"{b.ws.name}/{cid} compliant but rejected: {violations}")
    assert not failures, "\n".join(failures)
    assert checked_bad >= 20 and checked_good >= 20


def test_engine_finds_every_planted_cluster_code(builds: list[WorkspaceBuild]) -> None:
    engine = Engine(load_pack().pack)
    clusters_rt = RESOURCE_TYPES.get("clusters").obj
    missed: list[str] = []
    for b in builds:
        # the Observer's activity facts: when each RUNNING cluster last did work
        clock = Clock(NOW - timedelta(days=30), NOW)
        activity = {r.cluster_id: clock.at(r.idle_since_hour) for r in b.running}
        ctx = EvaluationContext(b.ws.name, b.ws.environment, now=NOW, last_activity=activity)
        resources = [clusters_rt.make(b.ws.name, d) for d in _clusters(b).values()]
        found = {(f.resource_id, f.rule_id) for f in engine.evaluate(resources, ctx).findings}
        for v in b.violations:
            if v.kind == "clusters" and (v.resource_id, v.code) not in found:
                missed.append(f"{b.ws.name}/{v.resource_id} {v.code}")
        for kind, rid in b.compliant:
            if kind == "clusters":
                extra = sorted(code for r, code in found if r == rid)
                if extra:
                    missed.append(f"{b.ws.name}/{rid} compliant but flagged {extra}")
    assert not missed, "\n".join(missed)
