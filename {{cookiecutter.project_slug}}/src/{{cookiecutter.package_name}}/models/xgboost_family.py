"""XGBoost models inside an sklearn Pipeline; CUDA when a GPU is visible.

Categorical columns are one-hot encoded (models/features.py), not given to xgboost's native
categorical support: the native path needs pandas "category" columns with the training categories
at every predict, which the scoring server and MLflow's pyfunc do not keep, while one-hot
encoding is one sklearn step shared with the linear family, handles unseen categories (all zeros)
and serves identically everywhere.
{%- if cookiecutter.task == "classification" %}

The classifier sits inside a OneVsRestClassifier: it maps any labels (strings such as "Adelie")
to the 0..k-1 codes xgboost needs and back; with two classes it is a single binary model.
{%- endif %}
"""

from __future__ import annotations

import logging
from typing import Any

from mlops_toolkit.project import gpu_available

from ..config import ConfigError, ModelParams
from .features import build_preprocessor

# Distributions the logged model needs to load; pinned to the installed versions at log time.
REQUIREMENTS = ("scikit-learn", "cloudpickle", "xgboost")
# MLflow saves sklearn models with skops, which loads only the types it is told to trust.
TRUSTED_TYPES = (
    "xgboost.core.Booster",
    "xgboost.sklearn.{{ 'XGBClassifier' if cookiecutter.task == 'classification' else 'XGBRegressor' }}",
    "numpy.dtype",  # kept by the imputers of the preprocessing step
    "{{ cookiecutter.package_name }}.models.features.date_parts",
    "{{ cookiecutter.package_name }}.models.features.date_part_names",
)

log = logging.getLogger(__name__)


def device_for(spec: ModelParams) -> str:
    """auto: cuda where the platform's GPU probe (shared with CI) sees a GPU, else cpu."""
    if spec.device == "auto":
        return "cuda" if gpu_available() else "cpu"
    if spec.device == "cuda" and not gpu_available():
        raise ConfigError("model.device is cuda but no GPU is visible (nvidia-smi)")
    return spec.device


def build_model(spec: ModelParams, seed: int, roles: dict[str, list[str]]) -> Any:
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
    preprocess = build_preprocessor(roles, scale=False, impute=False)
{%- if cookiecutter.task == "classification" %}
    from sklearn.multiclass import OneVsRestClassifier

    return Pipeline([("preprocess", preprocess), ("model", OneVsRestClassifier(estimator))])


def fit(model: Any, features: Any, target: Any, spec: ModelParams) -> Any:
    """Balanced class weights become per-row sample weights, routed to each xgboost model."""
    if not spec.class_weight:
        return model.fit(features, target)
    import sklearn
    from sklearn.utils.class_weight import compute_sample_weight

    weights = compute_sample_weight(spec.class_weight, target)
    with sklearn.config_context(enable_metadata_routing=True):
        model[-1].estimator.set_fit_request(sample_weight=True)
        model.fit(features, target, sample_weight=weights)
    # The routing request served this fit only, and skops cannot serialize it: drop it.
    for booster in _boosters(model):
        vars(booster).pop("_metadata_request", None)
    return model


def _boosters(pipeline: Any) -> list[Any]:
    """The fitted per-class models, and the template they are cloned from."""
    return [pipeline[-1].estimator, *getattr(pipeline[-1], "estimators_", [])]
{%- else %}
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def fit(model: Any, features: Any, target: Any, spec: ModelParams) -> Any:
    """Regression has no classes to weigh."""
    return model.fit(features, target)


def _boosters(pipeline: Any) -> list[Any]:
    return [pipeline[-1]]
{%- endif %}


def for_serving(pipeline: Any) -> Any:
    """Serve on the CPU whatever device trained the model: scoring hosts have no GPU."""
    for booster in _boosters(pipeline):
        if hasattr(booster, "set_params"):
            booster.set_params(device="cpu")
    return pipeline
