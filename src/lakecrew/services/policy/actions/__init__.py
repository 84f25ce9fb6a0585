"""Registered crew actions: one class per action, one action per module.

The pack names these in `rules[].action`; the crew plans and performs them through the
Workspace port when the rollout phase (rule `min_phase` and the action's `floor`, SOP 3.3)
allows. Each class owns its params schema, target state, safety refusal, subjects, the call,
`satisfied(live)` and its rollback (see base.py). Adding an action = a new module here with one
`@action` class, and its tests: every module of this package is imported (and so registered)
when the package is.
"""

from __future__ import annotations

import importlib
import pkgutil

from lakecrew.services.policy.actions.base import (
    ACTIONS,
    Action,
    ActionPorts,
    Situation,
    Workload,
    current_tags,
    plugin,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ACTIONS", "Action", "ActionPorts", "Situation", "Workload", "current_tags", "plugin"]
