"""The YAML line index and the pydantic-error-to-line mapping, independent of lakecrew.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from lakecrew.core.errors import ConfigError
from lakecrew.services.estate.yamlpos import (
    ConfigProblems,
    dotted,
    load_yaml,
    load_yaml_file,
    validate_model,
)

TEXT = """\
a: 1
items:
  - name: x
    sub:
      k: v
  -
    name: y
base: &base
  name: z
merged:
  <<: *base
  extra: 2
"""


def test_lines_of_keys_and_items() -> None:
    doc = load_yaml(TEXT, source="f.yaml")
    assert doc.line_of(("a",)) == 1
    assert doc.line_of(("items", 0)) == 3
    assert doc.line_of(("items", 0, "sub", "k")) == 5
    assert doc.line_of(("items", 1, "name")) == 7
    assert doc.where(("merged", "extra")) == "f.yaml:12"
    assert doc.data["merged"] == {"name": "z", "extra": 2}


def test_unknown_path_falls_back_to_longest_known_prefix() -> None:
    doc = load_yaml(TEXT, source="f.yaml")
    assert doc.line_of(("items", 0, "missing", 3)) == 3
    assert doc.line_of(("nope",)) == 1


def test_several_documents_are_refused_with_line() -> None:
    with pytest.raises(ConfigProblems) as info:
        load_yaml("a: 1\n---\nb: 2\n", source="f.yaml")
    assert info.value.problems[0].where == "f.yaml:2"  # the '---' starting the second one
    assert "another document" in info.value.problems[0].what


def test_tab_indentation_is_a_syntax_error_with_line() -> None:
    with pytest.raises(ConfigProblems) as info:
        load_yaml("a:\n  b: 1\n\tc: 2\n", source="f.yaml")
    assert info.value.problems[0].where == "f.yaml:3"
    assert info.value.problems[0].what.startswith("invalid YAML")


@pytest.mark.parametrize("deep", [False, True])  # libyaml's loader, then the pure-Python one
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-13-12", "month must be in 1..12"),
        ("2025-02-30", "day is out of range for month"),
        ("2025-02-01T25:00:00Z", "hour must be in 0..23"),
    ],
)
def test_a_date_that_does_not_exist_is_a_problem_at_its_line(
    value: str, reason: str, deep: bool
) -> None:
    """PyYAML reads YYYY-MM-DD as a date and raised a bare ValueError (an internal error)."""
    long = "x" * 2000 if deep else "x"  # a line past the bound libyaml is used under
    with pytest.raises(ConfigProblems) as info:
        load_yaml(f"a: 1\n# {long}\nb:\n  since: {value}\n", source="f.yaml")
    problem = info.value.problems[0]
    assert problem.where == "f.yaml:4"
    assert problem.what == f"{value!r} is not a valid date ({reason})"
    assert problem.fix is not None and "quote the value" in problem.fix
    quoted = load_yaml(f'since: "{value}"\nreal: 2025-03-12\n', source="f.yaml").data
    assert quoted["since"] == value and str(quoted["real"]) == "2025-03-12"


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inners: list[Inner]
    label: str | None = None


def test_validate_model_maps_each_error_to_its_line() -> None:
    doc = load_yaml("inners:\n  - count: 1\n  - count: many\n  - cuont: 3\n", source="s.yaml")
    with pytest.raises(ConfigProblems) as info:
        validate_model(Outer, doc)
    problems = info.value.problems
    assert [p.where for p in problems] == ["s.yaml:3", "s.yaml:4"]
    assert "inners[1].count" in problems[0].what and "got 'many'" in problems[0].what
    assert "unknown key 'cuont' in inners[2]" in problems[1].what
    assert problems[1].fix is not None and "did you mean 'count'" in problems[1].fix


def test_dotted() -> None:
    assert dotted(("workspaces", 0, "name")) == "workspaces[0].name"
    assert dotted(()) == "(top level)"


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read file"):
        load_yaml_file(bad)
