"""The value-filter language: every operator, paths, bindings, age with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lakecrew.core.errors import ConfigError
from lakecrew.core.filters import compile_filter, parse_path, resolve

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DOC = {
    "n": 30,
    "s": "SPOT_WITH_FALLBACK",
    "blank": "  ",
    "tags": {"owner": "amina", "Env": "Prod"},
    "spark_conf": {"spark.databricks.cluster.profile": "singleNode"},
    "settings": {"tasks": [{"task_key": "a", "max_retries": 2}, {"task_key": "b"}]},
    "list": ["x", "y"],
    "started_ms": int(datetime(2026, 2, 1, tzinfo=UTC).timestamp() * 1000),
    "started_iso": "2026-03-01T11:00:00Z",
}


def m(spec: dict, doc: dict = DOC, bindings: dict | None = None) -> dict | None:
    return compile_filter(spec, bindings).match(doc, NOW)


@pytest.mark.parametrize(
    ("op", "value", "key", "holds"),
    [
        ("eq", 30, "n", True),
        ("eq", 31, "n", False),
        ("ne", 31, "n", True),
        ("ne", 30, "n", False),
        ("ne", 1, "missing", True),
        ("lt", 31, "n", True),
        ("lt", 30, "n", False),
        ("le", 30, "n", True),
        ("gt", 29, "n", True),
        ("gt", 30, "n", False),
        ("ge", 30, "n", True),
        ("gt", 1, "missing", False),
        ("lt", 1, "s", False),
        ("in", [1, 30], "n", True),
        ("in", [1], "n", False),
        ("not-in", [1], "n", True),
        ("not-in", [30], "n", False),
        ("regex", "SPOT.*", "s", True),
        ("regex", "SPOT", "s", False),
        ("glob", "SPOT_*", "s", True),
        ("glob", "ON_*", "s", False),
        ("contains", "x", "list", True),
        ("contains", "z", "list", False),
        ("contains", "WITH", "s", True),
        ("contains", "owner", "tags", True),
    ],
)
def test_operators(op: str, value: object, key: str, holds: bool) -> None:
    assert (m({"key": key, "op": op, "value": value}) is not None) is holds


@pytest.mark.parametrize(
    ("op", "key", "holds"),
    [
        ("absent", "missing", True),
        ("absent", "n", False),
        ("present", "n", True),
        ("present", "missing", False),
        ("empty", "blank", True),
        ("empty", "missing", True),
        ("empty", "s", False),
    ],
)
def test_value_free_operators(op: str, key: str, holds: bool) -> None:
    assert (m({"key": key, "op": op}) is not None) is holds


def test_age_with_fixed_clock_epoch_ms_and_iso() -> None:
    assert m({"key": "started_ms", "op": "age", "value": "20d"}) is not None
    assert m({"key": "started_ms", "op": "age", "value": "40d"}) is None
    assert m({"key": "started_iso", "op": "age", "value": "30m"}) is not None
    assert m({"key": "started_iso", "op": "age", "value": "2h"}) is None
    assert m({"key": "missing", "op": "age", "value": 1}) is None


def test_paths_indexes_star_and_quoted_keys() -> None:
    assert parse_path('a.b[0].c[*]["x.y"]')[:3] == ("a", "b", 0)
    assert resolve(DOC, parse_path("settings.tasks[1].task_key")) == ["b"]
    ev = m({"key": "settings.tasks[*].max_retries", "op": "absent"})
    assert ev == {"settings.tasks[*].max_retries": [None]}
    assert m({"key": "settings.tasks[*].max_retries", "op": "eq", "value": 2}) is not None
    assert m({"key": "settings.tasks[5].max_retries", "op": "absent"}) is not None
    assert (
        m(
            {
                "key": 'spark_conf["spark.databricks.cluster.profile"]',
                "op": "eq",
                "value": "singleNode",
            }
        )
        is not None
    )
    assert m({"key": "tags.owner", "op": "eq", "value": "amina"}) == {"tags.owner": "amina"}
    assert m({"key": "nothing[*].x", "op": "absent"}) is None  # no elements: no match


def test_boolean_logic_and_evidence() -> None:
    spec = {
        "and": [
            {"key": "n", "op": "ge", "value": 30},
            {
                "or": [
                    {"key": "s", "op": "eq", "value": "X"},
                    {"key": "list", "op": "contains", "value": "y"},
                ]
            },
            {"not": {"key": "tags.owner", "op": "absent"}},
        ]
    }
    assert m(spec) == {"n": 30, "list": ["x", "y"], "tags.owner": "amina"}
    assert m({"not": {"key": "n", "op": "eq", "value": 30}}) is None


def test_ignore_case() -> None:
    assert m({"key": "tags.Env", "op": "eq", "value": "prod", "ignore_case": True}) is not None
    assert m({"key": "tags.Env", "op": "eq", "value": "prod"}) is None
    assert m({"key": "tags.Env", "op": "in", "value": ["PROD"], "ignore_case": True}) is not None


def test_bindings_constant_keys_and_values() -> None:
    b = {"env": {"max": 20, "spot": True}}
    assert m({"key": "n", "op": "gt", "value": "${env.max}"}, bindings=b) is not None
    assert (
        m(
            {
                "and": [
                    {"key": "$env.spot", "op": "eq", "value": False},
                    {"key": "n", "op": "present"},
                ]
            },
            bindings=b,
        )
        is None
    )
    with pytest.raises(ConfigError, match="not defined"):
        compile_filter({"key": "n", "op": "gt", "value": "${env.nope}"}, b)


@pytest.mark.parametrize(
    "bad",
    [
        {"key": "n", "op": "equals", "value": 1},
        {"key": "n", "op": "eq"},
        {"key": "n", "op": "in", "value": 3},
        {"key": "n", "op": "regex", "value": "("},
        {"key": "n", "op": "age", "value": "soon"},
        {"key": "n", "op": "eq", "value": 1, "extra": True},
        {"and": []},
        {"key": "a..b", "op": "present"},
    ],
)
def test_invalid_filters_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        compile_filter(bad)
