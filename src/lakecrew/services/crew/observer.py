"""Observer: builds a typed Snapshot of one workspace from the Workspace port and system tables.

What it reads (all read-only):
- every object of the workspace (clusters, policies, jobs, warehouses, pools, secret scopes with
  their ACLs merged in as `acls`), and the workspace itself (inventory entry + workspace conf);
- `system.compute.node_timeline`: the last minute a cluster's CPU was busy (≥ `busy_cpu_percent`)
  is its last activity; a RUNNING cluster with timeline rows but no busy minute since its last
  restart was last active at that restart (utilisation where available);
- `system.lakeflow.job_run_timeline`: runs without a final result are in progress; their clusters
  are busy (the Executor never terminates or edits them) and active now;
- `system.compute.node_types`: node memory/GPUs that the pack's catalogue lacks;
- in the estate scope: workspaces seen in `system.access.workspaces_latest` but absent from the
  inventory, and the Unity Catalog tables with their grants (the metastore is estate-wide).
Without a SQL engine (or with empty system tables) only the REST fields are used. Extra sources
plug in as callables returning Resources: per workspace (`extra_sources`: the security monitor's
`audit` incidents, the cost anomalies' `usage` spikes) and for the estate (`estate_sources`:
`budgets` with their month-to-date spend) — see wiring/crew.py.

`stream()` reads lazily (the sweep evaluates chunk by chunk and keeps only the resources with
findings); a listing that stops at a failed page becomes a `ListingGap`.
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lakecrew.core.errors import (
    ColumnMissing,
    LakecrewError,
    NotFound,
    PartialListing,
    PermissionDenied,
    TableMissing,
    Transient,
    Unavailable,
    Unreachable,
)
from lakecrew.core.findings import Approval, EvaluationContext
from lakecrew.core.resources import RESOURCE_TYPES, Resource
from lakecrew.core.shapes import normalize_job
from lakecrew.core.system_needs import SYSTEM_TABLE_USES
from lakecrew.ports.catalog import Catalog, Grants
from lakecrew.ports.clock import Clock
from lakecrew.ports.sql import SqlEngine
from lakecrew.ports.workspace import ObjectKind, WorkspaceReader, split_secret_acl_id
from lakecrew.services.crew.catalog_source import table_resources
from lakecrew.services.crew.snapshot import ListingGap, Snapshot, WorkspaceInfo

ResourceSource = Callable[[WorkspaceInfo], Iterable[Resource]]
EstateSource = Callable[[Sequence[WorkspaceInfo], str], Iterable[Resource]]
KINDS: tuple[ObjectKind, ...] = (
    ObjectKind.CLUSTER,
    ObjectKind.CLUSTER_POLICY,
    ObjectKind.JOB,
    ObjectKind.WAREHOUSE,
    ObjectKind.INSTANCE_POOL,
    ObjectKind.SECRET_SCOPE,
)
CONF_KEYS = ("enableVerboseAuditLogs", "enableIpAccessLists", "enableTokensConfig")
ACTIVITY_SOURCE = "system.compute.node_timeline / system.lakeflow.job_run_timeline"
CONF_KIND = "workspace-conf"  # the gap kind of an unreadable workspace conf
ESTATE_SCOPE = "(estate)"

ACTIVITY_SQL = """
SELECT cluster_id,
       max(CASE WHEN cpu_user_percent + cpu_system_percent >= :busy THEN end_time END) AS last_busy,
       max(end_time) AS last_seen
FROM system.compute.node_timeline
WHERE workspace_id = :ws AND end_time >= :since
GROUP BY cluster_id
"""
RUNS_SQL = """
SELECT run_id, max(period_end_time) AS last_slice, count(result_state) AS finished,
       max(array_join(compute_ids, ',')) AS clusters
FROM system.lakeflow.job_run_timeline
WHERE workspace_id = :ws AND period_end_time >= :since
GROUP BY run_id
"""
NODE_TYPES_SQL = "SELECT node_type, memory_mb, gpu_count, core_count FROM system.compute.node_types"
WORKSPACES_SQL = "SELECT workspace_id, workspace_name, status FROM system.access.workspaces_latest"


class Observer:
    """Reads one workspace into a Snapshot. `sql` is optional (REST-only without it)."""

    def __init__(
        self,
        clock: Clock,
        sql: SqlEngine | None = None,
        *,
        lookback: timedelta = timedelta(days=3),
        busy_cpu_percent: float = 5.0,
        approvals: Sequence[Approval] = (),
        extra_sources: Sequence[ResourceSource] = (),
        estate_sources: Sequence[EstateSource] = (),
        sql_for: Callable[[WorkspaceInfo], SqlEngine | None] | None = None,
        estate_uc: Callable[[], EstateCatalog] | None = None,
        prefetch: Callable[[Sequence[WorkspaceInfo]], None] | None = None,
    ) -> None:
        self.clock = clock
        self.sql = sql
        self.sql_for = sql_for  # per workspace (a Databricks workspace reads its own tables)
        self.lookback = lookback
        self.busy_cpu_percent = busy_cpu_percent
        self.approvals = tuple(approvals)
        self.extra_sources = tuple(extra_sources)
        self.estate_sources = tuple(estate_sources)
        # the estate's Unity Catalog and the engine of its account-wide system tables, built
        # on first use (a Databricks workspace's, or the project's own)
        self.estate_uc = estate_uc
        self.prefetch = prefetch

    def prepare(self, infos: Sequence[WorkspaceInfo]) -> None:
        """Before each sweep: the sources drop what an earlier sweep read and, for several
        workspaces, read their system-table facts for all of them at once (one scan of billing
        and run history instead of one per workspace); `extra_sources` then answer each
        workspace from what was read."""
        if self.prefetch is not None:
            self.prefetch(infos)

    def observe(self, reader: WorkspaceReader, info: WorkspaceInfo) -> Snapshot:
        """Snapshot of the workspace `reader` reads, described by inventory entry `info`
        (every resource held in memory; the sweep streams with `stream` instead)."""
        obs = self.stream(reader, info)
        return obs.snapshot(list(obs.resources))

    def stream(self, reader: WorkspaceReader, info: WorkspaceInfo) -> Observation:
        """Start reading one workspace: system facts now, resources lazily, page by page.

        A listing that stops at a failed page (PartialListing) is recorded as a gap and the
        other kinds are still read; the resources delivered before it are evaluated.
        """
        now = self.clock.now()
        notes: list[str] = []
        activity, busy, node_types = self._system_facts(info, now, notes)
        last_activity: dict[str, datetime] = {}
        ctx = EvaluationContext(
            workspace=info.name,
            environment=info.environment,
            now=now,
            node_types=node_types,
            approvals=self.approvals,
            last_activity=last_activity,  # filled per cluster as it streams past
            facts={"busy_clusters": sorted(busy), "activity_source": ACTIVITY_SOURCE},
        )
        obs = Observation(
            info=info,
            taken_at=now,
            context=ctx,
            busy=frozenset(busy),
            sources={"activity": "system.compute.node_timeline" if activity else "rest"},
            notes=notes,
        )
        obs.resources = self._counted(reader, info, obs, activity, last_activity)
        return obs

    def _counted(
        self,
        reader: WorkspaceReader,
        info: WorkspaceInfo,
        obs: Observation,
        activity: Mapping[str, datetime | None],
        last_activity: dict[str, datetime],
    ) -> Iterator[Resource]:
        for res in self._all_resources(reader, info, obs):
            obs.discovered[res.resource_type] += 1
            if res.resource_type == "clusters" and res.resource_id in activity:
                last = _activity_of(res, activity[res.resource_id])
                if last is not None:
                    last_activity[res.resource_id] = last
            yield res

    def _all_resources(
        self, reader: WorkspaceReader, info: WorkspaceInfo, obs: Observation
    ) -> Iterator[Resource]:
        yield from self._objects(reader, obs)
        try:
            conf = reader.workspace_conf(CONF_KEYS)
        except Unavailable as exc:  # the workspace is still judged; rules needing conf: unseen
            obs.gaps.append(
                ListingGap(CONF_KIND, "workspace", None, 0, exc.what, exc.cause, exc.api)
            )
            conf = {}
        yield _workspace_resource(info, conf)
        for source in self.extra_sources:
            yield from source(info)

    def observe_estate(self, inventory: Sequence[WorkspaceInfo], owner: str) -> Snapshot:
        """The estate scope: workspaces seen in system tables but absent from the inventory,
        the Unity Catalog tables with their grants, and the estate sources (budgets, SLAs).

        A catalog that cannot be read is a gap (the table rules unseen, the sweep partial); a
        system table that is missing or not granted is a note saying what it hides."""
        now = self.clock.now()
        uc = (
            self.estate_uc()
            if self.estate_uc is not None
            else EstateCatalog(None, None, self.sql, "")
        )
        notes = [f"tables and grants read from {uc.source}"] if uc.source else []
        known = {w.name for w in inventory} | {w.workspace_id for w in inventory if w.workspace_id}
        resources: list[Resource] = []
        rows = self._fetch(WORKSPACES_SQL, {}, uc.sql, notes, "system.access.workspaces_latest")
        for row in rows:
            wid, name = str(row["workspace_id"]), str(row["workspace_name"] or "")
            if wid in known or name in known:
                continue
            data = {
                "workspace_id": wid,
                "workspace_name": name or wid,
                "in_inventory": False,
                "status": row.get("status"),
            }
            resources.append(Resource("workspace", name or wid, ESTATE_SCOPE, data, name or wid))
        gaps: list[ListingGap] = []
        if uc.catalog is not None and uc.grants is not None:
            try:
                resources.extend(table_resources(uc.catalog, uc.grants, ESTATE_SCOPE))
            except (PermissionDenied, NotFound, Unavailable, Transient) as exc:
                if isinstance(exc, Unreachable):
                    raise
                gaps.append(_catalog_gap(exc))
        for source in self.estate_sources:
            resources.extend(source(inventory, ESTATE_SCOPE))
        info = WorkspaceInfo(ESTATE_SCOPE, "prod", owner, "estate", "estate")
        ctx = EvaluationContext(
            workspace=ESTATE_SCOPE, environment="prod", now=now, facts={"inventory": sorted(known)}
        )
        return Snapshot(
            scope=ESTATE_SCOPE,
            info=info,
            taken_at=now,
            resources=tuple(resources),
            discovered=dict(Counter(r.resource_type for r in resources)),
            context=ctx,
            gaps=tuple(gaps),
            notes=tuple(notes),
        )

    # ---- workspace objects -----------------------------------------------------------------

    def _objects(self, reader: WorkspaceReader, obs: Observation) -> Iterator[Resource]:
        acls = ScopeAcls()
        for obj in _listed(reader, ObjectKind.SECRET_ACL, obs):
            scope, principal = split_secret_acl_id(obj.object_id)
            acls.add(scope, {"principal": principal, **dict(obj.data)})
        acl_gap = any(g.kind == ObjectKind.SECRET_ACL.value for g in obs.gaps)
        for kind in KINDS:
            if kind is ObjectKind.SECRET_SCOPE and acl_gap:
                continue  # scopes without their ACLs would be judged wrongly: left unseen
            for obj in _listed(reader, kind, obs):
                data: Mapping[str, Any] = obj.data
                if kind is ObjectKind.SECRET_SCOPE:
                    data = {**data, "acls": acls.of(obj.object_id)}
                yield _resource(kind.value, obj.object_id, reader.name, data)

    # ---- system tables ---------------------------------------------------------------------

    def _fetch(
        self,
        sql: str,
        params: Mapping[str, Any],
        engine: SqlEngine | None = None,
        notes: list[str] | None = None,
        table: str = "",
    ) -> list[dict[str, Any]]:
        engine = engine if engine is not None else self.sql
        if engine is None:
            return []
        try:
            return engine.fetch(sql, params).as_dicts()
        except (TableMissing, ColumnMissing, PermissionDenied) as exc:
            if notes is not None and table:  # said, never a silent zero
                why = "not granted" if isinstance(exc, PermissionDenied) else "not enabled"
                if isinstance(exc, ColumnMissing):
                    why = f"it has no column {exc.column!r}: an older release than lakecrew reads"
                notes.append(f"{table} not read ({why}); hides: {SYSTEM_TABLE_USES[table]}")
            return []  # REST fields only

    def _system_facts(
        self, info: WorkspaceInfo, now: datetime, notes: list[str]
    ) -> tuple[dict[str, datetime | None], set[str], dict[str, dict[str, Any]]]:
        engine = self.sql_for(info) if self.sql_for is not None else self.sql
        if engine is None and self.sql_for is not None:
            notes.append(
                "system tables not read: no SQL warehouse for this workspace (warehouse_id in "
                "lakecrew.yaml); hides: idle detection from utilisation, running-job safety, "
                "node sizes, security monitor, cost spikes, job SLAs"
            )
        if engine is None or not info.workspace_id:
            return {}, set(), {}
        params = {
            "ws": info.workspace_id,
            "since": now - self.lookback,
            "busy": self.busy_cpu_percent,
        }
        activity: dict[str, datetime | None] = {}
        timeline, runs = "system.compute.node_timeline", "system.lakeflow.job_run_timeline"
        for row in self._fetch(ACTIVITY_SQL, params, engine, notes, timeline):
            activity[str(row["cluster_id"])] = row["last_busy"]
        busy: set[str] = set()
        recent = now - timedelta(hours=2)
        since = {"ws": info.workspace_id, "since": now - self.lookback}
        for row in self._fetch(RUNS_SQL, since, engine, notes, runs):
            if (
                row["finished"] == 0
                and row["last_slice"] is not None
                and row["last_slice"] >= recent
            ):
                for cid in str(row["clusters"] or "").split(","):
                    if cid:
                        busy.add(cid)
                        activity[cid] = now
        node_types = {
            str(r["node_type"]): {
                "memory_gb": float(r["memory_mb"] or 0) / 1024,
                "gpus": int(r["gpu_count"] or 0),
                "cores": float(r["core_count"] or 0),
            }
            for r in self._fetch(NODE_TYPES_SQL, {}, engine, notes, "system.compute.node_types")
            if r.get("memory_mb")
        }
        return activity, busy, node_types


def _catalog_gap(exc: LakecrewError) -> ListingGap:
    """The gap of a Unity Catalog that could not be read: every table rule unseen."""
    if isinstance(exc, Unavailable):
        cause, api = exc.cause, exc.api
    elif isinstance(exc, PermissionDenied):
        cause, api = "not_authenticated" if "not authenticated" in exc.what else "permission", None
    elif isinstance(exc, NotFound):
        cause, api = "not_enabled", None
    else:
        cause, api = "failed", None
    return ListingGap("tables", "tables", None, 0, exc.one_line(), cause, api)


def _resource(
    resource_type: str, object_id: str, workspace: str, data: Mapping[str, Any]
) -> Resource:
    if resource_type == ObjectKind.JOB.value:
        data = normalize_job(data)  # a Jobs API 2.0 job is judged on tasks[0] like any other
    if resource_type in RESOURCE_TYPES:
        rt = RESOURCE_TYPES.get(resource_type).obj
        made = rt.make(workspace, data)
        return Resource(resource_type, object_id, workspace, data, made.name)
    return Resource(resource_type, object_id, workspace, data, str(data.get("name") or object_id))


def _workspace_resource(info: WorkspaceInfo, conf: Mapping[str, str | None]) -> Resource:
    data = {
        "workspace_name": info.name,
        "workspace_id": info.workspace_id,
        "in_inventory": True,
        "environment": info.environment,
        "owner": info.owner,
        "approval": {"status": info.approval_status},
        "conf": {k: v for k, v in conf.items() if v is not None},
    }
    return Resource("workspace", info.name, info.name, data, info.name)


def _epoch(ms: Any) -> datetime | None:
    from datetime import UTC

    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms > 0:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    return None


def _activity_of(res: Resource, busy: datetime | None) -> datetime | None:
    """Last activity of one RUNNING cluster: busy CPU or a running job, else its last (re)start."""
    started = _epoch(res.data.get("last_restarted_time")) or _epoch(res.data.get("start_time"))
    candidates = [t for t in (busy, started) if t is not None]
    return max(candidates) if candidates else None


def _listed(reader: WorkspaceReader, kind: ObjectKind, obs: Observation) -> Iterator[Any]:
    """Objects of one kind; a PartialListing ends the kind and is recorded as a gap, with the
    ids seen before it (so absent resources of that kind are not taken as gone)."""
    ids = ListedIds()
    twice: list[str] = []
    try:
        for obj in reader.list(kind):
            if not ids.add(obj.object_id):  # a page shifted under the listing: judge it once
                twice.append(obj.object_id)
                continue
            yield obj
    except PartialListing as exc:
        rtype = ObjectKind.SECRET_SCOPE.value if kind is ObjectKind.SECRET_ACL else kind.value
        obs.gaps.append(
            ListingGap(kind.value, rtype, exc.page, exc.delivered, exc.what, exc.cause, exc.api)
        )
        obs.seen[rtype] = frozenset() if kind is ObjectKind.SECRET_ACL else frozenset(ids.all())
    finally:
        if twice:
            shown = ", ".join(twice[:10]) + (
                f" and {len(twice) - 10} more" if len(twice) > 10 else ""
            )
            obs.notes.append(f"{kind.value} listed more than once, evaluated once: {shown}")


class ScopeAcls:
    """The secret ACLs of a listing, by scope, held until the scopes are listed (after every
    other kind). Each entry is kept as its JSON text, with one copy of each distinct text and
    of each distinct tuple of them (scopes often share their ACLs): 54,418 ACLs of 26,026 scopes
    took 23 MB as dicts for a whole sweep of 1,000,000 resources."""

    def __init__(self) -> None:
        self.by_scope: dict[str, tuple[str, ...]] = {}
        self.shared: dict[Any, Any] = {}

    def add(self, scope: str, entry: Mapping[str, Any]) -> None:
        text = json.dumps(entry, separators=(",", ":"))
        text = self.shared.setdefault(text, text)
        entries = (*self.by_scope.get(scope, ()), text)
        self.by_scope[scope] = self.shared.setdefault(entries, entries)

    def of(self, scope: str) -> list[dict[str, Any]]:
        """The scope's entries, in the order listed (new dicts: the caller may keep them)."""
        return [json.loads(text) for text in self.by_scope.get(scope, ())]


class ListedIds:
    """The ids one listing delivered. While they arrive in increasing order (the local store
    lists by id) a repeat can only break that order, so they are kept as joined text plus
    their lengths, each full chunk compressed (ids in order share long prefixes: a few bytes
    an id; a set of 400,000 ids takes ~48 MB, their joined text ~10 MB); the first id out of
    order turns them into a set, as any other listing keeps them. They are read back only when
    the listing ends partial (``Observation.seen``)."""

    CHUNK = 4096

    def __init__(self) -> None:
        self.chunks: list[bytes] = []  # the ids of each full chunk, joined, zlib-compressed
        self.lengths = array("I")  # every kept id's length, in order
        self.tail: list[str] = []  # the ids after the last full chunk
        self.last: str | None = None
        self.unordered: set[str] | None = None

    def add(self, object_id: str) -> bool:
        """Keep `object_id`; False when it was delivered before."""
        if self.unordered is None:
            if self.last is None or object_id > self.last:
                self.last = object_id
                self.tail.append(object_id)
                self.lengths.append(len(object_id))
                if len(self.tail) == self.CHUNK:
                    self.chunks.append(zlib.compress("".join(self.tail).encode(), 1))
                    self.tail = []
                return True
            self.unordered = set(self.all())
            self.chunks, self.tail, self.lengths = [], [], array("I")
        if object_id in self.unordered:
            return False
        self.unordered.add(object_id)
        return True

    def all(self) -> list[str]:
        """Every id kept, in the order delivered (any order once unordered)."""
        if self.unordered is not None:
            return list(self.unordered)
        out: list[str] = []
        n = 0
        for packed in self.chunks:
            chunk = zlib.decompress(packed).decode()
            at = 0
            for size in self.lengths[n : n + self.CHUNK]:
                out.append(chunk[at : at + size])
                at += size
            n += self.CHUNK
        return out + self.tail


@dataclass(frozen=True)
class EstateCatalog:
    """What the estate scope reads: the Unity Catalog (tables, grants), the engine holding the
    account-wide system tables (None: not read), and a line saying where they are."""

    catalog: Catalog | None
    grants: Grants | None
    sql: SqlEngine | None
    source: str


@dataclass
class Observation:
    """A workspace being read. `resources` is lazy; `discovered`, `gaps` and `seen` are
    complete once it has been consumed. `snapshot(kept)` then freezes it."""

    info: WorkspaceInfo
    taken_at: datetime
    context: EvaluationContext
    busy: frozenset[str]
    sources: dict[str, str]
    resources: Iterator[Resource] = field(default_factory=lambda: iter(()))
    discovered: Counter[str] = field(default_factory=Counter)
    gaps: list[ListingGap] = field(default_factory=list)
    seen: dict[str, frozenset[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def snapshot(self, kept: Sequence[Resource]) -> Snapshot:
        """The Snapshot of this observation holding `kept` (all, or those the plan needs)."""
        return Snapshot(
            scope=self.info.name,
            info=self.info,
            taken_at=self.taken_at,
            resources=tuple(kept),
            discovered=dict(self.discovered),
            context=self.context,
            busy_clusters=self.busy,
            sources=self.sources,
            gaps=tuple(self.gaps),
            seen=dict(self.seen),
            notes=tuple(self.notes),
        )
