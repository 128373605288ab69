import json

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.data.load import (
    DataError,
    load_source,
    read_csv,
)
from {{ cookiecutter.package_name }}.data.split import split
from {{ cookiecutter.package_name }}.data.validate import validate


@pytest.fixture
def frame(source):
    return load_source(source, "target")


def test_source_has_features_and_target(frame):
    assert "target" in frame.columns
    assert frame.shape[1] > 1
    assert frame.notna().all().all()


def test_split_is_seeded_and_disjoint(frame):
    params = load_params()
    first = split(frame, "target", 0.25, seed=3, stratify=params.split.stratify)
    second = split(frame, "target", 0.25, seed=3, stratify=params.split.stratify)
    other = split(frame, "target", 0.25, seed=4, stratify=params.split.stratify)
    pd.testing.assert_frame_equal(first[1], second[1])
    assert not first[1].equals(other[1])
    assert len(first[0]) + len(first[1]) == len(frame)
    assert abs(len(first[1]) - 0.25 * len(frame)) <= 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b\n1,2,3,4\n5\n", "not a readable CSV"),
        (b"", "not a readable CSV"),
        (b"a,b\n", "no rows"),
        (b"\xff\xfe\x00a,b\n", "not a readable CSV"),
    ],
)
def test_broken_csv_is_one_clear_error(workdir, content, message):
    path = workdir / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        read_csv(path)
    assert "\n" not in str(caught.value)


def test_missing_target_column_is_named(workdir):
    path = workdir / "no_target.csv"
    pd.DataFrame({"x": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column.*target"):
        load_source(str(path), "target")


def test_suite_accepts_the_data(workdir, frame):
    frame.to_csv(workdir / "good.csv", index=False)
    summary = validate(workdir / "good.csv", "expectations/dataset.json", workdir / "reports")
    assert summary["success"], summary["failures"]
    assert summary["evaluated"] >= 3
    assert (workdir / "reports" / "validation.html").is_file()
    assert (workdir / "reports" / "data_docs" / "index.html").is_file()


def test_suite_catches_nulls_and_reports_them(workdir, frame):
    broken = frame.copy()
    broken.loc[:4, "target"] = None
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    assert not summary["success"]
    failed = {(f["expectation"], f["column"]) for f in summary["failures"]}
    assert ("expect_column_values_to_not_be_null", "target") in failed
    written = json.loads((workdir / "reports" / "validation.json").read_text())
    assert written["failed"] == summary["failed"] >= 1
{%- if cookiecutter.sample_dataset == "yes" %}


def test_suite_catches_out_of_range_values_with_examples(workdir, frame):
    broken = frame.copy()
    column = next(c for c in broken.columns if c != "target")
    broken.loc[0, column] = -1e6
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    ranges = [
        f for f in summary["failures"] if f["expectation"] == "expect_column_values_to_be_between"
    ]
    assert ranges and ranges[0]["column"] == column
    assert -1e6 in ranges[0]["examples"]
{%- endif %}
