"""Concurrency trials of the crew with chosen interleavings (no sleeps, no timing).

A second operation is started from inside the first one, just before the first one's first
workspace mutation — the moment a race would do harm. Every second operation must be refused
with a line naming what holds the workspace, and the end state must be consistent: each action
applied (or rolled back) once in the ledger, its history in order, the workspace as one run of
the first operation leaves it, no sweep row left `running`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lakecrew.core.errors import Conflict, LakecrewError
from lakecrew.ports.ledger import ActionRow
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.service import CrewService
from lakecrew.services.crew.sweep import Sweeper
from lakecrew.testing.crew import cluster

from .conftest import INFO, Crew, ms_ago

MUTATIONS = frozenset(
    {
        "set_tags",
        "set_autotermination",
        "set_warehouse_autostop",
        "terminate",
        "resize",
        "update_job",
        "restore",
    }
)


class Interleave:
    """A Workspace that runs `then()` once, right before its first mutation."""

    def __init__(self, ws: Any, then: Callable[[], Any]) -> None:
        self.ws, self.then = ws, then
        self.outcome: BaseException | str | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.ws, name)
        if name not in MUTATIONS or self.outcome is not None:
            return attr

        def mutate(*args: Any, **kwargs: Any) -> Any:
            if self.outcome is None:
                try:
                    self.then()
                    self.outcome = "not refused"
                except LakecrewError as exc:
                    self.outcome = exc
            return attr(*args, **kwargs)

        return mutate


def _sweep(crew: Crew, ws: Any, phase: int = 2, apply: bool = True, **settings: Any) -> Any:
    return Sweeper(crew.deps(**settings)).sweep(ws, INFO, phase=phase, apply=apply)


def _refused(outcome: Any, holder: str, mine: str) -> None:
    assert isinstance(outcome, Conflict), f"not refused: {outcome!r}"
    line = outcome.one_line()
    assert f"another {holder} of workspace '{INFO.name}' is running (pid " in line, line
    assert f"this {mine} was not started" in line, line


def _consistent(crew: Crew) -> None:
    rows = crew.ledger.actions(INFO.name)
    assert not [r for r in rows if r.status in ("intent", "rolling_back")]
    applied = [(r.fingerprint, r.action) for r in rows if r.status == "applied"]
    assert len(applied) == len(set(applied)), "an action applied twice"
    history: dict[str, list[str]] = {}
    for h in crew.ledger.action_history():
        history.setdefault(h.action_id, []).append(h.status)
    for statuses in history.values():  # acted once, unless a person approved again
        assert statuses.count("intent") <= 1 + statuses.count("approved"), statuses
        assert statuses.count("rolled_back") <= 1 + statuses.count("approved"), statuses
    assert not [s for s in crew.ledger.sweeps(INFO.name) if s.status == "running"]


def _idle(crew: Crew, result: Any) -> ActionRow:
    svc = CrewService(crew.deps())
    return svc.action(next(a for a in result.applied if a.resource_id == "c-idle").action_id)


def test_two_sweeps_of_one_workspace(crew: Crew) -> None:
    alone = crew.state()
    ws = Interleave(crew.ws, lambda: _sweep(crew, crew.ws))
    first = _sweep(crew, ws)
    _refused(ws.outcome, "sweep", "sweep")
    _consistent(crew)
    assert first.applied
    again = _sweep(crew, crew.ws)  # the refused sweep changed nothing: nothing left to do
    assert not again.applied and crew.state() != alone


def test_rollback_during_an_apply_sweep(crew: Crew) -> None:
    """Sweep 1 acts; a second cluster then idles, sweep 2 acts on it, and a rollback of one of
    sweep 1's actions is started inside sweep 2."""
    done = _sweep(crew, crew.ws).applied[0]
    idle = cluster("c-idle2", state="RUNNING", last_activity_time=ms_ago(120))
    crew.ws.load({ObjectKind.CLUSTER: [{**idle, "start_time": ms_ago(600)}]})
    svc = CrewService(crew.deps())
    ws = Interleave(crew.ws, lambda: svc.rollback(svc.action(done.action_id), crew.ws))
    second = _sweep(crew, ws)
    assert second.applied
    _refused(ws.outcome, "sweep", f"rollback of action {done.action_id[:12]}")
    _consistent(crew)
    assert svc.action(done.action_id).status == "applied"
    svc.rollback(svc.action(done.action_id), crew.ws)  # after the sweep: it runs
    assert svc.action(done.action_id).status == "rolled_back"
    _consistent(crew)


def test_sweep_during_a_rollback_and_two_rollbacks_of_one_action(crew: Crew) -> None:
    first = _sweep(crew, crew.ws, apply=True)
    idle = _idle(crew, first)
    svc = CrewService(crew.deps())
    tag = f"rollback of action {idle.action_id[:12]}"
    during_sweep = Interleave(crew.ws, lambda: _sweep(crew, crew.ws, apply=True))
    svc.rollback(svc.action(idle.action_id), during_sweep)
    _refused(during_sweep.outcome, tag, "sweep")
    _consistent(crew)
    row = svc.action(idle.action_id)
    assert row.status == "rolled_back"
    assert crew.ws.get(ObjectKind(row.kind), "c-idle").data["state"] == "RUNNING"
    # two rollbacks of one action: the second, started inside the first, is refused by the
    # lock; run after it, it is refused because the action is already rolled back
    second = _sweep(crew, crew.ws, apply=True)  # nothing re-applied: rolled back stays back
    assert idle.action_id not in {a.action_id for a in second.applied}
    other = next(a for a in first.applied if a.action_id != idle.action_id)
    other_row = svc.action(other.action_id)
    nested = Interleave(crew.ws, lambda: svc.rollback(svc.action(other.action_id), crew.ws))
    done = svc.rollback(other_row, nested)
    tag = f"rollback of action {other.action_id[:12]}"
    _refused(nested.outcome, tag, tag)
    assert done.status == "rolled_back"
    with pytest.raises(LakecrewError, match="only applied actions can be rolled back"):
        svc.rollback(svc.action(other.action_id), crew.ws)
    _consistent(crew)
    statuses = [h.status for h in crew.ledger.action_history() if h.action_id == other.action_id]
    assert statuses.count("rolled_back") == 1 and statuses.count("rolling_back") == 1
