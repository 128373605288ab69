"""Talking to the MLflow tracking server: reachability, versions by alias, model loading."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .. import names
from ..errors import ToolkitError
from . import probe as tracking_check
from .api import TrackingClient

# Fail in seconds, not minutes, when the server is down; users may override (tracking_check).
tracking_check.bound_http_requests()
# Progress bars would bury the one-line error in CI logs.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def tracking_uri() -> str:
    import mlflow

    return os.environ.get(names.ENV_TRACKING_URI) or mlflow.get_tracking_uri()


def check_server() -> str:
    """Raise a one-line error unless an HTTP tracking server is up and accepts our credentials."""
    uri = tracking_uri()
    tracking_check.check(uri)
    # basic-auth leaves /health open: wrong credentials would surface later as a library error.
    tracking_check.check_authenticated(uri)
    return uri


def client() -> TrackingClient:
    """The real adapter of TrackingClient (tracking/api.py), once the server answers."""
    check_server()
    return connect(tracking_uri())


def connect(uri: str | None = None) -> TrackingClient:
    """The real adapter of TrackingClient for `uri` (MLflow's default URI when empty), without
    probing the server first: for a local store (sqlite:///, a folder), for callers that meet a
    dead server themselves (open_runs), and for calls that follow one that probed. Tests swap
    this and `client` for the in-memory fake."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri or None)


def is_missing(exc: BaseException) -> bool:
    """True when an MLflow error means 'no such model/version/alias'."""
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(exc).lower()


@dataclass
class Version:
    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def _wrap(mv: Any) -> Version:
    return Version(mv.name, str(mv.version), mv.run_id, mv.source, dict(mv.tags or {}))


def version_by_alias(mlflow_client: TrackingClient, name: str, alias: str) -> Version | None:
    """The version an alias points at, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return _wrap(mlflow_client.get_model_version_by_alias(name, alias))
    except MlflowException as exc:
        if is_missing(exc):
            return None
        raise ToolkitError(f"cannot read alias {name}@{alias}: {one_line(exc)}") from exc


def get_version(mlflow_client: TrackingClient, name: str, version: str) -> Version:
    from mlflow.exceptions import MlflowException

    try:
        return _wrap(mlflow_client.get_model_version(name, str(version)))
    except MlflowException as exc:
        raise ToolkitError(f"model version {name}/{version} not found: {one_line(exc)}") from exc


def resolve(mlflow_client: TrackingClient, name: str, ref: str) -> Version:
    """A version given as a number or as an alias."""
    if str(ref).isdigit():
        return get_version(mlflow_client, name, ref)
    found = version_by_alias(mlflow_client, name, ref)
    if found is None:
        raise ToolkitError(f"model {name} has no version with alias '{ref}'")
    return found


def source_run(mlflow_client: TrackingClient, uri: str) -> str | None:
    """The run that logged a model given as `models:/m-<id>` (MLflow 3 logged models)."""
    rest = uri[len("models:/") :] if uri.startswith("models:/") else ""
    if not rest.startswith("m-") or "/" in rest:
        return None
    try:
        return mlflow_client.get_logged_model(rest).source_run_id
    except Exception:
        return None


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class LoadedModel:
    """A model loaded once: sklearn flavour when present (predict_proba), else pyfunc."""

    def __init__(self, uri: str):
        self.uri = uri
        self.flavor, self.model, self.input_columns = _load(uri)

    def _frame(self, frame: Any) -> Any:
        if self.input_columns:
            missing = [c for c in self.input_columns if c not in frame.columns]
            if missing:
                raise ToolkitError(f"holdout lacks the model's input columns: {missing[:5]}")
            return frame[self.input_columns]
        return frame

    def predict(self, frame: Any) -> Any:
        import numpy as np

        return np.asarray(self.model.predict(self._frame(frame)))

    def has_proba(self) -> bool:
        return self.flavor == "sklearn" and hasattr(self.model, "predict_proba")

    def linear_binary(self) -> bool:
        """A binary linear classifier: predict() is by definition decision_function() > 0."""
        if self.flavor != "sklearn":
            return False
        from sklearn.linear_model._base import LinearClassifierMixin

        final = self.model.steps[-1][1] if hasattr(self.model, "steps") else self.model
        return isinstance(final, LinearClassifierMixin) and len(final.classes_) == 2

    def decision(self, frame: Any) -> tuple[Any, Any]:
        """(decision values, classes): a monotone transform of P(positive class)."""
        import numpy as np

        values = np.asarray(self.model.decision_function(self._frame(frame)))
        return values, np.asarray(self.model.classes_)

    def predict_proba(self, frame: Any) -> tuple[Any, Any]:
        """(probabilities, classes) from the sklearn flavour."""
        import numpy as np

        proba = np.asarray(self.model.predict_proba(self._frame(frame)))
        return proba, np.asarray(self.model.classes_)


def _load(uri: str) -> tuple[str, Any, list[str] | None]:
    import mlflow
    from mlflow.models import Model

    info = Model.load(uri)
    columns = None
    if info.signature is not None and info.signature.inputs is not None:
        try:
            columns = info.signature.inputs.input_names()
        except Exception:
            columns = None
    if "sklearn" in info.flavors:
        return "sklearn", mlflow.sklearn.load_model(uri), columns
    return "pyfunc", mlflow.pyfunc.load_model(uri), columns
