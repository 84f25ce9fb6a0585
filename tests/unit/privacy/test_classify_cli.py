"""`lakecrew classify`: West African formats in a CSV, a catalog table, JSON schema, no values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from lakecrew.faces.cli.main import app
from lakecrew.services.privacy.classify import classify_table, propose_column
from lakecrew.services.privacy.kinds import PiiKind

SCHEMA = Path(__file__).parents[3] / "src/lakecrew/faces/cli/schemas/classify.schema.json"
ROWS = [
    # household, phone, caregiver_name, nin, ghana_card, email, dob, gps, visit_date, facility
    (
        "HH-001",
        "+234 803 555 0199",
        "Aminata Kamara",
        "12345678901",
        "GHA-123456789-0",
        "aminata@example.org",
        "1990-04-12",
        "6.524412, 3.379205",
        "2026-01-03",
        "Bo Hospital",
    ),
    (
        "HH-002",
        "08035550177",
        "Kofi Mensah",
        "23456789012",
        "GHA-987654321-5",
        "kofi.m@example.com",
        "12/05/1985",
        "7.946527, -1.023194",
        "2026-01-04",
        "Kenema Clinic",
    ),
    (
        "HH-003",
        "024 123 4567",
        "Fatmata Sesay",
        "34567890123",
        "GHA-555444333-2",
        "f.sesay@example.net",
        "2001-11-30",
        "8.484398, -13.234413",
        "2026-01-05",
        "Connaught",
    ),
    (
        "HH-004",
        "+232 76 123456",
        "James Flomo",
        "45678901234",
        "GHA-111222333-9",
        "jflomo@example.org",
        "1978-02-01",
        "6.300774, -10.797160",
        "2026-01-06",
        "JFK Medical",
    ),
    (
        "HH-005",
        "0770 123 456",
        "Ngozi Okafor",
        "56789012345",
        "GHA-222333444-1",
        "ngozi@example.org",
        "1999-07-21",
        "9.076479, 7.398574",
        "2026-01-07",
        "Garki Hospital",
    ),
]
HEADER = "household,phone,caregiver_name,nin,ghana_card,contact,dob,gps,visit_date,facility"


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "households.csv"
    lines = [HEADER] + [",".join(f'"{v}"' for v in row) for row in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--output", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_csv_proposals_with_confidence_and_no_values(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    out = _json("classify", "--csv", str(_csv(tmp_path)), "--project", str(tmp_path))
    errors = list(Draft202012Validator(json.loads(SCHEMA.read_text())).iter_errors(out))
    assert not errors, errors[0].message
    got = {i["column"]: i for i in out["items"]}
    expected = {
        "phone": "phone",
        "caregiver_name": "person_name",
        "nin": "national_id",
        "ghana_card": "national_id",
        "contact": "email",
        "dob": "dob",
        "gps": "geo",
        "household": "none",
        "visit_date": "none",  # a date is not a date of birth unless the name says so
        "facility": "none",  # name-shaped values alone are not person names
    }
    assert {c: got[c]["kind"] for c in expected} == expected
    assert got["phone"]["matched"] == 5 and got["phone"]["sampled"] == 5
    assert got["phone"]["confidence"] >= 0.95 and got["contact"]["reason"] == "values"
    assert out["meta"]["classification"] == "Restricted" and out["meta"]["rows_read"] == 5
    text = json.dumps(out)
    for row in ROWS:
        for value in row[1:8]:
            assert value not in text


def test_name_alone_is_less_sure_than_name_and_values() -> None:
    empty = propose_column("mobile_number", pa.array([None, None], pa.string()))
    contradicted = propose_column("mobile_number", pa.array(["n/a", "unknown"]))
    confirmed = propose_column("mobile_number", pa.array(["08035550199", "0803 555 0100"]))
    assert empty.pii == contradicted.pii == confirmed.pii == PiiKind.PHONE
    assert contradicted.confidence < empty.confidence < confirmed.confidence
    for column in ("head_name", "respondent_name", "household_head"):  # survey forms' words
        head = propose_column(column, pa.array(["Amina Bello", "Kwame Mensah"]))
        assert head.pii == PiiKind.PERSON_NAME and head.matched == 2
    assert propose_column("name", pa.array(["Garki Hospital"])).pii == PiiKind.NONE
    lat = classify_table(pa.table({"latitude": [6.524412, 7.946527], "weight": [3.1, 2.9]}))
    assert lat.pii_columns() == {"latitude": PiiKind.GEO}


def test_bad_input_is_one_line_with_where(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n1,2,3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", "--csv", str(ragged), "-p", str(tmp_path)])
    assert result.exit_code == 1 and f"{ragged}:3: 3 fields" in result.output
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"a,b\n\x00\x01")
    result = CliRunner().invoke(app, ["classify", "--csv", str(binary), "-p", str(tmp_path)])
    assert result.exit_code == 1 and "binary file" in result.output
    result = CliRunner().invoke(app, ["classify", "-p", str(tmp_path)])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["classify", "a.b", "-p", str(tmp_path)])
    assert result.exit_code == 2 and "catalog.schema.table" in result.output


def test_a_catalog_table_through_the_engine(seed7_project: Path) -> None:
    out = _json("classify", "system.access.audit", "--project", str(seed7_project))
    got = {i["column"]: i["kind"] for i in out["items"]}
    assert got["source_ip_address"] == "none" and got["event_id"] == "none"
    assert out["meta"]["source"] == "system.access.audit" and out["meta"]["rows_read"] > 0


def test_a_column_the_catalog_masks_is_judged_by_its_name(seed7_project: Path) -> None:
    from lakecrew.core.column_masks import PHONE_PARTIAL
    from lakecrew.wiring.context import Context

    table = "lassa_dev.silver.households_masked"
    phones = ["+234 803 555 0199", "08035550177"]
    with Context.open(seed7_project, writable=True) as lc:
        lc.sql.save_table(table, pa.table({"mobile": phones, "head_name": ["Amina Bello"] * 2}))
        lc.metastore.set_column(table, "mobile", mask=PHONE_PARTIAL)
    out = _json("classify", table, "--project", str(seed7_project))
    got = {i["column"]: i for i in out["items"]}
    assert out["meta"]["masked_columns"] == ["mobile"]
    # the mask's output is not read as evidence against the name: name alone, nothing sampled
    assert (got["mobile"]["kind"], got["mobile"]["reason"], got["mobile"]["sampled"]) == (
        "phone",
        "name",
        0,
    )
    assert got["mobile"]["confidence"] == 0.6 and got["head_name"]["matched"] == 2
    # phase 3 applies a confident proposal nobody confirmed yet (plan-first below it)
    low = _json("classify", table, "--apply", "--phase", "1", "--project", str(seed7_project))
    (act, note) = low["meta"]["actions"]
    assert note == {"note": "below --min-confidence 0.8: mobile"}
    assert (act["column"], act["status"]) == ("head_name", "skipped")
    done = _json("classify", table, "--apply", "--phase", "3", "--project", str(seed7_project))
    (act, _) = done["meta"]["actions"]
    assert (act["column"], act["status"]) == ("head_name", "applied")
    again = _json("classify", table, "--apply", "--phase", "3", "--project", str(seed7_project))
    assert sorted(again["meta"]["masked_columns"]) == ["head_name", "mobile"]
    assert [a for a in again["meta"]["actions"] if "column" in a] == []
    result = CliRunner().invoke(app, ["rollback", act["action_id"], "-p", str(seed7_project)])
    assert result.exit_code == 0, result.output
    with Context.open(seed7_project) as lc:
        assert lc.metastore.get_table(table).column("head_name").mask is None  # type: ignore[union-attr]
