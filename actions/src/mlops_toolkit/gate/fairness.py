"""Slices and fairness: the candidate's metric on each value of the columns gate.yaml names.

fairlearn's MetricFrame computes the metric per slice (the registry's own computation, with the
holdout's classes, so a slice that lacks a class is scored as the whole holdout would be); the
gate's block bootstrap (stats.py) gives each slice its interval. The rules: the worst slice
against a threshold (its estimate, or its whole interval), and the largest gap between two
slices. A slice with fewer rows than `min_rows` is shown and never judged: a handful of rows
says nothing either way. fairlearn is imported here, when gate.yaml has a slices section.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import contracts
from .. import metrics as registry
from ..errors import ToolkitError
from . import stats
from .config import GateConfig, SliceRule

KIND = "slices"
MISSING = "(missing)"
# A numeric column with more distinct values than this is cut into quantile bins.
MAX_VALUES = 10


def evaluate(
    cfg: GateConfig, features: Any, y: Any, pred: stats.Predictions
) -> tuple[list[contracts.GateCheck], list[contracts.SliceRow], list[str]]:
    """The rules, the slice table and the notes for every column of gate.yaml's slices."""
    rule = cfg.slices
    assert rule is not None
    checks: list[contracts.GateCheck] = []
    rows: list[contracts.SliceRow] = []
    notes: list[str] = []
    for column in rule.columns:
        if column not in features.columns:
            raise ToolkitError(f"gate config: slices.columns: the holdout has no column {column!r}")
        table = _slice_table(cfg, column, _groups(features[column], rule.bins), y, pred)
        rows += table
        small = [r for r in table if not r.judged]
        if small:
            names = ", ".join(f"{r.slice!r} ({r.rows} rows)" for r in small)
            notes.append(
                f"slices by {column}: {names} below min_rows {rule.min_rows}: shown, not judged"
            )
        blind = [r.slice for r in table if r.judged and r.ci is None]
        if blind:
            notes.append(
                f"slices by {column}: no interval for {', '.join(blind)} (a class of the "
                "holdout is absent there): judged on the estimate"
            )
        checks += _rules(rule, column, [r for r in table if r.judged], cfg.confidence)
    return checks, rows, notes


def _groups(values: Any, bins: int) -> Any:
    """The slice of each row as text: the value, its quantile bin, or (missing)."""
    import pandas as pd

    present = values.dropna()
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if numeric and present.nunique() > MAX_VALUES:
        cut = pd.qcut(values, q=bins, duplicates="drop")
        names = [f"{i.left:.4g} to {i.right:.4g}" for i in cut.cat.categories]
        return cut.cat.rename_categories(names).astype(object).where(values.notna(), MISSING)
    return values.map(str).where(values.notna(), MISSING).astype(object)


def _metric_function(rule: SliceRule, classes: Any) -> Callable[..., float]:
    """The registry's computation of the slice metric, with the whole holdout's classes."""
    import numpy as np

    metric = registry.get(rule.metric)
    averaging = None
    if classes is not None:
        averaging = {"average": "binary" if len(classes) == 2 else "macro", "zero_division": 0}
        if len(classes) == 2:
            averaging["pos_label"] = classes[-1]

    def compute(y_true: Any, y_pred: Any) -> float:
        y_score = None
        if metric.source == registry.SCORES:  # y_pred holds the positive class's scores
            scores = np.asarray(y_pred, dtype=np.float64)
            y_score, y_pred = np.column_stack([-scores, scores]), None
        context = registry.Context(y_true, y_pred, y_score, classes, averaging)
        value = metric.compute(context)
        return math.nan if value is None else float(value)

    return compute


def _slice_table(
    cfg: GateConfig, column: str, groups: Any, y: Any, pred: stats.Predictions
) -> list[contracts.SliceRow]:
    import numpy as np

    try:
        from fairlearn.metrics import MetricFrame
    except ImportError:
        raise ToolkitError(
            "gate.yaml's slices need fairlearn: pip install 'mlops-toolkit[ci]'"
        ) from None
    rule = cfg.slices
    assert rule is not None
    y = np.asarray(y)
    scored = registry.get(rule.metric).source == registry.SCORES
    values = pred.scores if scored else pred.labels
    if values is None:
        raise ToolkitError(f"slices: {rule.metric} needs predictions the model did not give")
    classes = None
    if cfg.task == registry.CLASSIFICATION:
        classes = np.unique(np.concatenate([y, np.asarray(pred.labels)]))
    frame = MetricFrame(
        metrics=_metric_function(rule, classes),
        y_true=y,
        y_pred=np.asarray(values),
        sensitive_features=groups.rename(column),
    )
    counts = groups.value_counts()
    table = []
    for name, value in frame.by_group.items():
        n = int(counts[name])
        finite = value is not None and not math.isnan(value)
        judged = n >= rule.min_rows and finite
        interval = _interval(cfg, y, pred, (groups == name).to_numpy()) if judged else None
        table.append(
            contracts.SliceRow(
                column, str(name), n, rule.metric, float(value) if finite else None,
                interval, judged,
            )
        )  # fmt: skip
    return table


def _interval(cfg: GateConfig, y: Any, pred: stats.Predictions, mask: Any) -> list[float] | None:
    """The slice's bootstrap interval (stats.py, the gate's settings); None where the block
    statistics would read the slice differently from the whole holdout (a missing class)."""
    import numpy as np

    rule = cfg.slices
    assert rule is not None
    part = stats.Predictions(
        labels=None if pred.labels is None else np.asarray(pred.labels)[mask],
        scores=None if pred.scores is None else np.asarray(pred.scores)[mask],
    )
    if cfg.task == registry.CLASSIFICATION and registry.get(rule.metric).source == registry.LABELS:
        present = np.unique(np.concatenate([y[mask], part.labels]))
        if len(np.unique(np.concatenate([y, np.asarray(pred.labels)]))) != len(present):
            return None
    try:
        result = stats.evaluate(
            [rule.metric],
            y[mask],
            [part],
            **cfg.resampling,
        )[rule.metric]
    except ToolkitError:  # e.g. ROC AUC on a slice of one class
        return None
    low, high = result.ci[0]
    return None if math.isnan(low) else [low, high]


def _rules(
    rule: SliceRule, column: str, judged: list[contracts.SliceRow], confidence: float
) -> list[contracts.GateCheck]:
    checks = []
    if rule.threshold is not None:
        checks.append(_worst(rule, column, judged, confidence))
    if rule.max_gap is not None:
        checks.append(_gap(rule, column, judged))
    return checks


def _describe(row: contracts.SliceRow) -> str:
    return f"{row.column}={row.slice} ({row.value:.4f}, n={row.rows})"


def _worst(
    rule: SliceRule, column: str, judged: list[contracts.SliceRow], confidence: float
) -> contracts.GateCheck:
    metric = rule.rule
    interval = rule.evidence == "interval"
    name = f"slices by {column}: worst {rule.metric} {metric.threshold_text()}"
    if interval:
        name += f" (best bound of its {confidence:.0%} CI)"
    if not judged:
        return contracts.GateCheck(
            name, KIND, True, None, rule.threshold,
            f"no slice of {column} has {rule.min_rows} rows: not judged",
        )  # fmt: skip
    better = max if metric.bigger_is_better else min
    worst = (min if metric.bigger_is_better else max)(judged, key=lambda r: r.value)
    observed = worst.value
    if interval and worst.ci is not None:
        observed = better(worst.ci)  # fail only when the whole interval misses the bar
    passed = metric.meets_threshold(observed)
    ci = f", CI [{worst.ci[0]:.4f}, {worst.ci[1]:.4f}]" if worst.ci else ""
    detail = (
        f"worst slice {worst.column}={worst.slice}: {rule.metric} {worst.value:.4f}{ci}, "
        f"n={worst.rows}, {'meets' if passed else 'misses'} {metric.threshold_text()}"
    )
    return contracts.GateCheck(name, KIND, passed, observed, rule.threshold, detail)


def _gap(rule: SliceRule, column: str, judged: list[contracts.SliceRow]) -> contracts.GateCheck:
    name = f"slices by {column}: largest {rule.metric} gap ≤ {rule.max_gap:g}"
    if len(judged) < 2:
        return contracts.GateCheck(
            name, KIND, True, None, rule.max_gap,
            f"fewer than two slices of {column} with {rule.min_rows} rows: not judged",
        )  # fmt: skip
    low = min(judged, key=lambda r: r.value)
    high = max(judged, key=lambda r: r.value)
    gap = high.value - low.value
    passed = gap <= rule.max_gap
    detail = (
        f"{rule.metric} gap {gap:.4f} between {_describe(low)} and {_describe(high)}"
        f"{'' if passed else f' exceeds {rule.max_gap:g}'}"
    )
    return contracts.GateCheck(name, KIND, passed, gap, rule.max_gap, detail)
