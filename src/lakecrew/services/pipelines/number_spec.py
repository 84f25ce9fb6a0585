"""``number:`` of a silver spec or column: how the source writes numbers (leaf model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from lakecrew.services.quality.numbers import NumberFormat


class NumberSpec(BaseModel):
    """How the source writes numbers, e.g. ``{decimal: ",", thousands: "."}`` for ``1.234,5``.

    Strict: digit groups must be of three and other notations fail (quarantined with a reason
    naming the format); plain digits always parse. ``thousands: " "`` also accepts no-break
    and narrow no-break spaces. Set it on ``silver`` (every numeric column) or on a column.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    decimal: Literal[".", ","] = "."
    """The decimal mark."""
    thousands: Literal[",", ".", " ", "'", "_"] | None = None
    """The digit-group separator; none by default."""

    @model_validator(mode="after")
    def _distinct(self) -> NumberSpec:
        if self.thousands == self.decimal:
            raise PydanticCustomError(
                "number", "decimal and thousands are the same mark", {"fix": "use two marks"}
            )
        return self

    def format(self) -> NumberFormat:
        """The quality/numbers form."""
        return NumberFormat(self.decimal, self.thousands)
