"""Fixtures shared by every test folder.

The simulated estate (seed 7, scale 1) is built once per test session (per xdist worker) and
copied for each module that needs a project of its own: building it writes hundreds of Delta
commits, copying it is a file copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Every `--output json` of the suite (in process and in subprocesses) is checked against its
# kind's JSON Schema by the CLI itself (faces/cli/schema_check.py).
os.environ.setdefault("LAKECREW_CHECK_SCHEMAS", "1")

from lakecrew.testing.crew import simulated_project


@pytest.fixture(scope="session")
def seed7_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated estate, seed 7, scale 1 — read-only: copy it with `seed7_project`."""
    root = tmp_path_factory.mktemp("seed7-template") / "proj"
    simulated_project(root, seed=7, scale=1)
    return root


@pytest.fixture(scope="module")
def seed7_project(seed7_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the seed-7 simulated project for one test module."""
    dest = tmp_path_factory.mktemp("seed7") / "proj"
    shutil.copytree(seed7_template, dest)
    return dest


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
