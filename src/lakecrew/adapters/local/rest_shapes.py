"""Check REST-shaped workspace objects against the databricks-sdk dataclasses that parse them.

`from_dict` of the SDK never complains: unknown keys are dropped, unknown enum values become None
and wrong types pass through. So lakecrew checks stored and imported objects itself, walking the
dataclass type hints of databricks-sdk 0.162.0:

- `check_shape(kind, data)` lists wrong types and missing required fields (errors), and unknown
  fields or enum values the SDK would drop or null (notes: lakecrew keeps them in the JSON).
- `sdk_roundtrip_losses(kind, data)` parses with `from_dict`, renders with `as_dict` and lists every
  path that did not survive: the observable proof of what the SDK would lose.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from lakecrew.ports.workspace import ObjectKind

Severity = Literal["error", "note"]


@dataclass(frozen=True)
class ShapeIssue:
    """One finding about one field path (never the field's value)."""

    path: str
    problem: str
    severity: Severity


@cache
def sdk_class(kind: ObjectKind) -> type:
    """The databricks-sdk dataclass that parses a stored object of `kind`."""
    from databricks.sdk.service import compute, jobs, sql, workspace

    classes: dict[ObjectKind, type] = {
        ObjectKind.CLUSTER: compute.ClusterDetails,
        ObjectKind.CLUSTER_POLICY: compute.Policy,
        ObjectKind.JOB: jobs.Job,  # a superset of jobs.BaseJob (list) with run_as_user_name
        ObjectKind.WAREHOUSE: sql.EndpointInfo,  # same fields as sql.GetWarehouseResponse
        ObjectKind.INSTANCE_POOL: compute.InstancePoolAndStats,
        ObjectKind.SECRET_SCOPE: workspace.SecretScope,
        ObjectKind.SECRET_ACL: workspace.AclItem,
    }
    return classes[ObjectKind(kind)]


def parse_with_sdk(kind: ObjectKind, data: Mapping[str, Any]) -> Any:
    """The SDK object for a stored dict (`<Class>.from_dict`)."""
    return sdk_class(kind).from_dict(dict(data))  # type: ignore[attr-defined]


@cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # an unresolvable annotation: accept anything there
        return {f.name: Any for f in dataclasses.fields(cls)}


@cache
def _required(cls: type) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return tp


_SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
}


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _check_enum(value: Any, tp: type[enum.Enum], path: str, out: list[ShapeIssue]) -> None:
    if not isinstance(value, str):
        out.append(ShapeIssue(path, f"expected an enum string, got {_type_name(value)}", "error"))
    elif value not in {m.value for m in tp}:
        out.append(
            ShapeIssue(path, f"enum value unknown to {tp.__name__} (SDK reads null)", "note")
        )


def _check(value: Any, tp: Any, path: str, out: list[ShapeIssue]) -> None:
    tp = _unwrap_optional(tp)
    if value is None or tp is Any:
        return
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        _check_enum(value, tp, path, out)
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        _check_object(value, tp, path, out)
    elif origin is list:
        if not isinstance(value, list):
            out.append(ShapeIssue(path, f"expected an array, got {_type_name(value)}", "error"))
            return
        (item_tp,) = typing.get_args(tp) or (Any,)
        for i, item in enumerate(value):
            _check(item, item_tp, f"{path}[{i}]", out)
    elif origin is dict:
        if not isinstance(value, dict):
            out.append(ShapeIssue(path, f"expected an object, got {_type_name(value)}", "error"))
            return
        args = typing.get_args(tp)
        for key, item in value.items():
            _check(item, args[1] if len(args) == 2 else Any, f"{path}.{key}", out)
    elif tp in _SCALARS:
        ok = isinstance(value, _SCALARS[tp]) and (tp is bool or not isinstance(value, bool))
        if not ok:
            expected = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
            out.append(
                ShapeIssue(path, f"expected {expected[tp]}, got {_type_name(value)}", "error")
            )
    # Anything else (protobuf Timestamp/Duration, FieldMask, untyped Any) is accepted as is.


def _check_object(value: Any, cls: type, path: str, out: list[ShapeIssue]) -> None:
    if not isinstance(value, dict):
        where = path or "record"
        out.append(ShapeIssue(where, f"expected an object, got {_type_name(value)}", "error"))
        return
    hints = _hints(cls)
    prefix = f"{path}." if path else ""
    for name in _required(cls):
        if value.get(name) is None:
            out.append(ShapeIssue(prefix + name, "required field is missing", "error"))
    for key, item in value.items():
        if key not in hints:
            out.append(ShapeIssue(prefix + key, "unknown field (kept; the SDK drops it)", "note"))
        else:
            _check(item, hints[key], prefix + key, out)


def check_shape(kind: ObjectKind, data: Any) -> list[ShapeIssue]:
    """Wrong types and missing required fields (errors), and what the SDK would lose (notes)."""
    out: list[ShapeIssue] = []
    _check_object(data, sdk_class(kind), "", out)
    return out


def _losses(original: Any, rendered: Any, path: str, out: list[str]) -> None:
    if isinstance(original, dict):
        rendered = rendered if isinstance(rendered, dict) else {}
        prefix = f"{path}." if path else ""
        for key, value in original.items():
            if value is None or value in ({}, []):
                continue  # as_dict omits empty values; nothing is lost
            if key not in rendered:
                out.append(prefix + key)
            else:
                _losses(value, rendered[key], prefix + key, out)
    elif isinstance(original, list):
        rendered = rendered if isinstance(rendered, list) else []
        for i, value in enumerate(original):
            if i >= len(rendered):
                out.append(f"{path}[{i}]")
            else:
                _losses(value, rendered[i], f"{path}[{i}]", out)


def sdk_roundtrip_losses(kind: ObjectKind, data: Mapping[str, Any]) -> list[str]:
    """Paths present in `data` but missing after `from_dict(data).as_dict()`."""
    out: list[str] = []
    _losses(dict(data), parse_with_sdk(kind, data).as_dict(), "", out)
    return out
