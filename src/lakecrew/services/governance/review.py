"""Access review (SOP 1.3.2, 1.4.3): every grant with its last use, and what to look at.

Last use comes from the audit log (`system.access.audit`, Unity Catalog events with a table
name in `request_params` and status 200): one query in the SQL engine rolls it up per (table,
schema or catalog name, principal) and per name (GROUP BY GROUPING SETS), and the grants are
joined to that in the engine too (`query_tables`, in-memory Arrow). A grant on a table counts
the table's events; on a schema or catalog, the events of every table under it. A user grant
counts the user's own events; a group grant the events of anyone (group membership is not
read: this over-counts use, so a flagged group is really unused).

Flags per grant:
- `unused_90d`: neither used nor granted in the last `unused_days` days;
- `all_privileges`: ALL_PRIVILEGES (least privilege, SOP 1.3.2);
- `user_grant`: granted to an individual user instead of a group;
- `broad_group_restricted`: a broad group (`users`, `account users`, ...) on Restricted data;
- `securable_missing`: a table grant on a table that is no longer registered, or a schema or
  catalog grant on one the metastore no longer has (when the caller knows them: `containers`);
- `principal_not_seen`: a user with no audit event at all in the window (renamed or deleted?);
- `principal_unknown`: a user the SCIM directory (when it could be read) does not hold as an
  active user — deleted, deactivated or renamed since the grant (groups and service principals
  are not judged: account-level groups are not in a workspace's directory).
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
from lakecrew.services.governance.groups import Membership

BROAD_GROUPS = frozenset({"users", "account users", "all users", "all-users", "everyone"})
FLAGS = (
    "unused_90d",
    "all_privileges",
    "user_grant",
    "broad_group_restricted",
    "securable_missing",
    "principal_not_seen",
    "principal_unknown",
)

LAST_USE_SQL = """
WITH used AS (
  SELECT lower(coalesce(request_params['full_name_arg'], request_params['table_full_name'])) AS s,
         lower(user_identity.email) AS p,
         max(event_time) AS t
  FROM system.access.audit
  WHERE service_name = 'unityCatalog'
    AND response.status_code = 200
    AND event_time >= :since
    AND coalesce(request_params['full_name_arg'], request_params['table_full_name']) IS NOT NULL
  GROUP BY 1, 2
), names AS (
  SELECT s AS n, p, t FROM used
  UNION ALL SELECT concat(split_part(s, '.', 1), '.', split_part(s, '.', 2)) AS n, p, t FROM used
  UNION ALL SELECT split_part(s, '.', 1) AS n, p, t FROM used
)
SELECT n, p, max(t) AS t, grouping(p) AS anyone FROM names GROUP BY GROUPING SETS ((n, p), (n))
"""

JOIN_SQL = """
SELECT g.i, mine.t AS mine, anyone.t AS anyone
FROM g
LEFT JOIN roll AS mine ON mine.n = g.n AND mine.p = g.p AND mine.anyone = 0
LEFT JOIN roll AS anyone ON anyone.n = g.n AND anyone.anyone = 1
"""

SEEN_SQL = """
SELECT DISTINCT lower(user_identity.email) AS principal
FROM system.access.audit
WHERE event_time >= :since AND user_identity.email IS NOT NULL
"""


@dataclass(frozen=True)
class LastUse:
    """max(event_time) per (name, principal) and per name (`anyone` = 1), where a name is a
    table and its schema and catalog (the rollups); and every principal seen at all."""

    roll: pa.Table  # n, p, t, anyone
    seen: frozenset[str]
    engine: SqlEngine | None = None  # joins in the engine; None: in Arrow (small inputs)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, datetime]], seen: Iterable[str]) -> LastUse:
        """From (securable, principal, last use) rows, rolled up in Arrow (tests, small data)."""
        best: dict[tuple[str, str | None], datetime] = {}
        for securable, principal, last in rows:
            parts = securable.split(".")
            for name in {securable, ".".join(parts[:2]), parts[0]}:
                for key in ((name, principal), (name, None)):
                    best[key] = max(best.get(key, last), last)
        keys = list(best)
        roll = pa.table(
            {
                "n": pa.array([k[0] for k in keys], pa.string()),
                "p": pa.array([k[1] for k in keys], pa.string()),
                "t": pa.array(list(best.values()), pa.timestamp("us", tz="UTC")),
                "anyone": pa.array([int(k[1] is None) for k in keys], pa.int64()),
            }
        )
        return cls(roll, frozenset(seen))

    def lookup(self, names: list[str], principals: list[str]) -> tuple[list[Any], list[Any]]:
        """(last use by that principal, last use by anyone) for each (name, principal)."""
        g = pa.table(
            {
                "i": pa.array(range(len(names)), pa.int64()),
                "n": pa.array(names, pa.string()),
                "p": pa.array(principals, pa.string()),
            }
        )
        if self.engine is not None:
            out = self.engine.query_tables(JOIN_SQL, {"g": g, "roll": self.roll}).sort_by("i")
            return out["mine"].to_pylist(), out["anyone"].to_pylist()
        own = self.roll.filter(pc.equal(self.roll["anyone"], 0)).select(["n", "p", "t"])
        anyone = self.roll.filter(pc.equal(self.roll["anyone"], 1)).select(["n", "t"])
        mine = g.join(own, ["n", "p"], join_type="left outer").sort_by("i")
        other = g.join(anyone, ["n"], join_type="left outer").sort_by("i")
        return mine["t"].to_pylist(), other["t"].to_pylist()


def last_use(sql: SqlEngine, since: datetime, *, join_in_engine: bool = True) -> LastUse:
    """The audit rollups the review joins grants to (one query in the engine). A SQL
    warehouse cannot query in-memory tables: `join_in_engine=False` joins in Arrow here."""
    got = sql.fetch_arrow(LAST_USE_SQL, {"since": since})
    roll = got.set_column(  # grouping() is a tinyint on a warehouse, a bigint in DuckDB
        got.schema.get_field_index("anyone"), "anyone", got["anyone"].cast(pa.int64())
    )
    seen = sql.fetch_arrow(SEEN_SQL, {"since": since}).column("principal").to_pylist()
    return LastUse(roll, frozenset(s for s in seen if s), sql if join_in_engine else None)


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
    members: tuple[str, ...] | None = None  # the people of a group grant; None: not known

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
            "members": None if self.members is None else list(self.members),
        }


@dataclass(frozen=True)
class AccessReview:
    at: datetime
    window_days: int
    unused_days: int
    grants: tuple[ReviewedGrant, ...]
    notes: tuple[str, ...] = ()

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


def _last_uses(
    grants: list[Grant], use: LastUse, people: Membership
) -> list[tuple[datetime | None, tuple[str, ...] | None]]:
    """(last use, the group's people or None) per grant: a user's own use, the latest use of
    any person in a group whose membership is known, else anyone's use of the securable."""
    names = [g.securable_name for g in grants]
    principals = [g.principal.lower() for g in grants]
    extra: dict[int, list[int]] = {}  # grant index → lookup rows of the group's people
    for i, g in enumerate(grants):
        of = None if "@" in g.principal else people.of(g.principal)
        if of is not None:
            extra[i] = list(range(len(names), len(names) + len(of)))
            names += [g.securable_name] * len(of)
            principals += sorted(of)
    mine, anyone = use.lookup(names, principals)
    out: list[tuple[datetime | None, tuple[str, ...] | None]] = []
    for i, g in enumerate(grants):
        rows = extra.get(i)
        if "@" in g.principal:
            out.append((mine[i], None))
        elif rows is not None:
            used = [mine[j] for j in rows if mine[j] is not None]
            out.append((max(used, default=None), tuple(principals[j] for j in rows)))
        else:
            out.append((anyone[i], None))
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
    members: Membership | None = None,
    containers: frozenset[str] | None = None,
) -> AccessReview:
    """Join every grant to its last use and flag it (see the module doc). `containers`: the
    catalogs and `catalog.schema`s that exist (None: not known — schema and catalog grants are
    then not judged)."""
    labels = _labels(tables)
    registered = {t.full_name for t in tables}
    cutoff = at - timedelta(days=unused_days)
    grants = list(grants)
    people = members or Membership(unseen="group membership not read")
    lasts = _last_uses(grants, use, people)
    out = []
    for g, (last, group_people) in zip(grants, lasts, strict=True):
        name, principal = g.securable_name, g.principal
        user = "@" in principal
        low = principal.lower()
        label = labels.get(name)
        flags = []
        ref = (
            last
            if g.granted_at is None or (last is not None and last > g.granted_at)
            else (g.granted_at)
        )
        if ref is None or ref < cutoff:
            flags.append("unused_90d")
        if g.privilege in ("ALL_PRIVILEGES", "ALL PRIVILEGES"):
            flags.append("all_privileges")
        if user:
            flags.append("user_grant")
        if low in broad_groups and (label or "").lower() == "restricted":
            flags.append("broad_group_restricted")
        if (g.securable_type == "TABLE" and name not in registered) or (
            g.securable_type in ("SCHEMA", "CATALOG")
            and containers is not None
            and name.lower() not in containers
        ):
            flags.append("securable_missing")
        if user and low not in use.seen:
            flags.append("principal_not_seen")
        if user and people.active_users is not None and low not in people.active_users:
            flags.append("principal_unknown")
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
                group_people,
            )
        )
    out.sort(key=lambda r: (r.principal, r.securable, r.privilege))
    notes = []
    if people.unseen and any("@" not in g.principal for g in grants):
        notes.append(
            f"group membership unknown ({people.unseen}): a group grant counts anyone's use"
        )
    for group, n in sorted(people.unknown.items()):
        notes.append(f"group {group}: {n} member id(s) are no known user or group (deleted?)")
    return AccessReview(at, window_days, unused_days, tuple(out), tuple(notes))


def by_principal(rev: AccessReview) -> dict[str, list[ReviewedGrant]]:
    grouped: dict[str, list[ReviewedGrant]] = defaultdict(list)
    for g in rev.grants:
        grouped[g.principal].append(g)
    return dict(grouped)
