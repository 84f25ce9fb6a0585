"""Drift statistics against scipy computed directly (exact and large-sample paths)."""

from __future__ import annotations

import numpy as np
import pytest

from lakecrew.services.mlops import drift


def test_js_and_psi_match_scipy_on_the_same_bins() -> None:
    from scipy.spatial.distance import jensenshannon  # scipy: ~0.5 s, not at every collection

    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 5000), rng.normal(0.3, 1.2, 4000)
    rp, cp = drift.binned_percents(ref, cur)
    assert drift.jensen_shannon(rp, cp) == pytest.approx(float(jensenshannon(rp, cp)), rel=1e-9)
    assert drift.psi(rp, cp) == pytest.approx(float(np.sum((rp - cp) * np.log(rp / cp))))
    edges = np.linspace(min(ref.min(), cur.min()), max(ref.max(), cur.max()), drift.BINS + 1)
    assert rp == pytest.approx(np.maximum(np.histogram(ref, edges)[0] / ref.size, 1e-4))


def test_ks_exact_below_the_limit() -> None:
    from scipy import stats

    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=3000), rng.normal(0.2, 1, size=2000)
    d, p, bound = drift.ks_two_sample(ref, cur)
    exact = stats.ks_2samp(ref, cur, method="asymp")
    assert (d, bound) == (pytest.approx(exact.statistic), 0.0)
    assert p == pytest.approx(exact.pvalue)


def test_large_sample_ks_is_within_its_reported_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy import stats

    monkeypatch.setattr(drift, "EXACT_KS_ROWS", 1000)  # force the histogram path on small data
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=40_000), rng.lognormal(0, 0.5, size=60_000) - 1
    col = drift.column_drift("x", ref, cur, drift.Thresholds())
    exact = stats.ks_2samp(ref, cur).statistic
    assert 0 < col.ks_bound < 0.01
    assert col.ks <= exact + 1e-12
    assert exact - col.ks <= col.ks_bound
    rp, cp = drift.binned_percents(ref, cur)  # the fine grid sums to the same 30 bins
    assert col.psi == pytest.approx(drift.psi(rp, cp))


def test_shift_is_caught_and_identical_is_not() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=2000)
    same = drift.column_drift("x", ref, rng.normal(size=2000), drift.Thresholds())
    moved = drift.column_drift("x", ref, rng.normal(1.0, 1, size=2000), drift.Thresholds())
    assert not same.drifted
    assert moved.drifted and any("PSI" in r for r in moved.reasons)


def test_missing_new_and_null_columns_are_reported() -> None:
    ref = {"a": np.arange(100.0), "b": np.arange(100.0)}
    cur = {"a": np.r_[np.arange(90.0), [np.nan] * 10], "extra": np.zeros(100)}
    rep = drift.drift_report(ref, cur, ["a", "b"], prediction="p")
    assert rep.missing_columns == ("b",)
    assert rep.new_columns == ("extra",)
    assert rep.columns[0].nulls_cur == 10
    assert any("prediction column 'p'" in p for p in rep.problems)


def test_empty_current_column_is_a_drift_not_a_pass() -> None:
    col = drift.column_drift("x", np.arange(10.0), np.array([np.nan]), drift.Thresholds())
    assert col.drifted and "no values" in col.reasons[0]
