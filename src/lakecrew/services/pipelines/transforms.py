"""Registry of Python transforms: the escape hatch when SQL cannot express a step.

A transform takes and returns an Arrow table; specs name it (``python: lassa.unpivot_weeks``).
Register with the decorator; the runner looks it up by name.

    @register_transform("lassa.unpivot_weeks")
    def unpivot(table: pa.Table) -> pa.Table: ...
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from lakecrew.core.errors import ConfigError, Conflict

Transform = Callable[[pa.Table], pa.Table]
_REGISTRY: dict[str, Transform] = {}


def register_transform(name: str) -> Callable[[Transform], Transform]:
    """Decorator registering ``fn`` under ``name`` (a second, different ``fn`` is a Conflict)."""

    def wrap(fn: Transform) -> Transform:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise Conflict(
                f"python transform {name} is registered twice",
                where=name,
                fix="give one of them another name",
            )
        _REGISTRY[name] = fn
        return fn

    return wrap


def get_transform(name: str) -> Transform:
    """The transform registered as ``name``; ConfigError listing the known ones if absent."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none registered"
        raise ConfigError(
            f"unknown python transform {name}",
            where=name,
            fix=f"register it with @register_transform (known: {known})",
        ) from None


def registered() -> list[str]:
    """Names of all registered transforms."""
    return sorted(_REGISTRY)
