"""Promotion gates on fixed predictions: thresholds, regression, fairness, robustness, approver."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lakecrew.services.mlops import gates
from lakecrew.services.mlops.config import (
    FairnessGate,
    Gates,
    Holdout,
    MetricGate,
    ModelSettings,
    RobustnessGate,
)

Y = np.array([1, 1, 1, 1, 0, 0, 0, 0] * 10)
GROUP = np.array(["a"] * 40 + ["b"] * 36 + ["c"] * 4, dtype=object)


def _settings(**kw: object) -> ModelSettings:
    g = Gates(
        holdout=Holdout(table="t"),
        metrics=[MetricGate(name="recall", min=0.7, max_regression=0.05)],
        fairness=FairnessGate(metric="recall", by=["grp"], max_gap=0.3, min_group_size=5),
        robustness=RobustnessGate(metric="recall", noise=0.1, max_drop=0.2),
        approvers=["lead"],
    )
    return ModelSettings(features=["x"], label="y", gates=g.model_copy(update=kw))


def _predict(scores: Mapping[str, np.ndarray]) -> gates.Predict:
    def predict(version: str, feats: Mapping[str, np.ndarray]) -> np.ndarray:
        return scores[version]

    return predict


def _holdout() -> dict[str, np.ndarray]:
    return {"x": Y.astype(float), "y": Y, "grp": GROUP}


def test_all_gates_pass_and_small_groups_are_named() -> None:
    res = gates.evaluate(
        "m", "2", _settings(), _holdout(), _predict({"2": Y * 0.9}), champion=None, approver="lead"
    )
    assert res.passed, [c.detail for c in res.failing]
    fair = next(c for c in res.checks if c.gate == "fairness")
    assert fair.numbers["too_small"] == {"grp=c": 0}
    assert "not evaluated: grp=c" in fair.detail


def test_regression_against_champion_refuses_with_numbers() -> None:
    worse = np.where(np.arange(80) % 8 == 0, 0.1, Y * 0.9)  # misses 10 of 40 positives
    res = gates.evaluate(
        "m",
        "2",
        _settings(),
        _holdout(),
        _predict({"2": worse, "1": Y * 1.0}),
        champion="1",
        approver="lead",
    )
    reg = next(c for c in res.failing if c.gate == "regression")
    assert reg.numbers["champion"] == 1.0 and reg.numbers["candidate"] == 0.75
    assert "vs champion v1" in reg.detail


def test_fairness_gap_too_large_and_not_computable() -> None:
    biased = np.where(GROUP == "b", 0.0, Y * 0.9)
    res = gates.evaluate(
        "m", "2", _settings(), _holdout(), _predict({"2": biased}), champion=None, approver="lead"
    )
    fair = next(c for c in res.checks if c.gate == "fairness")
    assert not fair.passed and fair.numbers["gap"] == 1.0
    only_one = _settings(
        fairness=FairnessGate(metric="recall", by=["grp"], max_gap=0.3, min_group_size=21)
    )
    res = gates.evaluate(
        "m", "2", only_one, _holdout(), _predict({"2": Y * 0.9}), champion=None, approver="lead"
    )
    fair = next(c for c in res.checks if c.gate == "fairness")
    assert not fair.passed and "not computable: 0 subgroup" in fair.detail


def test_approver_and_undefined_metric_never_pass_silently() -> None:
    res = gates.evaluate(
        "m",
        "2",
        _settings(),
        _holdout(),
        _predict({"2": Y * 0.9}),
        champion=None,
        approver="someone",
    )
    assert [c.gate for c in res.failing] == ["approver"]
    no_pos = {"x": np.zeros(10), "y": np.zeros(10, dtype=int), "grp": np.array(["a"] * 10)}
    res = gates.evaluate(
        "m", "2", _settings(), no_pos, _predict({"2": np.zeros(10)}), champion=None, approver="lead"
    )
    assert "recall undefined" in res.failing[0].detail


def test_missing_holdout_column_and_no_gates() -> None:
    res = gates.evaluate(
        "m", "2", _settings(), {"x": Y}, _predict({}), champion=None, approver="lead"
    )
    assert not res.passed and "lacks column(s) y, grp" in res.checks[0].detail
    res = gates.evaluate("m", "2", ModelSettings(), {}, _predict({}), champion=None, approver=None)
    assert not res.passed and "no gates declared" in res.checks[0].detail


def test_robustness_uses_a_seeded_perturbation() -> None:
    a = gates.perturb({"x": np.ones(5)}, 0.1, 7)["x"]
    assert np.array_equal(a, gates.perturb({"x": np.ones(5)}, 0.1, 7)["x"])
    fragile = _settings(robustness=RobustnessGate(metric="recall", noise=0.5, max_drop=0.0))

    def predict(version: str, feats: Mapping[str, np.ndarray]) -> np.ndarray:
        return (feats["x"] > 0.95).astype(float)

    res = gates.evaluate("m", "2", fragile, _holdout(), predict, champion=None, approver="lead")
    rob = next(c for c in res.checks if c.gate == "robustness")
    assert not rob.passed and rob.numbers["perturbed"] < rob.numbers["clean"]
