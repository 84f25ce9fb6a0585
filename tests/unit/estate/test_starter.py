"""`lakecrew init`'s starter file: valid, commented, written atomically, never clobbering."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.core.errors import SafetyRefusal
from lakecrew.services.estate.config import load_estate
from lakecrew.services.estate.starter import starter_text, write_starter


def test_starter_loads_cleanly_with_approved_example_workspaces(tmp_path: Path) -> None:
    path = write_starter(tmp_path / "new-project")
    config = load_estate(path, require_approved=True)
    assert len(config.workspaces) == 4
    assert "malaria-dev-westafrica" in config.names()
    prod = config.workspace("malaria-prod-westafrica")
    assert prod.backend == "databricks" and prod.host and prod.auth_profile
    assert all(ws.workspace_id for ws in config.workspaces)


def test_starter_is_commented() -> None:
    text = starter_text()
    assert text.count("#") > 20
    assert "<project>-<environment>-<region>" in text


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "lakecrew.yaml"
    target.write_text("version: 1\n# mine\n", encoding="utf-8")
    with pytest.raises(SafetyRefusal, match="already exists"):
        write_starter(tmp_path)
    assert target.read_text(encoding="utf-8") == "version: 1\n# mine\n"
    write_starter(tmp_path, force=True)
    assert target.read_text(encoding="utf-8") == starter_text()
    assert [p.name for p in tmp_path.iterdir()] == ["lakecrew.yaml"]  # no temp file left
