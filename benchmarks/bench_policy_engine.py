"""Rough benchmark: the default pack over 100,000 REST-shaped resources on one core.

Run: .venv/bin/python benchmarks/bench_policy_engine.py [N]
Prints resources/second and findings; also the filter-compile share (compile vs evaluate).
"""

from __future__ import annotations

import copy
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecrew.core.findings import EvaluationContext
from lakecrew.core.resources import RESOURCE_TYPES, Resource
from lakecrew.services.policy.engine import Engine
from lakecrew.services.policy.loader import load_pack

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TAGS = {"cost_center": "Health", "project": "malaria", "owner": "amina", "environment": "dev"}
BASE: dict[str, dict[str, Any]] = {
    "clusters": {
        "cluster_source": "UI",
        "node_type_id": "m5.xlarge",
        "autoscale": {"min_workers": 1, "max_workers": 2},
        "autotermination_minutes": 30,
        "custom_tags": TAGS,
        "state": "RUNNING",
        "aws_attributes": {"availability": "SPOT_WITH_FALLBACK"},
    },
    "jobs": {
        "settings": {
            "name": "j",
            "tags": TAGS,
            "tasks": [
                {
                    "task_key": "a",
                    "max_retries": 1,
                    "notebook_task": {"base_parameters": {"x": "1"}},
                },
                {"task_key": "b"},
            ],
            "email_notifications": {"on_failure": ["t@x.org"]},
        }
    },
    "warehouses": {
        "name": "w",
        "auto_stop_mins": 120,
        "tags": {"custom_tags": [{"key": "owner", "value": "a"}]},
    },
    "instance_pools": {"instance_pool_name": "p", "custom_tags": {}},
}
ID = {
    "clusters": "cluster_id",
    "jobs": "job_id",
    "warehouses": "id",
    "instance_pools": "instance_pool_id",
}


def resources(n: int) -> list[Resource]:
    out = []
    kinds = list(BASE)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        data = copy.deepcopy(BASE[kind])
        data[ID[kind]] = f"{kind}-{i}"
        if kind == "clusters" and i % 3 == 0:
            data["custom_tags"] = {"owner": "x"}
            data["node_type_id"] = "r5.4xlarge"
        out.append(RESOURCE_TYPES.get(kind).obj.make("ws", data))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    pack = load_pack().pack
    res = resources(n)
    activity = {f"clusters-{i}": NOW - timedelta(hours=2) for i in range(0, n, 8)}
    ctx = EvaluationContext("ws", "dev", now=NOW, last_activity=activity)
    t0 = time.perf_counter()
    engine = Engine(pack)
    t1 = time.perf_counter()
    result = engine.evaluate(res, ctx)
    t2 = time.perf_counter()
    print(
        f"rules={len(pack.rules)} resources={result.evaluated} "
        f"rule-applications={result.rules_applied} findings={len(result.findings)}"
    )
    print(
        f"engine build {t1 - t0:.3f}s  evaluate {t2 - t1:.2f}s  "
        f"=> {result.evaluated / (t2 - t1):,.0f} resources/s"
    )


if __name__ == "__main__":
    main()
