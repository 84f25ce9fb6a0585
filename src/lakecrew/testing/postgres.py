"""Start a real, throw-away PostgreSQL server for tests (Debian ``postgresql`` package).

Finds the binaries under /usr/lib/postgresql/*/bin, runs ``initdb`` into a fresh temporary
directory and starts the server on a free 127.0.0.1 port with its unix socket in that directory.
Root cannot run PostgreSQL, so as root every server command runs as the ``postgres`` OS user
(created by the Debian package) through ``runuser``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "lakecrew"


def find_pg_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding ``initdb``, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running test server; ``dsn`` connects as a trusted superuser over TCP."""

    bindir: Path
    root: Path
    port: int

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def dsn(self) -> str:
        """libpq connection string (no password: trust auth on 127.0.0.1 only)."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip()[-500:]}")

    def init(self) -> None:
        """Create the cluster (trust auth, UTF-8, superuser ``lakecrew``)."""
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(self.root / "server.log")
        self._run("pg_ctl", "start", "-w", "-D", str(self.datadir), "-l", log, "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` simulates a crash)."""
        self._run("pg_ctl", "stop", "-w", "-D", str(self.datadir), "-m", mode)


def start_server() -> PgServer:
    """Init and start a fresh server in a new temporary directory."""
    bindir = find_pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found; apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="lakecrew-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PgServer(bindir, root, _free_port())
    server.init()
    server.start()
    return server


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the test module.

    Fails when the package is missing (CI installs it); set LAKECREW_SKIP_MISSING_SERVERS=1 to
    skip instead on a developer machine without it.
    """
    if find_pg_bindir() is None:
        why = "PostgreSQL server package not installed (.ci/run installs it)"
        if os.environ.get("LAKECREW_SKIP_MISSING_SERVERS") == "1":
            pytest.skip(why)
        pytest.fail(why)
    server = start_server()
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        finally:
            shutil.rmtree(server.root, ignore_errors=True)
