"""core.shapes: Jobs API 2.0 → 2.1 normalisation and merging two records of one object."""

from __future__ import annotations

from lakecrew.core.shapes import is_single_task_job, merge_records, normalize_job

JOB_20 = {
    "job_id": 1,
    "settings": {
        "name": "n",
        "new_cluster": {"num_workers": 2},
        "spark_jar_task": {"main_class_name": "M"},
        "max_retries": 1,
        "email_notifications": {"on_failure": ["a@x"]},
    },
}


def test_a_single_task_job_gets_its_task_in_tasks() -> None:
    job = normalize_job(JOB_20)
    [task] = job["settings"]["tasks"]
    assert task == {
        "task_key": "main",
        "spark_jar_task": {"main_class_name": "M"},
        "new_cluster": {"num_workers": 2},
        "max_retries": 1,
    }
    assert job["settings"]["email_notifications"] == {"on_failure": ["a@x"]}  # job level stays
    assert "max_retries" not in job["settings"] and job["settings"]["format"] == "SINGLE_TASK"
    assert not is_single_task_job(job) and normalize_job(job) == job  # idempotent
    assert "tasks" not in JOB_20["settings"]  # the input is not changed


def test_a_job_without_any_task_is_left_alone() -> None:
    job = {"job_id": 9001, "settings": {"name": "No Tasks"}}
    assert normalize_job(job) == job


def test_merge_keeps_what_only_the_earlier_record_had() -> None:
    rich = normalize_job(JOB_20)
    poor = {"job_id": 1, "settings": {"name": "renamed", "tasks": [{"task_key": "main"}]}}
    merged, kept = merge_records(rich, poor)
    assert merged["settings"]["name"] == "renamed"
    assert merged["settings"]["tasks"][0]["max_retries"] == 1
    assert "settings.tasks[main].max_retries" in kept and "settings.format" in kept


def test_merge_never_erases_with_an_empty_value() -> None:
    merged, kept = merge_records({"tags": {"a": "1"}}, {"tags": {}})
    assert merged == {"tags": {"a": "1"}} and kept == ["tags.a"]
    merged, kept = merge_records({"libraries": [{"jar": "x"}]}, {"libraries": []})
    assert merged == {"libraries": [{"jar": "x"}]} and kept == ["libraries"]
