"""Behaviour of the SqlEngine port on the local engine and on a Databricks SQL warehouse."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakecrew.adapters.databricks.client import build_client
from lakecrew.adapters.databricks.errors import WarehouseUnavailable
from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
from lakecrew.adapters.local.layout import ProjectLayout
from lakecrew.adapters.local.sql_engine import LocalSqlEngine
from lakecrew.core.errors import NotFound, Transient
from lakecrew.testing.databricks_replay import (
    TOKEN,
    Call,
    DatabricksReplay,
    Request,
    VirtualClock,
    load_calls,
)

from .conftest import FIXTURES, OPTIONS

WID = "1a2b3c4d5e6f7a8b"
QUERY = (
    "SELECT id, name, amount, seen_at FROM main.sales.orders WHERE amount > :min_amount ORDER BY id"
)
ORDERS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "name": ["clinic a", None, "clinic c", "clinic d"],
        "amount": pa.array(
            [Decimal("10.50"), Decimal("7.25"), Decimal("99.99"), Decimal("1.00")],
            pa.decimal128(10, 2),
        ),
        "seen_at": pa.array(
            [
                datetime(2025, 3, 12, 12, tzinfo=UTC),
                datetime(2025, 3, 12, 13, 30, tzinfo=UTC),
                None,
                datetime(2025, 3, 12, 14, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
    }
)
EXPECTED = [
    (1, "clinic a", Decimal("10.50"), datetime(2025, 3, 12, 12, tzinfo=UTC)),
    (2, None, Decimal("7.25"), datetime(2025, 3, 12, 13, 30, tzinfo=UTC)),
    (3, "clinic c", Decimal("99.99"), None),
]


def _dbx(stack: ExitStack, scenario: str, **engine_kw: Any) -> tuple[DatabricksSqlEngine, Any]:
    replay = stack.enter_context(DatabricksReplay(load_calls(FIXTURES / scenario)))
    client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=VirtualClock())
    return DatabricksSqlEngine(client, WID, **engine_kw), replay


@pytest.fixture(params=["local", "databricks"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with ExitStack() as stack:
        if request.param == "local":
            eng = LocalSqlEngine.open(ProjectLayout(tmp_path / "p"), writable=True)
            stack.callback(eng.close)
            eng.save_table("main.sales.orders", ORDERS)
            yield eng
        else:
            yield _dbx(stack, "sql_query")[0]


def test_same_query_same_typed_rows(engine: Any) -> None:
    result = engine.fetch(QUERY, {"min_amount": Decimal("5.00")})
    assert result.columns == ("id", "name", "amount", "seen_at")
    assert list(result.rows) == EXPECTED
    assert result.rows[0][3].tzinfo is not None


def test_databricks_sends_the_sql_unchanged_with_typed_parameters() -> None:
    """Golden SQL for the Databricks engine: the text is not rewritten, values never spliced."""
    with ExitStack() as stack:
        eng, replay = _dbx(stack, "sql_query")
        table = eng.fetch_arrow(QUERY, {"min_amount": Decimal("5.00")})
        [sent] = replay.requests_to("POST", "/api/2.0/sql/statements")
    assert sent.body["statement"] == QUERY and "5.00" not in sent.body["statement"]
    assert sent.body["parameters"] == [
        {"name": "min_amount", "type": "DECIMAL(38,18)", "value": "5.00"}
    ]
    assert table.schema.field("amount").type == pa.decimal128(10, 2)
    polls = replay.requests_to("GET", "/api/2.0/sql/statements/01f0-st-1")
    assert len(polls) == 2  # PENDING -> RUNNING -> SUCCEEDED
    assert replay.requests_to("GET", "/api/2.0/sql/statements/01f0-st-1/result/chunks/1")


def test_stopped_warehouse_is_a_clear_error() -> None:
    with ExitStack() as stack:
        eng, replay = _dbx(stack, "sql_stopped")
        with pytest.raises(WarehouseUnavailable, match="STOPPED") as info:
            eng.fetch("SELECT 1")
        assert not replay.requests_to("POST", "/api/2.0/sql/statements")
    assert "start it" in str(info.value)


def test_statement_that_runs_too_long_is_cancelled() -> None:
    with ExitStack() as stack:
        eng, replay = _dbx(stack, "sql_timeout", timeout_seconds=30, poll_seconds=5)
        with pytest.raises(Transient, match="cancelled"):
            eng.fetch("SELECT count(*) FROM system.billing.usage")
        assert len(replay.requests_to("POST", "/api/2.0/sql/statements/01f0-st-2/cancel")) == 1


def test_failed_statement_missing_table_is_not_found() -> None:
    with ExitStack() as stack:
        eng, _ = _dbx(stack, "sql_failed")
        with pytest.raises(NotFound, match="TABLE_OR_VIEW_NOT_FOUND"):
            eng.fetch("SELECT * FROM main.sales.nope")


def test_external_links_arrow_stream_without_auth_header() -> None:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, ORDERS.schema) as writer:
        writer.write_table(ORDERS)
    arrow_bytes = sink.getvalue()
    with ExitStack() as stack:
        replay = stack.enter_context(DatabricksReplay())
        link = f"{replay.url}/external/chunk-0"

        def answer(req: Request) -> Any:
            if req.path == "/external/chunk-0":
                return 200, {}, arrow_bytes, "application/vnd.apache.arrow.stream"
            if req.path == f"/api/2.0/sql/warehouses/{WID}":
                return 200, {}, json.dumps({"id": WID, "state": "RUNNING"}).encode(), "x/json"
            return None

        manifest = json.loads(
            (FIXTURES / "sql_query" / "04_GET_statement_succeeded.json").read_text()
        )
        body = {
            "statement_id": "s-ext",
            "status": {"state": "SUCCEEDED"},
            "manifest": {**manifest["body"]["manifest"], "format": "ARROW_STREAM"},
            "result": {"external_links": [{"chunk_index": 0, "external_link": link}]},
        }
        replay.handlers.append(answer)
        replay.calls.append(
            Call("POST", "/api/2.0/sql/statements", body, expect={"format": "ARROW_STREAM"})
        )
        client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=VirtualClock())
        eng = DatabricksSqlEngine(client, WID, disposition="EXTERNAL_LINKS")
        table = eng.fetch_arrow("SELECT * FROM main.sales.orders")
        [download] = [r for r in replay.seen if r.path == "/external/chunk-0"]
    assert table.num_rows == 4 and table.column("amount").to_pylist()[0] == Decimal("10.50")
    assert download.auth_scheme is None
