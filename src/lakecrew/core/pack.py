"""The SOP pack: versioned, validated policy data (pydantic v2, unknown keys rejected).

How memory is counted (SOP 1.2.1 "≤ 16 GB RAM" per size): per NODE. A size's `max_node_memory_gb`
caps the memory of the worker node type (and of the driver node type when one is set); the number
of nodes is capped separately by `max_workers` (autoscale max_workers, or num_workers). The rule
engine (`cluster.size_out_of_policy`) and the cluster-policy export (node_type_id allowlist) use the
same reading, from the same `node_types` catalogue. GPU node types (gpus > 0) belong to the GPU
size and need an approval (SOP 1.2.6); node types above `high_memory_gb` need an approval too.

Structure only is checked here; names of checks and actions, and their params, are checked by the
loader against the registries (services/policy/loader.py), with file:line in every error.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakecrew.core.filters import FilterNode

PACK_VERSION = 1
SIZE_ORDER = ("S", "M", "L")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Autoscale(_Strict):
    """Autoscaling bounds of an environment (SOP 1.2.4)."""

    min_workers: int = Field(ge=0)
    max_workers: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Autoscale:
        if self.min_workers > self.max_workers:
            raise ValueError("min_workers must be ≤ max_workers")
        return self


class Environment(_Strict):
    """An environment profile (SOP 1.1.1, 1.1.5, 1.2.4, 1.2.5, 1.2.7)."""

    description: str = ""
    size: str
    autoscale: Autoscale
    spot_required: bool
    interactive_allowed: bool
    job_clusters_only: bool
    tag_values: list[str] = Field(min_length=1, description="accepted `environment` tag values")


class Size(_Strict):
    """A T-shirt size (SOP 1.2.1); memory is per node (see module docstring)."""

    description: str = ""
    max_workers: int | None = Field(default=None, ge=0)
    max_node_memory_gb: float | None = Field(default=None, gt=0)
    gpu: bool = False
    requires_approval: bool = False


class NodeType(_Strict):
    """A node type of the catalogue: memory (GB), cores and GPUs."""

    cloud: Literal["aws", "azure", "gcp"]
    memory_gb: float = Field(gt=0)
    cores: int = Field(gt=0)
    gpus: int = Field(default=0, ge=0)


class ApprovalRecord(_Strict):
    """An approval (SOP 1.2.2 exception, 1.2.6 GPU / high memory)."""

    kind: Literal["gpu", "high_memory", "autotermination", "budget", "size"]
    approved_by: str
    reason: str
    workspace: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    resource_name_glob: str | None = None
    expires: datetime | None = None
    max_minutes: int | None = None


class AutoTermination(_Strict):
    """Auto-termination (SOP 1.2.2): at most `max_minutes`; exceptions are approval records."""

    max_minutes: int = Field(ge=1)
    min_minutes: int = Field(default=10, ge=0)


class Warehouses(_Strict):
    """SQL warehouses (SOP 1.9, 2.1.3): auto-stop required and at most `max_auto_stop_minutes`."""

    max_auto_stop_minutes: int = Field(ge=1)


class Workspaces(_Strict):
    """Workspace registration (SOP 1.1.3): naming pattern (anchored) and approval."""

    naming_pattern: str
    example: str = ""

    @field_validator("naming_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        re.compile(v)
        return v


class FailedAccess(_Strict):
    """Bursts of failed access (401/403) per principal per hour (SOP 1.4.4)."""

    status_codes: list[int] = Field(default_factory=lambda: [401, 403], min_length=1)
    min_failures_per_hour: int = Field(default=10, ge=1)
    mad_k: float = Field(default=5.0, gt=0, description="robust z above the principal's baseline")


class SecretReads(_Strict):
    """Unusual secret reads (getSecret): new reader of a scope, off-hours, volume spike."""

    min_indicators: int = Field(default=2, ge=1, le=3)
    min_reads_per_day: int = Field(default=10, ge=1)
    mad_k: float = Field(default=5.0, gt=0)
    hour_tolerance: int = Field(default=1, ge=0, le=12)
    business_hours: tuple[int, int] = Field(
        default=(7, 19), description="usual hours [start, end) of a principal without history"
    )


class Downloads(_Strict):
    """Large result downloads (exfiltration indicators)."""

    actions: list[str] = Field(
        default_factory=lambda: [
            "downloadQueryResult",
            "downloadLargeResults",
            "downloadPreviewResults",
        ],
        min_length=1,
    )
    max_result_bytes: int = Field(default=1 << 30, ge=1)
    max_daily_bytes: int = Field(default=2 << 30, ge=1)
    min_downloads_per_day: int = Field(default=50, ge=1)
    mad_k: float = Field(default=5.0, gt=0)


class Security(_Strict):
    """Security monitor thresholds over system.access.audit (SOP 1.4.4)."""

    detect_days: int = Field(default=30, ge=1, description="incidents reported this far back")
    baseline_days: int = Field(default=60, ge=1, description="history defining 'usual'")
    failed_access: FailedAccess = Field(default_factory=FailedAccess)
    secret_reads: SecretReads = Field(default_factory=SecretReads)
    downloads: Downloads = Field(default_factory=Downloads)


class Identity(_Strict):
    """Limits of the identity, secret-rotation and audit-delivery checks the sweep runs on a
    databricks workspace (SOP 1.4.3 token lifetime and quarterly rotation, 1.4.2, 3.1.7)."""

    token_max_age_days: int = Field(default=90, ge=1, description="a PAT older is too old")
    max_token_lifetime_days: int = Field(
        default=90, ge=1, description="workspace-conf maxTokenLifetimeDays must be at most this"
    )
    max_admins: int = Field(default=5, ge=1, description="workspace admins allowed")
    secret_max_age_days: int = Field(default=90, ge=1, description="prod secret rotation")
    audit_max_gap_hours: float = Field(
        default=24, gt=0, description="longest gap between system.access.audit rows"
    )
    audit_lookback_days: int = Field(default=7, ge=1, description="audit hours read back")


class Sla(_Strict):
    """Service levels watched from the system tables (SOP 1.6.2 "> 99 % success", 1.8.2).

    Success rates are percentages of finished runs over `window_days`, per environment (all its
    workspaces) and per job; `None` for an environment means no target there. A job's p95 run
    duration over the last `recent_days` is compared with its own p95 over the `baseline_days`
    before; `regression_ratio` or more is a regression. Data-quality pass rate: passed /
    (passed + failed) rows of `lakecrew.quality.results` per table over the window.
    """

    window_days: int = Field(default=30, ge=1, le=365)
    job_success_percent: dict[str, float | None] = Field(
        default_factory=lambda: {"prod": 99.0, "qa": 95.0, "dev": None}
    )
    min_runs: int = Field(default=20, ge=1, description="fewer finished runs: no verdict")
    recent_days: int = Field(default=7, ge=1)
    baseline_days: int = Field(default=28, ge=1)
    regression_ratio: float = Field(default=1.5, gt=1)
    min_regression_seconds: float = Field(default=60, ge=0)
    dq_pass_percent: float = Field(default=99.0, ge=0, le=100)


class SeverityLevel(_Strict):
    """How a severity is handled (SOP 1.8.4): routing and response time."""

    description: str = ""
    respond_within_hours: int = Field(ge=0)
    escalate_after_hours: int | None = None


class Ref(_Strict):
    """A registered check or action by name, with its params (validated by the loader)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class Rule(_Strict):
    """One rule: where it comes from in the SOP, what it looks at, and what to do about it."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    title: str
    sop_section: str = Field(min_length=1)
    resource_type: str
    severity: Literal["critical", "warning", "info"]
    filter: FilterNode | None = None
    check: Ref | None = None
    remediation: str
    action: Ref | None = None
    min_phase: int = Field(ge=1, le=4)
    enabled: bool = True
    reason: str | None = Field(default=None, description="why the rule is disabled")
    environments: list[str] | None = Field(default=None, description="only in these envs")

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if (self.filter is None) == (self.check is None):
            raise ValueError("a rule needs exactly one of `filter` or `check`")
        if not self.enabled and not (self.reason or "").strip():
            raise ValueError("a disabled rule needs a `reason`")
        return self


class Pack(_Strict):
    """The whole SOP pack (one file, or the default merged with organisation overlays)."""

    version: int
    name: str
    description: str = ""
    environments: dict[str, Environment]
    sizes: dict[str, Size]
    high_memory_gb: float = Field(gt=0)
    node_types: dict[str, NodeType]
    required_tags: list[str] = Field(min_length=1)
    auto_termination: AutoTermination
    warehouses: Warehouses
    workspaces: Workspaces
    approvals: list[ApprovalRecord] = Field(default_factory=list)
    severities: dict[Literal["critical", "warning", "info"], SeverityLevel]
    security: Security = Field(default_factory=Security)
    identity: Identity = Field(default_factory=Identity)
    sla: Sla = Field(default_factory=Sla)
    rules: list[Rule]

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != PACK_VERSION:
            raise ValueError(
                f"pack version {v} is not supported; this lakecrew reads version "
                f"{PACK_VERSION} (migrate the file to version {PACK_VERSION})"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Pack:
        for env_name, env in self.environments.items():
            if env.size not in self.sizes:
                raise ValueError(f"environment {env_name!r} uses unknown size {env.size!r}")
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        for rule in self.rules:
            for name in rule.environments or []:
                if name not in self.environments:
                    raise ValueError(f"rule {rule.id!r} names unknown environment {name!r}")
        return self

    @cached_property
    def node_catalogue(self) -> dict[str, dict[str, Any]]:
        """Node types as plain dicts (computed once; checks read it per resource)."""
        return {k: v.model_dump() for k, v in self.node_types.items()}

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def size_of(self, env: str) -> Size:
        """The T-shirt size of an environment."""
        return self.sizes[self.environments[env].size]

    def bindings(self, env: str | None) -> dict[str, Any]:
        """Values filters may refer to: ``$pack.<field>`` and ``$env.<field>`` (incl. size)."""
        data = self.model_dump(mode="json", exclude={"rules", "node_types", "approvals"})
        out: dict[str, Any] = {"pack": data}
        if env is not None and env in self.environments:
            env_data = self.environments[env].model_dump(mode="json")
            env_data["name"] = env
            env_data["size_limits"] = self.size_of(env).model_dump(mode="json")
            out["env"] = env_data
        return out
