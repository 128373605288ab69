"""Batch predictions from a logged or registered model."""

from __future__ import annotations

import logging
from pathlib import Path

from mlops_toolkit.project.tables import match_signature

from ..data.load import read_csv, write_csv

log = logging.getLogger(__name__)


def predict(model_uri: str, input_csv: str | Path, output_csv: str | Path, target: str) -> Path:
    """Write the input rows with a ``prediction`` column; an input target column is dropped."""
    import mlflow

    frame = read_csv(input_csv)
    features = frame.drop(columns=[target], errors="ignore")
    model = mlflow.pyfunc.load_model(model_uri)
    # The columns the model's signature names; a missing one is one line naming it.
    features = match_signature(features, model.metadata.get_input_schema(), input_csv)
    frame["prediction"] = model.predict(features)
    log.info("predicted %d rows with %s", len(frame), model_uri)
    return write_csv(frame, output_csv)
