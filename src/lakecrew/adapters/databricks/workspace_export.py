"""Workspace notebooks and files for the secret scanner, pulled through the Workspace API.

`exported_files(client, root)` walks `workspace.list` from `root` (directories and repos
recursively; one call per folder, as the API lists one level), exports every notebook in
SOURCE format and every workspace file AUTO (`workspace.export`, base64 content decoded) and
yields `(path with the language's extension, bytes)` — the shape `secret_scan.scan_files` reads
from a local folder. What it cannot read is collected in `skipped` (path, reason: a 403/404 on a
folder or object, an export refused as too large, content that is not base64), never silently
left out. Dashboards and libraries are skipped with their type as the reason.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from lakecrew.adapters.databricks.client import DatabricksClient
from lakecrew.adapters.databricks.errors import cause_of, translate
from lakecrew.core.errors import UsageError

_EXT = {"PYTHON": ".py", "SQL": ".sql", "SCALA": ".scala", "R": ".r"}
_FOLDERS = ("DIRECTORY", "REPO")


class WorkspaceExport:
    """The notebooks and files under `root` of one workspace (see the module doc)."""

    def __init__(self, client: DatabricksClient, root: str = "/", *, max_bytes: int) -> None:
        self._w = client.workspace_client()
        self.root = root
        self.max_bytes = max_bytes
        self.skipped: list[tuple[str, str]] = []
        self.listed = 0

    def _try(self, path: str, action: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - one object's failure is a skip with a reason
            cause = cause_of(exc)
            if cause is None and "MAX_NOTEBOOK_SIZE_EXCEEDED" not in str(exc):
                raise translate(exc, where=path, action=action) from None
            self.skipped.append((path, f"{action}: {cause or 'too large'}"))
            return None

    def files(self) -> Iterator[tuple[str, bytes]]:
        pending = [self.root]
        while pending:
            folder = pending.pop(0)
            if folder == self.root:  # the root itself unreadable: an error, not an empty scan
                try:
                    listed = list(self._w.workspace.list(folder))
                except Exception as exc:  # noqa: BLE001 - the SDK's error, translated
                    if cause_of(exc) == "not_enabled":
                        raise UsageError(
                            f"{folder} is no folder of the workspace",
                            where="--root",
                            fix="give an existing folder, e.g. /Users, /Repos or /Shared",
                        ) from None
                    raise translate(exc, where=folder, action="workspace.list") from None
            else:
                listed = self._try(
                    folder, "workspace.list", lambda f=folder: list(self._w.workspace.list(f))
                )
            for obj in sorted(listed or [], key=lambda o: str(o.path)):
                self.listed += 1
                kind = obj.object_type.value if obj.object_type else ""
                path = str(obj.path)
                if kind in _FOLDERS:
                    pending.append(path)
                elif kind in ("NOTEBOOK", "FILE"):
                    got = self._export(path, kind, obj)
                    if got is not None:
                        yield got
                else:
                    self.skipped.append((path, f"{kind.lower() or 'unknown'}: not scanned"))

    def _export(self, path: str, kind: str, obj: Any) -> tuple[str, bytes] | None:
        from databricks.sdk.service.workspace import ExportFormat

        if obj.size is not None and obj.size > self.max_bytes:
            self.skipped.append((path, f"larger than {self.max_bytes} bytes"))
            return None
        fmt = ExportFormat.SOURCE if kind == "NOTEBOOK" else ExportFormat.AUTO
        got = self._try(
            path, "workspace.export", lambda: self._w.workspace.export(path, format=fmt)
        )
        if got is None:
            return None
        try:
            data = base64.b64decode(got.content or "", validate=True)
        except (binascii.Error, ValueError):
            self.skipped.append((path, "workspace.export: content is not base64"))
            return None
        lang = obj.language.value if obj.language else ""
        name = path.lstrip("/")
        if kind == "NOTEBOOK" and not name.endswith(tuple(_EXT.values())):
            name += _EXT.get(lang, ".txt")
        return name, data[: self.max_bytes + 1]
