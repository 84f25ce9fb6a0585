"""Pipelines over real public-health files nobody here wrote (tests/fixtures, licences there).

Each expectation is computed independently from the file (``csv``/``json``), then compared with
what the pipeline did: counts reconcile (bronze = silver + quarantined + duplicates), the rows
in quarantine are exactly those the rules name, with the right reasons, and personal data
(facility phones, OSM and DHIS2 user names) never appears in silver or quarantine.

- NCDC Lassa fever by state (fbranda, CC BY 4.0): literal ``NA``, deaths above confirmed cases,
  latitude equal to longitude;
- NCDC Lassa fever by state (BioDivHealth, CC0): two-digit years, counts written as floats,
  ``Total`` rows and non-states;
- eHealth Africa Sierra Leone villages of Bo (Apache-2.0): repeated localities;
- healthsites.io facilities (ODbL): phone numbers and OSM user names;
- DHIS2 ``dataValueSets`` (Sierra Leone demo, MIT): user names in ``storedBy``.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.sources import csvstream
from lakecrew.services.privacy.kinds import PiiKind
from lakecrew.services.privacy.phone_mask import mask_phone
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

FIX = Path(__file__).parents[2] / "fixtures"
FBRANDA = FIX / "quality" / "lassa_fbranda_by_state_sample.csv"
BIODIV = FIX / "quality" / "lassa_biodivhealth_sample.csv"
HEALTHSITES = FIX / "quality" / "healthsites_contacts_sample.csv"
BO = FIX / "real" / "eha_sl_bo_village.csv"
DHIS2 = FIX / "dhis2" / "dataValueSets_sl_demo_v2.40_1.json"
STATES = [
    "Abia", "Adamawa", "Akwa Ibom", "Anambra", "Bauchi", "Bayelsa", "Benue", "Borno",
    "Cross River", "Delta", "Ebonyi", "Edo", "Ekiti", "Enugu", "FCT", "Gombe", "Imo", "Jigawa",
    "Kaduna", "Kano", "Katsina", "Kebbi", "Kogi", "Kwara", "Lagos", "Nasarawa", "Niger", "Ogun",
    "Ondo", "Osun", "Oyo", "Plateau", "Rivers", "Sokoto", "Taraba", "Yobe", "Zamfara",
]  # fmt: skip

HEAD = """\
version: 1
name: {name}
description: Real public data under test.
owner: data-engineering@example.org
steward: dq-steward@example.org
tags: {{cost_center: cc-1, project: tests, owner: data-engineering, environment: "${{env.name}}"}}
schedule: {{cron: "0 0 6 ? * MON", timezone: UTC}}
retries: {{max_retries: 0}}
notifications: {{on_failure: [data-eng-oncall]}}
environments:
  dev: {{catalog: real_dev, paths: {{raw: ../incoming/{name}}}}}
  qa: {{catalog: real_qa, paths: {{raw: /Volumes/real_qa/raw}}}}
  prod: {{catalog: real_prod, paths: {{raw: /Volumes/real_prod/raw}}}}
privacy: {{key_scope: tests, key_name: pii_hmac_key}}
bronze: {{table: bronze.{name}_raw, description: As received.}}
"""
QUARANTINE = "  quarantine: {{table: silver.{name}_quarantine}}\n  max_quarantine_rate: 1\n"

SPECS = {
    "fbranda": (
        FBRANDA,
        """\
source: {type: csv, options: {path: "${env.paths.raw}"}}
silver:
  table: silver.fbranda
  description: Lassa fever by state and week.
  classification: Public
  columns:
    - {name: week, source: EpiWeek, type: int}
    - {name: week_end, source: DateMax, type: date}
    - {name: state, source: States, type: string}
    - {name: lat, source: Lat, type: double}
    - {name: lon, source: Lon, type: double}
    - {name: confirmed, source: ConfCases, type: int}
    - {name: deaths, source: ConfDeaths, type: int}
    - {name: cfr, source: CFR, type: double}
  expectations:
    - {name: state_present, type: not_null, columns: [state], action: quarantine}
    - {name: deaths_le_confirmed, type: compare, left: deaths, op: "<=", right: confirmed,
       action: quarantine}
    - {name: lat_differs_from_lon, type: compare, left: lat, op: "!=", right: lon, action: warn}
""",
    ),
    "biodiv": (
        BIODIV,
        """\
source: {type: csv, options: {path: "${env.paths.raw}"}}
silver:
  table: silver.biodiv
  description: Lassa fever by state and week (sitrep extraction).
  classification: Public
  columns:
    - {name: year, type: int, two_digit_year_pivot: 70}
    - {name: week, type: int}
    - {name: state, source: states, type: string}
    - {name: suspected, type: int}
    - {name: confirmed, type: int}
    - {name: deaths, type: int}
  dedupe: {keys: [year, week, state]}
  expectations:
    - {name: known_state, type: in_set, column: state, values: STATES, action: quarantine}
""".replace("STATES", json.dumps(STATES)),
    ),
    "bo_villages": (
        BO,
        """\
source: {type: csv, options: {path: "${env.paths.raw}"}}
silver:
  table: silver.bo_villages
  description: Localities of Bo district, Sierra Leone.
  classification: Public
  columns:
    - {name: chiefdom, source: CHIEFDOM, type: string}
    - {name: section, source: SECTION, type: string}
    - {name: locality, source: LOCALITY, type: string}
  dedupe: {keys: [chiefdom, section, locality]}
""",
    ),
    "facilities": (
        HEALTHSITES,
        """\
source: {type: csv, options: {path: "${env.paths.raw}"}}
silver:
  table: silver.facilities
  description: Health facilities with a contact number.
  classification: Confidential
  columns:
    - {name: uuid, type: string}
    - {name: name, type: string}
    - {name: country, type: string}
    - {name: contact_number, type: string, pii: phone, mask: partial}
    - {name: changeset_user, type: string, pii: username, mask: tokenize}
    - {name: changeset_version, type: int}
    - {name: lat, type: double}
  dedupe: {keys: [uuid]}
  expectations:
    - {name: phone_e164, type: regex, column: contact_number, pattern: "^[+][0-9]{8,15}$",
       action: quarantine}
""",
    ),
    "data_values": (
        DHIS2,
        """\
source: {type: json, options: {path: "${env.paths.raw}", records_key: dataValues}}
silver:
  table: silver.data_values
  description: DHIS2 data values.
  classification: Confidential
  columns:
    - {name: data_element, source: dataElement, type: string}
    - {name: period, type: string}
    - {name: org_unit, source: orgUnit, type: string}
    - {name: category_option_combo, source: categoryOptionCombo, type: string}
    - {name: value, type: bigint}
    - {name: stored_by, source: storedBy, type: string, pii: username, mask: tokenize}
    - {name: last_updated, source: lastUpdated, type: timestamp}
    - {name: comment, type: string}
  dedupe: {keys: [data_element, period, org_unit, category_option_combo], order_by: [last_updated]}
""",
    ),
}


@pytest.fixture(scope="module", params=["as text", "as dictionaries"])
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, dict[str, Any]]]:
    """Every pipeline run once with CSV columns parsed as text and once with every column
    parsed as a dictionary (what csvstream does for columns of few values in larger files):
    the expectations below are the same either way."""
    chosen: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "as dictionaries":
            patch.setattr(csvstream, "PROBE_ROWS", 0)
            patch.setattr(csvstream, "FEW", 1.0)
            judge = csvstream._text_types

            def recorded(*args: Any) -> dict[str, Any]:
                types = judge(*args)
                chosen.extend(str(t) for t in types.values())
                return types

            patch.setattr(csvstream, "_text_types", recorded)
        yield from _runs(tmp_path_factory)
    if request.param == "as dictionaries":  # the CSV files did take that path
        assert chosen and all(t.startswith("dictionary") for t in chosen), chosen


def _runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Context, dict[str, Any]]]:
    root = make_project(tmp_path_factory.mktemp("real") / "proj")
    (root / "pipelines").mkdir(exist_ok=True)
    for name, (data, body) in SPECS.items():
        folder = root / "incoming" / name
        folder.mkdir(parents=True)
        shutil.copy(data, folder / data.name)
        spec = HEAD.format(name=name) + body + QUARANTINE.format(name=name)
        (root / "pipelines" / f"{name}.yaml").write_text(spec, encoding="utf-8")
    ctx = Context.open(root, writable=True)
    runner = pw.runner_for(ctx, create_keys=True)
    reports = {name: runner.run(pw.load(ctx, name)).as_dict() for name in SPECS}
    yield ctx, reports
    ctx.close()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _silver(ctx: Context, name: str) -> list[dict[str, Any]]:
    return ctx.store.read(f"real_dev.silver.{name}").to_pylist()


def _quarantine(ctx: Context, name: str) -> list[dict[str, Any]]:
    return ctx.store.read(f"real_dev.silver.{name}_quarantine").to_pylist()


def _balanced(report: dict[str, Any], rows: int, silver: int, quarantined: int, dupes: int) -> None:
    layers = report["layers"]
    assert report["reconciled"] is True
    assert layers["bronze"]["written"] == rows
    got = layers["silver"]
    assert (got["read"], got["written"], got["quarantined"], got["duplicates"]) == (
        rows,
        silver,
        quarantined,
        dupes,
    )


def test_ncdc_lassa_na_strings_and_deaths_above_confirmed(runs: Any) -> None:
    ctx, reports = runs
    raw = _rows(FBRANDA)
    no_state = [r for r in raw if r["States"] == "NA"]

    def above(r: dict[str, str]) -> bool:
        return "NA" not in (r["ConfDeaths"], r["ConfCases"]) and int(r["ConfDeaths"]) > int(
            r["ConfCases"]
        )

    bad = [r for r in raw if r["States"] != "NA" and above(r)]
    same_coords = [r for r in raw if r["Lat"] != "NA" and r["Lat"] == r["Lon"]]
    assert len(no_state) == 5 and len(bad) == 3 and len(same_coords) == 2  # what the file holds
    _balanced(reports["fbranda"], len(raw), len(raw) - 8, 8, 0)
    quarantined = sorted((r["_source_row"], r["_dq_rules"]) for r in _quarantine(ctx, "fbranda"))
    expected = [(str(i + 2), "state_present") for i, r in enumerate(raw) if r["States"] == "NA"]
    expected += [(str(i + 2), "deaths_le_confirmed") for i, r in enumerate(raw) if r in bad]
    assert quarantined == sorted(expected)
    # `NA` is a null token, never a coercion failure; lat == lon is a warning, rows kept
    expectations = {e["rule"]: e for e in reports["fbranda"]["expectations"]}
    assert all(e["failed"] == 0 for r, e in expectations.items() if r.startswith("coerce."))
    assert expectations["lat_differs_from_lon"]["failed"] == 2
    assert {r["state"] for r in _silver(ctx, "fbranda")} >= {"Anambra"}


def test_biodivhealth_two_digit_years_float_counts_and_non_states(runs: Any) -> None:
    ctx, reports = runs
    raw = _rows(BIODIV)
    outside = [r["states"] for r in raw if r["states"] not in STATES]
    keys = {(r["year"], r["week"], r["states"]) for r in raw if r["states"] in STATES}
    dupes = sum(1 for r in raw if r["states"] in STATES) - len(keys)
    assert sorted(set(outside)) == ["Cameroon", "Jos", "Total"]
    _balanced(reports["biodiv"], len(raw), len(keys), len(outside), dupes)
    quarantined = _quarantine(ctx, "biodiv")
    assert sorted(r["states"] for r in quarantined) == sorted(outside)
    assert {r["_dq_reasons"].split(":")[0] for r in quarantined} == {"known_state"}
    silver = _silver(ctx, "biodiv")
    assert {r["year"] for r in silver} <= set(range(2020, 2027))  # "26" → 2026
    bauchi = next(r for r in silver if r["state"] == "Bauchi" and r["year"] == 2026)
    assert (bauchi["suspected"], bauchi["confirmed"], bauchi["deaths"]) == (32, 12, 6)  # "32.0"


def test_eha_bo_villages_repeated_localities_are_deduplicated(runs: Any) -> None:
    ctx, reports = runs
    raw = _rows(BO)
    distinct = {(r["CHIEFDOM"], r["SECTION"], r["LOCALITY"]) for r in raw}
    assert (len(raw), len(distinct)) == (1001, 979)
    _balanced(reports["bo_villages"], len(raw), len(distinct), 0, len(raw) - len(distinct))
    got = {(r["chiefdom"], r["section"], r["locality"]) for r in _silver(ctx, "bo_villages")}
    assert got == distinct


def test_healthsites_phones_and_osm_users_never_reach_silver_or_quarantine(runs: Any) -> None:
    ctx, reports = runs
    raw = _rows(HEALTHSITES)
    not_e164 = [r for r in raw if not _e164(r["contact_number"])]
    assert 0 < len(not_e164) < len(raw)
    _balanced(reports["facilities"], len(raw), len(raw) - len(not_e164), len(not_e164), 0)
    silver, quarantine = _silver(ctx, "facilities"), _quarantine(ctx, "facilities")
    assert sorted(r["uuid"] for r in quarantine) == sorted(r["uuid"] for r in not_e164)
    assert {r["_dq_rules"] for r in quarantine} == {"phone_e164"}
    secrets = {r["contact_number"] for r in raw} | {r["changeset_user"] for r in raw}
    cells = {str(v) for row in silver + quarantine for v in row.values() if v is not None}
    assert not secrets & cells, "a raw phone number or user name reached silver or quarantine"
    assert all("*" in r["contact_number"] for r in silver)
    # the vectorised phone mask gives, on these real numbers, what mask_phone gives one by one
    by_uuid = {r["uuid"]: r["contact_number"] for r in raw}
    assert all(r["contact_number"] == mask_phone(by_uuid[r["uuid"]]) for r in silver)
    users = [r["changeset_user"] for r in silver if r["changeset_user"] is not None]
    assert users and all(u.startswith("tok_") for u in users)
    # the vectorised tokenizer gives, on these real user names, what token() gives one by one
    tokenizer = pw.tokenizer_for(ctx, pw.load(ctx, "facilities"), create_key=False)
    assert tokenizer is not None
    named = {r["uuid"]: r["changeset_user"] for r in raw}
    assert all(
        r["changeset_user"] == tokenizer.token(named[r["uuid"]], PiiKind.USERNAME)
        for r in silver
        if r["changeset_user"] is not None
    )
    assert all(r["contact_number"].startswith("tok_") for r in quarantine)


def _e164(phone: str) -> bool:
    digits = phone[1:]
    return phone.startswith("+") and digits.isdigit() and 8 <= len(digits) <= 15


def test_dhis2_data_values_reconcile_and_user_names_are_tokens(runs: Any) -> None:
    ctx, reports = runs
    values = json.loads(DHIS2.read_text(encoding="utf-8"))["dataValues"]
    _balanced(reports["data_values"], len(values), len(values), 0, 0)
    silver = _silver(ctx, "data_values")
    assert sum(r["value"] for r in silver) == sum(int(v["value"]) for v in values)
    users = {v["storedBy"] for v in values}
    assert not users & {r["stored_by"] for r in silver}
    assert all(r["stored_by"].startswith("tok_") for r in silver)
    # comment "" and null are both missing (the empty string is a null token)
    assert all(r["comment"] is None for r in silver)


ADDITIVE = """\
gold:
  - table: gold.{name}_totals
    description: Additive totals, maintained from silver's changes.
    sql: |
      {sql}
"""
TOTALS = {
    "data_values": "SELECT org_unit, period, COUNT(*) AS n, SUM(value) AS total "
    "FROM silver.data_values GROUP BY org_unit, period",
    "biodiv": "SELECT state, year, SUM(confirmed) AS confirmed, SUM(deaths) AS deaths, "
    "COUNT(*) AS weeks FROM silver.biodiv GROUP BY state, year",
}


def _parts(name: str, folder: Path) -> None:
    """The real file in three parts, then a fourth: DHIS2's first 20 values re-sent later
    with new values (a correction), BioDivHealth's first rows again (a re-sent extract)."""
    data = SPECS[name][0]
    if name == "data_values":
        values = json.loads(data.read_text(encoding="utf-8"))["dataValues"]
        fixed = [
            {**v, "value": str(int(v["value"]) + 1), "lastUpdated": "2024-01-01T00:00:00.000+0000"}
            for v in values[:20]
        ]
        chunks = [values[:44], values[44:88], values[88:], fixed]
        for i, chunk in enumerate(chunks):
            (folder / f"part{i}.json").write_text(json.dumps({"dataValues": chunk}))
        return
    head, *lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, chunk in enumerate([lines[:12], lines[12:24], lines[24:], lines[:8]]):
        (folder / f"part{i}.csv").write_text(head + "".join(chunk), encoding="utf-8")


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_real_files_in_parts_keep_additive_gold_equal_to_its_sql(tmp_path: Path, name: str) -> None:
    from lakecrew.services.pipelines.sqltext import qualify_sql

    root = make_project(tmp_path / "proj")
    (root / "pipelines").mkdir(exist_ok=True)
    folder = root / "parts" / name
    folder.mkdir(parents=True)
    _parts(name, folder)
    spec = HEAD.format(name=name) + SPECS[name][1] + QUARANTINE.format(name=name)
    spec += ADDITIVE.format(name=name, sql=TOTALS[name])
    (root / "pipelines" / f"{name}.yaml").write_text(spec, encoding="utf-8")
    incoming = root / "incoming" / name
    incoming.mkdir(parents=True)
    ctx = Context.open(root, writable=True)
    runner = pw.runner_for(ctx, create_keys=True)
    gold = f"real_dev.gold.{name}_totals"
    try:
        ways = []
        for part in sorted(folder.iterdir()):
            shutil.copy(part, incoming / part.name)
            notes = runner.run(pw.load(ctx, name)).notes
            ways += [n for n in notes if n.startswith(gold)]
            want = runner.deps.sql.fetch_arrow(qualify_sql(TOTALS[name], "real_dev"))
            got = ctx.store.read(gold)
            assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr)
        assert ways[0].startswith(f"{gold}: rebuilt in full")
        assert all(w.startswith(f"{gold}: maintained from silver's changes") for w in ways[1:]), (
            ways
        )
        last = ways[-1].rsplit("(", 1)[1]
        removed, added = (int(w.split()[0]) for w in last.split(", "))
        # Both key several columns: delta-rs MERGE rewrites the files holding the re-sent keys,
        # and the rows it copies count both ways (they cancel).
        assert removed == added >= (20 if name == "data_values" else 8), ways
    finally:
        ctx.close()
