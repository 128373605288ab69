"""XGBoost models inside an sklearn Pipeline; CUDA when a GPU is visible."""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Any

from ..config import ConfigError, ModelParams

# Distributions the logged model needs to load; pinned to the installed versions at log time.
REQUIREMENTS = ("scikit-learn", "cloudpickle", "xgboost")
# MLflow saves sklearn models with skops, which loads only the types it is told to trust.
TRUSTED_TYPES = (
    "xgboost.core.Booster",
    "xgboost.sklearn.{{ 'XGBClassifier' if cookiecutter.task == 'classification' else 'XGBRegressor' }}",
)

log = logging.getLogger(__name__)


def gpu_available() -> bool:
    """True when nvidia-smi lists at least one GPU."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listing.returncode == 0 and "GPU" in listing.stdout


def device_for(spec: ModelParams) -> str:
    if spec.device == "auto":
        return "cuda" if gpu_available() else "cpu"
    if spec.device == "cuda" and not gpu_available():
        raise ConfigError("model.device is cuda but no GPU is visible (nvidia-smi)")
    return spec.device


def build_model(spec: ModelParams, seed: int) -> Any:
    """A fresh, unfitted Pipeline for ``spec.task`` with ``spec.params`` as hyper-parameters."""
    from sklearn.pipeline import Pipeline
{%- if cookiecutter.task == "classification" %}
    from xgboost import XGBClassifier as Estimator
{%- else %}
    from xgboost import XGBRegressor as Estimator
{%- endif %}

    device = device_for(spec)
    log.info("xgboost runs on %s", device)
    estimator = Estimator(random_state=seed, tree_method="hist", device=device, n_jobs=-1)
    # XGBoost accepts any keyword and only warns at fit time: refuse typos here instead.
    unknown = sorted(set(spec.params) - set(estimator.get_params()))
    if unknown:
        raise ConfigError(f"model.params: unknown xgboost parameter {unknown[0]!r}")
    estimator.set_params(**spec.params)
    return Pipeline([("model", estimator)])


def for_serving(pipeline: Any) -> Any:
    """Serve on the CPU whatever device trained the model: scoring hosts have no GPU."""
    pipeline[-1].set_params(device="cpu")
    return pipeline
