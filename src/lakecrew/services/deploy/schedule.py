"""Databricks job schedules: a Quartz cron expression and a timezone, checked before deploy.

Databricks refuses a job whose ``quartz_cron_expression`` or ``timezone_id`` it cannot read, at
deploy time; lakecrew checks both where it reads or writes them (a pipeline spec's
``schedule``, the bundles it generates) so the mistake is reported at its line instead.
The cron check is quartz-cron-checker's (6 or 7 fields, ranges, month and day names, ``L``,
``W``, ``#``, and '?' in exactly one of the two day fields), with two gaps of that library
closed here: it refuses ``L`` alone as the day of week (Quartz reads it as 7, Saturday) and
lets a day number above 7 before ``L`` (``8L``, "the last 8th day of the week") through.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quartz_cron_checker import validate_cron_string

_FIELD = re.compile(r"^[0-9A-Za-z*?/,#-]+$")
_LAST_WEEKDAY = re.compile(r"^(\d+)L$")
CRON_FIX = (
    "6 or 7 fields: second minute hour day-of-month month day-of-week [year], with '?' in one "
    "of the two day fields, e.g. '0 0 6 ? * MON' for Mondays 06:00"
)
TIMEZONE_FIX = "use an IANA name, e.g. Africa/Lagos"


def cron_problem(expression: str) -> str | None:
    """Why Databricks would refuse this Quartz cron expression, or None."""
    fields = expression.split()
    if len(fields) not in (6, 7) or not all(_FIELD.match(f) for f in fields):
        return f"not a Quartz cron expression: {expression!r}"
    weekday = fields[5]
    last = _LAST_WEEKDAY.match(weekday)
    if last and not 1 <= int(last.group(1)) <= 7:
        return f"not a valid Quartz cron expression: [day_of_week={weekday}] day must be 1-7"
    if weekday == "L":  # the last day of the week: Saturday, as Quartz reads it
        fields[5] = "7"
    try:
        validate_cron_string(" ".join(fields))
    except ValueError as exc:  # the checker's errors are ValueErrors
        return f"not a valid Quartz cron expression: {exc}"
    return None


def timezone_problem(name: str) -> str | None:
    """Why this is not a timezone Databricks knows (an IANA name), or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone {name!r}"
    return None
