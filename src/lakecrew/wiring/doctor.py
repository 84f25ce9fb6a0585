"""`lakecrew doctor`: per workspace of lakecrew.yaml, what answers and what is missing."""

from __future__ import annotations

from typing import Any

from lakecrew.core.errors import NotFound
from lakecrew.ports.workspace import ObjectKind
from lakecrew.wiring.context import Context


def doctor(ctx: Context, workspace: str | None = None) -> dict[str, Any]:
    """One diagnosis per workspace (or only `workspace`); `problems` counts failed checks."""
    configs = [ctx.config.workspace(workspace)] if workspace else list(ctx.config.workspaces)
    out = []
    for ws in configs:
        if ws.backend == "databricks":
            from lakecrew.adapters.databricks import databricks_doctor

            out.append(databricks_doctor(ws))
        else:
            out.append(_local(ctx, ws.name))
    return {"workspaces": out, "problems": sum(int(w["problems"]) for w in out)}


def _local(ctx: Context, name: str) -> dict[str, Any]:
    """A local workspace: the store answers; how many objects it holds (0 = nothing imported)."""
    try:
        store = ctx.local_workspace(name)
    except NotFound as exc:
        return {"workspace": name, "backend": "local", "problems": 1, "fatal": {
            "name": "workspace", "ok": False, "detail": exc.what, "fix": exc.fix}}  # fmt: skip
    counts = {k.value: store.count(k) for k in ObjectKind if k is not ObjectKind.SECRET_ACL}
    return {"workspace": name, "backend": "local", "objects": counts, "problems": 0}
