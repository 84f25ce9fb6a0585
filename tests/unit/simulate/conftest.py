from __future__ import annotations

from datetime import date

import pytest

from lakecrew.services.simulate.simulator import SimulationReport, simulate
from lakecrew.testing.memory_sinks import MemorySink

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="session")
def sim() -> tuple[MemorySink, SimulationReport]:
    sink = MemorySink()
    report = simulate(sink, seed=7, scale=1, as_of=AS_OF)
    return sink, report
