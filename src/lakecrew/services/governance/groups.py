"""Group membership for the access review (SOP 1.3.2): a grant to a group resolves to people.

`read_members(directory)` turns SCIM `Users` and `Groups` (REST JSON, from the SDK or an export
folder) into group name → the user names of everyone in it, nested groups expanded (cycles
are cut, not followed forever). Members that are service principals count as members but are
not people; a member id that is no user or group (deleted meanwhile) is listed as `unknown`.
The active users' names are kept too: the review flags a user grant to anyone else.
Names are lower-case, as the review compares principals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecrew.core.errors import Unavailable
from lakecrew.ports.identity import GroupDirectory


@dataclass(frozen=True)
class Membership:
    """People per group (lower-case names), or why membership could not be read."""

    people: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unknown: Mapping[str, int] = field(default_factory=dict)  # group → member ids not resolved
    unseen: str | None = None  # the reason membership is unknown (API not readable, no export)
    active_users: frozenset[str] | None = None  # SCIM users not deactivated; None: not read

    def of(self, principal: str) -> frozenset[str] | None:
        """The people in group `principal`; None when the group is not known."""
        return self.people.get(principal.lower())


def _kind(member: Mapping[str, Any]) -> str:
    ref = str(member.get("$ref") or member.get("ref") or "")
    return ref.split("/", 1)[0] if "/" in ref else str(member.get("type") or "")


def resolve(groups: list[dict[str, Any]], users: list[dict[str, Any]]) -> Membership:
    """group displayName → user names of its direct and nested members."""
    user_name = {str(u.get("id")): str(u.get("userName") or "").lower() for u in users}
    by_id = {str(g.get("id")): g for g in groups}
    people: dict[str, frozenset[str]] = {}
    unknown: dict[str, int] = {}

    def expand(gid: str, seen: frozenset[str]) -> tuple[set[str], int]:
        out: set[str] = set()
        missing = 0
        for m in by_id[gid].get("members") or []:
            mid, kind = str(m.get("value")), _kind(m)
            if mid in by_id and kind != "Users":
                if mid not in seen:
                    sub, lost = expand(mid, seen | {mid})
                    out |= sub
                    missing += lost
            elif user_name.get(mid):
                out.add(user_name[mid])
            elif kind != "ServicePrincipals":
                missing += 1
        return out, missing

    for gid, g in by_id.items():
        name = str(g.get("displayName") or "").lower()
        if not name:
            continue
        members, missing = expand(gid, frozenset({gid}))
        people[name] = frozenset(members)
        if missing:
            unknown[name] = missing
    active = frozenset(
        str(u.get("userName") or "").lower()
        for u in users
        if u.get("userName") and u.get("active", True) is not False
    )
    return Membership(people, unknown, active_users=active)


def read_members(directory: GroupDirectory | None) -> Membership:
    """Membership from a directory; an unreadable API (or none) is `unseen`, with the reason."""
    if directory is None:
        return Membership(unseen="no group directory (no SCIM export for this backend)")
    try:
        return resolve(directory.group_members(), directory.users())
    except Unavailable as exc:
        return Membership(unseen=exc.one_line())
