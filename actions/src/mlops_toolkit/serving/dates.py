"""Date columns: checked and normalised before the model's own date step sees them.

A generated project's preprocessing turns each date column into year, month and day of week
with `pd.to_datetime(..., errors="coerce", format="mixed")` (models/features.py, `date_parts`),
so a value that is not a date would silently become NaN and be imputed: a prediction for a row
the client got wrong. Here such a value is a 422 naming its column and row.

Time zones: training parsed a column of one offset to its wall-clock time (no conversion), and
pandas refuses a batch mixing offsets. So each value keeps its own wall-clock time, the offset
dropped: a row scores as it would alone, whatever the other rows of its batch carry.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..registry.mlmodel import Batch
from .payload import PayloadError

# The template's date step (models/features.py): the function a FunctionTransformer wraps.
DATE_FUNCTION = "date_parts"


def date_columns(estimator: Any) -> list[str]:
    """Names of the columns a Pipeline's ColumnTransformer hands to the template's date step."""
    try:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import FunctionTransformer
    except ImportError:
        return []
    if not isinstance(estimator, Pipeline) or not estimator.steps:
        return []
    ct = estimator.steps[0][1]
    if not isinstance(ct, ColumnTransformer) or not hasattr(ct, "transformers_"):
        return []
    names: list[str] = []
    for _, transformer, selected in ct.transformers_:
        first = transformer.steps[0][1] if isinstance(transformer, Pipeline) else transformer
        func = getattr(first, "func", None) if isinstance(first, FunctionTransformer) else None
        if getattr(func, "__name__", "") == DATE_FUNCTION and isinstance(selected, list):
            names += [name for name in selected if isinstance(name, str)]
    return names


def check_dates(batch: Batch, names: list[str]) -> None:
    """Raise a 422 for a value that is not a date; normalise mixed offsets (in place)."""
    for name in names:
        values = batch.columns.get(name)
        if values is None or values.dtype != object or not len(values):
            continue
        batch.columns[name] = _checked(name, values)


def _checked(name: str, values: np.ndarray) -> np.ndarray:
    import pandas as pd

    series = pd.Series(values, dtype=object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
    except (ValueError, TypeError):  # offsets mixed (or aware beside naive): one value at a time
        return _wall_clock(name, values)
    bad = parsed.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        _reject(name, int(np.flatnonzero(bad)[0]), values)
    return values


def _wall_clock(name: str, values: np.ndarray) -> np.ndarray:
    """Each value as the ISO text of its own wall-clock time (its offset dropped)."""
    import pandas as pd

    out = values.copy()
    for row, value in enumerate(values.tolist()):
        if value is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stamp = pd.to_datetime(value, format="mixed")
        except (ValueError, TypeError, OverflowError):
            stamp = pd.NaT
        if stamp is pd.NaT or not isinstance(stamp, pd.Timestamp):
            _reject(name, row, values)
        out[row] = stamp.tz_localize(None).isoformat() if stamp.tzinfo else value
    return out


def _reject(name: str, row: int, values: np.ndarray) -> None:
    shown = repr(values[row])
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise PayloadError(
        422,
        "bad_date",
        f"column {name!r} holds dates, row {row} has {shown}, which is not a date "
        "(send ISO 8601, e.g. 2024-05-31 or 2024-05-31T12:00:00+02:00)",
    )
