"""VolumeStaging: the Parquet files a pipeline stages in a UC Volume, and the ones a crash left.

Each write of ``UnityCatalogTableStore`` uploads its rows as one Parquet file and loads exactly
that file with one statement, then deletes it. Files live in one folder per target table,
``/Volumes/<catalog>/<schema>/<volume>/<table folder>/<store tag>-<uuid>.parquet``, where the
store tag is random per store (one pipeline run). A run killed between the upload and the
delete leaves its file behind: before the load (never loaded: no statement names it again) or
after it (loaded and committed: superseded). Either way nothing will read it, but it holds
the batch's rows — raw PII for bronze — so it must not stay.

The clean-up (``stage``, on the first upload of a store to a table's folder) removes a file of
that folder only when all of these hold:

- it is not this store's (another tag) — this run's files are never touched;
- it is older than this run's own file in the same folder by more than ``stale_after_seconds``
  (the Files API's ``last_modified``, both stamped by the workspace's clock, so a skewed client
  clock does not matter). A writer's file is read only by the one statement submitted right
  after its upload, which gives up after the SQL engine's ``timeout_seconds``; a file older
  than twice that (at least an hour) cannot belong to a load still in flight.

A file that vanished meanwhile (another run cleaned it) is fine. If the folder cannot be
listed or a file cannot be deleted (permissions), the write goes on and the reason is logged
as a warning naming the folder: the clean-up is best effort and never fails a run. Files of
the flat layout of earlier releases (``<volume>/<uuid>.parquet``, no table folder) are not
cleaned: they cannot be told apart per table.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakecrew.adapters.databricks.client import DatabricksClient, guarded
from lakecrew.adapters.databricks.sql import DatabricksSqlEngine, quote_full_name
from lakecrew.core.errors import LakecrewError, NotFound
from lakecrew.ports.catalog import parse_full_name

log = logging.getLogger(__name__)

MIN_STALE_SECONDS = 3600.0


def table_folder(name: str) -> str:
    """The staging folder of one UC table: readable, path-safe and unique per name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:120]
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class VolumeStaging:
    """Stages Parquet files for one store; cleans each table folder's stale orphans once."""

    def __init__(
        self,
        client: DatabricksClient,
        sql: DatabricksSqlEngine,
        volume: str,
        *,
        ensure_schema: Callable[[str], None],
        stale_after_seconds: float | None = None,
    ) -> None:
        self.client = client
        self.sql = sql
        self.volume = volume
        self.tag = uuid.uuid4().hex[:12]
        self.stale_after_seconds = (
            stale_after_seconds
            if stale_after_seconds is not None
            else max(MIN_STALE_SECONDS, 2 * float(getattr(sql, "timeout_seconds", 600.0)))
        )
        self.removed: list[str] = []  # orphan files this store deleted (paths)
        self._ensure_schema = ensure_schema
        self._root: str | None = None
        self._folders: set[str] = set()

    def root(self) -> str:
        if self._root is None:
            self._ensure_schema(self.volume)
            self.sql.execute(f"CREATE VOLUME IF NOT EXISTS {quote_full_name(self.volume)}")
            self._root = "/Volumes/" + "/".join(parse_full_name(self.volume))
        return self._root

    def stage(self, table: str, data: pa.Table) -> str:
        """Upload ``data`` as one new Parquet file in ``table``'s folder; returns its path.
        The first upload of this store to the folder is followed by the orphan clean-up."""
        buffer = io.BytesIO()
        pq.write_table(data, buffer, compression="zstd")
        buffer.seek(0)
        folder = f"{self.root()}/{table_folder(table)}"
        first = folder not in self._folders
        if first:
            guarded(
                lambda: self.client.files.create_directory(folder),
                where=folder,
                action="files.create_directory",
            )
            self._folders.add(folder)
        path = f"{folder}/{self.tag}-{uuid.uuid4().hex}.parquet"
        guarded(
            lambda: self.client.files.upload(path, buffer, overwrite=False),
            where=path,
            action="files.upload",
        )
        if first:
            self._clean(folder, path)
        return path

    def unstage(self, path: str) -> None:
        guarded(lambda: self.client.files.delete(path), where=path, action="files.delete")

    def _clean(self, folder: str, own: str) -> None:
        try:
            entries = list(
                guarded(
                    lambda: list(self.client.files.list_directory_contents(folder)),
                    where=folder,
                    action="files.list_directory_contents",
                )
            )
        except LakecrewError as exc:
            log.warning("staged-file clean-up skipped for %s: %s", folder, exc)
            return
        mine = next((e for e in entries if _path(e, folder) == own), None)
        if mine is None or mine.last_modified is None:
            log.warning("staged-file clean-up skipped for %s: no time for this run's file", folder)
            return
        cutoff = int(mine.last_modified) - int(self.stale_after_seconds * 1000)
        before = len(self.removed)
        for entry in entries:
            path = _path(entry, folder)
            name = path.rsplit("/", 1)[-1]
            if (
                entry.is_directory
                or not name.endswith(".parquet")
                or name.startswith(f"{self.tag}-")
                or entry.last_modified is None
                or int(entry.last_modified) >= cutoff
            ):
                continue
            try:
                self.unstage(path)
            except NotFound:
                continue  # another run removed it first
            except LakecrewError as exc:
                log.warning("staged file %s left in place: %s", path, exc)
                continue
            self.removed.append(path)
        if len(self.removed) > before:
            log.info("removed %d stale staged file(s) from %s", len(self.removed) - before, folder)


def _path(entry: Any, folder: str) -> str:
    return str(entry.path or f"{folder}/{entry.name}").rstrip("/")
