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

from . import dockerhost, tracking
from .errors import ToolkitError


def is_host_mode(container: Any | None) -> bool:
    return container is not None and container.attrs["HostConfig"].get("NetworkMode") == "host"


def run(engine: Any, image: str, name: str, bind: str, port: int, labels: dict) -> Any:
    env = {"SERVING_PORT": str(port), "SERVING_HOST": bind, "SERVING_REUSE_PORT": "1"}
    try:
        return engine.containers.run(
            image,
            name=name,
            detach=True,
            labels=labels,
            network_mode="host",
            environment=env,
            restart_policy={"Name": "unless-stopped"},
        )
    except Exception as exc:
        raise ToolkitError(f"cannot start {name} from {image}: {tracking.one_line(exc)}") from exc


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
