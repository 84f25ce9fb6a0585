"""Access review (SOP 1.3.2, 1.4.3): every grant with its last use, and what to look at.

Last use comes from the audit log (`system.access.audit`, Unity Catalog events with a table
name in `request_params` and status 200), aggregated in the SQL engine (one GROUP BY over the
audit rows; the grants are joined to that small result). A grant on a table counts the table's
events; on a schema or catalog, the events of every table under it. A user grant counts the
user's own events; a group grant the events of anyone (group membership is not read: this
over-counts use, so a flagged group is really unused).

Flags per grant:
- `unused_90d`: neither used nor granted in the last `unused_days` days;
- `all_privileges`: ALL_PRIVILEGES (least privilege, SOP 1.3.2);
- `user_grant`: granted to an individual user instead of a group;
- `broad_group_restricted`: a broad group (`users`, `account users`, ...) on Restricted data;
- `securable_missing`: a table grant on a table that is no longer registered;
- `principal_not_seen`: a user with no audit event at all in the window (renamed or deleted?).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.ports.catalog import Grant, TableInfo
from lakecrew.ports.sql import SqlEngine

BROAD_GROUPS = frozenset({"users", "account users", "all users", "all-users", "everyone"})
FLAGS = (
    "unused_90d",
    "all_privileges",
    "user_grant",
    "broad_group_restricted",
    "securable_missing",
    "principal_not_seen",
)

LAST_USE_SQL = """
SELECT lower(coalesce(request_params['full_name_arg'], request_params['table_full_name']))
         AS securable,
       lower(user_identity.email) AS principal,
       max(event_time) AS last_used
FROM system.access.audit
WHERE service_name = 'unityCatalog'
  AND response.status_code = 200
  AND event_time >= :since
  AND coalesce(request_params['full_name_arg'], request_params['table_full_name']) IS NOT NULL
GROUP BY 1, 2
"""

SEEN_SQL = """
SELECT DISTINCT lower(user_identity.email) AS principal
FROM system.access.audit
WHERE event_time >= :since AND user_identity.email IS NOT NULL
"""


@dataclass(frozen=True)
class LastUse:
    """max(event_time) per (name, principal) and per name, where a name is a table and its
    schema and catalog (the rollups), as Arrow tables; and every principal seen at all."""

    by_np: pa.Table  # n, p, t
    by_n: pa.Table  # n, t
    seen: frozenset[str]

    @classmethod
    def from_arrow(cls, agg: pa.Table, seen: Iterable[str]) -> LastUse:
        """From the audit aggregate (securable, principal, last_used), rolled up in Arrow."""
        agg = agg.filter(pc.is_valid(agg["securable"]))
        parts = pc.split_pattern(agg["securable"], ".")
        cat = pc.list_element(parts, 0)
        sch = pc.binary_join_element_wise(cat, pc.list_element(parts, 1), ".")
        p, t = agg["principal"], agg["last_used"]
        levels = [pa.table({"n": n, "p": p, "t": t}) for n in (agg["securable"], sch, cat)]
        names = pa.concat_tables(levels)
        by_np = names.group_by(["n", "p"]).aggregate([("t", "max")]).rename_columns(["n", "p", "t"])
        by_n = names.group_by(["n"]).aggregate([("t", "max")]).rename_columns(["n", "t"])
        return cls(by_np, by_n, frozenset(seen))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, datetime]], seen: Iterable[str]) -> LastUse:
        listed = list(rows)
        s, p, t = zip(*listed, strict=True) if listed else ((), (), ())
        ts = pa.array(t, pa.timestamp("us", tz="UTC"))
        return cls.from_arrow(pa.table({"securable": s, "principal": p, "last_used": ts}), seen)

    def lookup(self, names: list[str], principals: list[str]) -> tuple[list[Any], list[Any]]:
        """(last use by that principal, last use by anyone) for each (name, principal)."""
        keys = pa.table(
            {
                "n": pa.array(names, pa.string()),
                "p": pa.array(principals, pa.string()),
                "i": pa.array(range(len(names)), pa.int64()),
            }
        )
        mine = keys.join(self.by_np, ["n", "p"], join_type="left outer").sort_by("i")
        anyone = keys.join(self.by_n, ["n"], join_type="left outer").sort_by("i")
        return mine["t"].to_pylist(), anyone["t"].to_pylist()


def last_use(sql: SqlEngine, since: datetime) -> LastUse:
    """The audit aggregate the review joins grants to (one GROUP BY in the engine)."""
    agg = sql.fetch_arrow(LAST_USE_SQL, {"since": since})
    seen = sql.fetch_arrow(SEEN_SQL, {"since": since}).column("principal").to_pylist()
    return LastUse.from_arrow(agg, (s for s in seen if s))


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d else None


@dataclass(frozen=True)
class ReviewedGrant:
    principal: str
    principal_type: str  # user | group (service principals show as group: no '@')
    privilege: str
    securable_type: str
    securable: str
    classification: str | None
    granted_at: datetime | None
    expires_at: datetime | None
    last_used: datetime | None
    flags: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "principal_type": self.principal_type,
            "privilege": self.privilege,
            "securable_type": self.securable_type,
            "securable": self.securable,
            "classification": self.classification,
            "granted_at": _iso(self.granted_at),
            "expires_at": _iso(self.expires_at),
            "last_used": _iso(self.last_used),
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class AccessReview:
    at: datetime
    window_days: int
    unused_days: int
    grants: tuple[ReviewedGrant, ...]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(FLAGS, 0)
        for g in self.grants:
            for f in g.flags:
                out[f] += 1
        return out

    @property
    def flagged(self) -> list[ReviewedGrant]:
        return [g for g in self.grants if g.flags]


def _labels(tables: Sequence[TableInfo]) -> dict[str, str]:
    """Classification per table, and the most sensitive one under each schema and catalog."""
    rank = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
    out: dict[str, str] = {}
    for t in tables:
        label = str(t.tags.get("classification") or t.properties.get("classification") or "")
        if not label:
            continue
        parts = t.full_name.split(".")
        for n in (t.full_name, ".".join(parts[:2]), parts[0]):
            if rank.get(out.get(n, "").lower(), -1) < rank.get(label.lower(), -1):
                out[n] = label
    return out


def review(
    grants: Iterable[Grant],
    tables: Sequence[TableInfo],
    use: LastUse,
    *,
    at: datetime,
    window_days: int,
    unused_days: int = 90,
    broad_groups: frozenset[str] = BROAD_GROUPS,
) -> AccessReview:
    """Join every grant to its last use and flag it (see the module doc)."""
    labels = _labels(tables)
    registered = {t.full_name for t in tables}
    cutoff = at - timedelta(days=unused_days)
    grants = list(grants)
    mine, anyone = use.lookup(
        [g.securable_name for g in grants], [g.principal.lower() for g in grants]
    )
    out = []
    for g, own, other in zip(grants, mine, anyone, strict=True):
        name, principal = g.securable_name, g.principal
        user = "@" in principal
        low = principal.lower()
        last = own if user else other
        label = labels.get(name)
        flags = []
        ref = max((d for d in (last, g.granted_at) if d is not None), default=None)
        if ref is None or ref < cutoff:
            flags.append("unused_90d")
        if g.privilege in ("ALL_PRIVILEGES", "ALL PRIVILEGES"):
            flags.append("all_privileges")
        if user:
            flags.append("user_grant")
        if low in broad_groups and (label or "").lower() == "restricted":
            flags.append("broad_group_restricted")
        if g.securable_type == "TABLE" and name not in registered:
            flags.append("securable_missing")
        if user and low not in use.seen:
            flags.append("principal_not_seen")
        out.append(
            ReviewedGrant(
                principal,
                "user" if user else "group",
                g.privilege,
                g.securable_type,
                name,
                label,
                g.granted_at,
                g.expires_at,
                last,
                tuple(flags),
            )
        )
    out.sort(key=lambda r: (r.principal, r.securable, r.privilege))
    return AccessReview(at, window_days, unused_days, tuple(out))


def by_principal(rev: AccessReview) -> dict[str, list[ReviewedGrant]]:
    grouped: dict[str, list[ReviewedGrant]] = defaultdict(list)
    for g in rev.grants:
        grouped[g.principal].append(g)
    return dict(grouped)
