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

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .. import metrics as registry
from ..core import progress
from ..errors import ToolkitError


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
    """Rows dealt at random into blocks (seeded); every row its own block when n <= blocks."""
    if n <= blocks:
        return np.arange(n, dtype=np.int64), n
    rng = np.random.default_rng([seed, 1])
    return rng.integers(0, blocks, size=n, dtype=np.int64), blocks


# --- sufficient statistics -----------------------------------------------------------------


def _confusion(ids: np.ndarray, g: int, y_idx: np.ndarray, p_idx: np.ndarray, k: int):
    flat = (ids * k + y_idx) * k + p_idx
    return np.bincount(flat, minlength=g * k * k).reshape(g, k * k).astype(np.float64)


def _score_bins(scores: np.ndarray, bins: int, seed: int) -> tuple[np.ndarray, int]:
    """Bin indices of scores: exact ranks when few distinct scores, else quantile bins.

    The edges come from a sample of at most 200,000 scores: the bins only carry the resampling
    spread (the point estimate of ROC AUC is exact), so they need not be exact quantiles.
    """
    sample = scores
    if len(scores) > 200_000:
        sample = scores[np.random.default_rng([seed, 3]).integers(0, len(scores), 200_000)]
    ordered = np.sort(sample)
    uniq = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]  # np.unique, once
    if len(uniq) <= bins:
        edges = uniq[1:]
        return np.searchsorted(edges, scores, side="right").astype(np.int64), len(edges) + 1
    edges = np.unique(ordered[(np.arange(1, bins) * len(ordered)) // bins])
    # A lookup table over a fine uniform grid maps a score to its quantile bin in O(1); only
    # scores within one grid cell of an edge can land in the neighbouring bin.
    lo, hi = float(scores.min()), float(scores.max())
    cells = 1 << 16
    scale = (cells - 1) / (hi - lo) if hi > lo else 0.0
    grid = lo + (np.arange(cells) + 0.5) / scale if scale else np.full(cells, lo)
    table = np.searchsorted(edges, grid, side="right")
    index = ((scores - lo) * scale).astype(np.int64)
    return table[index], len(edges) + 1


def _histogram(ids: np.ndarray, g: int, y_pos: np.ndarray, bins: np.ndarray, m: int):
    flat = (ids * 2 + y_pos) * m + bins
    return np.bincount(flat, minlength=g * 2 * m).reshape(g, 2 * m).astype(np.float64)


def _errors(ids: np.ndarray, g: int, y: np.ndarray, pred: np.ndarray):
    err = pred.astype(np.float64) - y
    cols = [np.ones_like(y), err * err, np.abs(err), y, y * y]
    return np.stack([np.bincount(ids, weights=c, minlength=g) for c in cols], axis=1)


def exact_auc(y_pos: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half, in O(n log n).

    Each class sorted once; for every positive, a binary search in the sorted negatives
    counts the negatives at or below it (`right`) and strictly below it (`left`). Twice the
    U statistic is the sum of both counts, an integer, so the result does not depend on the
    order of summation. `left` is only searched when a positive ties with a negative.
    """
    mask = y_pos == 1
    pos, neg = np.sort(scores[mask]), np.sort(scores[~mask])
    n_pos, n_neg = len(pos), len(neg)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    at_or_below = np.searchsorted(neg, pos, side="right")
    total = 2 * at_or_below.sum(dtype=np.int64)
    found = at_or_below > 0
    if (neg[at_or_below[found] - 1] == pos[found]).any():  # ties between the classes
        total -= (at_or_below - np.searchsorted(neg, pos, side="left")).sum(dtype=np.int64)
    return float(total / 2 / (n_pos * n_neg))


_CHUNK_CELLS = 8_000_000  # weights per bootstrap chunk (32 MB of float32)
T = TypeVar("T")
R = TypeVar("R")


def _per_model(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`work` on each model's predictions, in threads: sorting, searching and counting a
    million scores release the GIL, so candidate and production run side by side."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, items))


# --- the evaluation ------------------------------------------------------------------------


def _of(source: str) -> tuple[str, ...]:
    """The gate's metrics read from one kind of statistics."""
    return tuple(m for m in registry.names(gate=True) if registry.get(m).source == source)


# The kind of per-block statistics each metric the gate judges is read from (the registry's).
FAMILIES = {name: registry.get(name).source for name in registry.names(gate=True)}


@dataclass
class _Family:
    """Per-block statistics of one kind, for every model, and how metrics read them."""

    columns: list[np.ndarray]  # one (G, k) array per model
    read: dict  # metric -> function(stats[..., k]) -> values
    exact: dict  # metric -> exact point estimates per model, where binning approximates


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
    chunk: int | None = None,
) -> dict[str, MetricResult]:
    """Point estimates and a paired bootstrap for each metric and model (candidate first)."""
    y = np.asarray(y)
    n = len(y)
    if n == 0:
        raise ToolkitError("the holdout has no rows")
    for m in metrics:
        if m not in FAMILIES:
            raise ToolkitError(f"unknown metric {m}")
    ids, g = block_ids(n, blocks, seed)
    wanted = list(dict.fromkeys(FAMILIES[m] for m in metrics))
    wanted.sort(key=lambda f: f == registry.ERRORS)  # counts first, then the float error sums
    builders = {
        registry.LABELS: _label_family,
        registry.SCORES: _score_family,
        registry.ERRORS: _error_family,
    }
    rng = np.random.default_rng([seed, 2])
    chunk = chunk or max(1, _CHUNK_CELLS // g)
    # The weights do not depend on the data: the first chunk is drawn in a thread while the
    # statistics are built (overlapping where numpy releases the GIL). The generator's stream
    # is the same either way.
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(rng.poisson, 1.0, (min(chunk, resamples), g))
        families = {f: builders[f](metrics, y, models, ids, g, auc_bins, seed) for f in wanted}
        weights = first.result()

    # One weight matrix for every statistic of every model: the bootstrap is paired.
    order = [(f, i) for f in wanted for i in range(len(models))]
    stacked = np.concatenate([families[f].columns[i] for f, i in order], axis=1)
    counted = sum(families[f].columns[i].shape[1] for f, i in order if f != registry.ERRORS)
    boot = _bootstrap(stacked, counted, weights, rng, resamples)
    totals = stacked.sum(axis=0)

    slices, offset = {}, 0
    for f, i in order:
        width = families[f].columns[i].shape[1]
        slices[(f, i)] = slice(offset, offset + width)
        offset += width

    alpha = (1 - confidence) / 2
    results: dict[str, MetricResult] = {}
    for metric in dict.fromkeys(metrics):
        fam = families[FAMILIES[metric]]
        read = fam.read[metric]
        sampled = [read(boot[:, slices[(FAMILIES[metric], i)]]) for i in range(len(models))]
        binned = [float(read(totals[slices[(FAMILIES[metric], i)]])) for i in range(len(models))]
        point = fam.exact.get(metric, binned)
        # Shift resampled values by (exact - binned) so that intervals centre on the exact
        # estimate where binning approximates (ROC AUC on many distinct scores).
        shifted = [b + (p - q) for b, p, q in zip(sampled, point, binned, strict=True)]
        result = MetricResult(metric, list(point), [_interval(b, alpha) for b in shifted])
        if len(models) == 2:
            sign = 1.0 if registry.higher_is_better(metric) else -1.0
            result.diff = sign * (point[0] - point[1])
            result.diff_ci = _interval(sign * (shifted[0] - shifted[1]), alpha)
        results[metric] = result
    return results


def _bootstrap(
    stacked: np.ndarray,
    counted: int,
    weights: np.ndarray,
    rng: np.random.Generator,
    resamples: int,
) -> np.ndarray:
    """Resampled statistics (resamples x columns), `weights` holding the first chunk.

    The first `counted` columns are counts: float32 products are exact integers (below 2**24)
    whatever the summation order. The rest (error sums) are multiplied in float64: float32
    would keep 7 digits. Few large products: BLAS on 250-row slices took twice as long.
    """
    counts32 = stacked[:, :counted].astype(np.float32)
    sums = stacked[:, counted:]
    boot = np.empty((resamples, stacked.shape[1]), dtype=np.float64)
    chunk, g = weights.shape
    start = 0
    with progress.bar(resamples, "bootstrap", " resamples") as shown:
        while start < resamples:
            stop = start + len(weights)
            if counted:
                boot[start:stop, :counted] = weights.astype(np.float32) @ counts32
            if sums.shape[1]:
                boot[start:stop, counted:] = weights.astype(np.float64) @ sums
            shown.advance(stop - start)
            start = stop
            if start < resamples:
                weights = rng.poisson(1.0, size=(min(chunk, resamples - start), g))
    return boot


def _interval(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def _need(values: Any, metric: str) -> np.ndarray:
    if values is None:
        raise ToolkitError(f"{metric} needs predictions the model did not give")
    return np.asarray(values)


def _codes(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Shared integer codes 0..k-1 for labels of several arrays (sorted label order)."""
    if all(a.dtype.kind in "iu" for a in arrays):
        lo = min(int(a.min()) for a in arrays)
        hi = max(int(a.max()) for a in arrays)
        if hi - lo < 1000:
            # intp first: bincount takes no uint64, and int8 - lo could overflow.
            shifted = [
                a.astype(np.intp, copy=False) - lo if lo else a.astype(np.intp, copy=False)
                for a in arrays
            ]
            present = np.zeros(hi - lo + 1, dtype=bool)
            for a in shifted:
                present |= np.bincount(a, minlength=hi - lo + 1) > 0
            if present.all():  # labels already 0..k-1 (the usual 0/1): no remapping pass
                return [a.astype(np.int64, copy=False) for a in shifted], len(present)
            remap = np.cumsum(present) - 1
            return [remap[a] for a in shifted], int(present.sum())
    import pandas as pd

    codes, uniques = pd.factorize(np.concatenate(arrays), sort=True)
    n = len(arrays[0])
    return [codes[i * n : (i + 1) * n] for i in range(len(arrays))], len(uniques)


def _label_family(metrics, y, models, ids, g, auc_bins, seed) -> _Family:
    preds = [_need(p.labels, "classification metrics") for p in models]
    codes, k = _codes([y, *preds])
    y_idx = codes[0]
    cols = [_confusion(ids, g, y_idx, c, k) for c in codes[1:]]
    binary_y = k <= 2
    positive = k - 1 if binary_y else None  # the larger label, as scikit-learn's pos_label=1
    read = {
        m: (lambda s, m=m: registry.get(m).from_blocks(s.reshape((*s.shape[:-1], k, k)), positive))
        for m in _of(registry.LABELS)
    }
    return _Family(cols, read, {})


def _score_family(metrics, y, models, ids, g, auc_bins, seed) -> _Family:
    """Score metrics rank the positive class's scores (AUC): per-class score histograms per
    block for the bootstrap, the exact Mann-Whitney value for the point estimate."""
    wanted = [m for m in dict.fromkeys(metrics) if registry.get(m).source == registry.SCORES]
    (y_codes,), k = _codes([y])
    if k != 2:
        raise ToolkitError(f"{wanted[0]} needs a binary target; the holdout has {k} classes")
    y_pos = y_codes.astype(np.int64)

    def one(p: Predictions) -> tuple[np.ndarray, float]:
        scores = _need(p.scores, wanted[0]).astype(np.float64)
        bins, m = _score_bins(scores, auc_bins, seed)
        return _histogram(ids, g, y_pos, bins, m), exact_auc(y_pos, scores)

    done = _per_model(one, models)
    cols, exact = [c for c, _ in done], [e for _, e in done]
    # Each model may have its own number of bins: each slice is read with its own width.
    read = {m: registry.get(m).from_blocks for m in wanted}
    return _Family(cols, read, {m: exact for m in wanted})


def _error_family(metrics, y, models, ids, g, auc_bins, seed) -> _Family:
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ToolkitError("regression metrics need a numeric target") from exc
    cols = [_errors(ids, g, yf, _need(p.labels, "regression metrics")) for p in models]
    read = {m: registry.get(m).from_blocks for m in _of(registry.ERRORS)}
    return _Family(cols, read, {})
