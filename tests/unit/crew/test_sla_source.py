"""SLA signals: success below target, p95 regression against the job's own baseline, no verdict
on too few runs (pure functions of the SLA source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lakecrew.core.pack import Sla
from lakecrew.ports.clock import FixedClock
from lakecrew.services.crew.sla_source import Run, SlaSource, p95, success_signal

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def _runs(n: int, *, failed: int = 0, seconds: float = 600, days_ago: float = 1) -> list[Run]:
    out = []
    for i in range(n):
        end = NOW - timedelta(days=days_ago, minutes=i)
        result = "FAILED" if i < failed else "SUCCEEDED"
        out.append(Run("42", "nightly", result, end - timedelta(seconds=seconds), end))
    return out


def test_p95_is_the_nearest_rank() -> None:
    assert p95(list(range(1, 101))) == 95
    assert p95([5.0]) == 5.0


def test_success_signal_only_below_target() -> None:
    assert success_signal("x", 1000, 990, 99.0, 30) is None
    sig = success_signal("x", 1000, 986, 99.0, 30)
    assert sig is not None and sig["success_percent"] == 98.6 and sig["failed_runs"] == 14


def test_job_signals_success_and_regression() -> None:
    src = SlaSource(None, FixedClock(NOW), Sla())  # type: ignore[arg-type]
    base = _runs(20, seconds=600, days_ago=10)
    recent = _runs(10, failed=1, seconds=1200, days_ago=1)
    signals = src._job_signals(base + recent, 99.0, NOW)
    assert signals is not None
    codes = {s["code"]: s for s in signals}
    assert codes["sla.job_success_rate"]["failed_runs"] == 1
    reg = codes["sla.job_duration_regression"]
    assert reg["ratio"] == 2.0 and reg["baseline_p95_seconds"] == 600


def test_too_few_runs_gives_no_verdict_and_steady_jobs_no_signal() -> None:
    src = SlaSource(None, FixedClock(NOW), Sla())  # type: ignore[arg-type]
    assert src._job_signals(_runs(5, failed=5), 99.0, NOW) is None
    steady = _runs(20, seconds=600, days_ago=10) + _runs(10, seconds=650)
    assert src._job_signals(steady, 99.0, NOW) == []


def test_gold_freshness_from_table_lineage(tmp_path: Path) -> None:
    import pyarrow as pa
    from typer.testing import CliRunner

    from lakecrew.core.system_tables import ACCESS_TABLE_LINEAGE
    from lakecrew.faces.cli.main import app
    from lakecrew.wiring.context import Context

    assert CliRunner().invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    with Context.open(tmp_path, writable=True, clock=FixedClock(NOW)) as ctx:
        row = {
            "target_table_full_name": "prod.gold.weekly_cases",
            "event_time": NOW - timedelta(hours=30),
        }
        ctx.store.append(
            "system.access.table_lineage", pa.Table.from_pylist([row], schema=ACCESS_TABLE_LINEAGE)
        )
        targets = {
            "prod.gold.weekly_cases": 24.0,
            "prod.gold.never_written": 24.0,
            "prod.gold.fresh_enough": 48.0,
        }
        row2 = {
            "target_table_full_name": "prod.gold.fresh_enough",
            "event_time": NOW - timedelta(hours=30),
        }
        ctx.store.append(
            "system.access.table_lineage", pa.Table.from_pylist([row2], schema=ACCESS_TABLE_LINEAGE)
        )
        src = SlaSource(ctx.sql, ctx.clock, Sla(), lambda: targets)
        got = {r.resource_id: r.data["signals"] for r in src.fresh_resources("(estate)", NOW)}
    assert got["fresh:prod.gold.weekly_cases"][0]["age_hours"] == 30.0
    assert got["fresh:prod.gold.never_written"][0]["last_write"] is None
    assert got["fresh:prod.gold.fresh_enough"] == []  # 30 h old, SLA 48 h


def test_the_weekly_sla_section_gives_every_level_its_measure_target_and_verdict(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    from typer.testing import CliRunner

    from lakecrew.core.system_tables import LAKEFLOW_JOB_RUN_TIMELINE
    from lakecrew.faces.cli.main import app
    from lakecrew.faces.cli.render import Out
    from lakecrew.faces.cli.sla_view import render_sla, sla_markdown
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.crew import sla_section_at

    assert CliRunner().invoke(app, ["-p", str(tmp_path), "init"]).exit_code == 0
    prod = "1000000000000003"

    def run(job: str, i: int, days_ago: float, seconds: int, state: str) -> dict[str, object]:
        end = NOW - timedelta(days=days_ago, minutes=i)
        return {"workspace_id": prod, "job_id": job, "run_id": f"{job}-{i}-{days_ago}",
                "run_name": f"job {job}", "period_start_time": end - timedelta(seconds=seconds),
                "period_end_time": end, "result_state": state}  # fmt: skip

    rows = [run("7", i, 10, 600, "SUCCEEDED") for i in range(20)]
    rows += [run("7", i, 1, 1300, "FAILED" if i == 0 else "SUCCEEDED") for i in range(6)]
    rows += [run("8", i, 2, 60, "SUCCEEDED") for i in range(3)]  # too few runs for a verdict
    with Context.open(tmp_path, writable=True, clock=FixedClock(NOW)) as ctx:
        ctx.store.append(
            "system.lakeflow.job_run_timeline",
            pa.Table.from_pylist(rows, schema=LAKEFLOW_JOB_RUN_TIMELINE),
        )
        # the project ran the lassa demo once (its bronze exists): its gold SLA counts here
        raw = "lassa_dev.bronze.lassa_weekly_raw"
        ctx.store.create_table(raw, pa.schema([("x", pa.string())]))
        section = sla_section_at(ctx, NOW)
    envs = {e["environment"]: e for e in section["environments"]}
    assert envs["prod"]["finished_runs"] == 29 and envs["prod"]["target_pct"] == 99.0
    assert envs["prod"]["status"] == "breached" and envs["prod"]["success_pct"] == 96.55
    assert envs["dev"]["status"] == "no_target" and envs["qa"]["status"] == "too_few_runs"
    jobs = {j["job_id"]: j for j in section["jobs"]}
    assert jobs["7"]["status"] == "breached" and jobs["7"]["duration_status"] == "breached"
    assert (jobs["7"]["p95_seconds"], jobs["7"]["baseline_p95_seconds"]) == (1300, 600)
    assert jobs["8"]["status"] == "too_few_runs" and jobs["8"]["duration_status"] == "no_baseline"
    fresh = {f["table"]: f for f in section["freshness"]}
    assert fresh["lassa_dev.gold.lassa_weekly_by_state"]["status"] == "never_written"
    assert fresh["lassa_dev.gold.lassa_weekly_by_state"]["sla_hours"] == 192
    assert section["breaches"] >= 3
    import io

    buf = io.StringIO()
    render_sla(Out(file=buf), section)
    lines = [ln.split("\t") for ln in buf.getvalue().splitlines()]
    assert ["prod", "29", "1", "96.5%", "99.0%", "breached"] in lines
    assert "### Jobs missing a target" in sla_markdown(section)


GOLD_WITH_SLA = "  - table: gold.cases_by_state\n    freshness_hours: 30\n"


def test_demo_specs_count_for_freshness_only_in_a_project_that_ran_one(tmp_path: Path) -> None:
    """`lakecrew init` then `sweep` flagged the demo's never-built gold tables as critical."""
    import pyarrow as pa

    from lakecrew.testing.pipelines import make_project, write_spec
    from lakecrew.wiring.context import Context
    from lakecrew.wiring.crew import gold_freshness
    from lakecrew.wiring.governance import spec_wants

    root = make_project(tmp_path / "proj")
    spec = write_spec(root)  # a project spec of its own, never run
    text = spec.read_text()
    spec.write_text(text.replace("  - table: gold.cases_by_state\n", GOLD_WITH_SLA, 1))
    with Context.open(root, writable=True) as ctx:
        fresh = gold_freshness(ctx)
        assert [t for t in fresh if "lassa" in t or "facilities" in t] == []
        assert any(t.startswith("t_dev.gold.") for t in fresh)  # a project's own spec counts
        assert not [t for t in spec_wants(ctx) if not t.startswith("t_")]  # nor governed
        raw = "lassa_dev.bronze.lassa_weekly_raw"
        ctx.store.create_table(raw, pa.schema([("x", pa.string())]))
        fresh = gold_freshness(ctx)
        wants = spec_wants(ctx)
    assert fresh["lassa_prod.gold.lassa_weekly_by_state"] == 192  # ran in dev: every env counts
    assert "lassa_qa.silver.lassa_weekly" in wants and not [t for t in wants if "facilit" in t]
    assert not [t for t in fresh if "facilities" in t]
