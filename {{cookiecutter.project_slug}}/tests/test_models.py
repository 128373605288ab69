import pytest
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    load_params,
)
from {{ cookiecutter.package_name }}.data.load import (
    features_and_target,
    load_source,
)
from {{ cookiecutter.package_name }}.models import (
    build_model,
    device_for,
    for_serving,
)
from {{ cookiecutter.package_name }}.pipelines import metrics


def test_factory_builds_a_pipeline_that_learns(source):
    params = load_params()
    features, target = features_and_target(load_source(source, "target"), "target")
    model = build_model(params.model, seed=0)
    assert isinstance(model, Pipeline)
    model.fit(features, target)
    scores = metrics.compute(target, model.predict(features), metrics.scores(model, features))
{%- if cookiecutter.task == "classification" %}
    assert scores["accuracy"] > 0.8
{%- else %}
    assert scores["r2"] > 0.3
{%- endif %}
    assert isinstance(for_serving(model), Pipeline)


def test_same_seed_same_model(source):
    params = load_params()
    features, target = features_and_target(load_source(source, "target"), "target")
    first = build_model(params.model, seed=1).fit(features, target).predict(features)
    second = build_model(params.model, seed=1).fit(features, target).predict(features)
    assert (first == second).all()


def test_unknown_hyper_parameter_is_refused():
    params = load_params(overrides={"model.params.not_a_parameter": 1})
    with pytest.raises(ConfigError, match="not_a_parameter"):
        build_model(params.model, seed=0)


def test_device_is_cpu_without_gpu(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert device_for(load_params().model) == "cpu"
{%- if cookiecutter.model_family == "xgboost" %}


@pytest.mark.gpu
def test_trains_on_the_gpu_when_one_is_visible(source):
    params = load_params()
    assert device_for(params.model) == "cuda"
    features, target = features_and_target(load_source(source, "target"), "target")
    model = build_model(params.model, seed=0).fit(features, target)
    assert model[-1].get_params()["device"] == "cuda"
    served = for_serving(model)
    assert served[-1].get_params()["device"] == "cpu"
    assert len(served.predict(features)) == len(features)
{%- endif %}
