"""`lakecrew estate import`: the importer service over the local backend's adapters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakecrew.adapters.local.importers import read_parquet, sdk_record_check
from lakecrew.adapters.local.system_tables import save_system_rows
from lakecrew.core.errors import NotFound
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.estate.importer import import_workspace as run_import
from lakecrew.wiring.context import Context


def import_workspace(
    ctx: Context,
    workspace: str,
    path: Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Load a real workspace's exports into the project's local backend; the report as a dict."""
    store = ctx.store
    local = ctx.local_workspace(workspace)

    def existing(kind: ObjectKind, object_id: str) -> dict[str, Any] | None:
        try:
            return dict(local.get(kind, object_id).data)
        except NotFound:
            return None

    report = run_import(
        local,
        lambda name, table, mode: save_system_rows(store, name, table, mode),
        Path(path),
        workspace,
        check_record=sdk_record_check,
        read_parquet=read_parquet,
        on_progress=on_progress,
        existing=existing,
    )
    return report.as_dict()
