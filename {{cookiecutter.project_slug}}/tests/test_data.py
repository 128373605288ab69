import json
import re

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.data.load import (
    DataError,
    drop_missing_target,
    load_source,
    read_csv,
)
from {{ cookiecutter.package_name }}.data.split import split
from {{ cookiecutter.package_name }}.data.validate import validate


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
    assert (workdir / "reports" / "validation.html").is_file()
    assert (workdir / "reports" / "data_docs" / "index.html").is_file()


def test_suite_catches_nulls_and_reports_them(workdir, frame, target):
    broken = frame.copy()
    broken[target] = broken[target].astype(object)
    broken.loc[:4, target] = None
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    assert not summary["success"]
    failed = {(f["expectation"], f["column"]) for f in summary["failures"]}
    assert ("expect_column_values_to_not_be_null", target) in failed
    written = json.loads((workdir / "reports" / "validation.json").read_text())
    assert written["failed"] == summary["failed"] >= 1


def test_suite_catches_out_of_range_values_with_examples(workdir, frame, target):
    suite = json.loads((workdir / "expectations" / "dataset.json").read_text())
    ranged = [
        e["kwargs"]["column"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
        and e["kwargs"].get("column") != target
        and e["kwargs"].get("min_value") is not None
    ]
    if not ranged:
        pytest.skip("the suite has no range expectation on a feature")
    broken = frame.copy()
    column = ranged[0]
    broken.loc[0, column] = -1e12
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    ranges = [
        f for f in summary["failures"] if f["expectation"] == "expect_column_values_to_be_between"
    ]
    assert ranges and ranges[0]["column"] == column
    assert -1e12 in ranges[0]["examples"]


def _suite(workdir):
    return json.loads((workdir / "expectations" / "dataset.json").read_text())


def _write_suite(workdir, suite):
    path = workdir / "edited.json"
    path.write_text(json.dumps(suite))
    return path


def test_a_misspelled_expectation_type_is_an_error_naming_it(workdir, frame):
    frame.to_csv(workdir / "good.csv", index=False)
    suite = _suite(workdir)
    suite["expectations"].append({"type": "expect_colum_to_exist", "kwargs": {"column": "x"}})
    number = len(suite["expectations"])
    with pytest.raises(DataError, match=rf"expectation {number}: unknown .*expect_colum_to_exist"):
        validate(workdir / "good.csv", _write_suite(workdir, suite), workdir / "reports")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("expect_column_to_exist", "must be an object"),
        ({"kwargs": {}}, "no expectation type"),
        ({"type": "expect_column_to_exist", "kwargs": {}}, "bad kwargs"),
        ({"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "mostly": 1}, "unknown key"),
    ],
)
def test_a_malformed_entry_is_an_error_naming_it(workdir, frame, entry, message):
    frame.to_csv(workdir / "good.csv", index=False)
    suite = _suite(workdir)
    suite["expectations"].insert(0, entry)
    with pytest.raises(DataError, match=f"expectation 1.*{message}"):
        validate(workdir / "good.csv", _write_suite(workdir, suite), workdir / "reports")


def test_an_empty_suite_is_an_error_not_a_pass(workdir, frame):
    frame.to_csv(workdir / "good.csv", index=False)
    suite = {**_suite(workdir), "expectations": []}
    with pytest.raises(DataError, match="no expectations"):
        validate(workdir / "good.csv", _write_suite(workdir, suite), workdir / "reports")


def test_a_renamed_column_is_named_missing_and_unexpected(workdir, frame, target):
    column = next(c for c in frame.columns if c != target)
    expectations = _suite(workdir)["expectations"]
    named = {e["kwargs"].get("column") for e in expectations}
    if column not in named and not any(
        e["type"].startswith("expect_table_columns") for e in expectations
    ):
        pytest.skip("the suite names none of this data's columns (init-data derives one)")
    frame.rename(columns={column: "renamed_column"}).to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    messages = " | ".join(f["message"] for f in summary["failures"])
    assert not summary["success"]
    assert f"missing column(s) {column}" in messages or f"column {column} is not" in messages
    if any(f["expectation"] == "expect_table_columns_to_match_set" for f in summary["failures"]):
        assert "unexpected column(s) renamed_column" in messages


def test_a_duplicated_header_is_named(workdir, frame, target):
    column = next(c for c in frame.columns if c != target)
    names = [str(name) for name in frame.columns]
    names[names.index(target)] = column
    # pandas writes the header: a name with a quote or comma stays one quoted field.
    frame.to_csv(workdir / "dup.csv", index=False, header=names)
    summary = validate(workdir / "dup.csv", "expectations/dataset.json", workdir / "reports")
    assert not summary["success"]
    assert f"duplicated column name(s) in the header: {column}" in summary["failures"][0]["message"]


def test_strings_in_a_numeric_column_show_the_values_and_rows(workdir, frame, target):
    numeric = [
        e["kwargs"]["column"]
        for e in _suite(workdir)["expectations"]
        if e["type"] == "expect_column_values_to_be_in_type_list"
        and all(t.startswith(("int", "float", "Int")) for t in e["kwargs"]["type_list"])
        and e["kwargs"]["column"] != target
    ]
    if not numeric:
        pytest.skip("the suite checks no column's numeric type")
    broken = frame.copy()
    broken[numeric[0]] = broken[numeric[0]].astype(object)
    broken.loc[[2, 5], numeric[0]] = "oops"
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", "expectations/dataset.json", workdir / "reports")
    typed = next(
        f
        for f in summary["failures"]
        if f["expectation"] == "expect_column_values_to_be_in_type_list"
    )
    assert typed["column"] == numeric[0]
    assert typed["examples"] == ["oops"]
    assert typed["rows"] == [3, 6]
    assert "'oops' at row(s) 3, 6" in typed["message"]
