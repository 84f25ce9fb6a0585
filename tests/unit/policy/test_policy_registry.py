"""Every registry entry documents itself: docstring with a YAML example, params schema,
destructive flag for actions (Cloud Custodian's registry walk)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from lakecrew.core.errors import ConfigError
from lakecrew.core.registry import Registry, registry_problems
from lakecrew.core.resources import RESOURCE_TYPES
from lakecrew.services.policy.actions import ACTIONS, Action
from lakecrew.services.policy.actions.base import action, action_problems
from lakecrew.services.policy.checks import CHECKS

REGISTRIES: list[Registry[Any]] = [RESOURCE_TYPES, CHECKS, ACTIONS]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_every_entry_is_documented(registry: Registry[Any]) -> None:
    assert len(registry) > 0
    assert registry_problems(registry) == []


def test_walk_catches_an_undocumented_entry() -> None:
    reg: Registry[Any] = Registry("action", needs_destructive_flag=True)
    reg.add("bare", lambda: None, destructive=None)
    problems = registry_problems(reg)
    assert any("no docstring" in p for p in problems)
    assert any("destructive flag missing" in p for p in problems)
    with pytest.raises(ValueError, match="destructive"):
        reg.register("x")


@pytest.mark.parametrize("entry", list(ACTIONS), ids=lambda e: e.name)
def test_every_action_owns_all_its_parts(entry: Any) -> None:
    assert action_problems(entry.obj) == []
    assert entry.params is entry.obj.params


def test_an_action_lacking_a_part_is_refused() -> None:
    class Half(Action):
        """Half an action.

        ```yaml
        action: {name: half}
        ```
        """

        name = "half"
        destructive = False
        floor = 2
        kinds = ("clusters",)

        def target(self, res: Any, sit: Any, params: Any) -> None:
            return None

        def refusal(self, res: Any, workload: Any, target: Any) -> None:
            return None

    problems = action_problems(Half)
    assert "Half does not implement `apply`" in problems
    assert "Half does not implement `satisfied`" in problems
    with pytest.raises(TypeError, match="apply"):
        action(Half)
    assert "half" not in ACTIONS


def test_destructive_actions_are_flagged() -> None:
    assert {e.name for e in ACTIONS if e.destructive} == {"terminate", "resize", "pause_job"}


def test_unknown_name_lists_known_ones_and_params_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"use one of: .*required_tags"):
        CHECKS.get("nope")
    entry = CHECKS.get("required_tags")
    assert isinstance(entry.validate_params({"path": "settings.tags"}), BaseModel)
    with pytest.raises(ConfigError, match="typo"):
        entry.validate_params({"typo": 1})
    assert "properties" in entry.params_schema()


def test_resource_types_cover_the_future_issues() -> None:
    for name in (
        "workspace",
        "clusters",
        "jobs",
        "warehouses",
        "instance_pools",
        "secret_scopes",
        "tables",
        "grants",
        "budgets",
        "usage",
    ):
        assert name in RESOURCE_TYPES
