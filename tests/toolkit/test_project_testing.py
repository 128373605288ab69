"""The project API's pytest plugin (project/testing.py): the fixtures every generated project's
tests use. Their use inside a project is the generated projects' own test runs
(tests/template/test_projects.py, test_own_data.py); here, what they compute, on real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlops_toolkit import metrics
from mlops_toolkit.project import testing
from support import cars


@pytest.mark.parametrize(
    ("primary", "expected"),
    [
        # cars' three origins: Europe, Japan and USA; USA is the majority (254 of 406).
        ("accuracy", 254 / 406),
        ("roc_auc", 0.5),  # constant scores rank nothing: chance, whatever the classes
    ],
)
def test_the_naive_floor_of_a_classifier_is_the_majority_class(primary, expected):
    origin = cars.cars()["Origin"].sort_values(ignore_index=True)  # Europe first: a minority
    assert origin.value_counts()["USA"] == 254 and origin.iloc[0] == "Europe"
    assert testing.naive_score(origin, primary) == pytest.approx(expected)


def test_the_naive_floor_of_a_regressor_is_the_mean():
    from sklearn.datasets import load_diabetes

    target = load_diabetes(as_frame=True).frame["target"]
    rmse = float(((target - target.mean()) ** 2).mean() ** 0.5)
    assert testing.naive_score(target, "rmse") == pytest.approx(rmse)
    assert metrics.improvement("rmse", rmse * 0.9, testing.naive_score(target, "rmse")) > 0


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_project_without_data_gets_a_synthetic_stand_in_of_its_task(tmp_path, task):
    path = testing.synthetic_source(tmp_path / "synthetic.csv", "churned", task)
    frame = pd.read_csv(path)
    assert frame.shape == (300, 7) and frame.columns[-1] == "churned"
    labels = frame["churned"].nunique()
    assert (labels == 2) if task == "classification" else (labels > 100)


def test_a_relative_source_is_the_projects_and_a_sample_or_absolute_one_is_kept(tmp_path):
    assert testing.configured_source("data/raw.csv", tmp_path) == str(tmp_path / "data/raw.csv")
    assert testing.configured_source("sklearn:diabetes", tmp_path) == "sklearn:diabetes"
    assert testing.configured_source("/srv/data.parquet", tmp_path) == "/srv/data.parquet"


def test_the_work_folder_gets_what_commands_read_and_nothing_missing_breaks_it(tmp_path):
    root, into = tmp_path / "project", tmp_path / "work"
    (root / "expectations").mkdir(parents=True)
    into.mkdir()
    (root / "params.yaml").write_text("data: {}\n")
    (root / "expectations" / "dataset.json").write_text("{}")
    testing.copy_project_files(root, into)  # no gate.yaml yet: a project before init-data
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*")) == [
        "expectations",
        "expectations/dataset.json",
        "params.yaml",
    ]
    assert not Path(into / "gate.yaml").exists()
