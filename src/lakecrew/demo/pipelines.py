"""The demo pipelines: the bundled real data, DHIS2 recordings served on 127.0.0.1.

``run_demo_pipelines(ctx)`` runs every demo spec (dev) for ``lakecrew demo``; the DHIS2 ones read
the bundled recordings through the real DHIS2 source from a replay server that requires the
token kept in the project's secret store.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from pydantic import SecretStr

from lakecrew.demo.replay_server import ReplayServer, Route, dhis2_routes
from lakecrew.services.pipelines.loader import load_pipeline_spec
from lakecrew.wiring.context import Context
from lakecrew.wiring.pipelines import demo_dir, runner_for

DEMO_PIPELINES = (
    "lassa_weekly",
    "facilities",
    "eha_locations",
    "dhis2_org_units",
    "dhis2_data_values",
    "dhis2_tracked_entities",
)
TEI_RECORDING = "trackedEntityInstance_legacy_with_enrollments_events.json"


def demo_routes() -> list[Route]:
    """Recorded DHIS2 GET responses, plus the tracked-entity import payload in a GET envelope."""
    folder = demo_dir() / "data" / "dhis2"
    record = json.loads((folder / TEI_RECORDING).read_text(encoding="utf-8"))
    envelope = {
        "pager": {"page": 1, "pageCount": 1, "total": 1, "pageSize": 200},
        "trackedEntityInstances": [record],
    }
    tei = Route(
        "/api/trackedEntityInstances",
        json.dumps(envelope).encode("utf-8"),
        {"trackedEntityType": ["nEenWmSyUEp"]},
    )
    return [*dhis2_routes(folder), tei]


def run_demo_pipelines(ctx: Context) -> dict[str, Any]:
    """Run every demo pipeline (dev) on the bundled data; name → summary dict.

    The DHIS2 pipelines read the bundled DHIS2 recordings through the real DHIS2 source, served
    by a replay server on 127.0.0.1 that requires the token stored in the project's secret store.
    """
    store = ctx.secrets
    if not store.exists("dhis2", "api_token"):
        store.put("dhis2", "api_token", SecretStr("d2pat_" + secrets.token_hex(20)))
    token = store.get("dhis2", "api_token").get_secret_value()
    out: dict[str, Any] = {}
    with ReplayServer(demo_routes(), token=token) as server:
        dhis2 = {"base_url": server.url}
        overrides = {name: dhis2 for name in DEMO_PIPELINES if name.startswith("dhis2")}
        runner = runner_for(ctx, create_keys=True, source_overrides=overrides)
        for name in DEMO_PIPELINES:
            report = runner.run(load_pipeline_spec(demo_dir() / f"{name}.yaml", "dev"))
            out[name] = {
                "tables": report.tables,
                "quarantine": report.quarantine,
                "layers": report.layers,
                "reconciled": report.reconciled,
                "expectations": report.expectations,
            }
    return out
