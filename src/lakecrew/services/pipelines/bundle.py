"""Databricks job definition of a pipeline, for a Databricks Asset Bundle (``resources.jobs``).

The job runs ``lakecrew pipeline run NAME --env ENV`` from the project's wheel on a job cluster
(SOP 1.2.7: jobs on job clusters) sized by the SOP pack for the environment: its autoscale
bounds (1.2.4), the largest general-purpose node within the T-shirt size's per-node memory
(1.2.1), spot with fallback where the environment requires spot (1.2.5), the spec's tags as
``custom_tags`` and job ``tags`` (1.2.3), its schedule, retries and failure notifications (1.5.4),
under the environment's job cluster policy (``policy_id`` looked up by the name ``lakecrew policy
export``/``apply`` gives it: a bundle variable with ``lookup: cluster_policy``).
Field names are those of the Jobs API ``JobSettings`` as bundles write them.

With ``workspace`` (a ``backend: databricks`` workspace of lakecrew.yaml) the task runs
``lakecrew pipeline run NAME --env ENV --workspace W --engine spark``: on the job cluster the
cluster's Spark writes Unity Catalog managed Delta tables by name (adapters/spark/table_store.py:
CREATE / INSERT / REPLACE WHERE / MERGE through Spark SQL), registration, tags, comments and
column masks go through the same session, secrets come from the workspace's secret scopes, the
source checkpoint lives in the UC Volume ``<catalog>.lakecrew.lakecrew_state`` and lakecrew's
run records in ``<catalog>.lakecrew.*`` tables. Without it, the job writes delta-rs tables
under the project's lakehouse path (no UC names).

A ``kafka`` source runs with ``--engine spark`` (Structured Streaming; the Kafka connector is
built into Databricks Runtime). Its trigger picks the job type: ``available_now`` keeps the cron
schedule (each run drains what is new, then stops); ``processing_time`` makes a continuous job
(``continuous``, no ``schedule``; Databricks restarts a failed run itself: ``task_retry_mode:
ON_FAILURE`` instead of task retries).
"""

from __future__ import annotations

from typing import Any

from lakecrew.core.errors import ConfigError
from lakecrew.core.pack import Pack
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.policy.cluster_policy import export

SPARK_VERSION = "15.4.x-scala2.12"
"""Databricks Runtime LTS the job cluster uses (override with ``spark_version``)."""
NODE_FAMILY = "m5."


def job_key(loaded: LoadedPipeline) -> str:
    """The resource key of the job in the bundle."""
    return f"{loaded.spec.name}_{loaded.env}"


def node_type_for(pack: Pack, env: str, family: str = NODE_FAMILY) -> str:
    """Largest node of ``family`` (no GPU) within the environment size's per-node memory."""
    limit = pack.size_of(env).max_node_memory_gb
    fits = [
        (node.memory_gb, name)
        for name, node in pack.node_types.items()
        if name.startswith(family) and node.gpus == 0 and (limit is None or node.memory_gb <= limit)
    ]
    if not fits:
        raise ConfigError(
            f"no {family}* node type fits the {env} size",
            where=f"pack sizes / node_types ({env})",
            fix="add a node type within the size's max_node_memory_gb",
        )
    return max(fits)[1]


def job_definition(
    loaded: LoadedPipeline,
    pack: Pack,
    *,
    spark_version: str = SPARK_VERSION,
    wheel: str = "../dist/*.whl",
    workspace: str | None = None,
) -> dict[str, Any]:
    """``{"resources": {"jobs": {key: JobSettings}}}`` for one pipeline and environment."""
    spec = loaded.spec
    env = pack.environments.get(loaded.env)
    if env is None:
        raise ConfigError(f"the SOP pack has no environment {loaded.env}", where="pack")
    tags = dict(spec.tags)
    cluster: dict[str, Any] = {
        "spark_version": spark_version,
        "node_type_id": node_type_for(pack, loaded.env),
        "autoscale": {
            "min_workers": env.autoscale.min_workers,
            "max_workers": env.autoscale.max_workers,
        },
        "custom_tags": dict(tags),
        "data_security_mode": "SINGLE_USER",
        # the environment's job policy (`lakecrew policy apply`), looked up by name at deploy
        "policy_id": "${var.pipeline_cluster_policy_id}",
        "aws_attributes": {
            "availability": "SPOT_WITH_FALLBACK" if env.spot_required else "ON_DEMAND",
            "first_on_demand": 1,
        },
    }
    emails = [r.removeprefix("email:") for r in spec.notifications.on_failure if "@" in r]
    hooks = [r for r in spec.notifications.on_failure if "@" not in r]
    task = {
        "task_key": "run_pipeline",
        "job_cluster_key": "pipeline_cluster",
        "python_wheel_task": {
            "package_name": "lakecrew",
            "entry_point": "lakecrew",
            "parameters": ["pipeline", "run", spec.name, "--env", loaded.env]
            + (["--workspace", workspace, "--engine", "spark"] if workspace else []),
        },
        "libraries": [{"whl": wheel}],
        "max_retries": spec.retries.max_retries,
        "min_retry_interval_millis": spec.retries.min_retry_interval_millis,
        "retry_on_timeout": spec.retries.retry_on_timeout,
    }
    job: dict[str, Any] = {
        "name": f"{spec.name}-{loaded.env}",
        "description": spec.description,
        "tags": tags,
        "max_concurrent_runs": 1,
        "schedule": {
            "quartz_cron_expression": spec.schedule.cron,
            "timezone_id": spec.schedule.timezone,
            "pause_status": "PAUSED" if spec.schedule.paused else "UNPAUSED",
        },
        "email_notifications": {"on_failure": emails} if emails else {},
        "webhook_notifications": {"on_failure": [{"id": h} for h in hooks]} if hooks else {},
        "job_clusters": [{"job_cluster_key": "pipeline_cluster", "new_cluster": cluster}],
        "tasks": [task],
    }
    if spec.source.type == "kafka":
        _streaming(job, task, loaded)
    policy = next(d.name for d in export(pack, loaded.env) if d.cluster_type == "job")
    return {
        "variables": {
            "pipeline_cluster_policy_id": {
                "description": "The job cluster policy of the environment (lakecrew policy apply)",
                "lookup": {"cluster_policy": policy},
            }
        },
        "resources": {"jobs": {job_key(loaded): job}},
    }


def _streaming(job: dict[str, Any], task: dict[str, Any], loaded: LoadedPipeline) -> None:
    """Run a kafka pipeline on the Spark engine; continuous when its trigger is an interval."""
    if "--engine" not in task["python_wheel_task"]["parameters"]:
        task["python_wheel_task"]["parameters"] += ["--engine", "spark"]
    if not isinstance(loaded.spec.source.options.get("trigger"), dict):
        return
    paused = job.pop("schedule")["pause_status"]
    job["continuous"] = {"pause_status": paused, "task_retry_mode": "ON_FAILURE"}
    for key in ("max_retries", "min_retry_interval_millis", "retry_on_timeout"):
        task.pop(key)
