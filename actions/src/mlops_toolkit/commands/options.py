"""Argument types and option groups that several commands share."""

from __future__ import annotations

import argparse
import os
import sys


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
    """Where a stage runs and how long to wait for it (deploy/: one module per target)."""
    from ..deploy import TARGETS

    p.add_argument("--app", required=True, help="name prefix: <app>-<stage> (k8s: Deployment)")
    p.add_argument("--port", type=int, default=0, help="docker/swarm: host port of the stage")
    p.add_argument("--host", default="127.0.0.1", help="host name to reach the published port")
    p.add_argument("--health-timeout", type=float, default=120, help="seconds to wait")
    p.add_argument(
        "--target",
        default="docker",
        choices=TARGETS,
        help="docker: one container per stage; swarm: one Swarm service per stage; "
        "kubernetes: the stage's kustomize overlay, rolled out with kubectl",
    )
    p.add_argument("--replicas", type=int, default=2, help="swarm: tasks of the service")
    p.add_argument(
        "--publish",
        default="",
        choices=("", "ingress", "host"),
        help="host (docker's default): host network, SO_REUSEPORT, the new container/task "
        "starts beside the old one, no request lost; ingress (swarm's default): a published "
        "port (swarm: the routing mesh; docker: requests fail while the port changes hands)",
    )
    p.add_argument("--secrets", default="", help="swarm: secrets to mount (comma/space list)")
    p.add_argument("--configs", default="", help="swarm: configs to mount (comma/space list)")
    p.add_argument("--namespace", default="", help="kubernetes: default <app>-<stage>")
    p.add_argument(
        "--overlay", default="", help="kubernetes: default deploy/kubernetes/overlays/<stage>"
    )
    p.add_argument(
        "--url", default="", help="kubernetes: where the runner reaches the stage (optional)"
    )


def publish_mode(args: argparse.Namespace) -> str:
    """The publish mode asked for, else the target's default: docker `host` (the handover that
    loses no request), swarm `ingress` (the routing mesh, reachable on every node)."""
    return args.publish or ("ingress" if args.target == "swarm" else "host")


def warn_port_swap(args: argparse.Namespace) -> None:
    """A docker deploy on a published port says what it costs, in the step's output."""
    if args.target == "docker" and publish_mode(args) == "ingress":
        from ..deploy.handover import PORT_MODE_COST

        on_actions = bool(os.environ.get("GITHUB_ACTIONS"))
        print(
            f"::warning title=publish ingress::{PORT_MODE_COST}"
            if on_actions
            else f"warning: {PORT_MODE_COST}",
            file=sys.stderr,
        )


def model_name(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--model-name",
        required=required,
        default="" if not required else None,
        help="the registered model's name",
    )
