"""The composite wrappers: valid, documented, wired to real CLI flags, and runnable."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ACTIONS_SRC, REPO, register_version
from mlops_toolkit import cli as toolkit_cli

ACTIONS = sorted(p.parent for p in (REPO / "actions").glob("*/action.yml"))
EXPECTED = {
    "validate-data",
    "train",
    "gate",
    "register",
    "promote",
    "build-image",
    "deploy",
    "set-alias",
    "find-candidate",
    "report",
    "rollback",
    "setup",
    "doctor",
    "pull-data",
    "ssh-setup",
    "labels",
    "score",
    "sweep",
    "webhook",
    "monitor",
    "retrain-data",
}
# Every action but `setup` (which only installs the package) wraps one toolkit subcommand.
WRAPPERS = [a for a in ACTIONS if a.name != "setup"]


def load(action: Path) -> dict:
    return yaml.safe_load((action / "action.yml").read_text())


def test_every_action_exists():
    assert {a.name for a in ACTIONS} == EXPECTED


def test_every_action_is_listed_in_the_readme_and_the_architecture():
    readme = (REPO / "actions" / "README.md").read_text()
    listed = set(re.findall(r"^\| \[([a-z-]+)\]\(\1/\) \|", readme, re.M))
    architecture = (REPO / "docs" / "architecture.md").read_text()
    line = architecture[architecture.index("- Actions: ") :].split(". Each")[0]
    named = set(re.findall(r"[a-z]+(?:-[a-z]+)*", line.split(":", 1)[1].split("(")[0]))
    assert listed == EXPECTED, listed ^ EXPECTED
    assert named == EXPECTED, named ^ EXPECTED


def subcommand_flags(name: str) -> set[str]:
    parser = toolkit_cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {opt for act in sub.choices[name]._actions for opt in act.option_strings}


@pytest.mark.parametrize("action", WRAPPERS, ids=lambda p: p.name)
def test_wrapper_calls_one_subcommand_with_real_flags(action):
    spec = load(action)
    assert spec["runs"]["using"] == "composite"
    run = spec["runs"]["steps"][-1]["run"]
    command = re.search(r"mlops_toolkit\.cli ([a-z-]+)", run)[1]
    assert command == action.name
    flags = set(re.findall(r"(--[a-z-]+) ", run))
    for step in spec["runs"]["steps"]:  # the true/false inputs become flags in env: (FLAG_*)
        for value in step.get("env", {}).values():
            flags |= set(re.findall(r"'(--[a-z-]+)", str(value)))
    assert flags <= subcommand_flags(command), flags - subcommand_flags(command)
    # Inputs reach bash only through env:, never as ${{ }} inside run:.
    for step in spec["runs"]["steps"]:
        assert "${{" not in step["run"]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda p: p.name)
def test_readme_documents_every_input_and_output(action):
    spec = load(action)
    readme = (action / "README.md").read_text()
    for name in list(spec["inputs"]) + list(spec["outputs"]):
        assert f"| `{name}` |" in readme, name
    assert "```yaml" in readme and f"actions/{action.name}@v1" in readme


@pytest.mark.parametrize("action", ACTIONS, ids=lambda p: p.name)
def test_no_expression_where_act_refuses_one(action):
    """act reads `${{` in a description as an expression and refuses the whole action
    ("expressions are not allowed here"); defaults may hold them (`github.token`)."""
    spec = load(action)
    for name, field in {**spec.get("inputs", {}), **spec.get("outputs", {})}.items():
        assert "${{" not in str(field.get("description", "")), name


def test_action_linters_pass():
    files = [str(a / "action.yml") for a in ACTIONS]
    schema = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-actions", *files],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        ["zizmor", "--offline", str(REPO / "actions")], capture_output=True, text=True
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")  # up to the first }} (format's {0} inside)
# The one mapping of a true/false input to a flag pair (GitHub compares strings ignoring case);
# any other value reaches argparse as `--name=VALUE` and fails in one line, never silently false.
FLAG_RE = re.compile(
    r"inputs\.([a-z-]+) == 'true' && '--\1' \|\| inputs\.\1 == 'false' && '--no-\1'"
    r" \|\| format\('--\1=\{0\}', inputs\.\1\)"
)


def boolean_flags(name: str) -> set[str]:
    """The subcommand's options that are --x/--no-x pairs."""
    parser = toolkit_cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {
        act.option_strings[0]
        for act in sub.choices[name]._actions
        if isinstance(act, argparse.BooleanOptionalAction)
    }


@pytest.mark.parametrize("action", WRAPPERS, ids=lambda p: p.name)
def test_every_boolean_option_is_a_true_false_input_mapped_to_its_flag(action):
    """Each --x/--no-x of the subcommand is reached from input `x` by the one mapping, and
    nothing passes a true/false string as a value any more."""
    spec = load(action)
    step = spec["runs"]["steps"][-1]
    env = {k: str(v) for k, v in step.get("env", {}).items()}
    mapped = {}
    for key, value in env.items():
        match = EXPR.fullmatch(value)
        if match and "==" in match[1]:
            assert FLAG_RE.fullmatch(match[1]), (key, value)
            mapped[key] = FLAG_RE.fullmatch(match[1])[1]
    names = set(mapped.values())
    assert {f"--{n}" for n in names} == boolean_flags(action.name)
    for key, name in mapped.items():
        assert spec["inputs"][name]["default"] in ("true", "false"), name
        assert f'"${key}"' in step["run"] and f"--{name} " not in step["run"], name


def evaluate(expression: str, context: dict[str, str]) -> str:
    """`inputs.x`, `github.x`, or the flag mapping above, as the runner evaluates them."""
    match = FLAG_RE.fullmatch(expression)
    if match is None:
        return context[expression]
    value = context[f"inputs.{match[1]}"]
    if value.lower() in ("true", "false"):
        return ("--" if value.lower() == "true" else "--no-") + match[1]
    return f"--{match[1]}={value}"


def run_composite(action: Path, inputs: dict[str, str], workdir: Path, extra_env: dict):
    """Run a composite action's steps the way the runner does (inputs -> env -> bash)."""
    spec = load(action)
    values = {k: str(v.get("default", "")) for k, v in spec["inputs"].items()}
    values.update(inputs)
    context = {f"inputs.{k}": v for k, v in values.items()}
    context["github.action_path"] = str(action)
    context["github.token"] = "test-token"

    def render(text: str) -> str:
        return EXPR.sub(lambda m: evaluate(m[1], context), str(text))

    output = workdir / "github_output"
    output.touch()
    for step in spec["runs"]["steps"]:
        condition = step.get("if")
        if condition and render(
            "${{ " + condition.split("==")[0].strip() + " }}"
        ) != condition.split("==")[1].strip().strip("'"):
            continue
        env = {
            **os.environ,
            **extra_env,
            "GITHUB_OUTPUT": str(output),
            **{k: render(v) for k, v in step.get("env", {}).items()},
        }
        cwd = workdir / render(step.get("working-directory", "."))
        result = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            return result, output
    return result, output


def test_promote_action_runs_end_to_end(mlflow_server, logged, model_name, tmp_path):
    version = register_version(model_name, logged["good"][1])
    result, output = run_composite(
        REPO / "actions" / "promote",
        {
            "model-name": model_name,
            "version": version,
            "install": "false",
            "python": sys.executable,
        },
        tmp_path,
        {"PYTHONPATH": str(ACTIONS_SRC)},
    )
    assert result.returncode == 0, result.stderr
    assert f"\n{version}\n" in output.read_text()


def test_gate_action_fails_the_step_with_outputs_written(
    mlflow_server, logged, holdout_csv, model_name, tmp_path, gate_yaml
):
    project = tmp_path / "project"
    project.mkdir()
    (project / "gate.yaml").write_text(gate_yaml(min_value=0.99).read_text())
    result, output = run_composite(
        REPO / "actions" / "gate",
        {
            "model-name": model_name,
            "holdout": str(holdout_csv),
            "candidate": logged["bad"][1],
            "working-directory": "project",
            "install": "false",
            "python": sys.executable,
            "tracking-uri": mlflow_server.uri,
        },
        tmp_path,
        {"PYTHONPATH": str(ACTIONS_SRC), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    )
    assert result.returncode == 2
    text = output.read_text()
    assert "passed<<" in text and "\nfalse\n" in text
    assert (project / "reports" / "gate" / "gate.md").is_file()


@pytest.mark.parametrize(
    ("value", "code", "passed"), [("true", 2, "false"), ("false", 0, "false"), ("yes", 2, None)]
)
def test_true_false_input_becomes_the_flag(tmp_path, value, code, passed):
    """validate-data's `fail-on-invalid` through the composite step: "false" reaches the CLI as
    --no-fail-on-invalid; a value that is neither fails the step in argparse's one line."""
    write = (
        "import json, os; os.makedirs('reports', exist_ok=True); "
        "json.dump({'success': False, 'evaluated': 1, 'failed': 1, 'failures': []}, "
        "open('reports/validation.json', 'w'))"
    )
    result, output = run_composite(
        REPO / "actions" / "validate-data",
        {
            "command": f'{sys.executable} -c "{write}"',
            "fail-on-invalid": value,
            "install": "false",
            "python": sys.executable,
        },
        tmp_path,
        {"PYTHONPATH": str(ACTIONS_SRC)},
    )
    assert result.returncode == code, result.stderr
    if passed is None:
        assert result.stderr.splitlines()[-1] == (
            "mlops-toolkit validate-data: error: argument --fail-on-invalid/--no-fail-on-invalid:"
            " ignored explicit argument 'yes'"
        )
        assert not output.read_text()
    else:
        assert "passed<<" in output.read_text() and f"\n{passed}\n" in output.read_text()


@pytest.mark.slow  # a venv and a real install: out of the fast tier
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_install_step_installs_the_package(tmp_path, installer):
    """The install step builds the package from the action's folder (into a fresh venv), with
    pip or with uv (install.py picks uv when the runner has it), once per job."""
    from support.act_env import host_env

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    # A copy of the actions, as a runner checks out a ref: the test environment's own editable
    # install (from this checkout) must not count as "already installed" from there.
    import shutil

    actions = tmp_path / "ref" / "actions"
    shutil.copytree(
        REPO / "actions",
        actions,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    action = actions / "promote"
    step = load(action)["runs"]["steps"][0]
    # uv as act's jobs here run it (its dependencies are the host's: support/act_env.py); pip
    # resolves them against the host's packages, which the venv sees.
    env = {**os.environ, "ACTION_PATH": str(action), "PYTHON": str(python)}
    env |= {"MLOPS_INSTALLER": installer, **(host_env() if installer == "uv" else {})}
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "already installed" not in result.stdout
    help_text = subprocess.run(
        [str(venv / "bin" / "mlops-toolkit"), "--help"], capture_output=True, text=True
    )
    assert "build-image" in help_text.stdout
    # A second toolkit step of the same job (another action, same ref) installs nothing.
    env["ACTION_PATH"] = str(actions / "gate")
    again = subprocess.run(
        ["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already installed" in again.stdout
