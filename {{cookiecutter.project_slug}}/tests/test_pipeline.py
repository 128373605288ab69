"""The whole pipeline, end to end, on a small sample, into a private MLflow store (evaluate's
permutation importance is the platform's, tested against scikit-learn's in the toolkit)."""

import json

import pandas as pd
from mlflow import MlflowClient
from mlops_toolkit import metrics as registry

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_params


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
    floor = naive_floor(labels)
    # A positive improvement is better, whichever way the metric goes (the metrics registry).
    assert registry.improvement(primary, holdout[primary], floor) > 0, (holdout[primary], floor)
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
