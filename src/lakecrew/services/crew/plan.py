"""Planning: which actions the rollout phase, exemptions, grace periods, safety rules and the
blast radius allow, and exactly what each one will change (its target state).

Phase gates (SOP 3.3). An action runs only when the phase is at least the rule's `min_phase` AND
the action class's `floor` (services/policy/actions), so a pack cannot lower an action beneath
its SOP phase:
  1 detect & notify: nothing       2 add_tags, terminate (idle clusters)
  3 update_job_settings            4 resize, set_autotermination, set_autostop, pause_job
What an action targets, refuses and acts on is its own class's business; this module only
decides.
Actions named in CrewSettings.approvals_required_for (default: pause_job) wait as
`awaiting_approval` until `lakecrew approve ACTION_ID --approver NAME` marks them `approved`.
Action ids are idempotent: sha256 of (fingerprint, action type, target state).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from lakecrew.core.pack import Pack, Rule
from lakecrew.core.resources import Resource
from lakecrew.ports.ledger import ActionRow
from lakecrew.services.crew.policy_step import TrackedFinding
from lakecrew.services.crew.snapshot import Snapshot
from lakecrew.services.policy.actions import ACTIONS, Action, Situation, Workload, plugin
from lakecrew.services.policy.actions.set_autotermination import RESTARTS

Lookup = Callable[[str, str], Resource | None]
PlanStatus = Literal["planned", "pending", "skipped", "awaiting_approval"]


@dataclass(frozen=True)
class CrewSettings:
    """Safety settings of the Executor (defaults are conservative)."""

    max_actions: int = 50
    max_percent: float = 30.0
    grace_hours: Mapping[str, float] = field(default_factory=dict)
    ticket_min_severity: str = "warning"
    approvals_required_for: frozenset[str] = frozenset({"pause_job"})
    # Resources read, evaluated and recorded per batch while a sweep streams the workspace
    # (each batch costs a few ledger commits; memory grows with the batch, not the workspace);
    # 0 reads every resource as one batch (same results, memory grows with the workspace).
    observe_chunk: int = 10_000
    # Findings and actions a sweep's result keeps (the first in sweep order); the ledger holds
    # all of them and the result counts them (`lakecrew findings` pages them).
    result_items: int = 10_000

    def grace(self, action: str) -> timedelta:
        return timedelta(hours=self.grace_hours.get(action, 0.0))


@dataclass(frozen=True)
class PlannedAction:
    """One action the sweep considered, with its decision and the reason for it."""

    action_id: str
    fingerprint: str
    rule_id: str
    action: str
    kind: str
    resource_id: str
    target: Mapping[str, Any]
    owner: str
    status: PlanStatus
    reason: str
    due_at: datetime | None = None

    @cached_property
    def target_json(self) -> str:
        """The target as canonical JSON text, built once per action."""
        return canonical(self.target)

    def row(
        self,
        sweep_id: str,
        scope: str,
        now: datetime,
        created: datetime | None = None,
        **changes: Any,
    ) -> ActionRow:
        """The ledger row of this action (status/before/after via `changes`)."""
        base = ActionRow(
            action_id=self.action_id,
            sweep_id=sweep_id,
            workspace=scope,
            fingerprint=self.fingerprint,
            rule_id=self.rule_id,
            action=self.action,
            kind=self.kind,
            resource_id=self.resource_id,
            target_json=self.target_json,
            status=self.status,
            reason=self.reason,
            before_json=None,
            after_json=None,
            owner=self.owner,
            created_at=created or now,
            updated_at=now,
            due_at=self.due_at,
        )
        return replace(base, **changes) if changes else base


@dataclass(frozen=True)
class Plan:
    """What a sweep would do; `refused` is set when the blast radius is exceeded."""

    scope: str
    phase: int
    actions: tuple[PlannedAction, ...]
    limit: int
    refused: str | None = None
    # a streamed sweep's plan keeps its first actions (see CrewSettings.result_items): how many
    # were decided and how many were runnable in all (None: `actions` holds every one)
    total: int | None = None
    planned: int | None = None

    @property
    def runnable(self) -> tuple[PlannedAction, ...]:
        return tuple(a for a in self.actions if a.status == "planned")

    @property
    def action_count(self) -> int:
        return len(self.actions) if self.total is None else self.total

    @property
    def runnable_count(self) -> int:
        return len(self.runnable) if self.planned is None else self.planned


def canonical(value: Any) -> str:
    """Stable JSON text of a state (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def action_id(fingerprint: str, action: str, target: Mapping[str, Any]) -> str:
    raw = "\x1f".join((fingerprint, action, canonical(target))).encode()
    return hashlib.sha256(raw).hexdigest()[:24]


# ---- what an action sees -----------------------------------------------------------------


def workload(snap: Snapshot) -> Workload:
    """The workspace facts an action's safety refusal checks."""
    return Workload(snap.info.environment, snap.busy_clusters)


def situation(
    tf: TrackedFinding,
    snap: Snapshot,
    pack: Pack,
    by_key: Mapping[tuple[str, str], Resource],
    lookup: Lookup | None = None,
) -> Situation:
    """What an action sees when it plans a finding; `related` reads the snapshot, then `lookup`
    (the snapshot keeps only resources with findings)."""

    def related(kind: str, object_id: str) -> Resource | None:
        return by_key.get((kind, object_id)) or (lookup(kind, object_id) if lookup else None)

    return Situation(
        workload(snap),
        pack,
        tf.owner,
        tf.finding.rule_id,
        snap.info.mandatory_tags(),
        related,
    )


# ---- the plan ------------------------------------------------------------------------------


def _gate(action: str, rule_phase: int, phase: int) -> str | None:
    floor = ACTIONS.get(action).obj.floor
    if floor is None:
        return f"{action} changes nothing (notify only)"
    need = max(floor, rule_phase)
    return None if phase >= need else f"phase {phase} < {need} needed for {action}"


def build_plan(
    snap: Snapshot,
    findings: Sequence[TrackedFinding],
    *,
    pack: Pack,
    phase: int,
    history: Mapping[str, ActionRow],
    settings: CrewSettings,
    evaluated: int,
    lookup: Lookup | None = None,
) -> Plan:
    """Decide every action (planned, pending grace, or skipped with a reason). `lookup` reads
    a resource the snapshot does not hold (the jobs a pause_job acts on)."""
    out = plan_actions(
        snap, findings, pack=pack, phase=phase, history=history, settings=settings, lookup=lookup
    )
    runnable = sum(1 for a in out if a.status == "planned")
    limit, refused = blast_radius(runnable, evaluated, settings)
    return Plan(snap.scope, phase, tuple(out), limit, refused)


def blast_radius(runnable: int, evaluated: int, settings: CrewSettings) -> tuple[int, str | None]:
    """The most actions a sweep of `evaluated` resources may take, and the refusal when
    `runnable` exceeds it."""
    limit = max(1, min(settings.max_actions, math.floor(evaluated * settings.max_percent / 100)))
    if runnable <= limit:
        return limit, None
    return limit, (
        f"{runnable} actions exceed the blast-radius limit of {limit} "
        f"(max {settings.max_actions} resources, {settings.max_percent:g}% of "
        f"{evaluated} evaluated)"
    )


def plan_actions(
    snap: Snapshot,
    findings: Sequence[TrackedFinding],
    *,
    pack: Pack,
    phase: int,
    history: Mapping[str, ActionRow],
    settings: CrewSettings,
    lookup: Lookup | None = None,
) -> list[PlannedAction]:
    """Every action of `findings` with its decision (terminations first). A batch of a
    streamed sweep is planned alone: a resource's findings all arrive in its batch."""
    now = snap.taken_at
    by_key = {(r.resource_type, r.resource_id): r for r in snap.resources}
    out: list[PlannedAction] = []
    rules: dict[str, Rule | None] = {}  # a batch's findings share a few dozen rules
    for tf in findings:
        f = tf.finding
        if f.rule_id not in rules:
            rules[f.rule_id] = pack.rule(f.rule_id)
        rule = rules[f.rule_id]
        if f.action is None or f.action == "notify_only" or rule is None or rule.action is None:
            continue
        found = by_key.get((f.resource_type, f.resource_id))
        if found is None:
            continue
        act = plugin(f.action)
        params = ACTIONS.get(f.action).validate_params(dict(rule.action.params))
        sit = situation(tf, snap, pack, by_key, lookup)
        for kind, res, target in act.subjects(found, sit, params):
            aid = action_id(f.fingerprint, f.action, target)
            status, reason, due = _decide(
                act,
                tf,
                res,
                snap,
                phase=phase,
                rule_phase=rule.min_phase,
                prior=history.get(aid),
                settings=settings,
                now=now,
                target=target,
            )
            if status is None:
                continue  # already applied, or in flight: nothing new
            out.append(
                PlannedAction(
                    aid,
                    f.fingerprint,
                    f.rule_id,
                    f.action,
                    kind,
                    res.resource_id,
                    target,
                    tf.owner,
                    status,
                    reason,
                    due,
                )
            )
    return _after_termination(out)


ORDER = {"terminate": 0}  # terminations first: an edit may wait for its cluster to stop


def terminations_first(actions: Iterable[PlannedAction]) -> tuple[PlannedAction, ...]:
    """The actions in apply order (stable): terminations, then the rest as given."""
    return tuple(sorted(actions, key=lambda a: ORDER.get(a.action, 1)))


def _after_termination(actions: list[PlannedAction]) -> list[PlannedAction]:
    """Let a cluster edit refused only because the cluster runs go ahead when the same plan
    terminates that cluster first (the Executor re-checks the live state before the edit)."""
    ending = {
        a.resource_id: a.action_id
        for a in actions
        if a.action == "terminate" and a.status == "planned"
    }
    out = [
        replace(a, status="planned", reason=f"after termination {ending[a.resource_id][:10]}")
        if a.status == "skipped" and a.reason.startswith(RESTARTS) and a.resource_id in ending
        else a
        for a in actions
    ]
    return list(terminations_first(out))


def _decide(
    act: Action,
    tf: TrackedFinding,
    res: Resource,
    snap: Snapshot,
    *,
    phase: int,
    rule_phase: int,
    prior: ActionRow | None,
    settings: CrewSettings,
    now: datetime,
    target: Mapping[str, Any],
) -> tuple[PlanStatus | None, str, datetime | None]:
    action = act.name
    if prior is not None and prior.status in ("applied", "intent", "rolling_back"):
        return None, "", None
    if prior is not None and prior.status == "rolled_back":
        return "skipped", f"rolled back ({prior.reason}); exempt the resource or fix by hand", None
    if prior is not None and prior.status == "failed" and prior.reason.startswith("reconcile:"):
        return "skipped", f"needs a human: {prior.reason}", None
    if tf.exemption is not None:
        ex = tf.exemption
        return (
            "skipped",
            f"exempted until {ex.until.isoformat()} by {ex.approver}: {ex.reason}",
            None,
        )
    gate = _gate(action, rule_phase, phase)
    if gate is not None:
        return "skipped", gate, None
    unsafe = act.refusal(res, workload(snap), target)
    if unsafe is not None:
        return "skipped", unsafe, None
    if action in settings.approvals_required_for:
        if prior is None or prior.status != "approved":
            return (
                "awaiting_approval",
                "needs approval: lakecrew approve ACTION_ID --approver",
                None,
            )
        return "planned", prior.reason, None
    grace = settings.grace(action)
    if grace:
        due = prior.due_at if prior is not None and prior.due_at is not None else now + grace
        if now < due:
            return "pending", f"grace period: acts after {due.isoformat()}", due
        return "planned", "grace period over", due
    return "planned", "allowed", None
