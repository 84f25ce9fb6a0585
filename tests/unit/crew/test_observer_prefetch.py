"""A sweep of several workspaces reads billing and run history once (Observer.prepare): every
workspace's cost spikes and job SLA resources equal what it reads alone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lakecrew.ports.clock import FixedClock
from lakecrew.testing.crew import ground_truth
from lakecrew.wiring.context import Context
from lakecrew.wiring.crew import workspace_info

# two with a planted cost spike, one without; all with job SLA verdicts
NAMES = ("malaria-prod-westafrica", "lassa-qa-westafrica", "malaria-dev-westafrica")


def test_prefetched_spikes_and_slas_equal_each_workspace_read_alone(
    seed7_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock(datetime.fromisoformat(ground_truth(seed7_template)["now"]))
    with Context.open(seed7_template, clock=clock) as ctx:
        infos = [workspace_info(ctx, n) for n in NAMES]
        observer = ctx.observer
        spikes, slas = observer.extra_sources[2], observer.extra_sources[3]
        assert (spikes.__name__, slas.__name__) == ("spikes", "job_slas")
        alone = {i.name: (list(spikes(i)), list(slas(i))) for i in infos}
        observer.prepare(infos)
        queries: list[str] = []
        for method in ("fetch", "fetch_arrow"):
            real = getattr(ctx.sql, method)

            def spy(sql: str, *args: Any, _real: Any = real, **kw: Any) -> Any:
                queries.append(sql)
                return _real(sql, *args, **kw)

            monkeypatch.setattr(ctx.sql, method, spy)
        ahead = {i.name: (list(spikes(i)), list(slas(i))) for i in infos}
    assert ahead == alone
    assert not [q for q in queries if "billing.usage" in q or "job_run_timeline" in q]
    assert sum(len(s) for s, _ in alone.values()) == 2, "the planted cost spikes"
    assert all(j for _, j in alone.values()), "jobs with SLA verdicts in each"
