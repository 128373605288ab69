"""Argument types and option groups that several commands share."""

from __future__ import annotations

import argparse


def boolean(text: str) -> bool:
    """`true`/`false` as GitHub Actions inputs spell them (an empty input is false)."""
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def minutes(value: float | None) -> float | None:
    """Minutes to seconds; 0 (the inputs' default) means no limit."""
    return value * 60 if value else None


def project_command(p: argparse.ArgumentParser) -> None:
    """Options of the commands that run one of the project's own commands."""
    p.add_argument("--command", required=True, help="the project's command to run")
    p.add_argument("--working-directory", default=".", help="where to run it")
    p.add_argument("--timeout-minutes", type=float, default=0, help="0: no limit")


def deploy_target(p: argparse.ArgumentParser) -> None:
    """Where a stage's container runs and how long to wait for it."""
    p.add_argument("--app", required=True, help="container name prefix (<app>-<stage>)")
    p.add_argument("--port", type=int, required=True, help="host port the stage serves on")
    p.add_argument("--host", default="127.0.0.1", help="host name to reach the published port")
    p.add_argument("--health-timeout", type=float, default=120, help="seconds to wait")
    p.add_argument(
        "--target",
        default="docker",
        choices=("docker", "swarm"),
        help="docker: one container per stage; swarm: one Swarm service per stage",
    )
    p.add_argument("--replicas", type=int, default=2, help="swarm: tasks of the service")
    p.add_argument(
        "--publish",
        default="ingress",
        choices=("ingress", "host"),
        help="ingress: published port (swarm: routing mesh); host: host network, SO_REUSEPORT, "
        "the new container/task starts beside the old one",
    )
    p.add_argument("--secrets", default="", help="swarm: secrets to mount (comma/space list)")
    p.add_argument("--configs", default="", help="swarm: configs to mount (comma/space list)")


def swarm_target(args: argparse.Namespace, stage: str):
    """The swarm.Target the deploy-target options describe."""
    from ..swarm import Target

    def listed(text: str) -> list[str]:
        return text.replace(",", " ").split()

    return Target(
        app=args.app,
        stage=stage,
        port=args.port,
        host=args.host,
        replicas=args.replicas,
        publish=args.publish,
        secrets=listed(args.secrets),
        configs=listed(args.configs),
    )


def model_name(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--model-name",
        required=required,
        default="" if not required else None,
        help="the registered model's name",
    )
