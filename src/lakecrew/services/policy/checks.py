"""Registered Python checks: what a declarative filter cannot say.

A check receives the resource, its validated params, the EvaluationContext (workspace environment,
node types, approvals, activity facts, now — filled by the crew's Observer) and the pack, and
returns evidence (a dict of the values that broke the rule) or None when the resource complies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lakecrew.core.filters import MISSING, parse_path, resolve, to_datetime
from lakecrew.core.findings import (
    Approval,
    EvaluationContext,
    looks_like_secret,
    redacted,
    secret_key_name,
)
from lakecrew.core.pack import Pack
from lakecrew.core.registry import NoParams, Registry
from lakecrew.core.resources import Resource

Evidence = dict[str, Any]
CheckFn = Callable[[Resource, Any, EvaluationContext, Pack], Evidence | None]
CHECKS: Registry[CheckFn] = Registry("check")
JOB_SOURCES = frozenset({"JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS"})


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _get(data: Any, path: str) -> Any:
    values = resolve(data, parse_path(path))
    return None if not values or values[0] is MISSING else values[0]


def tags_at(data: Mapping[str, Any], path: str, fmt: str) -> dict[str, Any]:
    """Tags at `path` as a dict ('pairs' reads the warehouses' [{key, value}] list)."""
    raw = _get(data, path)
    if fmt == "pairs":
        items = raw if isinstance(raw, list) else []
        return {str(t.get("key")): t.get("value") for t in items if isinstance(t, Mapping)}
    return dict(raw) if isinstance(raw, Mapping) else {}


def node_catalogue(pack: Pack, ctx: EvaluationContext) -> Mapping[str, Mapping[str, Any]]:
    """The pack's node types overlaid with those the context knows (e.g. system.compute)."""
    if not ctx.node_types:
        return pack.node_catalogue
    return {**pack.node_catalogue, **ctx.node_types}


def approvals(pack: Pack, ctx: EvaluationContext) -> list[Approval]:
    """Approval records of the pack and of the context."""
    if not pack.approvals:
        return list(ctx.approvals)
    return [*(Approval(**a.model_dump()) for a in pack.approvals), *ctx.approvals]


def approved(kind: str, res: Resource, pack: Pack, ctx: EvaluationContext) -> Approval | None:
    """The first approval of `kind` covering `res`, if any."""
    for a in approvals(pack, ctx):
        if a.covers(
            kind,
            workspace=res.workspace,
            resource_type=res.resource_type,
            resource_id=res.resource_id,
            resource_name=res.name,
            now=ctx.now,
        ):
            return a
    return None


class TagsParams(_P):
    path: str = Field("custom_tags", description="dotted path of the tags")
    format: Literal["map", "pairs"] = Field("map", description="pairs = [{key, value}] list")


@CHECKS.register("required_tags", params=TagsParams)
def required_tags(
    res: Resource, p: TagsParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """Every tag of the pack's `required_tags` is present and not blank (SOP 1.2.3, 1.9.1).

    ```yaml
    check: {name: required_tags, params: {path: tags.custom_tags, format: pairs}}
    ```
    """
    tags = tags_at(res.data, p.path, p.format)
    missing = [t for t in pack.required_tags if not str(tags.get(t) or "").strip()]
    return {"missing_tags": missing, "path": p.path} if missing else None


@CHECKS.register("environment_tag", params=TagsParams)
def environment_tag(
    res: Resource, p: TagsParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """The `environment` tag names the workspace's environment (case-blind, SOP 1.2.3).

    A missing tag is left to the required_tags rule.

    ```yaml
    check: {name: environment_tag, params: {path: custom_tags}}
    ```
    """
    value = str(tags_at(res.data, p.path, p.format).get("environment") or "").strip()
    accepted = {v.casefold() for v in pack.environments[ctx.environment].tag_values}
    if not value or value.casefold() in accepted:
        return None
    return {"environment_tag": value, "workspace_environment": ctx.environment}


def cluster_nodes(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, node type) of the worker and, when set, the driver."""
    for fld in ("node_type_id", "driver_node_type_id"):
        if isinstance(data.get(fld), str) and data[fld]:
            yield fld, data[fld]


def max_workers_of(data: Mapping[str, Any]) -> int | None:
    """autoscale.max_workers, else num_workers, else None."""
    auto = data.get("autoscale")
    if isinstance(auto, Mapping) and isinstance(auto.get("max_workers"), int):
        return int(auto["max_workers"])
    n = data.get("num_workers")
    return int(n) if isinstance(n, int) and not isinstance(n, bool) else None


@CHECKS.register("cluster_size", params=NoParams)
def cluster_size(res: Resource, p: NoParams, ctx: EvaluationContext, pack: Pack) -> Evidence | None:
    """Workers and per-node memory within the environment's T-shirt size (SOP 1.2.1).

    Memory is per node (worker and driver). GPU nodes belong to the GPU size and are judged by the
    GPU approval rule, not here; a high-memory node is also outside the size (it needs an
    approval AND a size exception). A node type missing from the catalogue is outside every size
    ("anything outside the sizes is non-compliant").

    ```yaml
    check: {name: cluster_size}
    ```
    """
    size = pack.size_of(ctx.environment)
    cat = node_catalogue(pack, ctx)
    evidence: Evidence = {}
    workers = max_workers_of(res.data)
    if size.max_workers is not None and workers is not None and workers > size.max_workers:
        evidence.update(max_workers=workers, size_max_workers=size.max_workers)
    for fld, node in cluster_nodes(res.data):
        info = cat.get(node)
        if info is None:
            evidence[fld] = node
            evidence["node_type_unknown"] = True
            continue
        mem = float(info["memory_gb"])
        if (
            int(info.get("gpus", 0)) == 0
            and size.max_node_memory_gb is not None
            and mem > size.max_node_memory_gb
        ):
            evidence.update(
                {
                    fld: node,
                    f"{fld}_memory_gb": mem,
                    "size_max_node_memory_gb": size.max_node_memory_gb,
                }
            )
    if evidence:
        evidence["size"] = pack.environments[ctx.environment].size
    return evidence or None


class NodeApprovalParams(_P):
    kind: Literal["gpu", "high_memory"]


@CHECKS.register("node_approval", params=NodeApprovalParams)
def node_approval(
    res: Resource, p: NodeApprovalParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """GPU nodes, or nodes above the pack's `high_memory_gb`, need an approval (SOP 1.2.6).

    ```yaml
    check: {name: node_approval, params: {kind: gpu}}
    ```
    """
    cat = node_catalogue(pack, ctx)
    hits: Evidence = {}
    for fld, node in cluster_nodes(res.data):
        info = cat.get(node)
        if info is None:
            continue
        if p.kind == "gpu" and int(info.get("gpus", 0)) > 0:
            hits[fld] = node
            hits["gpus"] = int(info["gpus"])
        if p.kind == "high_memory" and float(info["memory_gb"]) > pack.high_memory_gb:
            hits[fld] = node
            hits["memory_gb"] = float(info["memory_gb"])
    if not hits or approved(p.kind, res, pack, ctx):
        return None
    return {**hits, "approval": "none on record"}


@CHECKS.register("autotermination_within", params=NoParams)
def autotermination_within(
    res: Resource, p: NoParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """autotermination_minutes ≤ the pack's max, unless an approved exception allows more (1.2.2).

    ```yaml
    check: {name: autotermination_within}
    ```
    """
    minutes = res.data.get("autotermination_minutes")
    limit = pack.auto_termination.max_minutes
    if not isinstance(minutes, int) or minutes <= limit:
        return None
    exc = approved("autotermination", res, pack, ctx)
    if exc is not None and (exc.max_minutes is None or minutes <= exc.max_minutes):
        return None
    return {"autotermination_minutes": minutes, "max_minutes": limit}


class IdleParams(_P):
    max_idle_minutes: int | None = Field(None, ge=1, description="default: auto_termination max")


@CHECKS.register("cluster_idle", params=IdleParams)
def cluster_idle(
    res: Resource, p: IdleParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """A RUNNING all-purpose cluster with no activity for longer than the limit (1.2.2, 3.1.2).

    Activity is the later of `ctx.last_activity[cluster_id]` (Observer: node_timeline, job runs,
    restarts) and the REST field `last_activity_time` (epoch ms); the evidence names the source
    (`activity_source`). With neither, nothing is claimed.

    ```yaml
    check: {name: cluster_idle, params: {max_idle_minutes: 30}}
    ```
    """
    if res.data.get("state") != "RUNNING" or res.data.get("cluster_source") in JOB_SOURCES:
        return None
    seen = [
        (t, source)
        for t, source in (
            (ctx.last_activity.get(res.resource_id), ctx.facts.get("activity_source", "system")),
            (to_datetime(res.data.get("last_activity_time")), "REST last_activity_time"),
        )
        if t is not None
    ]
    if not seen:
        return None
    last, source = max(seen, key=lambda pair: pair[0])
    limit = p.max_idle_minutes or pack.auto_termination.max_minutes
    idle = ctx.now - last
    if idle <= timedelta(minutes=limit):
        return None
    return {
        "state": "RUNNING",
        "last_activity": last.isoformat(),
        "activity_source": source,
        "idle_minutes": int(idle.total_seconds() // 60),
        "limit_minutes": limit,
    }


_PARAM_CONTAINERS = (
    "base_parameters",
    "parameters",
    "named_parameters",
    "spark_env_vars",
    "spark_conf",
    "python_params",
    "jar_params",
    "notebook_params",
)


def _scan(node: Any, path: str, found: list[dict[str, str]], in_params: bool) -> None:
    """Walk `node` (a location's path is built only where it is reported or walked into:
    most values are scalars that hold no secret)."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            hot = in_params or k in _PARAM_CONTAINERS
            if (
                hot
                and isinstance(v, str)
                and v.strip()
                and "{{secrets/" not in v
                and (secret_key_name(str(k)) or looks_like_secret(v))
            ):
                found.append({"location": f"{path}.{k}" if path else str(k), "value": redacted(v)})
            elif isinstance(v, Mapping | list):
                _scan(v, f"{path}.{k}" if path else str(k), found, hot)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if (
                in_params
                and isinstance(v, str)
                and "{{secrets/" not in v
                and (looks_like_secret(v) or _flag_with_secret(v))
            ):
                found.append({"location": f"{path}[{i}]", "value": redacted(v)})
            elif isinstance(v, Mapping | list):
                _scan(v, f"{path}[{i}]", found, in_params)


def _flag_with_secret(arg: str) -> bool:
    name, sep, value = arg.lstrip("-").partition("=")
    return bool(sep and value.strip() and secret_key_name(name))


@CHECKS.register("hardcoded_secrets", params=NoParams)
def hardcoded_secrets(
    res: Resource, p: NoParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """Secret-looking literals in task parameters, env vars or Spark conf (SOP 1.4.2, 3.1.7).

    Values are never reported: evidence holds locations and redacted placeholders only.
    Secret references (`{{secrets/scope/key}}`) are fine.

    ```yaml
    check: {name: hardcoded_secrets}
    ```
    """
    found: list[dict[str, str]] = []
    settings = res.data.get("settings")
    if isinstance(settings, Mapping):
        for part in ("tasks", "job_clusters", "parameters", "environments"):
            _scan(settings.get(part), f"settings.{part}", found, part == "parameters")
    return {"secrets": found} if found else None


class WorkspaceRegisteredParams(_P):
    fact: str = Field("inventory", description="ctx.facts key: names and ids of the inventory")


@CHECKS.register("workspace_registered", params=WorkspaceRegisteredParams)
def workspace_registered(
    res: Resource, p: WorkspaceRegisteredParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """A workspace seen in usage (system.access.workspaces_latest) is in the inventory (1.1.3).

    `ctx.facts["inventory"]` holds the inventory's workspace names and ids (strings); a resource
    with `in_inventory: true` is registered too.

    ```yaml
    check: {name: workspace_registered}
    ```
    """
    if res.data.get("in_inventory") is True:
        return None
    known = {str(x) for x in ctx.facts.get(p.fact, ())}
    ids = {str(res.data.get(k)) for k in ("workspace_id", "workspace_name") if res.data.get(k)}
    if ids & known:
        return None
    return {
        "workspace_id": res.data.get("workspace_id"),
        "workspace_name": res.data.get("workspace_name"),
        "in_inventory": False,
    }


@CHECKS.register("workspace_name", params=NoParams)
def workspace_name(
    res: Resource, p: NoParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """A registered workspace is named `<project>-<environment>-<region>` (SOP 1.1.3).

    ```yaml
    check: {name: workspace_name}
    ```
    """
    import re

    name = str(res.data.get("workspace_name") or "")
    if res.data.get("in_inventory") is not True or re.fullmatch(
        pack.workspaces.naming_pattern, name
    ):
        return None
    return {"workspace_name": name, "pattern": pack.workspaces.naming_pattern}


class PiiParams(_P):
    classifications: list[str] = Field(default_factory=lambda: ["Confidential", "Restricted"])
    pii_tag: str = "pii"
    masking_tag: str = Field("masking", description="column tag naming a write-time masking")
    masked_at_write: list[str] = Field(
        default_factory=lambda: ["tokenize", "partial", "generalize_year", "coarsen_geo", "drop"]
    )


@CHECKS.register("pii_unmasked", params=PiiParams)
def pii_unmasked(
    res: Resource, p: PiiParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """Columns tagged PII are masked in Confidential/Restricted tables (SOP 1.3.1, 3.1.4).

    Masked = a column mask (applied at read, `columns[].mask`) or a `masking` column tag naming
    a method of `masked_at_write` (the writer, e.g. a lakecrew pipeline, masked the values before
    storing them). Reads `tags.classification` and `column_tags` (column → {tag: value}).

    ```yaml
    check: {name: pii_unmasked, params: {classifications: [Confidential, Restricted]}}
    ```
    """
    cls = str(_get(res.data, "tags.classification") or "")
    if cls.casefold() not in {c.casefold() for c in p.classifications}:
        return None
    col_tags = res.data.get("column_tags") or {}
    masked = {c.get("name") for c in res.data.get("columns") or [] if c.get("mask")}
    at_write = {m.casefold() for m in p.masked_at_write}
    bad = sorted(
        col
        for col, tags in col_tags.items()
        if isinstance(tags, Mapping)
        and p.pii_tag in tags
        and str(tags[p.pii_tag]).casefold() not in ("false", "no", "0")
        and col not in masked
        and str(tags.get(p.masking_tag) or "").casefold() not in at_write
    )
    return {"classification": cls, "unmasked_pii_columns": bad} if bad else None


@CHECKS.register("grants_without_expiry", params=NoParams)
def grants_without_expiry(
    res: Resource, p: NoParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """Temporary grants, and user grants on Restricted data, carry `expires_at` (SOP 1.3.2).

    Reads `grants` next to TableInfo: [{principal, principal_type, privileges, temporary,
    expires_at}].

    ```yaml
    check: {name: grants_without_expiry}
    ```
    """
    restricted = str(_get(res.data, "tags.classification") or "").casefold() == "restricted"
    bad = [
        g.get("principal")
        for g in res.data.get("grants") or []
        if isinstance(g, Mapping)
        and not g.get("expires_at")
        and (g.get("temporary") is True or (restricted and g.get("principal_type") == "user"))
    ]
    return {"grants_without_expiry": bad} if bad else None


def budget_severity(threshold: float) -> str:
    """Severity of a crossed budget threshold: ≥100 % critical, ≥80 % warning, else info."""
    return "critical" if threshold >= 100 else "warning" if threshold >= 80 else "info"


@CHECKS.register("budget_exceeded", params=NoParams)
def budget_exceeded(
    res: Resource, p: NoParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """Month-to-date spend past a budget threshold, unless a budget approval covers it (SOP
    1.9.5, 2.1.2). The highest crossed threshold grades the finding: 50 % info, 80 % warning,
    100 % critical (evidence `severity`).

    Reads `budget_usd`, `month_to_date_usd`, `thresholds` (default [50, 80, 100]) and
    `exception` (an active approved exception: no finding); the crew's FinOps source fills them.

    ```yaml
    check: {name: budget_exceeded}
    ```
    """
    budget, spent = res.data.get("budget_usd"), res.data.get("month_to_date_usd")
    if not isinstance(budget, int | float) or not isinstance(spent, int | float) or budget <= 0:
        return None
    used = 100.0 * spent / budget
    thresholds = res.data.get("thresholds") or [50, 80, 100]
    crossed = [float(t) for t in thresholds if isinstance(t, int | float) and used >= t]
    if not crossed or res.data.get("exception") or approved("budget", res, pack, ctx):
        return None  # an approved exception (lakecrew.yaml budgets[].exceptions) covers it
    return {
        "budget_usd": budget,
        "month_to_date_usd": spent,
        "percent_used": round(used, 1),
        "threshold_percent": max(crossed),
        "severity": budget_severity(max(crossed)),
    }


class SignalParams(_P):
    signal: str = Field(description="the detector signal code to turn into a finding")


@CHECKS.register("detector_signal", params=SignalParams)
def detector_signal(
    res: Resource, p: SignalParams, ctx: EvaluationContext, pack: Pack
) -> Evidence | None:
    """A detector (FinOps anomaly, security monitor) raised `signal` on this resource.

    The detection itself lives in its service; this rule makes its signals findings. Reads
    `signals` on the resource: [{code, ...details}].

    ```yaml
    check: {name: detector_signal, params: {signal: cost.anomaly}}
    ```
    """
    for sig in res.data.get("signals") or []:
        if isinstance(sig, Mapping) and sig.get("code") == p.signal:
            return {k: v for k, v in sig.items() if k != "code"}
    return None
