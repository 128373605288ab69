"""Generated projects install, lint, test and run their own pipeline, as a user would."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from support.project import bake, python_for

pytestmark = pytest.mark.slow

# (answers, run the pipeline?, generated inside another git repository, a monorepo?)
MATRIX = [
    ({}, True, False),
    ({"task": "regression", "model_family": "xgboost", "primary_metric": "rmse"}, True, True),
    ({"python_version": "3.12", "sample_dataset": "no"}, False, False),
]


def without(environment: Mapping[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in environment.items() if k != name}


def make(project: Path, target: str, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["make", target],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        # The Makefile's own default for uv's bytecode (`installed` checks it), not the caller's.
        env={**without(os.environ, "UV_COMPILE_BYTECODE"), "UV_PYTHON_DOWNLOADS": "never", **env},
    )
    assert result.returncode == 0, f"make {target}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module", params=MATRIX, ids=["defaults", "regression-xgboost", "py312"])
def installed(request, tmp_path_factory):
    answers, pipeline, in_monorepo = request.param
    interpreter = python_for(answers.get("python_version", "3.11"))
    if interpreter is None:
        pytest.skip(f"no Python {answers['python_version']} interpreter on this machine")
    where = tmp_path_factory.mktemp("project")
    if in_monorepo:
        subprocess.run(["git", "init", "-q", where], check=True)
        where = where / "ml"
    project = bake(where, **answers)
    # The team's first commit: generation made the repository and left it to them.
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["add", "-A"], [*identity, "commit", "-qm", "Generated"]):
        subprocess.run(["git", *command], cwd=project, check=True, capture_output=True)
    if answers:
        # Compiling a whole environment's bytecode costs 25-30 CPU-s an install (census); the
        # default project shows the Makefile's default once, the others import lazily.
        make(project, "install", PYTHON=interpreter, UV_COMPILE_BYTECODE="0")
    else:
        make(project, "install", PYTHON=interpreter)
        # The Makefile's default: uv compiles the bytecode (nothing imported mlflow here yet).
        site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
        assert list((site / "mlflow" / "__pycache__").glob("__init__.*.pyc")), "no bytecode"
    return project, answers, pipeline


def test_lint(installed):
    project, _, _ = installed
    make(project, "lint")


def test_poetry_builds_the_distribution(installed, tmp_path):
    project, _, _ = installed
    result = subprocess.run(
        ["poetry", "build", "--output", str(tmp_path)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = next(tmp_path.glob("*.whl"))
    assert wheel.name.startswith(project.name.replace("-", "_") + "-0.1.0-")


def test_own_tests_pass(installed):
    project, _, _ = installed
    result = make(project, "test")
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_pipeline_registers_a_sane_model(installed, tmp_path):
    project, answers, pipeline = installed
    if not pipeline:
        pytest.skip("the pipeline runs for the defaults and one other combination")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        ["make", "pipeline"], cwd=project, capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "mlflow ui --backend-store-uri sqlite:///" in result.stdout
    registered = json.loads((project / "reports" / "registered.json").read_text())
    holdout = json.loads((project / "metrics" / "holdout.json").read_text())
    with sqlite3.connect(project / "mlflow.db") as db:
        versions = db.execute("select name, version, run_id from model_versions").fetchall()
        (description,) = db.execute("select description from model_versions").fetchone()
    assert versions == [(project.name, 1, registered["run_id"])]
    # Its model passport (project.runs.register): on the run, linked from the description.
    assert f"runs:/{registered['run_id']}/passport/passport.html" in description, description
    assert (project / "reports" / "passport" / "passport.html").is_file()
    if answers.get("task", "classification") == "classification":
        assert 0.9 <= holdout["f1"] <= 1.0
        assert 0.95 <= holdout["roc_auc"] <= 1.0
    else:
        assert 0.3 <= holdout["r2"] <= 0.7  # diabetes: a known, modest ceiling
        assert 35 <= holdout["rmse"] <= 75
    assert list((project / ".dvc-remote").rglob("*")), "dvc push left the local remote empty"
    assert_git_offers_only_what_to_commit(project)
    # A teammate's clone: .dvc/config is committed, the local remote (.dvc/config.local) is not.
    (project / ".dvc" / "config.local").unlink()
    again = subprocess.run(
        ["make", "pipeline"], cwd=project, capture_output=True, text=True, env=env, check=False
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "didn't change, skipping" in again.stdout + again.stderr
    assert "DVC remote: the folder .dvc-remote on this machine only" in again.stdout
    assert_dvc_repro_runs_without_the_environment(project, env, tmp_path)


def assert_dvc_repro_runs_without_the_environment(project: Path, env: dict, tmp: Path) -> None:
    """`dvc repro` as DVC users run it: no make, the environment not activated. One stage,
    forced: every stage's command is the same `${cli}` wrapper (dvc.yaml's vars), so the
    cheapest shows it finds .venv/bin; the whole pipeline already ran twice above."""
    bare = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    bare["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(project))
    )
    assert shutil.which(project.name, path=bare["PATH"]) is None
    dvc = str(project / ".venv" / "bin" / "dvc")
    result = subprocess.run(
        [dvc, "repro", "--force", "--single-item", "prepare"],
        cwd=project,
        capture_output=True,
        text=True,
        env=bare,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Running stage 'prepare'" in result.stdout
    # Without the environment anywhere (no .venv/bin, nothing on PATH): the stage's one line.
    command = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["prepare"]["cmd"]
    lost = subprocess.run(
        ["sh", "-c", command], cwd=tmp, capture_output=True, text=True, env=bare, check=False
    )
    assert lost.returncode == 127
    assert lost.stderr.splitlines() == [
        f"{project.name}: command not found: activate the project environment"
        " (. .venv/bin/activate) or run make pipeline"
    ]


def test_failed_commands_record_their_cause_for_the_report(installed, tmp_path):
    """CI's pull-request comment quotes $MLOPS_FAILURE_LOG: each failing command's one line."""
    project, answers, _ = installed
    if answers:  # the toolkit's CLI frame writes the log, the same code in every combination
        pytest.skip("one project is enough to show the failure log")
    cli = str(project / ".venv" / "bin" / project.name)
    failures = tmp_path / "failures.log"
    env = {**os.environ, "MLOPS_FAILURE_LOG": str(failures)}
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["split"]["holdout_fracton"] = params["split"].pop("holdout_fraction")
    typo = tmp_path / "params.yaml"
    typo.write_text(yaml.safe_dump(params))
    for command in (
        ["prepare-data", "--source", str(empty)],
        ["--params", str(typo), "check-gate"],
        ["--params", str(typo), "prepare-data"],
    ):
        result = subprocess.run(
            [cli, *command], cwd=project, capture_output=True, text=True, env=env, check=False
        )
        assert result.returncode == 1, result.stderr
    lines = failures.read_text().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"{project.name} prepare-data: ") and "empty" in lines[0].lower()
    unknown = "params.yaml: unknown key split.holdout_fracton (known: holdout_fraction, "
    assert lines[1].startswith(f"{project.name} check-gate: ") and unknown in lines[1]
    assert lines[2].startswith(f"{project.name} prepare-data: ") and unknown in lines[2]


# What a team never commits: DVC's cache and local settings, the pipeline's data, model, reports
# and plots, the local tracking store, logs, the environment.
NEVER_COMMITTED = (
    ".dvc/cache/",
    ".dvc/tmp/",
    ".dvc/config.local",
    ".dvc-remote/",
    "data/raw/",
    "data/processed/",
    "models/",
    "reports/",
    "plots/",
    "mlflow.db",
    "mlruns/",
    "mlartifacts/",
    "logs/",
    ".venv/",
)


def assert_git_offers_only_what_to_commit(project: Path) -> None:
    """After the team's first commit and a pipeline, `git status` lists what to commit next."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=project, capture_output=True, text=True
    ).stdout.strip()
    prefix = project.resolve().relative_to(Path(top).resolve()).as_posix()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths = {line[3:] for line in status.splitlines()}
    if prefix != ".":  # a monorepo: the project's own files, relative to its folder
        assert not (project / ".git").exists(), "a repository nested in the monorepo"
        paths = {p.removeprefix(f"{prefix}/") for p in paths}
    assert "no_scm" not in (project / ".dvc" / "config").read_text()
    leaked = {p for p in paths if p.startswith(NEVER_COMMITTED)}
    assert not leaked, leaked
    assert paths == {
        "dvc.lock",
        ".dvc/config",
        ".dvc/.gitignore",
        ".dvcignore",
        "metrics/holdout.json",
        "metrics/train.json",
    }, status


SAVE_MODEL = """
import sys
import mlflow
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=5000).fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[1], signature=infer_signature(X, model.predict(X)))
"""


def _served_version(project: Path, model: Path) -> dict:
    """Start the project's `serve` on `model`, return its /version answer, stop it."""
    import signal
    import time
    import urllib.request

    from support.servers import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            str(project / ".venv" / "bin" / project.name),
            "serve",
            "--model",
            str(model),
            "--port",
            str(port),
        ],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_platform_fix_reaches_the_project_by_reinstalling(installed, tmp_path):
    """Change the server in a copy of the platform package: `make install` alone brings it."""
    import shutil

    project, answers, _ = installed
    if answers:
        pytest.skip("one project is enough to show the update path")
    platform = tmp_path / "actions"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "actions",
        platform,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    model = tmp_path / "model"
    subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-c", SAVE_MODEL, str(model)],
        check=True,
        capture_output=True,
    )
    tracked = {
        p: p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and not {".venv", "logs", "__pycache__"} & set(p.parts)
    }
    make(project, "install", TOOLKIT=str(platform), UV_COMPILE_BYTECODE="0")
    assert "platform_fix" not in _served_version(project, model)

    app = platform / "src" / "mlops_toolkit" / "serving" / "app.py"
    text = app.read_text()
    assert '"image_tag": settings.image_tag,' in text
    app.write_text(
        text.replace(
            '"image_tag": settings.image_tag,',
            '"image_tag": settings.image_tag, "platform_fix": 1,',
        )
    )
    make(project, "install", TOOLKIT=str(platform), UV_COMPILE_BYTECODE="0")
    assert _served_version(project, model)["platform_fix"] == 1
    # Nothing of the project was generated again: only the environment changed.
    assert tracked == {
        p: p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and not {".venv", "logs", "__pycache__"} & set(p.parts)
    }
    make(project, "install")  # back to the platform the project was generated with
