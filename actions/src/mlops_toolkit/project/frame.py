"""The command-line frame of a generated project: the options, the platform's commands, and one
error -> exit code mapping; the project adds its own commands (train, evaluate, predict ...).

    PROJECT = frame.Project(prog="churn", version=__version__, task=TASK, load_params=load_params)

    def add_commands(add: frame.Adder) -> None:
        sub = add("train", cmd_train, "Train the model.")
        sub.add_argument("--seed", type=int)

    def main(argv=None) -> int:
        return frame.main(PROJECT, add_commands, argv)

Every command is ``(args, log_file) -> exit code``; ``frame.params(args, **overrides)`` loads
params.yaml with the options given. Heavy libraries are imported inside the commands, so
``--help`` answers at once. A failure is one line on stderr (the traceback goes to the log file,
credentials scrubbed), exit 1; Ctrl-C exits 130; `drift` exits 3 when it finds drift.
"""

from __future__ import annotations

import argparse
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import gc_pace, warm
from . import builtins, logs
from .builtins import Adder, Command, params

__all__ = ["Adder", "Command", "Project", "build_parser", "key_value", "main", "one_line", "params"]
log = logging.getLogger(__name__)
# What MLflow's HTTP errors say once its bounded retries against a vanished server are spent.
LOST_SERVER = ("Max retries exceeded", "Connection refused", "Connection broken", "reset by peer")


@dataclass(frozen=True)
class Project:
    """What the frame knows of a project: its name, version, task and params loader."""

    prog: str
    version: str
    task: str
    # (path, {dotted key: value}) -> the project's typed params (mlops_toolkit.project.params).
    load_params: Callable[[Path, dict[str, Any]], Any]
    # The environment variable of the default log level (--log-level wins).
    level_env: str = ""
    description: str = "The project's command line: one subcommand per pipeline step."


def key_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE with a YAML-typed value (0.1 is a float, true a bool)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def build_parser(
    project: Project, add_commands: Callable[[Adder], None]
) -> argparse.ArgumentParser:
    """The frame's options and commands, with the project's own added by ``add_commands``."""
    parser = argparse.ArgumentParser(prog=project.prog, description=project.description)
    parser.set_defaults(project=project)
    parser.add_argument("--version", action="version", version=f"%(prog)s {project.version}")
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="parameters file (default: %(default)s)",
    )
    level_default = f"${project.level_env} or INFO" if project.level_env else "INFO"
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=f"log level (default: {level_default})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        return sub

    builtins.add_data_commands(add)
    add_commands(add)
    builtins.add_model_commands(add)
    return parser


def main(
    project: Project, add_commands: Callable[[Adder], None], argv: list[str] | None = None
) -> int:
    """Parse, configure logging, run the command; every failure is one line and an exit code."""
    if argv is None:  # run as a program: the job's warm process may run it (core/warm.py)
        code = warm.delegate()
        if code is not None:
            return code
    gc_pace.importing()  # the commands import heavy libraries: core/gc_pace.py
    args = build_parser(project, add_commands).parse_args(argv)
    log_file = logs.configure(args.log_level, args.command, project.level_env)
    try:
        return args.run(args, log_file)
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as error:  # one line for people, the traceback for the log file
        with open(log_file, "a", encoding="utf-8") as handle:
            handle.write(_scrub(traceback.format_exc()))
        line = _scrub(one_line(error))
        log.error("%s", line)
        _record_failure(project.prog, args.command, line)
        return 1


def one_line(error: Exception) -> str:
    """A foreseen error as its message; anything else with its type, cut short."""
    from ..errors import ToolkitError

    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ToolkitError | ConnectionError | FileNotFoundError):
        return text
    if type(error).__name__ == "MlflowException" and any(m in text for m in LOST_SERVER):
        return (
            "the MLflow tracking server stopped answering (an open run is marked FAILED by the"
            f" next command that reaches it): {text[:200]}"
        )
    return f"{type(error).__name__}: {text[:300]}"


def _scrub(text: str) -> str:
    """Without the tracking password or token: a library's error may quote the URI."""
    from ..tracking.probe import scrub_known_secrets

    return scrub_known_secrets(text)


def _record_failure(prog: str, command: str, line: str) -> None:
    """Append the failure to the file CI names (the pull-request report quotes the first)."""
    from ..names import ENV_FAILURE_LOG

    path = os.environ.get(ENV_FAILURE_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{prog} {command}: {line}\n")
