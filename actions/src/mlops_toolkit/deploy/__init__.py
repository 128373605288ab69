"""Deploy targets: where a stage runs, behind one protocol (target.py).

  target.py      Release, Deployed, the Target protocol, the one rollback algorithm
  verify.py      the HTTP checks every target runs (/health, /version, the smoke request)
  docker.py      docker: one container per stage (handover.py: the host-network swap)
  swarm.py       swarm: one service per stage, rolled start-first by Swarm
  kubernetes.py  kubernetes: the stage's kustomize overlay applied with kubectl, rolled out
  dockerhost.py, image.py   the Docker engine (local or ssh://) and building/pushing images

A target is one module: a class that satisfies Target, ``SUMMARY`` (its line in `--target`'s
help), ``add_options(parser)`` (its own deploy options) and ``from_options(args, stage)`` (the
target those options describe). Naming the module in TARGETS makes `deploy --target` and
`rollback --target` offer it, with its options; the command layer names no target. Nothing
heavy is imported here or by a target module's import: `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from .target import Target

# Each target's name and its module, in the order `--help` lists them.
TARGETS: dict[str, str] = {
    "docker": f"{__name__}.docker",
    "swarm": f"{__name__}.swarm",
    "kubernetes": f"{__name__}.kubernetes",
}
DEFAULT = "docker"


def module(kind: str) -> ModuleType:
    """The module of the ``kind`` target."""
    if kind not in TARGETS:
        raise ValueError(f"unknown deploy target {kind!r} (known: {', '.join(TARGETS)})")
    return importlib.import_module(TARGETS[kind])


def target_for(kind: str, args: argparse.Namespace, stage: str) -> Target:
    """The ``kind`` target of ``stage`` as the deploy options describe it."""
    return module(kind).from_options(args, stage)


def add_options(p: argparse.ArgumentParser) -> None:
    """The deploy options: those of every target, `--target`, then each target's own."""
    p.add_argument("--app", required=True, help="name prefix: <app>-<stage> (k8s: Deployment)")
    p.add_argument("--health-timeout", type=float, default=120, help="seconds to wait")
    modules = {kind: module(kind) for kind in TARGETS}
    p.add_argument(
        "--target",
        default=DEFAULT,
        choices=tuple(modules),
        help="; ".join(f"{kind}: {found.SUMMARY}" for kind, found in modules.items()),
    )
    shared = SharedOptions(p)
    for found in modules.values():
        found.add_options(shared)


class SharedOptions:
    """The parser as the targets' ``add_options`` see it: an option that two targets declare
    alike (docker and swarm: dockerhost.add_options) is added once; declared differently, it
    is a programming error, raised when the parser is built."""

    def __init__(self, parser: argparse.ArgumentParser):
        self._parser = parser
        self._added: dict[tuple[str, ...], tuple[dict[str, Any], argparse.Action]] = {}

    def add_argument(self, *flags: str, **kwargs: Any) -> argparse.Action:
        if flags in self._added:
            declared, action = self._added[flags]
            if declared != kwargs:
                raise ValueError(f"deploy targets declare {'/'.join(flags)} differently")
            return action
        action = self._parser.add_argument(*flags, **kwargs)
        self._added[flags] = (kwargs, action)
        return action
