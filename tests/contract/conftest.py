"""Contract suite: the same behaviour tests run against every adapter of a port.

`local`: the embedded backend (adapters/local) seeded from tests/fixtures/databricks/seed.json.
`databricks`: the real databricks-sdk over real HTTP against DatabricksReplay, answering from the
recorded REST payloads of tests/fixtures/databricks/<scenario>/ (one file per call).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.databricks.client import ClientOptions, build_client
from lakecrew.adapters.databricks.workspace import DatabricksWorkspace
from lakecrew.ports.workspace import ObjectKind
from lakecrew.testing.databricks_replay import TOKEN, DatabricksReplay, VirtualClock, load_calls
from lakecrew.testing.workspace import local_workspace

FIXTURES = Path(__file__).parents[1] / "fixtures" / "databricks"
SEED: dict[str, Any] = json.loads((FIXTURES / "seed.json").read_text())
OPTIONS = ClientOptions(retry_timeout_seconds=60, http_timeout_seconds=10, backoff_base=0.5)


@dataclass
class Backend:
    """One adapter under test; `replay`/`clock` are set for the Databricks one."""

    name: str
    workspace: Any
    replay: DatabricksReplay | None = None
    clock: VirtualClock | None = None


def databricks_backend(stack: ExitStack, scenario: str | None, **replay_kw: Any) -> Backend:
    """A DatabricksWorkspace over a replay server of one recorded scenario."""
    calls = load_calls(FIXTURES / scenario) if scenario else []
    replay = stack.enter_context(DatabricksReplay(calls, **replay_kw))
    clock = VirtualClock()
    client = build_client(host=replay.url, token=TOKEN, options=OPTIONS, clock=clock)
    return Backend("databricks", DatabricksWorkspace("ehealth-dev-eu", client), replay, clock)


@pytest.fixture(params=["local", "databricks"])
def backend_for(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], Backend]]:
    """`backend_for(scenario)`: the workspace of the parametrised adapter for one scenario."""
    with ExitStack() as stack:

        def make(scenario: str) -> Backend:
            if request.param == "databricks":
                return databricks_backend(stack, scenario)
            store, _, _ = local_workspace(tmp_path / "ws.db")
            stack.callback(store.close)
            store.load(
                {
                    ObjectKind.CLUSTER: SEED["clusters"],
                    ObjectKind.JOB: SEED["jobs"],
                    ObjectKind.WAREHOUSE: SEED["warehouses"],
                },
                SEED["conf"],
            )
            return Backend("local", store)

        yield make
