"""Pipelines on Databricks: Unity Catalog managed tables by name, secrets from secret scopes.

`lakecrew pipeline run NAME --workspace W` drives the real databricks-sdk over real HTTP to a
replay server whose warehouse is `lakecrew.testing.uc_lakehouse.UcLakehouse`: Files API
uploads land in a local folder, the load statements (`INSERT ... SELECT FROM read_files(...)`,
`MERGE`, `REPLACE WHERE`, OPTIMIZE, tags, masks) are answered from DuckDB and written with
delta-rs into another project, which plays the workspace's metastore. The same spec run
locally must give the same silver and gold rows:

- eha_locations (eHA's Liberia admin hierarchy, 14,390 rows, vendored with its licence), with
  the run killed between the upload of silver's batch and the MERGE that loads it, then run
  again: nothing is lost or doubled, and the orphan staged file is never loaded;
- the test case register (a phone number column), whose tokenization key comes from the
  workspace's secret scope: masked silver equal to the local run's with the same key, bronze's
  raw phone tagged and masked at read in Unity Catalog.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

import lakecrew.adapters.databricks.table_store as uc_store
from lakecrew.adapters.databricks.table_store import UnityCatalogTableStore
from lakecrew.core.errors import DataError, NotFound
from lakecrew.faces.cli.main import app
from lakecrew.testing.databricks_project import WS, cli_env, project_yaml
from lakecrew.testing.databricks_replay import DatabricksReplay
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec
from lakecrew.testing.uc_lakehouse import UcLakehouse
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

WAREHOUSE = "wh00pipelines001"
KEY = "a-test-hmac-key-not-a-real-secret-0123456789"
EHA = "facilities_dev"


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so the runner records nothing after it."""


def _user_project(root: Path, host: str) -> Path:
    root.mkdir(parents=True)
    text = project_yaml(host).replace(
        "    workspace_id:", f"    warehouse_id: {WAREHOUSE}\n    workspace_id:", 1
    )
    (root / "lakecrew.yaml").write_text(text)
    return root


def _rows(ctx: Context, full: str, columns: list[str], key: list[str]) -> list[dict[str, Any]]:
    table = ctx.store.read(full).select(columns)
    return sorted(table.to_pylist(), key=lambda r: tuple(str(r[k]) for k in key))


def _cli_run(user: Path, tmp: Path, name: str) -> Any:
    return CliRunner().invoke(
        app,
        ["pipeline", "run", name, "--workspace", WS, "--project", str(user), "-o", "json"],
        env=cli_env(tmp),
    )


def _snapshot(root: Path, pipeline: str) -> dict[str, Any]:
    """Silver (spec columns), gold, quarantine and bronze counts of one project."""
    with Context.open(root) as ctx:
        loaded = pw.load(ctx, pipeline)
        spec = loaded.spec
        silver = loaded.full_name(spec.silver.table)
        cols = [c.name for c in spec.silver.columns]
        out: dict[str, Any] = {
            "silver": _rows(ctx, silver, cols, list(spec.silver.dedupe.keys)),
            "bronze": ctx.store.read(loaded.full_name(spec.bronze.table)).num_rows,
            "quarantine": ctx.store.read(loaded.full_name(spec.silver.quarantine.table)).num_rows,
        }
        for g in spec.gold:
            full = loaded.full_name(g.table)
            names = ctx.store.schema(full).names
            out[g.table] = _rows(ctx, full, names, names)
        return out


@pytest.fixture(scope="module")
def eha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("uc-eha")
    local = make_project(tmp / "local")
    with Context.open(local, writable=True) as ctx:
        pw.runner_for(ctx).run(pw.load(ctx, "eha_locations"))
    lake = make_project(tmp / "lake")
    out: dict[str, Any] = {"local": _snapshot(local, "eha_locations"), "volumes": tmp / "vol"}
    with (
        UcLakehouse(lake, WAREHOUSE, volumes=tmp / "vol") as warehouse,
        DatabricksReplay(handlers=[warehouse]) as replay,
        pytest.MonkeyPatch.context() as mp,
    ):
        user = _user_project(tmp / "user", replay.url)
        for k, v in cli_env(tmp).items():
            mp.setenv(k, v)
        silver = f"{EHA}.silver.admin_areas"

        def crash(step: str) -> None:
            if step == f"staged {silver}":
                raise Killed(step)

        mp.setattr(uc_store, "CRASH_POINT", crash)
        with Context.open(user, writable=True) as ctx, pytest.raises(Killed):
            loaded = pw.load(ctx, "eha_locations")
            pw.runner_for(ctx, workspace=WS, records_catalog=EHA).run(loaded)
        out["crashed_at"] = len(warehouse.statements)
        out["orphans"] = sorted(p.name for p in (tmp / "vol").rglob("*.parquet"))
        # the killed run's file is made 2 hours old (stale); a copy under another run's tag,
        # just written, stands for a writer whose load is still in flight (kept)
        (orphan,) = (tmp / "vol").rglob("*.parquet")
        stale = time.time() - 2 * 3600
        os.utime(orphan, (stale, stale))
        out["in_flight"] = orphan.with_name(f"{'f' * 12}-{'0' * 32}.parquet")
        shutil.copy(orphan, out["in_flight"])
        mp.setattr(uc_store, "CRASH_POINT", uc_store._no_crash)
        result = _cli_run(user, tmp, "eha_locations")
        assert result.exit_code == 0, result.output
        out["report"] = json.loads(result.stdout)["items"][0]
        out["statements"] = list(warehouse.statements)
        out["uploads"] = [
            r.path
            for r in replay.seen
            if r.method == "PUT" and r.path.startswith("/api/2.0/fs/files/")
        ]
        out["deletes"] = [
            r.path
            for r in replay.seen
            if r.method == "DELETE" and r.path.startswith("/api/2.0/fs/files/")
        ]
        out["user_tables"] = sorted(
            str(p.parent.relative_to(user)) for p in (user / ".lakecrew").rglob("_delta_log")
        )
    out["remote"] = _snapshot(lake, "eha_locations")
    with Context.open(lake) as ctx:
        out["tables"] = {t.full_name: t for t in ctx.metastore.list_tables(EHA, None)}
    yield out


def test_a_workspace_run_writes_the_same_silver_and_gold_rows_as_the_local_run(
    eha: dict[str, Any],
) -> None:
    local, remote = eha["local"], eha["remote"]
    assert len(local["silver"]) == 14_390
    assert remote["silver"] == local["silver"]
    assert remote["gold.admin_area_counts"] == local["gold.admin_area_counts"]
    assert (remote["bronze"], remote["quarantine"]) == (local["bronze"], local["quarantine"])
    report = eha["report"]
    assert report["status"] == "SUCCEEDED" and report["reconciled"] is True
    assert report["tables"][f"{EHA}.silver.admin_areas"] == 14_390


def test_tables_are_unity_catalog_tables_by_name_registered_with_their_governance(
    eha: dict[str, Any],
) -> None:
    tables = eha["tables"]
    silver = tables[f"{EHA}.silver.admin_areas"]
    assert silver.owner == "data-engineering@ehealthafrica.org"
    assert silver.comment and silver.tags["classification"] == "Internal"
    assert silver.tags["steward"] == "dq-steward@ehealthafrica.org"
    assert silver.properties["layer"] == "silver"
    # lakecrew's own records (system.* is read-only on Databricks) under <catalog>.lakecrew
    assert {
        f"{EHA}.lakecrew.lakeflow_job_run_timeline",
        f"{EHA}.lakecrew.pipelines_batches",
    } <= set(tables)
    # bronze keeps the raw CSV headers ("short name"): column mapping by name
    bronze = tables[f"{EHA}.bronze.eha_locations_raw"]
    assert bronze.properties["delta.columnMapping.mode"] == "name"
    # the user's project holds only its own (empty) system tables: no pipeline table
    assert all(t.startswith(".lakecrew/lakehouse/system/") for t in eha["user_tables"])
    assert all("/Volumes/" not in s or "read_files(" in s for s in eha["statements"])


def test_a_crash_between_upload_and_load_leaves_an_orphan_never_loaded_and_cleaned_once_stale(
    eha: dict[str, Any],
) -> None:
    orphans = eha["orphans"]
    assert len(orphans) == 1  # the staged silver batch of the killed run
    loads = [re.findall(r"read_files\('([^']+)'", s) for s in eha["statements"]]
    loaded = [p for paths in loads for p in paths]
    assert all(len(paths) <= 1 for paths in loads)  # one file per statement
    assert len(loaded) == len(set(loaded))  # each staged file loaded at most once
    assert not any(p.endswith(orphans[0]) for p in loaded[eha["crashed_at"] :])
    assert len(eha["uploads"]) == len(loaded) + len(orphans)
    # the re-run deleted the stale orphan (staged files live in one folder per table) and
    # kept the fresh file of the other writer; its own files are deleted after their loads
    left = list(eha["volumes"].rglob("*.parquet"))
    assert left == [eha["in_flight"]]
    assert left[0].parent.name.startswith(f"{EHA}.silver.admin_areas-")
    deletes = [r for r in eha["deletes"] if r.endswith(orphans[0])]
    assert len(deletes) == 1


LATER = CASES_HEADER + (
    "C00000,Edo,3,9,1,+2348031234000,2024-02-15\n"  # newer: replaces silver's row
    "C00001,Ondo,3,9,0,+2348031234001,2024-02-15\n"
    "C00005,Ondo,3,9,0,+2348031234005,2023-12-01\n"  # older than silver's: a duplicate
)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("uc-cases")
    rows = CASES_HEADER + case_rows(0, 40) + "C00003,Edo,99,1,0,+2348030000003,2024-01-04\n"
    local = make_project(tmp / "local")
    write_spec(local)
    (local / "incoming" / "a.csv").write_text(rows)
    with Context.open(local, writable=True) as ctx:
        ctx.secrets.put("tests", "pii_hmac_key", SecretStr(KEY))
        pw.runner_for(ctx).run(pw.load(ctx, "cases"))
        (local / "incoming" / "b.csv").write_text(LATER)
        pw.runner_for(ctx).run(pw.load(ctx, "cases"))
    lake = make_project(tmp / "lake")
    write_spec(lake)  # to read the spec's tables back (the lake runs nothing)
    secrets = {("tests", "pii_hmac_key"): KEY}
    with (
        UcLakehouse(lake, WAREHOUSE, volumes=tmp / "vol", secrets=secrets) as warehouse,
        DatabricksReplay(handlers=[warehouse]) as replay,
    ):
        user = _user_project(tmp / "user", replay.url)
        write_spec(user)
        (user / "incoming").mkdir()
        (user / "incoming" / "a.csv").write_text(rows)
        result = _cli_run(user, tmp, "cases")
        assert result.exit_code == 0, result.output
        (user / "incoming" / "b.csv").write_text(LATER)  # newer and older versions of keys
        result = _cli_run(user, tmp, "cases")
        assert result.exit_code == 0, result.output
        got = replay.requests_to("GET", "/api/2.0/secrets/get")
        statements = list(warehouse.statements)
    with Context.open(lake) as ctx:
        bronze = ctx.metastore.get_table("t_dev.bronze.cases_raw")
        quarantine = ctx.store.read("t_dev.silver.cases_quarantine").to_pylist()
    with Context.open(local) as ctx:
        local_q = ctx.store.read("t_dev.silver.cases_quarantine").to_pylist()
    return {
        "local": _snapshot(local, "cases"),
        "remote": _snapshot(lake, "cases"),
        "output": result.output,
        "secret_reads": got,
        "bronze": bronze,
        "statements": statements,
        "quarantine": (quarantine, local_q),
    }


def test_the_tokenization_key_comes_from_the_secret_scope_and_masks_match(
    cases: dict[str, Any],
) -> None:
    assert cases["secret_reads"], "the key was not read from the workspace's secret scope"
    assert cases["remote"]["silver"] == cases["local"]["silver"]
    assert cases["remote"]["gold.cases_by_state"] == cases["local"]["gold.cases_by_state"]
    phones = {r["phone"] for r in cases["remote"]["silver"]}
    assert phones and all(p.startswith("+234") and "*" in p for p in phones)
    remote_q, local_q = cases["quarantine"]
    assert [r["phone"] for r in remote_q] == [r["phone"] for r in local_q]  # same HMAC tokens
    # the batch's quarantine rows replace only that batch's (one commit, no column list)
    replace = "INSERT INTO `t_dev`.`silver`.`cases_quarantine` REPLACE WHERE `_batch_id` = "
    assert any(s.startswith(replace) for s in cases["statements"])
    assert KEY not in cases["output"] and not any(KEY in s for s in cases["statements"])


def test_a_later_file_upserts_through_a_staged_semi_join_and_one_merge(
    cases: dict[str, Any],
) -> None:
    silver = {r["case_id"]: r for r in cases["remote"]["silver"]}
    assert silver["C00000"]["confirmed"] == 9 and silver["C00001"]["confirmed"] == 9
    assert silver["C00005"]["confirmed"] != 9  # the older version did not win
    statements = cases["statements"]
    assert any("LEFT SEMI JOIN read_files(" in s for s in statements)  # silver's held versions
    merges = [s for s in statements if s.startswith("MERGE INTO `t_dev`.`silver`.`cases`")]
    assert len(merges) == 2 and all("WHEN MATCHED THEN UPDATE SET" in m for m in merges)


def test_bronze_pii_is_tagged_masked_at_read_and_kept_out_of_statistics(
    cases: dict[str, Any],
) -> None:
    phone = cases["bronze"].column("phone")
    assert phone.tags["pii"] == "phone" and phone.mask == "lakecrew.masks.phone_partial"
    stats = [s for s in cases["statements"] if "dataSkippingStatsColumns" in s]
    assert stats and all("phone" not in s.split("=", 1)[1] for s in stats)
    assert any(
        s.startswith("ANALYZE TABLE `t_dev`.`bronze`.`cases_raw`") for s in cases["statements"]
    )


def test_columns_differing_only_by_case_are_refused_before_any_statement() -> None:
    store = UnityCatalogTableStore(None, None, records_schema="c.lakecrew")  # type: ignore[arg-type]
    schema = pa.schema([("States", pa.string()), ("states", pa.string())])
    with pytest.raises(DataError, match="differ only by case"):
        store.create("c.bronze.t", schema)


def test_a_source_secret_comes_from_the_workspace_secret_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "d2pat-not-a-real-token-0001"
    lake = make_project(tmp_path / "lake")
    secrets = {("dhis2", "api_token"): token}
    with (
        UcLakehouse(lake, WAREHOUSE, volumes=tmp_path / "vol", secrets=secrets) as warehouse,
        DatabricksReplay(handlers=[warehouse]) as replay,
    ):
        user = _user_project(tmp_path / "user", replay.url)
        for k, v in cli_env(tmp_path).items():
            monkeypatch.setenv(k, v)
        with Context.open(user, writable=True) as ctx:
            loaded = pw.load(ctx, "dhis2_data_values")
            deps = pw.databricks_runner_deps(ctx, WS, "dhis2_dev", "local", {})
            deps.open_source(loaded)  # the spec's token_secret: {scope: dhis2, key: api_token}
            assert not ctx.secrets.exists("dhis2", "api_token")  # never the local store
            [read] = replay.requests_to("GET", "/api/2.0/secrets/get")
            assert read.query == {"scope": ["dhis2"], "key": ["api_token"]}
            # a missing one: NotFound naming the scope, key and the command that sets it
            warehouse.secrets.clear()
            with pytest.raises(NotFound, match="databricks secrets put-secret dhis2 api_token"):
                deps.open_source(loaded)


def test_staging_cleanup_deletes_only_stale_files_of_other_runs_and_never_fails_a_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lakecrew.adapters.databricks.client import build_client
    from lakecrew.adapters.databricks.sql import DatabricksSqlEngine
    from lakecrew.adapters.databricks.staging import VolumeStaging, table_folder
    from lakecrew.testing.databricks_replay import TOKEN, Request, error_body

    refuse = {"list": True}

    def no_listing(req: Request) -> Any:  # READ VOLUME missing: the listing answers 403
        if refuse["list"] and req.method == "GET" and req.path.startswith("/api/2.0/fs/dir"):
            body = json.dumps(error_body(403, "PERMISSION_DENIED", "no READ VOLUME")).encode()
            return 403, {}, body, "application/json"
        return None

    rows, volume = pa.table({"id": [1, 2]}), "c.lakecrew.staging"
    folder = tmp_path / "vol" / "c" / "lakecrew" / "staging" / table_folder("c.s.t")
    with (
        UcLakehouse(make_project(tmp_path / "lake"), WAREHOUSE, volumes=tmp_path / "vol") as uc,
        DatabricksReplay(handlers=[no_listing, uc]) as replay,
    ):
        client = build_client(host=replay.url, token=TOKEN)
        sql = DatabricksSqlEngine(client, WAREHOUSE)

        def store() -> VolumeStaging:
            return VolumeStaging(client, sql, volume, ensure_schema=lambda name: None)

        with caplog.at_level("WARNING"):
            first = store()
            first.stage("c.s.t", rows)  # the write goes on; the clean-up is skipped, said so
        assert "clean-up skipped" in caplog.text and first.removed == []
        refuse["list"] = False
        second = store()
        stale = folder / f"{'a' * 12}-{'0' * 32}.parquet"  # a killed run's file, 2 hours old
        fresh = folder / f"{'b' * 12}-{'1' * 32}.parquet"  # another run's, just staged
        own = folder / f"{second.tag}-{'2' * 32}.parquet"  # this store's own, even if old
        for path in (stale, fresh, own):
            path.write_bytes(b"PAR1")
        for path in (stale, own):
            os.utime(path, (time.time() - 7200, time.time() - 7200))
        mine = Path(second.stage("c.s.t", rows)).name
        left = {p.name for p in folder.iterdir()}
        third = store()  # a later run: second's old file is another run's stale file to it
        third.stage("c.s.t", rows)
    assert [Path(p).name for p in second.removed] == [stale.name]
    assert {fresh.name, own.name, mine} <= left and stale.name not in left
    assert [Path(p).name for p in third.removed] == [own.name]  # first's file is fresh: kept
