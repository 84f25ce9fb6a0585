"""kill -9 at chosen write points of a three-file `lakecrew pipeline run`, then a re-run.

The crash points are counted writes (``lakecrew.testing.crash_points``: before or after each
Delta commit), spread evenly over the run, never a sleep. The run commits bronze's batch k+1 on
a writer thread while silver writes batch k, so which commit a point lands on may differ from
one trial to the next; what must hold wherever it lands is the same: the re-run exits 0,
reconciles, and leaves every row in bronze and silver exactly once and gold equal to silver.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.testing.pipelines import CASES_HEADER, case_rows, make_project, write_spec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = int(os.environ.get("LAKECREW_KILL_TRIALS", "8"))  # evenly spread; 24+ for a soak
KEY = {"LAKECREW_SECRET_TESTS_PII_HMAC_KEY": "kill-points-test-key-0123456789abcdef"}
IDS = sorted(f"C{i:05d}" for start in (0, 100, 200) for i in range(start, start + 20))


def _run(project: Path, count_file: Path, kill_at: int | None) -> subprocess.CompletedProcess[str]:
    args = ["pipeline", "run", "cases", "--project", str(project), "--output", "json"]
    if kill_at is None:
        cmd = [str(Path(sys.executable).with_name("lakecrew")), *args]
    else:
        tool = [sys.executable, "-m", "lakecrew.testing.crash_points"]
        cmd = [*tool, str(kill_at), str(count_file), "--", *args]
    env = {**os.environ, **KEY}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("pipeline-kill")
    project = make_project(root / "template")
    write_spec(project)
    for i, name in enumerate(("a", "b", "c")):
        (project / "incoming" / f"{name}.csv").write_text(CASES_HEADER + case_rows(i * 100, 20))
    reference = root / "reference"
    shutil.copytree(project, reference)
    counted = _run(reference, root / "writes.txt", 0)
    assert counted.returncode == 0, counted.stderr
    return {"project": project, "writes": int((root / "writes.txt").read_text())}


def _points(writes: int) -> list[int]:
    last = 2 * writes
    return sorted({1 + round(i * (last - 1) / max(TRIALS - 1, 1)) for i in range(TRIALS)})


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_kill_at_any_write_then_a_rerun_loses_and_doubles_nothing(
    template: dict[str, Any], tmp_path: Path, trial: int
) -> None:
    points = _points(template["writes"])
    if trial >= len(points):
        pytest.skip("fewer distinct points than trials")
    project = tmp_path / "project"
    shutil.copytree(template["project"], project)
    killed = _run(project, tmp_path / "writes.txt", points[trial])
    assert killed.returncode == -signal.SIGKILL, (points[trial], killed.stderr[-2000:])
    rerun = _run(project, tmp_path / "writes.txt", None)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert json.loads(rerun.stdout)["items"][0]["reconciled"] is True
    store = DeltaStore(project / ".lakecrew" / "lakehouse")
    bronze = store.read("t_dev.bronze.cases_raw", columns=["case_id"]).column(0).to_pylist()
    assert sorted(bronze) == IDS
    silver = store.read("t_dev.silver.cases")
    assert sorted(silver.column("case_id").to_pylist()) == IDS
    gold = store.read("t_dev.gold.cases_by_state")
    assert pc.sum(gold.column("confirmed")).as_py() == pc.sum(silver.column("confirmed")).as_py()
