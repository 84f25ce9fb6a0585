"""Results of data-quality rules: per-rule counts (no row values) and the per-run DQ table.

``QualityReport.split`` divides a table into kept rows, quarantined rows (with the names and
reasons of the rules they broke) and dropped rows. ``results_table`` turns results into rows of
the data-quality table (``DQ_RESULTS_SCHEMA``), one per rule per run, ready for SLA dashboards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.errors import DataError

Status = Literal["passed", "failed", "skipped"]
RULES_COLUMN = "_dq_rules"
REASONS_COLUMN = "_dq_reasons"


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule on one batch: counts and an aggregate, never row values."""

    rule: str
    rule_type: str
    columns: tuple[str, ...]
    action: str
    status: Status
    passed_count: int
    failed_count: int
    observed: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Split:
    """Rows kept, rows quarantined (with ``_dq_rules``/``_dq_reasons``), rows dropped."""

    good: pa.Table
    quarantined: pa.Table
    dropped_count: int
    quarantine_mask: pa.BooleanArray
    drop_mask: pa.BooleanArray


@dataclass(frozen=True)
class QualityReport:
    """Results of every rule plus, for row rules, a mask that is True where a row failed."""

    results: tuple[RuleResult, ...]
    row_failures: Mapping[str, pa.BooleanArray] = field(default_factory=dict)
    num_rows: int = 0

    def result(self, rule: str) -> RuleResult:
        """The result of the rule named ``rule``."""
        for r in self.results:
            if r.rule == rule:
                return r
        raise KeyError(rule)

    def fatal(self) -> tuple[RuleResult, ...]:
        """Failed rules whose action is ``fail``."""
        return tuple(r for r in self.results if r.status == "failed" and r.action == "fail")

    def raise_for_fatal(self, table: str) -> None:
        """DataError naming the table, the failed ``fail`` rules and their counts."""
        fatal = self.fatal()
        if fatal:
            listed = ", ".join(f"{r.rule} ({r.failed_count} failed)" for r in fatal)
            raise DataError(
                f"expectations with action 'fail' did not pass: {listed}",
                where=table,
                fix="fix the source data, or change the rule's action after review",
            )

    def _mask(self, actions: set[str]) -> pa.BooleanArray:
        mask = pa.array(np.zeros(self.num_rows, np.bool_))
        for r in self.results:
            if r.action in actions and r.rule in self.row_failures:
                mask = pc.or_(mask, self.row_failures[r.rule])
        return mask

    def reasons(
        self, actions: set[str], where: pa.BooleanArray | None = None
    ) -> tuple[pa.Array, pa.Array]:
        """(rule names, reasons) per row for the rules with these actions; null where none.

        With ``where``, only for the rows it selects (cheaper when few rows failed).
        """
        n = self.num_rows if where is None else int(pc.sum(where).as_py() or 0)
        names: pa.Array = pa.nulls(n, pa.string())
        reasons: pa.Array = pa.nulls(n, pa.string())
        for r in self.results:
            if r.action not in actions or r.rule not in self.row_failures:
                continue
            hit = self.row_failures[r.rule]
            if where is not None:
                hit = hit.filter(where)
            text = f"{r.rule}: {r.message}"
            names = _append(names, hit, r.rule, ",")
            reasons = _append(reasons, hit, text, "; ")
        return names, reasons

    def split_masks(self) -> tuple[pa.BooleanArray, pa.BooleanArray]:
        """(quarantine, drop) row masks: quarantine wins over drop (as in ``split``)."""
        quarantine = self._mask({"quarantine"})
        drop = pc.and_(self._mask({"drop"}), pc.invert(quarantine))
        return quarantine, drop

    def split(self, table: pa.Table) -> Split:
        """Quarantine wins over drop; ``warn`` and ``fail`` rows stay in ``good``."""
        quarantine, drop = self.split_masks()
        names, reasons = self.reasons({"quarantine"}, quarantine)
        q = table.filter(quarantine)
        q = q.append_column(RULES_COLUMN, names)
        q = q.append_column(REASONS_COLUMN, reasons)
        good = table.filter(pc.invert(pc.or_(quarantine, drop)))
        return Split(good, q, int(pc.sum(drop).as_py() or 0), quarantine, drop)


def _append(current: pa.Array, hit: pa.Array, text: str, sep: str) -> pa.Array:
    joined = pc.binary_join_element_wise(current, pa.scalar(text), sep)
    added = pc.coalesce(joined, pa.scalar(text))
    return pc.if_else(hit, added, current)


DQ_RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("pipeline", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("rule_type", pa.string(), nullable=False),
        pa.field("columns", pa.string()),
        pa.field("action", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("passed_count", pa.int64(), nullable=False),
        pa.field("failed_count", pa.int64(), nullable=False),
        pa.field("observed_value", pa.float64()),
        pa.field("message", pa.string()),
        pa.field("evaluated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def results_table(
    results: Sequence[RuleResult], *, run_id: str, pipeline: str, table_name: str, at: datetime
) -> pa.Table:
    """Rows of the data-quality table for one run of one table (schema ``DQ_RESULTS_SCHEMA``)."""
    if at.tzinfo is None:
        raise ValueError("evaluated_at must be timezone-aware")
    rows = [
        {
            "run_id": run_id,
            "pipeline": pipeline,
            "table_name": table_name,
            "rule": r.rule,
            "rule_type": r.rule_type,
            "columns": ",".join(r.columns),
            "action": r.action,
            "status": r.status,
            "passed_count": r.passed_count,
            "failed_count": r.failed_count,
            "observed_value": r.observed,
            "message": r.message,
            "evaluated_at": at,
        }
        for r in results
    ]
    return pa.Table.from_pylist(rows, schema=DQ_RESULTS_SCHEMA)
