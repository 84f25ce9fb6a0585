"""An older `system.billing.list_prices` without `pricing.effective_list`: `pricing.default`.

The warehouse answers the first cost query with Databricks' FIELD_NOT_FOUND for the struct
field (a table of a release before `effective_list`); the real SDK over real HTTP gets it, the
engine raises ColumnMissing naming the field, and `ListPriceFallback` runs the query again with
`pricing.default`, says so in its note and keeps doing it without a second failure.
"""

from __future__ import annotations

from lakecrew.adapters.databricks.client import ClientOptions, build_client
from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
from lakecrew.services.finops.prices import NOTE, ListPriceFallback, with_price_note
from lakecrew.testing.databricks_replay import TOKEN, Call, DatabricksReplay, VirtualClock

WH = "wh00oldprices001"
SQL = (
    "SELECT lp.sku_name, lp.pricing.effective_list.default AS price "
    "FROM system.billing.list_prices lp WHERE lp.price_end_time IS NULL"
)
MISSING = {
    "statement_id": "st-1",
    "status": {
        "state": "FAILED",
        "error": {
            "error_code": "BAD_REQUEST",
            "message": "[FIELD_NOT_FOUND] No such struct field `effective_list` in `default`, "
            "`promotional`. SQLSTATE: 42704",
        },
    },
}


def _ok(statement_id: str) -> dict[str, object]:
    cols = [
        {"name": "sku_name", "position": 0, "type_name": "STRING", "type_text": "STRING"},
        {"name": "price", "position": 1, "type_name": "DECIMAL", "type_text": "DECIMAL(38,18)",
         "type_precision": 38, "type_scale": 18},
    ]  # fmt: skip
    return {
        "statement_id": statement_id,
        "status": {"state": "SUCCEEDED"},
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {"column_count": 2, "columns": cols},
            "total_chunk_count": 1,
            "total_row_count": 1,
        },
        "result": {
            "chunk_index": 0,
            "row_offset": 0,
            "row_count": 1,
            "data_array": [["STANDARD_ALL_PURPOSE_COMPUTE", "0.55"]],
        },
    }


def test_an_older_list_prices_is_priced_at_pricing_default_and_says_so() -> None:
    calls = [
        Call("GET", f"/api/2.0/sql/warehouses/{WH}", {"id": WH, "state": "RUNNING"}),
        Call("POST", "/api/2.0/sql/statements", MISSING),
        Call("POST", "/api/2.0/sql/statements", _ok("st-2"), times=2),
    ]
    with DatabricksReplay(calls) as replay:
        client = build_client(host=replay.url, token=TOKEN, options=ClientOptions(),
                              clock=VirtualClock())  # fmt: skip
        engine = ListPriceFallback(DatabricksSqlEngine(client, WH))
        assert engine.note is None
        rows = engine.fetch(SQL).as_dicts()
        again = engine.fetch(SQL).as_dicts()
        sent = [r.body["statement"] for r in replay.requests_to("POST", "/api/2.0/sql/statements")]
    assert rows == again and str(rows[0]["price"]).startswith("0.55")
    assert "effective_list" in sent[0]
    assert all("lp.pricing.default AS price" in s for s in sent[1:]) and len(sent) == 3
    assert engine.note == NOTE
    assert with_price_note(engine, "warehouse x").endswith("priced at pricing.default "
                                                          "(list prices without effective-list "
                                                          "adjustments)")  # fmt: skip
