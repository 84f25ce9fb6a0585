"""Phase-1 crew sweep through the databricks-sdk against the replay server: time and peak RSS.

The replay server (in this parent process) answers a SyntheticWorkspace of N resources, half
clusters and half jobs, generated page by page (clusters and jobs in pages of 100), with empty
policies, warehouses, pools and secret scopes. The objects are compliant Dev clusters and jobs
(lakecrew.testing.crew) except one in 20, which lacks its tags: an estate where most resources
are fine, as in the simulator. Each measurement is a fresh child process that
runs the crew's phase-1 core over a DatabricksWorkspace: observe → evaluate → track findings →
plan (the Sweeper's own steps, without the local ledger writes), in two modes:

- `streamed`: the sweep's default; resources are read and evaluated in chunks of 5,000 and only
  those with findings are kept for the plan;
- `materialised`: every resource is read into the Snapshot before evaluation (observe_chunk=0).

Both modes must give the same findings (checked: count and a digest of the fingerprints). The
child's peak RSS is the client side only (the server runs in this process).

`--vs-local`: 10,000 clusters + 10,000 jobs, with the same objects first read from a local
workspace store (`LocalWorkspace`, SQLite) as the baseline of the ratios; all three must give
the same findings; list requests per listing are counted on the server (one per page of 100).

Run: .venv/bin/python -m benchmarks.bench_databricks_sweep [--quick] [--vs-local]
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Measurement, child_main, measure, report

OUT = Path("bench-out") / "databricks_sweep"
NOW = "2026-03-02T10:00:00+00:00"


def sweep(args: dict[str, Any]) -> dict[str, Any]:
    """One phase-1 core sweep (observe, evaluate, plan) of the replay server's workspace."""
    from lakecrew.adapters.databricks.client import build_client
    from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
    from lakecrew.adapters.local.channels import FileChannel
    from lakecrew.adapters.local.delta import DeltaStore
    from lakecrew.adapters.local.layout import ProjectLayout
    from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
    from lakecrew.adapters.local.lock import FileLocks
    from lakecrew.adapters.local.metastore import SqliteMetastore
    from lakecrew.adapters.local.ticket_store import LocalTicketStore
    from lakecrew.ports.clock import FixedClock
    from lakecrew.services.crew.observer import Observer
    from lakecrew.services.crew.plan import CrewSettings, build_plan
    from lakecrew.services.crew.snapshot import WorkspaceInfo
    from lakecrew.services.crew.sweep import CrewDeps, Sweeper
    from lakecrew.services.policy.engine import Engine
    from lakecrew.services.policy.loader import load_pack
    from lakecrew.testing.databricks_replay import TOKEN

    clock = FixedClock(datetime.fromisoformat(NOW))
    pack = load_pack().pack
    settings = CrewSettings(observe_chunk=int(args["chunk"]))
    layout = ProjectLayout(OUT / "project").ensure()  # the ledger side is built, not used
    deps = CrewDeps(
        pack=pack,
        engine=Engine(pack),
        ledger=DeltaLedgerStore(
            DeltaStore.for_project(layout), SqliteMetastore(layout.metastore_path)
        ),
        notifier=FileChannel(layout.state_dir / "outbox.jsonl"),
        tickets=LocalTicketStore(layout.state_dir / "tickets.db"),
        locks=FileLocks(layout.locks_dir),
        observer=Observer(clock),
        clock=clock,
        settings=settings,
    )
    info = WorkspaceInfo("bench-dev-eu", "dev", "owner@example.org", "bench", "Health", "1")
    ws: Any
    if args.get("db"):  # the local path: the same objects in a local workspace store
        from lakecrew.adapters.local.workspace_store import LocalWorkspace

        ws = LocalWorkspace(info.name, "1", Path(args["db"]), lambda row: None, clock)
    else:
        ws = DatabricksWorkspace(info.name, build_client(host=args["url"], token=TOKEN))
    sweeper = Sweeper(deps)
    t0 = time.perf_counter()
    snap, evaluation = sweeper.observe(ws, info)
    pol = sweeper.policy.track(snap, evaluation, [], [], "bench")
    plan = build_plan(
        snap, pol.findings, pack=pack, phase=1, history={}, settings=settings,
        evaluated=pol.evaluated,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256(
        "\n".join(sorted(tf.finding.fingerprint for tf in pol.findings)).encode()
    ).hexdigest()[:12]
    return {
        "seconds": seconds,
        "discovered": snap.discovered_total,
        "evaluated": pol.evaluated,
        "kept": len(snap.resources),
        "findings": len(pol.findings),
        "planned": len(plan.actions),
        "digest": digest,
    }


BROKEN_EVERY = 20  # one resource in 20 breaks a rule (tags removed), the rest are compliant


def mostly_compliant_cluster(i: int) -> dict[str, Any]:
    """Cluster i: a compliant Dev cluster (testing.crew), untagged when i % 20 == 0."""
    from lakecrew.testing.crew import cluster

    data = cluster(f"0101-{i:06d}-bench", cluster_name=f"bench-{i}", start_time=1_735_689_600_000)
    if i % BROKEN_EVERY == 0:
        data["custom_tags"] = {}
    return data


def mostly_compliant_job(i: int) -> dict[str, Any]:
    """Job i: a compliant Dev job (testing.crew), untagged when i % 20 == 0."""
    from lakecrew.testing.crew import job

    data = job(1_000_000 + i, name=f"bench-job-{i}")
    data["created_time"] = 1_735_689_600_000 + i
    if i % BROKEN_EVERY == 0:
        data["settings"]["tags"] = {}
    return data


def run_size(n: int, repeats: int, *, local: bool = False) -> list[Measurement]:
    """Both modes at N resources against one replay server (and the local store first when
    `local`: the same objects, read without HTTP — the baseline of the ratios)."""
    from lakecrew.services.crew.observer import CONF_KEYS
    from lakecrew.testing.databricks_export import rest_calls
    from lakecrew.testing.databricks_replay import DatabricksReplay, SyntheticWorkspace

    synth = SyntheticWorkspace(
        clusters=n // 2,
        jobs=n - n // 2,
        make_cluster=mostly_compliant_cluster,
        make_job=mostly_compliant_job,
    )
    calls = rest_calls({}, dict.fromkeys(CONF_KEYS, "true"))
    rows = []
    if local:  # the baseline: the same objects read from a local workspace store
        db = _local_db(n, synth)
        rows.append(measure("bench_databricks_sweep", "sweep", {"db": str(db), "chunk": 5000},
                            repeats=repeats, name=f"local store {n:,} resources"))  # fmt: skip
    with DatabricksReplay(calls, handlers=[synth], keep_seen=True) as replay:
        for mode, chunk in (("streamed", 5000), ("materialised", 0)):
            # the server answers from threads of this process: its CPU while the children
            # sweep is the server's own time (the target is "<= 1.5x local + server time")
            cpu = time.process_time()
            row = measure(
                "bench_databricks_sweep",
                "sweep",
                {"url": replay.url, "chunk": chunk},
                repeats=repeats,
                name=f"{mode} {n:,} resources",
            )
            row.extra["server_cpu_s_per_run"] = round((time.process_time() - cpu) / repeats, 2)
            rows.append(row)
        pages = [
            r for r in replay.seen if r.path in ("/api/2.1/clusters/list", "/api/2.2/jobs/list")
        ]
        rows[-1].extra["list_requests_per_run"] = len(pages) / (2 * repeats)
    first = rows[0].extra
    for r in rows[1:]:
        if (first["findings"], first["digest"]) != (r.extra["findings"], r.extra["digest"]):
            raise SystemExit(f"sweeps differ at {n}: {rows[0].name} {first} vs {r.name} {r.extra}")
    return rows


def _local_db(n: int, synth: Any) -> Path:
    """A local workspace store holding the replay server's N objects (built once per N)."""
    from lakecrew.adapters.local.workspace_store import LocalWorkspace
    from lakecrew.ports.clock import FixedClock
    from lakecrew.ports.workspace import ObjectKind
    from lakecrew.services.crew.observer import CONF_KEYS

    db = (OUT / f"local-{n}.db").resolve()
    if db.exists():
        return db
    OUT.mkdir(parents=True, exist_ok=True)
    clock = FixedClock(datetime.fromisoformat(NOW))
    store = LocalWorkspace("bench-dev-eu", "1", db, lambda row: None, clock)
    store.load(
        {
            ObjectKind.CLUSTER: [synth.make_cluster(i) for i in range(synth.clusters)],
            ObjectKind.JOB: [synth.make_job(i) for i in range(synth.jobs)],
        },
        dict.fromkeys(CONF_KEYS, "true"),
    )
    store.close()
    return db


def main() -> None:
    quick = "--quick" in sys.argv
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[Measurement] = []
    if "--vs-local" in sys.argv:  # 10,000 clusters + 10,000 jobs, local store vs SDK path
        rows.extend(run_size(2_000 if quick else 20_000, repeats=1 if quick else 3, local=True))
    else:
        sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
        for n in sizes:
            rows.extend(run_size(n, repeats=1 if quick or n >= 100_000 else 2))
    out = report(
        "phase-1 sweep (observe, evaluate, plan) via databricks-sdk against the replay server",
        rows,
        baseline=rows[0].name,
    )
    base = rows[0]
    if "--vs-local" in sys.argv:  # lakecrew's side: the SDK path minus the server's own time
        for r in rows[1:]:
            client = r.median_s - float(r.extra["server_cpu_s_per_run"])
            line = (
                f"{r.name}: {client:.2f} s without the server's {r.extra['server_cpu_s_per_run']}"
            )
            print(f"{line} s CPU = {client / base.median_s:.2f}x the local store (target <= 1.5x)")
    (OUT / "result.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "sweep":
        child_main({"sweep": sweep})
    else:
        main()
