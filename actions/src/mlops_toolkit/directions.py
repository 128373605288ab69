"""Metric directions, defined once: which way is better for every metric the platform knows.

The gate judges improvements with them, and generated projects score permutation importance
and report metrics with them.
"""

from __future__ import annotations

MAXIMIZE = "maximize"
MINIMIZE = "minimize"

HIGHER_IS_BETTER: dict[str, bool] = {
    "f1": True,
    "roc_auc": True,
    "accuracy": True,
    "precision": True,
    "recall": True,
    "r2": True,
    "rmse": False,
    "mae": False,
    "log_loss": False,
}

# What the gate computes from its per-block statistics, by kind of prediction it needs.
LABEL_METRICS = ("accuracy", "f1")  # predicted labels
SCORE_METRICS = ("roc_auc",)  # positive-class scores
ERROR_METRICS = ("rmse", "mae", "r2")  # regression values
GATE_METRICS = (*LABEL_METRICS, *SCORE_METRICS, *ERROR_METRICS)
CLASSIFICATION = (*LABEL_METRICS, *SCORE_METRICS)
REGRESSION = ERROR_METRICS


def higher_is_better(metric: str) -> bool:
    """True for scores (f1, roc_auc, ...), False for errors (rmse, mae, log_loss)."""
    try:
        return HIGHER_IS_BETTER[metric]
    except KeyError:
        raise KeyError(f"no direction known for metric {metric!r}") from None


def direction(metric: str) -> str:
    return MAXIMIZE if higher_is_better(metric) else MINIMIZE


def improvement(metric: str, candidate: float, baseline: float) -> float:
    """candidate - baseline, signed so that positive always means better."""
    sign = 1.0 if higher_is_better(metric) else -1.0
    return sign * (candidate - baseline)
