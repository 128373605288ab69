"""One trial: the model the trial's values make, cross-validated on the training split.

The project's training has no intermediate value of its own (a linear model converges inside
one call; xgboost's rounds are not reported through the Pipeline), so the folds are the steps:
after fold k the running mean of the metric is reported at step k, and the pruner compares it
with earlier trials' means after the same folds (the folds are the same for every trial: one
seeded split), stopping a trial that is clearly worse before it spends its remaining folds.
The holdout is never touched: it stays the gate's.
"""

from __future__ import annotations

import math
from typing import Any

from .. import metrics
from .factory import Project


def folds(project: Project) -> list[tuple[Any, Any]]:
    """(train rows, validation rows) per fold: stratified for classification, seeded."""
    from sklearn.model_selection import KFold, StratifiedKFold

    k = project.sweep.folds
    splitter = (
        StratifiedKFold(k, shuffle=True, random_state=project.seed)
        if project.task == metrics.CLASSIFICATION and _stratifiable(project.target, k)
        else KFold(k, shuffle=True, random_state=project.seed)
    )
    return list(splitter.split(project.features, project.target))


def _stratifiable(target: Any, k: int) -> bool:
    """Every class has at least k rows (StratifiedKFold refuses fewer)."""
    return int(target.value_counts().min()) >= k


def score(project: Project, model: Any, features: Any, target: Any) -> float:
    """The sweep's metric on one validation fold, by the registry's reference computation."""
    scores = None
    if metrics.get(project.metric).source == metrics.SCORES and hasattr(model, "predict_proba"):
        scores = model.predict_proba(features)
    values = metrics.compute(project.task, target, model.predict(features), scores, project.average)
    if project.metric not in values:
        raise ValueError(f"{project.metric} cannot be computed on this fold")
    return values[project.metric]


def run_trial(project: Project, trial: Any, splits: list[tuple[Any, Any]]) -> float:
    """Suggest the trial's values, fit and score fold by fold, report each step, maybe prune."""
    import optuna

    values = {d.name: d.suggest(trial) for d in project.dimensions}
    found: list[float] = []
    for step, (fit_rows, check_rows) in enumerate(splits):
        model, spec = project.build(values)
        project.fit(model, project.features.iloc[fit_rows], project.target.iloc[fit_rows], spec)
        value = score(
            project, model, project.features.iloc[check_rows], project.target.iloc[check_rows]
        )
        if not math.isfinite(value):
            raise optuna.TrialPruned(f"fold {step}: {project.metric} is {value}")
        found.append(value)
        trial.report(sum(found) / len(found), step)
        if step + 1 < len(splits) and trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {step + 1} of {len(splits)}")
    return sum(found) / len(found)
