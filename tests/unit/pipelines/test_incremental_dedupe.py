"""Silver keeps the latest *valid* version of each key, whatever the batch and file split.

The tie rule (documented in quality/dedupe.py): on equal ``order_by`` values the row that
arrived later wins; a null ``order_by`` value ranks oldest. A version that fails a row rule is
quarantined and never hides an older valid version.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lakecrew.services.quality.dedupe import not_older
from lakecrew.testing.pipelines import CASES_HEADER, make_project, write_spec
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

SILVER = "t_dev.silver.cases"
QUARANTINE = "t_dev.silver.cases_quarantine"
GOLD = "t_dev.gold.cases_by_state"


def _row(key: int, day: int, *, confirmed: int = 5, week: int = 3) -> str:
    state = ("Edo", "Ondo")[key % 2]
    return f"C{key:03d},{state},{week},{confirmed},1,+2348031234567,2024-01-{day:02d}\n"


QUARANTINE_LINE = "  quarantine: {table: silver.cases_quarantine}\n"


def _tolerant_spec(root: Path, batch_rows: int = 1_000_000) -> None:
    """The test spec with every row allowed into quarantine (these tests plant bad rows)."""
    spec = write_spec(root)
    pattern = 'pattern: "*.csv"'
    text = spec.read_text().replace(pattern, f"{pattern}, batch_rows: {batch_rows}")
    text = text.replace(QUARANTINE_LINE, QUARANTINE_LINE + "  max_quarantine_rate: 1\n")
    spec.write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    _tolerant_spec(root)
    return root


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    context = Context.open(project, writable=True)
    yield context
    context.close()


def _run(ctx: Context, *, full_refresh: bool = False) -> dict[str, int]:
    report = pw.runner_for(ctx, create_keys=True).run(
        pw.load(ctx, "cases"), full_refresh=full_refresh
    )
    assert report.reconciled
    return report.layers["silver"]


def _silver(ctx: Context) -> dict[str, tuple[str, int]]:
    rows = ctx.store.read(SILVER).to_pylist()
    return {r["case_id"]: (r["updated"].isoformat(), r["confirmed"]) for r in rows}


def test_an_older_version_in_a_later_file_does_not_replace_the_newer_one(
    ctx: Context, project: Path
) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + _row(1, 20, confirmed=9))
    _run(ctx)
    (project / "incoming" / "b.csv").write_text(CASES_HEADER + _row(1, 5, confirmed=2))
    counts = _run(ctx)
    assert counts["written"] == 0 and counts["duplicates"] == 1
    assert _silver(ctx) == {"C001": ("2024-01-20", 9)}
    _run(ctx, full_refresh=True)  # the rebuild from bronze applies the same rule
    assert _silver(ctx) == {"C001": ("2024-01-20", 9)}


def test_a_tie_goes_to_the_version_that_arrived_later(ctx: Context, project: Path) -> None:
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + _row(1, 20, confirmed=9))
    _run(ctx)
    (project / "incoming" / "b.csv").write_text(CASES_HEADER + _row(1, 20, confirmed=4))
    _run(ctx)
    assert _silver(ctx) == {"C001": ("2024-01-20", 4)}


def test_a_newer_invalid_version_is_quarantined_and_the_older_valid_one_stays(
    ctx: Context, project: Path
) -> None:
    rows = _row(1, 5, confirmed=2) + _row(1, 20, confirmed=9, week=99)
    (project / "incoming" / "a.csv").write_text(CASES_HEADER + rows)
    counts = _run(ctx)
    assert (counts["written"], counts["quarantined"], counts["duplicates"]) == (1, 1, 0)
    assert _silver(ctx) == {"C001": ("2024-01-05", 2)}
    quarantined = ctx.store.read(QUARANTINE).to_pylist()
    assert [(r["case_id"], r["_dq_rules"]) for r in quarantined] == [("C001", "week_ok")]


def test_not_older_compares_nulls_as_oldest_and_ties_as_incoming() -> None:
    incoming = pa.table({"k": ["a", "b", "c", "d", "e"], "t": [5, 5, None, 3, 1]})
    held = pa.table({"k": ["a", "b", "c", "d"], "t": [6, 5, 1, None]})
    mask = not_older(incoming, held, ["k"], [("t", "descending")])
    assert mask.to_pylist() == [False, True, False, True, True]
    ascending = not_older(incoming, held, ["k"], [("t", "ascending")])
    assert ascending.to_pylist() == [True, True, False, True, True]


# ------------------------------------------------------------------ property: any split


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[tuple[int, int, int, bool]], list[int], int]:
    """Versions (key, day, confirmed, valid) with distinct (key, day), shuffled and split."""
    versions = []
    for key in range(draw(st.integers(1, 3))):
        days = draw(st.lists(st.integers(1, 28), min_size=2, max_size=4, unique=True))
        for day in days:
            versions.append((key, day, draw(st.integers(0, 50)), draw(st.booleans())))
    order = draw(st.permutations(versions))
    cuts = draw(
        st.lists(st.integers(1, max(1, len(order) - 1)), min_size=1, max_size=3, unique=True)
    )
    batch_rows = draw(st.sampled_from([1, 2, 1000]))
    return order, sorted(cuts), batch_rows


def _expected(versions: list[tuple[int, int, int, bool]]) -> dict[str, tuple[str, int]]:
    best: dict[int, tuple[int, int]] = {}
    for key, day, confirmed, valid in versions:
        if valid and (key not in best or day > best[key][0]):
            best[key] = (day, confirmed)
    return {f"C{k:03d}": (f"2024-01-{d:02d}", c) for k, (d, c) in best.items()}


@pytest.mark.slow  # one medallion project run over many file splits (~10 s of CPU)
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example runs real pipelines
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=_histories())
def test_silver_quarantine_and_gold_do_not_depend_on_the_split(
    tmp_path: Path, history: tuple[list[tuple[int, int, int, bool]], list[int], int]
) -> None:
    versions, cuts, batch_rows = history
    root = tmp_path / "split"
    shutil.rmtree(root, ignore_errors=True)
    make_project(root)
    _tolerant_spec(root, batch_rows)
    bounds = [0, *cuts, len(versions)]
    ctx = Context.open(root, writable=True)
    try:
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            body = "".join(
                _row(k, d, confirmed=c, week=3 if ok else 99) for k, d, c, ok in versions[lo:hi]
            )
            (root / "incoming" / f"f{i}.csv").write_text(CASES_HEADER + body)
            if i % 2 == 0:  # some files arrive together in one run, others one run each
                _run(ctx)
        _run(ctx)
        expected = _expected(versions)
        assert _silver(ctx) == expected
        quarantined = sorted(
            (r["case_id"], r["updated"]) for r in ctx.store.read(QUARANTINE).to_pylist()
        )
        assert quarantined == sorted(
            (f"C{k:03d}", f"2024-01-{d:02d}") for k, d, _, ok in versions if not ok
        )
        gold = (
            {(r["state"], r["week"]): r["confirmed"] for r in ctx.store.read(GOLD).to_pylist()}
            if ctx.store.exists(GOLD)
            else {}
        )
        by_state: dict[tuple[str, int], int] = {}
        for key, (_, confirmed) in expected.items():
            state = ("Edo", "Ondo")[int(key[1:]) % 2]
            by_state[(state, 3)] = by_state.get((state, 3), 0) + confirmed
        assert gold == by_state
        # every upsert went through the file rewrite (delta_upsert.py), not delta-rs MERGE
        assert "MERGE" not in [h.get("operation") for h in ctx.store.history(SILVER)]
        _run(ctx, full_refresh=True)
        assert _silver(ctx) == expected
    finally:
        ctx.close()
