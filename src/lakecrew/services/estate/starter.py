"""`lakecrew init`: write the commented starter lakecrew.yaml into a project folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lakecrew.core.errors import SafetyRefusal
from lakecrew.core.files import write_atomic
from lakecrew.services.estate.config import CONFIG_FILENAME, check_document
from lakecrew.services.estate.yamlpos import ConfigProblems, load_yaml


def starter_text() -> str:
    """The commented starter lakecrew.yaml shipped with the package."""
    return resources.files("lakecrew.services.estate").joinpath("starter.yaml").read_text("utf-8")


def write_starter(project_dir: Path, *, force: bool = False) -> Path:
    """Write the starter lakecrew.yaml into ``project_dir`` (created if missing), atomically.

    Refuses to overwrite an existing file unless ``force``. The text is validated before it is
    written, so a broken package never produces a broken project.
    """
    target = project_dir / CONFIG_FILENAME
    if target.exists() and not force:
        raise SafetyRefusal(
            "lakecrew.yaml already exists; not overwriting it",
            where=str(target),
            fix="edit it, or run `lakecrew init --force` to replace it with the starter",
        )
    text = starter_text()
    report = check_document(load_yaml(text, source="starter.yaml"))
    if report.problems:
        raise ConfigProblems(report.problems)
    project_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text, mode=0o644)  # a normal, shareable config file
    return target
