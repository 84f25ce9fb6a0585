"""A real local MLflow store for tests: one project, one trained model, built once per session.

`build_project(root)` writes a starter lakecrew.yaml with an `mlops:` section, a features Delta
table (`dev.ml.feat`, synthetic, seeded: features a, b; label y; group g1/g2/g3 plus a tiny group
`g4` of 6 rows for the "subgroup too small" case; split train/holdout) and registers model
`dev.ml.m` twice. Tests add their own models to the same store (names unique per test), since
creating an MLflow SQLite database costs ~8 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakecrew.adapters.mlflow import local_tracking_uri
from lakecrew.adapters.mlflow.training import TrainedVersion, train_and_register
from lakecrew.testing.pipelines import make_project

MODEL = "dev.ml.m"
FEATURES = "dev.ml.feat"
APPROVER = "lead@example.org"

MLOPS_YAML = f"""
mlops:
  prod_catalog: prod
  project_tags: {{project: p1, cost_center: cc-1}}
  models:
    {MODEL}:
      owner: ds@example.org
      inference_table: dev.ml.pred
      features: [a, b]
      keys: [group]
      label: y
      gates:
        holdout: {{table: {FEATURES}, split_column: split, split_value: holdout}}
        metrics:
          - {{name: recall, min: 0.6, max_regression: 0.05}}
          - {{name: accuracy, min: 0.6}}
        fairness: {{metric: recall, by: [group], max_gap: 0.4, min_group_size: 10}}
        robustness: {{metric: recall, noise: 0.1, max_drop: 0.3}}
        approvers: [{APPROVER}]
"""


@dataclass(frozen=True)
class StoreProject:
    root: Path
    versions: tuple[TrainedVersion, ...]
    feature_version: int

    @property
    def state_dir(self) -> Path:
        return self.root / ".lakecrew"

    @property
    def tracking_uri(self) -> str:
        return local_tracking_uri(self.state_dir)


def synthetic(n: int = 600, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + b + rng.normal(scale=0.6, size=n) > 0).astype(int)
    group = np.array(["g1", "g2", "g3"])[rng.integers(0, 3, size=n)].astype(object)
    split = np.where(np.arange(n) < int(n * 0.6), "train", "holdout").astype(object)
    group[-6:] = "g4"
    return {"a": a, "b": b, "y": y, "group": group, "split": split}


def build_project(root: Path) -> StoreProject:
    from lakecrew.wiring.context import Context

    make_project(root)
    with (root / "lakecrew.yaml").open("a", encoding="utf-8") as fh:
        fh.write(MLOPS_YAML)
    data = synthetic()
    table = pa.table({k: v.tolist() for k, v in data.items()})
    ctx = Context.open(root, writable=True)
    try:
        ctx.store.create_table(FEATURES, table.schema, exist_ok=True)
        fv = ctx.store.overwrite(FEATURES, table).version
    finally:
        ctx.close()
    train = {k: v[data["split"] == "train"] for k, v in data.items()}
    hold = {k: v[data["split"] == "holdout"] for k, v in data.items()}
    state = root / ".lakecrew"
    versions = tuple(
        train_and_register(
            local_tracking_uri(state),
            experiment="test",
            artifact_dir=state / "mlflow" / "art",
            model_name=MODEL,
            train=train,
            holdout=hold,
            features=["a", "b"],
            label="y",
            dataset_table=FEATURES,
            dataset_version=fv,
            source_commit="0123abc",
            params={"C": c},
            description=f"test model C={c}",
            tags={"project": "p1"},
        )
        for c in (1.0, 0.01)
    )
    return StoreProject(root, versions, fv)
