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
    ({"python_version": "3.9"}, "python_version '3.9' is not supported (choose 3.11 or 3.12)"),
    ({"sample_dataset": "maybe"}, "sample_dataset 'maybe' is not supported (choose yes or no)"),
    ({"container_registry": "GHCR.io/Owner"}, "container_registry 'GHCR.io/Owner' is not"),
    ({"container_registry": "ghcr.io/owner; rm -rf /"}, "is not a registry reference"),
    ({"actions_repository": "just-a-name"}, "actions_repository 'just-a-name' must look like"),
    ({"actions_ref": "v1..v2"}, "actions_ref 'v1..v2' is not a valid git ref"),
    ({"actions_ref": "$(whoami)"}, "is not a valid git ref"),
    ({"registered_model_name": "bad name!"}, "'bad name!' is not a valid MLflow model name"),
    ({"mlflow_tracking_uri": "not a uri"}, "mlflow_tracking_uri 'not a uri' is not"),
    ({"gpu_runner_labels": "gpu; curl evil"}, "gpu_runner_labels 'gpu; curl evil' must be"),
    ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address"),
    ({"description": "two\nlines"}, "description must be one line"),
    ({"project_name": "Name\r\n[tool.evil]"}, "project_name must be one line"),
]


def run_cookiecutter(tmp_path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    """The real command line, as a user runs it (values cannot hold newlines there)."""
    code = (
        "import json, sys; from cookiecutter.main import cookiecutter; "
        "cookiecutter(sys.argv[1], no_input=True, output_dir=sys.argv[2], "
        "extra_context=json.loads(sys.argv[3]))"
    )
    out = tmp_path / "out"
    out.mkdir()
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(out), json.dumps(answers)],
        capture_output=True, text=True, check=False,
    )


@pytest.mark.parametrize(("answers", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_answer_is_refused_and_nothing_written(tmp_path, answers, message):
    result = run_cookiecutter(tmp_path, answers)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_reports_the_hook_failure(tmp_path):
    result = subprocess.run(
        ["cookiecutter", str(ROOT), "--no-input", "-o", str(tmp_path), "package_name=class"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0
    assert "ERROR: package_name 'class' is a Python keyword" in result.stderr
    assert list(tmp_path.iterdir()) == []


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
    recorded = json.loads((project / ".cookiecutter.json").read_text())
    assert recorded["description"] == TRICKY["description"]
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(project / "src")], check=False
    )
    assert compiled.returncode == 0


def test_tracking_uri_with_a_quote_is_refused(tmp_path):
    result = run_cookiecutter(tmp_path, {"mlflow_tracking_uri": 'http://x/"\nevil: 1'})
    assert result.returncode != 0
    assert "mlflow_tracking_uri" in result.stderr
