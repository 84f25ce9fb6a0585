"""system.billing.usage, vectorised: hourly records for a batch of usage streams.

Quantities are exact micro-DBUs (6 decimals) stored as decimal(38,18). Weekly seasonality comes
from the activity patterns (interactive clusters and warehouses follow West-African office hours,
weekends are quiet); growth is +15 % over the 90 days; noise is log-normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.system_tables import BILLING_USAGE, USAGE_METADATA_FIELDS
from lakecrew.services.simulate.catalogue import (
    LIST_PRICES,
    PRICE_CHANGE,
    SKU_FAMILY,
    SKU_JOBS,
    SKU_JOBS_SERVERLESS,
    SKU_SQL_PRO,
    SKU_SQL_SERVERLESS,
)
from lakecrew.services.simulate.estate import ACCOUNT_ID
from lakecrew.services.simulate.jobs import job_runs
from lakecrew.services.simulate.model import Clock, UsageStream, rng_for

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
S = pa.string()


@dataclass(frozen=True)
class Anomaly:
    """An injected cost spike: `factor` x usage of one (workspace, sku family) on whole days."""

    workspace: str
    workspace_id: str
    sku_family: str
    start_day: int  # day index from the window start
    days: int
    factor: float


class Calendar:
    """Hour-of-day and weekday of every hour of the window."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.hours = clock.hours
        h = np.arange(self.hours)
        self.hod = h % 24
        self.weekday = (clock.start.weekday() + h // 24) % 7
        self.weekend = self.weekday >= 5
        self.office = (~self.weekend) & (self.hod >= 7) & (self.hod <= 17)
        self.start_us = int(clock.start.timestamp() * 1_000_000)
        self.change_hour = self.hours - PRICE_CHANGE[2] * 24 + clock.now.hour


def _pattern_hours(s: UsageStream, cal: Calendar, rng: np.random.Generator) -> np.ndarray:
    r = rng.random(cal.hours)
    if s.pattern == "always":
        return np.arange(cal.hours)
    if s.pattern == "sporadic":
        mask = cal.office & (r < 0.09)
    else:
        mask = (cal.office & (r < 0.8)) | (
            cal.weekend & (cal.hod >= 9) & (cal.hod <= 15) & (r < 0.1)
        )
    if s.pattern == "since":
        mask |= np.arange(cal.hours) >= int(s.since_hour)
    return np.flatnonzero(mask)


def _stream_rows(
    s: UsageStream, cal: Calendar, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hour, fraction of the hour, run_id or -1, run start hour) of one stream."""
    rng = rng_for(seed, 2, *s.key)
    if s.pattern == "runs" and s.job is not None:
        runs = job_runs(s.job, cal.clock, seed)
        end = np.minimum(runs["end"], cal.hours + cal.clock.now.minute / 60)
        h0 = np.floor(runs["start"]).astype(np.int64)
        n = np.maximum(np.ceil(end).astype(np.int64) - h0, 1)
        run = np.repeat(np.arange(h0.size), n)
        first = np.concatenate([[0], np.cumsum(n)[:-1]])
        hour = h0[run] + (np.arange(run.size) - first[run])
        frac = np.minimum(end[run], hour + 1) - np.maximum(runs["start"][run], hour)
        keep = (hour >= 0) & (hour < cal.hours) & (frac > 0)
        return hour[keep], frac[keep], runs["run_id"][run][keep], runs["start"][run][keep]
    hour = _pattern_hours(s, cal, rng)
    return hour, np.ones(hour.size), np.full(hour.size, -1, np.int64), np.zeros(hour.size)


def decimal_from_micro(micro: np.ndarray) -> pa.Array:
    """Exact decimal(38,18) from integer micro-units."""
    raw = np.empty((micro.size, 2), dtype=np.int64)
    raw[:, 0] = micro
    raw[:, 1] = micro >> 63
    arr = pa.Array.from_buffers(
        pa.decimal128(38, 6), micro.size, [None, pa.py_buffer(raw.tobytes())]
    )
    return arr.cast(pa.decimal128(38, 18))


def _take(values: Sequence[str | None], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values, S), pa.array(idx))


def string_map(dicts: Sequence[dict[str, str]], idx: np.ndarray) -> pa.MapArray:
    """A map<string,string> column whose row i is dicts[idx[i]], built without Python loops."""
    counts = np.array([len(d) for d in dicts], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    keys = pa.array([k for d in dicts for k in d], S)
    vals = pa.array([v for d in dicts for v in d.values()], S)
    row_counts = counts[idx]
    offsets = np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int32)
    owner = np.repeat(np.arange(idx.size), row_counts)
    flat = starts[idx][owner] + (np.arange(offsets[-1]) - offsets[:-1][owner])
    return pa.MapArray.from_arrays(pa.array(offsets), pc.take(keys, flat), pc.take(vals, flat))


def _struct(fields: Sequence[str], columns: dict[str, pa.Array], n: int) -> pa.StructArray:
    arrays = [columns.get(f, pa.nulls(n, S)) for f in fields]
    return pa.StructArray.from_arrays(arrays, names=list(fields))


def _features(streams: Sequence[UsageStream], si: np.ndarray, n: int) -> pa.StructArray:
    jobs_tier = [("CLASSIC" if s.sku == SKU_JOBS else None) for s in streams]
    sql_tier = [("PRO" if s.sku in (SKU_SQL_PRO, SKU_SQL_SERVERLESS) else None) for s in streams]
    serverless = [s.sku in (SKU_JOBS_SERVERLESS, SKU_SQL_SERVERLESS) for s in streams]
    perf = [("STANDARD" if s.sku == SKU_JOBS_SERVERLESS else None) for s in streams]
    idx = pa.array(si)
    return pa.StructArray.from_arrays(
        [
            pc.take(pa.array(jobs_tier, S), idx),
            pc.take(pa.array(sql_tier, S), idx),
            pa.nulls(n, S),
            pc.take(pa.array(serverless, pa.bool_()), idx),
            pc.take(pa.array([s.photon for s in streams], pa.bool_()), idx),
            pa.nulls(n, S),
            pa.StructArray.from_arrays([pa.nulls(n, S)], names=["connectivity_type"]),
            pc.take(pa.array(perf, S), idx),
        ],
        fields=list(BILLING_USAGE.field("product_features").type),
    )


@dataclass
class UsageBatch:
    """One batch of usage rows plus the list cost per (workspace_id, day index)."""

    table: pa.Table
    cost_by_ws_day: dict[tuple[str, int], float]


def usage_batch(
    streams: Sequence[UsageStream],
    cal: Calendar,
    seed: int,
    batch_no: int,
    anomalies: Sequence[Anomaly] = (),
) -> UsageBatch:
    """Hourly ORIGINAL usage records of `streams`."""
    parts = [_stream_rows(s, cal, seed) for s in streams]
    si = np.repeat(np.arange(len(streams)), [p[0].size for p in parts])
    hour = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    frac = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    run_id = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int64)
    run_start = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
    n = hour.size
    rng = rng_for(seed, 3, batch_no)
    dbu = np.array([s.dbu_per_hour for s in streams])[si]
    growth = 1.0 + 0.15 * hour / max(cal.hours, 1)
    util = np.where(
        np.array([s.pattern != "runs" for s in streams])[si], rng.uniform(0.55, 1.0, n), 1.0
    )
    weekend = np.where(cal.weekend[hour] & (util < 1.0), 0.7, 1.0)
    qty = dbu * frac * growth * util * weekend * rng.lognormal(0.0, 0.12, n)
    day = hour // 24
    ws_ids = np.array([s.workspace_id for s in streams])
    fams = np.array([SKU_FAMILY[s.sku] for s in streams])
    for a in anomalies:
        hit = (ws_ids[si] == a.workspace_id) & (fams[si] == a.sku_family)
        hit &= (day >= a.start_day) & (day < a.start_day + a.days)
        qty = np.where(hit, qty * a.factor, qty)
    micro = np.round(qty * 1e6).astype(np.int64)
    micro = np.maximum(micro, 1)
    prices = dict(LIST_PRICES)
    p_old = np.array([float(prices[s.sku]) for s in streams])[si]
    p_new = np.array(
        [
            float(PRICE_CHANGE[1]) if s.sku == PRICE_CHANGE[0] else float(prices[s.sku])
            for s in streams
        ]
    )[si]
    cost = micro / 1e6 * np.where(hour + 1 >= cal.change_hour, p_new, p_old)
    cost_by: dict[tuple[str, int], float] = {}
    if n:
        keys = ws_ids[si].astype(object) + "|" + day.astype(str).astype(object)
        uniq, inv = np.unique(keys, return_inverse=True)
        sums = np.bincount(inv, weights=cost)
        for k, v in zip(uniq, sums, strict=True):
            w, d = str(k).split("|")
            cost_by[(w, int(d))] = float(v)
    table = _assemble(streams, cal, seed, batch_no, si, hour, run_id, run_start, micro)
    return UsageBatch(table, cost_by)


def _assemble(
    streams: Sequence[UsageStream],
    cal: Calendar,
    seed: int,
    batch_no: int,
    si: np.ndarray,
    hour: np.ndarray,
    run_id: np.ndarray,
    run_start: np.ndarray,
    micro: np.ndarray,
) -> pa.Table:
    n = hour.size
    ts_type = pa.timestamp("us", tz="UTC")
    start_us = cal.start_us + hour.astype(np.int64) * US_PER_HOUR
    days = (start_us // US_PER_DAY).astype(np.int32)
    last_day = int((cal.start_us + (cal.hours - 1) * US_PER_HOUR) // US_PER_DAY)
    ingest = np.minimum(days + 1, last_day).astype(np.int32)
    seq = pc.cast(pa.array(np.arange(n, dtype=np.int64)), S)
    record_id = pc.binary_join_element_wise(f"sim{seed}-u{batch_no:05d}-", seq, "")
    meta_cols: dict[str, pa.Array] = {}
    for f in ("cluster_id", "job_id", "warehouse_id", "node_type", "job_name", "instance_pool_id"):
        vals = [s.metadata.get(f) for s in streams]
        if any(v is not None for v in vals):
            meta_cols[f] = _take(vals, si)
    has_run = run_id >= 0
    if has_run.any():
        rid = pc.cast(pa.array(run_id), S)
        meta_cols["job_run_id"] = pc.if_else(pa.array(has_run), rid, pa.nulls(n, S))
        per_run = np.array([s.per_run_cluster for s in streams])[si]
        run_ts = pa.array(
            cal.start_us + np.floor(run_start * 3600).astype(np.int64) * 1_000_000,
            pa.timestamp("us", tz="UTC"),
        ).cast(pa.timestamp("s", tz="UTC"))
        cid = pc.binary_join_element_wise(
            pc.strftime(run_ts, "%m%d-%H%M%S"),
            pc.utf8_lpad(pc.cast(pa.array(run_id % 10**7), S), 7, "0"),
            "-r",
        )
        meta_cols["cluster_id"] = pc.if_else(
            pa.array(per_run), cid, meta_cols.get("cluster_id", pa.nulls(n, S))
        )
    ident = {f: _take([s.identity.get(f) for s in streams], si) for f in ("run_as", "owned_by")}
    cols = {
        "account_id": pc.take(pa.array([ACCOUNT_ID], S), pa.array(np.zeros(n, np.int64))),
        "workspace_id": _take([s.workspace_id for s in streams], si),
        "record_id": record_id,
        "sku_name": _take([s.sku for s in streams], si),
        "cloud": pc.take(pa.array(["AWS"], S), pa.array(np.zeros(n, np.int64))),
        "usage_start_time": pa.array(start_us, ts_type),
        "usage_end_time": pa.array(start_us + US_PER_HOUR, ts_type),
        "usage_date": pa.array(days, pa.date32()),
        "custom_tags": string_map([s.tags for s in streams], si),
        "usage_unit": pc.take(pa.array(["DBU"], S), pa.array(np.zeros(n, np.int64))),
        "usage_quantity": decimal_from_micro(micro),
        "usage_metadata": _struct(USAGE_METADATA_FIELDS, meta_cols, n),
        "identity_metadata": _struct(("run_as", "created_by", "owned_by", "run_by"), ident, n),
        "record_type": pc.take(pa.array(["ORIGINAL"], S), pa.array(np.zeros(n, np.int64))),
        "ingestion_date": pa.array(ingest, pa.date32()),
        "billing_origin_product": _take([SKU_FAMILY[s.sku] for s in streams], si),
        "product_features": _features(streams, si, n),
        "usage_type": pc.take(pa.array(["COMPUTE_TIME"], S), pa.array(np.zeros(n, np.int64))),
    }
    return pa.Table.from_arrays([cols[f.name] for f in BILLING_USAGE], schema=BILLING_USAGE)


def corrections(
    table: pa.Table, rng: np.random.Generator, count: int, prefix: str
) -> tuple[pa.Table, list[dict[str, str]]]:
    """RETRACTION + RESTATEMENT rows for `count` ORIGINAL rows of `table` (not the last 3 days)."""
    if table.num_rows == 0:
        return table.slice(0, 0), []
    dates = table.column("usage_date").to_numpy()
    eligible = np.flatnonzero(dates <= dates.max() - 3)
    pick = np.sort(rng.choice(eligible, size=min(count, eligible.size), replace=False))
    orig = table.take(pa.array(pick))
    q = np.array(
        [
            int(v * 10**6)
            for v in orig.column("usage_quantity").cast(pa.decimal128(38, 6)).to_pylist()
        ],
        np.int64,
    )
    restated = np.maximum((q * rng.uniform(0.6, 0.9, q.size)).astype(np.int64), 1)
    ids = orig.column("record_id").to_pylist()
    ing = pc.add(orig.column("ingestion_date").cast(pa.int32()), pa.scalar(2, pa.int32())).cast(
        pa.date32()
    )
    out, truth = [], []
    for kind, qty in (("RETRACTION", -q), ("RESTATEMENT", restated)):
        t = orig.set_column(
            orig.schema.get_field_index("usage_quantity"), "usage_quantity", decimal_from_micro(qty)
        )
        t = t.set_column(
            t.schema.get_field_index("record_type"), "record_type", pa.array([kind] * len(ids), S)
        )
        t = t.set_column(
            t.schema.get_field_index("record_id"),
            "record_id",
            pa.array([f"{prefix}-{kind[:4].lower()}-{i}" for i in range(len(ids))], S),
        )
        out.append(t.set_column(t.schema.get_field_index("ingestion_date"), "ingestion_date", ing))
    for i, rid in enumerate(ids):
        truth.append(
            {
                "original": rid,
                "retraction": f"{prefix}-retr-{i}",
                "restatement": f"{prefix}-rest-{i}",
                "original_quantity": f"{q[i] / 1e6:.6f}",
                "restated_quantity": f"{restated[i] / 1e6:.6f}",
            }
        )
    return pa.concat_tables(out), truth
