"""vega_datasets' cars as a team exports them, and a generated project's own Pipeline for them.

Mixed types: strings (the make), missing values (horsepower, miles per gallon), integers
(cylinders, weight), the model year as ISO date text, three classes (the origin). The Pipeline
is the template's models/features.py (loaded by path) with a LogisticRegression. Shared by the
batch-scoring tests and benchmarks/batch_score.py.
"""

from __future__ import annotations

from typing import Any

from .project import template_features

TARGET = "Origin"
ROLES = {
    "numeric": [
        "Cylinders",
        "Displacement",
        "Horsepower",
        "Weight_in_lbs",
        "Acceleration",
        "Miles_per_Gallon",
    ],
    "categorical": ["make"],
    "boolean": [],
    "date": ["Year"],
}
FEATURE_NAMES = [name for names in ROLES.values() for name in names]


def cars() -> Any:
    """The cars with the make (a string feature) and the year as a CSV export carries it."""
    from vega_datasets import local_data

    frame = local_data.cars()
    frame["Year"] = frame["Year"].dt.strftime("%Y-%m-%d")
    frame["make"] = frame["Name"].str.split().str[0]
    return frame


def fitted_pipeline(frame: Any) -> Any:
    """The template's preprocessing and a LogisticRegression, fitted on `frame`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    features = template_features()
    preprocess = features.build_preprocessor(ROLES, scale=True, impute=True)
    pipeline = Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=3000))])
    return pipeline.fit(frame[FEATURE_NAMES], frame[TARGET])
