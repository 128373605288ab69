"""Metrics and the paired bootstrap, computed from per-block sufficient statistics.

Rows are dealt at random (seeded) into G blocks; for every model we keep a small table of
sufficient statistics per block (confusion counts, score histograms per class, error sums).
A bootstrap resample gives every block a Poisson(1) weight, and the resampled statistics are
one matrix product `W (B x G) @ S (G x k)`, so 1,000 resamples of a million rows cost about
as much as one pass over the rows. Candidate and production share the weights: the bootstrap
is paired. With n <= G every row is its own block: the ordinary (Poisson) row bootstrap.
ROC AUC is resampled on per-model score bins (exact when a model has at most `auc_bins`
distinct scores); its point estimate is always exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ToolkitError
from .gate_config import MAXIMIZE, METRIC_DIRECTIONS

LABEL_METRICS = ("accuracy", "f1")
SCORE_METRICS = ("roc_auc",)
ERROR_METRICS = ("rmse", "mae", "r2")


@dataclass
class Predictions:
    """What one model said about the holdout rows."""

    labels: np.ndarray | None = None  # classification labels or regression values
    scores: np.ndarray | None = None  # probability of the positive class (binary)


@dataclass
class MetricResult:
    metric: str
    values: list[float]  # point estimate per model (candidate first)
    ci: list[tuple[float, float]]  # percentile interval per model
    diff: float | None = None  # improvement of candidate over production (positive = better)
    diff_ci: tuple[float, float] | None = None


def block_ids(n: int, blocks: int, seed: int) -> tuple[np.ndarray, int]:
    if n <= blocks:
        return np.arange(n, dtype=np.int64), n
    rng = np.random.default_rng([seed, 1])
    return rng.permutation(n).astype(np.int64) % blocks, blocks


# --- sufficient statistics -----------------------------------------------------------------

def _confusion(ids: np.ndarray, g: int, y_idx: np.ndarray, p_idx: np.ndarray, k: int):
    flat = (ids * k + y_idx) * k + p_idx
    return np.bincount(flat, minlength=g * k * k).reshape(g, k * k).astype(np.float64)


def _score_bins(scores: np.ndarray, bins: int) -> tuple[np.ndarray, int]:
    uniq, inverse = np.unique(scores, return_inverse=True)
    if len(uniq) <= bins:
        return inverse.astype(np.int64), len(uniq)
    edges = np.unique(np.quantile(scores, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, scores, side="right").astype(np.int64), len(edges) + 1


def _histogram(ids: np.ndarray, g: int, y_pos: np.ndarray, bins: np.ndarray, m: int):
    flat = (ids * 2 + y_pos) * m + bins
    return np.bincount(flat, minlength=g * 2 * m).reshape(g, 2 * m).astype(np.float64)


def _errors(ids: np.ndarray, g: int, y: np.ndarray, pred: np.ndarray):
    err = pred.astype(np.float64) - y
    cols = [np.ones_like(y), err * err, np.abs(err), y, y * y]
    return np.stack([np.bincount(ids, weights=c, minlength=g) for c in cols], axis=1)


# --- metrics from (batched) statistics -------------------------------------------------------

def _from_confusion(metric: str, flat: np.ndarray, k: int, positive: int | None) -> np.ndarray:
    cm = flat.reshape((*flat.shape[:-1], k, k))  # [..., true, predicted]
    total = cm.sum(axis=(-1, -2))
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "accuracy":
            return tp.sum(-1) / total
        fp = cm.sum(-2) - tp
        fn = cm.sum(-1) - tp
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        if positive is not None:
            return f1[..., positive]
        present = (cm.sum(-1) + cm.sum(-2)) > 0
        return (f1 * present).sum(-1) / np.maximum(present.sum(-1), 1)


def _auc_from_hist(flat: np.ndarray, m: int) -> np.ndarray:
    h = flat.reshape((*flat.shape[:-1], 2, m))
    neg, pos = h[..., 0, :], h[..., 1, :]
    below = np.cumsum(neg, axis=-1) - neg
    u = (pos * (below + 0.5 * neg)).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return u / (pos.sum(-1) * neg.sum(-1))


def _from_errors(metric: str, s: np.ndarray) -> np.ndarray:
    count, sse, sae, sy, syy = (s[..., i] for i in range(5))
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "rmse":
            return np.sqrt(sse / count)
        if metric == "mae":
            return sae / count
        sst = syy - sy * sy / count
        return 1.0 - sse / sst


def exact_auc(y_pos: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half, in O(n log n)."""
    from scipy.stats import rankdata

    n_pos = int(y_pos.sum())
    n_neg = len(y_pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y_pos == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --- the evaluation ------------------------------------------------------------------------

class _Table:
    """Per-block statistics for one metric and every model, and how to read a metric off them."""

    def __init__(self, metric: str, columns: list[np.ndarray], reader, exact: list[float] | None):
        self.metric = metric
        self.columns = columns  # one (G, k) array per model
        self.reader = reader
        self.exact = exact


def evaluate(
    metrics: list[str],
    y: np.ndarray,
    models: list[Predictions],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 42,
    blocks: int = 1000,
    auc_bins: int = 256,
    chunk: int = 200,
) -> dict[str, MetricResult]:
    """Point estimates and a paired bootstrap for each metric and model (candidate first)."""
    y = np.asarray(y)
    n = len(y)
    if n == 0:
        raise ToolkitError("the holdout has no rows")
    ids, g = block_ids(n, blocks, seed)
    tables = [_table(m, y, models, ids, g, auc_bins) for m in dict.fromkeys(metrics)]

    stacked = np.concatenate([c for t in tables for c in t.columns], axis=1)
    rng = np.random.default_rng([seed, 2])
    boot = np.empty((resamples, stacked.shape[1]))
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        weights = rng.poisson(1.0, size=(stop - start, g)).astype(np.float64)
        boot[start:stop] = weights @ stacked
    totals = stacked.sum(axis=0)

    alpha = (1 - confidence) / 2
    results: dict[str, MetricResult] = {}
    offset = 0
    for t in tables:
        per_model_boot, per_model_point = [], []
        for col in t.columns:
            width = col.shape[1]
            per_model_boot.append(t.reader(boot[:, offset:offset + width]))
            per_model_point.append(float(t.reader(totals[offset:offset + width])))
            offset += width
        point = t.exact if t.exact is not None else per_model_point
        # Resampled values are shifted by (exact - binned) so that intervals centre on the
        # exact estimate where binning approximates (ROC AUC on many distinct scores).
        shifted = [b + (p - q) for b, p, q in
                   zip(per_model_boot, point, per_model_point, strict=True)]
        ci = [_interval(b, alpha) for b in shifted]
        result = MetricResult(t.metric, point, ci)
        if len(models) == 2:
            sign = 1.0 if METRIC_DIRECTIONS[t.metric] == MAXIMIZE else -1.0
            result.diff = sign * (point[0] - point[1])
            result.diff_ci = _interval(sign * (shifted[0] - shifted[1]), alpha)
        results[t.metric] = result
    return results


def _interval(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def _table(metric: str, y: np.ndarray, models: list[Predictions], ids, g, auc_bins) -> _Table:
    if metric in LABEL_METRICS:
        return _label_table(metric, y, models, ids, g)
    if metric in SCORE_METRICS:
        return _auc_table(y, models, ids, g, auc_bins)
    if metric in ERROR_METRICS:
        try:
            yf = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ToolkitError(f"{metric} needs a numeric target") from exc
        cols = [_errors(ids, g, yf, _need(p.labels, metric)) for p in models]
        return _Table(metric, cols, lambda s: _from_errors(metric, s), None)
    raise ToolkitError(f"unknown metric {metric}")


def _need(values: Any, metric: str) -> np.ndarray:
    if values is None:
        raise ToolkitError(f"{metric} needs predictions the model did not give")
    return np.asarray(values)


def _label_table(metric, y, models, ids, g) -> _Table:
    preds = [_need(p.labels, metric) for p in models]
    classes, inverse = np.unique(np.concatenate([y, *preds]), return_inverse=True)
    k = len(classes)
    n = len(y)
    y_idx = inverse[:n]
    positive = None
    if metric == "f1" and len(np.unique(y)) <= 2 and k <= 2:
        positive = k - 1  # the larger label, as scikit-learn's pos_label=1 for 0/1 targets
    cols = [_confusion(ids, g, y_idx, inverse[n * (i + 1):n * (i + 2)], k)
            for i in range(len(preds))]
    return _Table(metric, cols, lambda s: _from_confusion(metric, s, k, positive), None)


def _auc_table(y, models, ids, g, auc_bins) -> _Table:
    classes = np.unique(y)
    if len(classes) != 2:
        raise ToolkitError(f"roc_auc needs a binary target; the holdout has {len(classes)} classes")
    y_pos = (y == classes[1]).astype(np.int64)
    cols, exact, widths = [], [], []
    for p in models:
        scores = _need(p.scores, "roc_auc").astype(np.float64)
        bins, m = _score_bins(scores, auc_bins)
        cols.append(_histogram(ids, g, y_pos, bins, m))
        widths.append(m)
        exact.append(exact_auc(y_pos, scores))
    # Each model may have its own number of bins: read each slice with its own width.
    return _Table("roc_auc", cols, lambda s: _auc_from_hist(s, s.shape[-1] // 2), exact)
