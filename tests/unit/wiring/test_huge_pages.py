"""A local pipeline runner turns transparent huge pages off for its process (Linux), unless
``LAKECREW_HUGE_PAGES=keep``; checked in a fresh process each, since the setting is the
process's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = """
import ctypes
ctypes.CDLL(None).prctl(41, 0, 0, 0, 0)  # on, whatever the parent (a test worker) had
from lakecrew.adapters.local import huge_pages
from lakecrew.testing.pipelines import make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context
import pathlib, sys, tempfile
root = make_project(pathlib.Path(tempfile.mkdtemp()) / "p")
write_spec(root)
before = huge_pages.turned_off()
ctx = Context.open(root, writable=True)
pw.runner_for(ctx, create_keys=True)
ctx.close()
print(before, huge_pages.turned_off())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="prctl(PR_SET_THP_DISABLE) is Linux's")
@pytest.mark.parametrize(("keep", "after"), [("", "True"), ("keep", "False")])
def test_a_local_runner_turns_huge_pages_off_unless_kept(keep: str, after: str) -> None:
    env = {**os.environ, "LAKECREW_HUGE_PAGES": keep}
    out = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", after]
