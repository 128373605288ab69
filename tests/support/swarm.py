"""The engine's single-node Docker Swarm, which .ci/docker-up initialises once on loopback.

Tests use it and never leave it: a test leaving a swarm it created would pull it from under any
other test using it at the same time (xdist workers), so none creates one.
"""

from __future__ import annotations

import pytest


def require_swarm() -> None:
    """Fail (with the fix) unless this engine is an active Swarm manager."""
    import docker

    info = docker.from_env().info().get("Swarm") or {}
    if info.get("LocalNodeState") != "active":
        pytest.fail(
            "the Docker engine is not in a Swarm: run .ci/docker-up "
            "(it runs docker swarm init --advertise-addr 127.0.0.1 once)"
        )
    if not info.get("ControlAvailable"):
        pytest.skip("this engine is a Swarm worker, not a manager")
