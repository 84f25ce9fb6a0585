"""Input of the medallion benchmark and its DuckDB and pandas + GE baselines (bench_medallion.py).

Input: CSV files of 1M rows each, scaled from the bundled Lassa (BioDivHealth) and healthsites
data: row i takes Lassa row i mod n and facility row i mod m, a case id (1 % re-sent, so dedupe
has work), an update date, and the facility's phone number and OSM user (the two masked columns).
The same work everywhere: ten checks on every row (failing rows quarantined), dedupe of the valid
rows on case_id (latest update, ties to the later arrival), two masks, three gold
aggregates, Delta writes of bronze (raw text + source file, row in file, ingested-at), silver,
quarantine and gold. The local PySpark baseline is in medallion_spark.py.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

DATA = Path(__file__).resolve().parents[1] / "src" / "lakecrew" / "pipelines_demo" / "data"
CHUNK = 1_000_000
KEY = "bench-key-0123456789abcdef0123456789abcdef"
STATES = [
    "Abia",
    "Adamawa",
    "Bauchi",
    "Bayelsa",
    "Benue",
    "Borno",
    "Delta",
    "Ebonyi",
    "Edo",
    "Ekiti",
    "Enugu",
    "FCT",
    "Gombe",
    "Imo",
    "Jigawa",
    "Kaduna",
    "Kano",
    "Katsina",
    "Kebbi",
    "Kogi",
    "Kwara",
    "Lagos",
    "Nasarawa",
    "Niger",
    "Ogun",
    "Ondo",
    "Osun",
    "Oyo",
    "Plateau",
    "Rivers",
    "Sokoto",
    "Taraba",
    "Yobe",
    "Zamfara",
    "Akwa Ibom",
    "Cross River",
    "Total",
]
COUNTRIES = [
    "Benin",
    "Burkina Faso",
    "Ivory Coast",
    "Cameroon",
    "Cape Verde",
    "Ghana",
    "Guinea",
    "Gambia",
    "Guinea-Bissau",
    "Liberia",
    "Mali",
    "Mauritania",
    "Niger",
    "Nigeria",
    "Senegal",
    "Sierra Leone",
    "Togo",
    "Chad",
]
HEADER = (
    "case_id,year,week,state,suspected,confirmed,deaths,country,amenity,"
    "contact_number,changeset_user,updated"
)


def generate(rows: int, out: Path) -> list[Path]:
    """Write ``rows`` rows as CSV files of up to 1M rows under ``out``; returns them."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lassa = pv.read_csv(
        DATA / "lassa" / "lassa_data_latest.csv",
        convert_options=pv.ConvertOptions(strings_can_be_null=False),
    )
    lassa = lassa.cast(pa.schema([(n, pa.string()) for n in lassa.column_names]))
    fac = pv.read_csv(DATA / "healthsites" / "healthsites_io_west_africa_snapshot.csv")
    fac = fac.select(["country", "amenity", "contact_number", "changeset_user"])
    fac = fac.cast(pa.schema([(n, pa.string()) for n in fac.column_names]))
    rng = np.random.default_rng(11)
    phones = pa.array(
        [f"+23480{rng.integers(10_000_000, 99_999_999)}" for _ in range(fac.num_rows)]
    )
    fac = fac.set_column(2, "contact_number", pc.coalesce(fac["contact_number"], phones))
    files = []
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        idx = np.arange(start, start + n)
        ids = idx.copy()
        resent = rng.random(n) < 0.01
        ids[resent] = np.maximum(ids[resent] - 1, 0)
        lrow = lassa.take(pa.array(idx % lassa.num_rows))
        frow = fac.take(pa.array(idx % fac.num_rows))
        days = pa.array((idx % 365).astype("timedelta64[D]") + np.datetime64("2024-01-01"))
        table = pa.table(
            {
                "case_id": pc.binary_join_element_wise(
                    "K", pc.cast(pa.array(ids), pa.string()), ""
                ),
                "year": pc.binary_join_element_wise("20", lrow["year"], ""),
                "week": lrow["week"],
                "state": lrow["states"],
                "suspected": lrow["suspected"],
                "confirmed": lrow["confirmed"],
                "deaths": lrow["deaths"],
                "country": frow["country"],
                "amenity": frow["amenity"],
                "contact_number": frow["contact_number"],
                "changeset_user": frow["changeset_user"],
                "updated": pc.cast(pc.cast(days, pa.date32()), pa.string()),
            }
        )
        path = out / f"part-{start // CHUNK:04d}.csv"
        pv.write_csv(table, path)
        files.append(path)
    return files


def token(value: str) -> str:
    """Keyed token of the baselines (sha256 of key and value; lakecrew uses HMAC-SHA256)."""
    return "tok_" + hashlib.sha256(f"{KEY}\x1f{value}".encode()).hexdigest()[:32]


QUARANTINE_RULES = (
    ("id_present", "case_id IS NULL"),
    ("state_present", "state IS NULL"),
    ("week_ok", "week NOT BETWEEN 1 AND 53"),
    ("year_ok", "year NOT BETWEEN 2000 AND 2030"),
    ("known_state", f"state NOT IN ({', '.join(repr(s) for s in STATES)})"),
    ("confirmed_ok", "confirmed < 0"),
    ("deaths_le_confirmed", "deaths > confirmed"),
    ("case_id_format", "{regex_fails}"),
)
"""The eight quarantine checks as SQL conditions that hold for a failing row (NULL: not failed)."""
WARN_SQL = {
    "warn_country": f"(country NOT IN ({', '.join(repr(c) for c in COUNTRIES)}))",
    "warn_updated": "(updated IS NULL)",
}
"""The two warn-only checks (a flag per row, counted, the row stays in silver)."""


def rules_sql(regex_fails: str) -> str:
    """``concat_ws`` of the names of the quarantine rules a row fails ('' when none)."""
    cases = ",\n  ".join(
        f"CASE WHEN {cond.format(regex_fails=regex_fails)} THEN '{name}' END"
        for name, cond in QUARANTINE_RULES
    )
    return f"concat_ws(',',\n  {cases})"


RAW_SQL = """
CREATE OR REPLACE TABLE raw AS
SELECT * FROM read_csv('{glob}', all_varchar = true, header = true, filename = true)
"""
# Bronze: the raw text columns plus where each row came from. With preserve_insertion_order (the
# default) the CTAS keeps file order, so rowid minus the file's first rowid is the row's position.
BRONZE_SQL = """
SELECT * EXCLUDE (filename), filename AS _source_file,
       rowid - min(rowid) OVER (PARTITION BY filename) + 1 AS _source_row,
       now() AS _ingested_at
FROM raw
"""
DUCK_SQL = f"""
CREATE OR REPLACE TABLE typed AS
SELECT case_id, TRY_CAST(TRY_CAST(year AS DOUBLE) AS INTEGER) AS year,
       TRY_CAST(TRY_CAST(week AS DOUBLE) AS INTEGER) AS week, NULLIF(state, '') AS state,
       TRY_CAST(TRY_CAST(NULLIF(suspected, '') AS DOUBLE) AS INTEGER) AS suspected,
       TRY_CAST(TRY_CAST(NULLIF(confirmed, '') AS DOUBLE) AS INTEGER) AS confirmed,
       TRY_CAST(TRY_CAST(NULLIF(deaths, '') AS DOUBLE) AS INTEGER) AS deaths,
       NULLIF(country, '') AS country, NULLIF(amenity, '') AS amenity,
       NULLIF(contact_number, '') AS contact_number, NULLIF(changeset_user, '') AS changeset_user,
       TRY_CAST(updated AS DATE) AS updated, rowid AS _arrival
FROM raw;
DROP TABLE raw;
CREATE OR REPLACE TABLE flagged AS
SELECT *, {rules_sql("NOT regexp_full_match(case_id, 'K[0-9]+')")} AS _dq_rules,
  {WARN_SQL["warn_country"]} AS warn_country, {WARN_SQL["warn_updated"]} AS warn_updated
FROM typed;
DROP TABLE typed;
"""
"""Row rules run on every row (an invalid row is quarantined whatever its version); silver is
the latest *valid* row per key, ties to the later arrival (the semantics of issue 12)."""
# The keyed token is hashed once per distinct user and joined back (as lakecrew and the pandas
# baseline do); hashing every row costs DuckDB about 0.4 s more per million rows.
SILVER_SQL = f"""
WITH tokens AS (
  SELECT u, 'tok_' || left(sha256('{KEY}' || chr(31) || u), 32) AS token
  FROM (SELECT DISTINCT changeset_user AS u FROM flagged WHERE changeset_user IS NOT NULL)
)
SELECT case_id, year, week, state, suspected, confirmed, deaths, country, amenity,
  CASE WHEN contact_number IS NULL THEN NULL
       ELSE left(contact_number, 4) || repeat('*', greatest(length(contact_number) - 6, 0))
            || right(contact_number, 2) END AS contact_number,
  tokens.token AS changeset_user,
  updated
FROM flagged LEFT JOIN tokens ON tokens.u = flagged.changeset_user
WHERE _dq_rules = ''
QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY updated DESC NULLS LAST,
                                                        _arrival DESC) = 1
"""
GOLD_SQL = {
    "by_state_year": "SELECT state, year, SUM(confirmed) AS confirmed, SUM(deaths) AS deaths "
    "FROM {t} GROUP BY state, year",
    "by_country_amenity": "SELECT country, amenity, COUNT(*) AS cases FROM {t} "
    "GROUP BY country, amenity",
    "by_week": "SELECT year, week, SUM(confirmed) AS confirmed, SUM(deaths) AS deaths, "
    "SUM(deaths) / NULLIF(SUM(confirmed), 0) AS cfr FROM {t} GROUP BY year, week",
}


def run_duckdb(src: Path, out: Path) -> dict[str, Any]:
    """Hand-written DuckDB SQL + deltalake writes (the practical limit).

    One read of the CSV files into a table; bronze streams from it to Delta, silver is built from
    the same table (not re-read from bronze). ``seconds`` excludes imports (as lakecrew's step).
    """
    import duckdb
    from deltalake import write_deltalake

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(RAW_SQL.format(glob=str(src / "*.csv")))
    write_deltalake(str(out / "bronze"), con.sql(BRONZE_SQL).arrow(), mode="append")
    counts: dict[str, Any] = {"bronze": _duck_count(con, "raw")}
    con.execute(DUCK_SQL)
    con.execute(f"CREATE TABLE silver AS {SILVER_SQL}")
    write_deltalake(str(out / "silver"), con.sql("FROM silver").arrow(), mode="overwrite")
    quarantine = con.sql("FROM flagged WHERE _dq_rules <> ''").arrow()
    write_deltalake(str(out / "quarantine"), quarantine, mode="overwrite")
    counts["silver"] = _duck_count(con, "silver")
    counts["quarantine"] = _duck_count(con, "flagged WHERE _dq_rules <> ''")
    counts["warned"] = _duck_count(con, "flagged WHERE warn_country") + _duck_count(
        con, "flagged WHERE warn_updated"
    )
    for name, sql in GOLD_SQL.items():
        con.execute(f"CREATE TABLE {name} AS {sql.format(t='silver')}")
        write_deltalake(str(out / name), con.sql(f"FROM {name}").arrow(), mode="overwrite")
        counts[name] = _duck_count(con, name)
    con.close()
    counts["seconds"] = time.perf_counter() - t0
    return counts


def _duck_count(con: Any, relation: str) -> int:
    row = con.sql(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0])


WARN_RULES = ("country_known", "updated_present")


def ge_checks() -> list[Any]:
    """The ten checks as Great Expectations 1.x expectations, each named in ``meta["rule"]``."""
    import importlib

    gxe: Any = importlib.import_module("great_expectations.expectations")
    checks = [
        gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="state"),
        gxe.ExpectColumnValuesToBeBetween(column="week", min_value=1, max_value=53),
        gxe.ExpectColumnValuesToBeBetween(column="year", min_value=2000, max_value=2030),
        gxe.ExpectColumnValuesToBeInSet(column="state", value_set=list(STATES)),
        gxe.ExpectColumnValuesToBeBetween(column="confirmed", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="confirmed",
            column_B="deaths",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnValuesToMatchRegex(column="case_id", regex=r"^K[0-9]+$"),
        gxe.ExpectColumnValuesToBeInSet(column="country", value_set=COUNTRIES),
        gxe.ExpectColumnValuesToNotBeNull(column="updated"),
    ]
    names = [name for name, _ in QUARANTINE_RULES] + list(WARN_RULES)
    for check, name in zip(checks, names, strict=True):
        check.meta = {"rule": name}
    return checks


def ge_split(result: Any) -> tuple[dict[Any, str], int]:
    """From a COMPLETE validation result: failed quarantine rules per row index, warn failures."""
    rules: dict[Any, list[str]] = {}
    warned = 0
    for r in result.results:
        name = r.expectation_config.meta["rule"]
        if name in WARN_RULES:
            warned += int(r.result.get("unexpected_count") or 0)
            continue
        for index in r.result.get("unexpected_index_list") or []:
            rules.setdefault(index, []).append(name)
    return {index: ",".join(names) for index, names in rules.items()}, warned


def run_pandas_ge(src: Path, out: Path) -> dict[str, Any]:
    """pandas for the work, Great Expectations 1.x deciding which rows to quarantine.

    Each file is read with pandas and appended to bronze with its metadata columns; silver comes
    from the same frames. The suite is validated with ``result_format=COMPLETE`` and the
    ``unexpected_index_list`` of the eight quarantine checks selects the quarantined rows and
    names their failed rules (the usual way to split good from bad rows with GE); the two warn
    checks are counted. ``seconds`` excludes imports.
    """
    import great_expectations as gx
    import pandas as pd
    from deltalake import write_deltalake

    t0 = time.perf_counter()
    frames = []
    for path in sorted(src.glob("*.csv")):
        part = pd.read_csv(path, dtype=str, keep_default_na=False)
        bronze = part.assign(
            _source_file=str(path),
            _source_row=np.arange(1, len(part) + 1, dtype=np.int64),
            _ingested_at=pd.Timestamp.now(tz="UTC"),
        )
        write_deltalake(str(out / "bronze"), bronze, mode="append")
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    counts: dict[str, Any] = {"bronze": len(df)}
    del frames
    for col in ("year", "week", "suspected", "confirmed", "deaths"):
        df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce").astype("Int64")
    for col in ("state", "country", "amenity", "contact_number", "changeset_user"):
        df[col] = df[col].replace("", None)
    df["updated"] = pd.to_datetime(df["updated"], errors="coerce")
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("cases")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    suite = context.suites.add(gx.ExpectationSuite(name="bench", expectations=ge_checks()))
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    rules, counts["warned"] = ge_split(result)
    bad = df.index.isin(list(rules))
    quarantine = df[bad].copy()
    quarantine["_dq_rules"] = quarantine.index.map(rules.__getitem__)
    valid = df[~bad].reset_index(names="_arrival")
    valid = valid.sort_values(["updated", "_arrival"], ascending=False, na_position="last")
    valid = valid.drop_duplicates("case_id", keep="first").drop(columns="_arrival")
    silver = _mask_pandas(valid)
    write_deltalake(str(out / "silver"), silver, mode="overwrite")
    write_deltalake(str(out / "quarantine"), quarantine, mode="overwrite")
    counts.update(silver=len(silver), quarantine=len(quarantine))
    gold = {
        "by_state_year": silver.groupby(["state", "year"], dropna=False)[["confirmed", "deaths"]]
        .sum()
        .reset_index(),
        "by_country_amenity": silver.groupby(["country", "amenity"], dropna=False)
        .size()
        .reset_index(name="cases"),
        "by_week": silver.groupby(["year", "week"], dropna=False)[["confirmed", "deaths"]]
        .sum()
        .reset_index()
        .assign(cfr=lambda g: g["deaths"] / g["confirmed"].where(g["confirmed"] != 0)),
    }
    for name, frame in gold.items():
        write_deltalake(str(out / name), frame, mode="overwrite")
        counts[name] = len(frame)
    counts["seconds"] = time.perf_counter() - t0
    return counts


def _mask_pandas(silver: Any) -> Any:
    """Partial phone mask and keyed user token, the pandas way (token once per distinct user)."""
    import pandas as pd

    phone = silver["contact_number"]
    silver["contact_number"] = (
        phone.str[:4]
        + phone.str.len().sub(6).clip(lower=0).map(lambda n: "*" * int(n) if pd.notna(n) else None)
        + phone.str[-2:]
    )
    users = silver["changeset_user"].dropna().unique()
    silver["changeset_user"] = silver["changeset_user"].map({u: token(u) for u in users})
    return silver
