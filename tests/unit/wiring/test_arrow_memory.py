"""Arrow's allocator options are set when lakecrew is imported before pyarrow, never over a
value the environment already has, and not at all when opted out or too late."""

from __future__ import annotations

import os
import subprocess
import sys

from lakecrew.wiring.arrow_memory import KEEP, OPTIONS, configure


def test_unset_options_are_set_and_set_ones_kept() -> None:
    env = {"MIMALLOC_PURGE_DELAY": "50"}
    added = configure(env, loaded=set())
    assert added == {"MIMALLOC_PURGE_DECOMMITS": "0"}
    assert env == {"MIMALLOC_PURGE_DELAY": "50", "MIMALLOC_PURGE_DECOMMITS": "0"}


def test_nothing_is_set_once_pyarrow_is_loaded_or_when_opted_out() -> None:
    env: dict[str, str] = {}
    assert configure(env, loaded={"pyarrow"}) == {} and env == {}
    env = {KEEP: "keep"}
    assert configure(env, loaded=set()) == {} and env == {KEEP: "keep"}


def _child(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in OPTIONS and k != KEEP}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_importing_lakecrew_first_sets_them_before_pyarrow_loads() -> None:
    code = (
        "import os, sys, lakecrew; loaded = 'pyarrow' in sys.modules; import pyarrow; "
        "print(loaded, os.environ.get('MIMALLOC_PURGE_DECOMMITS'), "
        "os.environ.get('MIMALLOC_PURGE_DELAY'))"
    )
    assert _child(code) == "False 0 1000"
    late = "import os, pyarrow, lakecrew; print(os.environ.get('MIMALLOC_PURGE_DELAY'))"
    assert _child(late) == "None"
