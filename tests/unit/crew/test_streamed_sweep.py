"""A streamed sweep (chunked evaluation, only resources with findings kept) decides exactly
what a sweep that reads every resource first decides."""

from __future__ import annotations

from typing import Any

from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.plan import build_plan
from lakecrew.services.crew.sweep import Sweeper, SweepResult
from lakecrew.testing.crew import cluster, job

from .conftest import INFO, Crew


def decisions(crew: Crew, chunk: int) -> tuple[Any, ...]:
    sweeper = Sweeper(crew.deps(max_actions=50, max_percent=100, observe_chunk=chunk))
    snap, evaluation = sweeper.observe(crew.ws, INFO)
    pol = sweeper.policy.track(snap, evaluation, [], [], "s1")
    plan = build_plan(
        snap,
        pol.findings,
        pack=crew.deps().pack,
        phase=4,
        history={},
        settings=sweeper.deps.settings,
        evaluated=pol.evaluated,
    )
    findings = [(tf.finding.fingerprint, tf.owner, tf.finding.evidence) for tf in pol.findings]
    return snap, findings, plan.actions, dict(snap.discovered), pol.evaluated


def test_chunked_sweep_equals_materialised_sweep(crew: Crew) -> None:
    crew.ws.load(
        {
            ObjectKind.CLUSTER: [cluster(f"c-{i}") for i in range(12)]
            + [cluster("c-bad", custom_tags={}, autotermination_minutes=0)],
            ObjectKind.JOB: [job(200 + i) for i in range(9)] + [job(299, tags={})],
        }
    )
    whole, *rest_whole = decisions(crew, 0)
    for chunk in (1, 3, 7, 5000):
        snap, *rest = decisions(crew, chunk)
        assert rest == rest_whole
        assert len(snap.resources) < len(whole.resources)  # only resources with findings kept
        kept = {(r.resource_type, r.resource_id) for r in snap.resources}
        assert kept == {(f.resource_type, f.resource_id) for f in _findings(crew, chunk)}
    assert len(whole.resources) == whole.discovered_total


def _findings(crew: Crew, chunk: int) -> list[Any]:
    sweeper = Sweeper(crew.deps(observe_chunk=chunk))
    _, evaluation = sweeper.observe(crew.ws, INFO)
    return list(evaluation.findings)


def test_full_sweep_results_are_the_same_streamed_or_not(crew: Crew) -> None:
    streamed = crew.sweep(phase=1, max_actions=50, max_percent=100, observe_chunk=2)
    assert streamed.complete and streamed.as_dict()["complete"] is True
    whole = crew.sweep(phase=1, max_actions=50, max_percent=100, observe_chunk=0)
    assert _key(streamed) == _key(whole) and streamed.discovered == whole.discovered
    assert [a.action_id for a in streamed.plan.actions] == [a.action_id for a in whole.plan.actions]


def _key(result: SweepResult) -> list[tuple[str, str]]:
    return sorted((tf.finding.fingerprint, tf.status) for tf in result.findings)
