"""Registered crew actions: one class per action, one action per module.

The pack names these in `rules[].action`; the crew plans and performs them through the
Workspace port when the rollout phase (rule `min_phase` and the action's `floor`, SOP 3.3)
allows. Each class owns its params schema, target state, safety refusal, subjects, the call,
`satisfied(live)` and its rollback (see base.py). Adding an action = a new module here with one
`@action` class, imported below, and its tests.
"""

from __future__ import annotations

from lakecrew.services.policy.actions import (  # noqa: F401  (each module registers its action)
    add_tags,
    model_actions,
    notify_only,
    pause_job,
    resize,
    set_autostop,
    set_autotermination,
    terminate,
    update_job_settings,
)
from lakecrew.services.policy.actions.base import (
    ACTIONS,
    Action,
    Situation,
    Workload,
    current_tags,
    plugin,
)

__all__ = ["ACTIONS", "Action", "Situation", "Workload", "current_tags", "plugin"]
