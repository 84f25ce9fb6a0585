"""Registry sweep: 1,000 models × 20 versions on the project's local MLflow (SQLite).

Run: .venv/bin/python -m benchmarks.bench_registry [--models 1000] [--versions 20] [--repeats 3]

Setup (once, cached in bench-out/registry/): one real trained model is logged; 1,000 runs are
created through MLflow's client (metrics, commit tag); registered models and versions are then
inserted in bulk into MLflow's own `registered_models`/`model_versions` tables (the API would
take ~1 s per 50 versions here), every version pointing at the one logged model's artifacts and
at its model's run. Measured, in fresh processes: the hygiene sweep (`read_registry` → resources
→ the default pack) with and without reading each version's MLmodel (signature, input example).
Prints seconds, registry/tracking requests, findings and peak memory.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure, report

OUT = Path("bench-out") / "registry"


def _setup(models: int, versions: int) -> Path:
    from lakecrew.testing.mlflow_store import build_project

    root = OUT / f"p{models}x{versions}"
    done = root / "ready.json"
    if done.exists():
        return root
    sp = build_project(root.resolve())
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    client = MlflowClient(tracking_uri=sp.tracking_uri)
    src = client.get_model_version("dev.ml.m", sp.versions[0].version).source
    runs = []
    for i in range(models):
        run = client.create_run(sp.versions[0].experiment_id)
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("holdout_f1", 0.8, now, 0)],
            tags=[RunTag("mlflow.source.git.commit", f"{i:040x}")] if i % 10 else [],
        )
        client.set_terminated(run.info.run_id)
        runs.append(run.info.run_id)
    db = sqlite3.connect(root / ".lakecrew" / "mlflow" / "mlflow.db")
    now = int(time.time() * 1000)
    with db:
        db.executemany(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description)"
            " VALUES (?,?,?,?)",
            [(f"dev.ml.bench_{i:04d}", now, now, "" if i % 7 == 0 else "d") for i in range(models)],
        )
        db.executemany(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
            "description, user_id, current_stage, source, run_id, status, status_message, "
            "run_link, storage_location) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    f"dev.ml.bench_{i:04d}",
                    v + 1,
                    now,
                    now,
                    "",
                    "bench",
                    "None",
                    src,
                    runs[i],
                    "READY",
                    "",
                    "",
                    src,
                )
                for i in range(models)
                for v in range(versions)
            ],
        )
    db.close()
    done.write_text(json.dumps({"models": models, "versions": versions}))
    return root


def step_sweep(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.adapters.mlflow import local_registry
    from lakecrew.core.findings import EvaluationContext
    from lakecrew.services.mlops.config import MlopsConfig
    from lakecrew.services.mlops.hygiene import read_registry, registry_resources
    from lakecrew.services.policy.engine import Engine
    from lakecrew.services.policy.loader import load_pack

    reg = local_registry(Path(args["root"]) / ".lakecrew", read_model_metadata=args["metadata"])
    reg.client.search_experiments()  # open the store (imports, engine) outside the timing
    reg.requests = 0
    t0 = time.perf_counter()
    view = read_registry(reg)
    res = registry_resources(view, reg.list_experiments(), MlopsConfig())
    ctx = EvaluationContext(workspace="(models)", environment="prod")
    found = Engine(load_pack().pack).evaluate(res, ctx)
    return {
        "seconds": time.perf_counter() - t0,
        "requests": reg.requests,
        "models": len(view.models),
        "versions": sum(len(v) for v in view.versions.values()),
        "findings": len(found.findings),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models", type=int, default=1000)
    p.add_argument("--versions", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.models, a.versions, a.repeats = 20, 5, 1
    root = _setup(a.models, a.versions).resolve()
    rows = [
        measure(
            "bench_registry",
            "sweep",
            {"root": str(root), "metadata": False},
            repeats=a.repeats,
            name="sweep (registry + runs)",
        ),
        measure(
            "bench_registry",
            "sweep",
            {"root": str(root), "metadata": True},
            repeats=a.repeats,
            name="sweep + MLmodel of every version",
        ),
    ]
    out = report(f"registry hygiene sweep: {a.models} models x {a.versions} versions", rows)
    (OUT / "result.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in {"sweep"}:
        child_main({"sweep": step_sweep})
    else:
        sys.exit(main(sys.argv[1:]))
