"""Base of the Unity Catalog actions: owners, tags, column masks, comments and grants.

They act on the metastore (the Catalog, Grants and MaskFunctions ports), not on a workspace
object, so the crew's Workspace-bound executor plans none and refuses to apply them; the
governance service (`services/governance/`, `lakecrew govern` and `lakecrew access`) plans them,
records intent → applied in the same crew ledger (scope ``(catalog)`` / ``(access)``) and rolls
them back with `lakecrew rollback`. Each class still owns everything it is and does: params,
phase floor, the state it reads (`live`), sets (`put`), recognises (`satisfied`) and restores.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from lakecrew.core.errors import NotFound, SafetyRefusal
from lakecrew.core.resources import Resource
from lakecrew.ports.catalog import Catalog, ColumnInfo, Grant, Grants, MaskFunctions, TableInfo
from lakecrew.ports.workspace import Change, Workspace
from lakecrew.services.policy.actions.base import Action, Situation, Subject, Target, Workload

ELSEWHERE = "Unity Catalog actions are applied by `lakecrew govern` / `lakecrew access`"
State = dict[str, Any]


@dataclass(frozen=True)
class UcPorts:
    """The metastore ports a catalog action works through."""

    catalog: Catalog
    grants: Grants
    functions: MaskFunctions


def split_column_id(resource_id: str) -> tuple[str, str | None]:
    """``cat.sch.tbl#column`` → (table, column); a table id has no column."""
    table, _, column = resource_id.partition("#")
    return table, column or None


def find_column(info: TableInfo, column: str) -> ColumnInfo:
    col = info.column(column)
    if col is None:
        raise NotFound(
            f"column {column!r} not in {info.full_name}",
            where=info.full_name,
            fix="columns: " + ", ".join(c.name for c in info.columns),
        )
    return col


class CatalogAction(Action):
    """Shared shape: never planned or applied by the workspace crew (see the module doc)."""

    destructive = False
    floor = 3
    kinds = ("tables",)

    def subjects(self, res: Resource, sit: Situation, params: BaseModel) -> list[Subject]:
        return []

    def target(self, res: Resource, sit: Situation, params: BaseModel) -> Target | None:
        return None

    def refusal(self, res: Resource, workload: Workload, target: Mapping[str, Any]) -> str | None:
        return None

    def apply(self, ws: Workspace, kind: str, object_id: str, target: Mapping[str, Any]) -> Change:
        raise SafetyRefusal(ELSEWHERE, where=f"{kind} {object_id}", fix="use `lakecrew govern`")

    @abstractmethod
    def live(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> State:
        """The part of the object this action changes, as it is now."""

    @abstractmethod
    def put(self, uc: UcPorts, resource_id: str, target: Mapping[str, Any]) -> None:
        """Set the target state through the ports."""

    @abstractmethod
    def restore(self, uc: UcPorts, resource_id: str, before: Mapping[str, Any]) -> None:
        """Put the saved before-state back."""


def grant_id(principal: str, privilege: str, securable_type: str, securable: str) -> str:
    """The ledger's resource id of one grant: ``TYPE securable PRIVILEGE principal``."""
    return f"{securable_type.upper()} {securable.lower()} {privilege.upper()} {principal}"


def grant_state(uc: UcPorts, target: Mapping[str, Any]) -> State:
    """Whether the grant of `target` is held now, and its expiry (None: none, or not held).

    A securable that no longer exists reads as not held, with `securable_missing` set."""
    try:
        held = [
            g
            for g in uc.grants.list_grants(str(target["securable"]), principal=target["principal"])
            if g.privilege.upper() == str(target["privilege"]).upper()
        ]
    except NotFound:
        return {"held": False, "expires_at": None, "securable_missing": True}
    expires = held[0].expires_at if held else None
    return {"held": bool(held), "expires_at": expires.isoformat() if expires else None}


def grant_keys(resource_id: str) -> dict[str, str]:
    """The parts of a grant's resource id (see `grant_id`)."""
    stype, securable, privilege, principal = resource_id.split(" ", 3)
    return {
        "securable_type": stype,
        "securable": securable,
        "privilege": privilege,
        "principal": principal,
    }


def grant_from(target: Mapping[str, Any], expires: str | None, by: str | None) -> Grant:
    """The Grant of a grant action's target (or keys) with an ISO expiry."""
    return Grant(
        principal=str(target["principal"]),
        privilege=str(target["privilege"]).upper(),
        securable_type=str(target["securable_type"]).upper(),
        securable_name=str(target["securable"]).lower(),
        granted_by=by,
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )
