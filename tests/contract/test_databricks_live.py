"""The read side of the contract against a real workspace (`live` marker).

Skipped unless DATABRICKS_HOST and a credential (DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID with
DATABRICKS_CLIENT_SECRET, or DATABRICKS_CONFIG_PROFILE) are set. Read-only: it never mutates.
Set DATABRICKS_WAREHOUSE_ID to also run a parameterised statement.
"""

from __future__ import annotations

import os
from itertools import islice

import pytest

from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.ports.workspace import ObjectKind

_CREDS = (
    os.environ.get("DATABRICKS_TOKEN")
    or os.environ.get("DATABRICKS_CONFIG_PROFILE")
    or (os.environ.get("DATABRICKS_CLIENT_ID") and os.environ.get("DATABRICKS_CLIENT_SECRET"))
)
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("DATABRICKS_HOST") and _CREDS),
        reason="needs DATABRICKS_HOST and credentials",
    ),
]


def test_live_listing_and_get() -> None:
    ws = DatabricksWorkspace("live", build_client())
    for kind in (ObjectKind.CLUSTER, ObjectKind.JOB, ObjectKind.WAREHOUSE):
        first = list(islice(ws.list(kind), 3))
        for obj in first:
            assert ws.get(kind, obj.object_id).object_id == obj.object_id


@pytest.mark.skipif(not os.environ.get("DATABRICKS_WAREHOUSE_ID"), reason="no warehouse id")
def test_live_statement_with_parameters() -> None:
    eng = DatabricksSqlEngine(build_client(), os.environ["DATABRICKS_WAREHOUSE_ID"])
    assert eng.fetch("SELECT :n + 1 AS x", {"n": 41}).scalar() == 42
