"""One workspace as Databricks REST list responses: replayed over HTTP, or written as an export.

`rest_calls(objects, conf, page_size=...)` turns REST-shaped objects (e.g. one workspace of the
simulator) into the recorded answers of the list endpoints the DatabricksWorkspace calls, paged
the way the API pages (clusters/list and jobs/list with `next_page_token`, jobs also `has_more`):

    GET /api/2.1/clusters/list            {"clusters": [...], "next_page_token": "..."}
    GET /api/2.2/jobs/list                {"jobs": [...], "has_more": true, "next_page_token"}
    GET /api/2.0/policies/clusters/list   {"policies": [...]}
    GET /api/2.0/sql/warehouses           {"warehouses": [...]}
    GET /api/2.0/instance-pools/list      {"instance_pools": [...]}
    GET /api/2.0/secrets/scopes/list      {"scopes": [...]}
    GET /api/2.0/secrets/acls/list?scope  {"items": [...]}
    GET /api/2.0/workspace-conf?keys=...  {"key": "value", ...}

The pages are server-driven (page 1 answers whatever `page_size`/`limit` the client asks), so
the same recordings serve any client page size. `write_export(calls, dir)` writes the very same
bodies as the files `lakecrew estate import` reads (one file per page; ACLs as
`acls.<scope>.json`), so both backends can be loaded from one set of payloads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lakecrew.ports.workspace import ObjectKind, split_secret_acl_id
from lakecrew.testing.databricks_replay import Call

LIST_PATH: Mapping[ObjectKind, tuple[str, str]] = {
    ObjectKind.CLUSTER: ("/api/2.1/clusters/list", "clusters"),
    ObjectKind.JOB: ("/api/2.2/jobs/list", "jobs"),
    ObjectKind.CLUSTER_POLICY: ("/api/2.0/policies/clusters/list", "policies"),
    ObjectKind.WAREHOUSE: ("/api/2.0/sql/warehouses", "warehouses"),
    ObjectKind.INSTANCE_POOL: ("/api/2.0/instance-pools/list", "instance_pools"),
    ObjectKind.SECRET_SCOPE: ("/api/2.0/secrets/scopes/list", "scopes"),
}
ACLS_PATH = "/api/2.0/secrets/acls/list"
CONF_PATH = "/api/2.0/workspace-conf"
PAGED = (ObjectKind.CLUSTER, ObjectKind.JOB)
FILE_STEM: Mapping[str, str] = {
    "/api/2.1/clusters/list": "clusters",
    "/api/2.2/jobs/list": "jobs",
    "/api/2.0/policies/clusters/list": "cluster-policies",
    "/api/2.0/sql/warehouses": "warehouses",
    "/api/2.0/instance-pools/list": "instance-pools",
    "/api/2.0/secrets/scopes/list": "secret-scopes",
    CONF_PATH: "workspace-conf",
}


def _pages(kind: ObjectKind, records: Sequence[Mapping[str, Any]], size: int) -> list[Call]:
    path, key = LIST_PATH[kind]
    chunks = [list(records[i : i + size]) for i in range(0, len(records), size)] or [[]]
    calls = []
    for n, chunk in enumerate(chunks, start=1):
        body: dict[str, Any] = {key: chunk} if chunk else {}
        if n < len(chunks):
            body["next_page_token"] = f"{key}-p{n + 1}"
            if kind is ObjectKind.JOB:
                body["has_more"] = True
        query = {"page_token": f"{key}-p{n}"} if n > 1 else {}
        calls.append(Call("GET", path, body=body, query=query))
    return calls


def rest_calls(
    objects: Mapping[ObjectKind, Sequence[Mapping[str, Any]]],
    conf: Mapping[str, str],
    *,
    page_size: int = 4,
    acl_ids: Sequence[str] = (),
) -> list[Call]:
    """Recorded list answers of one workspace. Secret ACL records come with their ids
    (`<scope>/<principal>`, as WorkspaceObject ids) in `acl_ids`, in the same order."""
    calls: list[Call] = []
    for kind in LIST_PATH:
        records = list(objects.get(kind, ()))
        if kind in PAGED:
            calls.extend(_pages(kind, records, page_size))
        else:
            path, key = LIST_PATH[kind]
            calls.append(Call("GET", path, body={key: records} if records else {}))
    by_scope: dict[str, list[Mapping[str, Any]]] = {}
    for acl_id, record in zip(acl_ids, objects.get(ObjectKind.SECRET_ACL, ()), strict=True):
        by_scope.setdefault(split_secret_acl_id(acl_id)[0], []).append(record)
    for scope in (str(s["name"]) for s in objects.get(ObjectKind.SECRET_SCOPE, ())):
        items = by_scope.get(scope, [])
        body = {"items": items} if items else {}
        calls.append(Call("GET", ACLS_PATH, body=body, query={"scope": scope}))
    calls.append(Call("GET", CONF_PATH, body=dict(conf)))
    return calls


def write_export(calls: Sequence[Call], directory: Path) -> Path:
    """Write the bodies of `calls` as export files `lakecrew estate import` reads."""
    directory.mkdir(parents=True, exist_ok=True)
    pages: dict[str, int] = {}
    for call in calls:
        if call.path == ACLS_PATH:
            name = f"acls.{call.query['scope']}.json"
        else:
            stem = FILE_STEM[call.path]
            pages[stem] = pages.get(stem, 0) + 1
            name = f"{stem}.page-{pages[stem]:03d}.json" if call.path in _PAGED_PATHS else stem
            name = name if name.endswith(".json") else f"{name}.json"
        (directory / name).write_text(json.dumps(call.body, indent=1), encoding="utf-8")
    return directory


_PAGED_PATHS = frozenset(LIST_PATH[k][0] for k in PAGED)
