"""The exported cluster policies against the simulator's planted clusters (its ground truth).

Every planted cluster whose violations are properties of its spec must be REJECTED by the exported
policies of its workspace's environment; every compliant planted cluster must be ACCEPTED. The one
planted cluster code that is not a spec property is `cluster.idle` (runtime activity, found from
node_timeline by the Observer): a cluster planted only with it must be accepted. The rule engine
must also find every planted spec code on clusters, and nothing on compliant clusters.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

try:
    from lakecrew.services.simulate import SimulationReport, simulate
    from lakecrew.services.simulate.estate import inventory
    from lakecrew.testing.memory_sinks import MemorySink
except ImportError as exc:  # only the simulator's absence skips this module
    pytest.skip(f"simulator not available yet: {exc}", allow_module_level=True)

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.resources import RESOURCE_TYPES
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.policy.cluster_policy import evaluate_policies, export
from lakecrew.services.policy.engine import Engine
from lakecrew.services.policy.loader import load_pack

RUNTIME_CODES = {"cluster.idle"}
ENVS = {ws.name: ws.environment for ws in inventory()}


@pytest.fixture(scope="module")
def sim() -> tuple[MemorySink, SimulationReport]:
    sink = MemorySink()
    return sink, simulate(sink, seed=7, scale=2, as_of=date(2026, 6, 30))


def _truth(report: SimulationReport) -> tuple[dict[tuple[str, str], set[str]], set[Any]]:
    planted: dict[tuple[str, str], set[str]] = {}
    for v in report.ground_truth["violations"]:
        if v["kind"] == "clusters":
            planted.setdefault((v["workspace"], v["resource_id"]), set()).add(v["code"])
    compliant = {
        (c["workspace"], c["resource_id"])
        for c in report.ground_truth["compliant"]
        if c["kind"] == "clusters"
    }
    return planted, compliant


def test_every_planted_cluster_is_rejected_and_every_compliant_one_accepted(
    sim: tuple[MemorySink, SimulationReport],
) -> None:
    sink, report = sim
    planted, compliant = _truth(report)
    pack = load_pack().pack
    policies = {env: export(pack, env) for env in pack.environments}
    bad = good = 0
    failures: list[str] = []
    for ws, env in ENVS.items():
        for obj in sink.list(ws, ObjectKind.CLUSTER):
            key = (ws, obj.object_id)
            spec_codes = planted.get(key, set()) - RUNTIME_CODES
            violations = evaluate_policies(policies[env], obj.data)
            if spec_codes:
                bad += 1
                if not violations:
                    failures.append(f"{ws}/{obj.object_id} {sorted(spec_codes)} accepted")
            elif key in compliant or key in planted:
                good += 1
                if violations:
                    failures.append(f"{ws}/{obj.object_id} compliant but rejected: {violations}")
    assert not failures, "\n".join(failures)
    assert bad >= 20 and good >= 20, (bad, good)


def test_engine_finds_every_planted_cluster_spec_code(
    sim: tuple[MemorySink, SimulationReport],
) -> None:
    sink, report = sim
    planted, compliant = _truth(report)
    engine = Engine(load_pack().pack)
    clusters = RESOURCE_TYPES.get("clusters").obj
    problems: list[str] = []
    for ws, env in ENVS.items():
        resources = [clusters.make(ws, o.data) for o in sink.list(ws, ObjectKind.CLUSTER)]
        found: dict[str, set[str]] = {}
        for f in engine.evaluate(resources, EvaluationContext(ws, env)).findings:
            found.setdefault(f.resource_id, set()).add(f.rule_id)
        for (w, rid), codes in planted.items():
            if w == ws and not (codes - RUNTIME_CODES) <= found.get(rid, set()):
                problems.append(f"{ws}/{rid} missed {sorted(codes - found.get(rid, set()))}")
        for w, rid in compliant:
            if w == ws and found.get(rid):
                problems.append(f"{ws}/{rid} compliant but flagged {sorted(found[rid])}")
    assert not problems, "\n".join(problems)
