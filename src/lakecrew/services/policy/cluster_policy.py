"""Preventive controls: Databricks cluster policies from the SOP pack, and an evaluator of them.

`export(pack, env, size)` returns the policies of one environment — one per cluster type the
environment allows (Dev: an interactive policy and a job policy; QA and Prod: a job policy only,
SOP 1.2.7). A cluster can be created when SOME policy of its environment accepts it, which is
what `evaluate_policies` checks. Each definition is the JSON policy language of Databricks
(fixed, range, allowlist, blocklist, regex, unlimited, forbidden); `PolicyDocument.to_api()` is the
`{"name", "definition": <json string>, "description"}` shape `compute.Policy.from_dict` parses.

What each exported limit enforces (and the rule it mirrors in the rule engine):
- cluster_type fixed (cluster.interactive_outside_dev / job.all_purpose_compute);
- autotermination_minutes range (all-purpose: min_minutes..max_minutes, required —
  cluster.autotermination_disabled/_too_long; job: ≤ max_minutes, optional);
- autoscale.min_workers / max_workers ranges = env bounds ∩ size max_workers
  (cluster.autoscale_out_of_bounds, cluster.size_out_of_policy); num_workers range ≤ 0 so fixed-size
  clusters are refused (cluster.autoscale_disabled; single node keeps 0);
- node_type_id / driver_node_type_id allowlists from the catalogue: per-node memory within the
  size, no GPU (size GPU: GPU nodes only), nothing above high_memory_gb (cluster.size_out_of_policy,
  cluster.gpu_unapproved, cluster.high_memory_unapproved). Approved exceptions are served by a
  separately granted policy (e.g. `--size GPU`), not by these;
- custom_tags.<tag> regex non-blank, required, for every mandatory tag; custom_tags.environment
  regex of the environment's tag values, case-blind (cluster.tags_missing, _environment_mismatch);
- <cloud>_attributes.availability allowlist of spot kinds when spot is required
  (cluster.spot_required).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lakecrew.core.errors import ConfigError, UsageError
from lakecrew.core.pack import SIZE_ORDER, Pack

SPOT_KINDS: Mapping[str, tuple[str, list[str]]] = {
    "aws": ("aws_attributes.availability", ["SPOT", "SPOT_WITH_FALLBACK"]),
    "azure": ("azure_attributes.availability", ["SPOT_AZURE", "SPOT_WITH_FALLBACK_AZURE"]),
    "gcp": ("gcp_attributes.availability", ["PREEMPTIBLE_GCP", "PREEMPTIBLE_WITH_FALLBACK_GCP"]),
}
MAP_ATTRIBUTES = ("custom_tags", "spark_conf", "spark_env_vars")
JOB_SOURCES = frozenset({"JOB"})
DLT_SOURCES = frozenset({"PIPELINE", "PIPELINE_MAINTENANCE"})
RUNTIME_FIELDS = frozenset(
    {
        "cluster_id",
        "state",
        "state_message",
        "start_time",
        "terminated_time",
        "last_restarted_time",
        "last_state_loss_time",
        "last_activity_time",
        "driver",
        "executors",
        "spark_context_id",
        "jdbc_port",
        "cluster_memory_mb",
        "cluster_cores",
        "default_tags",
        "cluster_log_status",
        "termination_reason",
        "creator_user_name",
        "spec",
    }
)


@dataclass(frozen=True)
class PolicyDocument:
    """One exported cluster policy."""

    name: str
    description: str
    definition: dict[str, dict[str, Any]]
    env: str
    size: str
    cluster_type: str

    def to_api(self) -> dict[str, Any]:
        """The cluster-policies API shape (definition as a JSON string)."""
        return {
            "name": self.name,
            "definition": json.dumps(self.definition, sort_keys=True),
            "description": self.description,
        }


@dataclass(frozen=True)
class PolicyViolation:
    """One attribute of a cluster spec that a policy refuses."""

    path: str
    message: str


def _resolve_size(pack: Pack, env: str, size: str | None) -> str:
    if env not in pack.environments:
        raise UsageError(
            f"unknown environment {env!r}", fix=f"use one of: {', '.join(pack.environments)}"
        )
    profile = pack.environments[env].size
    chosen = size or profile
    if chosen not in pack.sizes:
        raise UsageError(f"unknown size {chosen!r}", fix=f"use one of: {', '.join(pack.sizes)}")
    if (
        chosen in SIZE_ORDER
        and profile in SIZE_ORDER
        and SIZE_ORDER.index(chosen) > SIZE_ORDER.index(profile)
    ):
        raise UsageError(
            f"size {chosen} is larger than {env}'s size {profile} (SOP 1.1.1)",
            fix=f"export {env} with size {profile} or smaller, or GPU",
        )
    return chosen


def allowed_node_types(pack: Pack, env: str, size: str, cloud: str) -> list[str]:
    """Node types of `cloud` a cluster of `size` in `env` may use (per-node memory rule)."""
    spec = pack.sizes[size]
    limit_size = pack.size_of(env) if spec.gpu else spec
    limit = limit_size.max_node_memory_gb or pack.high_memory_gb
    limit = min(limit, pack.high_memory_gb)
    return sorted(
        name
        for name, nt in pack.node_types.items()
        if nt.cloud == cloud and nt.memory_gb <= limit and (nt.gpus > 0) == spec.gpu
    )


def _definition(
    pack: Pack, env: str, size: str, cluster_type: str, cloud: str
) -> dict[str, dict[str, Any]]:
    profile = pack.environments[env]
    spec = pack.sizes[size]
    limit_workers = pack.size_of(env).max_workers if spec.gpu else spec.max_workers
    lo = profile.autoscale.min_workers
    hi = min(profile.autoscale.max_workers, limit_workers or profile.autoscale.max_workers)
    if hi < lo:
        raise ConfigError(
            f"size {size} allows {hi} workers, below {env}'s autoscale minimum {lo}",
            fix="raise the size's max_workers or lower the environment minimum",
        )
    nodes = allowed_node_types(pack, env, size, cloud)
    if not nodes:
        raise ConfigError(
            f"no {cloud} node type in the catalogue fits size {size} in {env}",
            fix="add node types to the pack's node_types",
        )
    at = pack.auto_termination
    d: dict[str, dict[str, Any]] = {"cluster_type": {"type": "fixed", "value": cluster_type}}
    if cluster_type == "all-purpose":
        d["autotermination_minutes"] = {
            "type": "range",
            "minValue": at.min_minutes,
            "maxValue": at.max_minutes,
            "defaultValue": at.max_minutes,
        }
    else:
        d["autotermination_minutes"] = {
            "type": "range",
            "maxValue": at.max_minutes,
            "isOptional": True,
        }
    d["autoscale.min_workers"] = {
        "type": "range",
        "minValue": lo,
        "maxValue": hi,
        "defaultValue": lo,
        "isOptional": True,
    }
    d["autoscale.max_workers"] = {
        "type": "range",
        "minValue": lo,
        "maxValue": hi,
        "defaultValue": hi,
        "isOptional": True,
    }
    d["num_workers"] = {"type": "range", "maxValue": 0, "isOptional": True}
    d["node_type_id"] = {
        "type": "allowlist",
        "values": nodes,
        "defaultValue": nodes[0],
        "isOptional": True,
    }
    d["driver_node_type_id"] = {"type": "allowlist", "values": nodes, "isOptional": True}
    for tag in pack.required_tags:
        if tag == "environment":
            alts = "|".join(re.escape(v) for v in profile.tag_values)
            d[f"custom_tags.{tag}"] = {
                "type": "regex",
                "pattern": f"(?i)(?:{alts})",
                "defaultValue": profile.tag_values[0],
            }
        else:
            d[f"custom_tags.{tag}"] = {"type": "regex", "pattern": r".*\S.*"}
    if profile.spot_required:
        path, kinds = SPOT_KINDS[cloud]
        d[path] = {
            "type": "allowlist",
            "values": kinds,
            "defaultValue": kinds[-1],
            "isOptional": True,
        }
    return d


def export(
    pack: Pack, env: str, size: str | None = None, *, cloud: str = "aws"
) -> list[PolicyDocument]:
    """The cluster policies of `env` (size defaults to the env's; larger sizes are refused)."""
    chosen = _resolve_size(pack, env, size)
    if cloud not in SPOT_KINDS:
        raise UsageError(f"unknown cloud {cloud!r}", fix="use aws, azure or gcp")
    profile = pack.environments[env]
    types = ["all-purpose", "job"] if profile.interactive_allowed else ["job"]
    docs = []
    for ctype in types:
        kind = "interactive" if ctype == "all-purpose" else "job"
        docs.append(
            PolicyDocument(
                name=f"lakecrew-{env}-{chosen.lower()}-{kind}",
                description=(
                    f"SOP {pack.name}: {env} {kind} clusters, size {chosen} "
                    f"(generated by lakecrew; SOP 1.1.5, 1.2.1-1.2.7)"
                ),
                definition=_definition(pack, env, chosen, ctype, cloud),
                env=env,
                size=chosen,
                cluster_type=ctype,
            )
        )
    return docs


# --- the evaluator ------------------------------------------------------------------------------


def cluster_type_of(spec: Mapping[str, Any]) -> str:
    """The `cluster_type` virtual attribute: job / dlt from cluster_source, else all-purpose."""
    if isinstance(spec.get("cluster_type"), str):
        return str(spec["cluster_type"])
    source = spec.get("cluster_source")
    if source in JOB_SOURCES:
        return "job"
    if source in DLT_SOURCES:
        return "dlt"
    return "all-purpose"


def spec_from_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The creation spec of a ClusterDetails: runtime fields dropped, `cluster_type` derived,
    and num_workers dropped when autoscale is set (the API ignores it then)."""
    spec = {k: v for k, v in details.items() if k not in RUNTIME_FIELDS}
    spec["cluster_type"] = cluster_type_of(details)
    spec.pop("cluster_source", None)
    if isinstance(spec.get("autoscale"), Mapping):
        spec.pop("num_workers", None)
    return spec


_ABSENT = object()


def _lookup(spec: Mapping[str, Any], path: str) -> list[Any]:
    if path == "cluster_type":
        return [cluster_type_of(spec)]
    for prefix in MAP_ATTRIBUTES:
        if path.startswith(prefix + "."):
            m = spec.get(prefix)
            key = path[len(prefix) + 1 :]
            return [m.get(key, _ABSENT) if isinstance(m, Mapping) else _ABSENT]
    nodes: list[Any] = [spec]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in nodes:
            if part == "*" and isinstance(node, list):
                nxt.extend(node)
            elif part.isdigit() and isinstance(node, list):
                nxt.append(node[int(part)] if int(part) < len(node) else _ABSENT)
            elif isinstance(node, Mapping):
                nxt.append(node.get(part, _ABSENT))
            else:
                nxt.append(_ABSENT)
        nodes = nxt
    return nodes or [_ABSENT]


def _flag(raw: Any, default: bool) -> bool:
    """Lenient booleans: true/false, "true"/"false" (seen in the wild), 1/0."""
    if raw is None:
        return default
    if isinstance(raw, str):
        return raw.strip().lower() in ("true", "1", "yes")
    return bool(raw)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b or str(a) == str(b)


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return None


def _check_value(ptype: str, limit: Mapping[str, Any], v: Any) -> str | None:
    if ptype == "fixed":
        return None if _same(v, limit.get("value")) else f"must be {limit.get('value')!r}"
    if ptype == "forbidden":
        return "must not be set"
    if ptype == "unlimited":
        return None
    if ptype in ("allowlist", "blocklist"):
        values = list(limit.get("values") or [])
        hit = any(_same(v, x) for x in values)
        if ptype == "allowlist" and not hit:
            return f"{v!r} is not one of the allowed values"
        if ptype == "blocklist" and hit:
            return f"{v!r} is a blocked value"
        return None
    if ptype == "regex":
        pattern = str(limit.get("pattern", ""))
        ok = isinstance(v, str) and re.fullmatch(pattern, v) is not None
        return None if ok else f"{v!r} does not match {pattern!r}"
    if ptype == "range":
        n = _number(v)
        lo, hi = _number(limit.get("minValue")), _number(limit.get("maxValue"))
        if n is None:
            return f"{v!r} is not a number"
        if lo is not None and n < lo:
            return f"{v!r} is below minValue {limit.get('minValue')}"
        if hi is not None and n > hi:
            return f"{v!r} is above maxValue {limit.get('maxValue')}"
        return None
    raise ConfigError(
        f"unknown policy limit type {ptype!r}",
        fix="use fixed, forbidden, allowlist, blocklist, regex, range or unlimited",
    )


def evaluate_policy(
    definition: Mapping[str, Any] | str, cluster_spec: Mapping[str, Any]
) -> list[PolicyViolation]:
    """Violations of one policy definition by a cluster spec (ClusterSpec or ClusterDetails).

    Semantics: `fixed` — absent is fine (the value is applied), any other value is refused;
    `forbidden` — must be absent; limiting types (allowlist, blocklist, regex, range) — required
    unless `isOptional` is true; `unlimited` — optional unless `isOptional` is false. Regexes match
    the whole value. `dbus_per_hour` needs DBU rates and is not evaluated. Flags are read
    leniently ("true"/"false" strings).
    """
    defn = json.loads(definition) if isinstance(definition, str) else definition
    spec = spec_from_details(cluster_spec)
    out: list[PolicyViolation] = []
    for path, limit in defn.items():
        if path == "dbus_per_hour" or not isinstance(limit, Mapping):
            continue
        ptype = str(limit.get("type", ""))
        optional_default = ptype in ("unlimited", "fixed", "forbidden")
        optional = _flag(limit.get("isOptional"), optional_default)
        for v in _lookup(spec, path):
            if v is _ABSENT or v is None:
                if not optional and ptype not in ("fixed", "forbidden"):
                    out.append(PolicyViolation(path, "is required by the policy"))
                continue
            problem = _check_value(ptype, limit, v)
            if problem:
                out.append(PolicyViolation(path, problem))
    return out


def evaluate_policies(
    docs: Sequence[PolicyDocument] | Iterable[PolicyDocument], cluster_spec: Mapping[str, Any]
) -> list[PolicyViolation]:
    """[] when some policy accepts the spec; else the violations of the policy for its type."""
    docs = list(docs)
    results = [(d, evaluate_policy(d.definition, cluster_spec)) for d in docs]
    if any(not v for _, v in results):
        return []
    ctype = cluster_type_of(cluster_spec)
    for doc, violations in results:
        if doc.cluster_type == ctype:
            return violations
    return [
        PolicyViolation("cluster_type", f"no policy of this environment allows {ctype!r}"),
        *(results[0][1] if results else []),
    ]
