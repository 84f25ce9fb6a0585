"""DatabricksWorkspace: the Workspace port over the real databricks-sdk.

Reading: `list(kind)` streams objects page by page, each as a WorkspaceObject whose `data` is
the REST JSON. Clusters (pages of `page_size`) and jobs (`expand_tasks`, so settings are
complete) are paged through the SDK's ApiClient (its auth, retries and errors) as the SDK pages
them, keeping the raw JSON: the SDK's dataclasses drop fields rules need (`last_activity_time`;
a Jobs API 2.0 job's top-level task, normalised here to `tasks[0]` by core.shapes). The objects
are not parsed into the SDK's dataclasses (that was ~60 µs an object, a third of the client's
time at 20,000 objects, for a shape then thrown away); each is checked to be a JSON object with
its id (`_listed_id`), so an unusable page is still reported. Other kinds use the SDK's iterators.
A listing that cannot be read to its end raises `PartialListing` (api, page, cause, how many
objects came before it), so a sweep reports a partial result instead of a full one.

Mutations read the object before, make the narrowest documented call, and read it after:
cluster tags and auto-termination with `clusters.update` + `update_mask` (never the full-replace
`edit`), terminate with `clusters.delete`, size with `clusters.resize` (RUNNING only, as the
local backend), jobs with `jobs.update` (tasks/job_clusters merged by key), warehouses and pools
with their read-modify-write `edit`. Validation (tag limits, auto-termination range, resize
arguments) is shared with the local backend (adapters/local/workspace_mutations.py).
Databricks writes the audit event itself (`system.access.audit`), so `audit_event_id` is None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from databricks.sdk.errors.base import DatabricksError
from databricks.sdk.service.compute import AutoScale, UpdateClusterResource
from databricks.sdk.service.jobs import JobSettings
from databricks.sdk.service.sql import EndpointTagPair, EndpointTags, GetWarehouseResponse

from lakecrew.adapters.databricks.client import DatabricksClient, guarded
from lakecrew.adapters.databricks.errors import (
    cause_of,
    translate,
    unavailable_or_translated,
    unavailable_text,
)
from lakecrew.adapters.local import workspace_mutations as mut
from lakecrew.core.errors import (
    DataError,
    LakecrewError,
    NotFound,
    PartialListing,
    Unreachable,
    UsageError,
)
from lakecrew.core.shapes import normalize_job
from lakecrew.ports.workspace import (
    Change,
    ObjectKind,
    WorkspaceObject,
    object_id_of,
    secret_acl_id,
    split_secret_acl_id,
)

_LIST_ACTION = {
    ObjectKind.CLUSTER: "clusters.list",
    ObjectKind.CLUSTER_POLICY: "cluster_policies.list",
    ObjectKind.JOB: "jobs.list",
    ObjectKind.WAREHOUSE: "warehouses.list",
    ObjectKind.INSTANCE_POOL: "instance_pools.list",
    ObjectKind.SECRET_SCOPE: "secrets.list_scopes",
    ObjectKind.SECRET_ACL: "secrets.list_acls",
}
# Fields of GetWarehouseResponse that warehouses.edit accepts (edit is a full replace).
_WAREHOUSE_EDIT = (
    "auto_stop_mins", "channel", "cluster_size", "creator_name", "enable_photon",
    "enable_serverless_compute", "instance_profile_arn", "max_num_clusters", "min_num_clusters",
    "name", "spot_instance_policy", "tags", "warehouse_type",
)  # fmt: skip
_POOL_EDIT = (
    "custom_tags", "idle_instance_autotermination_minutes", "max_capacity", "min_idle_instances",
)  # fmt: skip


class DatabricksWorkspace:
    """Workspace (ports.workspace) of one Databricks workspace, through `DatabricksClient`."""

    def __init__(self, name: str, client: DatabricksClient, *, page_size: int = 100) -> None:
        self.name = name
        self.client = client
        self.page_size = page_size

    def __repr__(self) -> str:
        return f"DatabricksWorkspace({self.name!r}, host={self.client.host!r})"

    # ---- reading -------------------------------------------------------------------------

    def _where(self, kind: ObjectKind, object_id: str | None = None) -> str:
        suffix = f" {kind.value} {object_id}" if object_id else f" {kind.value}"
        return f"workspace {self.name}{suffix}"

    def _raw_pages(self, path: str, key: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The raw JSON objects of a paged list, through the SDK's ApiClient (as the SDK's own
        iterator pages it): fields the SDK dataclasses drop (e.g. `last_activity_time`, a
        2.0 job's top-level task) stay."""
        while True:
            page = self.client.api.do("GET", path, query=dict(query))
            items = (page.get(key) or []) if isinstance(page, dict) else page
            if not isinstance(items, list):
                raise TypeError(f"{key!r} is not a list")
            yield from items
            token = page.get("next_page_token") if isinstance(page, dict) else None
            if not token:
                return
            query["page_token"] = token

    def _sdk_items(self, kind: ObjectKind) -> Iterator[tuple[str, Mapping[str, Any]]]:
        c = self.client
        if kind is ObjectKind.CLUSTER:
            query: dict[str, Any] = {"page_size": self.page_size}
            for raw in self._raw_pages("/api/2.1/clusters/list", "clusters", query):
                yield _listed_id(raw, "cluster_id"), raw
        elif kind is ObjectKind.JOB:
            query = {"expand_tasks": "true", "limit": min(self.page_size, 100)}
            for raw in self._raw_pages("/api/2.2/jobs/list", "jobs", query):
                yield self._full_job(raw)
        elif kind is ObjectKind.SECRET_ACL:
            for scope in list(c.secrets.list_scopes()):
                for acl in c.secrets.list_acls(str(scope.name)):
                    yield secret_acl_id(str(scope.name), str(acl.principal)), acl.as_dict()
        else:
            yield from self._sdk_listing(kind)

    def _sdk_listing(self, kind: ObjectKind) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Kinds the SDK lists whole: (id, REST JSON) of each."""
        c = self.client
        if kind is ObjectKind.CLUSTER_POLICY:
            yield from ((str(p.policy_id), p.as_dict()) for p in c.cluster_policies.list())
        elif kind is ObjectKind.WAREHOUSE:
            yield from ((str(w.id), w.as_dict()) for w in c.warehouses.list())
        elif kind is ObjectKind.INSTANCE_POOL:
            pools = c.instance_pools.list()
            yield from ((str(p.instance_pool_id), p.as_dict()) for p in pools)
        elif kind is ObjectKind.SECRET_SCOPE:
            yield from ((str(s.name), s.as_dict()) for s in c.secrets.list_scopes())

    def _full_job(self, raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One listed job as raw JSON in the 2.1+ shape; one with more than 100 tasks or job
        clusters (`has_more`) completed with jobs.get, as the SDK's JobsExt.list does."""
        job_id = _listed_id(raw, "job_id")
        if not isinstance(raw.get("settings", {}), dict):
            raise TypeError(f"job {job_id}: settings is not an object")
        data = normalize_job(raw)
        if data.pop("has_more", False):
            full = self.client.jobs.get(_job_id(job_id)).as_dict().get("settings") or {}
            settings = dict(data.get("settings") or {})
            for key in ("tasks", "job_clusters", "parameters", "environments"):
                if key in full:
                    settings[key] = full[key]
            data["settings"] = settings
        return job_id, data

    def list(self, kind: ObjectKind) -> Iterator[WorkspaceObject]:
        """Every object of one kind, streamed page by page.

        Whatever stops the listing — a page failing past the retries, an API this identity may
        not read (401/403), one the workspace does not have (404/501), a malformed or
        cut-short page, a page-token loop — raises PartialListing naming the API, the page,
        the cause (core.errors.CAUSES) and how many objects came before it. An unreachable
        host raises Unreachable (no other API would answer either).
        """
        kind = ObjectKind(kind)
        action = _LIST_ACTION[kind]
        delivered = 0
        with self.client.api.listing(action) as pages:
            items = self._sdk_items(kind)
            while True:
                try:
                    object_id, data = next(items)
                except StopIteration:
                    return
                except Unreachable:
                    raise
                except Exception as exc:  # noqa: BLE001 - translated below
                    raise self._partial(kind, action, exc, delivered, pages.pages) from None
                delivered += 1
                yield WorkspaceObject(kind, object_id, data)

    def _partial(
        self, kind: ObjectKind, action: str, exc: Exception, delivered: int, page: int
    ) -> PartialListing:
        cause = cause_of(exc)
        if cause is not None:
            what, fix = unavailable_text(cause, action, exc)
        elif isinstance(exc, DataError):
            cause, what, fix = "malformed", exc.what, exc.fix or ""
        elif isinstance(exc, LakecrewError | TimeoutError) or _is_sdk_error(exc):
            err = translate(exc, where=self._where(kind), action=action)
            cause, what = "failed", err.what
            fix = "the sweep is partial; rerun it when the workspace answers again"
        else:  # the SDK could not read the page into its dataclasses
            cause = "malformed"
            what = f"{action} page {page}: malformed page ({type(exc).__name__}: {exc})"[:300]
            fix = "the workspace answered something unusable; rerun later, report it if it persists"
        at = f" at page {page}" if page else ""
        head = (
            f"{kind.value} unseen"
            if delivered == 0 and cause != "failed"
            else f"listing {kind.value} stopped{at} after {delivered} object(s)"
        )
        return PartialListing(
            f"{head}: {what}",
            kind=kind.value,
            delivered=delivered,
            page=page or None,
            where=self._where(kind),
            fix=fix,
            cause=cause,
            api=action,
        )

    def _get_data(self, kind: ObjectKind, object_id: str) -> dict[str, Any]:
        c, oid = self.client, str(object_id)
        calls: dict[ObjectKind, tuple[str, Callable[[], Any]]] = {
            ObjectKind.CLUSTER: ("clusters.get", lambda: c.clusters.get(oid)),
            ObjectKind.CLUSTER_POLICY: (
                "cluster_policies.get",
                lambda: c.cluster_policies.get(oid),
            ),
            ObjectKind.JOB: ("jobs.get", lambda: c.jobs.get(_job_id(oid))),
            ObjectKind.WAREHOUSE: ("warehouses.get", lambda: c.warehouses.get(oid)),
            ObjectKind.INSTANCE_POOL: ("instance_pools.get", lambda: c.instance_pools.get(oid)),
            ObjectKind.SECRET_ACL: (
                "secrets.get_acl",
                lambda: c.secrets.get_acl(*split_secret_acl_id(oid)),
            ),
        }
        if kind is ObjectKind.SECRET_SCOPE:
            for obj in self.list(kind):
                if obj.object_id == oid:
                    return dict(obj.data)
            raise NotFound(f"secret scope {oid!r} not found", where=self._where(kind))
        action, call = calls[kind]
        result = guarded(call, where=self._where(kind, oid), action=action)
        data: dict[str, Any] = result.as_dict()
        return data

    def get(self, kind: ObjectKind, object_id: str) -> WorkspaceObject:
        """One object by id; NotFound names the id."""
        kind = ObjectKind(kind)
        return WorkspaceObject(kind, str(object_id), self._get_data(kind, str(object_id)))

    def workspace_conf(self, keys: Sequence[str]) -> dict[str, str | None]:
        """workspace_conf.get_status: each key's value, None when unset. Unavailable when the
        identity may not read it (401/403) or the workspace does not have it (404/501)."""
        if not keys:
            return {}
        action, where = "workspace_conf.get_status", f"workspace {self.name} conf"
        try:
            got = self.client.workspace_conf.get_status(keys=",".join(keys))
        except Unreachable:
            raise
        except Exception as exc:  # noqa: BLE001 - translated below
            raise unavailable_or_translated(exc, where=where, action=action) from None
        values = dict(got or {})
        return {k: (None if values.get(k) is None else str(values[k])) for k in keys}

    # ---- mutations ---------------------------------------------------------------------------

    def _mutate(
        self,
        kind: ObjectKind,
        object_id: str,
        action: str,
        params: Mapping[str, Any],
        plan: Callable[[dict[str, Any]], Callable[[], Any] | None],
        *,
        sdk_action: str,
    ) -> Change:
        """Read before, let `plan` validate and return the SDK call (None: nothing to do),
        run it, read after."""
        before = self._get_data(kind, object_id)
        call = plan(before)
        if call is not None:
            guarded(call, where=self._where(kind, object_id), action=sdk_action)
        after = self._get_data(kind, object_id)
        return Change(self.name, kind, str(object_id), action, before, after, None, dict(params))

    def set_tags(
        self, kind: ObjectKind, object_id: str, tags: Mapping[str, str], *, merge: bool = True
    ) -> Change:
        """Set or merge user tags: clusters (update_mask=custom_tags), jobs (jobs.update),
        warehouses and pools (read-modify-write edit)."""
        kind = ObjectKind(kind)
        mut.read_tags(kind, {})  # refuses kinds without tags before any call
        params = {"tags": dict(tags), "merge": "true" if merge else "false"}

        def plan(before: dict[str, Any]) -> Callable[[], Any]:
            new = mut.read_tags(kind, mut.apply_tags(kind, before, tags, merge=merge))
            return self._tag_call(kind, str(object_id), before, new)

        sdk_action = {
            ObjectKind.CLUSTER: "clusters.update",
            ObjectKind.JOB: "jobs.update",
            ObjectKind.WAREHOUSE: "warehouses.edit",
            ObjectKind.INSTANCE_POOL: "instance_pools.edit",
        }[kind]
        return self._mutate(
            kind, object_id, _edit_action(kind), params, plan, sdk_action=sdk_action
        )

    def _tag_call(
        self, kind: ObjectKind, oid: str, before: Mapping[str, Any], new: dict[str, str]
    ) -> Callable[[], Any]:
        c = self.client
        if kind is ObjectKind.CLUSTER:
            res = UpdateClusterResource(custom_tags=new)
            return lambda: c.clusters.update(oid, "custom_tags", cluster=res)
        if kind is ObjectKind.JOB:
            if not new:
                return lambda: c.jobs.update(_job_id(oid), fields_to_remove=["tags"])
            return lambda: c.jobs.update(_job_id(oid), new_settings=JobSettings(tags=new))
        if kind is ObjectKind.WAREHOUSE:
            pairs = [EndpointTagPair(key=k, value=v) for k, v in new.items()]
            return self._warehouse_edit(oid, before, tags=EndpointTags(custom_tags=pairs))
        return self._pool_edit(oid, before, custom_tags=new)

    def _warehouse_edit(
        self, oid: str, before: Mapping[str, Any], **changes: Any
    ) -> Callable[[], Any]:
        current = GetWarehouseResponse.from_dict(dict(before))
        fields = {
            f: getattr(current, f) for f in _WAREHOUSE_EDIT if getattr(current, f) is not None
        }
        fields.update(changes)
        return lambda: self.client.warehouses.edit(oid, **fields)

    def _pool_edit(self, oid: str, before: Mapping[str, Any], **changes: Any) -> Callable[[], Any]:
        fields = {f: before[f] for f in _POOL_EDIT if before.get(f) is not None}
        fields.update(changes)
        name, node = before.get("instance_pool_name"), before.get("node_type_id")
        return lambda: self.client.instance_pools.edit(oid, str(name), str(node), **fields)

    def set_autotermination(self, cluster_id: str, minutes: int) -> Change:
        """clusters.update with update_mask=autotermination_minutes (0 = never, else 10..10000)."""
        mut.set_autotermination({}, minutes)  # validate before any call

        def plan(before: dict[str, Any]) -> Callable[[], Any]:
            mut.set_autotermination(before, minutes)  # validates the range
            res = UpdateClusterResource(autotermination_minutes=minutes)
            return lambda: self.client.clusters.update(
                str(cluster_id), "autotermination_minutes", cluster=res
            )

        params = {"autotermination_minutes": str(minutes)}
        return self._mutate(
            ObjectKind.CLUSTER, cluster_id, "edit", params, plan, sdk_action="clusters.update"
        )

    def set_warehouse_autostop(self, warehouse_id: str, minutes: int) -> Change:
        """warehouses.get → warehouses.edit with the whole object (edit is a full replace)
        and auto_stop_mins changed (0 = never, else 10..10000)."""
        mut.set_warehouse_autostop({}, minutes)  # validate before any call
        oid = str(warehouse_id)

        def plan(before: dict[str, Any]) -> Callable[[], Any]:
            return self._warehouse_edit(oid, before, auto_stop_mins=minutes)

        return self._mutate(
            ObjectKind.WAREHOUSE,
            oid,
            "editWarehouse",
            {"auto_stop_mins": str(minutes)},
            plan,
            sdk_action="warehouses.edit",
        )

    def terminate(self, cluster_id: str) -> Change:
        """clusters.delete (= terminate; the cluster stays). Already terminated: no call."""

        def plan(before: dict[str, Any]) -> Callable[[], Any] | None:
            if before.get("state") in ("TERMINATED", "TERMINATING"):
                return None
            return lambda: self.client.clusters.delete(str(cluster_id))

        return self._mutate(
            ObjectKind.CLUSTER, cluster_id, "delete", {}, plan, sdk_action="clusters.delete"
        )

    def resize(
        self,
        cluster_id: str,
        *,
        num_workers: int | None = None,
        autoscale: tuple[int, int] | None = None,
    ) -> Change:
        """clusters.resize of a RUNNING cluster (Conflict otherwise, as the local backend)."""
        mut.resize({"state": "RUNNING"}, str(cluster_id), num_workers, autoscale)  # arguments

        def plan(before: dict[str, Any]) -> Callable[[], Any]:
            mut.resize(before, str(cluster_id), num_workers, autoscale)  # validates, Conflict
            if autoscale is not None:
                bounds = AutoScale(min_workers=autoscale[0], max_workers=autoscale[1])
                return lambda: self.client.clusters.resize(str(cluster_id), autoscale=bounds)
            return lambda: self.client.clusters.resize(str(cluster_id), num_workers=num_workers)

        params: dict[str, Any] = (
            {"num_workers": str(num_workers)}
            if num_workers is not None
            else {"autoscale": {"min_workers": autoscale[0], "max_workers": autoscale[1]}}
            if autoscale is not None
            else {}
        )
        return self._mutate(
            ObjectKind.CLUSTER, cluster_id, "resize", params, plan, sdk_action="clusters.resize"
        )

    def update_job(
        self, job_id: str, new_settings: Mapping[str, Any], fields_to_remove: tuple[str, ...] = ()
    ) -> Change:
        """jobs.update: top-level fields replace, tasks/job_clusters merge by key.

        Unknown settings are refused (the SDK's from_dict would drop them silently).
        """
        settings = _job_settings(new_settings)
        for field in fields_to_remove:
            array, _, element = field.partition("/")
            if element and array not in mut.KEYED_ARRAYS:
                raise UsageError(
                    f"cannot remove nested field {field!r}",
                    fix="remove top-level fields, tasks/<key> or job_clusters/<key>",
                )
        params = {
            "new_settings": ",".join(sorted(new_settings)),
            "fields_to_remove": ",".join(fields_to_remove),
        }

        def plan(_: dict[str, Any]) -> Callable[[], Any]:
            return lambda: self.client.jobs.update(
                _job_id(str(job_id)),
                new_settings=settings,
                fields_to_remove=list(fields_to_remove) or None,
            )

        return self._mutate(
            ObjectKind.JOB, job_id, "update", params, plan, sdk_action="jobs.update"
        )

    def restore(self, kind: ObjectKind, object_id: str, before: Mapping[str, Any]) -> Change:
        """Put a saved before-state back: clusters (tags, auto-termination, size; start if it
        was running), jobs (jobs.reset), warehouses and pools (edit)."""
        kind = ObjectKind(kind)
        if object_id_of(kind, before) != str(object_id):
            raise UsageError(
                f"the saved state is not {kind.value} {object_id!r}",
                fix="pass the `before` of a Change of this very object",
            )
        oid = str(object_id)
        params = {"lakecrew_operation": "rollback"}
        if kind is ObjectKind.CLUSTER:
            return self._restore_cluster(oid, before, params)
        if kind is ObjectKind.JOB:
            settings = JobSettings.from_dict(dict(before.get("settings") or {}))

            def reset(_: dict[str, Any]) -> Callable[[], Any]:
                return lambda: self.client.jobs.reset(_job_id(oid), settings)

            return self._mutate(kind, oid, "reset", params, reset, sdk_action="jobs.reset")
        if kind is ObjectKind.WAREHOUSE:
            saved = dict(before)
            return self._mutate(
                kind, oid, "editWarehouse", params,
                lambda _: self._warehouse_edit(oid, saved), sdk_action="warehouses.edit",
            )  # fmt: skip
        if kind is ObjectKind.INSTANCE_POOL:
            saved = dict(before)
            return self._mutate(
                kind,
                oid,
                "edit",
                params,
                lambda _: self._pool_edit(oid, saved),
                sdk_action="instance_pools.edit",
            )
        raise UsageError(
            f"restoring {kind.value} is not supported on Databricks",
            fix="restore clusters, jobs, warehouses or pools",
        )

    def _restore_cluster(
        self, oid: str, saved: Mapping[str, Any], params: Mapping[str, Any]
    ) -> Change:
        def plan(current: dict[str, Any]) -> Callable[[], Any] | None:
            fields = ("autotermination_minutes", "custom_tags", "num_workers", "autoscale")
            differ = [f for f in fields if current.get(f) != saved.get(f) and f in saved]
            resource = UpdateClusterResource.from_dict({f: saved[f] for f in differ})
            calls: list[Callable[[], Any]] = []
            if differ:
                mask = ",".join(differ)
                calls.append(lambda: self.client.clusters.update(oid, mask, cluster=resource))
            was_up = saved.get("state") == "RUNNING"
            if was_up and current.get("state") in ("TERMINATED", "TERMINATING"):
                calls.append(lambda: self.client.clusters.start(oid))
            if not calls:
                return None
            return lambda: [call() for call in calls]

        return self._mutate(
            ObjectKind.CLUSTER, oid, "edit", params, plan, sdk_action="clusters.update"
        )


def _listed_id(raw: Any, key: str) -> str:
    """The id of one listed object; an item that is not a JSON object or lacks its id makes
    the page malformed (TypeError, reported by `list` as a malformed page)."""
    if not isinstance(raw, dict):
        raise TypeError(f"an item is {type(raw).__name__}, not an object")
    oid = raw.get(key)
    if oid is None or oid == "":
        raise TypeError(f"an item has no {key}")
    return str(oid)


def _is_sdk_error(exc: BaseException) -> bool:
    return isinstance(exc, DatabricksError)


def _edit_action(kind: ObjectKind) -> str:
    return {ObjectKind.JOB: "update", ObjectKind.WAREHOUSE: "editWarehouse"}.get(kind, "edit")


def _job_id(object_id: str) -> int:
    if not str(object_id).isdigit():
        raise NotFound(f"job {object_id!r} not found (job ids are numbers)", where="jobs")
    return int(object_id)


def _job_settings(new_settings: Mapping[str, Any]) -> JobSettings:
    """JobSettings from REST JSON, refusing keys the SDK would silently drop."""
    if not isinstance(new_settings, Mapping):
        raise UsageError("new_settings must be a JSON object of JobSettings fields")
    settings = JobSettings.from_dict(dict(new_settings))
    lost = sorted(set(new_settings) - set(settings.as_dict()))
    lost = [k for k in lost if new_settings[k] not in (None, [], {})]
    if lost:
        raise UsageError(
            f"unknown job settings {', '.join(lost)}",
            where="jobs.update",
            fix="use JobSettings field names of the Jobs API 2.2",
        )
    return settings


def iter_all(
    workspace: DatabricksWorkspace, kinds: Iterable[ObjectKind]
) -> Iterator[WorkspaceObject]:
    """Every object of `kinds` in turn (a convenience for sweeps and the benchmark)."""
    for kind in kinds:
        yield from workspace.list(kind)


__all__ = ["DatabricksWorkspace", "LakecrewError", "PartialListing", "iter_all"]
