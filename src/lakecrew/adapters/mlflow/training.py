"""Training, logging and scoring with MLflow + scikit-learn (the demo model and the gates).

`train_and_register` fits a logistic-regression classifier, logs params, held-out metrics, the
training Delta table as an input dataset (`DeltaDatasetSource`: table name + version), the source
commit, a signature and an input example, and registers the LoggedModel as a new version.
`MlflowScorer` loads `models:/<name>/<version>` once and returns the positive-class probability.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lakecrew.core.errors import NotFound


@dataclass(frozen=True)
class TrainedVersion:
    run_id: str
    experiment_id: str
    version: str
    metrics: Mapping[str, float]


def _mlflow(tracking_uri: str, registry_uri: str | None = None) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no INFO lines on the CLI
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri or tracking_uri)
    return mlflow


@contextmanager
def _quiet_events() -> Iterator[None]:
    """MLflow prints registration events to stderr (`eprint`, not logging); off unless
    `--debug` (LAKECREW_MLFLOW_EVENTS=1)."""
    from mlflow.utils.logging_utils import disable_logging, enable_logging

    if os.environ.get("LAKECREW_MLFLOW_EVENTS") == "1":
        yield
        return
    disable_logging()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        enable_logging()  # type: ignore[no-untyped-call]


def ensure_experiment(tracking_uri: str, name: str, artifact_dir: Path) -> str:
    mlflow = _mlflow(tracking_uri)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    artifact_dir.mkdir(parents=True, exist_ok=True)
    return str(mlflow.create_experiment(name, artifact_location=artifact_dir.resolve().as_uri()))


def train_and_register(  # noqa: PLR0913 - keyword-only: one training run's description
    tracking_uri: str,
    *,
    experiment: str,
    artifact_dir: Path,
    model_name: str,
    train: Mapping[str, Sequence[Any]],
    holdout: Mapping[str, Sequence[Any]],
    features: Sequence[str],
    label: str,
    dataset_table: str,
    dataset_version: int,
    dataset_id: str | None = None,
    source_commit: str | None,
    params: Mapping[str, Any],
    description: str,
    tags: Mapping[str, str] | None = None,
) -> TrainedVersion:
    """Fit, log and register one version; returns its run and version."""
    import pandas as pd
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    mlflow = _mlflow(tracking_uri)
    exp_id = ensure_experiment(tracking_uri, experiment, artifact_dir)
    x_train = pd.DataFrame({f: np.asarray(train[f], dtype=float) for f in features})
    y_train = np.asarray(train[label], dtype=int)
    x_hold = pd.DataFrame({f: np.asarray(holdout[f], dtype=float) for f in features})
    y_hold = np.asarray(holdout[label], dtype=int)
    model = LogisticRegression(max_iter=1000, **dict(params))
    model.fit(x_train, y_train)
    pred = model.predict(x_hold)
    metrics = {
        "holdout_accuracy": float(accuracy_score(y_hold, pred)),
        "holdout_precision": float(precision_score(y_hold, pred, zero_division=0)),
        "holdout_recall": float(recall_score(y_hold, pred, zero_division=0)),
        "holdout_f1": float(f1_score(y_hold, pred, zero_division=0)),
    }
    frame = x_train.assign(**{label: y_train})
    source = DeltaDatasetSource(  # with its id: MLflow would otherwise ask Databricks for it
        delta_table_name=dataset_table,
        delta_table_version=dataset_version,
        delta_table_id=dataset_id or f"local:{dataset_table}",
    )
    dataset = mlflow.data.from_pandas(
        frame, source=source, targets=label, name=f"{dataset_table}@v{dataset_version}"
    )
    run_tags = {"mlflow.source.git.commit": source_commit} if source_commit else {}
    with mlflow.start_run(experiment_id=exp_id, tags=run_tags) as run, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema", category=UserWarning)
        mlflow.log_params(dict(params))
        mlflow.log_metrics(metrics)
        mlflow.log_input(dataset, context="training")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_hold, model.predict_proba(x_hold)),
            input_example=x_hold.head(3),
            pyfunc_predict_fn="predict_proba",
            pip_requirements=_requirements(),  # no import-capturing subprocess (~40 s)
        )
    with _quiet_events():  # "Successfully registered model …", "Created version …" on stderr
        mv = mlflow.register_model(info.model_uri, model_name, tags=dict(tags or {}))
    client = mlflow.MlflowClient()
    client.update_model_version(model_name, mv.version, description=description)
    return TrainedVersion(run.info.run_id, exp_id, str(mv.version), metrics)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "scikit-learn", "numpy", "pandas")]


class MlflowScorer:
    """ModelScorer over registered MLflow models (positive-class probability)."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self._models: dict[tuple[str, str], Any] = {}

    def predict(self, model: str, version: str, columns: Mapping[str, Any]) -> list[float]:
        import pandas as pd

        loaded = self._load(model, version)
        out = np.asarray(
            loaded.predict(
                pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})
            )
        )
        if out.ndim == 2:
            out = out[:, -1]
        return [float(x) for x in out]

    def _load(self, model: str, version: str) -> Any:
        key = (model, version)
        if key not in self._models:
            mlflow = _mlflow(self.tracking_uri, self.registry_uri)
            from mlflow.exceptions import MlflowException

            try:
                # suppress_warnings skips MLflow's pip-requirement scan of every installed
                # distribution (~1 s per load); its warnings are silenced in lakecrew anyway
                self._models[key] = mlflow.pyfunc.load_model(
                    f"models:/{model}/{version}", suppress_warnings=True
                )
            except (MlflowException, OSError) as exc:
                raise NotFound(
                    f"model {model} version {version} cannot be loaded: "
                    f"{str(exc).splitlines()[0][:160]}",
                    fix="check the version exists and its artifacts are intact",
                ) from None
        return self._models[key]
