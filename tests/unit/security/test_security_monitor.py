"""The security monitor on hand-made system.access.audit rows (real local SQL engine)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.adapters.local.system_tables import ensure_system_tables
from lakecrew.core.findings import EvaluationContext
from lakecrew.core.pack import Security
from lakecrew.core.system_tables import ACCESS_AUDIT
from lakecrew.ports.clock import FixedClock
from lakecrew.services.policy.engine import Engine
from lakecrew.services.policy.loader import load_pack
from lakecrew.services.security import detectors
from lakecrew.services.security.monitor import SecurityMonitor

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WS, NAME = "1234567890123456", "malaria-prod-westafrica"
SP = "sp-malaria-etl"


class Audit:
    """Builds audit rows in the system table's exact schema."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        when: datetime,
        who: str,
        service: str,
        action: str,
        status: int = 200,
        **params: str,
    ) -> None:
        n = len(self.rows)
        self.rows.append(
            {
                "account_id": "acc",
                "workspace_id": WS,
                "version": "2.0",
                "event_time": when,
                "event_date": when.date(),
                "source_ip_address": "10.0.0.1",
                "user_agent": "test",
                "session_id": None,
                "user_identity": {"email": who, "subject_name": None},
                "service_name": service,
                "action_name": action,
                "request_id": f"r{n}",
                "request_params": params,
                "response": {"status_code": status, "error_message": None, "result": None},
                "audit_level": "WORKSPACE_LEVEL",
                "event_id": f"e{n}",
                "identity_metadata": None,
            }
        )

    def normal_history(self, days: int = 80) -> None:
        """An ETL principal reading its scope at 06:30/12:30/18:30, small downloads by a
        person in office hours, one mistyped password every few days."""
        for d in range(days, 0, -1):
            base = (NOW - timedelta(days=d)).replace(hour=0, minute=0)
            for h in (6, 12, 18):
                self.add(base + timedelta(hours=h, minutes=30), SP, "secrets", "getSecret",
                         scope="malaria-etl", key="dhis2")  # fmt: skip
            self.add(base + timedelta(hours=10), "ana@x.example", "databrickssql",
                     "downloadQueryResult", sizeBytes="184320")  # fmt: skip
            if d % 4 == 0:
                self.add(base + timedelta(hours=9), "bob@x.example", "accounts", "login", 401)


@pytest.fixture
def sql(tmp_path: Path) -> Iterator[tuple[LocalSqlEngine, DeltaStore]]:
    layout = ProjectLayout(tmp_path / "proj").ensure()
    store = DeltaStore.for_project(layout)
    metastore = SqliteMetastore(layout.metastore_path)
    ensure_system_tables(store, metastore)
    eng = LocalSqlEngine(store, metastore)
    yield eng, store
    eng.close()
    metastore.close()


def run(sql: tuple[LocalSqlEngine, DeltaStore], audit: Audit) -> list[Any]:
    eng, store = sql
    store.append("system.access.audit", pa.Table.from_pylist(audit.rows, schema=ACCESS_AUDIT))
    monitor = SecurityMonitor(eng, FixedClock(NOW), load_pack().pack.security)
    return monitor.resources(WS, NAME)


def test_normal_traffic_raises_nothing(sql: tuple[LocalSqlEngine, DeltaStore]) -> None:
    audit = Audit()
    audit.normal_history()
    assert run(sql, audit) == []


def test_failed_access_burst_is_one_incident_per_day(
    sql: tuple[LocalSqlEngine, DeltaStore],
) -> None:
    audit = Audit()
    audit.normal_history()
    start = NOW - timedelta(days=5, hours=7)
    for i in range(30):
        audit.add(start + timedelta(seconds=20 * i), "bot@x.example", "accounts", "login", 401)
    for i in range(5):  # below the floor: another principal's few failures the same day
        audit.add(start + timedelta(minutes=i), "eve@x.example", "unityCatalog", "getTable", 403)
    [res] = run(sql, audit)
    assert res.resource_type == "audit"
    assert res.resource_id == f"security.failed_access:{NAME}:{start.date().isoformat()}"
    [sig] = res.data["signals"]
    assert sig["principals"] == ["bot@x.example"] and sig["events"] == 30


def test_secret_reads_new_reader_off_hours_and_volume(
    sql: tuple[LocalSqlEngine, DeltaStore],
) -> None:
    audit = Audit()
    audit.normal_history()
    night = (NOW - timedelta(days=3)).replace(hour=2, minute=5)
    for i in range(12):
        audit.add(night + timedelta(minutes=2 * i), "mallory@x.example", "secrets", "getSecret",
                  scope="malaria-etl", key="warehouse-password")  # fmt: skip
    # a new engineer reading one secret once in office hours is NOT an incident (1 indicator)
    audit.add(NOW - timedelta(days=2, hours=-1), "newbie@x.example", "secrets", "getSecret",
              scope="malaria-etl", key="db")  # fmt: skip
    [res] = run(sql, audit)
    assert res.resource_id == f"security.secret_access_anomaly:{NAME}:{night.date()}"
    [sig] = res.data["signals"]
    assert sig["principals"] == ["mallory@x.example"] and sig["scopes"] == ["malaria-etl"]
    assert len(sig["reasons"]) == 3
    assert "warehouse-password" not in str(res.data)  # secret key names never reach evidence


def test_large_downloads(sql: tuple[LocalSqlEngine, DeltaStore]) -> None:
    audit = Audit()
    audit.normal_history()
    evening = (NOW - timedelta(days=9)).replace(hour=21)
    for i in range(3):
        audit.add(evening + timedelta(minutes=i), "ana@x.example", "databrickssql",
                  "downloadLargeResults", sizeBytes=str(3 * 2**30))  # fmt: skip
    [res] = run(sql, audit)
    assert res.resource_id == f"security.large_download:{NAME}:{evening.date()}"
    [sig] = res.data["signals"]
    assert sig["events"] == 4  # the three large ones and her usual small one that day
    assert any("a result of" in r for r in sig["reasons"])


def test_old_incidents_outside_the_window_are_not_reported(
    sql: tuple[LocalSqlEngine, DeltaStore],
) -> None:
    audit = Audit()
    audit.normal_history()
    old = NOW - timedelta(days=45)
    for i in range(30):
        audit.add(old + timedelta(seconds=5 * i), "bot@x.example", "accounts", "login", 401)
    assert run(sql, audit) == []


def test_robust_baseline_raises_the_limit_for_a_noisy_principal() -> None:
    t0 = NOW - timedelta(days=40)
    rows = [
        {"workspace_id": WS, "principal": "scanner", "hour": t0 + timedelta(days=d),
         "failures": 30 + d % 3, "first_at": t0 + timedelta(days=d),
         "last_at": t0 + timedelta(days=d)}
        for d in range(40)
    ]  # fmt: skip
    cfg = Security().failed_access
    since = NOW - timedelta(days=30)
    assert detectors.failed_access(rows, cfg, since, 60) == []  # usual for this principal
    spike = dict(rows[-1], failures=200, hour=NOW - timedelta(hours=1))
    [inc] = detectors.failed_access([*rows, spike], cfg, since, 60)
    assert inc.events == 200


def test_signals_become_findings_with_the_rule_ids() -> None:
    from lakecrew.core.resources import Resource

    pack = load_pack().pack
    res = Resource(
        "audit",
        "security.large_download:w:2026-02-01",
        NAME,
        {"signals": [{"code": "security.large_download", "events": 3}]},
    )
    ctx = EvaluationContext(workspace=NAME, environment="prod", now=NOW)
    found = Engine(pack).evaluate([res], ctx).findings
    assert [(f.rule_id, f.severity) for f in found] == [("security.large_download", "critical")]
