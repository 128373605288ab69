"""`mlops-toolkit sweep` on generated projects' samples: a real Optuna study over the project's
own model factory, a real MLflow store (the embedded SQLite file, and a server on PostgreSQL
with the study in a PostgreSQL database of its own), the best values written into params.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from mlops_toolkit import metrics, names
from mlops_toolkit.tuning import study
from support.project import bake
from support.stores import pg_url  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("toolkit-sweep")]
COUNTED = ("COMPLETE", "PRUNED")


def prepared(root: Path, **answers: str) -> Path:
    """A generated project with its sample split written by its own prepare-data."""
    project = bake(root, **answers)
    package = project.name.replace("-", "_")
    result = subprocess.run(
        [sys.executable, "-m", package, "prepare-data"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    return prepared(tmp_path_factory.mktemp("sweep-clf"))


@pytest.fixture(scope="module")
def regressor(tmp_path_factory) -> Path:
    return prepared(tmp_path_factory.mktemp("sweep-reg"), task="regression", model_family="xgboost")


@pytest.fixture
def project(classifier: Path, tmp_path: Path) -> Path:
    """A private copy of the classifier (its params.yaml and stores are the test's own)."""
    return Path(shutil.copytree(classifier, tmp_path / classifier.name))


def sweep(cwd: Path, *args: str, env: dict | None = None, **popen):
    """The real CLI in the project's folder; the embedded store unless env names a server."""
    full = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full.update(env or {})
    command = [sys.executable, "-m", "mlops_toolkit.cli", "sweep", *args]
    if popen:
        return subprocess.Popen(command, cwd=cwd, env=full, **popen)
    return subprocess.run(command, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def set_sweep(project: Path, **section) -> None:
    params = project / "params.yaml"
    text = params.read_text()
    head = text[: text.index("\nsweep:\n")]
    tail = text[text.index("\nevaluate:\n") :]
    params.write_text(head + "\n" + yaml.safe_dump({"sweep": section}) + tail)


def runs_of(uri: str, experiment: str) -> tuple[object, list]:
    """(the parent run, its child runs) of the sweep experiment."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [r for r in found if names.TAG_SWEEP_PARENT not in r.data.tags]
    children = [r for r in found if names.TAG_SWEEP_PARENT in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    return parents[0], children


def check_sweep(project: Path, uri: str, experiment: str, trials: int, before: str) -> None:
    """One parent, a child per trial linked to it, the best child's values in params.yaml."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    metric = params["evaluate"]["primary_metric"]
    parent, children = runs_of(uri, experiment)
    tags = parent.data.tags
    assert parent.info.status == "FINISHED"
    assert tags[names.TAG_SWEEP_DIRECTION] == metrics.get(metric).direction
    numbers = sorted(int(r.data.tags[names.TAG_SWEEP_TRIAL]) for r in children)
    assert numbers == list(range(trials))
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags[names.TAG_SWEEP_PARENT] == parent.info.run_id
        assert child.data.tags[names.TAG_SWEEP_STATE] in COUNTED
    complete = [r for r in children if r.data.tags[names.TAG_SWEEP_STATE] == "COMPLETE"]
    key = f"cv_{metric}"
    pick = max if metrics.higher_is_better(metric) else min
    top = pick(r.data.metrics[key] for r in complete)
    # Trials may tie on the score (the sample's AUC saturates); which of them is the study's
    # best is the storage's choice (PostgreSQL's ORDER BY ... LIMIT 1 takes any), so the linked
    # run is one of the best, and the best params are its own.
    tied = {r.info.run_id: r for r in complete if r.data.metrics[key] == top}
    assert tags[names.TAG_SWEEP_BEST_RUN] in tied, (tags[names.TAG_SWEEP_BEST_RUN], top)
    best = tied[tags[names.TAG_SWEEP_BEST_RUN]]
    assert parent.data.metrics[f"best_{key}"] == best.data.metrics[key]
    values = json.loads(tags[names.TAG_SWEEP_BEST_PARAMS])
    assert {f"model.{k}": str(v) for k, v in values.items()} == best.data.params
    assert params["model"]["params"] == {**yaml.safe_load(before)["model"]["params"], **values}
    # Only the swept values changed: every other line (comments too) is as it was.
    changed = [
        (a, b)
        for a, b in zip(
            before.splitlines(), (project / "params.yaml").read_text().splitlines(), strict=True
        )
        if a != b
    ]
    assert {a.split(":")[0].strip() for a, _ in changed} <= set(values)  # an equal value: kept


def test_eight_trials_on_the_embedded_store(project):
    before = (project / "params.yaml").read_text()
    result = sweep(project, "--trials", "8", "--parallel", "2")
    assert result.returncode == 0, result.stderr
    assert (project / study.STORE_FILE).is_file()
    check_sweep(project, f"sqlite:///{project / 'mlflow.db'}", "tumor-classifier-sweeps", 8, before)


def test_a_regressor_minimises_its_error(regressor, tmp_path):
    project = Path(shutil.copytree(regressor, tmp_path / regressor.name))
    set_sweep(
        project,
        folds=3,
        space={
            "max_depth": {"low": 2, "high": 6},
            "n_estimators": {"low": 20, "high": 60, "step": 20},
        },
    )
    before = (project / "params.yaml").read_text()
    result = sweep(project, "--trials", "3")
    assert result.returncode == 0, result.stderr
    check_sweep(project, f"sqlite:///{project / 'mlflow.db'}", f"{project.name}-sweeps", 3, before)


def counted(storage: Path) -> int:
    """Trials stored in the study's journal (read while the sweep appends to it)."""
    if not storage.is_file():  # not created yet
        return 0
    journal = study.open_storage(str(storage))
    ids = [journal.get_study_id_from_name(s.study_name) for s in journal.get_all_studies()]
    return sum(
        trial.state.name in COUNTED
        for i in ids
        for trial in journal.get_all_trials(i, deepcopy=False)
    )


def test_an_interrupted_sweep_resumes_where_it_stopped(project):
    set_sweep(project, folds=20, space={"C": {"low": 0.001, "high": 100.0, "log": True}})
    storage = project / study.STORE_FILE
    proc = sweep(project, "--trials", "6", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while counted(storage) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cut = counted(storage)
    assert 2 <= cut < 6, f"killed after {cut} trials"
    result = sweep(project, "--trials", "6")
    assert result.returncode == 0, result.stderr
    assert counted(storage) == 6
    assert f"{6 - cut} trial(s) to run ({cut} of 6 done)" in result.stderr
    parent, children = runs_of(f"sqlite:///{project / 'mlflow.db'}", "tumor-classifier-sweeps")
    states = [r.data.tags[names.TAG_SWEEP_STATE] for r in children]
    assert sum(state in COUNTED for state in states) == 6
    assert set(states) - set(COUNTED) <= {"FAIL"}  # the trial the kill cut off, if any
    assert len({r.data.tags[names.TAG_SWEEP_TRIAL] for r in children}) == len(children)
    assert parent.info.status == "FINISHED"


@pytest.mark.parametrize(
    ("section", "args", "message"),
    [
        ({"space": {"colour": {"low": 1, "high": 2}}}, (), "sweep.space: model.params: "),
        ({"space": {}}, (), "sweep.space is empty: nothing to search"),
        ({"space": {"C": {"low": 2, "high": 1}}}, (), "sweep.space.C: low (2) must be below"),
        (None, ("--trials", "0"), "--trials must be at least 1, got 0"),
        (None, ("--parallel", "0"), "--parallel must be at least 1, got 0"),
        (None, ("--metric", "rmse"), "metric 'rmse' is for regression"),
    ],
)
def test_bad_input_is_one_line_and_nothing_written(project, section, args, message):
    if section is not None:
        set_sweep(project, **section)
    before = (project / "params.yaml").read_text()
    result = sweep(project, "--trials", "2", *args)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert (project / "params.yaml").read_text() == before
    assert not (project / study.STORE_FILE).exists()


@pytest.mark.postgres
def test_eight_trials_on_a_postgres_tracking_server(project, request, tmp_path):
    """The team's option: MLflow on PostgreSQL, the study in a PostgreSQL database beside it."""
    database = request.getfixturevalue("pg_url")  # a new database, dropped after the session
    import psycopg
    from support.servers import start_mlflow, stop

    tracking_db = f"mlflow_{uuid.uuid4().hex[:8]}"
    admin = database.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {tracking_db}")
    backend = database.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    server = start_mlflow(tmp_path / "server", backend=f"{backend}/{tracking_db}")
    try:
        before = (project / "params.yaml").read_text()
        env = {"MLFLOW_TRACKING_URI": server.uri, names.ENV_SWEEP_STORAGE: database}
        result = sweep(project, "--trials", "8", "--parallel", "2", env=env)
        assert result.returncode == 0, result.stderr
        assert not (project / study.STORE_FILE).exists()
        check_sweep(project, server.uri, "tumor-classifier-sweeps", 8, before)
        with psycopg.connect(database) as db:
            states = dict(
                db.execute("SELECT state, count(*) FROM trials GROUP BY state").fetchall()
            )
        assert sum(states.get(state, 0) for state in COUNTED) == 8
    finally:
        stop(server.proc)
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {tracking_db} WITH (FORCE)")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def test_the_best_params_are_proposed_as_one_pull_request(project, tmp_path):
    """--propose: params.yaml on sweep/<study>-<parent run> pushed to origin, one pull request
    into the branch the sweep ran on; the same study again finds it instead of opening another."""
    from support.github_api import GitHubStandIn

    git(project, "init", "-q", "-b", "main")
    git(project, "add", "params.yaml")
    git(project, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "start")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(project, "push", "-q", "origin", "main")
    repo, token = "team/churn", "sweep-token"
    with GitHubStandIn(token=token) as api:
        env = {
            "GITHUB_API_URL": api.url,
            "GITHUB_REPOSITORY": repo,
            "GITHUB_TOKEN": token,
            "GITHUB_REF_NAME": "main",
        }
        result = sweep(project, "--trials", "2", "--propose", env=env)
        assert result.returncode == 0, result.stderr
        (pull,) = api.pull_requests_of(repo)
        branch = pull["head"]["ref"]
        assert branch.startswith("sweep/tumor-classifier-f1-") and pull["base"]["ref"] == "main"
        assert git(tmp_path / "origin.git", "diff", "--name-only", "main", branch).split() == [
            "params.yaml"
        ]
        proposed = git(tmp_path / "origin.git", "show", f"{branch}:params.yaml")
        assert proposed == (project / "params.yaml").read_text()
        best = yaml.safe_load(proposed)["model"]["params"]
        assert all(f"`{key}`" in pull["body"] for key in best if key != "max_iter")
        again = sweep(project, "--trials", "2", "--propose", env=env)
        assert again.returncode == 0, again.stderr
        assert len(api.pull_requests_of(repo, "all")) == 1
        assert pull["html_url"] in again.stderr
        assert token not in result.stderr + again.stderr
