"""A metastore, a Delta ledger and the catalog executor at a fixed clock (real local adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.adapters.local.metastore import SqliteMetastore
from lakecrew.ports.catalog import ColumnInfo, TableInfo
from lakecrew.ports.clock import FixedClock
from lakecrew.services.governance.executor import CatalogExecutor
from lakecrew.services.policy.actions.catalog_base import UcPorts

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TABLE = "lassa_prod.bronze.cases_raw"


@dataclass
class Gov:
    ms: SqliteMetastore
    ledger: DeltaLedgerStore
    clock: FixedClock
    ex: CatalogExecutor

    @property
    def uc(self) -> UcPorts:
        return self.ex.uc


def cases_table(owner: str = "") -> TableInfo:
    return TableInfo(
        full_name=TABLE,
        owner=owner,
        properties={"classification": "Restricted", "steward": "lassa-steward"},
        columns=(
            ColumnInfo("case_id", "string", position=0),
            ColumnInfo("patient_phone", "string", position=1, tags={"pii": "phone"}),
            ColumnInfo("dob", "date", position=2, tags={"pii": "dob"}),
            ColumnInfo("state", "string", position=3),
        ),
    )


@pytest.fixture
def gov(tmp_path: Path) -> Gov:
    clock = FixedClock(T0)
    ms = SqliteMetastore(tmp_path / "metastore.db", clock=clock)
    ms.register_table(cases_table())
    ledger = DeltaLedgerStore(DeltaStore(tmp_path / "lakehouse"))
    ex = CatalogExecutor(UcPorts(ms, ms, ms), ledger, clock)
    yield Gov(ms, ledger, clock, ex)
    ms.close()
