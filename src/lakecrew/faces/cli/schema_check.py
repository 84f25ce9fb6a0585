"""Checks an `--output json` envelope against its kind's JSON Schema (faces/cli/schemas/).

On when ``LAKECREW_CHECK_SCHEMAS=1`` (the test suite sets it in tests/conftest.py, so every JSON
output of every test — in process or in a subprocess — is checked): an output that breaks its
kind's schema fails the command instead of reaching a script. A kind without a schema file is
not checked here; tests/unit/cli/test_json_schemas.py fails on it by name. Needs
``jsonschema`` (a dev dependency), imported only then.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from lakecrew.core.errors import LakecrewError

SCHEMAS = Path(__file__).with_name("schemas")
ENV = "LAKECREW_CHECK_SCHEMAS"


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def schema_path(kind: str) -> Path:
    return SCHEMAS / f"{kind}.schema.json"


@cache
def _validator(kind: str) -> Any:
    """The kind's validator; None when the kind has no schema yet (the static test
    tests/unit/cli/test_json_schemas.py is where a missing schema fails, naming the kind)."""
    from jsonschema import Draft202012Validator

    path = schema_path(kind)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(envelope: dict[str, Any]) -> list[str]:
    """Every way `envelope` breaks its kind's schema (empty when it conforms)."""
    validator = _validator(str(envelope.get("kind")))
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(envelope), key=str)
    return [f"{e.json_path}: {e.message[:200]}" for e in errors]


def check(envelope: dict[str, Any]) -> None:
    """Raise (exit 1) when the envelope breaks its schema."""
    found = problems(envelope)
    if found:
        kind = envelope.get("kind")
        raise LakecrewError(
            f"--output json of kind {kind!r} breaks its schema: {found[0]}"
            + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""),
            where=str(schema_path(str(kind))),
            fix="change the output or the schema (and say so in CHANGELOG.md)",
        )
