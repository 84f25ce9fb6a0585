from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakecrew.core.system_tables import SYSTEM_TABLES
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.simulate.simulator import simulate, write_ground_truth
from lakecrew.testing.memory_sinks import CountingSink, MemorySink
from lakecrew.testing.sdk_shapes import assert_parses_with_sdk

from .conftest import AS_OF

CODES = Path(__file__).resolve().parents[3] / "docs" / "violation-codes.md"


def _codes() -> set[str]:
    """The codes the simulator plants: the doc's first section (later sections list rules over
    sources the simulator does not build, such as the MLflow registry)."""
    text = CODES.read_text(encoding="utf-8").split("\n## ", 1)[0]
    return set(re.findall(r"^\| ([a-z_]+\.[a-z_]+) \|", text, flags=re.M))


def test_every_violation_code_is_planted(sim):
    _, report = sim
    planted = [v["code"] for v in report.ground_truth["violations"]]
    expected = _codes()
    assert len(expected) >= 35, "docs/violation-codes.md lists the canonical codes"
    assert expected <= set(planted), expected - set(planted)
    for code in expected - {"workspace.unregistered", "workspace.unapproved"}:
        assert planted.count(code) >= 2, code


def test_compliant_and_violating_resources_are_disjoint(sim):
    _, report = sim
    bad = {(v["workspace"], v["kind"], v["resource_id"]) for v in report.ground_truth["violations"]}
    ok = {(c["workspace"], c["kind"], c["resource_id"]) for c in report.ground_truth["compliant"]}
    assert not bad & ok
    assert len(ok) > 150


def test_every_object_parses_with_the_sdk(sim):
    sink, _ = sim
    seen = set()
    for kinds in sink.objects.values():
        for kind, objs in kinds.items():
            for o in objs.values():
                assert_parses_with_sdk(kind, o.data)
                seen.add(kind)
    assert seen == set(ObjectKind)


def test_ground_truth_ids_exist(sim):
    sink, report = sim
    for v in report.ground_truth["violations"] + report.ground_truth["compliant"]:
        if v["kind"] in {k.value for k in ObjectKind}:
            ids = {o.object_id for o in sink.list(v["workspace"], ObjectKind(v["kind"]))}
            assert v["resource_id"] in ids, v


def test_tables_match_their_schemas(sim):
    sink, _ = sim
    for name, batches in sink.batches.items():
        for t in batches:
            assert t.schema.equals(SYSTEM_TABLES[name]), name
        assert sink.modes[name][0] == "overwrite"
        assert all(m == "append" for m in sink.modes[name][1:])
    assert set(sink.batches) == set(SYSTEM_TABLES) - {"system.access.table_lineage"}


def _daily(sink: MemorySink) -> dict[date, float]:
    u = sink.table("system.billing.usage")
    q = pc.cast(u.column("usage_quantity"), pa.float64())
    t = pa.table({"d": u.column("usage_date"), "q": q}).group_by("d").aggregate([("q", "sum")])
    return dict(zip(t.column("d").to_pylist(), t.column("q_sum").to_pylist(), strict=True))


def test_usage_has_weekly_seasonality_and_partial_last_day(sim):
    sink, report = sim
    daily = _daily(sink)
    full = {d: v for d, v in daily.items() if d < AS_OF}
    weekday = [v for d, v in full.items() if d.weekday() < 5]
    weekend = [v for d, v in full.items() if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 1.1 * sum(weekend) / len(weekend)
    assert min(full) == AS_OF - timedelta(days=89)
    assert daily[AS_OF] < 0.7 * min(full.values())
    assert report.ground_truth["billing_lag_day"]["date"] == AS_OF.isoformat()


def test_anomalies_are_visible(sim):
    sink, report = sim
    u = sink.table("system.billing.usage")
    ids = {w["name"]: w["id"] for w in _ws_ids(sink)}
    for a in report.ground_truth["anomalies"]:
        mask = pc.and_(
            pc.equal(u["workspace_id"], ids[a["workspace"]]),
            pc.equal(u["billing_origin_product"], a["sku_family"]),
        )
        sub = u.filter(mask)
        t = (
            pa.table({"d": sub["usage_date"], "q": pc.cast(sub["usage_quantity"], pa.float64())})
            .group_by("d")
            .aggregate([("q", "sum")])
        )
        per_day = dict(zip(t["d"].to_pylist(), t["q_sum"].to_pylist(), strict=True))
        start = date.fromisoformat(a["start"])
        others = sorted(v for d, v in per_day.items() if abs((d - start).days) > 3 and d < AS_OF)
        median = others[len(others) // 2]
        assert per_day[start] > 2.0 * median, a


def _ws_ids(sink: MemorySink) -> list[dict[str, str]]:
    t = sink.table("system.access.workspaces_latest")
    return [
        {"name": n, "id": i}
        for n, i in zip(t["workspace_name"].to_pylist(), t["workspace_id"].to_pylist(), strict=True)
    ]


def test_corrections_sum_to_the_restatement(sim):
    sink, report = sim
    u = sink.table("system.billing.usage")
    qty = dict(zip(u["record_id"].to_pylist(), u["usage_quantity"].to_pylist(), strict=True))
    corr = report.ground_truth["corrections"]
    assert len(corr) >= 3
    for c in corr:
        total = qty[c["original"]] + qty[c["retraction"]] + qty[c["restatement"]]
        assert str(total.normalize()) == str(type(total)(c["restated_quantity"]).normalize())
    kinds = set(u["record_type"].to_pylist())
    assert kinds == {"ORIGINAL", "RETRACTION", "RESTATEMENT"}


def test_busy_cluster_has_a_run_in_progress_and_idle_ones_look_idle(sim):
    sink, report = sim
    busy = report.ground_truth["busy_clusters"]
    assert len(busy) >= 2
    tl = sink.table("system.lakeflow.job_run_timeline")
    nt = sink.table("system.compute.node_timeline")
    for b in busy:
        c = sink.objects[b["workspace"]][ObjectKind.CLUSTER][b["cluster_id"]].data
        assert c["state"] == "RUNNING"
        runs = tl.filter(pc.equal(tl["job_id"], b["job_id"]))
        last = runs.slice(runs.num_rows - 1)
        assert last["result_state"][0].as_py() is None
        assert b["cluster_id"] in last["compute_ids"][0].as_py()
    idle = [v for v in report.ground_truth["violations"] if v["code"] == "cluster.idle"]
    ran_on = {i for ids in tl["compute_ids"].to_pylist() for i in ids or []}  # converted once
    for v in idle:
        rows = nt.filter(pc.equal(nt["cluster_id"], v["resource_id"]))
        recent = rows.slice(rows.num_rows - 30)
        assert max(recent["cpu_user_percent"].to_pylist()) < 5
        assert v["resource_id"] not in ran_on


def test_multi_slice_runs_have_result_only_on_final_slice(sim):
    sink, _ = sim
    tl = sink.table("system.lakeflow.job_run_timeline")
    counts = tl.group_by("run_id").aggregate([("run_id", "count"), ("result_state", "count")])
    multi = counts.filter(pc.greater(counts["run_id_count"], 1))
    assert multi.num_rows > 0
    assert set(multi["result_state_count"].to_pylist()) <= {0, 1}
    assert "ONETIME_RETRY" in set(tl["trigger_type"].to_pylist())
    assert "FAILED" in set(tl["result_state"].to_pylist())


def test_estate_yaml_loads_with_the_config_model(sim, tmp_path):
    from lakecrew.services.estate.config import check_estate

    _, report = sim
    path = tmp_path / "lakecrew.yaml"
    path.write_text(report.estate_yaml)
    result = check_estate(path, require_approved=False)
    assert result.ok, result.problems
    assert result.config is not None
    assert len(result.config.workspaces) == 13
    assert [w.name for w in result.config.unapproved()] == ["cholera_prediction-dev-westafrica"]
    assert report.estate_yaml.startswith("# SIMULATED")


@pytest.mark.slow  # simulates the estate twice more
def test_determinism_and_ground_truth_file(sim, tmp_path):
    a, ra = sim  # seed 7 at AS_OF, simulated once per session
    b = MemorySink()
    rb = simulate(b, seed=7, scale=1, as_of=AS_OF)
    for name in a.batches:
        assert a.table(name).equals(b.table(name)), name

    def dump(s: MemorySink) -> str:
        return json.dumps(
            {
                w: {k.value: [o.data for o in v.values()] for k, v in ks.items()}
                for w, ks in s.objects.items()
            },
            sort_keys=True,
        )

    assert dump(a) == dump(b)
    write_ground_truth(ra, tmp_path / "a.json")
    write_ground_truth(rb, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    c = MemorySink()
    simulate(c, seed=4, scale=1, as_of=AS_OF)
    assert not c.table("system.billing.usage").equals(a.table("system.billing.usage"))


@pytest.mark.slow  # simulates the estate at scale 1 and 2
def test_scale_grows_resources_and_usage():
    small, big = CountingSink(), CountingSink()
    r1 = simulate(small, seed=7, scale=1, as_of=AS_OF)
    r3 = simulate(big, seed=7, scale=2, as_of=AS_OF)
    assert r3.resource_total > 1.3 * r1.resource_total
    assert big.rows["system.billing.usage"] > small.rows["system.billing.usage"]
    assert big.objects >= r3.resource_total - r3.resources["tables"]


def test_labels_and_secrets(sim):
    sink, report = sim
    assert all(c["lakecrew.simulated"] == "true" for c in sink.conf.values())
    for kinds in sink.objects.values():
        for o in kinds.get(ObjectKind.CLUSTER, {}).values():
            assert o.data["creator_user_name"].endswith("@sim.ehealthafrica.example")
    assert "dapi" not in json.dumps(report.ground_truth)
