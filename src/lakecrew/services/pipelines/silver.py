"""The silver step of one bronze batch, as pure data work (no I/O): the runner writes the tables.

Order: coerce → quarantine coercion failures → row expectations (each version judged on its
own) → de-duplicate the valid rows (latest per key) → ``unique`` and dataset expectations over
the de-duplicated rows → split (keep / quarantine / drop) → mask PII in kept rows → tokenize PII
in quarantined rows → reconcile counts. So the latest *valid* version of a key is kept: a newer
version that fails a row rule is quarantined (or dropped) and does not hide an older valid one.
``bronze = silver + quarantined + duplicates + dropped`` is checked and recorded.

Quarantined rows keep their raw (bronze) text so they can be fixed, plus ``_dq_rules`` and
``_dq_reasons``; every PII column in them is tokenized (or dropped when its mask is ``drop``), and
the quarantine table is Restricted. Rules with action ``fail`` do not raise here: the runner
records the results first and then calls ``SilverOutcome.raise_for_fatal``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakecrew.services.pipelines.spec import SilverSpec
from lakecrew.services.privacy.kinds import MaskMethod, PiiKind
from lakecrew.services.privacy.masking import ColumnMask, Tokenizer, apply_masks
from lakecrew.services.quality.coercion import coerce_table
from lakecrew.services.quality.dedupe import dedupe_latest
from lakecrew.services.quality.engine import CheckContext, evaluate
from lakecrew.services.quality.reconcile import Reconciliation
from lakecrew.services.quality.results import (
    REASONS_COLUMN,
    RULES_COLUMN,
    QualityReport,
    RuleResult,
)
from lakecrew.services.quality.rules import Expectation


@dataclass(frozen=True)
class SilverOutcome:
    """Tables to write, and every result to record in the data-quality table."""

    silver: pa.Table
    quarantine: pa.Table
    report: QualityReport
    coercion_results: tuple[RuleResult, ...]
    reconciliation: Reconciliation

    @property
    def results(self) -> tuple[RuleResult, ...]:
        """Coercion, expectation and reconciliation results, in that order."""
        return (*self.coercion_results, *self.report.results, self.reconciliation.as_result())

    def raise_for_fatal(self) -> None:
        """DataError when a rule with action ``fail`` failed (counts and rule names only)."""
        self.report.raise_for_fatal(self.reconciliation.table)


def build_silver(
    raw: pa.Table,
    spec: SilverSpec,
    context: CheckContext,
    tokenizer: Tokenizer | None,
    *,
    table_name: str,
) -> SilverOutcome:
    """Turn one bronze batch into silver rows and quarantined rows (see module doc)."""
    coercions = spec.coercions()
    coerced = coerce_table(raw, coercions)
    typed = coerced.table
    for name in spec.carry_columns:
        typed = typed.append_column(name, raw.column(name))
    bad_cast = coerced.failed
    q_cast = _quarantine_rows(raw, bad_cast, coerced.reasons_where(bad_cast), spec)
    keep = pc.invert(bad_cast) if coerced.bad_by_column else None
    # Row rules judge each version on its own, before de-duplication: the latest *valid*
    # version of a key wins, and an invalid newer version is quarantined without hiding the
    # older valid one. ``unique`` and dataset rules judge the de-duplicated set, after it.
    before, after = _rules_by_phase(spec)
    checked = [c for c in _checked_columns(spec) if c in typed.column_names]
    candidates = typed.select(checked) if keep is None else typed.select(checked).filter(keep)
    n = candidates.num_rows
    first = evaluate(candidates, before, context)
    q1, d1 = first.split_masks()
    valid = pc.invert(pc.or_(q1, d1))
    survivors = valid
    duplicates = 0
    if spec.dedupe is not None:
        # De-duplicate on the key and order columns only; the wide tables are filtered once.
        wanted = [*spec.dedupe.keys, *(c for c, _ in spec.dedupe.ordering())]
        narrow = typed.select([c for c in dict.fromkeys(wanted) if c in typed.column_names])
        narrow = narrow if keep is None else narrow.filter(keep)
        deduped = dedupe_latest(narrow.filter(valid), spec.dedupe.keys, spec.dedupe.ordering())
        duplicates = deduped.dropped_count
        if duplicates:
            survivors = _within(valid, deduped.keep_mask, n)
    second = evaluate(candidates.filter(survivors), after, context) if after else None
    report = _combined(spec, first, second, survivors, n)
    q_mask, drop_mask = report.split_masks()
    names, picked = report.reasons({"quarantine"}, q_mask)
    # The raw text of rule failures, picked from the raw batch (no copy of the kept raw rows).
    in_raw = q_mask if keep is None else _within(keep, q_mask, raw.num_rows)
    q_rules = _quarantine_rows(raw, in_raw, picked, spec, names)
    quarantine = pa.concat_tables([q_cast, q_rules]) if q_cast.num_rows else q_rules

    good = pc.and_(survivors, pc.invert(pc.or_(q_mask, drop_mask)))
    kept = typed.filter(good if keep is None else _within(keep, good, typed.num_rows))
    silver = apply_masks(kept, [c.mask_rule() for c in spec.columns], tokenizer)
    quarantine = apply_masks(quarantine, _quarantine_masks(spec, quarantine), tokenizer)
    dropped = int(pc.sum(drop_mask).as_py() or 0)
    recon = Reconciliation(
        table=table_name,
        bronze_rows=raw.num_rows,
        silver_rows=silver.num_rows,
        quarantined_rows=quarantine.num_rows,
        duplicate_rows=duplicates,
        dropped_rows=dropped,
    )
    return SilverOutcome(
        silver,
        quarantine,
        report,
        _coercion_results(coerced.failures_by_column, raw.num_rows),
        recon,
    )


def _rules_by_phase(spec: SilverSpec) -> tuple[list[Expectation], list[Expectation]]:
    """(row rules but ``unique``: before dedupe, ``unique`` and dataset rules: after)."""
    before: list[Expectation] = []
    after: list[Expectation] = []
    for rule in spec.expectations:
        (before if rule.row_level and rule.type != "unique" else after).append(rule)
    return before, after


def _combined(
    spec: SilverSpec,
    first: QualityReport,
    second: QualityReport | None,
    survivors: pa.Array,
    n: int,
) -> QualityReport:
    """One report over the candidate rows: the after-dedupe masks mapped back onto them."""
    if second is None:
        return first
    results = {r.rule: r for r in (*first.results, *second.results)}
    masks = dict(first.row_failures)
    for rule, mask in second.row_failures.items():
        masks[rule] = _within(survivors, mask, n)
    ordered = tuple(results[r.name] for r in spec.expectations if r.name in results)
    return QualityReport(ordered, masks, n)


def _within(outer: pa.Array | None, inner: pa.Array | None, n: int) -> pa.BooleanArray:
    """Rows kept by ``outer`` and then by ``inner`` (a mask over ``outer``'s kept rows)."""
    base = np.ones(n, np.bool_) if outer is None else outer.to_numpy(zero_copy_only=False)
    out = base.copy()
    if inner is not None:
        out[np.flatnonzero(base)] = inner.to_numpy(zero_copy_only=False)
    return pa.array(out)


def _checked_columns(spec: SilverSpec) -> list[str]:
    """Columns any expectation reads, in first-use order."""
    return list(dict.fromkeys(c for rule in spec.expectations for c in rule.columns_checked))


def _raw_columns(raw: pa.Table, spec: SilverSpec) -> list[str]:
    wanted = [c.source or c.name for c in spec.columns] + list(spec.carry_columns)
    return [c for c in dict.fromkeys(wanted) if c in raw.column_names]


def _quarantine_rows(
    raw: pa.Table,
    mask: pa.Array,
    picked: pa.Array,
    spec: SilverSpec,
    names: pa.Array | None = None,
) -> pa.Table:
    """The raw text of the rows ``mask`` selects; ``picked``/``names`` are already selected."""
    cols = _raw_columns(raw, spec)
    rows = raw.select(cols).filter(mask)  # filter first: only set-aside rows are cast to text
    text = pa.table({c: pc.cast(rows.column(c), pa.string()) for c in cols})
    if names is None:
        rule_names = pc.utf8_slice_codeunits(
            pc.replace_substring_regex(picked, r":.*$", ""), 0, 200
        )
    else:
        rule_names = names
    return text.append_column(RULES_COLUMN, rule_names).append_column(REASONS_COLUMN, picked)


def _quarantine_masks(spec: SilverSpec, quarantine: pa.Table) -> list[ColumnMask]:
    masks: list[ColumnMask] = []
    for col in spec.columns:
        raw_name = col.source or col.name
        if raw_name not in quarantine.column_names or col.pii == PiiKind.NONE:
            if col.mask == MaskMethod.DROP and raw_name in quarantine.column_names:
                masks.append(ColumnMask(raw_name, MaskMethod.DROP))
            continue
        method = MaskMethod.DROP if col.mask == MaskMethod.DROP else MaskMethod.TOKENIZE
        masks.append(ColumnMask(raw_name, method, col.pii))
    return masks


def _coercion_results(failures: dict[str, int], n: int) -> tuple[RuleResult, ...]:
    return tuple(
        RuleResult(
            rule=f"coerce.{col}",
            rule_type="coercion",
            columns=(col,),
            action="quarantine",
            status="failed" if bad else "passed",
            passed_count=n - bad,
            failed_count=bad,
            message="value does not fit the column type",
        )
        for col, bad in failures.items()
    )
