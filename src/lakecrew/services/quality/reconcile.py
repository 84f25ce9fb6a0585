"""Row-count reconciliation of a silver step: every bronze row is accounted for.

``bronze_rows == silver_rows + quarantined_rows + duplicate_rows + dropped_rows`` (dropped by an
expectation with action ``drop``). ``check()`` raises DataError when it does not hold;
``as_result()`` gives the row of the data-quality table that records it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakecrew.core.errors import DataError
from lakecrew.services.quality.results import RuleResult


@dataclass(frozen=True)
class Reconciliation:
    """Counts of one batch through silver."""

    table: str
    bronze_rows: int
    silver_rows: int
    quarantined_rows: int
    duplicate_rows: int
    dropped_rows: int = 0

    @property
    def accounted(self) -> int:
        """Rows that ended somewhere."""
        return self.silver_rows + self.quarantined_rows + self.duplicate_rows + self.dropped_rows

    @property
    def balanced(self) -> bool:
        """Whether every bronze row is accounted for exactly once."""
        return self.accounted == self.bronze_rows

    def check(self) -> Reconciliation:
        """Raise DataError (counts only) when the batch does not reconcile."""
        if not self.balanced:
            raise DataError(
                f"row counts do not reconcile: bronze {self.bronze_rows} != silver "
                f"{self.silver_rows} + quarantined {self.quarantined_rows} + duplicates "
                f"{self.duplicate_rows} + dropped {self.dropped_rows}",
                where=self.table,
                fix="this is a lakecrew bug; report it with the run id",
            )
        return self

    def as_result(self) -> RuleResult:
        """The reconciliation as a data-quality result (rule ``reconcile_counts``)."""
        return RuleResult(
            rule="reconcile_counts",
            rule_type="reconciliation",
            columns=(),
            action="fail",
            status="passed" if self.balanced else "failed",
            passed_count=self.accounted if self.balanced else 0,
            failed_count=0 if self.balanced else abs(self.bronze_rows - self.accounted),
            observed=float(self.bronze_rows),
            message=(
                f"bronze {self.bronze_rows} = silver {self.silver_rows} + quarantined "
                f"{self.quarantined_rows} + duplicates {self.duplicate_rows} + dropped "
                f"{self.dropped_rows}"
            ),
        )
