"""mlops_toolkit.project.plots: the evaluation plots every project writes, on real data
(scikit-learn's breast cancer with its class names as strings, vega_datasets' cars with strings,
missing values and three classes, scikit-learn's diabetes): the files under their stable names,
at 800x600 pixels, titled, with AUC/AP in the legends (equal to the metrics registry's and
scikit-learn's values) and the classes' names."""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pytest
from mlops_toolkit import metrics
from mlops_toolkit.project import API_VERSION, plots
from support import cars

PIXELS = (600, 800)  # rows x columns of every PNG: 8x6 in at 100 dpi


@functools.cache
def _cancer() -> tuple:
    """Binary, labels as a team's CSV has them (strings), a model with predict_proba."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    y = data.target_names[data.target]  # "malignant" / "benign"
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.data[::2], y[::2])
    x, y = data.data[1::2], y[1::2]
    return y, model.predict(x), model.predict_proba(x), model.classes_


@functools.cache
def _cars() -> tuple:
    """Three classes by name (USA, Europe, Japan), features with strings and missing values."""
    frame = cars.cars()
    train, holdout = frame.iloc[::2], frame.iloc[1::2]
    model = cars.fitted_pipeline(train)
    x = holdout[cars.FEATURE_NAMES]
    return holdout[cars.TARGET].to_numpy(), model.predict(x), model.predict_proba(x), model.classes_


@functools.cache
def _diabetes() -> tuple:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    model = Ridge(alpha=0.1).fit(x[::2], y[::2])
    return y[1::2], model.predict(x[1::2])


def _legend(figure) -> list[str]:
    return [t.get_text() for t in figure.axes[0].get_legend().get_texts()]


def _value(texts: list[str], name: str, key: str) -> float:
    line = next(t for t in texts if t.startswith(f"{name} ("))
    return float(re.search(rf"{key} = ([0-9.]+)", line).group(1))


def _pixels(path) -> tuple[int, int]:
    import matplotlib.image

    return matplotlib.image.imread(path).shape[:2]


def test_the_plots_are_in_the_project_api_since_1_1():
    major, minor = map(int, API_VERSION.split("."))
    assert (major, minor) >= (1, 1) and major == 1


def test_binary_classification_writes_every_file_at_a_readable_size(tmp_path):
    y, pred, proba, classes = _cancer()
    written = plots.write(metrics.CLASSIFICATION, y, pred, proba, classes, tmp_path)
    assert [p.name for p in written] == list(plots.FILES[metrics.CLASSIFICATION])
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
        if path.suffix == ".png":
            assert _pixels(path) == PIXELS, path.name
    roc = pd.read_json(tmp_path / "roc.json")["roc"]
    assert len(roc) > 10 and {"fpr", "tpr", "threshold"} <= set(roc[0])
    table = pd.read_csv(tmp_path / "predictions.csv")
    assert set(table["actual"]) == {"malignant", "benign"} and len(table) == len(y)


def test_binary_roc_and_precision_recall_carry_auc_and_ap_of_the_positive_class():
    from sklearn.metrics import average_precision_score

    y, pred, proba, classes = _cancer()
    figures = plots.classification_figures(y, pred, proba, list(classes))
    reference = metrics.compute(metrics.CLASSIFICATION, y, pred, proba)
    positive = classes[-1]  # "malignant": the larger label, as the registry takes it
    roc = _legend(figures["roc.png"])
    assert _value(roc, positive, "AUC") == pytest.approx(reference["roc_auc"], abs=5e-4)
    assert "ROC curve" in figures["roc.png"].axes[0].get_title()
    assert positive in figures["roc.png"].axes[0].get_title()
    pr = _legend(figures["precision_recall.png"])
    ap = average_precision_score(y == positive, proba[:, 1])
    assert _value(pr, positive, "AP") == pytest.approx(ap, abs=5e-4)
    assert figures["precision_recall.png"].axes[0].get_xlabel() == "Recall"
    calibration = figures["calibration.png"].axes[0]
    assert "Calibration" in calibration.get_title()
    assert any(t.startswith(f"{positive} (Brier = ") for t in _legend(figures["calibration.png"]))
    for figure in figures.values():
        assert tuple(figure.get_size_inches() * figure.dpi) == (800, 600)


def test_the_confusion_matrix_is_normalised_and_names_the_classes():
    y, pred, proba, classes = _cars()
    figures = plots.classification_figures(y, pred, proba, list(classes))
    ax = figures["confusion_matrix.png"].axes[0]
    assert "normalised" in ax.get_title()
    names = sorted({"USA", "Europe", "Japan"})
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    matrix = np.asarray(ax.images[0].get_array())
    assert matrix.sum(axis=1) == pytest.approx(np.ones(3))


def test_several_classes_draw_one_curve_per_class_by_name():
    from sklearn.metrics import roc_auc_score

    y, pred, proba, classes = _cars()
    figures = plots.classification_figures(y, pred, proba, list(classes))
    for name, key in (("roc.png", "AUC"), ("precision_recall.png", "AP")):
        texts = _legend(figures[name])
        for i, label in enumerate(classes):
            value = _value(texts, label, key)
            if key == "AUC":
                assert value == pytest.approx(roc_auc_score(y == label, proba[:, i]), abs=5e-4)
        assert any(t.startswith("micro-average (") for t in texts)
        assert "one-vs-rest" in figures[name].axes[0].get_title()


def test_regression_plots_predicted_against_actual_and_residuals(tmp_path):
    y, pred = _diabetes()
    written = plots.write(metrics.REGRESSION, y, pred, directory=tmp_path)
    assert [p.name for p in written] == list(plots.FILES[metrics.REGRESSION])
    for path in written[1:]:
        assert _pixels(path) == PIXELS, path.name
    figures = plots.regression_figures(y, pred)
    title = figures["predicted_actual.png"].axes[0].get_title()
    for name, value in metrics.compute(metrics.REGRESSION, y, pred).items():
        assert f"{metrics.get(name).display} = {value:.4g}" in title
    residuals = figures["residuals.png"]
    assert residuals.axes[0].get_ylabel().startswith("Residual")
    assert "Residuals" in residuals.texts[0].get_text()  # the suptitle
    table = pd.read_csv(tmp_path / "residuals.csv")
    assert table["residual"].to_numpy() == pytest.approx(y - pred)


def test_permutation_importance_is_a_titled_bar_chart(tmp_path):
    table = pd.DataFrame(
        {"feature": [f"f{i}" for i in range(20)], "importance": np.linspace(1, 0, 20), "std": 0.1}
    )
    csv, png = plots.write_importance(table, tmp_path)
    assert (csv.name, png.name) == plots.IMPORTANCE_FILES and _pixels(png) == PIXELS
    ax = plots.importance_figure(table).axes[0]
    assert ax.get_title() == "Permutation importance on the holdout, top 15 of 20"
    assert ax.get_yticklabels()[-1].get_text() == "f0"  # the most important on top


def test_a_model_without_probabilities_gets_its_confusion_matrix_only(tmp_path):
    y, pred, _, _ = _cancer()
    written = plots.write(metrics.CLASSIFICATION, y, pred, None, None, tmp_path)
    assert [p.name for p in written] == ["predictions.csv", "roc.json", "confusion_matrix.png"]
    assert pd.read_json(tmp_path / "roc.json")["roc"].tolist() == []


def test_a_holdout_of_one_class_draws_no_curve_and_says_so(tmp_path):
    y, pred, proba, classes = _cancer()
    keep = y == classes[0]
    figures = plots.classification_figures(y[keep], pred[keep], proba[keep], list(classes))
    assert "single class" in figures["roc.png"].axes[0].get_title()
