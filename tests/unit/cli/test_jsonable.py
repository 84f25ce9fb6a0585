"""to_jsonable: plain values pass through untouched; everything else gets its one JSON form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from pathlib import Path

from pydantic import BaseModel, SecretStr

from lakecrew.faces.cli.jsonable import to_jsonable


class Colour(StrEnum):
    red = "red"


class Level(IntEnum):
    high = 3


class Model(BaseModel):
    name: str
    token: SecretStr


def test_plain_values_pass_through_and_subclasses_do_not_slip_by() -> None:
    for value in ("x", 1, 1.5, True, None):
        assert to_jsonable(value) is value
    assert to_jsonable(Colour.red) == "red" and type(to_jsonable(Colour.red)) is str
    assert to_jsonable(Level.high) == 3 and type(to_jsonable(Level.high)) is int


def test_the_other_values_get_their_json_form() -> None:
    lagos = timezone(timedelta(hours=1))
    assert to_jsonable(Decimal("1.10")) == "1.10"
    assert to_jsonable(datetime(2026, 1, 1, 7, tzinfo=lagos)) == "2026-01-01T06:00:00+00:00"
    assert to_jsonable(date(2026, 1, 2)) == "2026-01-02"
    assert to_jsonable(Path("/a/b")) == "/a/b"
    assert to_jsonable(b"\x01") == "0x01"
    assert to_jsonable({"b", "a"}) == ["a", "b"]
    assert to_jsonable({1: [Decimal("2"), None]}) == {"1": ["2", None]}
    assert to_jsonable(SecretStr("hunter2")) == "**********"
    assert to_jsonable(Model(name="n", token=SecretStr("s"))) == {
        "name": "n",
        "token": "**********",
    }
    assert to_jsonable(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00+00:00"
