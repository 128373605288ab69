"""The served model: the shared loader plus the ndarray fast path for numeric signatures."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from ..registry.mlmodel import ServedModel, load_model
from .dates import date_columns
from .payload import parse_payload

log = logging.getLogger(__name__)


def load_for_serving(model_dir: str) -> ServedModel:
    """Load the model, check it against its own input example and pick the fastest safe path."""
    model = load_model(model_dir)
    model.use_frame = not _matrix_path_is_safe(model)
    if not model.use_frame:
        model.estimator = _checked_once(model.estimator)
    if model.use_frame and not model.numeric:
        from .compiled import compile_model

        model = compile_model(model)  # strings and nulls without a DataFrame, when exact
    model.date_columns = date_columns(model.estimator)
    log.info("scoring through %s", _path_name(model))
    return model


def _path_name(model: ServedModel) -> str:
    if model.use_frame:
        return "a DataFrame"
    return "an ndarray" if model.numeric else "typed arrays (compiled preprocessing)"


def _matrix_path_is_safe(model: ServedModel) -> bool:
    """True when predicting on a bare float64 matrix gives the same answer as on a DataFrame.

    Pipelines fitted on DataFrames only warn about missing feature names when they get an
    ndarray, unless a step selects columns by name (then they raise). We try both on the
    input example and use the matrix only when the answers agree: cheaper per request, never
    a different answer.
    """
    if not model.numeric or model.example is None:
        return False
    # The warning is expected on this path and would otherwise cost time on every request.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    try:
        batch = parse_payload({"dataframe_split": model.example}, model.columns)
        by_matrix = np.asarray(model.estimator.predict(batch.matrix))
    except Exception as exc:
        log.info("ndarray fast path not used: %s", exc)
        return False
    try:
        import pandas  # noqa: F401
    except ImportError:
        return True  # the matrix works and no DataFrame can be built here anyway
    model.use_frame = True
    by_frame = np.asarray(model.predict(batch))
    return by_matrix.ravel().tolist() == by_frame.ravel().tolist()


class FiniteChecked:
    """A scikit-learn model fed matrices whose finiteness the server has already checked.

    scikit-learn scans its input for NaN and infinity in every step of a Pipeline (the scaler,
    then the classifier), a fixed cost on each request whatever its size. When one C-level
    scan here finds every value finite those scans cannot fail, so they are switched off for
    the call; a matrix holding NaN or infinity goes through them as before and gets their error.
    """

    def __init__(self, estimator: Any) -> None:
        from sklearn import config_context

        self.estimator = estimator
        self._config_context = config_context

    def predict(self, matrix: np.ndarray) -> Any:
        if np.isfinite(matrix).all():
            with self._config_context(assume_finite=True):
                return self.estimator.predict(matrix)
        return self.estimator.predict(matrix)


def _checked_once(estimator: Any) -> Any:
    """`estimator` wrapped in FiniteChecked when it is a scikit-learn model, else as it is."""
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return estimator
    return FiniteChecked(estimator) if isinstance(estimator, BaseEstimator) else estimator
