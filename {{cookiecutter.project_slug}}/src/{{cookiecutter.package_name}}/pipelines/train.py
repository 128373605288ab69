"""Train the model on the training split and log it, with its lineage, to MLflow."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from mlops_toolkit.project import roles as roles_
from mlops_toolkit.project import runs as tracking

from ..config import MODEL_FAMILY, TASK, Params
from ..data.load import features_and_target, read_csv
from ..models import REQUIREMENTS, TRUSTED_TYPES, build_model, device_for, fit, for_serving
from . import metrics

log = logging.getLogger(__name__)
METRICS_FILE = Path("metrics") / "train.json"


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_uri: str
    metrics: dict[str, float]
    fit_seconds: float


def train(params: Params, log_file: Path | None = None, run_name: str | None = None) -> TrainResult:
    # skops (which saves the model) before MLflow, not in sorted order: its import searches
    # every module already imported, and costs ~0.6 CPU-s less before MLflow's.
    import skops.io  # noqa: F401, I001
    import mlflow
    from mlflow.models import infer_signature

    frame = read_csv(params.data.train)
    roles = roles_.resolve(params.data.roles, frame, params.data.target)
    features, target = features_and_target(frame, params.data.target)
    features = features[roles_.features(roles)]
    model = build_model(params.model, params.train.seed, roles)
    uri = tracking.connect(params.mlflow.tracking_uri)
    mlflow.set_experiment(params.mlflow.experiment)
    with tracking.open_run(uri, run_name=run_name) as run:
        mlflow.log_params(_logged_params(params))
        mlflow.set_tags(_lineage(params, rows_train=len(features)))
        mlflow.log_dict(roles, "roles.json")
        tracking.log_dataset(frame, params.data.train, "training", params.data.target)
        started = time.perf_counter()
        fit(model, features, target, params.model)
        fit_seconds = time.perf_counter() - started
        log.info("fitted %s in %.3f s on %d rows", MODEL_FAMILY, fit_seconds, len(features))
        predictions = model.predict(features)
        scores = metrics.compute(
            target, predictions, metrics.scores(model, features), params.evaluate.average
        )
        mlflow.log_metrics({f"train_{name}": value for name, value in scores.items()})
        mlflow.log_metric("fit_seconds", fit_seconds)
        example = features.head(5)
        # The whole training frame, not the example: a column with any missing value becomes
        # optional (nullable) in the signature, and strings stay strings.
        logged = mlflow.sklearn.log_model(
            for_serving(model),
            name="model",
            signature=infer_signature(features, model.predict(example)),
            input_example=example,
            pip_requirements=tracking.requirements(REQUIREMENTS),
            skops_trusted_types=list(TRUSTED_TYPES) or None,
        )
        # validate-data's reports, what prepare-data dropped, this command's log file
        tracking.log_outputs(params.validation.report_dir, log_file)
    tracking.save_trained(for_serving(model))  # evaluate's copy: no MLflow load
    result = TrainResult(run.info.run_id, logged.model_uri, scores, fit_seconds)
    _write_outputs(params, result)
    return result


def _logged_params(params: Params) -> dict[str, object]:
    logged: dict[str, object] = {f"model.{k}": v for k, v in params.model.params.items()}
    logged.update(
        {
            "model.family": MODEL_FAMILY,
            "model.device": device_for(params.model),
            "model.class_weight": params.model.class_weight or "none",
            "train.seed": params.train.seed,
            "split.holdout_fraction": params.split.holdout_fraction,
            "split.seed": params.split.seed,
        }
    )
    return logged


def _lineage(params: Params, rows_train: int) -> dict[str, str]:
    raw = Path(params.data.raw)
    return tracking.tags(
        git_commit=tracking.git_commit(),
        data_hash=tracking.file_md5(raw) if raw.is_file() else None,
        data_source=params.data.source,
        rows_train=rows_train,
        model_family=MODEL_FAMILY,
        task=TASK,
        device=device_for(params.model),
    )


def _write_outputs(params: Params, result: TrainResult) -> None:
    import json

    METRICS_FILE.parent.mkdir(exist_ok=True)
    METRICS_FILE.write_text(json.dumps(result.metrics, indent=2) + "\n")
    tracking.write_run_info(
        run_id=result.run_id,
        model_uri=result.model_uri,
        registered_model_name=params.mlflow.registered_model_name,
        model_version=None,
    )
