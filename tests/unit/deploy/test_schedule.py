"""Job schedules: every Quartz expression others wrote passes; what Databricks refuses does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakecrew.services.deploy.schedule import cron_problem, timezone_problem

FIXTURES = Path(__file__).parents[2] / "fixtures"

QUARTZ_JAVADOC_EXAMPLES = (
    "0 0 12 * * ?", "0 15 10 ? * *", "0 15 10 * * ?", "0 15 10 * * ? *", "0 15 10 * * ? 2005",
    "0 * 14 * * ?", "0 0/5 14 * * ?", "0 0/5 14,18 * * ?", "0 0-5 14 * * ?",
    "0 10,44 14 ? 3 WED", "0 15 10 ? * MON-FRI", "0 15 10 15 * ?", "0 15 10 L * ?",
    "0 15 10 L-2 * ?", "0 15 10 ? * 6L", "0 15 10 ? * 6L 2002-2005", "0 15 10 ? * 6#3",
    "0 0 12 1/5 * ?", "0 11 11 11 11 ?",
)  # fmt: skip
"""The "full examples" of Quartz's CronTrigger javadoc (quartz-scheduler.org/api/2.1.7/org/quartz/
CronTrigger.html, Apache-2.0), whose syntax Databricks jobs use."""


def _schedules(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        if "quartz_cron_expression" in data:
            yield data
        for value in data.values():
            yield from _schedules(value)
    elif isinstance(data, list):
        for value in data:
            yield from _schedules(value)


@pytest.mark.parametrize("cron", QUARTZ_JAVADOC_EXAMPLES)
def test_quartz_documented_examples_pass(cron: str) -> None:
    assert cron_problem(cron) is None


def test_l_alone_as_the_day_of_week_is_saturday_as_quartz_reads_it() -> None:
    assert cron_problem("0 0 6 ? * L") is None and cron_problem("0 0 6 ? * 7L") is None


def test_schedules_of_recorded_databricks_payloads_pass() -> None:
    """Jobs API answers nobody here wrote (tests/fixtures/databricks/public/README.md) and the
    exports fixture: their schedules are ones Databricks accepted."""
    found = [
        s
        for path in (
            FIXTURES / "databricks/public/jobs-2.0-get.json",
            FIXTURES / "exports/rest/jobs.json",
        )
        for s in _schedules(json.loads(path.read_text()))
    ]
    assert len(found) == 2
    for schedule in found:
        assert cron_problem(schedule["quartz_cron_expression"]) is None
        assert timezone_problem(schedule["timezone_id"]) is None


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("0 6 * * 1", "not a Quartz cron expression: '0 6 * * 1'"),  # Unix cron: 5 fields
        ("0 0 24 * * ?", "[hour=24] Value 24 is out of bounds (0-23)"),
        ("0 0 6 ? * 0", "[day_of_week=0] Value 0 is out of bounds (1-7)"),  # Unix Sunday
        ("0 0 6 * * 2", "Exactly one of day-of-month or day-of-week must be '?'"),
        ("0 0 6 ? * MON$", "not a Quartz cron expression"),
        ("0 0 6 ? * 8L", "[day_of_week=8L] day must be 1-7"),
        ("0 0 6 ? * 0L", "[day_of_week=0L] day must be 1-7"),
    ],
)
def test_what_databricks_would_refuse_is_named(cron: str, says: str) -> None:
    problem = cron_problem(cron)
    assert problem is not None and says in problem


def test_timezones_are_iana_names() -> None:
    assert timezone_problem("Africa/Lagos") is None and timezone_problem("UTC") is None
    assert timezone_problem("WAT") == "unknown timezone 'WAT'"
    assert timezone_problem("../etc/passwd") == "unknown timezone '../etc/passwd'"
