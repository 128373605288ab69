"""The metrics registry: one table the gate, check-gate, reports and generated projects read.

Its reference computations agree with scikit-learn, the gate's per-block readings agree with
them on real datasets shipped inside scikit-learn, and no other platform module spells a
metric's name."""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from mlops_toolkit import directions, metrics
from mlops_toolkit.gate import config as gate_config
from mlops_toolkit.gate import stats

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "actions" / "src" / "mlops_toolkit"


@pytest.mark.parametrize("name", metrics.names())
def test_each_metric_has_a_direction_task_and_display_name(name):
    m = metrics.get(name)
    assert m.task in metrics.TASKS and m.display and m.source
    better = 0.9 if m.higher_is_better else 0.8
    worse = 0.8 if m.higher_is_better else 0.9
    assert metrics.improvement(name, better, worse) == pytest.approx(0.1)
    assert metrics.direction(name) == ("maximize" if m.higher_is_better else "minimize")


def test_unknown_metric_is_one_line():
    with pytest.raises(KeyError, match="unknown metric 'auc' \\(known: f1, roc_auc"):
        metrics.get("auc")


def test_one_default_per_task():
    assert {task: metrics.default(task) for task in metrics.TASKS} == {
        "classification": "f1",
        "regression": "rmse",
    }


def test_the_gate_takes_its_metrics_and_directions_from_the_registry():
    assert set(gate_config.METRIC_DIRECTIONS) == set(metrics.names(gate=True))
    for name, way in gate_config.METRIC_DIRECTIONS.items():
        assert way == metrics.direction(name)
    assert set(stats.FAMILIES) == set(metrics.names(gate=True))


def test_projects_generated_before_the_registry_still_import_directions():
    """v1 API: config.py of older projects reads these names."""
    assert directions.CLASSIFICATION == ("f1", "roc_auc", "accuracy")
    assert directions.REGRESSION == ("rmse", "mae", "r2")
    assert directions.higher_is_better("rmse") is False
    assert directions.HIGHER_IS_BETTER["precision"] is True


@functools.cache
def _binary():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    # Scaled, the fit converges in a few dozen iterations (unscaled: about 1,900, seconds of CPU).
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[::2], y[::2])
    return y[1::2], model.predict(x[1::2]), model.predict_proba(x[1::2])


@functools.cache
def _multiclass():
    from sklearn.datasets import load_wine
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_wine(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(x[::2], y[::2])
    return y[1::2], model.predict(x[1::2]), model.predict_proba(x[1::2])


@functools.cache
def _regression():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    return y[1::2], Ridge().fit(x[::2], y[::2]).predict(x[1::2]), None


def test_reference_values_are_scikit_learns():
    from sklearn import metrics as skm

    y, pred, proba = _binary()
    got = metrics.compute("classification", y, pred, proba)
    assert got == pytest.approx(
        {
            "f1": skm.f1_score(y, pred),
            "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred),
        }
    )
    y, pred, proba = _multiclass()
    got = metrics.compute("classification", y, pred, proba)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    y, pred, _ = _regression()
    assert metrics.compute("regression", y, pred) == pytest.approx(
        {
            "rmse": skm.root_mean_squared_error(y, pred),
            "mae": skm.mean_absolute_error(y, pred),
            "r2": skm.r2_score(y, pred),
        }
    )


def test_names_compute_those_metrics_alone_with_the_same_values():
    """Permutation importance reads one metric per call: the others are not computed at all."""
    y, pred, proba = _multiclass()
    every = metrics.compute("classification", y, pred, proba)
    assert metrics.compute("classification", y, pred, proba, names=("f1",)) == {"f1": every["f1"]}
    y, pred, _ = _regression()
    assert metrics.compute("regression", y, pred, names=["mae", "r2"]).keys() == {"mae", "r2"}


def test_string_labels_take_the_larger_label_as_positive():
    y = np.array(["yes", "no", "yes", "no", "yes"])
    pred = np.array(["yes", "no", "no", "no", "yes"])
    got = metrics.compute("classification", y, pred)
    assert got["recall"] == pytest.approx(2 / 3) and "roc_auc" not in got


@pytest.mark.parametrize("data", [_binary, _multiclass, _regression], ids=lambda f: f.__name__)
def test_the_gates_block_readings_agree_with_the_reference(data):
    """The bootstrap's point estimates (per-block statistics) equal the reference values, so
    the gate and evaluate report the same number for every metric the gate judges."""
    y, pred, proba = data()
    task = metrics.REGRESSION if proba is None else metrics.CLASSIFICATION
    wanted = list(metrics.names(task, gate=True))
    if proba is not None and proba.shape[1] > 2:
        wanted = [m for m in wanted if metrics.get(m).source != metrics.SCORES]  # binary only
    scores = None if proba is None or proba.shape[1] > 2 else proba[:, 1]
    gate = stats.evaluate(wanted, y, [stats.Predictions(labels=pred, scores=scores)], resamples=20)
    reference = metrics.compute(task, y, pred, proba)
    for name in wanted:
        assert gate[name].values[0] == pytest.approx(reference[name], abs=1e-9), name


def _quoted_metric_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and node.value in metrics.REGISTRY:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_no_platform_module_spells_a_metric_name():
    literals = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "metrics.py"
        for hit in _quoted_metric_names(path)
    ]
    assert literals == []


def test_the_templates_answers_agree_with_the_registry():
    """cookiecutter.json cannot import the registry: its default and prompt are checked here."""
    answers = json.loads((ROOT / "cookiecutter.json").read_text())
    default = answers["primary_metric"]
    assert f"'{metrics.default('classification')}'" in default
    assert f"'{metrics.default('regression')}'" in default
    prompt = answers["__prompts__"]["primary_metric"]
    for task in metrics.TASKS:
        listed = re.search(rf"{task}: ([a-z0-9_, ]+)", prompt).group(1).split(", ")
        assert tuple(listed) == metrics.names(task, gate=True)
