"""mlops_toolkit.project's data side: the table readers, `validate-data` (real Great
Expectations, the generated project's suite, scikit-learn's breast-cancer data), roles, and rows
matched to a model's signature."""

from __future__ import annotations

import json

import pandas as pd
import projectkit
import pytest
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.project import API_VERSION, roles
from mlops_toolkit.project.expectations import validate
from mlops_toolkit.project.params import RoleParams
from mlops_toolkit.project.tables import DataError, match_signature, read_csv, read_table
from projectkit import error_lines, main

cancer, generated, workdir = projectkit.cancer, projectkit.generated, projectkit.workdir  # fixtures

SUITE = "expectations/dataset.json"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b\n1,2,3,4\n5\n", "not a readable CSV"),
        (b"", "not a readable CSV"),
        (b"a,b\n", "no rows"),
        (b"\xff\xfe\x00a,b\n", "not a readable CSV"),
        (b"a;b;c\n1;2;3\n", "looks ';'-separated"),
    ],
)
def test_a_broken_csv_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        read_csv(path)
    assert "\n" not in str(caught.value) and isinstance(caught.value, ToolkitError)


def test_parquet_reads_and_a_broken_one_is_named(tmp_path, cancer):
    cancer.head(20).to_parquet(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet").shape == (20, cancer.shape[1])
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"bad\.parquet: not a readable Parquet file"):
        read_table(tmp_path / "bad.parquet")


def test_the_suite_accepts_the_data_and_writes_every_report(workdir, cancer):
    cancer.to_csv(workdir / "good.csv", index=False)
    summary = validate(workdir / "good.csv", SUITE, workdir / "reports")
    assert summary["success"], summary["failures"]
    assert summary["evaluated"] >= 3 and summary["rows"] == len(cancer)
    written = json.loads((workdir / "reports" / "validation.json").read_text())
    assert written["success"] is True and written["html"].endswith("validation.html")
    assert (workdir / "reports" / "validation.html").is_file()
    assert (workdir / "reports" / "data_docs" / "index.html").is_file()


def test_validate_data_exits_1_naming_each_failure_then_counting_them(workdir, cancer, capsys):
    broken = cancer.copy()
    broken["target"] = broken["target"].astype(object)
    broken.loc[0, "target"] = None
    (workdir / "data" / "raw").mkdir(parents=True)
    broken.to_csv(workdir / "data" / "raw" / "dataset.csv", index=False)  # params' data.raw
    assert main(["validate-data"]) == 1
    errors = error_lines(capsys.readouterr().err)
    assert any("failed: expect_column_values_to_not_be_null on target" in e for e in errors)
    assert errors[-1].endswith("data/raw/dataset.csv: 1 expectation(s) failed"), errors


def test_nulls_and_out_of_range_values_are_named_with_examples_and_rows(workdir, cancer):
    broken = cancer.copy()
    broken["target"] = broken["target"].astype(object)
    broken.loc[:4, "target"] = None
    broken.loc[2, "mean_radius"] = -1e12
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", SUITE, workdir / "reports")
    assert not summary["success"]
    by = {(f["expectation"], f["column"]): f for f in summary["failures"]}
    assert ("expect_column_values_to_not_be_null", "target") in by
    ranged = by[("expect_column_values_to_be_between", "mean_radius")]
    assert ranged["examples"] == [-1e12] and ranged["rows"] == [3]
    assert json.loads((workdir / "reports" / "validation.json").read_text())["failed"] >= 2


def _edited(workdir, change) -> str:
    suite = json.loads((workdir / SUITE).read_text())
    change(suite["expectations"])
    (workdir / "edited.json").write_text(json.dumps(suite))
    return "edited.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.insert(0, "expect_column_to_exist"), "expectation 1: must be an object"),
        (lambda e: e.insert(0, {"kwargs": {}}), "expectation 1: has no expectation type"),
        (
            lambda e: e.insert(0, {"type": "expect_colum_to_exist", "kwargs": {"column": "x"}}),
            "expectation 1: unknown expectation type 'expect_colum_to_exist'",
        ),
        (lambda e: e.insert(0, {"type": "expect_column_to_exist", "kwargs": {}}), "bad kwargs"),
        (
            lambda e: e.insert(0, {"type": "expect_column_to_exist", "mostly": 1}),
            "unknown key",
        ),
        (lambda e: e.clear(), "no expectations: it would pass any data"),
    ],
    ids=["not-object", "no-type", "misspelled", "kwargs", "key", "empty"],
)
def test_a_malformed_suite_is_an_error_naming_the_entry(workdir, cancer, change, message):
    cancer.head(50).to_csv(workdir / "good.csv", index=False)
    with pytest.raises(DataError, match=message):
        validate(workdir / "good.csv", _edited(workdir, change), workdir / "reports")


def test_a_renamed_column_and_a_duplicated_header_are_named(workdir, cancer):
    cancer.rename(columns={"mean_area": "area"}).to_csv(workdir / "renamed.csv", index=False)
    summary = validate(workdir / "renamed.csv", SUITE, workdir / "reports")
    messages = " | ".join(f["message"] for f in summary["failures"])
    assert "missing column(s) mean_area" in messages
    assert "unexpected column(s) area" in messages
    names = list(cancer.columns)
    names[names.index("target")] = "mean_area"
    cancer.to_csv(workdir / "dup.csv", index=False, header=names)
    summary = validate(workdir / "dup.csv", SUITE, workdir / "reports")
    first = summary["failures"][0]["message"]
    assert "duplicated column name(s) in the header: mean_area" in first


def test_strings_in_a_numeric_column_show_the_values_and_rows(workdir, cancer):
    broken = cancer.copy()
    broken["mean_texture"] = broken["mean_texture"].astype(object)
    broken.loc[[2, 5], "mean_texture"] = "oops"
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", SUITE, workdir / "reports")
    typed = next(
        f
        for f in summary["failures"]
        if f["expectation"] == "expect_column_values_to_be_in_type_list"
    )
    assert typed["column"] == "mean_texture" and typed["rows"] == [3, 6]
    assert "'oops' at row(s) 3, 6" in typed["message"]


def test_roles_are_inferred_and_params_win():
    frame = pd.DataFrame(
        {
            "id": range(100),
            "age": [20 + i % 50 for i in range(100)],
            "plan": ["a", "b", "c", "d"] * 25,
            "member": ["yes", "no"] * 50,
            "day": pd.date_range("2024-01-01", periods=100).astype(str),
            "name": [f"person {i}" for i in range(100)],
            "y": [0, 1] * 50,
        }
    )
    found = roles.infer(frame, "y")
    assert found == {
        "numeric": ["age"],
        "categorical": ["plan"],
        "boolean": ["member"],
        "date": ["day"],
        "excluded": ["id", "name"],
    }
    resolved = roles.resolve(RoleParams(categorical=["age"]), frame, "y")
    assert resolved["categorical"] == ["age", "plan"] and resolved["numeric"] == []
    assert roles.features(resolved) == ["age", "plan", "member", "day"]


def test_rows_are_cut_to_the_model_s_signature_or_refused_in_one_line(cancer, caplog):
    """`tables.match_signature` (API 1.4): a project's predict before its model sees the rows."""
    from mlflow.models import infer_signature

    assert tuple(map(int, API_VERSION.split("."))) >= (1, 4)
    features = cancer.drop(columns=["target"]).head(20)
    schema = infer_signature(features).inputs
    shuffled = features[features.columns[::-1]].assign(row_id=1)
    matched = match_signature(shuffled, schema, "rows.csv")
    assert list(matched.columns) == list(features.columns)  # the signature's order
    assert "rows.csv: ignoring column(s) the model does not take: row_id" in caplog.text
    with pytest.raises(DataError) as error:
        match_signature(shuffled.drop(columns=["mean_area"]), schema, "rows.csv")
    message = str(error.value)
    assert message.startswith(
        "rows.csv: missing column(s) mean_area; extra column(s) row_id (the model takes 30: "
    )
    assert "\n" not in message and len(message) < 1000  # names, not a DataFrame dump
    unnamed = infer_signature(features.to_numpy()).inputs  # a tensor: no column names
    assert match_signature(shuffled, unnamed, "rows.csv") is shuffled
    assert match_signature(shuffled, None, "rows.csv") is shuffled
