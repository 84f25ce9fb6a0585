"""write_atomic: the old or the new file, whole; permissions set before it is visible."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lakecrew.core import files
from lakecrew.core.files import write_atomic


def test_replaces_whole_with_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "secret.txt"
    write_atomic(target, "old")
    write_atomic(target, "new ✓", mode=0o600)
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["secret.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"{}")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b'{"half": ')
    assert target.read_bytes() == b"{}"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
