"""The protocol every deploy target implements, and the one rollback algorithm they share.

A target is where a stage runs (a container on a Docker host, a Swarm service, a Kubernetes
Deployment). It knows how to put an image there without losing the stage if the image is bad
(verify, and restore what served before) and how to say what runs there now. Everything else
(which version, which image, moving the aliases) is the same for every target and lives here
or in the registry.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any, Protocol

from .. import names
from ..errors import ToolkitError

# What the deploy step's environment hands on to the serving containers of every target: the
# prediction store the server logs to and the token POST /feedback checks (both secrets in the
# workflows), and whether the server stores class probabilities (a variable). They go to the
# engine's API only, never to a log line or a file.
PASSED_TO_SERVER = (names.ENV_PREDICTION_STORE, names.ENV_FEEDBACK_TOKEN, names.ENV_STORE_SCORES)


def serving_env(stage: str) -> dict[str, str]:
    """The serving container's own settings: the passed-on variables that are set, and the
    stage as the environment every prediction is recorded with."""
    passed = {key: os.environ[key] for key in PASSED_TO_SERVER if os.environ.get(key)}
    return {**passed, names.ENV_ENVIRONMENT: stage}


@dataclass(frozen=True)
class Release:
    """What goes to a stage: the image, and the model version it must serve."""

    image: str
    model_name: str = ""
    model_version: str = ""
    health_timeout_s: float = 120
    smoke: bool = True


@dataclass(frozen=True)
class Deployed:
    """What a deploy left serving, for the step's outputs and summary."""

    image: str
    previous_image: str  # "" when nothing served before
    url: str  # "" where the runner cannot reach the stage (a cluster without an address)
    where: str  # one phrase for the summary: "container `x`", "2 replicas of service `x`"
    outputs: dict  # extra step outputs: container, service, ...


class Target(Protocol):
    kind: str
    stage: str

    def deploy(self, release: Release) -> Deployed:
        """Serve ``release.image`` on the stage, verified; on failure what served before is
        back (or nothing was serving) and ToolkitError says which."""
        ...

    def status(self) -> dict:
        """What runs on the stage now: at least ``image``."""
        ...


class TargetFactory(Protocol):
    def __call__(self, args: argparse.Namespace, stage: str) -> Target: ...


class Options(Protocol):
    """What a target's ``add_options`` adds its options to (the deploy and rollback parsers,
    through deploy.SharedOptions)."""

    def add_argument(self, *flags: str, **kwargs: Any) -> argparse.Action: ...


def rollback(
    target: Target | None, *, model_name: str, to: str | None, health_timeout_s: float = 120
) -> dict:
    """Production back to the previous (or given) version: its recorded image deployed first
    (the same verified path as any deploy; skipped when ``target`` is None), then the alias."""
    from .. import names
    from ..registry import moves as registry
    from ..tracking import client as tracking

    client = tracking.client()
    current, back = registry.rollback_plan(client, model_name, to)
    image = ""
    if target is not None:
        image = back.tags.get(names.TAG_IMAGE, "")
        if not image:
            raise ToolkitError(
                f"version {back.version} has no recorded image ({names.TAG_IMAGE}); nothing changed"
            )
        target.deploy(Release(image, model_name, back.version, health_timeout_s))
    registry.rollback_alias(client, model_name, current, back)
    return {"version": back.version, "from": current.version, "image": image}
