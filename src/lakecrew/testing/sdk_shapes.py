"""Test helpers: prove that stored workspace objects parse with the databricks-sdk dataclasses.

The map ObjectKind → SDK class and the shape checks live in the local adapter
(`lakecrew.adapters.local.rest_shapes`) because the importer uses them too; this module re-exports
them and adds one assertion for tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakecrew.adapters.local.rest_shapes import (
    ShapeIssue,
    check_shape,
    parse_with_sdk,
    sdk_class,
    sdk_roundtrip_losses,
)
from lakecrew.ports.workspace import ObjectKind

__all__ = [
    "ShapeIssue",
    "assert_parses_with_sdk",
    "check_shape",
    "parse_with_sdk",
    "sdk_class",
    "sdk_roundtrip_losses",
]


def assert_parses_with_sdk(
    kind: ObjectKind, data: Mapping[str, Any], *, allow_lost: tuple[str, ...] = ()
) -> Any:
    """Parse `data` with the kind's SDK class; fail on type errors or on lost fields.

    `allow_lost` lists paths the caller knows the SDK drops (e.g. a kept unknown field).
    Returns the parsed SDK object.
    """
    errors = [i for i in check_shape(kind, data) if i.severity == "error"]
    assert not errors, f"{kind.value}: {errors}"
    parsed = parse_with_sdk(kind, data)
    assert isinstance(parsed, sdk_class(kind))
    lost = [p for p in sdk_roundtrip_losses(kind, data) if p not in allow_lost]
    assert not lost, f"{kind.value}: the SDK drops or nulls {lost}"
    return parsed
