"""Batch predictions from a logged or registered model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..data.load import DataError, read_csv, write_csv

log = logging.getLogger(__name__)


def predict(model_uri: str, input_csv: str | Path, output_csv: str | Path, target: str) -> Path:
    """Write the input rows with a ``prediction`` column; an input target column is dropped."""
    import mlflow

    frame = read_csv(input_csv)
    features = frame.drop(columns=[target], errors="ignore")
    model = mlflow.pyfunc.load_model(model_uri)
    features = _matching(features, model.metadata.get_input_schema(), input_csv)
    frame["prediction"] = model.predict(features)
    log.info("predicted %d rows with %s", len(frame), model_uri)
    return write_csv(frame, output_csv)


def _matching(features: Any, schema: Any, where: str | Path) -> Any:
    """The columns the model's signature names, or one line saying which are missing or extra.

    Extra columns alone (an ID, a note) are dropped with a warning: the model never saw them.
    """
    if schema is None or not schema.has_input_names():
        return features
    wanted = list(schema.input_names())
    # An optional column may hold nulls, but the preprocessing still selects it by name.
    missing = [name for name in wanted if name not in features.columns]
    extra = [name for name in features.columns if name not in wanted]
    if missing:
        also = f"; extra column(s) {', '.join(map(str, extra))}" if extra else ""
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}{also} "
            f"(the model takes {len(wanted)}: {', '.join(wanted)})"
        )
    if extra:
        log.warning("%s: ignoring column(s) the model does not take: %s", where, ", ".join(extra))
    return features[[name for name in wanted if name in features.columns]]
