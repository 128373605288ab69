"""Metric directions: kept for projects generated before the metrics registry (v1 API).

The registry (metrics.py) is the one source; new code imports it. Removed in v2.
"""

from __future__ import annotations

from .metrics import CLASSIFICATION as _CLASSIFICATION_TASK
from .metrics import (
    ERRORS,
    LABELS,
    MAXIMIZE,
    MINIMIZE,
    REGISTRY,
    SCORES,
    direction,
    higher_is_better,
    improvement,
    names,
)
from .metrics import REGRESSION as _REGRESSION_TASK

HIGHER_IS_BETTER: dict[str, bool] = {m.name: m.higher_is_better for m in REGISTRY.values()}
GATE_METRICS = names(gate=True)
LABEL_METRICS = tuple(m for m in GATE_METRICS if REGISTRY[m].source == LABELS)
SCORE_METRICS = tuple(m for m in GATE_METRICS if REGISTRY[m].source == SCORES)
ERROR_METRICS = tuple(m for m in GATE_METRICS if REGISTRY[m].source == ERRORS)
CLASSIFICATION = names(_CLASSIFICATION_TASK, gate=True)
REGRESSION = names(_REGRESSION_TASK, gate=True)

__all__ = [
    "CLASSIFICATION",
    "ERROR_METRICS",
    "GATE_METRICS",
    "HIGHER_IS_BETTER",
    "LABEL_METRICS",
    "MAXIMIZE",
    "MINIMIZE",
    "REGRESSION",
    "SCORE_METRICS",
    "direction",
    "higher_is_better",
    "improvement",
]
