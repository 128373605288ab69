"""scikit-learn models: a scaler and a linear model in one Pipeline."""

from __future__ import annotations

from typing import Any

from ..config import ConfigError, ModelParams

# Distributions the logged model needs to load; pinned to the installed versions at log time.
REQUIREMENTS = ("scikit-learn", "cloudpickle")
# MLflow saves sklearn models with skops; scikit-learn's own types need no extra trust.
TRUSTED_TYPES: tuple[str, ...] = ()


def build_model(spec: ModelParams, seed: int) -> Any:
    """A fresh, unfitted Pipeline for ``spec.task`` with ``spec.params`` as hyper-parameters."""
{%- if cookiecutter.task == "classification" %}
    from sklearn.linear_model import LogisticRegression as Estimator
{%- else %}
    from sklearn.linear_model import Ridge as Estimator
{%- endif %}
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    device_for(spec)  # refuse a device this family cannot use before any work
    estimator = Estimator(random_state=seed)
    try:
        estimator.set_params(**spec.params)
    except ValueError as error:
        raise ConfigError(f"model.params: {str(error).splitlines()[0]}") from None
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


def device_for(spec: ModelParams) -> str:
    """Linear scikit-learn models run on the CPU only: a cuda setting would be silently ignored."""
    if spec.device == "cuda":
        raise ConfigError(
            "model.device is cuda, but scikit-learn's linear models run on the CPU only "
            "(use auto or cpu)"
        )
    return "cpu"


def for_serving(pipeline: Any) -> Any:
    """Nothing to change: the fitted Pipeline serves as it is."""
    return pipeline
