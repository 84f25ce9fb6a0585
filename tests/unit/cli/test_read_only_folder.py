"""A read-only project folder: read-only commands work, writing ones say so in one line.

Root ignores permission bits, so as root the folder is made read-only for real: a read-only
bind mount in a private mount namespace (`unshare -m`), where every write fails with EROFS. As
any other user the folder's write bits are removed. The commands run in a child interpreter
(the mount exists only there).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakecrew.testing.pipelines import make_project
from lakecrew.wiring.context import Context

DRIVER = """
import json, sys
from typer.testing import CliRunner
from lakecrew.faces.cli.main import app
out = []
for cmd in json.loads(sys.argv[2]):
    r = CliRunner().invoke(app, ["-p", sys.argv[1], *cmd])
    out.append({"cmd": cmd, "code": r.exit_code, "stderr": r.stderr})
print(json.dumps(out))
"""

READS = [
    ["sql", "SELECT count(*) AS n FROM system.billing.usage"],
    ["sql", "SHOW TABLES IN system.billing"],
    ["sql", "DESCRIBE system.billing.usage"],
    ["findings"],
    ["actions"],
]
WRITES = [["sweep", "--workspace", "malaria-dev-westafrica", "--phase", "1"]]


def _mount_ro_prefix(root: Path) -> list[str]:
    """The command prefix that runs a child under a read-only view of `root` (root user)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root, which ignores permission bits, and no unshare(1) here")
    probe = subprocess.run(
        [unshare, "-m", "sh", "-c", f"mount --bind -o ro '{root}' '{root}'"],
        capture_output=True,
        check=False,
    )
    if probe.returncode:
        pytest.skip(
            "running as root, which ignores permission bits, and mount namespaces are not "
            f"permitted here ({probe.stderr.decode().strip()[:80]})"
        )
    return [unshare, "-m", "sh", "-c", f"mount --bind -o ro '{root}' '{root}' && exec \"$@\"", "-"]


@pytest.fixture
def read_only_project(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    root = make_project(tmp_path / "proj")
    Context.open(root, writable=True).close()  # system tables exist, as after any import
    if os.geteuid() == 0:
        yield root, _mount_ro_prefix(root)
        return
    modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
    for p, mode in modes.items():
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield root, []
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_read_only_folder(read_only_project: tuple[Path, list[str]]) -> None:
    root, prefix = read_only_project
    cmds = READS + WRITES
    child = [*prefix, sys.executable, "-c", DRIVER, str(root), json.dumps(cmds)]
    done = subprocess.run(child, capture_output=True, text=True, check=True, timeout=300)
    results = json.loads(done.stdout.splitlines()[-1])
    for r in results[: len(READS)]:
        assert r["code"] == 0, r
    (write,) = results[len(READS) :]
    assert write["code"] == 1, write
    assert "project folder is read-only" in write["stderr"], write
    assert "internal error" not in write["stderr"]
