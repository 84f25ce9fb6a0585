"""Evaluate expectation rules over an Arrow table with pyarrow.compute (vectorised).

``evaluate(table, rules, context)`` returns a ``QualityReport``: per rule the passed/failed counts
(sample-free: no row values anywhere) and, for row rules, a boolean mask (True = row failed)
that ``QualityReport.split`` uses to keep, quarantine or drop rows.

``CheckContext`` carries what rules need from outside the batch: the clock (freshness), the keys
of referenced tables (foreign_key, keyed by ``ref_table`` as written in the rule) and the
table's history of batch row counts (row_count_anomaly).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.core.errors import ConfigError, DataError
from lakecrew.services.quality.results import QualityReport, RuleResult
from lakecrew.services.quality.rules import (
    Between,
    Compare,
    Expectation,
    ForeignKey,
    Freshness,
    InSet,
    NotNull,
    Regex,
    RowCountAnomaly,
    Unique,
)

_MAD_SCALE = 0.6745
_OPS = {
    "<": pc.less,
    "<=": pc.less_equal,
    "==": pc.equal,
    "!=": pc.not_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_MESSAGES = {
    "not_null": "value missing",
    "unique": "key not unique",
    "between": "value out of range",
    "in_set": "value not allowed",
    "regex": "value does not match the pattern",
    "compare": "cross-column rule broken",
    "foreign_key": "key not found in the referenced table",
}


@dataclass(frozen=True)
class CheckContext:
    """What rules need besides the batch: clock, referenced keys, row-count history."""

    now: datetime
    reference_keys: Mapping[str, pa.Table] = field(default_factory=dict)
    row_count_history: Sequence[int] = ()


def evaluate(table: pa.Table, rules: Sequence[Expectation], context: CheckContext) -> QualityReport:
    """Run every rule once over ``table``; raise only for rules that cannot run at all."""
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"expectation names repeat: {', '.join(dupes)}", fix="rename them")
    results: list[RuleResult] = []
    masks: dict[str, pa.BooleanArray] = {}
    for rule in rules:
        _check_columns(table, rule)
        if rule.row_level:
            failed = _ROW_CHECKS[rule.type](table, rule, context)
            failed = pc.fill_null(failed, False)
            if isinstance(failed, pa.ChunkedArray):  # masks are one array (cheap: booleans)
                failed = failed.combine_chunks()
            masks[rule.name] = failed
            results.append(_row_result(rule, failed, table.num_rows))
        elif isinstance(rule, Freshness):
            results.append(_freshness(table, rule, context))
        elif isinstance(rule, RowCountAnomaly):
            results.append(row_count_anomaly(rule, table.num_rows, context.row_count_history))
    return QualityReport(tuple(results), masks, table.num_rows)


def _check_columns(table: pa.Table, rule: Expectation) -> None:
    missing = [c for c in rule.columns_checked if c not in table.column_names]
    if missing:
        raise ConfigError(
            f"expectation {rule.name} reads unknown column(s) {', '.join(missing)}",
            where=f"expectation {rule.name}",
            fix="use the silver column names (after renaming)",
        )


def _row_result(rule: Expectation, failed: pa.Array, n: int) -> RuleResult:
    bad = int(pc.sum(failed).as_py() or 0)
    return RuleResult(
        rule=rule.name,
        rule_type=rule.type,
        columns=rule.columns_checked,
        action=rule.action,
        status="failed" if bad else "passed",
        passed_count=n - bad,
        failed_count=bad,
        message=rule.description or _MESSAGES[rule.type],
    )


def _col(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A column as stored (chunks are not copied into one array: kernels take either)."""
    return table.column(name)


def _not_null(table: pa.Table, rule: NotNull, _: CheckContext) -> pa.Array:
    failed = pa.array(np.zeros(table.num_rows, np.bool_))
    for name in rule.columns:
        arr = _col(table, name)
        missing = (
            pc.is_null(arr, nan_is_null=True) if pa.types.is_floating(arr.type) else pc.is_null(arr)
        )
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), False)
            missing = pc.or_(missing, blank)
        failed = pc.or_(failed, missing)
    return failed


def _key_counts(table: pa.Table, columns: Sequence[str]) -> pa.Array:
    """For each row, how many rows share its key (null when any key part is null)."""
    idx = "__lakecrew_row"
    keyed = table.select(list(columns)).append_column(
        idx, pa.array(np.arange(table.num_rows, dtype=np.int64))
    )
    counts = keyed.group_by(list(columns)).aggregate([(idx, "count")])
    joined = keyed.join(counts, keys=list(columns), join_type="left outer")
    joined = joined.sort_by(idx)
    has_null = pa.array(np.zeros(table.num_rows, np.bool_))
    for name in columns:
        has_null = pc.or_(has_null, pc.is_null(joined.column(name).combine_chunks()))
    total = joined.column(f"{idx}_count").combine_chunks()
    return pc.if_else(has_null, pa.scalar(None, total.type), total)


def _unique(table: pa.Table, rule: Unique, _: CheckContext) -> pa.Array:
    return pc.greater(_key_counts(table, rule.columns), 1)


def _bound(value: float | date, arr: pa.Array, rule_name: str) -> pa.Scalar:
    if isinstance(value, date) and pa.types.is_timestamp(arr.type):
        moment = datetime.combine(value, time(), tzinfo=UTC)
        return pa.scalar(moment, pa.timestamp("us", tz="UTC")).cast(arr.type)
    try:
        return pa.scalar(value).cast(
            arr.type if not pa.types.is_integer(arr.type) else pa.float64()
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise ConfigError(
            f"expectation {rule_name}: bound does not fit column type {arr.type}",
            where=f"expectation {rule_name}",
            fix="use numbers for numeric columns and YYYY-MM-DD for dates",
        ) from None


def _between(table: pa.Table, rule: Between, _: CheckContext) -> pa.Array:
    arr = _col(table, rule.column)
    failed = pa.array(np.zeros(table.num_rows, np.bool_))
    if rule.min is not None:
        failed = pc.or_(failed, pc.less(arr, _bound(rule.min, arr, rule.name)))
    if rule.max is not None:
        failed = pc.or_(failed, pc.greater(arr, _bound(rule.max, arr, rule.name)))
    return failed


def _in_set(table: pa.Table, rule: InSet, _: CheckContext) -> pa.Array:
    arr = _col(table, rule.column)
    try:
        allowed = pa.array(rule.values).cast(arr.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        allowed = pa.array([str(v) for v in rule.values], pa.string())
        arr = pc.cast(arr, pa.string())
    if rule.case_insensitive and pa.types.is_string(arr.type):
        arr, allowed = pc.utf8_lower(arr), pc.utf8_lower(allowed)
    found = pc.is_in(arr, value_set=allowed)
    return pc.and_(pc.is_valid(arr), found if rule.negate else pc.invert(found))


def _regex(table: pa.Table, rule: Regex, _: CheckContext) -> pa.Array:
    arr = _col(table, rule.column)
    text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
    try:
        return pc.invert(pc.match_substring_regex(text, f"^(?:{rule.pattern})$"))
    except pa.ArrowInvalid:
        raise ConfigError(
            f"expectation {rule.name}: the pattern is not valid RE2",
            where=f"expectation {rule.name}",
            fix="use RE2 syntax (no look-around or back-references)",
        ) from None


def _compare(table: pa.Table, rule: Compare, _: CheckContext) -> pa.Array:
    left, right = _col(table, rule.left), _col(table, rule.right)
    numeric = [pa.types.is_integer(a.type) or pa.types.is_floating(a.type) for a in (left, right)]
    if all(numeric) and left.type != right.type:
        left, right = pc.cast(left, pa.float64()), pc.cast(right, pa.float64())
    try:
        return pc.invert(_OPS[rule.op](left, right))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ConfigError(
            f"expectation {rule.name}: cannot compare {left.type} with {right.type}",
            where=f"expectation {rule.name}",
            fix="compare columns of compatible types",
        ) from None


def _foreign_key(table: pa.Table, rule: ForeignKey, context: CheckContext) -> pa.Array:
    ref = context.reference_keys.get(rule.ref_table)
    if ref is None:
        raise DataError(
            f"expectation {rule.name}: keys of {rule.ref_table} were not provided",
            where=f"expectation {rule.name}",
            fix=f"make sure {rule.ref_table} exists and is readable before this step",
        )
    missing_ref = [c for c in rule.reference_columns if c not in ref.column_names]
    if missing_ref:
        raise DataError(
            f"expectation {rule.name}: {rule.ref_table} has no column(s) {', '.join(missing_ref)}",
            where=f"expectation {rule.name}",
            fix="fix ref_columns",
        )
    if len(rule.columns) == 1:
        arr = _col(table, rule.columns[0])
        keys = ref.column(rule.reference_columns[0]).combine_chunks()
        return pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, value_set=keys.cast(arr.type))))
    idx = "__lakecrew_row"
    left = table.select(rule.columns).append_column(
        idx, pa.array(np.arange(table.num_rows, dtype=np.int64))
    )
    right = ref.select(list(rule.reference_columns)).rename_columns(rule.columns)
    right = right.group_by(rule.columns).aggregate([])
    right = right.append_column("__lakecrew_hit", pa.array(np.ones(right.num_rows, np.bool_)))
    joined = left.join(right, keys=rule.columns, join_type="left outer").sort_by(idx)
    hit = pc.fill_null(joined.column("__lakecrew_hit").combine_chunks(), False)
    any_null = pa.array(np.zeros(table.num_rows, np.bool_))
    for name in rule.columns:
        any_null = pc.or_(any_null, pc.is_null(joined.column(name).combine_chunks()))
    return pc.and_(pc.invert(any_null), pc.invert(hit))


def _freshness(table: pa.Table, rule: Freshness, context: CheckContext) -> RuleResult:
    arr = _col(table, rule.column)
    newest = pc.max(arr).as_py() if len(arr) else None
    age: float | None = None
    if isinstance(newest, datetime):
        moment = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        age = (context.now - moment).total_seconds()
    elif isinstance(newest, date):
        age = (context.now - datetime.combine(newest, time(), tzinfo=UTC)).total_seconds()
    elif newest is not None:
        raise ConfigError(
            f"expectation {rule.name}: freshness needs a date or timestamp column",
            where=f"expectation {rule.name}",
            fix="point `column:` at a date or timestamp column",
        )
    ok = age is not None and age <= rule.max_age_delta.total_seconds()
    msg = (
        "newest value within max_age"
        if ok
        else (
            "no dated rows in the batch"
            if age is None
            else f"newest value older than {rule.max_age}"
        )
    )
    return _dataset_result(rule, ok, age, msg)


def row_count_anomaly(rule: RowCountAnomaly, count: int, history: Sequence[int]) -> RuleResult:
    """Robust z = 0.6745·(count − median)/MAD against earlier batch counts.

    With fewer than ``min_history`` earlier counts the rule is ``skipped``. When MAD is 0 (a
    constant history) the scale falls back to 5 % of the median (at least 1 row).
    """
    if rule.min_rows is not None and count < rule.min_rows:
        return _dataset_result(
            rule, False, float(count), f"fewer rows than min_rows {rule.min_rows}"
        )
    if len(history) < rule.min_history:
        return RuleResult(
            rule.name,
            rule.type,
            (),
            rule.action,
            "skipped",
            0,
            0,
            float(count),
            f"only {len(history)} earlier batches; needs {rule.min_history}",
        )
    median = statistics.median(history)
    mad = statistics.median(abs(h - median) for h in history)
    if mad > 0:
        score = _MAD_SCALE * (count - median) / mad
    else:
        score = (count - median) / max(1.0, 0.05 * median)
    ok = abs(score) <= rule.max_deviation
    msg = f"robust z-score {score:.2f} (limit {rule.max_deviation})"
    return _dataset_result(rule, ok, float(count), msg)


def _dataset_result(rule: Expectation, ok: bool, observed: float | None, msg: str) -> RuleResult:
    return RuleResult(
        rule=rule.name,
        rule_type=rule.type,
        columns=rule.columns_checked,
        action=rule.action,
        status="passed" if ok else "failed",
        passed_count=1 if ok else 0,
        failed_count=0 if ok else 1,
        observed=observed,
        message=msg,
    )


_ROW_CHECKS: dict[str, Callable[..., pa.Array]] = {
    "not_null": _not_null,
    "unique": _unique,
    "between": _between,
    "in_set": _in_set,
    "regex": _regex,
    "compare": _compare,
    "foreign_key": _foreign_key,
}
