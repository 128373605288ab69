"""The team's data: its source, the split, and its suite against its own data (the readers, the
validation and its reports are the platform's, tested in the toolkit)."""

import re

import pandas as pd
import pytest
from mlops_toolkit.project.expectations import validate

from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.data.load import DataError, drop_missing_target, load_source
from {{ cookiecutter.package_name }}.data.split import split


@pytest.fixture
def frame(source, target):
    return drop_missing_target(load_source(source, target), target)[0]


def test_source_has_features_and_target(frame, target):
    assert target in frame.columns
    assert frame.shape[1] > 1
    assert frame[target].notna().all()


def test_rows_with_a_missing_target_are_dropped_and_counted(frame, target):
    holed = frame.copy()
    holed[target] = holed[target].astype(object)
    holed.loc[[0, 2], target] = None
    kept, dropped = drop_missing_target(holed, target)
    assert dropped == 2 and len(kept) == len(frame) - 2
    assert kept[target].notna().all()


def test_split_is_seeded_and_disjoint(frame, target):
    params = load_params()
    first = split(frame, target, 0.25, seed=3, stratify=params.split.stratify)
    second = split(frame, target, 0.25, seed=3, stratify=params.split.stratify)
    other = split(frame, target, 0.25, seed=4, stratify=params.split.stratify)
    pd.testing.assert_frame_equal(first[1], second[1])
    assert not first[1].equals(other[1])
    assert len(first[0]) + len(first[1]) == len(frame)
    assert abs(len(first[1]) - 0.25 * len(frame)) <= 1


def test_missing_target_column_is_named(workdir, target):
    path = workdir / "no_target.csv"
    pd.DataFrame({"x": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"missing column.*{re.escape(target)}"):
        load_source(str(path), target)


def test_suite_accepts_the_data(workdir, frame):
    frame.to_csv(workdir / "good.csv", index=False)
    summary = validate(workdir / "good.csv", "expectations/dataset.json", workdir / "reports")
    assert summary["success"], summary["failures"]
    assert summary["evaluated"] >= 3


def test_suite_catches_nulls_and_reports_them(workdir, frame, target):
    broken = frame.copy()
    broken[target] = broken[target].astype(object)
    broken.loc[:4, target] = None
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    assert not summary["success"]
    failed = {(f["expectation"], f["column"]) for f in summary["failures"]}
    assert ("expect_column_values_to_not_be_null", target) in failed
