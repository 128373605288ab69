"""scikit-learn models: the preprocessing step and a linear model in one Pipeline."""

from __future__ import annotations

from typing import Any

from ..config import ConfigError, ModelParams
from .features import build_preprocessor

# Distributions the logged model needs to load; pinned to the installed versions at log time.
REQUIREMENTS = ("scikit-learn", "cloudpickle")
# MLflow saves sklearn models with skops: scikit-learn's own types need no extra trust, the date
# transformer's functions (models/features.py) do.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",  # kept by the imputers of the preprocessing step
    "{{ cookiecutter.package_name }}.models.features.date_parts",
    "{{ cookiecutter.package_name }}.models.features.date_part_names",
)


def build_model(spec: ModelParams, seed: int, roles: dict[str, list[str]]) -> Any:
    """A fresh, unfitted Pipeline for ``spec.task`` with ``spec.params`` as hyper-parameters."""
{%- if cookiecutter.task == "classification" %}
    from sklearn.linear_model import LogisticRegression as Estimator
{%- else %}
    from sklearn.linear_model import Ridge as Estimator
{%- endif %}
    from sklearn.pipeline import Pipeline

    device_for(spec)  # refuse a device this family cannot use before any work
    estimator = Estimator(random_state=seed)
{%- if cookiecutter.task == "classification" %}
    if spec.class_weight:
        estimator.set_params(class_weight=spec.class_weight)
{%- endif %}
    try:
        estimator.set_params(**spec.params)
    except ValueError as error:
        raise ConfigError(f"model.params: {str(error).splitlines()[0]}") from None
    preprocess = build_preprocessor(roles, scale=True, impute=True)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def fit(model: Any, features: Any, target: Any, spec: ModelParams) -> Any:
    """Class weights, when asked for, are the estimator's own class_weight parameter."""
    return model.fit(features, target)


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
