"""`mlops-toolkit`: one subcommand per action. Heavy libraries load inside the commands."""

from __future__ import annotations

import argparse
import os
import sys

from .commands import (
    build_image,
    deploy,
    find_candidate,
    gate,
    promote,
    register,
    report,
    rollback,
    set_alias,
    train,
    validate_data,
)
from .errors import ToolkitError

# In the order `--help` lists them: the life of a model.
COMMANDS = (
    validate_data,
    train,
    gate,
    register,
    promote,
    set_alias,
    find_candidate,
    report,
    build_image,
    deploy,
    rollback,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-toolkit", description=__doc__)
    subparsers = parser.add_subparsers(dest="command_name", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ToolkitError as exc:
        _error(args.command_name, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error(args.command_name, "interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("MLOPS_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        _error(args.command_name, f"unexpected {type(exc).__name__}: {first}")
        return 1


def _error(command: str, message: str) -> None:
    line = message.replace("\n", " ")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=mlops-toolkit {command}::{line}", file=sys.stderr)
    else:
        print(f"mlops-toolkit {command}: error: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
