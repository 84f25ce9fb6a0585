"""The silver step on real batches: coercion, dedupe, expectations, quarantine, masking, counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import SecretStr

from lakecrew.core.errors import DataError
from lakecrew.services.pipelines.loader import load_pipeline_spec, load_pipeline_text
from lakecrew.services.pipelines.silver import build_silver
from lakecrew.services.privacy.masking import Tokenizer
from lakecrew.services.quality.engine import CheckContext
from lakecrew.services.quality.results import results_table
from lakecrew.testing.rawcsv import read_text_csv

ROOT = Path(__file__).parents[3]
FIX = ROOT / "tests" / "fixtures" / "quality"
EXAMPLE = ROOT / "src/lakecrew/services/pipelines/examples/lassa_weekly.yaml"
NOW = datetime(2026, 7, 1, tzinfo=UTC)
KEY = "unit-test-hmac-key-0123456789abcdef"


def test_lassa_batch_reconciles_and_quarantines_with_reasons() -> None:
    spec = load_pipeline_spec(EXAMPLE, "dev").spec
    raw = read_text_csv(FIX / "lassa_biodivhealth_sample.csv")
    raw = pa.concat_tables([raw, raw.slice(1, 2)])  # a re-delivered pair of rows
    out = build_silver(raw, spec.silver, CheckContext(now=NOW), None, table_name="c.silver.t")
    r = out.reconciliation
    assert r.balanced and r.bronze_rows == raw.num_rows
    assert r.duplicate_rows >= 2
    totals = raw.column("states").to_pylist().count("Total")
    assert totals >= 1 and r.dropped_rows == totals  # `Total` rows are dropped, and counted
    states = out.silver.column("state").to_pylist()
    assert "Total" not in states and "Jos" not in states and "Cameroon" not in states
    q = out.quarantine
    assert sorted(q.column("states").to_pylist()) == ["Cameroon", "Jos"]
    assert set(q.column("_dq_rules").to_pylist()) == {"known_state"}
    assert out.silver.schema.field("year").type == pa.int32()
    assert set(out.silver.column("year").to_pylist()) <= set(range(2020, 2027))
    rules = {x.rule: x for x in out.results}
    assert rules["reconcile_counts"].status == "passed"
    assert rules["coerce.deaths"].failed_count == 0
    assert rules["batch_size_normal"].status == "skipped"
    out.raise_for_fatal()  # the unique rule holds after dedupe
    dq = results_table(
        out.results,
        run_id="run-1",
        pipeline="lassa_weekly",
        table_name="lassa_dev.silver.lassa_weekly",
        at=NOW,
    )
    assert dq.num_rows == len(out.results)


def test_coercion_failures_go_to_quarantine_and_fail_rules_raise() -> None:
    spec = load_pipeline_spec(EXAMPLE, "dev").spec
    raw = read_text_csv(FIX / "lassa_biodivhealth_sample.csv").slice(0, 5)
    bad = pa.table({**{c: raw.column(c) for c in raw.column_names}})
    deaths = bad.column("deaths").to_pylist()
    deaths[1] = "6.5"
    bad = bad.set_column(bad.column_names.index("deaths"), "deaths", pa.array(deaths))
    out = build_silver(bad, spec.silver, CheckContext(now=NOW), None, table_name="t")
    assert out.quarantine.num_rows == 1
    assert out.quarantine.column("_dq_rules").to_pylist() == ["coerce.deaths"]
    assert out.quarantine.column("deaths").to_pylist() == ["6.5"]  # raw text kept for fixing
    assert out.reconciliation.check().silver_rows == 4
    strict = spec.silver.model_copy(update={"dedupe": None})
    dup = pa.concat_tables([raw, raw.slice(0, 1)])
    with pytest.raises(DataError, match="one_row_per_state_week"):
        build_silver(dup, strict, CheckContext(now=NOW), None, table_name="t").raise_for_fatal()


SITES_SPEC = (
    EXAMPLE.read_text().split("silver:")[0]
    + """silver:
  table: silver.facilities
  description: Health facilities with contact numbers.
  classification: Restricted
  columns:
    - {name: uuid, type: string}
    - {name: name, type: string}
    - {name: contact_number, type: string, pii: phone, mask: partial}
    - {name: contact_token, source: contact_number, type: string, pii: phone, mask: tokenize}
    - {name: changeset_user, type: string, pii: username, mask: tokenize}
    - {name: changeset_day, source: changeset_timestamp, type: timestamp, pii: dob,
       mask: generalize_year}
    - {name: lat, type: double, pii: geo, mask: coarsen_geo, grid: 0.5}
    - {name: lon, type: double, pii: geo, mask: drop}
  expectations:
    - {name: phone_format, type: regex, column: contact_number, pattern: "\\\\+[0-9 ]{8,16}"}
  quarantine: {table: silver.facilities_quarantine}
"""
)


def test_healthsites_pii_is_masked_in_silver_and_tokenized_in_quarantine() -> None:
    spec = load_pipeline_text(SITES_SPEC, "dev").spec.silver
    raw = read_text_csv(FIX / "healthsites_contacts_sample.csv")
    phones = raw.column("contact_number").to_pylist()
    phones[0] = "call the matron"  # fails the regex → quarantined
    raw = raw.set_column(
        raw.column_names.index("contact_number"), "contact_number", pa.array(phones)
    )
    assert spec.column_tags()["contact_number"] == {"pii": "phone", "masking": "partial"}
    assert "lon" not in spec.column_tags() and "uuid" not in spec.column_tags()
    tok = Tokenizer(SecretStr(KEY))
    out = build_silver(raw, spec, CheckContext(now=NOW), tok, table_name="t")
    assert out.reconciliation.check().quarantined_rows == 1
    silver = out.silver
    assert "lon" not in silver.column_names
    assert silver.schema.field("changeset_day").type == pa.int32()
    everything = str(silver.to_pylist()) + str(out.quarantine.to_pylist()) + str(out.results)
    users = {u for u in raw.column("changeset_user").to_pylist() if u}
    for original in [*phones, *users]:
        assert original not in everything
    assert KEY not in everything
    assert all(
        v.endswith(p[-2:])
        for v, p in zip(silver.column("contact_number").to_pylist(), phones[1:], strict=True)
    )
    assert out.quarantine.column("contact_number")[0].as_py().startswith("tok_")
    assert "lon" not in out.quarantine.column_names
    assert {round(v * 2, 9) % 1 for v in silver.column("lat").to_pylist()} == {0.0}
    assert (
        silver.column("contact_token").to_pylist()
        == tok.tokenize(pa.array(phones[1:]), "phone").to_pylist()
    )
