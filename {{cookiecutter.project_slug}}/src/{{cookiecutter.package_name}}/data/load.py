"""The project's source data: a sample dataset of scikit-learn, or the team's CSV or Parquet file.

The readers of the tables the stages pass on are the platform's (mlops_toolkit.project.tables).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlops_toolkit.project.tables import (
    DataError,
    drop_missing_target,
    read_csv,
    read_table,
    require_columns,
    write_csv,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DataError",
    "drop_missing_target",
    "features_and_target",
    "load_source",
    "read_csv",
    "read_table",
    "write_csv",
]

SAMPLE_PREFIX = "sklearn:"
# Real datasets that ship inside scikit-learn: nothing is downloaded at run time.
SAMPLES = {"breast_cancer": "load_breast_cancer", "diabetes": "load_diabetes"}


def snake_case(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()


def load_source(source: str, target: str) -> pd.DataFrame:
    """The dataset named by ``data.source``: ``sklearn:<name>``, a CSV or a Parquet path."""
    if source.startswith(SAMPLE_PREFIX):
        return load_sample(source.removeprefix(SAMPLE_PREFIX), target)
    frame = read_table(source)
    require_columns(frame, [target], source)
    return frame


def load_sample(name: str, target: str) -> pd.DataFrame:
    import sklearn.datasets

    if name not in SAMPLES:
        raise DataError(f"unknown sample dataset {name!r} (known: {', '.join(SAMPLES)})")
    frame = getattr(sklearn.datasets, SAMPLES[name])(as_frame=True).frame
    frame.columns = [snake_case(column) for column in frame.columns]
    return frame.rename(columns={"target": target})


def features_and_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    require_columns(frame, [target], "data")
    return frame.drop(columns=[target]), frame[target]
