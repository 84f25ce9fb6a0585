"""The `mlops:` section of lakecrew.yaml: registry hygiene settings, promotion gates, drift.

```yaml
mlops:
  prod_catalog: lassa_prod             # production-aliased versions must live in this catalog
  production_aliases: [champion]
  evaluation_metrics: [accuracy, precision, recall, f1, roc_auc, rmse, mae, r2]
  project_tags: {project: lassa_surveillance, cost_center: cc-1042}
  models:
    lassa_dev.ml.lassa_next_week:
      owner: data-science@ehealthafrica.org
      inference_table: lassa_dev.ml.lassa_predictions
      features: [confirmed, confirmed_lag1, confirmed_lag2]
      label: label
      prediction: prediction
      gates:
        holdout: {table: lassa_dev.ml.lassa_features, split_column: split, split_value: holdout}
        metrics: [{name: recall, min: 0.6, max_regression: 0.02}]
        fairness: {metric: recall, by: [state], max_gap: 0.35, min_group_size: 15}
        robustness: {metric: recall, noise: 0.1, max_drop: 0.1}
        approvers: [lead@ehealthafrica.org]
      drift: {psi: 0.2, js: 0.1, ks_pvalue: 0.05, ks_statistic: 0.1, performance_drop: 0.1}
```
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MetricName = Literal["accuracy", "precision", "recall", "f1", "mae", "rmse"]
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "mae": False,
    "rmse": False,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Holdout(_Strict):
    """Held-out rows both the candidate and the current champion are scored on."""

    table: str
    split_column: str | None = None
    split_value: str | None = None


class MetricGate(_Strict):
    name: MetricName
    min: float | None = None
    max: float | None = None
    max_regression: float | None = Field(
        default=None, ge=0, description="allowed loss against the current champion"
    )


class FairnessGate(_Strict):
    metric: MetricName
    by: list[str] = Field(min_length=1)
    max_gap: Annotated[float, Field(ge=0)]
    min_group_size: Annotated[int, Field(ge=1)] = 20


class RobustnessGate(_Strict):
    metric: MetricName
    noise: Annotated[float, Field(gt=0, le=1)] = 0.1
    max_drop: Annotated[float, Field(ge=0)] = 0.1
    seed: int = 7


class Gates(_Strict):
    holdout: Holdout
    metrics: list[MetricGate] = Field(default_factory=list)
    fairness: FairnessGate | None = None
    robustness: RobustnessGate | None = None
    approvers: list[str] = Field(default_factory=list)


class DriftThresholds(_Strict):
    psi: float = 0.2
    js: float = 0.1
    ks_pvalue: float = 0.05
    ks_statistic: float = 0.1
    performance_drop: float = 0.1


class ModelSettings(_Strict):
    owner: str | None = None
    inference_table: str | None = None
    features: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list, description="identifier columns (not drift)")
    label: str = "label"
    prediction: str = "prediction"
    threshold: float = Field(default=0.5, description="probability → class for class metrics")
    gates: Gates | None = None
    drift: DriftThresholds = Field(default_factory=DriftThresholds)


class MlopsConfig(_Strict):
    registry_workspace: str | None = Field(
        default=None,
        description="a `backend: databricks` workspace whose experiments and Unity Catalog "
        "registry (databricks-uc) to use; default: the project's local MLflow",
    )
    sweep: bool = Field(
        default=True,
        description="evaluate the registry's model rules in whole-estate `lakecrew sweep` runs "
        "(findings in the (estate) scope, routed like every finding; with --apply, the model "
        "actions at the phase their rule needs); needs a registry: registry_workspace or the "
        "project's MLflow store",
    )
    prod_catalog: str | None = None
    production_aliases: list[str] = Field(default_factory=lambda: ["champion"])
    evaluation_metrics: list[str] = Field(
        default_factory=lambda: [
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "rmse",
            "mae",
            "r2",
        ]
    )
    project_tags: dict[str, str] = Field(default_factory=dict)
    models: dict[str, ModelSettings] = Field(default_factory=dict)

    def settings(self, model: str) -> ModelSettings:
        return self.models.get(model, ModelSettings())
