"""The platform's permutation importance (project/importance.py) gives scikit-learn's numbers,
shuffle for shuffle, on real data: vega_datasets' cars (three classes by name, strings, missing
values, dates as text; a category dtype kept), scikit-learn's breast cancer (binary, ROC AUC
from probabilities) and diabetes (regression, a metric where smaller is better); and the same
when the permuted copies are scored in several model calls instead of one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlops_toolkit import metrics
from mlops_toolkit.project import importance
from support import cars


def _sklearn(model, x, y, task: str, metric: str, n_repeats: int, seed: int) -> pd.DataFrame:
    """scikit-learn's permutation_importance with the registry's metric as its scorer."""
    from sklearn.inspection import permutation_importance

    sign = 1.0 if metrics.higher_is_better(metric) else -1.0
    scores = metrics.get(metric).source == metrics.SCORES

    def scorer(model, rows, truth) -> float:
        y_score = model.predict_proba(rows) if scores else None
        found = metrics.compute(task, np.asarray(truth), model.predict(rows), y_score)
        return sign * found[metric]

    found = permutation_importance(
        model, x, y, scoring=scorer, n_repeats=n_repeats, random_state=seed, n_jobs=1
    )
    return pd.DataFrame(
        {"importance": found.importances_mean, "std": found.importances_std}, index=x.columns
    )


def _same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    ours = ours.set_index("feature").loc[theirs.index]
    np.testing.assert_allclose(ours["importance"], theirs["importance"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["std"], theirs["std"], rtol=0, atol=1e-12)


def _cars():
    frame = cars.cars()
    model = cars.fitted_pipeline(frame.iloc[::2])
    return model, frame.iloc[1::2][cars.FEATURE_NAMES], frame.iloc[1::2][cars.TARGET]


def _cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    x, y = data.data, pd.Series(data.target_names[data.target])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x.iloc[::2], y.iloc[::2])
    return model, x.iloc[1::2].reset_index(drop=True), y.iloc[1::2].reset_index(drop=True)


def _diabetes():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    return Ridge(alpha=0.1).fit(x.iloc[::2], y.iloc[::2]), x.iloc[1::2], y.iloc[1::2]


CASES = {
    "cars-f1": (_cars, metrics.CLASSIFICATION, "f1"),
    "cancer-roc_auc": (_cancer, metrics.CLASSIFICATION, "roc_auc"),
    "diabetes-rmse": (_diabetes, metrics.REGRESSION, "rmse"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_numbers_are_scikit_learns(case):
    make, task, metric = CASES[case]
    model, x, y = make()
    found = importance.permutation_importance(model, x, y, task, metric, n_repeats=3, seed=7)
    _same(found, _sklearn(model, x, y, task, metric, 3, 7))
    # The most important first, and a feature that matters shows: not all zeros.
    assert list(found["importance"]) == sorted(found["importance"], reverse=True)
    assert found["importance"].iloc[0] > 0


def test_a_large_holdout_is_scored_in_several_calls_with_the_same_numbers(monkeypatch):
    model, x, y = _cars()
    calls: list[int] = []
    predict = type(model).predict

    def counted(self, rows):
        calls.append(len(rows))
        return predict(self, rows)

    monkeypatch.setattr(type(model), "predict", counted)
    monkeypatch.setattr(importance, "STACKED_ROWS", len(x) * 2 * 3)  # three features a call
    found = importance.permutation_importance(
        model, x, y, metrics.CLASSIFICATION, "accuracy", n_repeats=2, seed=0
    )
    features = len(cars.FEATURE_NAMES)
    assert calls[0] == len(x)  # the baseline, then at most three features' copies at a time
    assert calls[1:] == [len(x) * 2 * min(3, features - s) for s in range(0, features, 3)]
    monkeypatch.undo()
    _same(found, _sklearn(model, x, y, metrics.CLASSIFICATION, "accuracy", 2, 0))


def test_a_category_column_stays_a_category_in_the_copies():
    frame = pd.DataFrame(
        {"colour": pd.Categorical(["red", "blue", "red", "green"]), "size": [1.0, 2.0, 3.0, 4.0]}
    )
    copies = importance._permuted(frame, 0, importance._shuffles(len(frame), 2, 0))
    assert copies["colour"].dtype == frame["colour"].dtype
    assert len(copies) == 8 and sorted(copies["colour"][:4]) == sorted(frame["colour"])


def test_repeats_below_one_are_refused():
    model, x, y = _diabetes()
    with pytest.raises(ValueError, match="n_repeats"):
        importance.permutation_importance(model, x, y, metrics.REGRESSION, "rmse", n_repeats=0)
