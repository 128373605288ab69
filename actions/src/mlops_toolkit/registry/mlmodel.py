"""An MLflow sklearn model directory, read without MLflow: the server and the drift job share it.

Reads `MLmodel` (signature, serialization format) and the serialized Pipeline (skops, pickle or
cloudpickle), exactly the files `mlflow.sklearn.log_model` writes, so the image needs neither
MLflow nor its server stack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ToolkitError

log = logging.getLogger(__name__)

NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})
SUPPORTED_TYPES = NUMERIC_TYPES | {"boolean", "string"}


class ModelLoadError(ToolkitError):
    """The model directory cannot be served (missing files, no signature, unknown format)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True


@dataclass
class Batch:
    """Checked input: a float64 matrix (all-numeric signatures) or typed column arrays."""

    n_rows: int
    matrix: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ServedModel:
    estimator: Any
    columns: list[Column]
    numeric: bool  # every column numeric: the input is one float64 matrix
    use_frame: bool = True  # the estimator needs a DataFrame (column names) to predict right
    example: dict[str, Any] | None = None
    flavor: dict[str, Any] = field(default_factory=dict)
    # Columns the Pipeline parses as dates: checked (422) before predict, see serving/dates.py.
    date_columns: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def predict(self, batch: Batch) -> list[Any]:
        """Predict and return plain Python values (labels or floats), one per row."""
        data = self._frame(batch) if self.use_frame else batch.matrix
        out = np.asarray(self.estimator.predict(data))
        return out.ravel().tolist() if out.ndim > 1 and out.shape[1] == 1 else out.tolist()

    def _frame(self, batch: Batch) -> Any:
        import pandas as pd

        if batch.matrix is not None:
            return pd.DataFrame(batch.matrix, columns=self.names, copy=False)
        return pd.DataFrame(batch.columns, columns=self.names)


def read_mlmodel(model_dir: str) -> dict[str, Any]:
    import yaml

    path = os.path.join(model_dir, "MLmodel")
    if not os.path.isfile(path):
        raise ModelLoadError(f"no MLmodel file in {model_dir!r}: not an MLflow model directory")
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def parse_signature(mlmodel: dict[str, Any]) -> list[Column]:
    raw = (mlmodel.get("signature") or {}).get("inputs")
    if not raw:
        raise ModelLoadError("the model has no input signature: log it with signature=...")
    columns = []
    for spec in json.loads(raw):
        if "name" not in spec or spec.get("type") not in SUPPORTED_TYPES:
            raise ModelLoadError(
                f"unsupported signature input {spec}: expected named columns of types "
                f"{sorted(SUPPORTED_TYPES)}"
            )
        columns.append(Column(spec["name"], spec["type"], bool(spec.get("required", True))))
    return columns


def import_skops_first() -> None:
    """Import skops.io now: call it first in a command that will load a model and also imports
    MLflow (the gate, batch scoring).

    skops.io builds its trusted-type lists when it is imported. It names each of SciPy's ~230
    ufuncs by searching every module already imported for it (pickle's `whichmodule`). After
    MLflow's ~1,900 modules that search costs ~0.7 CPU-s more than before them, once in each
    process (measured, skops 0.16). The lists are the same either way (tests/toolkit/test_cli.py
    checks). Nothing is lost where skops is not installed: the model then is not a skops file."""
    with contextlib.suppress(ImportError):
        import skops.io  # noqa: F401


def load_estimator(model_dir: str, flavor: dict[str, Any]) -> Any:
    """Deserialize the pipeline the way mlflow.sklearn does (the model is trusted: we built it)."""
    fmt = flavor.get("serialization_format", "cloudpickle")
    path = os.path.join(model_dir, flavor.get("pickled_model", "model.pkl"))
    if not os.path.isfile(path):
        raise ModelLoadError(f"model file {path!r} is missing")
    if fmt == "skops":
        import skops.io

        return skops.io.load(path, trusted=flavor.get("skops_trusted_types"))
    if fmt in ("pickle", "cloudpickle"):
        import pickle

        if fmt == "cloudpickle":
            import cloudpickle  # noqa: F401  (registers what cloudpickled objects need)
        with open(path, "rb") as fh:
            return pickle.load(fh)
    raise ModelLoadError(f"unknown serialization format {fmt!r} in MLmodel")


def read_example(model_dir: str, mlmodel: dict[str, Any]) -> dict[str, Any] | None:
    info = mlmodel.get("saved_input_example_info") or {}
    path = os.path.join(model_dir, info.get("artifact_path", "input_example.json"))
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        example = json.load(fh)
    return example if isinstance(example, dict) and "data" in example else None


def load_model(model_dir: str) -> ServedModel:
    """Load the model with its signature and input example (predicting through a DataFrame)."""
    mlmodel = read_mlmodel(model_dir)
    flavor = (mlmodel.get("flavors") or {}).get("sklearn")
    if not flavor:
        raise ModelLoadError(
            f"{model_dir!r} has no sklearn flavor: the server serves sklearn "
            "Pipelines logged with mlflow.sklearn"
        )
    _warn_on_version_mismatch(flavor)
    columns = parse_signature(mlmodel)
    model = ServedModel(
        estimator=load_estimator(model_dir, flavor),
        columns=columns,
        numeric=all(c.type in NUMERIC_TYPES for c in columns),
        example=read_example(model_dir, mlmodel),
        flavor=flavor,
    )
    log.info("model loaded from %s (%d columns)", model_dir, len(columns))
    return model


def _warn_on_version_mismatch(flavor: dict[str, Any]) -> None:
    import sklearn

    trained = flavor.get("sklearn_version")
    if trained and trained != sklearn.__version__:
        log.warning(
            "model trained with scikit-learn %s, serving with %s", trained, sklearn.__version__
        )
