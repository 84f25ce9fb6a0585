"""What each Databricks system table feeds in lakecrew, so a missing one is named with what it
hides (never a silent zero). Used by `lakecrew doctor` and by commands reading system tables."""

from __future__ import annotations

from collections.abc import Mapping

SYSTEM_TABLE_USES: Mapping[str, str] = {
    "system.billing.usage": "cost report, FOCUS export, budgets, cost anomalies",
    "system.billing.list_prices": "every cost in dollars (usage is priced with it)",
    "system.access.audit": "the security monitor (audit incidents)",
    "system.access.table_lineage": "lineage of tables",
    "system.access.workspaces_latest": "workspaces running outside the inventory (SOP 1.1.3)",
    "system.compute.clusters": "cost allocation by cluster owner and tags",
    "system.compute.node_types": "node memory/GPU sizes missing from the pack's catalogue",
    "system.compute.node_timeline": "idle detection from utilisation (REST last_activity_time "
    "is used instead where the API gives it)",
    "system.compute.warehouses": "cost allocation by warehouse",
    "system.lakeflow.jobs": "cost allocation by job and job SLAs",
    "system.lakeflow.job_run_timeline": "running-job safety (never act on a busy cluster) and "
    "job SLAs",
}
