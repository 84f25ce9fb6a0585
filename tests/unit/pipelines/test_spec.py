"""Pipeline spec: the example loads; every mistake is reported at file:line with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.services.estate.yamlpos import ConfigProblems
from lakecrew.services.pipelines.loader import load_pipeline_spec, load_pipeline_text
from lakecrew.services.pipelines.sqltext import qualify_sql, referenced_tables
from lakecrew.services.privacy.kinds import Classification

EXAMPLE = Path(__file__).parents[3] / "src/lakecrew/services/pipelines/examples/lassa_weekly.yaml"
TEXT = EXAMPLE.read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def problems(text: str, env: str = "dev") -> ConfigProblems:
    with pytest.raises(ConfigProblems) as err:
        load_pipeline_text(text, env, source="spec.yaml")  # type: ignore[arg-type]
    return err.value


def test_example_loads_for_each_environment() -> None:
    dev = load_pipeline_spec(EXAMPLE, "dev")
    prod = load_pipeline_spec(EXAMPLE, "prod")
    assert dev.spec.source.options["path"] == "./data/raw/lassa_data_latest.csv"
    assert prod.spec.source.options["path"] == "/mnt/prod/raw/lassa_data_latest.csv"
    assert prod.full_name(prod.spec.silver.table) == "lassa_prod.silver.lassa_weekly"
    assert dev.spec.tags["environment"] == "dev" and prod.spec.tags["environment"] == "prod"
    assert prod.spec.bronze.classification == Classification.RESTRICTED
    assert [c.coercion().source for c in prod.spec.silver.columns][3] == "states"
    assert prod.spec.silver.dedupe is not None
    assert len(prod.spec.silver.expectations) == 7


def test_unknown_key_is_reported_at_its_line() -> None:
    text = TEXT.replace("  max_retries: 2\n", "  max_retries: 2\n  max_retires: 3\n")
    err = problems(text)
    assert f"spec.yaml:{line_of(text, 'max_retires')}" in str(err)
    assert "unknown key 'max_retires'" in str(err) and "did you mean 'max_retries'" in str(err)


def test_unknown_key_inside_an_expectation() -> None:
    text = TEXT.replace("action: fail}", "action: fail, colour: red}")
    err = problems(text)
    assert f"spec.yaml:{line_of(text, 'colour: red')}" in str(err)
    assert "expectations[5]" in str(err) and "unique" not in str(err).split("—")[0].split(":")[-1]


def test_bad_type_is_reported_at_its_line() -> None:
    text = TEXT.replace("max_retries: 2", "max_retries: twice")
    err = problems(text)
    assert f"spec.yaml:{line_of(text, 'max_retries: twice')}" in str(err)
    assert "retries.max_retries" in str(err)


def test_missing_environment() -> None:
    start = TEXT.index("  prod:\n")
    end = TEXT.index("privacy:")
    err = problems(TEXT[:start] + TEXT[end:])
    assert "no settings for environment(s) prod" in str(err)
    assert f"spec.yaml:{line_of(TEXT, 'environments:')}" in str(err)


def test_reference_missing_in_one_environment_fails_even_for_dev() -> None:
    text = TEXT.replace("    paths: {raw: /mnt/qa/raw}\n", "")
    err = problems(text, "dev")
    assert "[qa]" in str(err) and "${env.paths.raw} is not defined for environment qa" in str(err)
    assert f"spec.yaml:{line_of(text, 'path: ${env.paths.raw}')}" in str(err)


def test_hard_coded_location_is_refused() -> None:
    text = TEXT.replace("${env.paths.raw}/lassa_data_latest.csv", "/mnt/prod/raw/lassa.csv")
    err = problems(text)
    assert "hard-codes a location" in str(err) and "SOP 1.5.3" in str(err)


def test_unmasked_pii_and_too_low_classification() -> None:
    text = TEXT.replace(
        "{name: state, source: states, type: string}",
        "{name: state, source: states, type: string, pii: phone}",
    )
    assert "holds PII (phone) but mask is none" in str(problems(text))
    masked = text.replace("pii: phone}", "pii: phone, mask: tokenize}")
    err = str(problems(masked))
    assert "keeps personal data (state (phone, tokenize)) that needs at least Confidential" in err
    assert "masked values are still personal data" in err
    ok = masked.replace("classification: Internal", "classification: Confidential")
    assert load_pipeline_text(ok, "dev").spec.silver.classification == Classification.CONFIDENTIAL


def test_a_pii_free_silver_may_be_public_but_pii_may_not() -> None:
    public = TEXT.replace("classification: Internal", "classification: Public", 1)
    assert load_pipeline_text(public, "dev").spec.silver.classification == Classification.PUBLIC
    phone = public.replace(
        "{name: state, source: states, type: string}",
        "{name: state, source: states, type: string, pii: phone, mask: partial}",
    )
    err = str(problems(phone))
    assert "needs at least Confidential, not Public" in err and "tokens" not in err


def test_number_formats_and_null_tokens_per_silver_and_column() -> None:
    text = TEXT.replace(
        "  classification: Internal",
        '  classification: Internal\n  number: {decimal: ",", thousands: "."}\n'
        '  null_values: ["", "-", "n.d."]',
        1,
    )
    silver = load_pipeline_text(text, "dev").spec.silver
    coercions = {c.target: c for c in silver.coercions()}
    numeric = [c for c in coercions.values() if c.type in ("int", "double")]
    assert numeric and all(c.number.decimal == "," and c.number.thousands == "." for c in numeric)
    assert all(c.null_values == ("", "-", "n.d.") for c in coercions.values())
    same = text.replace(
        'number: {decimal: ",", thousands: "."}', 'number: {decimal: ",", thousands: ","}'
    )
    assert "decimal and thousands are the same mark" in str(problems(same))
    typo = text.replace("thousands:", "thousand:")
    assert "thousands" in str(problems(typo))  # did-you-mean


def test_version_tags_cron_and_sql_checks() -> None:
    assert "missing version" in str(problems(TEXT.replace("version: 1\n", "")))
    assert "unsupported spec version 2" in str(problems(TEXT.replace("version: 1", "version: 2")))
    assert "missing required tag(s) cost_center" in str(
        problems(TEXT.replace("  cost_center: cc-1042\n", ""))
    )
    assert "tags.environment is 'prod'" in str(
        problems(TEXT.replace("environment: ${env.name}", "environment: prod"))
    )
    assert "Quartz" in str(problems(TEXT.replace('"0 0 6 ? * MON"', '"0 6 * * 1"')))
    assert "unknown timezone" in str(problems(TEXT.replace("Africa/Lagos", "Lagos")))
    assert "does not parse as Spark SQL" in str(
        problems(TEXT.replace("GROUP BY state", "GROUP state"))
    )
    assert "unknown column(s) death" in str(
        problems(TEXT.replace("left: deaths, op", "left: death, op"))
    )


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("0 0 66 ? * MON", "[hour=66] Value 66 is out of bounds (0-23)"),
        ("0 60 6 ? * MON", "[minute=60] Value 60 is out of bounds (0-59)"),
        ("0 0 6 ? 13 MON", "[month=13] Value 13 is out of bounds (1-12)"),
        ("0 0 6 32W * ?", "must be between 1 and 31"),
        ("0 0 6 * * MON", "Exactly one of day-of-month or day-of-week must be '?'"),
        ("0 0 6 ? * ?", "not both"),
        ("0 0 6 ? * MON#9", "day_of_week=MON#9"),
        ("0 0 6 ? * MON 1800", "[year=1800]"),
    ],
)
def test_a_cron_databricks_would_refuse_is_reported_at_its_line(cron: str, says: str) -> None:
    """A job whose schedule Databricks refuses fails at deploy: validate says so first."""
    text = TEXT.replace('"0 0 6 ? * MON"', f'"{cron}"')
    err = str(problems(text))
    assert f"spec.yaml:{line_of(text, cron)}" in err and "not a valid Quartz cron" in err
    assert says in err and "e.g. '0 0 6 ? * MON'" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "cron", ["0 0 6 ? * MON", "0 */15 * ? * *", "0 0 12 ? * MON-FRI", "0 0 12 L * ?",
             "0 0 12 ? * 6#3", "0 0 12 15W * ?", "0 0/5 14,18 * * ?", "0 0 6 ? JAN-MAR MON 2030"],
)  # fmt: skip
def test_quartz_crons_load(cron: str) -> None:
    text = TEXT.replace('"0 0 6 ? * MON"', f'"{cron}"')
    spec = load_pipeline_text(text, "dev", source="spec.yaml")  # type: ignore[arg-type]
    assert spec.spec.schedule is not None and spec.spec.schedule.cron == cron


def test_an_unknown_source_type_is_reported_at_its_line() -> None:
    text = TEXT.replace("  type: csv\n", "  type: cvs\n", 1)
    err = str(problems(text))
    assert f"spec.yaml:{line_of(text, 'type: cvs')}" in err
    assert "unknown source type 'cvs' (did you mean 'csv'?)" in err
    assert "use one of csv, json, jsonl, parquet, files, dhis2, kafka" in err


def test_secrets_do_not_belong_in_specs() -> None:
    text = TEXT.replace("  key_name: pii_hmac_key\n", "  key_name: pii_hmac_key\n  api_token: x\n")
    assert "secrets never go in this file" in str(problems(text))
    err = problems(TEXT.replace("${env.paths.raw}/lassa", "${secrets.raw}/lassa"))
    assert "only ${env.<key>} is substituted" in str(err)


def test_qualify_sql_adds_catalog_and_finds_tables() -> None:
    spec = load_pipeline_spec(EXAMPLE, "qa").spec
    sql = spec.gold[0].sql
    assert sql is not None
    out = qualify_sql(sql, "lassa_qa")
    assert "lassa_qa.silver.lassa_weekly" in out
    assert referenced_tables(sql) == ["silver.lassa_weekly"]
    cte = "WITH w AS (SELECT * FROM silver.t) SELECT * FROM w"
    assert "FROM w" in qualify_sql(cte, "c") and "c.silver.t" in qualify_sql(cte, "c")
