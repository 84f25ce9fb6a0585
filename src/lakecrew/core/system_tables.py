"""The Databricks system tables lakecrew reads, as Arrow schemas with Databricks' names and types.

Source: shared reference databricks-contract.md section 1 ([DESCRIBE]/[DOCS] evidence). These are
the contract both backends honour: the local backend stores Delta tables with exactly these
schemas; on Databricks the real tables have (at least) these columns.

Deviations, on purpose and documented:
- `billing.usage.product_features` carries the documented scalar fields and `networking`; the
  other nested feature structs of the live table are not modelled (nothing reads them).
- `usage_metadata` is the documented union of field names, every field a string.
- `compute.clusters.*_attributes` structs use the field names third-party parsers agree on.
Types: Databricks `string` → utf8, `bigint` → int64, `int` → int32, `double` → float64,
`timestamp` → timestamp[us, UTC], `date` → date32, `decimal(38,18)` → decimal128(38, 18).
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

S = pa.string()
TS = pa.timestamp("us", tz="UTC")
DATE = pa.date32()
DEC = pa.decimal128(38, 18)
BIGINT = pa.int64()
INT = pa.int32()
DOUBLE = pa.float64()
BOOL = pa.bool_()
STR_MAP = pa.map_(S, S)


def _strings(*names: str) -> pa.StructType:
    return pa.struct([pa.field(n, S) for n in names])


USAGE_METADATA_FIELDS = (
    "cluster_id",
    "job_id",
    "warehouse_id",
    "instance_pool_id",
    "node_type",
    "job_run_id",
    "notebook_id",
    "dlt_pipeline_id",
    "endpoint_name",
    "endpoint_id",
    "dlt_update_id",
    "dlt_maintenance_id",
    "metastore_id",
    "run_name",
    "job_name",
    "notebook_path",
    "central_clean_room_id",
    "source_region",
    "destination_region",
    "app_id",
    "app_name",
    "private_endpoint_name",
    "budget_policy_id",
    "storage_api_type",
    "ai_runtime_workload_id",
    "uc_table_catalog",
    "uc_table_schema",
    "uc_table_name",
    "database_instance_id",
    "sharing_materialization_id",
    "usage_policy_id",
    "agent_bricks_id",
    "base_environment_id",
)

BILLING_USAGE = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("record_id", S),
        ("sku_name", S),
        ("cloud", S),
        ("usage_start_time", TS),
        ("usage_end_time", TS),
        ("usage_date", DATE),
        ("custom_tags", STR_MAP),
        ("usage_unit", S),
        ("usage_quantity", DEC),
        ("usage_metadata", _strings(*USAGE_METADATA_FIELDS)),
        ("identity_metadata", _strings("run_as", "created_by", "owned_by", "run_by")),
        ("record_type", S),
        ("ingestion_date", DATE),
        ("billing_origin_product", S),
        (
            "product_features",
            pa.struct(
                [
                    ("jobs_tier", S),
                    ("sql_tier", S),
                    ("dlt_tier", S),
                    ("is_serverless", BOOL),
                    ("is_photon", BOOL),
                    ("serving_type", S),
                    ("networking", _strings("connectivity_type")),
                    ("performance_target", S),
                ]
            ),
        ),
        ("usage_type", S),
    ]
)

BILLING_LIST_PRICES = pa.schema(
    [
        ("account_id", S),
        ("price_start_time", TS),
        ("price_end_time", TS),
        ("sku_name", S),
        ("cloud", S),
        ("currency_code", S),
        ("usage_unit", S),
        (
            "pricing",
            pa.struct(
                [
                    ("default", DEC),
                    ("promotional", pa.struct([("default", DEC)])),
                    ("effective_list", pa.struct([("default", DEC)])),
                ]
            ),
        ),
    ]
)

COMPUTE_CLUSTERS = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("cluster_id", S),
        ("cluster_name", S),
        ("owned_by", S),
        ("create_time", TS),
        ("delete_time", TS),
        ("driver_node_type", S),
        ("worker_node_type", S),
        ("worker_count", BIGINT),
        ("min_autoscale_workers", BIGINT),
        ("max_autoscale_workers", BIGINT),
        ("auto_termination_minutes", BIGINT),
        ("enable_elastic_disk", BOOL),
        ("tags", STR_MAP),
        ("cluster_source", S),
        ("init_scripts", pa.list_(S)),
        (
            "aws_attributes",
            pa.struct(
                [
                    ("instance_profile_arn", S),
                    ("zone_id", S),
                    ("first_on_demand", INT),
                    ("availability", S),
                    ("spot_bid_price_percent", INT),
                    ("ebs_volume_type", S),
                    ("ebs_volume_count", INT),
                    ("ebs_volume_size", INT),
                    ("ebs_volume_iops", INT),
                    ("ebs_volume_throughput", INT),
                ]
            ),
        ),
        (
            "azure_attributes",
            pa.struct(
                [("first_on_demand", INT), ("availability", S), ("spot_bid_max_price", DOUBLE)]
            ),
        ),
        (
            "gcp_attributes",
            pa.struct(
                [
                    ("use_preemptible_executors", BOOL),
                    ("zone_id", S),
                    ("first_on_demand", INT),
                    ("availability", S),
                ]
            ),
        ),
        ("driver_instance_pool_id", S),
        ("worker_instance_pool_id", S),
        ("dbr_version", S),
        ("change_time", TS),
        ("change_date", DATE),
        ("data_security_mode", S),
        ("policy_id", S),
    ]
)

COMPUTE_NODE_TYPES = pa.schema(
    [
        ("account_id", S),
        ("node_type", S),
        ("core_count", DOUBLE),
        ("memory_mb", BIGINT),
        ("gpu_count", BIGINT),
    ]
)

COMPUTE_NODE_TIMELINE = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("cluster_id", S),
        ("instance_id", S),
        ("start_time", TS),
        ("end_time", TS),
        ("driver", BOOL),
        ("cpu_user_percent", DOUBLE),
        ("cpu_system_percent", DOUBLE),
        ("cpu_wait_percent", DOUBLE),
        ("mem_used_percent", DOUBLE),
        ("mem_swap_percent", DOUBLE),
        ("network_sent_bytes", BIGINT),
        ("network_received_bytes", BIGINT),
        ("disk_free_bytes_per_mount_point", pa.map_(S, BIGINT)),
        ("node_type", S),
    ]
)

COMPUTE_WAREHOUSES = pa.schema(
    [
        ("warehouse_id", S),
        ("workspace_id", S),
        ("account_id", S),
        ("warehouse_name", S),
        ("warehouse_type", S),
        ("warehouse_channel", S),
        ("warehouse_size", S),
        ("min_clusters", INT),
        ("max_clusters", INT),
        ("auto_stop_minutes", INT),
        ("tags", STR_MAP),
        ("change_time", TS),
        ("delete_time", TS),
    ]
)

_TRIGGER = pa.struct(
    [
        (
            "file_arrival",
            pa.struct(
                [
                    ("url", S),
                    ("min_time_between_triggers_seconds", INT),
                    ("wait_after_last_change_seconds", INT),
                ]
            ),
        ),
        ("periodic", pa.struct([("interval", INT), ("units", S)])),
        ("continuous", pa.struct([("enabled", BOOL)])),
        (
            "table_update",
            pa.struct(
                [
                    ("table_names", pa.list_(S)),
                    ("min_time_between_triggers_seconds", BIGINT),
                    ("wait_after_last_change_seconds", BIGINT),
                    ("condition", S),
                ]
            ),
        ),
        ("schedule", pa.struct([("quartz_cron_expression", S), ("timezone_id", S)])),
    ]
)

LAKEFLOW_JOBS = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("job_id", S),
        ("name", S),
        ("creator_id", S),
        ("tags", STR_MAP),
        ("run_as", S),
        ("change_time", TS),
        ("delete_time", TS),
        ("description", S),
        ("trigger", _TRIGGER),
        ("trigger_type", S),
        ("run_as_user_name", S),
        ("creator_user_name", S),
        ("paused", BOOL),
        ("timeout_seconds", BIGINT),
        ("health_rules", pa.list_(pa.struct([("metric", S), ("operator", S), ("value", BIGINT)]))),
        ("deployment", pa.struct([("kind", S), ("metadata_file_path", S)])),
        ("create_time", TS),
    ]
)

LAKEFLOW_JOB_RUN_TIMELINE = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("job_id", S),
        ("run_id", S),
        ("period_start_time", TS),
        ("period_end_time", TS),
        ("trigger_type", S),
        ("run_type", S),
        ("run_name", S),
        ("compute_ids", pa.list_(S)),
        ("result_state", S),
        ("termination_code", S),
        ("job_parameters", STR_MAP),
        ("source_task_run_id", S),
        ("root_task_run_id", S),
        ("compute", pa.list_(_strings("type", "cluster_id", "warehouse_id"))),
        ("termination_type", S),
        ("setup_duration_seconds", BIGINT),
        ("queue_duration_seconds", BIGINT),
        ("run_duration_seconds", BIGINT),
        ("cleanup_duration_seconds", BIGINT),
        ("execution_duration_seconds", BIGINT),
    ]
)

ACCESS_AUDIT = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("version", S),
        ("event_time", TS),
        ("event_date", DATE),
        ("source_ip_address", S),
        ("user_agent", S),
        ("session_id", S),
        ("user_identity", _strings("email", "subject_name")),
        ("service_name", S),
        ("action_name", S),
        ("request_id", S),
        ("request_params", STR_MAP),
        ("response", pa.struct([("status_code", INT), ("error_message", S), ("result", S)])),
        ("audit_level", S),
        ("event_id", S),
        (
            "identity_metadata",
            _strings(
                "run_by", "run_as", "acting_resource", "run_by_display_name", "run_as_display_name"
            ),
        ),
    ]
)

ACCESS_TABLE_LINEAGE = pa.schema(
    [
        ("account_id", S),
        ("metastore_id", S),
        ("workspace_id", S),
        ("entity_type", S),
        ("entity_id", S),
        ("entity_run_id", S),
        ("source_table_full_name", S),
        ("source_table_catalog", S),
        ("source_table_schema", S),
        ("source_table_name", S),
        ("source_path", S),
        ("source_type", S),
        ("target_table_full_name", S),
        ("target_table_catalog", S),
        ("target_table_schema", S),
        ("target_table_name", S),
        ("target_path", S),
        ("target_type", S),
        ("created_by", S),
        ("event_time", TS),
        ("event_date", DATE),
        ("record_id", S),
        ("event_id", S),
        ("statement_id", S),
        (
            "entity_metadata",
            pa.struct(
                [
                    ("job_info", _strings("job_id", "job_run_id")),
                    ("dashboard_id", S),
                    ("legacy_dashboard_id", S),
                    ("notebook_id", S),
                    ("sql_query_id", S),
                    ("dlt_pipeline_info", _strings("dlt_pipeline_id", "dlt_update_id")),
                    ("genie_space_id", S),
                    ("alert_id", S),
                ]
            ),
        ),
        ("direct_access", BOOL),
    ]
)

ACCESS_WORKSPACES_LATEST = pa.schema(
    [
        ("account_id", S),
        ("workspace_id", S),
        ("workspace_name", S),
        ("workspace_url", S),
        ("create_time", TS),
        ("status", S),
    ]
)

SYSTEM_TABLES: Mapping[str, pa.Schema] = {
    "system.billing.usage": BILLING_USAGE,
    "system.billing.list_prices": BILLING_LIST_PRICES,
    "system.compute.clusters": COMPUTE_CLUSTERS,
    "system.compute.node_types": COMPUTE_NODE_TYPES,
    "system.compute.node_timeline": COMPUTE_NODE_TIMELINE,
    "system.compute.warehouses": COMPUTE_WAREHOUSES,
    "system.lakeflow.jobs": LAKEFLOW_JOBS,
    "system.lakeflow.job_run_timeline": LAKEFLOW_JOB_RUN_TIMELINE,
    "system.access.audit": ACCESS_AUDIT,
    "system.access.table_lineage": ACCESS_TABLE_LINEAGE,
    "system.access.workspaces_latest": ACCESS_WORKSPACES_LATEST,
}

# Partition columns used by the local backend for the big fact tables (pruning by date).
PARTITION_BY: Mapping[str, tuple[str, ...]] = {
    "system.billing.usage": (),
    "system.access.audit": (),
}

COMMENTS: Mapping[str, str] = {
    "system.billing.usage": "Hourly billable usage, with RETRACTION/RESTATEMENT corrections.",
    "system.billing.list_prices": "Time-versioned SKU list prices; join on sku and price window.",
    "system.compute.clusters": "Cluster configuration history (SCD2: change_time, delete_time).",
    "system.compute.node_types": "Node types with cores, memory and GPUs.",
    "system.compute.node_timeline": "Per-instance per-minute utilisation of classic compute.",
    "system.compute.warehouses": "SQL warehouse configuration history (SCD2).",
    "system.lakeflow.jobs": "Job definitions history (SCD2).",
    "system.lakeflow.job_run_timeline": "Job runs sliced hourly; result_state on the final slice.",
    "system.access.audit": "Audit events of workspace and account services.",
    "system.access.table_lineage": "Table-level lineage events.",
    "system.access.workspaces_latest": "The account's workspaces, latest state.",
}

# Row identity of each table (contract section 1.1): re-importing the same export upserts on these
# keys instead of duplicating rows.
ROW_KEYS: Mapping[str, tuple[str, ...]] = {
    "system.billing.usage": ("record_id",),
    "system.billing.list_prices": ("sku_name", "cloud", "usage_unit", "price_start_time"),
    "system.compute.clusters": ("workspace_id", "cluster_id", "change_time"),
    "system.compute.node_types": ("node_type",),
    "system.compute.node_timeline": ("cluster_id", "instance_id", "start_time"),
    "system.compute.warehouses": ("workspace_id", "warehouse_id", "change_time"),
    "system.lakeflow.jobs": ("workspace_id", "job_id", "change_time"),
    "system.lakeflow.job_run_timeline": ("workspace_id", "run_id", "period_start_time"),
    "system.access.audit": ("event_id",),
    "system.access.table_lineage": ("record_id",),
    "system.access.workspaces_latest": ("workspace_id",),
}
