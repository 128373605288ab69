"""Evaluation plots: data files for `dvc plots` and PNG images for MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLOTS_DIR = Path("plots")


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on CI runners and servers
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 4))
{% if cookiecutter.task == "classification" %}

def write(y_true: Any, y_pred: Any, y_score: Any) -> list[Path]:
    """Confusion matrix (predictions.csv + PNG) and ROC curve (roc.json + PNG)."""
    import json

    import pandas as pd
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    PLOTS_DIR.mkdir(exist_ok=True)
    written = [PLOTS_DIR / "predictions.csv"]
    pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(written[0], index=False)
    fig, ax = _figure()
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, ax=ax)
    written.append(_save(fig, "confusion_matrix.png"))
    fpr, tpr, thresholds = _roc(y_true, y_score)
    points = [
        {"fpr": float(f), "tpr": float(t), "threshold": float(min(h, 1.0))}
        for f, t, h in zip(fpr, tpr, thresholds, strict=True)
    ]
    written.append(PLOTS_DIR / "roc.json")
    written[-1].write_text(json.dumps({"roc": points}, indent=1) + "\n")
    fig, ax = _figure()
    RocCurveDisplay(fpr=fpr, tpr=tpr).plot(ax=ax)
    written.append(_save(fig, "roc.png"))
    return written


def _roc(y_true: Any, y_score: Any) -> Any:
    """ROC of the positive class; micro-averaged one-vs-rest past two classes."""
    import numpy as np
    from sklearn.metrics import roc_curve
    from sklearn.preprocessing import label_binarize

    classes = np.unique(y_true)
    if len(classes) == 2:
        return roc_curve(y_true, y_score[:, 1], pos_label=classes[1])
    truth = label_binarize(y_true, classes=classes)
    return roc_curve(truth.ravel(), y_score.ravel())
{% else %}

def write(y_true: Any, y_pred: Any, y_score: Any | None) -> list[Path]:
    """Residuals against predictions (residuals.csv + PNG)."""
    import pandas as pd

    PLOTS_DIR.mkdir(exist_ok=True)
    residuals = pd.DataFrame({"predicted": y_pred, "residual": y_true - y_pred})
    written = [PLOTS_DIR / "residuals.csv"]
    residuals.to_csv(written[0], index=False)
    fig, ax = _figure()
    ax.scatter(residuals["predicted"], residuals["residual"], s=8)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals")
    written.append(_save(fig, "residuals.png"))
    return written
{% endif %}

def write_importance(importance: Any) -> list[Path]:
    """Permutation importance of each feature on the holdout: CSV and bar chart."""
    PLOTS_DIR.mkdir(exist_ok=True)
    csv = PLOTS_DIR / "feature_importance.csv"
    importance.to_csv(csv, index=False)
    top = importance.head(15).iloc[::-1]
    fig, ax = _figure()
    ax.barh(top["feature"], top["importance"], xerr=top["std"])
    ax.set(xlabel="drop in score when shuffled", title="Permutation importance")
    return [csv, _save(fig, "feature_importance.png")]


def _save(fig: Any, name: str) -> Path:
    import matplotlib.pyplot as plt

    path = PLOTS_DIR / name
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
