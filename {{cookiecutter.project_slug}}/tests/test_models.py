from pathlib import Path

import numpy as np
import pytest
from mlops_toolkit import metrics as registry
from mlops_toolkit.project import roles
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    load_params,
)
from {{ cookiecutter.package_name }}.data.load import (
    drop_missing_target,
    features_and_target,
    load_source,
)
from {{ cookiecutter.package_name }}.models import (
    build_model,
    device_for,
    fit,
    for_serving,
)
from {{ cookiecutter.package_name }}.pipelines import metrics


def _data(source, target):
    """The configured data's features (raw columns, by role) and target, as train sees them."""
    params = load_params()
    frame, _ = drop_missing_target(load_source(source, target), target)
    found = roles.resolve(params.data.roles, frame, target)
    features, labels = features_and_target(frame, target)
    return params, found, features[roles.features(found)], labels


def test_factory_builds_a_pipeline_that_learns(source, target, naive_floor):
    params, found, features, labels = _data(source, target)
    model = build_model(params.model, seed=0, roles=found)
    assert isinstance(model, Pipeline)
    assert model.steps[0][0] == "preprocess"  # raw columns in, whatever their types
    fit(model, features, labels, params.model)
    scores = metrics.compute(labels, model.predict(features), metrics.scores(model, features))
    # Better on its own training data than the model that ignores the features.
    primary = params.evaluate.primary_metric
    floor = naive_floor(labels)
    assert registry.improvement(primary, scores[primary], floor) > 0, (scores[primary], floor)
    assert isinstance(for_serving(model), Pipeline)


def test_raw_rows_with_missing_values_and_unseen_categories_are_scored(source, target):
    params, found, features, labels = _data(source, target)
    model = fit(build_model(params.model, seed=0, roles=found), features, labels, params.model)
    odd = features.head(3).copy()
    for column in found["categorical"] + found["boolean"]:
        odd[column] = odd[column].astype(object)
        odd.loc[odd.index[0], column] = "never-seen-in-training"
    odd.iloc[1] = None  # a row of nothing but missing values
    assert len(model.predict(odd)) == 3


# Hyper-parameters under which the seed matters: a seed that never reaches the estimator then
# shows (the defaults are deterministic whatever the seed, so they could not tell).
{%- if cookiecutter.model_family == "xgboost" %}
STOCHASTIC = {"model.params.subsample": 0.5, "model.params.colsample_bynode": 0.5}
{%- elif cookiecutter.task == "classification" %}
STOCHASTIC = {"model.params.solver": "saga", "model.params.max_iter": 3, "model.params.tol": 1e-12}
{%- else %}
STOCHASTIC = {"model.params.solver": "sag", "model.params.max_iter": 3, "model.params.tol": 1e-12}
{%- endif %}


@pytest.mark.filterwarnings("ignore")  # 3 iterations on purpose: they stop before convergence
def test_same_seed_same_model(source, target):
    _, found, features, labels = _data(source, target)
    spec = load_params(overrides=STOCHASTIC).model

    def fitted_output(seed: int) -> np.ndarray:
        model = fit(build_model(spec, seed=seed, roles=found), features, labels, spec)
{%- if cookiecutter.task == "classification" %}
        return model.predict_proba(features)
{%- else %}
        return model.predict(features)
{%- endif %}

    first = fitted_output(1)
    assert np.array_equal(first, fitted_output(1))
    assert not np.allclose(first, fitted_output(2))  # the seed reaches the estimator


def test_unknown_hyper_parameter_is_refused():
    params = load_params(overrides={"model.params.not_a_parameter": 1})
    with pytest.raises(ConfigError, match="not_a_parameter"):
        build_model(params.model, seed=0, roles=params.data.roles.as_dict())


def fake_nvidia_smi(folder: Path, listing: str) -> str:
    """A PATH whose only nvidia-smi prints ``listing`` (empty: no such program at all)."""
    if listing:
        program = folder / "nvidia-smi"
        program.write_text(f"#!/bin/sh\necho '{listing}'\n")
        program.chmod(0o755)
    return str(folder)


{%- if cookiecutter.model_family == "xgboost" %}


def test_device_is_cpu_without_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, ""))
    assert device_for(load_params().model) == "cpu"
    with pytest.raises(ConfigError, match="no GPU is visible"):
        device_for(load_params(overrides={"model.device": "cuda"}).model)


def test_device_is_cuda_where_a_gpu_is_listed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA H100 (UUID: GPU-0)"))
    assert device_for(load_params().model) == "cuda"
    params = load_params()
    model = build_model(params.model, seed=0, roles=params.data.roles.as_dict())
    # A classifier's booster sits inside the OneVsRestClassifier that maps its labels.
    booster = getattr(model[-1], "estimator", model[-1])
    assert booster.get_params()["device"] == "cuda"
    for_serving(model)
    assert booster.get_params()["device"] == "cpu"


@pytest.mark.gpu
def test_trains_on_the_gpu_when_one_is_visible(source, target):
    params, found, features, labels = _data(source, target)
    assert device_for(params.model) == "cuda"
    model = build_model(params.model, seed=0, roles=found).fit(features, labels)
    boosters = getattr(model[-1], "estimators_", [model[-1]])
    assert all(b.get_params()["device"] == "cuda" for b in boosters)
    served = for_serving(model)
    assert all(b.get_params()["device"] == "cpu" for b in boosters)
    assert len(served.predict(features)) == len(features)
{%- else %}


def test_linear_models_run_on_the_cpu_even_beside_a_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA H100 (UUID: GPU-0)"))
    assert device_for(load_params().model) == "cpu"
    with pytest.raises(ConfigError, match="CPU only"):
        params = load_params(overrides={"model.device": "cuda"})
        build_model(params.model, seed=0, roles=params.data.roles.as_dict())
{%- endif %}
