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


def compute(y_true: Any, y_pred: Any, y_score: Any | None = None) -> dict[str, float]:
    """f1, precision, recall, accuracy and (with scores) ROC AUC; macro averages past 2 classes."""
    import numpy as np
    from sklearn import metrics

    classes = np.unique(y_true)
    average = "binary" if len(classes) == 2 else "macro"
    result = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "f1": metrics.f1_score(y_true, y_pred, average=average, zero_division=0),
        "precision": metrics.precision_score(y_true, y_pred, average=average, zero_division=0),
        "recall": metrics.recall_score(y_true, y_pred, average=average, zero_division=0),
    }
    if y_score is not None and len(classes) > 1:
        scores = y_score[:, 1] if len(classes) == 2 else y_score
        result["roc_auc"] = metrics.roc_auc_score(y_true, scores, multi_class="ovr")
    return {name: float(value) for name, value in result.items()}


def scores(model: Any, features: Any) -> Any | None:
    """Class probabilities when the model has them (needed for ROC AUC)."""
    return model.predict_proba(features) if hasattr(model, "predict_proba") else None
{%- else %}
# Errors shrink as the model improves; R² grows.
HIGHER_IS_BETTER = {"rmse": False, "mae": False, "r2": True}


def compute(y_true: Any, y_pred: Any, y_score: Any | None = None) -> dict[str, float]:
    """RMSE, MAE and R²."""
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
