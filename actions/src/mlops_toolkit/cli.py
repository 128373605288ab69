"""`mlops-toolkit`: one subcommand per action. Heavy libraries load inside the commands."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from . import errors, names
from .commands import (
    build_image,
    deploy,
    doctor,
    drift_issue,
    find_candidate,
    gate,
    labels,
    monitor,
    promote,
    pull_data,
    register,
    relay,
    report,
    retrain_data,
    retrain_pr,
    rollback,
    score,
    set_alias,
    ssh_setup,
    sweep,
    train,
    validate_data,
    webhook,
)
from .core import gc_pace, warm
from .core.redact import redact
from .tracking import probe as tracking_check

# In the order `--help` lists them: the life of a model.
COMMANDS = (
    doctor,
    pull_data,
    validate_data,
    train,
    sweep,
    gate,
    register,
    promote,
    set_alias,
    webhook,
    find_candidate,
    report,
    build_image,
    ssh_setup,
    deploy,
    rollback,
    score,
    labels,
    drift_issue,
    relay,
    monitor,
    retrain_data,
    retrain_pr,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-toolkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subparsers = parser.add_subparsers(dest="command_name", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def version() -> str:
    """The installed distribution's version (pyproject.toml), else the package's own."""
    from importlib import metadata

    try:
        return metadata.version("mlops-toolkit")
    except metadata.PackageNotFoundError:  # run from a source tree (PYTHONPATH=actions/src)
        from . import __version__

        return __version__


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # run as a program: the job's warm process may run it (core/warm.py)
        code = warm.delegate()
        if code is not None:
            return code
    gc_pace.importing()  # every command imports heavy libraries: core/gc_pace.py
    args = build_parser().parse_args(argv)
    errors.raise_on_sigterm()
    try:
        return args.func(args)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # every failure becomes one line and an exit code
        code, _, unexpected = errors.outcome(exc)
        if unexpected and os.environ.get(errors.DEBUG_ENV):
            traceback.print_exc()
        for line in errors.report_lines(exc):
            _error(args.command_name, line)
        return code


def _error(command: str, message: str) -> None:
    """The one place every command's failure becomes a line: stderr and the failure log."""
    # A library's error may quote a URL with its credentials, or the tracking secrets.
    message = redact(tracking_check.scrub_known_secrets(message))
    failures = os.environ.get(names.ENV_FAILURE_LOG)
    if failures:
        with open(failures, "a", encoding="utf-8") as handle:
            handle.write(f"mlops-toolkit {command}: {message}\n")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=mlops-toolkit {command}::{message}", file=sys.stderr)
    else:
        print(f"mlops-toolkit {command}: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
