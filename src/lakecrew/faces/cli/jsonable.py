"""Plain JSON values of what commands return (a leaf module: console and render both use it)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

_PLAIN = frozenset({str, int, float, bool})


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: Decimal → string (exact), date/datetime → ISO 8601 (datetimes in UTC),
    Path → str, enums → value, dataclasses/pydantic models → dicts, secrets → masked."""
    if value is None or type(value) in _PLAIN:  # most values: `sql` calls this once per cell
        return value
    if "pydantic" in sys.modules:  # only then can a value be a pydantic object (fast start-up)
        base_model, secret_str = _pydantic_types()
        if isinstance(value, secret_str):
            return "**********"
        if isinstance(value, base_model):
            return to_jsonable(value.model_dump(mode="python"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Enum):
        return value.value
    text = scalar_text(value)
    return value if text is None else text


@cache
def _pydantic_types() -> tuple[type[Any], type[Any]]:
    from pydantic import BaseModel, SecretStr

    return BaseModel, SecretStr


def scalar_text(value: Any) -> str | None:
    """The one text form of a scalar JSON has no type for (shared by JSON and text output):
    Decimal → exact digits, datetime → ISO 8601 in UTC (naive ones as they are), date/time →
    ISO 8601, Path → str, bytes → ``0x…``; None for any other value."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat() if value.tzinfo is None else value.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return None
