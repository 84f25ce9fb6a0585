"""Fixtures shared by every test folder.

The simulated estate (seed 7, scale 1) is built once per test run (the xdist workers share it)
and copied for each module that needs a project of its own: building it writes hundreds of Delta
commits, copying it is a file copy. Under `--dist loadgroup` (every make target), tests without
an `xdist_group` are scheduled by module, so module fixtures are built on one worker.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

# Every `--output json` of the suite (in process and in subprocesses) is checked against its
# kind's JSON Schema by the CLI itself (faces/cli/schema_check.py).
os.environ.setdefault("LAKECREW_CHECK_SCHEMAS", "1")

from lakecrew.testing.crew import simulated_project


@pytest.fixture(scope="session")
def seed7_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated estate, seed 7, scale 1 — read-only: copy it with `seed7_project`.

    Built once per test run: under xdist the workers share one base temp folder, and the first
    worker to need the estate builds it under a file lock while the other waits for it."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "seed7-template" / "proj"
    with (shared / "seed7-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root.parent / "built").exists():
            shutil.rmtree(root.parent, ignore_errors=True)
            simulated_project(root, seed=7, scale=1)
            (root.parent / "built").touch()
    return root


@pytest.fixture(scope="module")
def seed7_project(seed7_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the seed-7 simulated project for one test module."""
    dest = tmp_path_factory.mktemp("seed7") / "proj"
    shutil.copytree(seed7_template, dest)
    return dest


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`, with every test that names no `xdist_group` grouped by its module:
    a module's fixtures (a copied estate, a sweep run once for several tests) are then built on
    one worker, not once on each worker that the plain per-test split happens to send it to."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ByModuleOrGroup(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.rfind("@") > nodeid.rfind("]"):
                return nodeid.rsplit("@", maxsplit=1)[-1]
            return nodeid.split("::", 1)[0]

    return ByModuleOrGroup(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` honour `xdist_group` again: pytest-xdist 3.8 tags each item by
    assigning `item._nodeid`, which pytest 9 no longer reads (the id is `item._id`), so every
    group was silently spread over the workers (each rebuilding its session fixtures). The
    same suffix xdist intends, `<nodeid>@<group>`, set where pytest 9 reads it."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        names = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in item.iter_markers("xdist_group")
        }
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(names))}")


# `--debug` sets these in os.environ for the rest of the CLI process (Spark's log, MLflow's
# stderr lines). A test invoking the CLI in-process with --debug would leak them into every later
# test of its worker, and into the subprocesses those start (the demo test checks stderr).
_DEBUG_ENV = ("LAKECREW_SPARK_LOG_LEVEL", "LAKECREW_MLFLOW_EVENTS")


@pytest.fixture(autouse=True)
def _no_debug_env_leak() -> Any:
    before = {k: os.environ.get(k) for k in _DEBUG_ENV}
    yield
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True, scope="session")
def _cli_command_tree_built_once() -> Any:
    """`CliRunner.invoke(app, ...)` turns the typer app into its click command tree on every
    call (~0.07 s CPU for lakecrew's ~130 commands, more than a cheap command itself). The
    tree depends only on the app, so each worker builds it once per app; every invocation
    still parses its arguments and runs the command afresh. (A real `lakecrew` process runs
    one command: the product has nothing to cache.)"""
    import typer.testing

    build = typer.testing._get_command  # fails loudly if typer renames it
    built: dict[int, tuple[Any, Any]] = {}

    def once(app: Any) -> Any:
        if id(app) not in built:
            built[id(app)] = (app, build(app))  # the app is kept: its id stays its own
        return built[id(app)][1]

    typer.testing._get_command = once
    yield
    typer.testing._get_command = build
