"""Argument types and option groups that several commands share."""

from __future__ import annotations

import argparse


def flag(p: argparse.ArgumentParser, name: str, default: bool, help: str = "") -> None:
    """A true/false option as a pair of flags, `--name` / `--no-name`, its default in --help.

    The actions map GitHub's "true"/"false" inputs to one of the pair (action.yml); anything
    else given as `--name=VALUE` ends in argparse's one line."""
    action = p.add_argument(name, action=argparse.BooleanOptionalAction, default=default)
    # Set after: Python 3.10's BooleanOptionalAction appends "(default: True)" itself.
    shown = name if default else "--no-" + name[2:]
    action.help = f"{help} (default: {shown})" if help else f"default: {shown}"


def minutes(value: float | None) -> float | None:
    """Minutes to seconds; 0 (the inputs' default) means no limit."""
    return value * 60 if value else None


def project_command(p: argparse.ArgumentParser) -> None:
    """Options of the commands that run one of the project's own commands."""
    p.add_argument("--command", required=True, help="the project's command to run")
    p.add_argument("--working-directory", default=".", help="where to run it")
    p.add_argument("--timeout-minutes", type=float, default=0, help="0: no limit")


def prediction_store(p: argparse.ArgumentParser) -> None:
    """`--store` of the commands that read or write the prediction store; empty: the store's own
    default (monitoring.store.store_url: the environment, else the project's SQLite file)."""
    from .. import names

    p.add_argument(
        "--store",
        default="",
        help=f"prediction store URL (default: ${names.ENV_PREDICTION_STORE}, else the project's "
        "SQLite file .mlops/predictions.sqlite3)",
    )


def deploy_target(p: argparse.ArgumentParser) -> None:
    """Where a stage runs and how long to wait for it: `--target` and each registered target's
    own options (deploy/: one module per target; none is named here)."""
    from ..deploy import add_options

    add_options(p)


def model_name(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--model-name",
        required=required,
        default="" if not required else None,
        help="the registered model's name",
    )
