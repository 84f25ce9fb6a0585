"""The estate: lakecrew.yaml, the central workspace inventory of SOP 1.1.3.

Every workspace is registered with its name ``<project>-<environment>-<region>``, environment,
region, backend (``local`` or ``databricks`` with host and auth profile), workspace id, owner,
project, cost center and Data Governance Board approval. Unknown keys are rejected, the file
carries ``version: 1``, and every problem is reported with ``file:line`` and a fix.

Naming rule (decided here, SOP 1.1.3): ``^[a-z0-9]+(?:_[a-z0-9]+)*-(dev|qa|prod)-[a-z0-9]+$``.
The hyphen is the separator, so no part may contain one; the project part may use underscores
(``child_health-qa-eastafrica``); everything is lowercase ASCII letters and digits.

No secrets live in this file: a ``databricks`` workspace names a ``host`` and an ``auth_profile``
(a profile in ~/.databrickscfg or the SDK's environment variables); keys that look like tokens
are refused with a fix saying where credentials belong.

``host`` must be ``https://``. For tests only, ``LAKECREW_ALLOW_INSECURE_HOSTS=1`` also accepts
a loopback ``http://127.0.0.1:<port>`` host, so ``lakecrew sweep`` can run end to end against the
local Databricks replay server; remote ``http://`` hosts are refused even then.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from lakecrew.core.errors import UnknownName
from lakecrew.services.assist.config import AssistantConfig
from lakecrew.services.estate.notify_config import NotifyConfig
from lakecrew.services.estate.web_config import WebSettings
from lakecrew.services.estate.yamlpos import (
    ConfigProblems,
    Problem,
    YamlDocument,
    load_yaml_file,
    validate_model,
)
from lakecrew.services.mlops.config import MlopsConfig

CONFIG_FILENAME = "lakecrew.yaml"
CONFIG_VERSION = 1
Environment = Literal["dev", "qa", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "qa", "prod")
NAME_RE = re.compile(
    r"^(?P<project>[a-z0-9]+(?:_[a-z0-9]+)*)-(?P<env>dev|qa|prod)-(?P<region>[a-z0-9]+)$"
)
PROJECT_RE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
REGION_RE = re.compile(r"^[a-z0-9]+$")
HOST_RE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?/?$")
# Tests only: with LAKECREW_ALLOW_INSECURE_HOSTS=1, a loopback http host (a local replay server
# such as lakecrew.testing.databricks_replay) is accepted; any other http host is still refused.
INSECURE_HOSTS_ENV = "LAKECREW_ALLOW_INSECURE_HOSTS"
LOOPBACK_HOST_RE = re.compile(r"^http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+/?$")


def insecure_loopback_allowed(host: str) -> bool:
    """True for `http://127.0.0.1:<port>` (or localhost, [::1]) when the test-only variable
    LAKECREW_ALLOW_INSECURE_HOSTS=1 is set; never for a remote host."""
    return os.environ.get(INSECURE_HOSTS_ENV) == "1" and bool(LOOPBACK_HOST_RE.match(host))


NonEmpty = Annotated[str, Field(min_length=1)]


def _fail(kind: str, message: str, fix: str, *, hide_input: bool = False) -> PydanticCustomError:
    """A validation error carrying its fix (and whether the value read may be echoed)."""
    # Braces would be read as template fields by pydantic; none of our messages need them.
    template = message.replace("{", "(").replace("}", ")")
    return PydanticCustomError(kind, template, {"fix": fix, "hide_input": hide_input})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Approval(_Strict):
    """Data Governance Board approval of a workspace (SOP 1.1.3)."""

    status: Literal["approved", "pending", "rejected"]
    approved_by: NonEmpty | None = None
    approved_on: date | None = None
    reference: NonEmpty | None = None

    @model_validator(mode="after")
    def _approved_needs_who_and_when(self) -> Approval:
        if self.status == "approved" and (self.approved_by is None or self.approved_on is None):
            raise _fail(
                "approval_incomplete",
                "an approved workspace needs approved_by and approved_on",
                "add approved_by: <board member or board> and approved_on: YYYY-MM-DD",
            )
        return self


class DatabricksTimeouts(_Strict):
    """How long lakecrew waits on a Databricks workspace (seconds)."""

    connect_timeout_seconds: float = Field(default=30, gt=0, le=600)
    retry_timeout_seconds: int = Field(default=60, gt=0, le=3600)
    retry_budget_seconds: float = Field(default=300, gt=0, le=86400)


class WorkspaceConfig(_Strict):
    """One registered workspace of the estate.

    For ``backend: databricks``: ``warehouse_id`` is the SQL warehouse that reads system
    tables and Unity Catalog metadata (Statement Execution API); ``timeouts`` bound how long
    an unreachable host or a 429/5xx storm may hold a run.
    """

    name: str
    environment: Environment
    region: str
    backend: Literal["local", "databricks"] = "local"
    host: str | None = None
    auth_profile: NonEmpty | None = None
    warehouse_id: NonEmpty | None = None
    timeouts: DatabricksTimeouts | None = None
    workspace_id: str | None = None
    owner: NonEmpty
    project: str
    cost_center: NonEmpty
    approval: Approval

    @field_validator("name")
    @classmethod
    def _name_convention(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise _fail(
                "workspace_name",
                "workspace name does not follow <project>-<environment>-<region>",
                "use lowercase letters/digits like malaria-dev-westafrica; environment is "
                "dev, qa or prod; only the project part may contain '_'",
            )
        return v

    @field_validator("project")
    @classmethod
    def _project_format(cls, v: str) -> str:
        if not PROJECT_RE.match(v):
            raise _fail(
                "project_name",
                "project must be lowercase letters/digits, optionally joined by '_'",
                "e.g. malaria or child_health (no hyphens: '-' separates name parts)",
            )
        return v

    @field_validator("region")
    @classmethod
    def _region_format(cls, v: str) -> str:
        if not REGION_RE.match(v):
            raise _fail(
                "region_name",
                "region must be lowercase letters and digits only",
                "e.g. westafrica or eastafrica",
            )
        return v

    @field_validator("host")
    @classmethod
    def _host_format(cls, v: str | None) -> str | None:
        if v is not None and not HOST_RE.match(v) and not insecure_loopback_allowed(v):
            raise _fail(
                "host_url",
                "host must be a workspace URL like https://adb-123.4.azuredatabricks.net",
                "give only https://<host>, with no path, query or credentials",
                hide_input=True,  # a pasted URL may carry credentials
            )
        return v

    @field_validator("workspace_id", mode="before")
    @classmethod
    def _workspace_id_digits(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)  # YAML reads unquoted ids as numbers; ids are strings everywhere else
        if isinstance(v, str) and not v.isdigit():
            raise _fail(
                "workspace_id", "workspace_id must be digits only", "e.g. '1234567890123456'"
            )
        return v

    @property
    def approved(self) -> bool:
        return self.approval.status == "approved"


class AccountConfig(_Strict):
    """The Databricks account of the estate, for account-level checks (log delivery).

    ``host`` is the account console URL (https://accounts.cloud.databricks.com,
    https://accounts.azuredatabricks.net, https://accounts.gcp.databricks.com); credentials come
    from ``auth_profile`` (a ~/.databrickscfg profile) or the DATABRICKS_* environment (an
    account admin or a service principal with the account admin role), never from this file.
    """

    host: str
    account_id: NonEmpty
    auth_profile: NonEmpty | None = None
    timeouts: DatabricksTimeouts | None = None

    @field_validator("host")
    @classmethod
    def _host_format(cls, v: str) -> str:
        if not HOST_RE.match(v) and not insecure_loopback_allowed(v):
            raise _fail(
                "host_url",
                "account host must be a URL like https://accounts.cloud.databricks.com",
                "give only https://<host>, with no path, query or credentials",
                hide_input=True,
            )
        return v


def _default_phases() -> dict[Environment, int]:
    return {"dev": 1, "qa": 1, "prod": 1}


class Rollout(_Strict):
    """Rollout phase per environment (SOP 3.3): 1 detect/notify … 4 auto-remediate."""

    phases: dict[Environment, Annotated[int, Field(ge=1, le=4)]] = Field(
        default_factory=_default_phases
    )
    # workspaces the crew may act in (phase 2+) before their Board approval is `approved`;
    # every other unapproved workspace is swept at phase 1 whatever its phase says
    act_unapproved: list[str] = Field(default_factory=list)

    def phase_for(self, environment: Environment) -> int:
        return self.phases.get(environment, 1)


class BudgetException(_Strict):
    """A documented approval to exceed a budget (SOP 1.9.5): who approved, why, until when.

    `limit_usd` is the approved ceiling for the month (None: any overrun is covered)."""

    approved_by: NonEmpty
    reason: NonEmpty
    expires: date
    limit_usd: Annotated[Decimal, Field(gt=0)] | None = None


class Budget(_Strict):
    """A monthly budget for one workspace, project or cost center, with alert thresholds (%)."""

    scope: Literal["workspace", "project", "cost_center"]
    name: NonEmpty
    monthly_usd: Annotated[Decimal, Field(gt=0)]
    thresholds: list[Annotated[int, Field(ge=1, le=1000)]] = Field(
        default_factory=lambda: [50, 80, 100], min_length=1
    )
    exceptions: list[BudgetException] = Field(default_factory=list)

    @field_validator("thresholds")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise _fail("thresholds_order", "thresholds must increase", "e.g. [50, 80, 100]")
        return v


def _acting(name: str) -> str:
    from lakecrew.services.policy.actions import ACTIONS

    acting = sorted(e.name for e in ACTIONS if e.obj.floor is not None)
    if name not in acting:
        raise ValueError(f"unknown action {name!r}; use one of: {', '.join(acting)}")
    return name


CrewAction = Annotated[str, AfterValidator(_acting)]
"""A registered action that changes something (services/policy/actions)."""


def _approval_default() -> list[CrewAction]:
    return ["pause_job"]


class CrewConfig(_Strict):
    """The crew's safety settings (SOP 3.2, 3.3): blast radius, grace periods, tickets and the
    actions that wait for a human approval (`lakecrew approve ACTION_ID --approver NAME`)."""

    max_actions: int = Field(default=50, ge=1)
    max_percent: float = Field(default=30.0, gt=0, le=100)
    grace_hours: dict[CrewAction, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    ticket_min_severity: Literal["critical", "warning", "info"] = "warning"
    approvals_required_for: list[CrewAction] = Field(default_factory=_approval_default)
    # resources a sweep reads, evaluates and records per batch (memory grows with it; 0: the
    # whole workspace as one batch), and the findings/actions a sweep's result shows
    sweep_batch: int = Field(default=10_000, ge=0)
    result_items: int = Field(default=10_000, ge=0)
    # identity, secret-rotation and audit-delivery checks in the sweep of a databricks workspace
    # (and of a local one with an export folder .lakecrew/identity/<workspace>/)
    platform_checks: bool = True


class LakehouseConfig(_Strict):
    """The local lakehouse (`.lakecrew/lakehouse`)."""

    # tables registered in the local metastore may live outside the project folder (a copied
    # or moved project then still reads the original's files); refused unless set
    external_locations: bool = False


class EstateConfig(_Strict):
    """The whole of lakecrew.yaml."""

    version: Literal[1]
    workspaces: list[WorkspaceConfig] = Field(min_length=1)
    account: AccountConfig | None = None
    rollout: Rollout = Field(default_factory=Rollout)
    sop_pack: Path | None = None
    budgets: list[Budget] = Field(default_factory=list)
    crew: CrewConfig = Field(default_factory=CrewConfig)
    mlops: MlopsConfig = Field(default_factory=MlopsConfig)
    notifications: NotifyConfig | None = None
    assistant: AssistantConfig | None = None
    lakehouse: LakehouseConfig = Field(default_factory=LakehouseConfig)
    web: WebSettings = Field(default_factory=WebSettings)

    def workspace(self, name: str) -> WorkspaceConfig:
        """The workspace called ``name``; UnknownName (exit 2, "did you mean") otherwise."""
        for ws in self.workspaces:
            if ws.name == name:
                return ws
        raise UnknownName(
            "workspace",
            name,
            self.names(),
            where="lakecrew.yaml",
            fix="list the registered workspaces with `lakecrew estate summary`",
        )

    def names(self) -> list[str]:
        return [ws.name for ws in self.workspaces]

    def unapproved(self) -> list[WorkspaceConfig]:
        return [ws for ws in self.workspaces if not ws.approved]

    def phase_for(self, environment: Environment) -> int:
        return self.rollout.phase_for(environment)

    def sop_pack_path(self, project_dir: Path) -> Path | None:
        """The SOP pack path resolved against the project folder (None: the default pack)."""
        if self.sop_pack is None:
            return None
        return self.sop_pack if self.sop_pack.is_absolute() else project_dir / self.sop_pack


@dataclass(frozen=True)
class EstateReport:
    """Outcome of checking lakecrew.yaml: the config (when it parsed) and what is wrong."""

    source: str
    config: EstateConfig | None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def check_estate(path: Path, *, require_approved: bool = True) -> EstateReport:
    """Read lakecrew.yaml and collect every problem (unapproved workspaces are problems when
    ``require_approved``, warnings otherwise). Raises nothing for bad content."""
    try:
        doc = load_yaml_file(path)
    except ConfigProblems as exc:
        return EstateReport(source=str(path), config=None, problems=exc.problems)
    return check_document(doc, require_approved=require_approved)


def check_document(doc: YamlDocument, *, require_approved: bool = True) -> EstateReport:
    """Like check_estate, for an already parsed document."""
    version_problem = _check_version(doc)
    if version_problem is not None:
        return EstateReport(doc.source, None, (version_problem,))
    try:
        config = validate_model(EstateConfig, doc, what="lakecrew.yaml")
    except ConfigProblems as exc:
        return EstateReport(doc.source, None, exc.problems)
    problems = _cross_checks(config, doc)
    approvals = _approval_problems(config, doc)
    if require_approved:
        return EstateReport(doc.source, config, tuple(problems + approvals))
    return EstateReport(doc.source, config, tuple(problems), tuple(approvals))


def load_estate(path: Path, *, require_approved: bool) -> EstateConfig:
    """Load and validate lakecrew.yaml, or raise ConfigProblems (a ConfigError) listing every
    problem, one line each. With ``require_approved=False`` unapproved workspaces are allowed
    (read-only commands); callers can warn with ``config.unapproved()``."""
    report = check_estate(path, require_approved=require_approved)
    if report.problems or report.config is None:
        raise ConfigProblems(report.problems)
    return report.config


def _check_version(doc: YamlDocument) -> Problem | None:
    data = doc.data
    if data is None:
        return Problem("lakecrew.yaml is empty", doc.where(), "start from `lakecrew init`")
    if not isinstance(data, dict):
        return Problem(
            "lakecrew.yaml must be a mapping of keys (version, workspaces, ...)",
            doc.where(),
            "start from `lakecrew init`",
        )
    if "version" not in data:
        return Problem(
            "missing 'version:'", doc.where(), f"add 'version: {CONFIG_VERSION}' at the top"
        )
    version = data["version"]
    if version != CONFIG_VERSION or isinstance(version, bool):
        return Problem(
            f"unsupported config version {version!r}; this lakecrew reads version "
            f"{CONFIG_VERSION} only",
            doc.where(("version",)),
            f"write 'version: {CONFIG_VERSION}' and check the file against `lakecrew init` "
            "output, or use the lakecrew release that wrote this file",
        )
    return None


def _cross_checks(config: EstateConfig, doc: YamlDocument) -> list[Problem]:
    problems: list[Problem] = []
    seen_names: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for i, ws in enumerate(config.workspaces):
        loc = ("workspaces", i)
        problems += _name_matches_fields(ws, loc, doc)
        problems += _backend_fields(ws, loc, doc)
        here = doc.line_of((*loc, "name"))
        if ws.name in seen_names:
            problems.append(
                Problem(
                    f"duplicate workspace name {ws.name!r} (first at line {seen_names[ws.name]})",
                    doc.where((*loc, "name")),
                    "register each workspace once; rename or remove one of them",
                )
            )
        else:
            seen_names[ws.name] = here
        if ws.workspace_id is not None:
            id_line = doc.line_of((*loc, "workspace_id"))
            if ws.workspace_id in seen_ids:
                problems.append(
                    Problem(
                        f"duplicate workspace_id {ws.workspace_id} in {ws.name!r} "
                        f"(first at line {seen_ids[ws.workspace_id]})",
                        doc.where((*loc, "workspace_id")),
                        "each workspace has its own id; copy it from the workspace URL (?o=...)",
                    )
                )
            else:
                seen_ids[ws.workspace_id] = id_line
    problems += _budget_refs(config, doc)
    return problems


def _name_matches_fields(
    ws: WorkspaceConfig, loc: tuple[str, int], doc: YamlDocument
) -> list[Problem]:
    m = NAME_RE.match(ws.name)
    if m is None:  # already rejected by the field validator
        return []
    out: list[Problem] = []
    for part, attr, label in (
        ("env", "environment", "environment"),
        ("project", "project", "project"),
        ("region", "region", "region"),
    ):
        in_name, declared = m.group(part), getattr(ws, attr)
        if in_name != declared:
            out.append(
                Problem(
                    f"workspace {ws.name!r}: {label} {declared!r} does not match the name, "
                    f"which says {in_name!r}",
                    doc.where((*loc, attr)),
                    f"set {attr}: {in_name} or rename the workspace "
                    f"<project>-<environment>-<region>",
                )
            )
    return out


def _backend_fields(ws: WorkspaceConfig, loc: tuple[str, int], doc: YamlDocument) -> list[Problem]:
    if ws.backend == "databricks" and ws.host is None:
        return [
            Problem(
                f"workspace {ws.name!r} uses backend databricks but has no host",
                doc.where((*loc, "backend")),
                "add host: https://<your-workspace-host> (and auth_profile: <profile>)",
            )
        ]
    if ws.backend == "local":
        stray = [
            k
            for k in ("host", "auth_profile", "warehouse_id", "timeouts")
            if getattr(ws, k) is not None
        ]
        if stray:
            return [
                Problem(
                    f"workspace {ws.name!r}: {' and '.join(stray)} only apply to "
                    "backend databricks",
                    doc.where((*loc, stray[0])),
                    "remove them, or set backend: databricks",
                )
            ]
    return []


def _approval_problems(config: EstateConfig, doc: YamlDocument) -> list[Problem]:
    return [
        Problem(
            f"workspace {ws.name!r} is not approved by the Data Governance Board "
            f"(status: {ws.approval.status})",
            doc.where(("workspaces", i, "approval", "status")),
            "obtain Board approval and set status: approved with approved_by and approved_on, "
            "or remove the workspace (SOP 1.1.3)",
        )
        for i, ws in enumerate(config.workspaces)
        if not ws.approved
    ]


def _budget_refs(config: EstateConfig, doc: YamlDocument) -> list[Problem]:
    known: dict[str, set[str]] = {
        "workspace": {ws.name for ws in config.workspaces},
        "project": {ws.project for ws in config.workspaces},
        "cost_center": {ws.cost_center for ws in config.workspaces},
    }
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for i, budget in enumerate(config.budgets):
        where = doc.where(("budgets", i, "name"))
        if budget.name not in known[budget.scope]:
            problems.append(
                Problem(
                    f"budget for unknown {budget.scope} {budget.name!r}",
                    where,
                    f"use one of: {', '.join(sorted(known[budget.scope]))}",
                )
            )
        key = (budget.scope, budget.name)
        if key in seen:
            problems.append(
                Problem(f"second budget for {budget.scope} {budget.name!r}", where, "keep one")
            )
        seen.add(key)
    return problems
