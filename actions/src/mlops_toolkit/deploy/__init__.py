"""Deploy targets: where a stage runs, behind one protocol (target.py).

  target.py      Release, Deployed, the Target protocol, the one rollback algorithm
  verify.py      the HTTP checks every target runs (/health, /version, the smoke request)
  docker.py      docker: one container per stage (handover.py: the host-network swap)
  swarm.py       swarm: one service per stage, rolled start-first by Swarm
  kubernetes.py  kubernetes: the stage's kustomize overlay applied with kubectl, rolled out
  dockerhost.py, image.py   the Docker engine (local or ssh://) and building/pushing images

A target is one module with a class that satisfies Target and a ``from_options(args, stage)``
that builds it from the deploy options; naming it in TARGETS makes `deploy --target` and
`rollback --target` offer it. Nothing heavy is imported here: `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib

from .target import Target

TARGETS = ("docker", "swarm", "kubernetes")


def target_for(kind: str, args: argparse.Namespace, stage: str) -> Target:
    """The ``kind`` target of ``stage`` as the deploy options describe it."""
    if kind not in TARGETS:
        raise ValueError(f"unknown deploy target {kind!r} (known: {', '.join(TARGETS)})")
    return importlib.import_module(f"{__name__}.{kind}").from_options(args, stage)
