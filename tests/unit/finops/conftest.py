"""A small hand-made billing dataset in a real local lakehouse (Delta + DuckDB engine).

Expected list costs, computed by hand (USD):
  r1   JOBS 10 DBU × 0.15 (ends 2026-01-09 11:00Z, before the price change)      1.50
  r1   duplicate copy of r1 (double ingestion): counted once                      —
  r10  JOBS  5 × 0.20 (ends exactly at the price change 2026-01-10 00:00Z)        1.00
  r2   JOBS 10 × 0.20 (written as 12:00+02:00 = 10:00Z)                           2.00
  r9   JOBS -1 × 0.20 (an ORIGINAL with a negative quantity: reported)           -0.20
  r3   ALL_PURPOSE 4 × 0.55 on c-ap1, no custom tags (cluster tags apply)         2.20
  r3x  RETRACTION of r3                                                          -2.20
  r3y  RESTATEMENT 3 × 0.55                                                       1.65
  r7   ALL_PURPOSE 1 × 0.55, 01:00+03:00 = 22:00Z on 01-10, usage_date 01-11 (!)  0.55
  r4   SQL 2 × 0.70 on w1, tags project only (untagged: no cost_center/owner)     1.40
  r8   SQL 1 × 0.70 on w2 at 23:30-05:00 = 04:30Z on 01-12, no tags (w2: hiv)     0.70
  r5   PREMIUM_NEW_SKU 7 DBU: no list price — reported, never priced at 0         —
  total                                                                           8.60
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.core.system_tables import SYSTEM_TABLES

from .simulated import simulated

__all__ = ["simulated"]  # the session-scoped simulated estate (see simulated.py)

JOBS = "PREMIUM_JOBS_COMPUTE"
ALL_PURPOSE = "PREMIUM_ALL_PURPOSE_COMPUTE"
SQL = "PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST_N_VIRGINIA"
NEW = "PREMIUM_NEW_SKU"
WS = "1001"
TAGS = {"project": "malaria", "cost_center": "cc1", "owner": "ana"}
PLUS2, PLUS3, MINUS5 = (timezone(timedelta(hours=h)) for h in (2, 3, -5))


def at(day: int, hour: int, minute: int = 0, tz: timezone = UTC) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=tz)


def usage(
    rid: str,
    sku: str,
    qty: str,
    start: datetime,
    *,
    kind: str = "ORIGINAL",
    tags: dict[str, str] | None = None,
    usage_date: date | None = None,
    **meta: str,
) -> dict[str, Any]:
    return {
        "account_id": "acc", "workspace_id": WS, "record_id": rid, "sku_name": sku,
        "cloud": "AWS", "usage_start_time": start, "usage_end_time": start + timedelta(hours=1),
        "usage_date": usage_date or start.astimezone(UTC).date(),
        "custom_tags": tags or {}, "usage_unit": "DBU", "usage_quantity": Decimal(qty),
        "usage_metadata": meta, "identity_metadata": {"run_as": "svc@example.org"},
        "record_type": kind, "ingestion_date": date(2026, 1, 13),
        "billing_origin_product": "JOBS" if sku == JOBS else "SQL" if sku == SQL else "ALL_PURPOSE",
    }  # fmt: skip


def price(sku: str, value: str, start: datetime, end: datetime | None) -> dict[str, Any]:
    return {
        "account_id": "acc", "price_start_time": start, "price_end_time": end, "sku_name": sku,
        "cloud": "AWS", "currency_code": "USD", "usage_unit": "DBU",
        "pricing": {"default": Decimal(value), "promotional": {"default": None},
                    "effective_list": {"default": Decimal(value)}},
    }  # fmt: skip


USAGE_ROWS = [
    usage("r1", JOBS, "10", at(9, 10), tags=TAGS, job_id="j1", cluster_id="c-job1"),
    usage("r1", JOBS, "10", at(9, 10), tags=TAGS, job_id="j1", cluster_id="c-job1"),
    usage("r10", JOBS, "5", at(9, 23), tags=TAGS, job_id="j1", cluster_id="c-job1"),
    usage("r2", JOBS, "10", at(10, 12, tz=PLUS2), tags=TAGS, job_id="j1", cluster_id="c-job1"),
    usage("r9", JOBS, "-1", at(10, 14), tags=TAGS, job_id="j1", cluster_id="c-job1"),
    usage("r3", ALL_PURPOSE, "4", at(10, 8), cluster_id="c-ap1"),
    usage("r3x", ALL_PURPOSE, "-4", at(10, 8), kind="RETRACTION", cluster_id="c-ap1"),
    usage("r3y", ALL_PURPOSE, "3", at(10, 8), kind="RESTATEMENT", cluster_id="c-ap1"),
    usage(
        "r7",
        ALL_PURPOSE,
        "1",
        at(11, 1, tz=PLUS3),
        usage_date=date(2026, 1, 11),
        cluster_id="c-ap1",
    ),
    usage("r4", SQL, "2", at(11, 9), tags={"project": "malaria"}, warehouse_id="w1"),
    usage("r8", SQL, "1", at(11, 23, 30, tz=MINUS5), warehouse_id="w2"),
    usage("r5", NEW, "7", at(11, 3), tags=TAGS),
]
PRICE_ROWS = [
    price(JOBS, "0.15", at(1, 0), at(10, 0)),
    price(JOBS, "0.20", at(10, 0), None),
    price(ALL_PURPOSE, "0.55", datetime(2025, 1, 1, tzinfo=UTC), None),
    price(SQL, "0.70", datetime(2025, 1, 1, tzinfo=UTC), None),
]
CLUSTER_ROWS = [
    {"account_id": "acc", "workspace_id": WS, "cluster_id": "c-ap1", "cluster_name": "ap",
     "tags": {"project": "old"}, "change_time": at(1, 0)},
    {"account_id": "acc", "workspace_id": WS, "cluster_id": "c-ap1", "cluster_name": "ap",
     "tags": {"project": "tb", "cost_center": "cc2", "owner": "bo"}, "change_time": at(5, 0)},
]  # fmt: skip
WAREHOUSE_ROWS = [
    {"warehouse_id": "w2", "workspace_id": WS, "account_id": "acc", "warehouse_name": "w2",
     "tags": {"project": "hiv"}, "change_time": at(2, 0)},
]  # fmt: skip
JOB_ROWS = [
    {"account_id": "acc", "workspace_id": WS, "job_id": "j1", "name": "etl", "tags": {},
     "change_time": at(2, 0)},
]  # fmt: skip
RUN_ROWS = [
    {"account_id": "acc", "workspace_id": WS, "job_id": "j2", "run_id": "run-1",
     "period_start_time": at(10, 8), "period_end_time": at(10, 8, 30),
     "compute_ids": ["c-ap1"], "result_state": "SUCCEEDED"},
]  # fmt: skip


def load(store: DeltaStore, name: str, rows: list[dict[str, Any]]) -> None:
    store.append(name, pa.Table.from_pylist(rows, schema=SYSTEM_TABLES[name]))


def _build(root: Path, rows: bool) -> Path:
    """A project with every system table (and, with `rows`, the hand-made rows above)."""
    layout = ProjectLayout(root).ensure()
    store = DeltaStore.for_project(layout)
    metastore = SqliteMetastore(layout.metastore_path)
    ensure_system_tables(store, metastore)
    metastore.close()
    if rows:
        load(store, "system.billing.usage", USAGE_ROWS)
        load(store, "system.billing.list_prices", PRICE_ROWS)
        load(store, "system.compute.clusters", CLUSTER_ROWS)
        load(store, "system.compute.warehouses", WAREHOUSE_ROWS)
        load(store, "system.lakeflow.jobs", JOB_ROWS)
        load(store, "system.lakeflow.job_run_timeline", RUN_ROWS)
    return root


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Both projects built once per worker (~40 Delta tables created, six loaded); each test
    gets a file copy of one, so tests still never see each other's writes."""
    base = tmp_path_factory.mktemp("finops-templates")
    return {rows: _build(base / f"rows-{rows}" / "proj", rows) for rows in (False, True)}


@pytest.fixture
def engine(
    tmp_path: Path, _templates: dict[bool, Path], request: pytest.FixtureRequest
) -> Iterator[LocalSqlEngine]:
    """A fresh project of empty system tables, or of the hand-made rows when the test also
    asks for `billing` (the same engine: `billing` only names the loaded state)."""
    with copy_of(_templates["billing" in request.fixturenames], tmp_path / "proj") as eng:
        yield eng


@contextmanager
def copy_of(template: Path, root: Path) -> Iterator[LocalSqlEngine]:
    """An engine over a file copy of a template project at `root`."""
    shutil.copytree(template, root)
    layout = ProjectLayout(root)
    metastore = SqliteMetastore(layout.metastore_path)
    eng = LocalSqlEngine(DeltaStore.for_project(layout), metastore)
    try:
        yield eng
    finally:
        eng.close()
        metastore.close()


@pytest.fixture
def billing(engine: LocalSqlEngine) -> LocalSqlEngine:
    """The engine over the hand-made billing dataset (see the module docstring)."""
    return engine
