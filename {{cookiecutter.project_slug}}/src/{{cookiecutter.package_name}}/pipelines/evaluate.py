"""Score the trained model on the holdout, log metrics and plots, and register it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_toolkit import contracts
from mlops_toolkit.project import plots
from mlops_toolkit.project import runs as tracking
from mlops_toolkit.project.importance import permutation_importance

from ..config import TASK, Params
from ..data.load import features_and_target, read_csv
from . import metrics

log = logging.getLogger(__name__)
METRICS_FILE = Path("metrics") / "holdout.json"
# Written by this step only: reports/run.json is the train step's (a DVC output has one owner).
REGISTERED_FILE = tracking.REGISTERED_FILE


@dataclass(frozen=True)
class EvaluateResult:
    run_id: str
    metrics: dict[str, float]
    model_version: str | None


def evaluate(
    params: Params,
    run_id: str | None = None,
    register: bool | None = None,
    log_file: Path | None = None,
) -> EvaluateResult:
    import mlflow

    info = tracking.read_run_info()
    # MLflow 3 keeps a logged model apart from its run: use its own URI when it is known.
    if run_id is None or run_id == info.run_id:
        run_id, model_uri = info.run_id, info.model_uri
    else:
        model_uri = f"runs:/{run_id}/model"
    uri = tracking.connect(params.mlflow.tracking_uri)
    holdout = read_csv(params.data.holdout)
    features, target = features_and_target(holdout, params.data.target)
    model = tracking.load_trained(model_uri, local=run_id == info.run_id)
    # Only the columns the model was trained on (excluded ID-like ones are not among them).
    features = features[list(getattr(model, "feature_names_in_", features.columns))]
    predictions = model.predict(features)
    class_scores = metrics.scores(model, features)
    scores = metrics.compute(target, predictions, class_scores, params.evaluate.average)
    # The platform's plots (mlops_toolkit.project.plots): the classes in predict_proba's order.
    classes = getattr(model, "classes_", None)
    written = plots.write(TASK, target.to_numpy(), predictions, class_scores, classes)
    found = importance(params, model, features, target)
    # The importance bar chart, and the top features' partial dependence (ICE) on the holdout.
    written += plots.write_importance(found, model=model, features=features)
    METRICS_FILE.parent.mkdir(exist_ok=True)
    METRICS_FILE.write_text(json.dumps(scores, indent=2) + "\n")
    with tracking.open_run(uri, run_id=run_id):
        dataset = tracking.log_dataset(holdout, params.data.holdout, "holdout", params.data.target)
        # On the run (the gate reads them there) and on MLflow 3's LoggedModel, with the data.
        mlflow.log_metrics(
            {f"holdout_{name}": value for name, value in scores.items()},
            model_id=tracking.logged_model_id(model_uri),
            dataset=dataset,
        )
        mlflow.set_tags(tracking.tags(rows_holdout=len(features)))
        for path in written:
            mlflow.log_artifact(str(path), "plots")
        if log_file is not None:
            mlflow.log_artifact(str(log_file), "logs")
    primary = params.evaluate.primary_metric
    log.info("holdout %s = %.4f", primary, scores[primary])
    should_register = params.mlflow.register if register is None else register
    # With its lineage and model passport, as CI's register does (the platform's).
    name = params.mlflow.registered_model_name
    suite = params.validation.suite
    version = tracking.register(name, run_id, model_uri, suite=suite) if should_register else None
    contracts.RegisteredFile(
        run_id=run_id,
        registered_model_name=name,
        model_version=version,
    ).write(REGISTERED_FILE)
    return EvaluateResult(run_id, scores, version)


def importance(params: Params, model: Any, features: Any, target: Any) -> Any:
    """Permutation importance on the holdout: what permuting a feature costs the primary metric
    (in its units, positive when the metric gets worse, whichever way it goes). The platform's
    computes scikit-learn's numbers with one model call per group of features."""
    return permutation_importance(
        model,
        features,
        target,
        TASK,
        params.evaluate.primary_metric,
        average=params.evaluate.average,
        n_repeats=params.evaluate.importance_repeats,
        seed=params.train.seed,
    )
