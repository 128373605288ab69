"""The preprocessing step every model family puts first in its Pipeline.

Being part of the logged Pipeline, it makes the MLflow signature, the scoring server and drift
take the raw columns of the CSV: strings, booleans, dates and missing values included.

- numeric: median imputation, then scaling (linear models only: trees do not need it, and
  xgboost routes a missing value down its learned default branch, so it sees NaN as is);
- categorical and boolean: one-hot encoding; a missing value is a category of its own, and a
  category never seen in training encodes as all zeros (handle_unknown="ignore");
- date: year, month and day of week of the parsed date, then as numeric;
- excluded: dropped (ID-like columns carry no signal that generalises).
"""

from __future__ import annotations

from typing import Any

DATE_PARTS = ("year", "month", "dayofweek")


def date_parts(frame: Any) -> Any:
    """Year, month and day of week of every date column; unparseable values become NaN."""
    import warnings

    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(frame)
    columns = []
    for name in frame.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(frame[name], errors="coerce", format="mixed")
        columns += [getattr(parsed.dt, part).to_numpy(dtype=float) for part in DATE_PARTS]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def date_part_names(transformer: Any, names: Any) -> list[str]:
    return [f"{name}_{part}" for name in names for part in DATE_PARTS]


def build_preprocessor(roles: dict[str, list[str]], scale: bool, impute: bool) -> Any:
    """A ColumnTransformer over the raw columns; columns of no role are dropped."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    def numeric() -> list[Any]:
        steps: list[Any] = [SimpleImputer(strategy="median")] if impute else []
        return steps + ([StandardScaler()] if scale else [])

    def pipe(*steps: Any) -> Any:
        return make_pipeline(*steps) if steps else "passthrough"

    parts = [
        ("numeric", pipe(*numeric()), roles["numeric"]),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), roles["categorical"]),
        (
            "boolean",
            OneHotEncoder(handle_unknown="ignore", drop="if_binary"),
            roles["boolean"],
        ),
        (
            "date",
            pipe(
                FunctionTransformer(date_parts, feature_names_out=date_part_names),
                *numeric(),
            ),
            roles["date"],
        ),
    ]
    return ColumnTransformer(
        [part for part in parts if part[2]], remainder="drop", verbose_feature_names_out=False
    )
