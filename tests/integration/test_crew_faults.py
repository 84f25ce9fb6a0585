"""kill -9 during `lakecrew sweep --apply`, at chosen write points, on a small simulated estate.

The crash points are counted writes (``lakecrew.testing.crash_points``: before or after each
Delta commit and each workspace mutation), spread over the whole run; never a sleep, so the
outcome of every trial is the same on a loaded machine.

After every kill: the ledger reads back, every workspace object that changed is explained by an
`applied` or `intent` action, every `applied` action's object is in its target state, and every
`intent` left behind is either untouched (before-state) or done (target state). Then a re-run
completes and ends exactly where an uninterrupted run ends: same applied actions, same workspace
state, no action applied twice. A second concurrent sweep is refused naming the holder's pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lakecrew.adapters.local.delta import DeltaStore
from lakecrew.adapters.local.ledger_store import DeltaLedgerStore
from lakecrew.adapters.local.lock import FileLocks
from lakecrew.adapters.local.workspace_store import LocalWorkspace
from lakecrew.ports.clock import SystemClock
from lakecrew.ports.ledger import ActionRow
from lakecrew.ports.workspace import ObjectKind
from lakecrew.services.crew.executor import satisfies
from lakecrew.testing.crew import ground_truth, simulated_project

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKSPACE = "immunization-dev-westafrica"
TRIALS = int(os.environ.get("LAKECREW_KILL_TRIALS", "8"))  # evenly spread; 24+ for a soak
LAKECREW = [str(Path(sys.executable).with_name("lakecrew"))]


def _crashing(kill_at: int, count_file: Path, project: Path, now: str) -> list[str]:
    """The sweep, run through crash_points: SIGKILL at write point ``kill_at`` (0: never)."""
    args = _cmd(project, now)[len(LAKECREW) :]
    tool = [sys.executable, "-m", "lakecrew.testing.crash_points"]
    return [*tool, str(kill_at), str(count_file), "--", *args]


def _cmd(project: Path, now: str) -> list[str]:
    return [
        *LAKECREW,
        "sweep",
        "--workspace",
        WORKSPACE,
        "--phase",
        "4",
        "--apply",
        "--now",
        now,
        "--project",
        str(project),
        "--output",
        "json",
    ]


def _state(project: Path) -> dict[tuple[str, str], Any]:
    ws = LocalWorkspace(
        WORKSPACE, "0", project / ".lakecrew" / "workspace.db", lambda _r: None, SystemClock()
    )
    try:
        return {(k.value, o.object_id): o.data for k in ObjectKind for o in ws.list(k)}
    finally:
        ws.close()


def _actions(project: Path) -> list[ActionRow]:
    ledger = DeltaLedgerStore(DeltaStore(project / ".lakecrew" / "lakehouse"))
    if not ledger.store.exists(ledger.full_name(ActionRow)):
        return []
    return ledger.actions(WORKSPACE)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("crew-faults")
    template = root / "template"
    simulated_project(template, scale=3)
    now = ground_truth(template)["now"]
    reference = root / "reference"
    shutil.copytree(template, reference)
    count_file = root / "writes.txt"
    done = subprocess.run(
        _crashing(0, count_file, reference, now), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    applied = {(a.fingerprint, a.action) for a in _actions(reference) if a.status == "applied"}
    assert len(applied) >= 4, "the estate should give the Executor several actions"
    return {
        "root": root,
        "template": template,
        "now": now,
        "writes": int(count_file.read_text()),
        "applied": applied,
        "final": _state(reference),
        "initial": _state(template),
    }


def _check_consistent(project: Path, initial: dict[tuple[str, str], Any]) -> Counter[str]:
    rows = _actions(project)
    live = _state(project)
    by_object: dict[tuple[str, str], list[ActionRow]] = {}
    for row in rows:
        by_object.setdefault((row.kind, row.resource_id), []).append(row)
        assert row.status != "rolling_back"
        data = live[(row.kind, row.resource_id)]
        target = json.loads(row.target_json)
        if row.status == "applied":
            assert satisfies(row.action, row.kind, target, data), row
        if row.status == "intent":
            before = json.loads(row.before_json or "null")
            assert data == before or satisfies(row.action, row.kind, target, data), row
    for key, data in live.items():
        if data != initial.get(key):
            assert any(r.status in ("applied", "intent") for r in by_object.get(key, [])), (
                f"{key} changed without an applied/intent action"
            )
    return Counter(r.status for r in rows)


def test_kill_9_at_random_points_leaves_ledger_and_workspace_consistent(
    estate: dict[str, Any],
) -> None:
    points = 2 * estate["writes"]  # before and after every write
    chosen = sorted({1 + (points - 1) * t // max(TRIALS - 1, 1) for t in range(TRIALS)})
    outcomes: Counter[str] = Counter()
    for trial, kill_at in enumerate(chosen):
        project = estate["root"] / f"trial-{trial}"
        shutil.copytree(estate["template"], project)
        proc = subprocess.run(
            _crashing(kill_at, project / "writes.txt", project, estate["now"]),
            capture_output=True,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, f"crash point {kill_at} was not reached"
        statuses = _check_consistent(project, estate["initial"])
        done = statuses["applied"] + statuses["intent"]
        outcomes[
            "finished" if proc.returncode == 0 else "mid-apply" if done else "before-apply"
        ] += 1
        rerun = subprocess.run(
            _cmd(project, estate["now"]), capture_output=True, text=True, check=False
        )
        assert rerun.returncode == 0, f"trial {trial}: {rerun.stderr}"
        rows = _actions(project)
        assert not [r for r in rows if r.status == "intent"], f"trial {trial}"
        applied = [(a.fingerprint, a.action) for a in rows if a.status == "applied"]
        assert len(applied) == len(set(applied)), f"trial {trial}: an action applied twice"
        assert set(applied) == estate["applied"], f"trial {trial}: actions lost or added"
        assert _state(project) == estate["final"], f"trial {trial}: final state differs"
        shutil.rmtree(project)
    print(f"\nkill -9 at {len(chosen)} of {points} write points, outcomes {dict(outcomes)}")
    assert sum(outcomes.values()) == len(chosen)
    assert outcomes["mid-apply"] >= 3


def test_a_second_concurrent_sweep_is_refused(estate: dict[str, Any]) -> None:
    project = estate["root"] / "locked"
    shutil.copytree(estate["template"], project)
    with FileLocks(project / ".lakecrew" / "locks").acquire(WORKSPACE):
        refused = subprocess.run(
            _cmd(project, estate["now"]), capture_output=True, text=True, check=False
        )
    assert refused.returncode == 1
    assert f"another sweep of workspace '{WORKSPACE}' is running (pid {os.getpid()})" in (
        refused.stderr + refused.stdout
    )
    assert _state(project) == estate["initial"]
    ok = subprocess.run(_cmd(project, estate["now"]), capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
