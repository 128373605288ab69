import pytest
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    load_params,
)
from {{ cookiecutter.package_name }}.data import roles
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


def test_factory_builds_a_pipeline_that_learns(source, target):
    params, found, features, labels = _data(source, target)
    model = build_model(params.model, seed=0, roles=found)
    assert isinstance(model, Pipeline)
    assert model.steps[0][0] == "preprocess"  # raw columns in, whatever their types
    fit(model, features, labels, params.model)
    scores = metrics.compute(labels, model.predict(features), metrics.scores(model, features))
{%- if cookiecutter.task == "classification" %}
    # Better on its own training data than always answering the majority class.
    majority = labels.value_counts(normalize=True).iloc[0]
    assert scores["accuracy"] > majority or scores["accuracy"] == 1.0
{%- else %}
    assert scores["r2"] > 0.3
{%- endif %}
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


def test_same_seed_same_model(source, target):
    params, found, features, labels = _data(source, target)
    first = build_model(params.model, seed=1, roles=found).fit(features, labels).predict(features)
    second = build_model(params.model, seed=1, roles=found).fit(features, labels).predict(features)
    assert (first == second).all()


def test_unknown_hyper_parameter_is_refused():
    params = load_params(overrides={"model.params.not_a_parameter": 1})
    with pytest.raises(ConfigError, match="not_a_parameter"):
        build_model(params.model, seed=0, roles=params.data.roles.as_dict())


def test_device_is_cpu_without_gpu(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert device_for(load_params().model) == "cpu"
{%- if cookiecutter.model_family == "xgboost" %}


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
{%- endif %}
