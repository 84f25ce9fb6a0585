"""Pack filters may only read fields the resource type has (did-you-mean otherwise)."""

from __future__ import annotations

import dataclasses

import pytest

from lakecrew.adapters.local.rest_shapes import sdk_class
from lakecrew.core.resource_fields import FIELDS, JOB_SETTINGS
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.estate.yamlpos import ConfigProblems
from lakecrew.services.policy.loader import load_pack, load_pack_text

TYPO = """\
version: 1
rules:
  - id: cluster.typo
    title: idle clusters
    sop_section: "3.1"
    resource_type: clusters
    severity: warning
    filter:
      and: [{key: state, op: eq, value: RUNNING}, {key: autotermination_minuts, op: ne, value: 0}]
    remediation: terminate
    action: {name: terminate}
    min_phase: 2
"""


def test_a_misspelt_filter_key_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigProblems) as err:
        load_pack_text(TYPO, source="overlay.yaml")
    line = err.value.one_line()
    assert "overlay.yaml:8" in line and "autotermination_minuts" in line
    assert "did you mean 'autotermination_minutes'" in line
    assert err.value.exit_code == 2


def test_job_settings_keys_are_checked_one_level_down() -> None:
    bad = (
        TYPO.replace("resource_type: clusters", "resource_type: jobs")
        .replace("autotermination_minuts", "'settings.tasks[*].max_retrys'")
        .replace("key: state", "key: job_id")
    )
    with pytest.raises(ConfigProblems, match=r"settings\.'tasks'|max_retrys|settings"):
        load_pack_text(bad.replace("settings.tasks", "settings.taks"), source="o.yaml")


def test_the_default_pack_passes_and_the_lists_match_the_sdk() -> None:
    assert load_pack().pack.rules
    for kind in (
        ObjectKind.CLUSTER,
        ObjectKind.JOB,
        ObjectKind.WAREHOUSE,
        ObjectKind.INSTANCE_POOL,
    ):
        sdk = {f.name for f in dataclasses.fields(sdk_class(kind))}
        assert sdk <= FIELDS[kind.value], kind
    from databricks.sdk.service import jobs

    assert {f.name for f in dataclasses.fields(jobs.JobSettings)} == JOB_SETTINGS
