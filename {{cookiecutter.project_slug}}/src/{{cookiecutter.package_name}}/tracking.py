"""MLflow set-up and the lineage facts recorded on every run."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from pathlib import Path

from mlops_toolkit import names

from .config import Params

log = logging.getLogger(__name__)

TRACKING_URI_ENV = names.ENV_TRACKING_URI
TAG_PREFIX = names.TAG_PREFIX  # every tag the project or the platform writes
EMBEDDED_STORE = Path("mlflow.db")


def tracking_uri(params: Params) -> str:
    """The environment wins (CI points every step at one server), then params, then SQLite."""
    uri = os.environ.get(TRACKING_URI_ENV) or params.mlflow.tracking_uri
    return uri or f"sqlite:///{EMBEDDED_STORE.resolve()}"


def connect(params: Params) -> str:
    """Point MLflow at the tracking server and fail in one line if it cannot be reached."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # logs, not a TTY
    uri = tracking_uri(params)
    mlflow.set_tracking_uri(uri)
    if uri.startswith(("http://", "https://")):
        _check_reachable(uri)
    return uri


def _check_reachable(uri: str) -> None:
    """The platform's check: /health within a timeout, credentials in the URI sent, never shown."""
    from mlops_toolkit.tracking_check import TrackingUnavailable, check

    try:
        check(uri)
    except TrackingUnavailable as error:
        raise ConnectionError(str(error)) from None


def model_identity(uri: str, registered_name: str) -> tuple[str, str | None]:
    """The registered name and version a model URI stands for, for the server's labels.

    models:/name/3 and models:/name@alias are resolved in the registry; anything else (runs:/,
    a logged model's models:/m-...) is the project's registered model at the version `evaluate`
    registered, if any.
    """
    import json

    from mlflow import MlflowClient

    ref = uri.removeprefix("models:/")
    if ref != uri and not ref.startswith("m-"):
        name, sep, alias = ref.partition("@")
        if sep:
            return name, str(MlflowClient().get_model_version_by_alias(name, alias).version)
        name, _, version = ref.rpartition("/")
        return name, version
    try:
        registered = json.loads(REGISTERED_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return registered_name, None
    return registered_name, str(registered.get("model_version") or "") or None


def git_commit() -> str | None:
    """The commit of the working tree, or None outside a git repository."""
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False, timeout=10
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def file_md5(path: str | Path) -> str:
    """The same digest DVC records for a file in dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tags(**facts: object) -> dict[str, str]:
    """Tag names with the common prefix; None values are left out."""
    return {f"{TAG_PREFIX}{key}": str(value) for key, value in facts.items() if value is not None}


RUN_FILE = Path("reports") / "run.json"
REGISTERED_FILE = Path("reports") / "registered.json"
# The fitted model as `train` hands it to `evaluate`: the same object MLflow logs, without the
# seconds that loading MLflow's skops format costs (it scans every scikit-learn type on import).
MODEL_FILE = Path("models") / "model.joblib"


def write_run_info(**info: object) -> Path:
    """reports/run.json: how later steps (and the CI toolkit) find the last training run."""
    import json

    RUN_FILE.parent.mkdir(parents=True, exist_ok=True)
    RUN_FILE.write_text(json.dumps(info, indent=2) + "\n")
    return RUN_FILE


def read_run_info() -> dict[str, object]:
    import json

    try:
        return json.loads(RUN_FILE.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{RUN_FILE}: no training run yet (run the train step)") from None


def requirements(distributions: tuple[str, ...]) -> list[str]:
    """Pinned requirements for the logged model, so MLflow need not infer them (slow)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in distributions]
