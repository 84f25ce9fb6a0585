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
    tables = _table_locations(ctx)
    problems = sum(int(w["problems"]) for w in out) + int(not tables["ok"])
    return {"workspaces": out, "tables": tables, "problems": problems}


def _table_locations(ctx: Context) -> dict[str, Any]:
    """Every table of the local metastore lies inside the project (a copy or move carries it)."""
    outside = ctx.metastore.outside_locations()
    allowed = ctx.config.lakehouse.external_locations
    check: dict[str, Any] = {
        "name": "table locations",
        "ok": not outside or allowed,
        "detail": (
            f"{len(outside)} table(s) outside the project: "
            + ", ".join(f"{t} at {loc}" for t, loc in outside[:5])
            + (" …" if len(outside) > 5 else "")
            + (" (allowed by lakehouse.external_locations)" if allowed else "")
            if outside
            else f"all {len(ctx.metastore.table_names())} table(s) inside {ctx.layout.state_dir}"
        ),
        "outside": [{"table": t, "location": loc} for t, loc in outside],
    }
    if outside and not allowed:
        check["fix"] = (
            "move those tables under .lakecrew/lakehouse and register them again, or set "
            "`lakehouse: {external_locations: true}` in lakecrew.yaml"
        )
    return check


def _local(ctx: Context, name: str) -> dict[str, Any]:
    """A local workspace: the store answers; how many objects it holds (0 = nothing imported)."""
    try:
        store = ctx.local_workspace(name)
    except NotFound as exc:
        return {"workspace": name, "backend": "local", "problems": 1, "fatal": {
            "name": "workspace", "ok": False, "detail": exc.what, "fix": exc.fix}}  # fmt: skip
    counts = {k.value: store.count(k) for k in ObjectKind if k is not ObjectKind.SECRET_ACL}
    return {"workspace": name, "backend": "local", "objects": counts, "problems": 0}
