"""The per-feature explainability plot (issue 20): partial dependence with ICE lines of the
most important features, on real data (vega_datasets' cars: three classes by name, strings and
missing values; scikit-learn's breast cancer, binary; diabetes, regression). The curves are
checked against the model's own predictions, not only drawn."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from mlops_toolkit.project import plots
from support import cars

PIXELS = (600, 800)


def _importance(model, x, y) -> pd.DataFrame:
    from sklearn.inspection import permutation_importance

    found = permutation_importance(model, x, y, n_repeats=2, random_state=0, n_jobs=1)
    table = pd.DataFrame(
        {"feature": x.columns, "importance": found.importances_mean, "std": found.importances_std}
    )
    return table.sort_values("importance", ascending=False).reset_index(drop=True)


@functools.cache
def _cars() -> tuple:
    frame = cars.cars()
    model = cars.fitted_pipeline(frame.iloc[::2])
    x, y = frame.iloc[1::2][cars.FEATURE_NAMES], frame.iloc[1::2][cars.TARGET]
    return model, x, _importance(model, x, y)


@functools.cache
def _cancer() -> tuple:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    x, y = data.data, data.target_names[data.target]  # "malignant" / "benign"
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x.iloc[::2], y[::2])
    return model, x.iloc[1::2], _importance(model, x.iloc[1::2], y[1::2])


def _titles(figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes if ax.axison]


def test_the_plot_is_written_beside_the_importance_and_shows_the_top_features(tmp_path):
    model, x, importance = _cars()
    written = plots.write_importance(importance, tmp_path, model=model, features=x)
    assert [p.name for p in written] == [*plots.IMPORTANCE_FILES, plots.DEPENDENCE_FILE]
    import matplotlib.image

    assert matplotlib.image.imread(written[-1]).shape[:2] == PIXELS
    figure = plots.dependence_figure(model, x, importance)
    top = list(importance["feature"][: plots.DEPENDENCE_FEATURES])
    assert [t.split(" (importance")[0] for t in _titles(figure)] == top
    assert "Partial dependence" in figure.texts[0].get_text()  # the suptitle
    # Three classes: one mean line per class, named, in every numeric feature's panel.
    numeric = next(ax for ax in figure.axes if ax.get_title().startswith("Displacement"))
    labels = [t.get_text() for t in numeric.get_legend().get_texts()]
    assert labels == ["P(Europe)", "P(Japan)", "P(USA)"]


def test_the_partial_dependence_is_the_mean_of_the_models_own_predictions():
    model, x, _ = _cancer()
    rows = plots.ice_rows(x)
    grid, response, names = plots.dependence(model, x, "worst radius")
    assert names == ["P(malignant)"] and len(grid) == plots.GRID_POINTS
    assert response.shape == (len(grid), len(rows), 1)
    at = rows.copy()
    at["worst radius"] = grid[3]
    expected = model.predict_proba(at)[:, list(model.classes_).index("malignant")]
    assert response[3, :, 0] == pytest.approx(expected)
    # The grid spans the holdout's 5th to 95th percentiles of the feature.
    low, high = np.quantile(x["worst radius"], [0.05, 0.95])
    assert grid[0] == pytest.approx(low) and grid[-1] == pytest.approx(high)


def test_a_categorical_feature_uses_its_frequent_values_and_missing_ones_stay_out():
    model, x, _ = _cars()
    grid, response, _ = plots.dependence(model, x, "make")
    assert len(grid) == plots.CATEGORY_POINTS and all(isinstance(v, str) for v in grid)
    assert grid[0] == x["make"].value_counts().index[0]
    assert np.isfinite(response).all()
    assert x["Horsepower"].isna().any()  # the data's own missing values
    grid, response, _ = plots.dependence(model, x, "Horsepower")
    assert np.isfinite(grid).all() and np.isfinite(response).all()


def test_regression_draws_one_ice_line_per_row_and_the_mean(tmp_path):
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(x[::2], y[::2])
    importance = _importance(model, x[1::2], y[1::2])
    figure = plots.dependence_figure(model, x[1::2], importance)
    panel = next(ax for ax in figure.axes if ax.axison)
    assert panel.get_ylabel() == "prediction"
    assert len(panel.get_lines()) == plots.ICE_ROWS + 1  # the ICE lines and the mean


def test_long_feature_names_are_shortened_on_the_importance_axis():
    long = "a_feature_name_much_longer_than_any_axis_can_hold"
    table = pd.DataFrame({"feature": [long, "short"], "importance": [0.2, 0.1], "std": 0.0})
    ax = plots.importance_figure(table).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["short", long[: plots.MAX_LABEL - 1] + "…"]
    assert ax.get_ylabel() == "Feature"


def test_a_classifier_without_probabilities_says_why_there_is_no_curve(tmp_path):
    from sklearn.svm import LinearSVC

    model, x, importance = _cancer()
    svc = LinearSVC().fit(x, model.predict(x))  # string labels, no predict_proba
    written = plots.write_importance(importance, tmp_path, model=svc, features=x)
    assert written[-1].name == plots.DEPENDENCE_FILE and written[-1].is_file()
    figure = plots.dependence_figure(svc, x, importance)
    assert "no class probabilities" in figure.axes[0].texts[0].get_text()
