"""Bad answers are refused before anything is written; odd but valid ones stay data."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest
import yaml
from support.project import ROOT

INVALID = [
    ({"project_slug": "My Project"}, "project_slug 'My Project' is not a valid distribution"),
    ({"project_slug": "class"}, "project_slug 'class' is a Python keyword"),
    ({"project_slug": "-lead"}, "is not a valid distribution name"),
    ({"package_name": "my-package"}, "package_name 'my-package' is not a valid Python"),
    ({"package_name": "2fast"}, "is not a valid Python identifier"),
    ({"package_name": "import"}, "package_name 'import' is a Python keyword"),
    ({"package_name": "json"}, "package_name 'json' would shadow a module"),
    ({"package_name": "mlflow"}, "would shadow a module"),
    ({"primary_metric": "rmse"}, "primary_metric 'rmse' does not fit task 'classification'"),
    ({"task": "regression", "primary_metric": "f1"}, "primary_metric 'f1' does not fit task"),
    ({"task": "clustering"}, "task 'clustering' is not supported (choose classification or"),
    ({"model_family": "torch"}, "model_family 'torch' is not supported (choose sklearn or"),
    ({"deploy_target": "nomad"}, "deploy_target 'nomad' is not supported (choose docker or"),
    ({"python_version": "3.9"}, "python_version '3.9' is not supported (choose 3.11 or 3.12)"),
    ({"sample_dataset": "maybe"}, "sample_dataset 'maybe' is not supported (choose yes or no)"),
    ({"container_registry": "GHCR.io/Owner"}, "container_registry 'GHCR.io/Owner' is not"),
    ({"container_registry": "ghcr.io/owner; rm -rf /"}, "is not a registry reference"),
    ({"actions_repository": "just-a-name"}, "actions_repository 'just-a-name' must look like"),
    ({"actions_ref": "v1..v2"}, "actions_ref 'v1..v2' is not a valid git ref"),
    ({"actions_ref": "$(whoami)"}, "is not a valid git ref"),
    ({"registered_model_name": "bad name!"}, "'bad name!' is not a valid MLflow model name"),
    ({"mlflow_tracking_uri": "not a uri"}, "mlflow_tracking_uri 'not a uri' is not"),
    (
        {"mlflow_tracking_uri": "https://team:S3cret@mlflow.example.com"},
        "mlflow_tracking_uri 'https://team:***@mlflow.example.com' holds a password: credentials "
        "belong in secrets (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)",
    ),
    ({"gpu_runner_labels": "gpu; curl evil"}, "gpu_runner_labels 'gpu; curl evil' must be"),
    ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address"),
    ({"description": "two\nlines"}, "description must be one line"),
    ({"project_name": "Name\r\n[tool.evil]"}, "project_name must be one line"),
]


LONG_NAME = "Tumor " * 67  # 402 characters: its slug made a 61-line OSError before the guard
INVALID += [
    ({"project_name": LONG_NAME}, "project_name must be one line of 1 to 300 printable"),
    ({"project_name": "x" * 200}, "is not a valid distribution name (up to 64"),
    ({"description": "{{ nope }}"}, "answer '{{ nope }}' holds template markup"),
    ({"project_name": "{{ cookiecutter.nope }}"}, "holds template markup ({{, {%, {#)"),
    ({"author_name": "{% for x in y %}"}, "holds template markup"),
    ({"project_slug": "orjson"}, "project_slug 'orjson' is the name of a package the project"),
    ({"project_slug": "prometheus-client"}, "is the name of a package the project depends on"),
    ({"project_slug": "scikit-learn"}, "is the name of a package the project depends on"),
    ({"project_slug": "mlops-toolkit"}, "is the name of a package the project depends on"),
    ({"project_slug": "joblib"}, "project_slug 'joblib' is the name of a package"),
    ({"package_name": "prometheus_client"}, "would shadow a module the project imports"),
    ({"package_name": "skops"}, "package_name 'skops' would shadow a module"),
    ({"package_name": "uvicorn"}, "would shadow a module"),
    ({"package_name": "sklearn"}, "would shadow a module"),
    ({"package_name": "yaml"}, "would shadow a module"),
    ({"package_name": "mlops_toolkit"}, "would shadow a module"),
]


def run_cli(tmp_path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    """The real command line, as a user types it (argv may hold a newline, a shell cannot)."""
    out = tmp_path / "out"
    out.mkdir()
    pairs = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        ["cookiecutter", "--no-input", str(ROOT), "-o", str(out), *pairs],
        capture_output=True,
        text=True,
        check=False,
    )


def run_cookiecutter(tmp_path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    """The Python API, as a library caller uses it: a refusal is one CookiecutterException."""
    code = (
        "import json, sys\n"
        "from cookiecutter.exceptions import CookiecutterException\n"
        "from cookiecutter.main import cookiecutter\n"
        "try:\n"
        "    cookiecutter(sys.argv[1], no_input=True, output_dir=sys.argv[2],\n"
        "                 extra_context=json.loads(sys.argv[3]))\n"
        "except CookiecutterException as error:\n"
        "    sys.exit(f'{type(error).__name__}: {error}')\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(out), json.dumps(answers)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("answers", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_answer_is_one_line_and_nothing_written(tmp_path, answers, message):
    result = run_cli(tmp_path, answers)
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, result.stdout + result.stderr  # no traceback, no context dump
    assert lines[0].startswith("Error: ") and message in lines[0], lines
    assert result.stderr.strip() == lines[0]
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    "answers",
    [
        {"package_name": "class"},
        {"project_name": LONG_NAME},
        {"description": "{{ x }}"},
        {"project_slug": "uvicorn"},
    ],
    ids=["keyword", "long-name", "jinja", "dependency"],
)
def test_api_refusal_is_one_cookiecutter_exception(tmp_path, answers):
    result = run_cookiecutter(tmp_path, answers)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()  # nothing logged on the way: only the caller's line
    assert len(lines) == 1 and lines[0].startswith("AnswerRefused: "), result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def guard():
    sys.path.insert(0, str(ROOT))
    try:
        import template_guard
    finally:
        sys.path.remove(str(ROOT))
    return template_guard


def test_refused_names_follow_the_template_dependencies():
    names = guard().dependencies()
    assert {"orjson", "skops", "uvicorn", "prometheus-client", "mlflow", "xgboost", "dvc"} <= names
    assert {"mlops-toolkit", "docker"} <= names  # the platform package and its own dependencies
    assert {"joblib", "scipy", "flask"} <= names  # what they pull in, where installed (here)


def test_import_names_known_without_installed_metadata():
    """Where a dependency is not installed, its import names come from its name or IMPORT_NAMES.

    Every direct dependency installed here proves that fallback complete for it.
    """
    from importlib import metadata

    module = guard()
    installed = metadata.packages_distributions()
    checked = 0
    for dist in module.direct_dependencies():
        imports = {
            name
            for name, dists in installed.items()
            if dist in map(module.normalize, dists)
            and name.isidentifier()
            and not name.startswith("_")
        }
        fallback = {dist.replace("-", "_")} | module.IMPORT_NAMES.get(dist, set())
        assert imports <= fallback, (dist, imports - fallback)
        checked += bool(imports)
    assert checked >= 10


TRICKY = {
    "project_name": 'Quote "Me" \\ Back',
    "project_slug": "quote-me",
    "description": 'Says "hi"; \\n is not a newline\'s escape """ \'\'\' $(whoami) `id`',
    "author_name": "O'Brien \\\" Jr [tool.poetry]",
    "registered_model_name": "quote.me-v1_x",
    "mlflow_tracking_uri": "http://127.0.0.1:5000/#x=\\",
}


def test_quotes_and_backslashes_stay_data(tmp_path):
    answers = dict(TRICKY)
    answers["mlflow_tracking_uri"] = "http://127.0.0.1:5000/path?x=1&y=2"
    result = run_cookiecutter(tmp_path, answers)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "out" / "quote-me"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == TRICKY["description"]
    assert pyproject["project"]["authors"][0]["name"] == TRICKY["author_name"]
    assert set(pyproject) == {"project", "build-system", "tool", "dependency-groups"}
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["mlflow"]["registered_model_name"] == TRICKY["registered_model_name"]
    assert params["mlflow"]["tracking_uri"] == answers["mlflow_tracking_uri"]
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["description"] == TRICKY["description"]
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(project / "src")], check=False
    )
    assert compiled.returncode == 0


@pytest.mark.parametrize("password", ["a", "p%40ss", "p@ss:word"])
def test_tracking_uri_with_a_password_is_refused_without_echoing_it(tmp_path, password):
    """README.md, params.yaml and .cruft.json would hold it: one line, the password masked."""
    uri = f"https://user:{password}@mlflow.example.com:8443/team"
    result = run_cli(tmp_path, {"mlflow_tracking_uri": uri})
    assert result.returncode == 1 and list((tmp_path / "out").iterdir()) == []
    [line] = result.stderr.splitlines()
    assert "'https://user:***@mlflow.example.com:8443/team' holds a password" in line
    assert f":{password}@" not in line and line.count("@") == 1


def test_tracking_uri_with_a_quote_is_refused(tmp_path):
    result = run_cookiecutter(tmp_path, {"mlflow_tracking_uri": 'http://x/"\nevil: 1'})
    assert result.returncode != 0
    assert "mlflow_tracking_uri" in result.stderr


def test_cruft_state_records_answers_not_this_machine(tmp_path):
    result = run_cli(tmp_path, {"project_slug": "origin-check"})
    assert result.returncode == 0, result.stderr
    project = tmp_path / "out" / "origin-check"
    state = json.loads((project / ".cruft.json").read_text())
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # Generated from a local clone: cruft clones that path later, at the commit recorded here.
    assert state["template"] == str(ROOT)
    assert state["commit"] == head
    assert state["skip"] == ["data", "expectations/dataset.json"]
    answers = state["context"]["cookiecutter"]
    assert answers["project_slug"] == "origin-check"
    assert answers["_template"] == str(ROOT) and answers["_commit"] == head
    assert not {"_output_dir", "_repo_dir", "_checkout", "_extensions", "__answers"} & set(answers)
    assert str(tmp_path) not in json.dumps(state)
    assert not (project / ".cookiecutter.json").exists()
    check = subprocess.run(
        ["cruft", "check"], cwd=project, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "up to date" in check.stdout


def test_cruft_create_works_too(tmp_path):
    """cruft create writes its own .cruft.json; the platform still installs from this checkout."""
    result = subprocess.run(
        ["cruft", "create", str(ROOT), "--no-input", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    project = tmp_path / "tumor-classifier"
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(ROOT)
    # Not cruft's temporary clone, which is gone once create returns.
    assert (project / ".toolkit-source").read_text().strip() == str(ROOT / "actions")
    check = subprocess.run(["cruft", "check"], cwd=project, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
