"""mlops_toolkit.project.runs against a real `mlflow server`: MLflow 3 done right. The experiment
is marked classic ML, a new run is named after its pull request or branch and short sha, the
train and holdout tables are run inputs (digest = DVC's MD5, source = their path, DVC facts
when tracked) and validate-data's reports are logged. The experiment kind and a model's identity
also run on the in-memory client (`fake`), in the fast tier."""

from __future__ import annotations

import subprocess
import uuid

import pytest
import yaml
from mlops_toolkit.project import runs
from support import cars

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def tracked(mlflow_server, tmp_path, monkeypatch):
    """A project folder outside git and outside CI, on the session's server, in a new experiment."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    for name in ("GITHUB_REF", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    uri = runs.connect()
    experiment = mlflow.set_experiment(f"h8-{uuid.uuid4().hex[:8]}")
    return uri, experiment.experiment_id


def _git(path, *args):
    subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)


def _run(uri, **start):
    with runs.open_run(uri, **start) as run:
        pass
    from mlflow import MlflowClient

    return MlflowClient().get_run(run.info.run_id)


def test_a_pull_requests_run_is_named_after_it_and_the_experiment_is_classic_ml(
    tracked, monkeypatch
):
    from mlflow import MlflowClient

    uri, experiment_id = tracked
    monkeypatch.setenv("GITHUB_REF", "refs/pull/42/merge")
    monkeypatch.setenv("GITHUB_HEAD_REF", "feature/better-model")
    monkeypatch.setenv("GITHUB_SHA", SHA)
    run = _run(uri)
    assert run.info.run_name == "pr-42-0123456"
    tags = MlflowClient().get_experiment(experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    # Resuming the run (evaluate) keeps its name; an explicit name wins.
    assert _run(uri, run_id=run.info.run_id).info.run_name == "pr-42-0123456"
    assert _run(uri, run_name="mine").info.run_name == "mine"


def test_a_kind_the_team_chose_is_left_alone(tracked):
    from mlflow import MlflowClient

    uri, experiment_id = tracked
    MlflowClient().set_experiment_tag(experiment_id, "mlflow.experimentKind", "forecasting")
    _run(uri)
    assert MlflowClient().get_experiment(experiment_id).tags["mlflow.experimentKind"] == (
        "forecasting"
    )


@pytest.fixture
def fake(monkeypatch):
    """The in-memory client behind `tracking.connect`, where runs.py finds its client."""
    from mlops_toolkit.tracking import client as tracking
    from support.fakes.mlflow import FakeMlflowClient

    client = FakeMlflowClient()
    monkeypatch.setattr(tracking, "connect", lambda uri=None: client)
    return client


def test_the_experiment_is_marked_classic_ml_once_and_a_teams_kind_kept(fake):
    from mlflow.exceptions import MlflowException

    ours, theirs = fake.create_experiment("ours"), fake.create_experiment("theirs")
    fake.set_experiment_tag(theirs, runs.EXPERIMENT_KIND_TAG, "forecasting")
    for experiment_id in (ours, ours, theirs):
        runs.mark_experiment_kind(experiment_id)
    assert fake.get_experiment(ours).tags == {runs.EXPERIMENT_KIND_TAG: runs.EXPERIMENT_KIND}
    assert fake.get_experiment(theirs).tags == {runs.EXPERIMENT_KIND_TAG: "forecasting"}
    with pytest.raises(MlflowException):  # an experiment deleted meanwhile: MLflow's error
        runs.mark_experiment_kind("987654321")


def test_an_alias_uri_names_the_version_it_points_at(fake):
    fake.create_registered_model("churn")
    run_id = fake.add_run()
    for _ in range(2):
        fake.create_model_version("churn", f"runs:/{run_id}/model", run_id)
    fake.set_registered_model_alias("churn", "champion", "1")
    assert runs.model_identity("models:/churn@champion", "other") == ("churn", "1")
    assert runs.model_identity("models:/churn/2", "other") == ("churn", "2")


def test_a_push_run_is_named_after_its_branch(tracked, monkeypatch):
    uri, _ = tracked
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    monkeypatch.setenv("GITHUB_SHA", SHA)
    assert _run(uri).info.run_name == "main-0123456"


def test_a_laptop_run_is_named_after_git_and_outside_git_mlflow_names_it(tracked, tmp_path):
    uri, _ = tracked
    random = _run(uri).info.run_name  # no git here: MLflow's own name
    assert random and "-" in random and not random.endswith(SHA[:7])
    _git(tmp_path, "init", "-q", "-b", "feature/x")
    _git(
        tmp_path,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _run(uri).info.run_name == f"feature/x-{sha[:7]}"
    _git(tmp_path, "checkout", "-q", "--detach")
    assert _run(uri).info.run_name == sha[:7]


def test_train_and_holdout_are_run_inputs_with_digest_source_and_dvc_facts(tracked, tmp_path):
    import mlflow

    uri, _ = tracked
    frame = cars.cars()  # strings, missing values, three classes
    (tmp_path / "data" / "processed").mkdir(parents=True)
    train, holdout = "data/processed/train.csv", "data/processed/holdout.csv"
    frame.iloc[::2].to_csv(train, index=False)
    frame.iloc[1::2].to_csv(holdout, index=False)
    md5 = runs.file_md5(train)
    # dvc.lock as `dvc repro` leaves it after prepare: train.csv is a stage output.
    lock = {"schema": "2.0", "stages": {"prepare": {"outs": [{"path": train, "md5": md5}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    with runs.open_run(uri) as run:
        runs.log_dataset(frame.iloc[::2], train, "training", cars.TARGET)
        runs.log_dataset(frame.iloc[1::2], holdout, "holdout", cars.TARGET)
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {i.dataset.name: i for i in inputs}
    assert set(by_name) == {"train", "holdout"}
    logged = by_name["train"]
    assert logged.dataset.digest == md5
    assert train in logged.dataset.source
    assert cars.TARGET in logged.dataset.profile or cars.TARGET in logged.dataset.schema
    input_tags = {t.key: t.value for t in logged.tags}
    assert input_tags["mlflow.data.context"] == "training"
    assert input_tags["mlops.dvc_md5"] == md5 and input_tags["mlops.dvc_path"] == train
    holdout_tags = {t.key: t.value for t in by_name["holdout"].tags}
    assert holdout_tags["mlflow.data.context"] == "holdout"
    assert "mlops.dvc_md5" not in holdout_tags  # not in dvc.lock: no DVC claim
    assert by_name["holdout"].dataset.digest == runs.file_md5(holdout)


def test_a_dvc_added_file_is_found_through_its_dvc_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dataset.csv").write_text("a\n1\n")
    outs = {"outs": [{"md5": "feedbeef" * 4, "path": "dataset.csv", "size": 4}]}
    (tmp_path / "data" / "dataset.csv.dvc").write_text(yaml.safe_dump(outs))
    from pathlib import Path

    assert runs.dvc_md5(Path("data/dataset.csv")) == "feedbeef" * 4
    assert runs.dvc_md5(Path("data/other.csv")) is None


def test_the_validation_reports_are_logged(tracked, tmp_path):
    from mlflow import MlflowClient

    uri, _ = tracked
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "validation.json").write_text('{"success": true}')
    (reports / "validation.html").write_text("<html><body>passed</body></html>")
    with runs.open_run(uri) as run:
        runs.log_validation(reports)
    listed = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "validation")}
    assert listed == {"validation/validation.json", "validation/validation.html"}


def test_holdout_metrics_reach_the_logged_model_with_their_dataset(tracked, tmp_path):
    import mlflow
    import sklearn
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    uri, _ = tracked
    frame = load_diabetes(as_frame=True).frame
    frame.to_csv("holdout.csv", index=False)
    model = Ridge().fit(frame.drop(columns="target"), frame["target"])
    with runs.open_run(uri) as run:
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    model_id = runs.logged_model_id(logged.model_uri)
    assert model_id == logged.model_id
    with runs.open_run(uri, run_id=run.info.run_id):
        dataset = runs.log_dataset(frame, "holdout.csv", "holdout", "target")
        mlflow.log_metrics({"holdout_score": 0.5}, model_id=model_id, dataset=dataset)
    linked = [m for m in mlflow.get_logged_model(model_id).metrics if m.key == "holdout_score"]
    assert [(m.dataset_name, m.dataset_digest) for m in linked] == [
        ("holdout", runs.file_md5("holdout.csv"))
    ]
    assert mlflow.get_run(run.info.run_id).data.metrics["holdout_score"] == 0.5


def test_only_a_logged_models_uri_names_one():
    assert runs.logged_model_id("models:/m-0a1b") == "m-0a1b"
    for uri in ("runs:/abc/model", "models:/churn/3", "models:/churn@production", "m-0a1b"):
        assert runs.logged_model_id(uri) is None
