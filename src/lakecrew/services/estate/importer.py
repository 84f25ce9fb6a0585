"""`lakecrew estate import WORKSPACE PATH`: load what an admin can export from a real workspace.

Accepted files (a single file or a folder, searched recursively; detection by content first, then
by file name):

- JSON lists of workspace objects, as raw REST list responses (`{"clusters": [...]}`,
  `{"jobs": [...], "has_more": ...}`, `{"policies": [...]}`, `{"warehouses": [...]}`,
  `{"instance_pools": [...]}`, `{"scopes": [...]}`, `{"items": [...]}` for secret ACLs) or as the
  Databricks CLI prints them with `-o json` (a bare array); a single object (`... get -o json`).
  Secret ACLs carry no scope in their REST shape: add `"scope": "<name>"` next to `"items"`, or
  name the file `acls.<scope>.json`.
- Workspace conf as `workspace-conf.json` (`{"enableVerboseAuditLogs": "true", ...}`).
- CSV or Parquet exports of the system tables, named after the table (see table_import).

Unknown fields stay in the stored JSON. Everything is read and validated first; a bad file raises
one DataError naming the file, the record and the field, and nothing is written. Then the system
tables are written (one commit per table via `save_table`) and finally all workspace objects and
conf keys in one transaction of the store.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from lakecrew.core.errors import DataError, LakecrewError, UsageError
from lakecrew.core.shapes import is_single_task_job, merge_records, normalize_job
from lakecrew.ports.workspace import (
    ID_FIELD,
    ObjectKind,
    WorkspaceLoader,
    WorkspaceObject,
    object_id_of,
    secret_acl_id,
)
from lakecrew.services.estate.table_import import ParquetReader, read_table_export, table_for_file

SaveTable = Callable[[str, pa.Table, str], None]
Progress = Callable[[int, int], None]

LIST_KEYS: Mapping[str, ObjectKind] = {
    "clusters": ObjectKind.CLUSTER,
    "jobs": ObjectKind.JOB,
    "policies": ObjectKind.CLUSTER_POLICY,
    "warehouses": ObjectKind.WAREHOUSE,
    "endpoints": ObjectKind.WAREHOUSE,  # /api/2.0/sql/endpoints, before warehouses
    "instance_pools": ObjectKind.INSTANCE_POOL,
    "scopes": ObjectKind.SECRET_SCOPE,
    "items": ObjectKind.SECRET_ACL,
}
# File-name hints, checked in this order (policies before clusters, pools before clusters).
NAME_HINTS: tuple[tuple[str, ObjectKind | None], ...] = (
    (r"workspace_?conf", None),
    (r"polic", ObjectKind.CLUSTER_POLICY),
    (r"pool", ObjectKind.INSTANCE_POOL),
    (r"warehouse", ObjectKind.WAREHOUSE),
    (r"endpoint", ObjectKind.WAREHOUSE),
    (r"acl", ObjectKind.SECRET_ACL),
    (r"scope", ObjectKind.SECRET_SCOPE),
    (r"job", ObjectKind.JOB),
    (r"cluster", ObjectKind.CLUSTER),
)
SIGNATURE: Mapping[ObjectKind, frozenset[str]] = {
    ObjectKind.CLUSTER: frozenset(
        {"cluster_id", "cluster_name", "spark_version", "node_type_id", "cluster_source"}
    ),
    ObjectKind.JOB: frozenset({"job_id", "settings", "created_time"}),
    ObjectKind.CLUSTER_POLICY: frozenset({"policy_id", "definition", "policy_family_id"}),
    ObjectKind.WAREHOUSE: frozenset(
        {"cluster_size", "warehouse_type", "auto_stop_mins", "jdbc_url"}
    ),
    ObjectKind.INSTANCE_POOL: frozenset(
        {"instance_pool_id", "instance_pool_name", "idle_instance_autotermination_minutes"}
    ),
    ObjectKind.SECRET_SCOPE: frozenset({"backend_type", "keyvault_metadata"}),
    ObjectKind.SECRET_ACL: frozenset({"principal", "permission"}),
}
ID_TYPE: Mapping[ObjectKind, type] = {ObjectKind.JOB: int}
PAGING_KEYS = frozenset({"has_more", "next_page_token", "prev_page_token", "scope"})
TABLE_SUFFIXES = frozenset({".csv", ".parquet"})


class Issue(Protocol):
    """One problem of one record (shape of adapters.local.rest_shapes.ShapeIssue)."""

    @property
    def path(self) -> str: ...
    @property
    def problem(self) -> str: ...
    @property
    def severity(self) -> str: ...


RecordCheck = Callable[[ObjectKind, Any], Sequence[Issue]]
# The record a workspace already holds for (kind, id), or None (to merge a re-import into).
Existing = Callable[[ObjectKind, str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class ImportReport:
    """What an import loaded: counts per object kind and per table, and what it kept as is."""

    workspace: str
    objects: dict[str, int]
    tables: dict[str, int]
    conf_keys: int
    notes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `--output json`)."""
        return {
            "workspace": self.workspace,
            "objects": dict(self.objects),
            "tables": dict(self.tables),
            "conf_keys": self.conf_keys,
            "notes": list(self.notes),
            "skipped": list(self.skipped),
        }


@dataclass
class ExportBundle:
    """Everything read from an export, validated and not yet written."""

    objects: dict[ObjectKind, dict[str, WorkspaceObject]] = field(default_factory=dict)
    origin: dict[tuple[ObjectKind, str], str] = field(default_factory=dict)  # where first read
    conf: dict[str, str | None] = field(default_factory=dict)
    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    notes: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)


def _files(path: Path, skipped: list[str]) -> list[Path]:
    """Regular files under `path`; links that loop or lead to devices, pipes or sockets are
    listed in `skipped` with the reason (never read: /dev/zero would never end)."""
    try:
        path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UsageError(
            f"{path} does not exist or is a symlink loop", fix="pass an export file or folder"
        ) from None
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path} is not a regular file or folder", fix="pass exports")
    files = []
    for p in sorted(path.rglob("*")):
        if p.name.startswith("."):
            continue
        try:
            p.resolve(strict=True)
        except (OSError, RuntimeError):
            skipped.append(f"{p.relative_to(path)} (a symlink loop or broken link)")
            continue
        if p.is_file():
            files.append(p)
        elif not p.is_dir():
            skipped.append(f"{p.relative_to(path)} (not a regular file)")
    return files


MAX_JSON_BYTES = 512 * 1024 * 1024
_INT64 = 2**63


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not -_INT64 <= int(text) < 2**64:
        raise ValueError(f"integer {text[:20]}... does not fit in 64 bits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} overflows a double")
    return value


def _load_json(path: Path, where: str) -> Any:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise DataError(
            f"file is over {MAX_JSON_BYTES // 2**20} MB", where=where, fix="split the export"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError("not UTF-8 text", where=where, fix="export as UTF-8 JSON") from exc
    if not text.strip():
        raise DataError("empty file", where=where, fix="re-export it, or remove it")
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_finite_float)
    except RecursionError:
        raise DataError(
            "JSON nested too deeply to read", where=where, fix="re-export the file"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"truncated or invalid JSON at line {exc.lineno} col {exc.colno}",
            where=where,
            fix="re-export the file (e.g. `databricks clusters list -o json > clusters.json`)",
        ) from None
    except ValueError as exc:
        raise DataError(str(exc), where=where, fix="check the exported values") from None


def _hint(path: Path) -> tuple[bool, ObjectKind | None]:
    """(matched, kind) from the file name; kind None with matched=True means workspace conf."""
    stem = path.stem.lower().replace("-", "_")
    for pattern, kind in NAME_HINTS:
        if re.search(pattern, stem):
            return True, kind
    return False, None


def _by_content(items: list[Any], where: str) -> ObjectKind:
    scores = Counter[ObjectKind]()
    for item in items:
        if isinstance(item, dict):
            for kind, keys in SIGNATURE.items():
                scores[kind] += len(keys & item.keys())
    ranked = scores.most_common(2)
    if not ranked or ranked[0][1] == 0 or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        raise DataError(
            "cannot tell which workspace objects this file holds",
            where=where,
            fix="name it clusters.json, jobs.json, cluster-policies.json, warehouses.json, "
            "instance-pools.json, secret-scopes.json or acls.<scope>.json",
        )
    return ranked[0][0]


def _acl_scope(doc: Any, path: Path, where: str) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("scope"), str) and doc["scope"]:
        return str(doc["scope"])
    match = re.search(r"acls?[._-](.+)$", path.stem, flags=re.IGNORECASE)
    if match:
        return match.group(1)
    raise DataError(
        "secret ACLs without a scope",
        where=where,
        fix='add "scope": "<name>" next to "items", or name the file acls.<scope>.json',
    )


def _classify(doc: Any, path: Path, where: str) -> tuple[ObjectKind | None, list[Any], bool]:
    """(kind, records, is_conf) of one JSON document."""
    hinted, hint = _hint(path)
    if isinstance(doc, list):
        if hinted and hint is not None:
            return hint, doc, False
        return (_by_content(doc, where) if doc else None), doc, False
    if not isinstance(doc, dict):
        raise DataError("expected a JSON object or array", where=where, fix="re-export the file")
    for key, kind in LIST_KEYS.items():
        if key in doc:
            if not isinstance(doc[key], list):
                raise DataError(f"field {key!r} must be an array", where=where)
            return kind, doc[key], False
    if hinted and hint is None:
        return None, [], True
    if not doc or set(doc) <= PAGING_KEYS:  # an empty REST list response omits the list
        return (hint if hinted else None), [], False
    return _by_content([doc], where), [doc], False


def _record_id(kind: ObjectKind, record: dict[str, Any], where: str) -> str:
    id_field = ID_FIELD[kind]
    value = record.get(id_field)
    expected = ID_TYPE.get(kind, str)
    if value is None or value == "":
        raise DataError(f"field {id_field!r} is missing", where=where, fix="re-export the file")
    if isinstance(value, bool) or not isinstance(value, expected):
        raise DataError(
            f"field {id_field!r}: expected {'an integer' if expected is int else 'a string'}",
            where=where,
            fix="re-export the file",
        )
    return object_id_of(kind, record) or ""


def _add_records(
    bundle: ExportBundle,
    kind: ObjectKind,
    records: list[Any],
    *,
    doc: Any,
    path: Path,
    where: str,
    check: RecordCheck | None,
) -> None:
    scope = _acl_scope(doc, path, where) if kind is ObjectKind.SECRET_ACL else ""
    target = bundle.objects.setdefault(kind, {})
    for i, raw in enumerate(records):
        place = f"{where}: record {i}"
        if not isinstance(raw, dict):
            raise DataError("expected a JSON object", where=place, fix="re-export the file")
        object_id = _record_id(kind, raw, place)
        if kind is ObjectKind.SECRET_ACL:
            object_id = secret_acl_id(scope, object_id)
        else:  # ids of workspace objects are not personal data; principals (emails) may be
            place = f"{place} ({kind.value} {object_id})"
        record = raw
        if kind is ObjectKind.JOB and is_single_task_job(raw):
            record = normalize_job(raw)
            bundle.notes[
                f"{where}: jobs {object_id}: Jobs API 2.0 single-task shape, read as one task "
                "(tasks[0], key main)"
            ] += 1
        _check_record(bundle, kind, record, check, where=where, place=place)
        prior = target.get(object_id)
        if prior is not None:
            old = prior.data
            record = _merged(bundle, (kind, object_id), old, record, where, earlier=True)
        else:
            bundle.origin[(kind, object_id)] = where
        target[object_id] = WorkspaceObject(kind, object_id, record)


def _check_record(
    bundle: ExportBundle,
    kind: ObjectKind,
    record: dict[str, Any],
    check: RecordCheck | None,
    *,
    where: str,
    place: str,
) -> None:
    issues = list(check(kind, record)) if check else []
    errors = [x for x in issues if x.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise DataError(
            f"field {errors[0].path}: {errors[0].problem}{more}",
            where=place,
            fix="correct the record or re-export the file",
        )
    for x in issues:
        generic = re.sub(r"\[\d+\]", "[]", x.path)
        bundle.notes[f"{where}: {kind.value} field {generic}: {x.problem}"] += 1


def _merged(
    bundle: ExportBundle,
    key: tuple[ObjectKind, str],
    old: Mapping[str, Any],
    new: dict[str, Any],
    where: str,
    *,
    earlier: bool,
) -> dict[str, Any]:
    """Merge a record read again into the one read before; a note names the id and what the
    later record lacked (kept from the earlier one)."""
    kind, object_id = key
    merged, kept = merge_records(old, new)
    first = bundle.origin.get(key, "the workspace") if earlier else "the workspace"
    what = f"{kind.value} {object_id} listed again ({first} and {where}): merged"
    if kept:
        shown = ", ".join(kept[:4]) + (f" and {len(kept) - 4} more" if len(kept) > 4 else "")
        what += f"; kept from the richer earlier record: {shown}"
    bundle.notes[what] += 1
    return merged


def _merge_into_existing(bundle: ExportBundle, existing: Existing) -> None:
    """Merge every record the store already holds (a re-import keeps what it knew)."""
    for kind, objs in bundle.objects.items():
        for oid, obj in list(objs.items()):
            old = existing(kind, oid)
            if old is not None and dict(old) != dict(obj.data):
                new = dict(obj.data)
                data = _merged(bundle, (kind, oid), old, new, "this import", earlier=False)
                objs[oid] = WorkspaceObject(kind, oid, data)


def _add_conf(bundle: ExportBundle, doc: Any, where: str) -> None:
    if not isinstance(doc, dict):
        raise DataError("workspace conf must be a JSON object of key → string", where=where)
    for key, value in doc.items():
        if value is not None and not isinstance(value, str):
            raise DataError(
                f"key {key!r}: expected a string value (workspace conf values are strings)",
                where=where,
                fix='quote the value, e.g. "true"',
            )
        bundle.conf[key] = value


def read_exports(
    path: Path,
    *,
    check_record: RecordCheck | None = None,
    read_parquet: ParquetReader | None = None,
    on_progress: Progress | None = None,
) -> ExportBundle:
    """Read and validate every export file under `path`; raises before anything is written."""
    bundle = ExportBundle()
    root = path if path.is_dir() else path.parent
    files = _files(path, bundle.skipped)
    for done, file in enumerate(files):
        if on_progress:
            on_progress(done, len(files))
        where = f"file {file.relative_to(root)}"
        suffix = file.suffix.lower()
        if suffix in TABLE_SUFFIXES:
            full_name = table_for_file(file)
            if full_name is None:
                raise DataError(
                    "not named after a known system table",
                    where=where,
                    fix="name it like billing.usage.csv or system.compute.clusters.parquet",
                )
            table = read_table_export(file, full_name, where, read_parquet)
            bundle.tables.setdefault(full_name, []).append(table)
        elif suffix == ".json":
            doc = _load_json(file, where)
            kind, records, is_conf = _classify(doc, file, where)
            if is_conf:
                _add_conf(bundle, doc, where)
            elif kind is not None:
                _add_records(
                    bundle, kind, records, doc=doc, path=file, where=where, check=check_record
                )
            if isinstance(doc, dict) and doc.get("has_more") is True:
                bundle.notes[f"{where}: one page of a longer list (has_more); export all"] += 1
        else:
            bundle.skipped.append(str(file.relative_to(root)))
    if on_progress:
        on_progress(len(files), len(files))
    if not bundle.objects and not bundle.tables and not bundle.conf:
        skipped = "; ".join(bundle.skipped[:5]) or "no files"
        raise DataError(
            f"nothing to import under {path} (skipped: {skipped})",
            where=str(path),
            fix="pass a folder of JSON exports or CSV/Parquet system-table exports",
        )
    return bundle


def import_workspace(
    store: WorkspaceLoader,
    save_table: SaveTable,
    path: Path,
    workspace_name: str,
    *,
    check_record: RecordCheck | None = None,
    read_parquet: ParquetReader | None = None,
    mode: str = "append",
    on_progress: Progress | None = None,
    existing: Existing | None = None,
) -> ImportReport:
    """Import a workspace export (file or folder) into `store` and the system tables.

    `check_record(kind, record)` validates each object's field types (the composition root passes
    the SDK-based check of the local adapter); `read_parquet` reads Parquet files;
    `on_progress(done, total)` is called per file read; `existing(kind, id)` returns what the
    store already holds, so a re-import merges into it (a richer record is never replaced by a
    poorer one). Nothing is written unless every file is valid.
    """
    if store.name != workspace_name:
        raise UsageError(
            f"the store is workspace {store.name!r}, not {workspace_name!r}",
            fix="open the store of the workspace you import into",
        )
    bundle = read_exports(
        Path(path), check_record=check_record, read_parquet=read_parquet, on_progress=on_progress
    )
    if existing is not None:
        _merge_into_existing(bundle, existing)
    tables: dict[str, int] = {}
    for full_name, parts in sorted(bundle.tables.items()):
        table = pa.concat_tables(parts, promote_options="permissive")
        if table.num_rows == 0:
            continue
        try:
            save_table(full_name, table, mode)
        except LakecrewError as exc:
            done = ", ".join(tables) or "none"
            raise type(exc)(
                exc.what,
                where=f"{exc.where or full_name} (tables written before: {done}; "
                "workspace objects not written)",
                fix=exc.fix,
            ) from exc
        tables[full_name] = table.num_rows
    counts = store.load(
        {kind: list(objs.values()) for kind, objs in bundle.objects.items()}, bundle.conf
    )
    notes = tuple(f"{text} (×{n})" if n > 1 else text for text, n in bundle.notes.items())
    return ImportReport(
        workspace=workspace_name,
        objects={kind.value: n for kind, n in counts.items()},
        tables=tables,
        conf_keys=len(bundle.conf),
        notes=notes,
        skipped=tuple(bundle.skipped),
    )
