"""The command layer: assembly, instant --help, and the one mapping from failures to exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ACTIONS_SRC, cli
from mlops_toolkit import cli as toolkit_cli
from mlops_toolkit import errors
from support.importtime import finished_imports
from support.signals import fresh_signals

ACTIONS = ACTIONS_SRC.parent
# The kept libraries too (docs/architecture.md, dependencies): each is imported where it is used.
HEAVY = ("mlflow", "numpy", "pandas", "sklearn", "docker", "requests", "yaml")
HEAVY += ("jinja2", "markupsafe", "pynvml", "tenacity", "githubkit", "httpx", "dvc")


def test_every_action_calls_a_command_of_its_own():
    """Each action.yml runs `python -m mlops_toolkit.cli <command>` of one command module."""
    names = set(toolkit_cli.build_parser()._subparsers._group_actions[0].choices)
    for action in sorted(ACTIONS.glob("*/action.yml")):
        if action.parent.name == "setup":  # installs the package; runs no command
            continue
        text = action.read_text()
        command = text.split("mlops_toolkit.cli", 1)[1].split()[0].strip("\"'")
        assert command == action.parent.name and command in names, action
    # drift-issue is run by the drift workflow directly, not through an action
    # one subcommand per module (the count grows with every command; no duplicate names)
    assert len(toolkit_cli.COMMANDS) == len(names) >= 15
    for module in toolkit_cli.COMMANDS:
        assert callable(module.add_parser) and callable(module.run)


def test_help_imports_no_heavy_library():
    code = (
        "import sys, mlops_toolkit.cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ACTIONS_SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "rollback" in result.stdout


def _finished_imports(args: list[str], cwd: Path) -> list[str]:
    """The modules a toolkit command imported, in the order their imports finished (-X
    importtime), when it stops at the tracking server: nothing listens on port 9 here."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ACTIONS_SRC),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
    }
    result, finished = finished_imports(["-m", "mlops_toolkit.cli", *args], cwd, env)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "tracking server http://127.0.0.1:9 is unreachable" in result.stderr.splitlines()[-1]
    return finished


@pytest.mark.parametrize(
    "command",
    [
        ["gate", "--candidate", "runs:/0123/model", "--holdout", "x.csv", "--config", "gate.yaml"],
        ["score", "--input", "x.csv"],
    ],
    ids=["gate", "score"],
)
def test_commands_that_load_a_model_import_skops_before_mlflow(tmp_path, gate_yaml, command):
    """skops.io names SciPy's ufuncs at import by searching every module already imported:
    after MLflow's that costs ~0.7 CPU-s more per command (registry/mlmodel.py)."""
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    gate_yaml()
    modules = _finished_imports([*command, "--model-name", "m"], tmp_path)
    assert modules.index("skops.io") < modules.index("mlflow")


def test_skops_trusts_the_same_types_whatever_was_imported_before_it():
    """Importing skops.io first changes the cost of its trusted-type lists, never the lists:
    what a model file may load stays what skops decides."""
    code = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n    importlib.import_module(name)\n"
        "from skops.io import _trusted_types as t\n"
        "print(json.dumps({k: sorted(map(str, v)) for k, v in vars(t).items()"
        " if k.isupper() and isinstance(v, list)}))"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", code, *first], stdout=subprocess.PIPE, text=True)
        for first in ([], ["mlflow"])
    ]
    alone, after_mlflow = (json.loads(run.communicate(timeout=120)[0]) for run in runs)
    assert alone["SCIPY_UFUNC_TYPE_NAMES"] and alone == after_mlflow


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.ToolkitError("x"), 1),
        (errors.InputError("x"), 1),
        (errors.Rejected("x"), 2),
        (errors.DriftDetected("x"), 3),
        (KeyboardInterrupt(), 130),
        (errors.Terminated(), 143),
        (RuntimeError("boom"), 1),
    ],
)
def test_each_failure_has_its_exit_code(exc, code):
    assert errors.outcome(exc)[0] == code


def _failing(exc: BaseException, monkeypatch, capsys, debug: bool = False) -> tuple[int, str]:
    def run(args):
        raise exc

    from mlops_toolkit.commands import promote

    monkeypatch.setattr(promote, "run", run)
    if debug:
        monkeypatch.setenv(errors.DEBUG_ENV, "1")
    else:
        monkeypatch.delenv(errors.DEBUG_ENV, raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code = toolkit_cli.main(["promote", "--model-name", "m", "--version", "1"])
    return code, capsys.readouterr().err


def test_unexpected_error_is_one_line_without_traceback(monkeypatch, capsys):
    code, err = _failing(RuntimeError("first line\nsecond line"), monkeypatch, capsys)
    assert code == 1
    assert err.splitlines() == ["mlops-toolkit promote: error: unexpected RuntimeError: first line"]


def test_debug_shows_the_traceback(monkeypatch, capsys):
    code, err = _failing(RuntimeError("deep"), monkeypatch, capsys, debug=True)
    assert code == 1 and "Traceback (most recent call last)" in err
    assert err.splitlines()[-1] == "mlops-toolkit promote: error: unexpected RuntimeError: deep"


def test_rejection_and_drift_keep_their_codes(monkeypatch, capsys):
    assert _failing(errors.Rejected("gate FAILED"), monkeypatch, capsys) == (
        2,
        "mlops-toolkit promote: error: gate FAILED\n",
    )
    code, err = _failing(errors.DriftDetected("drift in 2 features"), monkeypatch, capsys)
    assert code == 3 and err.count("\n") == 1


def test_bad_input_file_is_one_line(tmp_path):
    bad = tmp_path / "gate.json"
    bad.write_text("{not json")
    result = cli("report", "--model-name", "m", "--gate", str(bad), "--no-comment")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"mlops-toolkit report: error: {bad} is not valid JSON (line 1, column 2)"
    ]


def test_booleans_are_flags_with_their_default_in_help():
    """Every true/false option is a --x/--no-x pair; --help says which one is the default."""
    import argparse

    sub = toolkit_cli.build_parser()._subparsers._group_actions[0]
    pairs = {}
    for name, parser in sub.choices.items():
        # argparse wraps lines, at hyphens too: compare without white space
        help_text = "".join(parser.format_help().split())
        for act in parser._actions:
            if isinstance(act, argparse.BooleanOptionalAction):
                flag = act.option_strings[0]
                shown = flag if act.default else "--no-" + flag[2:]
                assert f"(default:{shown})" in help_text, (name, flag)
                pairs.setdefault(name, set()).add(flag)
            # No option takes a true/false string any more (doctor's --dvc: auto|true|false).
            assert act.type is None or act.type.__name__ != "boolean", (name, act.dest)
    assert pairs["gate"] == {"--comment", "--fail-on-reject"}
    assert pairs["doctor"] == {"--registry-checks", "--docker", "--require-gpu"}
    assert {"report", "train", "deploy", "build-image", "rollback", "validate-data"} <= set(pairs)


def test_the_old_string_form_is_one_argparse_line(tmp_path):
    result = cli("report", "--model-name", "m", "--comment", "false", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "mlops-toolkit: error: unrecognized arguments: false"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_stops_the_project_command_and_exits_with_one_line(tmp_path, signum, code, word):
    """A cancelled job: the project's command (in its own session) is stopped too."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ACTIONS_SRC),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlops_toolkit.cli",
            "train",
            "--working-directory",
            str(tmp_path),
            "--command",
            "sleep 60 & echo $! > child.pid; wait",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=fresh_signals,  # as a runner starts a step (support/signals.py)
    )
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert err.splitlines() == [
        f"mlops-toolkit train: error: {word}" + (" (SIGTERM)" if signum == signal.SIGTERM else "")
    ]
    child = int(pid_file.read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{child}").exists() or " Z " in Path(f"/proc/{child}/stat").read_text()


def test_version_is_the_package_version():
    import tomllib

    pyproject = tomllib.loads((ACTIONS / "pyproject.toml").read_text(encoding="utf-8"))
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mlops-toolkit {pyproject['project']['version']}\n"


NOT_FOUND = (
    "`my-project`: command not found; run `make install`, or activate the project's "
    "environment (. .venv/bin/activate)"
)


@pytest.mark.parametrize(
    ("command_name", "command"),
    [("train", "my-project train"), ("validate-data", "LOG=1 my-project validate --x")],
)
def test_a_project_command_not_on_path_is_one_line_naming_it_and_the_fix(
    tmp_path, command_name, command
):
    """A project not installed, or its environment not activated: not bash's exit 127."""
    result = cli(command_name, "--working-directory", str(tmp_path), "--command", command)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"mlops-toolkit {command_name}: error: {NOT_FOUND}"]


@pytest.mark.parametrize("command", ["cd . && exit 3", "if true; then exit 3; fi", "true; exit 3"])
def test_builtins_and_compound_commands_are_left_to_bash(tmp_path, command):
    result = cli("train", "--working-directory", str(tmp_path), "--command", command)
    assert result.stderr.splitlines() == [
        "mlops-toolkit train: error: training command exited with status 3"
    ]


def test_a_missing_script_is_named(tmp_path):
    result = cli("train", "--working-directory", str(tmp_path), "--command", "./run.sh --fast")
    assert result.stderr.splitlines() == [
        f"mlops-toolkit train: error: `./run.sh`: no such file in {tmp_path}"
    ]
