"""The daily cost cube: priced usage materialised per day, maintained for changed days only.

`lakecrew.finops.cost_cube` holds the output of the cost model's one grouped pricing query
(`priced_usage_sql`: de-duplicated, priced at the list price valid at usage_end_time,
tag-resolved with the record's tags else the current tags of its job / warehouse / cluster) at
day × workspace × SKU × record type × price × tags, for the default tag keys, with the
data-quality counts. Each row carries its day's fingerprint of the usage table (rows, summed
quantity, latest ingestion date). A day is stale — and recomputed from the usage table — when:

- its fingerprint differs (new usage, late-arriving rows, RETRACTION/RESTATEMENT corrections,
  billing lag filling an incomplete day) or the day is new / gone;
- a list price whose window touches the day changed since the cube was priced (a re-price:
  the snapshot `lakecrew.finops.cost_cube_prices` is diffed with `system.billing.list_prices`);
- the current tags of a job / warehouse / cluster with usage that day changed (snapshot
  `lakecrew.finops.cost_cube_tags`), since untagged usage falls back to current tags.

The resource companion `lakecrew.finops.cost_cube_resources` (cube_resources.py: per day ×
resource spend for the recommendations) is recomputed for the same stale days in the same
refresh, written before the cube (so a crash between the two leaves those days stale in the
cube's fingerprints, and they are recomputed again); a cluster starting or stopping to appear
in node_timeline (snapshot `lakecrew.finops.cost_cube_watch`) makes the days of its usage
stale (`watched`). Companion readers use it only when every day of their window is fresh.

Readers (`rows`) get cube lines for fresh days plus freshly computed lines for stale days, so a
stale cube is never read as current; `refresh` writes the result (one overwrite of the cube,
one commit, then the two snapshots: a crash in between only makes the next run recompute the
same days again). Reads through the cube give exactly the lines of the from-scratch query
(same grain, same sums). Assumptions, stated: a record_id's copies share its usage_date (the
cube de-duplicates per day; a copy in another day would count once per day); and a rewrite of
billing rows keeping a day's row count, quantity sum and latest ingestion date is not seen
(Databricks appends corrections as new rows with a later ingestion date).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.errors import TableMissing
from lakecrew.core.finops import DEFAULT_TAG_KEYS
from lakecrew.ports.sql import SqlEngine
from lakecrew.services.finops.cube_resources import RESOURCES, WATCH_SQL, companion_sql

CUBE = "lakecrew.finops.cost_cube"
CUBE_PRICES = "lakecrew.finops.cost_cube_prices"
CUBE_TAGS = "lakecrew.finops.cost_cube_tags"
CUBE_WATCH = "lakecrew.finops.cost_cube_watch"
USAGE = "system.billing.usage"
FP_COLUMNS = ("fp_rows", "fp_quantity", "fp_ingested")
MAX_TAG_CHANGES = 2000  # more changed resources than this: recompute every day

FINGERPRINT_SQL = f"""
SELECT usage_date, COUNT(*) AS fp_rows, SUM(usage_quantity) AS fp_quantity,
       MAX(ingestion_date) AS fp_ingested
FROM {USAGE} WHERE usage_date >= :start_date AND usage_date < :end_date
GROUP BY usage_date"""
PRICES_SQL = """
SELECT sku_name, cloud, usage_unit, currency_code, price_start_time, price_end_time,
       CAST(pricing.effective_list.default AS STRING) AS unit_price
FROM system.billing.list_prices"""
KINDS = (
    ("job", "jt", "job_id"),
    ("warehouse", "wt", "warehouse_id"),
    ("cluster", "ct", "cluster_id"),
)
FAR_PAST, FAR_FUTURE = date(1900, 1, 1), date(9999, 1, 1)


@dataclass(frozen=True)
class CubePlan:
    """Which days are stale and why (reason → days), over the days asked about."""

    stale: dict[str, tuple[date, ...]] = field(default_factory=dict)
    fresh_days: int = 0

    @property
    def days(self) -> set[date]:
        return {d for days in self.stale.values() for d in days}

    def as_dict(self) -> dict[str, Any]:
        return {
            "fresh_days": self.fresh_days,
            "stale_days": len(self.days),
            "reasons": {k: [d.isoformat() for d in v] for k, v in self.stale.items() if v},
        }


class CostCube:
    """The materialised daily cost cube over a SqlEngine (any backend).

    An object answers for one run (a report, a sweep, a refresh): the plans it made — and,
    after `refresh`, "every day fresh" — are reused by `fresh` and `rows` for its lifetime
    (no re-planning per read), so make a new one per run."""

    def __init__(self, engine: SqlEngine, tag_keys: Sequence[str] = DEFAULT_TAG_KEYS) -> None:
        self._engine = engine
        self.tag_keys = tuple(tag_keys)
        self._plans: dict[tuple[date, date], CubePlan] = {}  # this object's plans (one run)
        self._built = False  # seen built by this object (tables are never dropped)

    # ------------------------------------------------------------------ reads

    def exists(self) -> bool:
        """The cube and its resource companion have been built."""
        if self._built:
            return True
        try:
            self._engine.fetch(f"SELECT 1 FROM {CUBE} LIMIT 0")
            self._engine.fetch(f"SELECT 1 FROM {RESOURCES} LIMIT 0")
        except TableMissing:
            return False
        self._built = True
        return True

    def fresh(self, first: date, stop: date) -> bool:
        """Every day of `[first, stop)` is fresh in the cube and its companion (a plan made
        earlier by this object over a covering range is reused: one plan per report)."""
        plan = self._covering(first, stop)
        if plan is None:
            if not self.exists():
                return False
            plan = self.plan(first, stop)
        return not any(first <= d < stop for d in plan.days)

    def rows(
        self,
        first: date,
        stop: date,
        *,
        where: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]] | None:
        """Pricing-query rows of `[first, stop)` (the extra `where` on usage_date /
        workspace_id applies to both parts): cube rows of fresh days, computed rows of stale
        days. None when there is no cube yet (the caller runs the query itself)."""
        if not self.exists():
            return None
        table, _ = self._assemble(first, stop, where=where, params=params, built=True)
        return [{k: v for k, v in r.items() if k not in FP_COLUMNS} for r in table.to_pylist()]

    def _covering(self, first: date, stop: date) -> CubePlan | None:
        """A plan this object made (or left after `refresh`) over a range covering the given."""
        return next((p for (a, b), p in self._plans.items() if a <= first and stop <= b), None)

    def plan(self, first: date = FAR_PAST, stop: date = FAR_FUTURE) -> CubePlan:
        """The stale days of `[first, stop)` and why, without writing anything."""
        current = self._fingerprints(first, stop)
        plan = self._plan(first, stop, current, built=self.exists())
        self._plans[(first, stop)] = plan
        return plan

    # ------------------------------------------------------------------ writes

    def refresh(self) -> CubePlan:
        """Recompute the stale days and write the cube (one commit), then the snapshots."""
        built = self.exists()
        self._plans.clear()  # a refresh always plans anew
        table, plan = self._assemble(FAR_PAST, FAR_FUTURE, built=built)
        if plan.days or not built:
            # The companion first, then the cube, then the snapshots: a crash in between
            # leaves the cube's fingerprints (or a snapshot) old, so the same days re-plan.
            companion = self._companion(plan, built=built)
            self._engine.save_table(RESOURCES, _storable(companion), "overwrite")
            self._engine.save_table(CUBE, _storable(table), "overwrite")
            self._engine.save_table(CUBE_PRICES, _storable(self._prices()), "overwrite")
            self._engine.save_table(CUBE_TAGS, _storable(self._tags()), "overwrite")
            self._engine.save_table(CUBE_WATCH, _storable(self._watch()), "overwrite")
            self._built = True
        # Every day is fresh now: reads through this object (the rest of its run) reuse this
        # plan instead of planning again.
        self._plans = {(FAR_PAST, FAR_FUTURE): CubePlan({}, plan.fresh_days + len(plan.days))}
        return plan

    def _companion(self, plan: CubePlan, *, built: bool) -> pa.Table:
        """The resource companion: kept rows of fresh days + the stale days recomputed."""
        days = sorted(plan.days)
        bound: dict[str, Any] = {"start_date": FAR_PAST, "end_date": FAR_FUTURE}
        parts = []
        where = ""
        if built:
            kept = self._engine.fetch_arrow(f"SELECT * FROM {RESOURCES}")
            keep = pc.invert(pc.is_in(kept["usage_date"], pa.array(days, pa.date32())))
            parts.append(kept.filter(keep))
            where = " AND u.usage_date IN ({})".format(
                ", ".join(f":cube_day_{i}" for i in range(len(days))) or "NULL"
            )
            bound |= {f"cube_day_{i}": d for i, d in enumerate(days)}
        parts.append(self._engine.fetch_arrow(companion_sql(where), bound))
        return pa.concat_tables(
            [_storable(p) for p in parts if p.num_columns], promote_options="permissive"
        )

    # ------------------------------------------------------------------ internals

    def _assemble(
        self,
        first: date,
        stop: date,
        *,
        where: str = "",
        params: Mapping[str, Any] | None = None,
        built: bool,
    ) -> tuple[pa.Table, CubePlan]:
        plan = self._covering(first, stop) if built else None
        if plan is None or any(first <= d < stop for d in plan.days):
            current = self._fingerprints(first, stop)
            plan = self._plan(first, stop, current, built=built)
        else:
            current = {}  # a plan of this run says every day of the range is fresh
        stale = sorted(plan.days & set(current))
        bound = {"start_date": first, "end_date": stop, **(params or {})}
        parts = []
        if built:
            cached = self._engine.fetch_arrow(
                f"SELECT * FROM {CUBE} WHERE usage_date >= :start_date "
                f"AND usage_date < :end_date{where}",
                bound,
            )
            keep = pc.invert(
                pc.is_in(cached["usage_date"], pa.array(sorted(plan.days), pa.date32()))
            )
            parts.append(cached.filter(keep))
        if stale:
            every = not built and first == FAR_PAST and stop == FAR_FUTURE
            parts.append(self._compute(None if every else stale, current, where, bound))
        self._plans[(first, stop)] = plan
        if not parts:
            return pa.table({}), plan
        return pa.concat_tables(parts, promote_options="permissive"), plan

    def _compute(
        self,
        days: Sequence[date] | None,
        current: Mapping[date, tuple[Any, ...]],
        where: str,
        params: Mapping[str, Any],
    ) -> pa.Table:
        """The pricing query over `days` (None: every day of the period, no day list)."""
        from lakecrew.services.finops.cost import priced_usage_sql

        bound = dict(params) | {f"tag_{i}": k for i, k in enumerate(self.tag_keys)}
        if days is not None:
            marks = ", ".join(f":cube_day_{i}" for i in range(len(days)))
            bound |= {f"cube_day_{i}": d for i, d in enumerate(days)}
            where = f" AND usage_date IN ({marks}){where}"
        sql = priced_usage_sql(
            len(self.tag_keys),
            by_resource=False,
            fallback=True,
            contract="-1",
            where=where,
        )
        table = self._engine.fetch_arrow(sql, bound)
        fps = [current[d] for d in table["usage_date"].to_pylist()]
        for i, name in enumerate(FP_COLUMNS):
            table = table.append_column(name, pa.array([fp[i] for fp in fps]))
        return table

    def _fingerprints(self, first: date, stop: date) -> dict[date, tuple[Any, ...]]:
        rows = self._engine.fetch(FINGERPRINT_SQL, {"start_date": first, "end_date": stop})
        return {r["usage_date"]: tuple(r[c] for c in FP_COLUMNS) for r in rows.as_dicts()}

    def _plan(
        self, first: date, stop: date, current: Mapping[date, tuple[Any, ...]], *, built: bool
    ) -> CubePlan:
        if not built:
            return CubePlan({"new": tuple(sorted(current))}, 0)
        cols = ", ".join(FP_COLUMNS)
        held = {
            r["usage_date"]: tuple(r[c] for c in FP_COLUMNS)
            for r in self._engine.fetch(
                f"SELECT DISTINCT usage_date, {cols} FROM {CUBE} "
                "WHERE usage_date >= :start_date AND usage_date < :end_date",
                {"start_date": first, "end_date": stop},
            ).as_dicts()
        }
        in_range = set(current) | set(held)
        stale: dict[str, tuple[date, ...]] = {
            "new": tuple(sorted(set(current) - set(held))),
            "changed": tuple(
                sorted(d for d in set(current) & set(held) if _fp(current[d]) != _fp(held[d]))
            ),
            "gone": tuple(sorted(set(held) - set(current))),
            "repriced": tuple(sorted(self._repriced_days(in_range))),
            "retagged": tuple(sorted(self._retagged_days(first, stop) & in_range)),
            "watched": tuple(sorted(self._watched_days(first, stop) & in_range)),
        }
        stale_days = {d for days in stale.values() for d in days}
        return CubePlan(stale, len(in_range - stale_days))

    def _repriced_days(self, days: Iterable[date]) -> set[date]:
        """Days whose usage a list price change since the cube would price differently."""
        old, new = self._snapshot(CUBE_PRICES), self._prices()
        changed = _diff(old, new)
        if changed is None or old is None:
            return set(days)
        keys = {_sku(r) for r in changed}
        spans: list[tuple[datetime | None, datetime | None]] = []
        for key in keys:
            spans += _price_differs(
                [r for r in old.to_pylist() if _sku(r) == key],
                [r for r in new.to_pylist() if _sku(r) == key],
            )
        out = set()
        for lo, hi in spans:
            # usage of the day before a boundary can end after midnight, so it is included
            first = _as_date(lo) - timedelta(days=1) if lo is not None else FAR_PAST
            last = _as_date(hi) if hi is not None else FAR_FUTURE
            out |= {d for d in days if first <= d <= last}
        return out

    def _retagged_days(self, first: date, stop: date) -> set[date]:
        """Days with usage of a job / warehouse / cluster whose current tags changed."""
        changed = _diff(self._snapshot(CUBE_TAGS), self._tags())
        if changed is None:
            return set(self._fingerprints(first, stop))
        ids: dict[str, set[str]] = {k: set() for k, _, _ in KINDS}
        for row in changed:
            ids[str(row["kind"])].add(str(row["rid"]))
        return self._days_using(ids, first, stop)

    def _watched_days(self, first: date, stop: date) -> set[date]:
        """Days with usage of a cluster that started or stopped appearing in node_timeline."""
        changed = _diff(self._snapshot(CUBE_WATCH), self._watch())
        if changed is None:
            return set(self._fingerprints(first, stop))
        ids: dict[str, set[str]] = {k: set() for k, _, _ in KINDS}
        ids["cluster"] = {str(r["cluster_id"]) for r in changed}
        return self._days_using(ids, first, stop)

    def _days_using(self, ids: Mapping[str, set[str]], first: date, stop: date) -> set[date]:
        """Days of `[first, stop)` with usage naming one of `ids` (kind → resource ids)."""
        if not any(ids.values()):
            return set()
        if sum(len(v) for v in ids.values()) > MAX_TAG_CHANGES:
            return set(self._fingerprints(first, stop))
        conds: list[str] = []
        params: dict[str, Any] = {"start_date": first, "end_date": stop}
        for kind, _, column in KINDS:
            marks = []
            for i, rid in enumerate(sorted(ids[kind])):
                params[f"{kind}_{i}"] = rid
                marks.append(f":{kind}_{i}")
            if marks:
                conds.append(f"usage_metadata.{column} IN ({', '.join(marks)})")
        sql = (
            f"SELECT DISTINCT usage_date FROM {USAGE} WHERE usage_date >= :start_date "
            f"AND usage_date < :end_date AND ({' OR '.join(conds)})"
        )
        return {r["usage_date"] for r in self._engine.fetch(sql, params).as_dicts()}

    def _snapshot(self, name: str) -> pa.Table | None:
        try:
            return self._engine.fetch_arrow(f"SELECT * FROM {name}")
        except TableMissing:
            return None

    def _watch(self) -> pa.Table:
        return self._engine.fetch_arrow(WATCH_SQL)

    def _prices(self) -> pa.Table:
        return self._engine.fetch_arrow(PRICES_SQL)

    def _tags(self) -> pa.Table:
        from lakecrew.services.finops.cost import _CURRENT_TAGS, _LATEST

        ctes = ",\n".join(_LATEST.format(alias=a, id_col=c, table=t) for a, c, t in _CURRENT_TAGS)
        selects = []
        params = {f"tag_{i}": k for i, k in enumerate(self.tag_keys)}
        tag_cols = ", ".join(f"{{a}}.tags[:tag_{i}] AS tag_{i}" for i in range(len(self.tag_keys)))
        for kind, alias, _ in KINDS:
            selects.append(
                f"SELECT '{kind}' AS kind, CAST({alias}.workspace_id AS STRING) AS workspace_id, "
                f"CAST({alias}.rid AS STRING) AS rid, {tag_cols.format(a=alias)} FROM {alias}"
            )
        return self._engine.fetch_arrow(f"WITH {ctes}\n" + "\nUNION ALL\n".join(selects), params)


def _sku(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(row["sku_name"]), str(row["cloud"]), str(row["usage_unit"]))


def _price_at(rows: Sequence[Mapping[str, Any]], t: datetime) -> tuple[str, str] | None:
    for r in rows:
        end = r["price_end_time"]
        if r["price_start_time"] <= t and (end is None or t < end):
            return (str(r["unit_price"]), str(r["currency_code"]))
    return None


def _price_differs(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[tuple[datetime | None, datetime | None]]:
    """The time spans in which one SKU's price (or currency) differs between two snapshots."""
    edges = sorted(
        {r[c] for r in (*old, *new) for c in ("price_start_time", "price_end_time")} - {None}
    )
    spans: list[tuple[datetime | None, datetime | None]] = []
    bounds: list[datetime | None] = [None, *edges, None]
    for lo, hi in itertools.pairwise(bounds):
        probe = lo if lo is not None else edges[0] - timedelta(microseconds=1)
        if _price_at(old, probe) != _price_at(new, probe):
            spans.append((lo, hi))
    return spans


def _fp(fp: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in fp)


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _row_keys(table: pa.Table) -> pa.Array:
    """One string per row identifying its values (null as "", each value length-prefixed so no
    two different rows share a key), computed in Arrow: snapshots have 10⁵ rows at scale."""
    parts = []
    for column in table.columns:
        text = pc.fill_null(pc.cast(column, pa.string()), "")
        parts += [pc.cast(pc.utf8_length(text), pa.string()), text]
    if not parts:
        return pa.array([""] * table.num_rows, pa.string())
    return pc.binary_join_element_wise(*parts, "\x1f")


def _diff(old: pa.Table | None, new: pa.Table) -> list[dict[str, Any]] | None:
    """Rows present in only one of the two snapshots (None: no old snapshot)."""
    if old is None:
        return None
    if old.schema.names == new.schema.names and old.schema != new.schema:
        # the stored snapshot in the query's types (UTC, strings for nulls); if impossible,
        # compared as text (a type change then reads as a change)
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            old = old.cast(new.schema)
    a, b = _row_keys(old), _row_keys(new)
    gone = old.filter(pc.invert(pc.is_in(a, value_set=b)))
    added = new.filter(pc.invert(pc.is_in(b, value_set=a)))
    rows: list[dict[str, Any]] = gone.to_pylist() + added.to_pylist()
    return rows


def _storable(table: pa.Table) -> pa.Table:
    """Null-typed columns (every value null) as strings and timestamps in UTC (Delta stores
    only these), so a query result can be stored."""
    fields = []
    for f in table.schema:
        if pa.types.is_null(f.type):
            f = f.with_type(pa.string())  # noqa: PLW2901
        elif pa.types.is_timestamp(f.type) and f.type.tz is not None:
            f = f.with_type(pa.timestamp("us", "UTC"))  # noqa: PLW2901
        fields.append(f)
    return table.cast(pa.schema(fields))
