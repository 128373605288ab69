"""The whole pipeline, end to end, on a small sample, into a private MLflow store."""

import json

import pandas as pd
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.pipelines import metrics


def test_pipeline_end_to_end(workdir, source, target, naive_floor):
    assert main(["prepare-data", "--source", source]) == 0
    assert main(["validate-data"]) == 0
    assert main(["train", "--run-name", "e2e"]) == 0
    assert main(["evaluate"]) == 0

    params = load_params()
    holdout = json.loads((workdir / "metrics" / "holdout.json").read_text())
    # Whatever the data, the model must beat the naive answer on rows it never saw.
    labels = pd.read_csv(params.data.holdout)[target]
    primary = params.evaluate.primary_metric
    bigger_is_better = metrics.HIGHER_IS_BETTER[primary]
    floor = naive_floor(labels)
    assert (holdout[primary] > floor) if bigger_is_better else (holdout[primary] < floor)
    registered = json.loads((workdir / "reports" / "registered.json").read_text())
    client = MlflowClient()
    version = client.get_model_version(
        params.mlflow.registered_model_name, registered["model_version"]
    )
    run = client.get_run(version.run_id)
    assert run.data.tags["mlops.model_family"] == "{{ cookiecutter.model_family }}"
    assert run.data.tags["mlops.task"] == "{{ cookiecutter.task }}"
    assert int(run.data.tags["mlops.rows_train"]) > 0
    assert len(run.data.tags["mlops.data_hash"]) == 32
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/feature_importance.png", "plots/partial_dependence.png"} <= artifacts
    logs = client.list_artifacts(run.info.run_id, "logs")
    assert len(logs) == 2  # the train and evaluate log files

    holdout_rows = pd.read_csv(params.data.holdout)
    assert main(["predict", "--input", params.data.holdout, "--output", "out.csv"]) == 0
    predicted = pd.read_csv(workdir / "out.csv")
    assert len(predicted) == len(holdout_rows)
    assert predicted["prediction"].notna().all()


def test_invalid_data_stops_the_pipeline(workdir, source, target, capsys):
    assert main(["prepare-data", "--source", source]) == 0
    raw = pd.read_csv("data/raw/dataset.csv")
    raw[target] = raw[target].astype(object)
    raw.loc[0, target] = None
    raw.to_csv("data/raw/dataset.csv", index=False)
    assert main(["validate-data"]) == 1
    err = capsys.readouterr().err
    assert f"expect_column_values_to_not_be_null on {target}" in err
    assert "expectation(s) failed" in err


def test_predict_on_mismatched_columns_is_one_line_naming_them(workdir, source, target, capsys):
    assert main(["prepare-data", "--source", source]) == 0
    assert main(["train"]) == 0
    import mlflow
    from mlops_toolkit.project import runs as tracking

    params = load_params()
    rows = pd.read_csv(params.data.holdout).drop(columns=[target])
    info = mlflow.models.get_model_info(tracking.read_run_info().model_uri)
    dropped = info.signature.inputs.input_names()[0]
    rows.drop(columns=[dropped]).assign(surprise=1).to_csv("odd.csv", index=False)
    capsys.readouterr()
    assert main(["predict", "--input", "odd.csv", "--output", "out.csv"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert f"missing column(s) {dropped}; extra column(s) " in errors[0]
    assert "surprise" in errors[0].split("extra column(s) ")[1].split(" (")[0]
    assert len(errors[0]) < 200 + 30 * len(rows.columns)  # names, not a DataFrame dump
