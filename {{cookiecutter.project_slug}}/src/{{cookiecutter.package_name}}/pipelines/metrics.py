"""This project's metrics, computed by the platform's metrics registry (mlops_toolkit.metrics),
so evaluate, the gate and the pull-request report agree on every value and direction."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mlops_toolkit import metrics as registry

from ..config import TASK


def compute(
    y_true: Any,
    y_pred: Any,
    y_score: Any | None = None,
    average: str = "auto",
    names: Collection[str] | None = None,
) -> dict[str, float]:
    """Every metric of the task, or only ``names`` (classification: ``average`` auto is binary
    for two classes, macro past two; ROC AUC needs class probabilities)."""
    return registry.compute(TASK, y_true, y_pred, y_score, average, names)


def scores(model: Any, features: Any) -> Any | None:
    """Class probabilities when the model has them (needed for ROC AUC)."""
    return model.predict_proba(features) if hasattr(model, "predict_proba") else None
