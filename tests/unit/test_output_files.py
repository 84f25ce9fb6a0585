"""Report and export files: atomic, never overwritten without --force, never through a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.core.errors import UsageError
from lakecrew.services.output_files import write_file, write_files


def test_existing_files_are_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_files(out, {"a.json": b"1", "b.csv": b"2"}, force=False)
    with pytest.raises(UsageError, match=r"--force") as err:
        write_files(out, {"a.json": b"new", "c.md": b"3"}, force=False)
    assert err.value.exit_code == 2
    assert not (out / "c.md").exists()  # nothing written when one file is refused
    write_files(out, {"a.json": b"new"}, force=True)
    assert (out / "a.json").read_bytes() == b"new"
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "b.csv"]  # no temp files left


def test_a_planted_symlink_is_replaced_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me", encoding="utf-8")
    out = tmp_path / "policies"
    out.mkdir()
    (out / "p.json").symlink_to(outside)
    with pytest.raises(UsageError, match="exist"):
        write_files(out, {"p.json": b"{}"}, force=False)
    write_files(out, {"p.json": b"{}"}, force=True)
    assert outside.read_text(encoding="utf-8") == "keep me"
    assert not (out / "p.json").is_symlink() and (out / "p.json").read_bytes() == b"{}"


def test_out_of_the_wrong_kind_is_a_located_error(tmp_path: Path) -> None:
    a_file = tmp_path / "report.md"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="is a file") as err:
        write_files(a_file, {"r.json": b"{}"}, force=True)
    assert err.value.where == "--out"
    with pytest.raises(UsageError, match="is a folder"):
        write_file(tmp_path, b"x", force=True)
    with pytest.raises(UsageError, match="a file is in the way"):
        write_files(a_file / "sub", {"r.json": b"{}"}, force=True)
