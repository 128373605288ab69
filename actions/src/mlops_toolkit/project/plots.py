"""Evaluation plots every project draws the same way: data files for `dvc plots` and PNG images
for MLflow, readable (8x6 in at 100 dpi), titled, with the classes' names and the values in
the legends.

Classification: ROC and precision-recall curves (AUC and average precision in the legend; one
curve per class, one-vs-rest, past two classes), the confusion matrix normalised by the true
class, and calibration. Regression: predicted against actual (with the task's metrics from the
registry), and residuals. Both: permutation importance, and (given the model and the holdout's
features) the partial dependence with ICE lines of the most important features. File names
are stable (`FILES`): the project's dvc.yaml lists them.

The figures are built by `*_figures` (name -> matplotlib Figure, nothing written) and saved by
`write`; matplotlib, numpy, pandas and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import metrics

PLOTS_DIR = Path("plots")
SIZE_IN = (8.0, 6.0)
DPI = 100
# Past this many classes, the curves of the most frequent ones (and the micro-average) only.
MAX_CURVES = 10
CALIBRATION_BINS = 10

# The files each task writes, by stable name (dvc.yaml's `plots:` lists them).
FILES = {
    metrics.CLASSIFICATION: (
        "predictions.csv",
        "roc.json",
        "confusion_matrix.png",
        "roc.png",
        "precision_recall.png",
        "calibration.png",
    ),
    metrics.REGRESSION: ("residuals.csv", "residuals.png", "predicted_actual.png"),
}
IMPORTANCE_FILES = ("feature_importance.csv", "feature_importance.png")
DEPENDENCE_FILE = "partial_dependence.png"
# Kept cheap: a few features, rows and grid points (one predict call per feature).
DEPENDENCE_FEATURES = 4
ICE_ROWS = 50
GRID_POINTS = 20
CATEGORY_POINTS = 10  # a categorical feature's most frequent values
MAX_LABEL = 28  # feature names longer than this are shortened on the axes


def write(
    task: str,
    y_true: Any,
    y_pred: Any,
    y_score: Any | None = None,
    classes: Sequence[Any] | None = None,
    directory: Path = PLOTS_DIR,
) -> list[Path]:
    """Every plot of ``task`` into ``directory``: its data files, then its PNG images.

    ``classes`` are the columns of ``y_score`` in order (the model's ``classes_``); by default
    the sorted labels seen in ``y_true`` and ``y_pred``.
    """
    import numpy as np
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if task == metrics.CLASSIFICATION:
        classes = _classes(y_true, y_pred, classes)
        table = pd.DataFrame({"actual": y_true, "predicted": y_pred})
        written = [_csv(table, directory / "predictions.csv")]
        written.append(_roc_json(y_true, y_score, classes, directory / "roc.json"))
        figures = classification_figures(y_true, y_pred, y_score, classes)
    else:
        table = pd.DataFrame({"predicted": y_pred, "residual": y_true - y_pred})
        written = [_csv(table, directory / "residuals.csv")]
        figures = regression_figures(y_true, y_pred)
    return written + [_save(figure, directory / name) for name, figure in figures.items()]


def write_importance(
    importance: Any, directory: Path = PLOTS_DIR, model: Any = None, features: Any = None
) -> list[Path]:
    """Permutation importance (a frame of feature, importance, std): CSV and bar chart; with
    the fitted ``model`` and the holdout's ``features`` (since 1.2) the partial dependence of
    the most important features too (DEPENDENCE_FILE)."""
    directory.mkdir(parents=True, exist_ok=True)
    csv = _csv(importance, directory / IMPORTANCE_FILES[0])
    written = [csv, _save(importance_figure(importance), directory / IMPORTANCE_FILES[1])]
    if model is not None and features is not None:
        figure = dependence_figure(model, features, importance)
        written.append(_save(figure, directory / DEPENDENCE_FILE))
    return written


# --- classification ------------------------------------------------------------------------


def classification_figures(
    y_true: Any, y_pred: Any, y_score: Any | None, classes: Sequence[Any]
) -> dict[str, Any]:
    """confusion_matrix.png, and with class scores roc.png, precision_recall.png and
    calibration.png (a model without predict_proba has no curves to draw)."""
    figures = {"confusion_matrix.png": _confusion(y_true, y_pred, classes)}
    if y_score is None:
        return figures
    curves = _curves(y_true, y_score, classes)
    figures["roc.png"] = _roc(curves)
    figures["precision_recall.png"] = _precision_recall(curves)
    figures["calibration.png"] = _calibration(curves)
    return figures


def _classes(y_true: Any, y_pred: Any, classes: Sequence[Any] | None) -> list[Any]:
    import numpy as np

    if classes is not None:
        return list(classes)
    return list(np.unique(np.concatenate([y_true, y_pred])))


def _confusion(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> Any:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = _figure()
    names = [str(c) for c in classes]
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=list(classes),
        display_labels=names,
        normalize="true",
        values_format=".2f",
        cmap="Blues",
        colorbar=True,
        ax=ax,
        xticks_rotation=45 if max(map(len, names)) > 6 else "horizontal",
    )
    ax.set_title(f"Confusion matrix (normalised by true class, {len(y_true)} rows)")
    return fig


class _Curve:
    """One class against the rest: its truth, its scores and its name in the legend."""

    def __init__(self, name: str, truth: Any, score: Any) -> None:
        self.name, self.truth, self.score = name, truth, score


def _curves(y_true: Any, y_score: Any, classes: Sequence[Any]) -> list[_Curve]:
    """The positive class (the larger label, as the metrics registry takes it) of a binary task;
    past two classes one curve per class (the most frequent MAX_CURVES) and the micro-average.
    A class absent from the holdout (or alone in it) has no curve."""
    import numpy as np

    y_score = np.asarray(y_score, dtype=float)
    if len(classes) == 2:
        chosen = [len(classes) - 1]
    else:
        counts = [int(np.sum(y_true == c)) for c in classes]
        chosen = sorted(np.argsort(counts, kind="stable")[::-1][:MAX_CURVES])
    curves = [_Curve(str(classes[i]), y_true == classes[i], y_score[:, i]) for i in chosen]
    if len(classes) > 2:
        truth = np.stack([y_true == c for c in classes], axis=1)
        curves.append(_Curve("micro-average", truth.ravel(), y_score.ravel()))
    return [c for c in curves if 0 < c.truth.sum() < len(c.truth)]


def _roc(curves: list[_Curve]) -> Any:
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = _figure()
    for curve in curves:
        fpr, tpr, _ = roc_curve(curve.truth, curve.score)
        auc = roc_auc_score(curve.truth, curve.score)
        ax.plot(fpr, tpr, **_style(curve), label=f"{curve.name} (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance (AUC = 0.500)")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"ROC curve{_kind(curves)}")
    _legend(ax, curves, "lower right")
    return fig


def _precision_recall(curves: list[_Curve]) -> Any:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _figure()
    for curve in curves:
        precision, recall, _ = precision_recall_curve(curve.truth, curve.score)
        ap = average_precision_score(curve.truth, curve.score)
        line = ax.step(recall, precision, where="post", **_style(curve))[0]
        line.set_label(f"{curve.name} (AP = {ap:.3f}, prevalence {curve.truth.mean():.2f})")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"Precision-recall curve{_kind(curves)}")
    _legend(ax, curves, "lower left")
    return fig


def _calibration(curves: list[_Curve]) -> Any:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for curve in curves:
        observed, predicted = calibration_curve(curve.truth, curve.score, n_bins=CALIBRATION_BINS)
        brier = brier_score_loss(curve.truth, curve.score)
        ax.plot(
            predicted,
            observed,
            marker="o",
            **_style(curve),
            label=f"{curve.name} (Brier = {brier:.3f})",
        )
    ax.set(
        xlabel="Mean predicted probability (bin)",
        ylabel="Observed frequency of the class",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.set_title(f"Calibration ({CALIBRATION_BINS} bins){_kind(curves)}")
    _legend(ax, curves, "upper left")
    return fig


def _kind(curves: list[_Curve]) -> str:
    if not curves:
        return ": not drawn, the holdout has a single class"
    return ", one-vs-rest per class" if len(curves) > 1 else f", positive class {curves[0].name}"


def _style(curve: _Curve) -> dict[str, Any]:
    micro = curve.name == "micro-average"
    return {"linestyle": "--" if micro else "-", "linewidth": 2.5 if micro else 1.8}


def _legend(ax: Any, curves: list[_Curve], where: str) -> None:
    ax.grid(alpha=0.3)
    if not curves:
        return
    ax.legend(loc=where, fontsize="small" if len(curves) > 4 else "medium")


def _roc_json(y_true: Any, y_score: Any | None, classes: Sequence[Any], path: Path) -> Path:
    """DVC's ROC plot: the positive class's curve, micro-averaged past two classes."""
    from sklearn.metrics import roc_curve

    points: list[dict[str, float]] = []
    curves = [] if y_score is None else _curves(y_true, y_score, classes)
    if curves:
        fpr, tpr, thresholds = roc_curve(curves[-1].truth, curves[-1].score)
        points = [
            {"fpr": float(f), "tpr": float(t), "threshold": float(min(h, 1.0))}
            for f, t, h in zip(fpr, tpr, thresholds, strict=True)
        ]
    path.write_text(json.dumps({"roc": points}, indent=1) + "\n")
    return path


# --- regression ----------------------------------------------------------------------------


def regression_figures(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """residuals.png (against the prediction, and their distribution) and
    predicted_actual.png (with the task's metrics, named and computed by the registry)."""
    import numpy as np

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {
        "residuals.png": _residuals(y_true, y_pred),
        "predicted_actual.png": _predicted_actual(y_true, y_pred),
    }


def _predicted_actual(y_true: Any, y_pred: Any) -> Any:
    fig, ax = _figure()
    ax.scatter(y_true, y_pred, s=12, alpha=0.6, label=f"holdout rows ({len(y_true)})")
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle=":", label="predicted = actual")
    values = metrics.compute(metrics.REGRESSION, y_true, y_pred)
    summary = ", ".join(f"{metrics.get(n).display} = {v:.4g}" for n, v in values.items())
    ax.set(xlabel="Actual", ylabel="Predicted")
    ax.set_title(f"Predicted against actual ({summary})")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def _residuals(y_true: Any, y_pred: Any) -> Any:
    residual = y_true - y_pred
    fig, (left, right) = _pyplot().subplots(
        1, 2, figsize=SIZE_IN, dpi=DPI, gridspec_kw={"width_ratios": [3, 1]}, sharey=True
    )
    left.scatter(y_pred, residual, s=12, alpha=0.6)
    left.axhline(0.0, color="grey", linewidth=1)
    left.set(xlabel="Predicted", ylabel="Residual (actual - predicted)")
    left.set_title("Residuals against the prediction")
    left.grid(alpha=0.3)
    right.hist(residual, bins=30, orientation="horizontal", color="tab:blue", alpha=0.7)
    right.axhline(0.0, color="grey", linewidth=1)
    right.set(xlabel=f"Rows (mean {residual.mean():.3g})")
    right.set_title("Distribution")
    fig.suptitle(f"Residuals on the holdout ({len(residual)} rows)")
    return fig


# --- importance ----------------------------------------------------------------------------


def importance_figure(importance: Any, top: int = 15) -> Any:
    shown = importance.head(top).iloc[::-1]
    fig, ax = _figure()
    labels = [_short(name) for name in shown["feature"]]
    ax.barh(range(len(shown)), shown["importance"], xerr=shown["std"], color="tab:blue")
    ax.set_yticks(range(len(shown)), labels, fontsize="small" if len(shown) > 10 else "medium")
    ax.set(xlabel="Drop in score when the feature is shuffled (mean ± std)", ylabel="Feature")
    more = f", top {top} of {len(importance)}" if len(importance) > top else ""
    ax.set_title(f"Permutation importance on the holdout{more}")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _short(name: Any) -> str:
    text = str(name)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def dependence_figure(model: Any, features: Any, importance: Any) -> Any:
    """Partial dependence (the thick line: the mean response) and ICE lines (one thin line per
    sampled row) of the DEPENDENCE_FEATURES most important features, one panel each. The
    response is the prediction (regression), the positive class's probability (binary), or
    each class's probability (past two classes; mean lines only). Categorical features show
    their most frequent values."""
    if getattr(model, "classes_", None) is not None and not hasattr(model, "predict_proba"):
        # Labels have no mean: without class probabilities there is no curve to draw.
        fig, ax = _figure()
        ax.axis("off")
        ax.text(0.5, 0.5, "not drawn: the model gives no class probabilities", ha="center")
        ax.set_title("Partial dependence")
        return fig
    chosen = [f for f in importance["feature"] if f in features.columns][:DEPENDENCE_FEATURES]
    rows = ice_rows(features)
    fig, axes = _pyplot().subplots(2, 2, figsize=SIZE_IN, dpi=DPI, squeeze=False)
    weights = dict(zip(importance["feature"], importance["importance"], strict=True))
    for ax, feature in zip(axes.ravel(), chosen, strict=False):
        _dependence_panel(ax, model, features, feature)
        ax.set_title(f"{_short(feature)} (importance {weights[feature]:.3g})", fontsize="medium")
    for ax in axes.ravel()[len(chosen) :]:
        ax.axis("off")
    fig.suptitle(
        f"Partial dependence (thick) and ICE of {len(rows)} holdout rows (thin), "
        f"top {len(chosen)} features by permutation importance",
        fontsize="medium",
    )
    return fig


def ice_rows(features: Any) -> Any:
    """The rows drawn as ICE lines: ICE_ROWS of the holdout, the same ones every run."""
    return features.sample(min(ICE_ROWS, len(features)), random_state=0)


def dependence(model: Any, features: Any, feature: str) -> tuple[list[Any], Any, list[str]]:
    """The grid of ``feature`` (from every holdout row), the response of each ICE row at each
    grid value (grid x rows x curves) and the curves' names: one predict call on the ICE rows
    repeated over the grid."""
    import numpy as np
    import pandas as pd

    grid, rows = _grid(features[feature]), ice_rows(features)
    repeated = pd.concat([rows] * len(grid), ignore_index=True)
    repeated[feature] = np.repeat(np.asarray(grid, dtype=object), len(rows))
    if not _categorical(rows[feature]):
        repeated[feature] = pd.to_numeric(repeated[feature])
    classes = getattr(model, "classes_", None)
    if classes is not None and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(repeated), dtype=float)
        chosen = [len(classes) - 1] if len(classes) == 2 else list(range(len(classes)))
        names = [f"P({classes[i]})" for i in chosen]
        response = proba[:, chosen]
    else:
        response = np.asarray(model.predict(repeated), dtype=float)[:, None]
        names = ["prediction"]
    return grid, response.reshape(len(grid), len(rows), len(names)), names


def _categorical(values: Any) -> bool:
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _grid(values: Any) -> list[Any]:
    """Numeric: GRID_POINTS quantiles (5th to 95th) or the distinct values if fewer;
    categorical: the most frequent values. Missing values are left out."""
    import numpy as np

    present = values.dropna()
    if _categorical(values):
        return list(present.value_counts().index[:CATEGORY_POINTS])
    numbers = present.to_numpy(dtype=float)
    distinct = np.unique(numbers)
    if len(distinct) <= GRID_POINTS:
        return list(distinct)
    return list(np.unique(np.quantile(numbers, np.linspace(0.05, 0.95, GRID_POINTS))))


def _dependence_panel(ax: Any, model: Any, features: Any, feature: str) -> None:
    import numpy as np

    grid, response, names = dependence(model, features, feature)
    if not grid:
        ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
        return
    categorical = _categorical(features[feature])
    x = np.arange(len(grid)) if categorical else np.asarray(grid, dtype=float)
    if len(names) == 1 and not categorical:
        ax.plot(x, response[:, :, 0], color="tab:grey", alpha=0.25, linewidth=0.7)
    for k, name in enumerate(names):
        mean = response[:, :, k].mean(axis=1)
        # Categories have no order: points, not a line through them.
        style = {"marker": "o", "linestyle": "none"} if categorical else {"linewidth": 2.5}
        ax.plot(x, mean, **style, label=name)
    if categorical:
        ax.set_xticks(x, [_short(v) for v in grid], rotation=45, ha="right", fontsize="small")
    ax.set(xlabel=_short(feature), ylabel=names[0] if len(names) == 1 else "probability")
    if len(names) > 1:
        ax.legend(fontsize="x-small", loc="best")
    ax.grid(alpha=0.3)


# --- figures and files ---------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on CI runners and servers
    import matplotlib.pyplot as plt

    return plt


def _figure() -> tuple[Any, Any]:
    return _pyplot().subplots(figsize=SIZE_IN, dpi=DPI)


def _save(figure: Any, path: Path) -> Path:
    """The PNG at exactly SIZE_IN x DPI pixels (no tight bounding box, which would crop it)."""
    figure.set_size_inches(*SIZE_IN)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    _pyplot().close(figure)
    return path


def _csv(table: Any, path: Path) -> Path:
    table.to_csv(path, index=False)
    return path
