"""The metrics registry: every metric the platform knows, defined once.

For each metric: its task, which way is better, what it is read from (predicted labels,
positive-class scores or regression values), its display name, how the gate's baseline margin
reads for it, its reference computation (scikit-learn: the project's `evaluate`, and the live
monitor) and, for the metrics the gate judges, its reading from the gate's per-block statistics
(the block bootstrap in stats.py). The gate, check-gate, reports, plots and generated projects
read this table: a metric name is a literal here and nowhere else in the platform.

This module imports nothing from the package and nothing heavy at import time: the template's
answer check (template_guard.py) loads it by path, where the toolkit is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
MAXIMIZE = "maximize"
MINIMIZE = "minimize"
# What a metric is computed from (and, for the gate, which per-block statistics it reads).
LABELS = "labels"  # predicted labels: a confusion matrix per block
SCORES = "scores"  # positive-class scores: a score histogram per block
ERRORS = "errors"  # regression values: error sums per block
# How f1, precision and recall average over classes (scikit-learn's `average`); auto: binary
# for two classes, macro past two (`compute`).
AVERAGES = ("auto", "binary", "macro", "weighted", "micro")


@dataclass(frozen=True)
class Context:
    """What a reference computation needs, prepared once for all of a task's metrics."""

    y_true: Any
    y_pred: Any
    y_score: Any | None
    classes: Any | None = None  # sorted labels seen in y_true or y_pred (classification)
    averaging: dict | None = None  # scikit-learn's average/pos_label/zero_division


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    higher_is_better: bool
    display: str
    source: str  # LABELS, SCORES or ERRORS
    # Reference value from whole arrays; None when it cannot be computed (one class seen).
    compute: Callable[[Context], float | None]
    # The gate's reading of per-block statistics (batched over bootstrap resamples); None: the
    # gate does not judge this metric. Labels: (confusion [..., k, k], positive index or None);
    # scores: (histogram [..., 2 * bins]); errors: (sums [..., 5]).
    from_blocks: Callable[..., Any] | None = None
    # The gate's baseline margin is a share of the naive model's value (the metric has units).
    relative_margin: bool = False
    default_for_task: bool = False  # the template's default primary metric
    default_guard: bool = False  # a guard of the template's gate.yaml (unless it is the primary)

    @property
    def direction(self) -> str:
        return MAXIMIZE if self.higher_is_better else MINIMIZE

    @property
    def gate(self) -> bool:
        return self.from_blocks is not None


# --- reference computations (scikit-learn, imported when called) -------------------------------


def _sk():
    from sklearn import metrics

    return metrics


def _accuracy(c: Context) -> float:
    return _sk().accuracy_score(c.y_true, c.y_pred)


def _averaged(function: str) -> Callable[[Context], float]:
    def compute(c: Context) -> float:
        return getattr(_sk(), function)(c.y_true, c.y_pred, **(c.averaging or {}))

    return compute


def _roc_auc(c: Context) -> float | None:
    """Binary: the larger label is positive. Past two classes: one-vs-rest, when every class of
    the scores was seen in y_true (otherwise scikit-learn cannot average)."""
    import numpy as np

    seen = np.unique(c.y_true)
    if c.y_score is None or len(seen) < 2:
        return None
    if c.y_score.shape[1] == 2:
        return _sk().roc_auc_score(np.asarray(c.y_true) == c.classes[-1], c.y_score[:, 1])
    if len(seen) != c.y_score.shape[1]:
        return None
    weighted = (c.averaging or {}).get("average") == "weighted"
    return _sk().roc_auc_score(
        c.y_true, c.y_score, multi_class="ovr", average="weighted" if weighted else "macro"
    )


def _rmse(c: Context) -> float:
    return _sk().root_mean_squared_error(c.y_true, c.y_pred)


def _mae(c: Context) -> float:
    return _sk().mean_absolute_error(c.y_true, c.y_pred)


def _r2(c: Context) -> float:
    return _sk().r2_score(c.y_true, c.y_pred)


# --- readings of the gate's per-block statistics (numpy arrays, batched) ------------------------


def _blocks_accuracy(cm: Any, positive: int | None) -> Any:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diagonal(cm, axis1=-2, axis2=-1).sum(-1) / cm.sum(axis=(-1, -2))


def _blocks_f1(cm: Any, positive: int | None) -> Any:
    """F1 of the positive class (two classes), else the macro average over classes present."""
    import numpy as np

    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    fp = cm.sum(-2) - tp
    fn = cm.sum(-1) - tp
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
    if positive is not None:
        return f1[..., positive]
    present = (cm.sum(-1) + cm.sum(-2)) > 0
    return (f1 * present).sum(-1) / np.maximum(present.sum(-1), 1)


def _blocks_auc(flat: Any) -> Any:
    """Mann-Whitney AUC from per-class score histograms ([..., 2, bins] flattened)."""
    import numpy as np

    m = flat.shape[-1] // 2
    h = flat.reshape((*flat.shape[:-1], 2, m))
    neg, pos = h[..., 0, :], h[..., 1, :]
    below = np.cumsum(neg, axis=-1) - neg
    u = (pos * (below + 0.5 * neg)).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return u / (pos.sum(-1) * neg.sum(-1))


# Error sums per block: count, sum of squared errors, sum of absolute errors, sum y, sum y².
def _blocks_rmse(s: Any) -> Any:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(s[..., 1] / s[..., 0])


def _blocks_mae(s: Any) -> Any:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return s[..., 2] / s[..., 0]


def _blocks_r2(s: Any) -> Any:
    import numpy as np

    count, sse, sy, syy = s[..., 0], s[..., 1], s[..., 3], s[..., 4]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - sse / (syy - sy * sy / count)


# The gate's defaults, written into a new project's gate.yaml (and by init-data): how far a
# candidate may fall behind production, in metric points, as the primary metric or as a guard
# (a metric with units instead gets a share of its target's spread: RELATIVE_MARGIN_OF_STD of
# the standard deviation); how far it must beat the naive model (BASELINE_MIN_IMPROVEMENT).
PRIMARY_MAX_REGRESSION = 0.01
GUARD_MAX_REGRESSION = 0.02
RELATIVE_MARGIN_OF_STD = 0.01
BASELINE_MIN_IMPROVEMENT = 0.05

_C, _R = CLASSIFICATION, REGRESSION
REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("f1", _C, True, "F1", LABELS, _averaged("f1_score"), _blocks_f1,
               default_for_task=True, default_guard=True),
        Metric("roc_auc", _C, True, "ROC AUC", SCORES, _roc_auc, _blocks_auc),
        Metric("accuracy", _C, True, "Accuracy", LABELS, _accuracy, _blocks_accuracy,
               default_guard=True),
        Metric("precision", _C, True, "Precision", LABELS, _averaged("precision_score")),
        Metric("recall", _C, True, "Recall", LABELS, _averaged("recall_score")),
        Metric("rmse", _R, False, "RMSE", ERRORS, _rmse, _blocks_rmse, relative_margin=True,
               default_for_task=True),
        Metric("mae", _R, False, "MAE", ERRORS, _mae, _blocks_mae, relative_margin=True),
        Metric("r2", _R, True, "R²", ERRORS, _r2, _blocks_r2, default_guard=True),
    )
}  # fmt: skip


def get(name: str) -> Metric:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r} (known: {', '.join(REGISTRY)})") from None


def names(task: str | None = None, *, gate: bool = False) -> tuple[str, ...]:
    """Metric names in registry order, of one task and/or only those the gate judges."""
    return tuple(
        m.name
        for m in REGISTRY.values()
        if (task is None or m.task == task) and (m.gate or not gate)
    )


def default(task: str) -> str:
    return next(m.name for m in REGISTRY.values() if m.task == task and m.default_for_task)


def default_guards(task: str, primary: str) -> tuple[str, ...]:
    """The guards of a new project's gate.yaml: the task's default guards other than the
    primary metric, else (a primary that is the only one) the task's default metric."""
    guards = tuple(
        m.name
        for m in REGISTRY.values()
        if m.task == task and m.default_guard and m.name != primary
    )
    return guards or (default(task),)


def task_of(name: str) -> str:
    return get(name).task


def higher_is_better(name: str) -> bool:
    return get(name).higher_is_better


def direction(name: str) -> str:
    return get(name).direction


def improvement(name: str, candidate: float, baseline: float) -> float:
    """candidate - baseline, signed so that positive always means better."""
    return (1.0 if higher_is_better(name) else -1.0) * (candidate - baseline)


def compute(
    task: str,
    y_true: Any,
    y_pred: Any,
    y_score: Any | None = None,
    average: str = "auto",
    names: Collection[str] | None = None,
) -> dict[str, float]:
    """Every metric of ``task`` that can be computed here (or only ``names``), by name.

    ``names`` is for a caller that scores many times and reads one metric: permutation
    importance calls this once per feature and repeat, where every metric would triple the cost.

    Classification: ``average`` auto is binary for two classes and macro past two; with two
    classes the positive one is the larger label (1 of 0/1, "yes" of no/yes), as in the gate.
    ROC AUC needs ``y_score`` (class probabilities, columns in sorted class order).
    """
    context = Context(y_true, y_pred, y_score)
    if task == CLASSIFICATION:
        import numpy as np

        classes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
        if average == "auto" or (average == "binary" and len(classes) > 2):
            average = "binary" if len(classes) == 2 else "macro"
        averaging: dict = {"average": average, "zero_division": 0}
        if average == "binary":
            averaging["pos_label"] = classes[-1]
        context = Context(y_true, y_pred, y_score, classes, averaging)
    wanted = [m for m in REGISTRY.values() if m.task == task and (names is None or m.name in names)]
    values = {m.name: m.compute(context) for m in wanted}
    return {name: float(value) for name, value in values.items() if value is not None}
