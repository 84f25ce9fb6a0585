"""Malformed inputs are located errors (exit 2 for config, 1 for data), never internal errors,
and an import that reads nothing does not succeed."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from lakecrew.core.errors import DataError, LakecrewError
from lakecrew.services.estate.importer import read_exports
from lakecrew.services.estate.yamlpos import MAX_BYTES, ConfigProblems, load_yaml, load_yaml_file

BOMB = "version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_yaml_alias_bomb_is_refused_fast_and_small() -> None:
    tracemalloc.start()
    started = time.process_time()
    with pytest.raises(ConfigProblems, match="expands to more than") as err:
        load_yaml(BOMB, source="lakecrew.yaml")
    cpu = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err.value.exit_code == 2 and "lakecrew.yaml:" in err.value.one_line()
    print(f"\nalias bomb ({len(BOMB)} bytes): refused in {cpu:.3f} s CPU, {peak / 1e6:.1f} MB peak")


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("version: 1\nx: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        ("version: 1\nx: " + "{a: " * 70 + "1" + "}" * 70 + "\n", "nested too deeply"),
        ("version: 1\nworkspaces: []\nfoo: 'a\x00b'\n", "NUL byte"),
    ],
)
def test_malformed_yaml_is_a_located_error(text: str, what: str) -> None:
    with pytest.raises(ConfigProblems, match=what) as err:
        load_yaml(text, source="lakecrew.yaml")
    assert err.value.one_line().startswith("lakecrew.yaml:")


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "lakecrew.yaml"
    big.write_bytes(b"# x\n" * (MAX_BYTES // 4 + 1))
    with pytest.raises(ConfigProblems, match="limit"):
        load_yaml_file(big)


def test_imports_of_nothing_loops_devices_and_deep_or_huge_json_fail(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "x").symlink_to(loop / "x")
    with pytest.raises(DataError, match="symlink loop"):
        read_exports(loop)
    device = tmp_path / "device"
    device.mkdir()
    (device / "clusters.json").symlink_to(os.devnull)
    with pytest.raises(DataError, match="not a regular file"):
        read_exports(device)
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "clusters.json").write_text("[" * 1_000_000 + "]" * 1_000_000, encoding="utf-8")
    with pytest.raises(DataError, match="nested too deeply"):
        read_exports(deep)
    huge = tmp_path / "huge"
    huge.mkdir()
    (huge / "clusters.json").write_text(
        '[{"cluster_id": "c1", "autotermination_minutes": 1' + "0" * 4000 + "}]", encoding="utf-8"
    )
    with pytest.raises(LakecrewError, match="64 bits"):
        read_exports(huge)
