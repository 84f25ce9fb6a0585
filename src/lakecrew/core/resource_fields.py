"""The fields a pack filter may read on each REST-shaped resource type.

Top-level field names of the databricks-sdk dataclasses that parse each kind (databricks-sdk
0.162.0; tests/unit/policy/test_filter_fields.py checks this list against the SDK), plus the
REST fields the SDK omits that lakecrew reads (`last_activity_time`) and the facts lakecrew adds
(`acls` of a secret scope). A filter key whose first part (for jobs: the part after
`settings.`) is not here is refused with a did-you-mean, so a typo cannot make a rule match
every resource (`autotermination_minuts ne 0` holds for all clusters). Types absent from
`FIELDS` (workspace, tables, grants, facts) are not checked.
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


CLUSTER = _names(
    "autoscale autotermination_minutes aws_attributes azure_attributes cluster_cores cluster_id "
    "cluster_log_conf cluster_log_status cluster_memory_mb cluster_name cluster_source "
    "creator_user_name custom_tags data_security_mode default_tags dependency_mode docker_image "
    "driver driver_instance_pool_id driver_node_type_flexibility driver_node_type_id "
    "enable_elastic_disk enable_local_disk_encryption executors gcp_attributes init_scripts "
    "instance_pool_id is_single_node jdbc_port kind last_restarted_time last_state_loss_time "
    "node_type_id num_workers policy_id remote_disk_throughput runtime_engine single_user_name "
    "spark_conf spark_context_id spark_env_vars spark_version spec ssh_public_keys start_time "
    "state state_message terminated_time termination_reason total_initial_remote_disk_size "
    "use_ml_runtime worker_node_type_flexibility workload_type "
    "last_activity_time"
)
JOB = _names(
    "created_time creator_user_name effective_budget_policy_id effective_usage_policy_id "
    "has_more job_id next_page_token run_as_user_name settings trigger_details "
    "trigger_state"
)
JOB_SETTINGS = _names(
    "budget_policy_id continuous deployment description duration_target edit_mode "
    "email_notifications environment_variables environments format git_source health "
    "job_clusters max_concurrent_runs name notification_settings parameters parent_path "
    "performance_target queue run_as schedule tags tasks timeout_seconds trigger triggers "
    "usage_policy_id webhook_notifications"
)
WAREHOUSE = _names(
    "auto_stop_mins channel cluster_size creator_name customer_version_label enable_photon "
    "enable_serverless_compute health id instance_profile_arn jdbc_url max_dbu max_num_clusters "
    "min_num_clusters name num_active_sessions num_clusters odbc_params "
    "reyden_cluster_size_multiplier spot_instance_policy state statement_timeout tags "
    "warehouse_type"
)
INSTANCE_POOL = _names(
    "aws_attributes azure_attributes custom_tags default_tags disk_spec enable_elastic_disk "
    "gcp_attributes idle_instance_autotermination_minutes instance_pool_id instance_pool_name "
    "max_capacity min_idle_instances node_type_flexibility node_type_id preloaded_docker_images "
    "preloaded_spark_versions remote_disk_throughput state stats status "
    "total_initial_remote_disk_size"
)
CLUSTER_POLICY = _names(
    "created_at_timestamp creator_user_name definition description is_default libraries "
    "max_clusters_per_user name policy_family_definition_overrides policy_family_id "
    "policy_id"
)
SECRET_SCOPE = _names("backend_type keyvault_metadata name acls")

FIELDS: dict[str, frozenset[str]] = {
    "clusters": CLUSTER,
    "jobs": JOB,
    "warehouses": WAREHOUSE,
    "instance_pools": INSTANCE_POOL,
    "cluster_policies": CLUSTER_POLICY,
    "secret_scopes": SECRET_SCOPE,
}
NESTED: dict[tuple[str, str], frozenset[str]] = {("jobs", "settings"): JOB_SETTINGS}
