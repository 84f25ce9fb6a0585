"""Policy step: evaluate the pack over a Snapshot into owned, tracked findings.

- Owner resolution, in order: the resource's `owner` tag → its run-as identity → its creator →
  the workspace owner from the inventory (`owner_source` says which one was used).
- First/last seen come from the ledger: a finding keeps its `first_seen` while it stays open or
  exempted; a resolved finding that comes back starts again.
- Exemptions (rule, resource, reason, approver, until) turn a finding `exempted` until they expire.
- A sweep fails loudly (DataError) when the engine evaluated fewer resources than were discovered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from lakecrew.core.errors import DataError
from lakecrew.core.findings import EvaluationContext, Finding
from lakecrew.core.resources import Resource
from lakecrew.ports.ledger import (
    ExemptionRow,
    FindingRow,
    FindingStatus,
    PriorFinding,
)
from lakecrew.services.crew.snapshot import Snapshot


class EvaluationLike(Protocol):
    findings: list[Finding]
    evaluated: int
    evaluated_by_type: Mapping[str, int]


class RuleEngine(Protocol):
    """What the policy step needs from services/policy/engine.Engine."""

    def evaluate(self, resources: Iterable[Resource], ctx: EvaluationContext) -> Any: ...


@dataclass
class Evaluation:
    """An evaluation merged from chunks (the shape of the engine's EvaluationResult)."""

    findings: list[Finding]
    evaluated: int
    evaluated_by_type: Mapping[str, int]


@dataclass(frozen=True)
class TrackedFinding:
    """A finding with its resolved owner, ledger status and history."""

    finding: Finding
    owner: str
    owner_source: str
    status: str  # open | exempted
    first_seen: datetime
    last_seen: datetime
    new: bool
    exemption: ExemptionRow | None = None


@dataclass(frozen=True)
class PolicyResult:
    """Current findings, the ledger rows to write, and what was resolved since the last sweep."""

    findings: tuple[TrackedFinding, ...]
    rows: tuple[FindingRow, ...]
    resolved: tuple[FindingRow, ...]
    evaluated: int
    evaluated_by_type: Mapping[str, int]


def _tags(res: Resource) -> Mapping[str, Any]:
    data = res.data
    if res.resource_type == "jobs":
        return (data.get("settings") or {}).get("tags") or {}
    if res.resource_type == "warehouses":
        pairs = (data.get("tags") or {}).get("custom_tags") or []
        return {str(p.get("key")): p.get("value") for p in pairs if isinstance(p, Mapping)}
    tags = data.get("custom_tags") if res.resource_type != "tables" else data.get("tags")
    return tags if isinstance(tags, Mapping) else {}


def _run_as(res: Resource) -> Any:
    data = res.data
    if res.resource_type == "jobs":
        run_as = (data.get("settings") or {}).get("run_as") or {}
        return (
            data.get("run_as_user_name")
            or run_as.get("user_name")
            or run_as.get("service_principal_name")
        )
    if res.resource_type == "clusters":
        return data.get("single_user_name")
    if res.resource_type == "tables":
        return data.get("owner")
    return None


def _creator(res: Resource) -> Any:
    data = res.data
    return data.get("creator_user_name") or data.get("creator_name") or data.get("created_by")


def resolve_owner(res: Resource | None, workspace_owner: str) -> tuple[str, str]:
    """(owner, source): owner tag → run_as → creator → workspace owner."""
    if res is not None:
        for source, value in (
            ("tag", _tags(res).get("owner")),
            ("run_as", _run_as(res)),
            ("creator", _creator(res)),
        ):
            if isinstance(value, str) and value.strip():
                return value.strip(), source
    return workspace_owner, "workspace"


def active_exemption(
    exemptions: Sequence[ExemptionRow], finding: Finding, now: datetime
) -> ExemptionRow | None:
    """The unexpired exemption covering this finding's rule and resource, if any."""
    for ex in exemptions:
        if (
            ex.rule_id in (finding.rule_id, "*")
            and ex.resource_id == finding.resource_id
            and ex.workspace in ("*", finding.workspace)
            and ex.until > now
        ):
            return ex
    return None


def evidence_json(finding: Finding) -> str:
    return finding.evidence_json


class PolicyStep:
    """Evaluates a Snapshot with a rule engine and tracks findings against the ledger."""

    def __init__(self, engine: RuleEngine) -> None:
        self.engine = engine

    def run(
        self,
        snap: Snapshot,
        previous: Sequence[FindingRow],
        exemptions: Sequence[ExemptionRow],
        sweep_id: str,
    ) -> PolicyResult:
        """Evaluate, check coverage, and build the scope's new ledger rows."""
        result: EvaluationLike = self.engine.evaluate(snap.resources, snap.context)
        return self.track(snap, result, previous, exemptions, sweep_id)

    def evaluate_chunks(
        self, resources: Iterable[Resource], ctx: EvaluationContext, chunk: int
    ) -> tuple[Evaluation, list[Resource]]:
        """Evaluate a stream `chunk` resources at a time (rules judge one resource at a time,
        so the findings are those of one pass, in the same order). Returns the merged result
        and only the resources that have findings (all the plan needs)."""
        findings: list[Finding] = []
        by_type: Counter[str] = Counter()
        kept: list[Resource] = []
        stream = iter(resources)
        while batch := list(islice(stream, max(1, chunk))):
            part: EvaluationLike = self.engine.evaluate(batch, ctx)
            findings.extend(part.findings)
            by_type.update(part.evaluated_by_type)
            hit = {(f.resource_type, f.resource_id) for f in part.findings}
            kept.extend(r for r in batch if (r.resource_type, r.resource_id) in hit)
        return Evaluation(findings, sum(by_type.values()), dict(by_type)), kept

    def track(
        self,
        snap: Snapshot,
        result: EvaluationLike,
        previous: Sequence[FindingRow],
        exemptions: Sequence[ExemptionRow],
        sweep_id: str,
    ) -> PolicyResult:
        """Check coverage of an evaluation of `snap` and build the scope's new ledger rows.

        A previous finding is resolved only if its resource was covered by this sweep: a
        resource on a page that failed was not seen, so its finding stays as it was."""
        check_coverage(snap, result)
        prior = {
            row.fingerprint: PriorFinding(row.status, row.first_seen, row.sweep_id)
            for row in previous
        }
        tracked, rows = self.track_batch(
            snap, result.findings, prior, exemptions, sweep_id, Unnotified()
        )
        seen = {f.finding.fingerprint for f in tracked}
        now = snap.taken_at
        resolved = tuple(
            resolve_row(row, now, sweep_id)
            for row in previous
            if row.status != "resolved"
            and row.fingerprint not in seen
            and snap.covers(row.resource_type, row.resource_id, row.rule_id)
        )
        return PolicyResult(
            tuple(tracked),
            tuple(rows) + resolved,
            resolved,
            result.evaluated,
            dict(result.evaluated_by_type),
        )

    def track_batch(
        self,
        snap: Snapshot,
        findings: Sequence[Finding],
        prev: Mapping[str, PriorFinding],
        exemptions: Sequence[ExemptionRow],
        sweep_id: str,
        unnotified: Unnotified,
    ) -> tuple[list[TrackedFinding], list[FindingRow]]:
        """Owned, tracked findings and their ledger rows for one batch of a sweep (`snap`
        holds at least the batch's resources with findings). `prev`: the stored state of the
        batch's fingerprints (those stored); `unnotified` says which carried findings no
        completed sweep has announced yet (first seen by a sweep that died before notifying)."""
        now = snap.taken_at
        by_key = {(r.resource_type, r.resource_id): r for r in snap.resources}
        tracked: list[TrackedFinding] = []
        rows: list[FindingRow] = []
        for f in findings:
            owner, source = resolve_owner(
                by_key.get((f.resource_type, f.resource_id)), snap.info.owner
            )
            ex = active_exemption(exemptions, f, now)
            old = prev.get(f.fingerprint)
            carried = old is not None and old.status != "resolved"
            first = old.first_seen if carried and old is not None else now
            new = not carried or (old is not None and unnotified.covers(old))
            status: FindingStatus = "exempted" if ex is not None else "open"
            tracked.append(TrackedFinding(f, owner, source, status, first, now, new, ex))
            rows.append(
                FindingRow(
                    fingerprint=f.fingerprint,
                    workspace=snap.scope,
                    rule_id=f.rule_id,
                    severity=f.severity,
                    resource_type=f.resource_type,
                    resource_id=f.resource_id,
                    resource_name=f.resource_name,
                    owner=owner,
                    owner_source=source,
                    evidence_json=evidence_json(f),
                    status=status,
                    first_seen=first,
                    last_seen=now,
                    resolved_at=None,
                    sweep_id=sweep_id,
                    title=f.title,
                )
            )
        return tracked, rows


def resolve_row(row: FindingRow, now: datetime, sweep_id: str) -> FindingRow:
    return replace(row, status="resolved", resolved_at=now, sweep_id=sweep_id)


@dataclass(frozen=True)
class Unnotified:
    """Sweeps of the scope that died or failed after the last one that finished (so after its
    notify step): a carried finding written by one of them, first seen after `since` (the last
    finished sweep's end; None: no sweep of the scope ever finished), was never announced."""

    dead: frozenset[str] = frozenset()
    since: datetime | None = None

    def covers(self, old: PriorFinding) -> bool:
        return old.sweep_id in self.dead and (self.since is None or old.first_seen > self.since)


def check_coverage(snap: Snapshot, result: EvaluationLike) -> None:
    """Raise DataError when any discovered resource type was not fully evaluated."""
    short = {
        t: (n, result.evaluated_by_type.get(t, 0))
        for t, n in snap.discovered.items()
        if result.evaluated_by_type.get(t, 0) != n
    }
    if short or result.evaluated != snap.discovered_total:
        detail = ", ".join(
            f"{t}: discovered {d}, evaluated {e}" for t, (d, e) in sorted(short.items())
        )
        raise DataError(
            f"sweep discovered {snap.discovered_total} resources but evaluated "
            f"{result.evaluated}" + (f" ({detail})" if detail else ""),
            where=f"workspace {snap.scope}",
            fix="a resource type was skipped by the engine; check the pack and resource types",
        )
