"""Metrics for {{ cookiecutter.task }}: one place that knows their names and directions."""

from __future__ import annotations

from typing import Any
{% if cookiecutter.task == "classification" %}
# Bigger is better for every classification metric reported here.
HIGHER_IS_BETTER = {
    "f1": True,
    "roc_auc": True,
    "accuracy": True,
    "precision": True,
    "recall": True,
}


def compute(
    y_true: Any, y_pred: Any, y_score: Any | None = None, average: str = "auto"
) -> dict[str, float]:
    """f1, precision, recall, accuracy and (with scores) one-vs-rest ROC AUC.

    ``average`` (evaluate.average): auto is binary for two classes and macro past two. With two
    classes the positive one is the larger label (1 of 0/1, "yes" of no/yes), as in the gate.
    """
    import numpy as np
    from sklearn import metrics

    classes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    if average == "auto":
        average = "binary" if len(classes) == 2 else "macro"
    if average == "binary" and len(classes) > 2:
        average = "macro"  # binary averaging is undefined past two classes
    shared = {"average": average, "zero_division": 0}
    if average == "binary":
        shared["pos_label"] = classes[-1]
    result = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "f1": metrics.f1_score(y_true, y_pred, **shared),
        "precision": metrics.precision_score(y_true, y_pred, **shared),
        "recall": metrics.recall_score(y_true, y_pred, **shared),
    }
    seen = np.unique(y_true)
    if y_score is not None and len(seen) > 1:
        if y_score.shape[1] == 2:
            result["roc_auc"] = metrics.roc_auc_score(y_true == classes[-1], y_score[:, 1])
        elif len(seen) == y_score.shape[1]:
            result["roc_auc"] = metrics.roc_auc_score(
                y_true,
                y_score,
                multi_class="ovr",
                average="weighted" if average == "weighted" else "macro",
            )
    return {name: float(value) for name, value in result.items()}


def scores(model: Any, features: Any) -> Any | None:
    """Class probabilities when the model has them (needed for ROC AUC)."""
    return model.predict_proba(features) if hasattr(model, "predict_proba") else None
{%- else %}
# Errors shrink as the model improves; R² grows.
HIGHER_IS_BETTER = {"rmse": False, "mae": False, "r2": True}


def compute(
    y_true: Any, y_pred: Any, y_score: Any | None = None, average: str = "auto"
) -> dict[str, float]:
    """RMSE, MAE and R² (``average`` is for classification)."""
    from sklearn import metrics

    return {
        "rmse": float(metrics.root_mean_squared_error(y_true, y_pred)),
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "r2": float(metrics.r2_score(y_true, y_pred)),
    }


def scores(model: Any, features: Any) -> None:
    """Regression has no class scores."""
    return None
{%- endif %}
