"""`lakecrew deploy bundle`: a Databricks Asset Bundle that runs `lakecrew sweep` on schedule.

`build_bundle(pack, settings)` returns every file of the bundle in memory (relative path → text):
`databricks.yml` (variables, dev/qa/prod targets and modes, run_as a service principal in qa and
prod), `resources/lakecrew_sweep.job.yml` (the scheduled job on a governed job cluster) and the
SOP 4.1.2 layout (notebooks/, jobs/, pipelines/, tests/, requirements.txt, README.md) with a CI
workflow (SOP 1.5.3, 4.1.7). `check_bundle(files, pack)` resolves the bundle per target and runs
lakecrew's own rule engine and exported cluster policies over it (`bundle_check.py`);
`write_bundle(bundle, out)` writes it atomically.

Per-environment values (tags, autoscale bounds, node type, spot, rollout phase, host) come from
the SOP pack and lakecrew.yaml; everything that differs per environment is a bundle variable so
the job definition is written once (SOP 1.5.3: environment-specific configs externalised).
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakecrew.core.errors import UsageError
from lakecrew.core.pack import Pack
from lakecrew.services.deploy import bundle_files
from lakecrew.services.deploy.bundle_check import BundleCheck, check_bundle
from lakecrew.services.estate.config import ENVIRONMENTS, EstateConfig
from lakecrew.services.policy.cluster_policy import SPOT_KINDS, allowed_node_types, export

JOB_KEY = "lakecrew_sweep"
JOB_CLUSTER_KEY = "sweep_cluster"
ON_DEMAND = {"aws": "ON_DEMAND", "azure": "ON_DEMAND_AZURE", "gcp": "ON_DEMAND_GCP"}
PREFERRED_NODES = ("m5.xlarge", "m5.2xlarge", "Standard_D4s_v3", "Standard_DS3_v2")
PRODUCTION_ROOT = "/Workspace/Shared/.bundle/${bundle.name}/${bundle.target}"

__all__ = [
    "Bundle",
    "BundleCheck",
    "BundleSettings",
    "TargetValues",
    "build_bundle",
    "check_bundle",
    "settings_from_estate",
    "write_bundle",
]


@dataclass(frozen=True)
class TargetValues:
    """What one target (= environment) of the bundle needs."""

    env: str
    project: str
    owner: str
    cost_center: str
    notification_email: str
    phase: int = 1
    host: str | None = None
    catalog: str | None = None


@dataclass(frozen=True)
class BundleSettings:
    """Inputs of the bundle; `targets` holds dev, qa and prod in that order."""

    targets: tuple[TargetValues, ...]
    lakecrew_version: str
    name: str = "lakecrew_governance"
    cloud: str = "aws"
    spark_version: str = "15.4.x-scala2.12"
    cron: str = "0 0 6 * * ?"
    timezone: str = "UTC"
    sp_application_id: str | None = None
    warehouse_id: str = ""
    estate_yaml: str | None = None  # lakecrew.yaml copied into the bundle for the sweep

    def target(self, env: str) -> TargetValues:
        """The values of one environment."""
        for t in self.targets:
            if t.env == env:
                return t
        raise UsageError(f"the bundle has no target {env!r}", fix="use dev, qa or prod")


@dataclass(frozen=True)
class Bundle:
    """The generated bundle: relative path → file text."""

    name: str
    files: Mapping[str, str] = field(default_factory=dict)

    def yaml(self, path: str) -> Any:
        """One generated YAML file, parsed."""
        return yaml.safe_load(self.files[path])


# --- settings from lakecrew.yaml --------------------------------------------------------------


def settings_from_estate(
    config: EstateConfig,
    lakecrew_version: str,
    *,
    notification_email: str | None = None,
    estate_yaml: str | None = None,
    **options: Any,
) -> BundleSettings:
    """Bundle settings from lakecrew.yaml: per environment the first workspace registered for it
    (project, owner, cost center, host of a databricks workspace) and the rollout phase."""
    targets = []
    fallback = config.workspaces[0]
    for env in ENVIRONMENTS:
        of_env = [w for w in config.workspaces if w.environment == env]
        ws = of_env[0] if of_env else fallback
        host = next((w.host for w in of_env if w.backend == "databricks" and w.host), None)
        email = notification_email or ws.owner
        if "@" not in email:
            raise UsageError(
                f"owner {ws.owner!r} of workspace {ws.name} is not an e-mail address, so job "
                "failures would notify nobody",
                where="lakecrew.yaml",
                fix="pass --notify someone@example.org",
            )
        targets.append(
            TargetValues(
                env=env,
                project=ws.project,
                owner=ws.owner,
                cost_center=ws.cost_center,
                notification_email=email,
                phase=config.phase_for(env),
                host=host.rstrip("/") if host else None,
            )
        )
    return BundleSettings(tuple(targets), lakecrew_version, estate_yaml=estate_yaml, **options)


# --- generation -------------------------------------------------------------------------------


def _node_type(pack: Pack, env: str, cloud: str) -> str:
    size = pack.environments[env].size
    nodes = allowed_node_types(pack, env, size, cloud)
    if not nodes:
        raise UsageError(
            f"the pack allows no {cloud} node type for {env} (size {size})",
            fix="add node types to the pack's node_types or choose another --cloud",
        )
    return next((n for n in PREFERRED_NODES if n in nodes), nodes[0])


def _job_policy_name(pack: Pack, env: str, cloud: str) -> str:
    docs = [d for d in export(pack, env, cloud=cloud) if d.cluster_type == "job"]
    return docs[0].name


def _target_variables(pack: Pack, s: BundleSettings, t: TargetValues) -> dict[str, Any]:
    env = pack.environments[t.env]
    return {
        "cost_center": t.cost_center,
        "project": t.project,
        "owner": t.owner,
        "notification_email": t.notification_email,
        "catalog": t.catalog or f"{t.project}_{t.env}",
        "phase": t.phase,
        "node_type_id": _node_type(pack, t.env, s.cloud),
        "min_workers": env.autoscale.min_workers,
        "max_workers": min(env.autoscale.max_workers, pack.size_of(t.env).max_workers or 10**6),
        "availability": SPOT_KINDS[s.cloud][1][-1] if env.spot_required else ON_DEMAND[s.cloud],
        "pause_status": "UNPAUSED" if t.env == "prod" else "PAUSED",
        "cluster_policy_id": {"lookup": {"cluster_policy": _job_policy_name(pack, t.env, s.cloud)}},
    }


VARIABLE_DOCS = {
    "cost_center": "Mandatory cost_center tag (SOP 1.2.3)",
    "project": "Mandatory project tag (SOP 1.2.3)",
    "owner": "Mandatory owner tag (SOP 1.2.3)",
    "notification_email": "Who is told when the sweep fails (SOP 1.8.1)",
    "catalog": "Unity Catalog catalog of this environment (SOP 1.1.6)",
    "phase": "Rollout phase of the crew in this environment (SOP 3.3)",
    "node_type_id": "Worker node type within the environment's T-shirt size (SOP 1.2.1)",
    "min_workers": "Autoscale minimum of the environment (SOP 1.2.4)",
    "max_workers": "Autoscale maximum of the environment (SOP 1.2.4)",
    "availability": "Spot in dev/qa, on-demand in prod (SOP 1.2.5)",
    "pause_status": "Schedule paused outside prod",
    "cluster_policy_id": "The job cluster policy created by `lakecrew policy apply`",
    "sp_application_id": "Application id of the service principal jobs run as in qa/prod "
    "(set BUNDLE_VAR_sp_application_id in CI)",
    "warehouse_id": "SQL warehouse lakecrew queries system tables through (empty: none)",
    "lakecrew_wheel": "The lakecrew wheel installed on the job cluster",
}


def _variables(dev: Mapping[str, Any], s: BundleSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dev.items():
        entry: dict[str, Any] = {"description": VARIABLE_DOCS[key]}
        entry.update(copy.deepcopy(value) if isinstance(value, dict) else {"default": value})
        out[key] = entry
    out["sp_application_id"] = {"description": VARIABLE_DOCS["sp_application_id"]}
    if s.sp_application_id:
        out["sp_application_id"]["default"] = s.sp_application_id
    out["warehouse_id"] = {"description": VARIABLE_DOCS["warehouse_id"], "default": s.warehouse_id}
    out["lakecrew_wheel"] = {
        "description": VARIABLE_DOCS["lakecrew_wheel"],
        "default": f"./dist/lakecrew-{s.lakecrew_version}-py3-none-any.whl",
    }
    return out


def _target(t: TargetValues, values: Mapping[str, Any], s: BundleSettings) -> dict[str, Any]:
    target: dict[str, Any] = {}
    if t.env == "dev":
        target.update(mode="development", default=True)
    else:
        target["mode"] = "production"
    workspace: dict[str, Any] = {}
    if t.host:
        workspace["host"] = t.host
    if t.env != "dev":
        workspace["root_path"] = PRODUCTION_ROOT
    if workspace:
        target["workspace"] = workspace
    if t.env != "dev":
        target["run_as"] = {"service_principal_name": "${var.sp_application_id}"}
    else:  # dev jobs run as the deploying developer; the variable must still have a value
        target["variables"] = {"sp_application_id": ""}
    target.setdefault("variables", {}).update(values)
    return target


def databricks_yml(pack: Pack, s: BundleSettings) -> dict[str, Any]:
    """The content of databricks.yml."""
    per_env = {t.env: _target_variables(pack, s, t) for t in s.targets}
    dev = per_env.get("dev") or next(iter(per_env.values()))
    return {
        "bundle": {"name": s.name},
        "include": ["resources/*.yml"],
        "variables": _variables(dev, s),
        "targets": {t.env: _target(t, per_env[t.env], s) for t in s.targets},
    }


def job_yml(s: BundleSettings) -> dict[str, Any]:
    """The content of resources/lakecrew_sweep.job.yml."""
    attributes = SPOT_KINDS[s.cloud][0].split(".")[0]
    tags = {
        "cost_center": "${var.cost_center}",
        "project": "${var.project}",
        "owner": "${var.owner}",
        "environment": "${bundle.target}",
    }
    cluster = {
        "spark_version": s.spark_version,
        "node_type_id": "${var.node_type_id}",
        "policy_id": "${var.cluster_policy_id}",
        "autoscale": {"min_workers": "${var.min_workers}", "max_workers": "${var.max_workers}"},
        "custom_tags": dict(tags),
        attributes: {"availability": "${var.availability}"},
        "spark_env_vars": {
            "LAKECREW_CATALOG": "${var.catalog}",
            "LAKECREW_WAREHOUSE_ID": "${var.warehouse_id}",
        },
    }
    task = {
        "task_key": "sweep",
        "description": "lakecrew sweep: observe, evaluate the SOP pack, plan, notify, ticket",
        "job_cluster_key": JOB_CLUSTER_KEY,
        "python_wheel_task": {
            "package_name": "lakecrew",
            "entry_point": "lakecrew",
            "parameters": [
                "sweep",
                "--phase",
                "${var.phase}",
                "--project",
                "${workspace.file_path}",
            ],
        },
        "libraries": [{"whl": "${var.lakecrew_wheel}"}],
        "max_retries": 2,
        "min_retry_interval_millis": 300000,
        "retry_on_timeout": True,
        "timeout_seconds": 3600,
    }
    job = {
        "name": JOB_KEY,
        "description": "Scheduled SOP enforcement sweep (generated by lakecrew deploy bundle)",
        "tags": tags,
        "schedule": {
            "quartz_cron_expression": s.cron,
            "timezone_id": s.timezone,
            "pause_status": "${var.pause_status}",
        },
        "max_concurrent_runs": 1,
        "timeout_seconds": 7200,
        "health": {
            "rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 3600}]
        },
        "email_notifications": {
            "on_failure": ["${var.notification_email}"],
            "on_duration_warning_threshold_exceeded": ["${var.notification_email}"],
        },
        "job_clusters": [{"job_cluster_key": JOB_CLUSTER_KEY, "new_cluster": cluster}],
        "tasks": [task],
    }
    return {"resources": {"jobs": {JOB_KEY: job}}}


def dump_yaml(data: Any, header: str = "") -> str:
    """YAML text (block style, keys in insertion order) with an optional comment header."""
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)
    return header + text


def build_bundle(pack: Pack, settings: BundleSettings) -> Bundle:
    """Every file of the bundle, in memory."""
    if settings.cloud not in SPOT_KINDS:
        raise UsageError(f"unknown cloud {settings.cloud!r}", fix="use aws, azure or gcp")
    envs = [t.env for t in settings.targets]
    if envs != list(ENVIRONMENTS):
        raise UsageError(f"bundle targets must be dev, qa, prod (got {envs})")
    for t in settings.targets:
        if t.env not in pack.environments:
            raise UsageError(f"the SOP pack has no environment {t.env!r}", fix="check the pack")
    header = "# Generated by `lakecrew deploy bundle`; regenerate rather than edit by hand.\n"
    files = {
        "databricks.yml": dump_yaml(databricks_yml(pack, settings), header),
        f"resources/{JOB_KEY}.job.yml": dump_yaml(job_yml(settings), header),
        **bundle_files.layout_files(settings.name, settings.lakecrew_version, JOB_KEY),
    }
    if settings.estate_yaml is not None:
        files["lakecrew.yaml"] = settings.estate_yaml
    return Bundle(settings.name, dict(sorted(files.items())))


# --- writing ----------------------------------------------------------------------------------


def write_bundle(bundle: Bundle, out: Path, *, force: bool = False) -> list[Path]:
    """Write the bundle into `out` atomically: into a sibling temporary folder first, then
    swapped in. An existing non-empty `out` is only replaced with `force`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file", where=str(out), fix="choose a folder for --out")
    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(
            f"{out} already has files",
            where=str(out),
            fix="pass --force to replace it with the new bundle, or choose another --out",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a bundle folder is an ordinary folder
        for rel, text in bundle.files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / rel for rel in bundle.files]


def read_bundle_files(folder: Path) -> dict[str, str]:
    """databricks.yml and every other YAML file of a bundle folder (for `check_bundle`)."""
    folder = Path(folder)
    if not (folder / "databricks.yml").is_file():
        raise UsageError(
            "no databricks.yml in this folder", where=str(folder), fix="pass the bundle's folder"
        )
    skip = {".databricks", ".git", ".github", "node_modules"}
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*.yml"))
        if not skip.intersection(p.relative_to(folder).parts)
    }


def ensure_ok(check: BundleCheck) -> BundleCheck:
    """The check, or a SafetyRefusal listing every problem (one line each)."""
    from lakecrew.core.errors import SafetyRefusal

    if check.ok:
        return check
    lines = "; ".join(p.one_line() for p in check.problems)
    raise SafetyRefusal(
        f"the bundle fails lakecrew's own checks ({len(check.problems)} problem(s)): {lines}",
        fix="fix the job definition (or the SOP pack) and generate the bundle again",
    )
