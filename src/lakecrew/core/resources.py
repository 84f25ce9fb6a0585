"""Resources as the rule engine sees them, and the registry of resource types.

A `Resource` is one REST-shaped object (field names of the Databricks REST API) of one workspace.
Resource types are a registry, not a closed list: a new issue (catalog, MLflow, budgets) registers
its type and its rules can use it in a pack at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecrew.core.registry import Registry


@dataclass(frozen=True)
class Resource:
    """One object to evaluate: type (a RESOURCE_TYPES key), id (a string), name, REST data."""

    resource_type: str
    resource_id: str
    workspace: str
    data: Mapping[str, Any]
    name: str | None = None


@dataclass(frozen=True)
class ResourceType:
    """How to read a resource type's REST shape: the id field and the display-name field."""

    name: str
    id_field: str
    name_field: str | None
    description: str = ""
    tags_path: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def make(self, workspace: str, data: Mapping[str, Any]) -> Resource:
        """A Resource from a REST object (id taken from `id_field`, name from `name_field`)."""
        rid = _dig(data, self.id_field)
        name = _dig(data, self.name_field) if self.name_field else None
        return Resource(
            self.name,
            "" if rid is None else str(rid),
            workspace,
            data,
            None if name is None else str(name),
        )


def _dig(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


RESOURCE_TYPES: Registry[ResourceType] = Registry("resource type")


def _register(rt: ResourceType, doc: str) -> None:
    RESOURCE_TYPES.add(rt.name, rt, doc=doc)


def _doc(title: str, example: str) -> str:
    return f"{title}\n\nExample rule::\n\n```yaml\n{example}\n```\n"


for _rt, _ex in [
    (
        ResourceType(
            "workspace",
            "workspace_name",
            "workspace_name",
            "A workspace: inventory entry plus workspace conf and usage facts.",
        ),
        "- id: workspace.unapproved\n  resource_type: workspace\n"
        "  filter: {key: approval, op: ne, value: approved}",
    ),
    (
        ResourceType(
            "clusters",
            "cluster_id",
            "cluster_name",
            "compute ClusterDetails",
            tags_path="custom_tags",
        ),
        "- id: cluster.autotermination_disabled\n  resource_type: clusters\n"
        "  filter: {key: autotermination_minutes, op: empty}",
    ),
    (
        ResourceType(
            "jobs", "job_id", "settings.name", "jobs Job / BaseJob", tags_path="settings.tags"
        ),
        "- id: job.retries_missing\n  resource_type: jobs\n"
        "  filter: {key: 'settings.tasks[*].max_retries', op: empty}",
    ),
    (
        ResourceType("warehouses", "id", "name", "sql EndpointInfo", tags_path="tags.custom_tags"),
        "- id: warehouse.autostop_missing\n  resource_type: warehouses\n"
        "  filter: {key: auto_stop_mins, op: eq, value: 0}",
    ),
    (
        ResourceType(
            "instance_pools",
            "instance_pool_id",
            "instance_pool_name",
            "compute InstancePoolAndStats",
            tags_path="custom_tags",
        ),
        "- id: pool.tags_missing\n  resource_type: instance_pools\n"
        "  check: {name: required_tags, params: {path: custom_tags}}",
    ),
    (
        ResourceType(
            "secret_scopes",
            "name",
            "name",
            "workspace SecretScope plus its `acls` list of AclItem (never secret values)",
        ),
        "- id: secret.acl_too_broad\n  resource_type: secret_scopes\n"
        "  filter: {key: 'acls[*].principal', op: eq, value: users}",
    ),
    (
        ResourceType(
            "tables",
            "full_name",
            "full_name",
            "catalog TableInfo plus `tags` (key → value) and column tags",
        ),
        "- id: table.comment_missing\n  resource_type: tables\n  filter: {key: comment, op: empty}",
    ),
    (
        ResourceType("grants", "id", "principal", "one UC privilege assignment with expiry facts"),
        "- id: grant.temporary_no_expiry\n  resource_type: grants\n"
        "  filter: {and: [{key: temporary, op: eq, value: true}, {key: expires_at, op: absent}]}",
    ),
    (
        ResourceType(
            "budgets",
            "budget_configuration_id",
            "display_name",
            "billing BudgetConfiguration plus month-to-date spend facts",
        ),
        "- id: budget.exceeded\n  resource_type: budgets\n  check: {name: budget_exceeded}",
    ),
    (
        ResourceType("usage", "id", "id", "a usage series (workspace × sku family × day)"),
        "- id: cost.anomaly\n  resource_type: usage\n  check: {name: labelled_event}",
    ),
    (
        ResourceType("audit", "id", "id", "a window of audit events for one principal"),
        "- id: security.failed_access\n  resource_type: audit\n  check: {name: labelled_event}",
    ),
    (
        ResourceType(
            "sla",
            "id",
            "id",
            "a service level: a job, an environment's jobs or a table's data quality, with "
            "`signals` from the system tables",
        ),
        "- id: sla.job_success_rate\n  resource_type: sla\n"
        "  check: {name: detector_signal, params: {signal: sla.job_success_rate}}",
    ),
    (
        ResourceType(
            "platform",
            "id",
            "resource",
            "one identity, secret-rotation or audit-delivery check result of a databricks "
            "workspace (token, group, workspace-conf key, secret, cluster, policy, audit rows), "
            "with `signals`",
        ),
        "- id: security.token.no_expiry\n  resource_type: platform\n"
        "  check: {name: detector_signal, params: {signal: security.token.no_expiry}}",
    ),
    (
        ResourceType("models", "full_name", "full_name", "catalog RegisteredModelInfo"),
        "- id: model.owner_missing\n  resource_type: models\n  filter: {key: owner, op: empty}",
    ),
    (
        ResourceType(
            "model_versions",
            "id",
            "id",
            "an MLflow model version (`name/version`) with its run's facts and last use",
            tags_path="tags",
        ),
        "- id: model_version.signature_missing\n  resource_type: model_versions\n"
        "  filter: {key: has_signature, op: eq, value: false}",
    ),
    (
        ResourceType("experiments", "experiment_id", "name", "an MLflow experiment with its ACL"),
        "- id: experiment.permissions_missing\n  resource_type: experiments\n"
        "  filter: {key: permissions, op: empty}",
    ),
]:
    _register(_rt, _doc(_rt.description, _ex))
