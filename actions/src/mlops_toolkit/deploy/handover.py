"""docker target, publish mode `host`: the new container starts beside the old one.

Both run on the host's network and bind the stage's port with SO_REUSEPORT (the image does so,
only once its model is loaded, when SERVING_REUSE_PORT=1), so the kernel spreads connections
over both; the old one is stopped (SIGTERM: it stops listening and finishes what is in flight)
only once the new one reports healthy by its own HEALTHCHECK. No port is ever without a
listener, and no proxy is involved.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import ToolkitError
from ..tracking import client as tracking
from . import dockerhost

# What a published-port swap costs, said wherever a team chooses it (docs and the step's output).
PORT_MODE_COST = (
    "publish ingress stops the old container before the new one takes the port: requests in "
    "that gap fail (about 40 % of those sent during a swap, benchmarks/zero_downtime.py); "
    "publish host, the default, drops none"
)


def host_network_problem(info: dict) -> str | None:
    """Why this engine's host network is not the machine's (so handover cannot work), or None.

    Docker Desktop (macOS, Windows) runs containers in a VM: `network_mode: host` there is the
    VM's network, and a port bound in it is not the port clients reach. Windows containers have
    no host network at all.
    """
    os_type = str(info.get("OSType") or "linux").lower()
    system = str(info.get("OperatingSystem") or "")
    if os_type != "linux":
        return f"the engine runs {os_type} containers, which have no host network"
    if "docker desktop" in system.lower():
        return f"the engine is {system}, whose host network is a VM's, not this machine's"
    return None


def require_host_network(engine: Any) -> None:
    try:
        info = engine.info()
    except Exception as exc:
        raise ToolkitError(
            f"cannot read the Docker engine's info: {tracking.one_line(exc)}"
        ) from exc
    problem = host_network_problem(info)
    if problem:
        raise ToolkitError(
            f"publish host needs a Linux engine's host network, but {problem}: deploy to a Linux "
            "host (DOCKER_HOST=ssh://user@host), or set DOCKER_PUBLISH=ingress and accept "
            "failed requests during each swap; nothing changed"
        )


def is_host_mode(container: Any | None) -> bool:
    return container is not None and container.attrs["HostConfig"].get("NetworkMode") == "host"


def wait_own_health(container: Any, timeout_s: float) -> None:
    """The container's own HEALTHCHECK (a probe of the shared port may reach the old one)."""
    deadline = time.monotonic() + timeout_s
    status = "starting"
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        if state.get("Status") in ("exited", "dead"):
            raise ToolkitError(dockerhost.exited(container))
        health = state.get("Health")
        if health is None:
            raise ToolkitError(
                f"{container.image.tags or container.name} has no HEALTHCHECK; "
                "publish mode host needs it"
            )
        status = health.get("Status", "starting")
        if status == "healthy":
            return
        time.sleep(0.5)  # unhealthy may still turn healthy (slow model load): deadline decides
    raise ToolkitError(f"{container.name} not healthy within {timeout_s:g} s ({status})")
