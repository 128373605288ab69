"""docker target, publish mode `host`: the new container starts beside the old one.

Both run on the host's network and bind the stage's port with SO_REUSEPORT (the image does so,
only once its model is loaded, when SERVING_REUSE_PORT=1), so the kernel spreads connections
over both; the old one is stopped (SIGTERM: it stops listening and finishes what is in flight)
only once the new one is healthy by its own HEALTHCHECK (run by the handover itself too, not
only on Docker's schedule). No port is ever without a listener, and no proxy is involved.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..core import annotations
from ..errors import ToolkitError
from ..tracking import client as tracking
from . import dockerhost

# What a published-port swap costs, said wherever a team chooses it (docs and the step's output).
PORT_MODE_COST = (
    "publish ingress stops the old container before the new one takes the port: requests in "
    "that gap fail (about 40 % of those sent during a swap, benchmarks/zero_downtime.py); "
    "publish host, the default, drops none"
)


def warn_port_swap() -> None:
    """A docker deploy on a published port says what it costs, in the step's output."""
    annotations.warning(PORT_MODE_COST, title="publish ingress")


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
    """The container's own HEALTHCHECK (a probe of the shared port may reach the old one).

    Healthy is Docker's verdict, or the image's check command passing when the handover runs it
    in the container itself: Docker runs its first check only an interval after the start (30 s
    in the generated image), while the model is usually loaded in one or two.
    """
    deadline = time.monotonic() + timeout_s
    status = "starting"
    probe = _OwnCheck.of(container)  # the image's check, in the container's config from its start
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
        if status == "healthy" or (probe is not None and probe.passed()):
            return
        time.sleep(0.5)  # unhealthy may still turn healthy (slow model load): deadline decides
    raise ToolkitError(f"{container.name} not healthy within {timeout_s:g} s ({status})")


class _OwnCheck:
    """The container's HEALTHCHECK command, run in it (`docker exec`) one at a time.

    Each run is a thread: a team's own check may hang, and the wait's deadline still decides.
    """

    def __init__(self, container: Any, command: list[str]):
        self._container, self._command = container, command
        self._ok = threading.Event()
        self._running: threading.Thread | None = None

    @classmethod
    def of(cls, container: Any) -> _OwnCheck | None:
        """None where the check is not a command Docker would run (NONE, or none at all)."""
        test = (container.attrs.get("Config", {}).get("Healthcheck") or {}).get("Test") or []
        if test[:1] == ["CMD"] and len(test) > 1:
            return cls(container, list(test[1:]))
        if test[:1] == ["CMD-SHELL"] and len(test) == 2:
            return cls(container, ["/bin/sh", "-c", test[1]])
        return None

    def passed(self) -> bool:
        """Whether a run has passed; starts the next run when none is going on."""
        if not self._ok.is_set() and not (self._running and self._running.is_alive()):
            self._running = threading.Thread(target=self._run, daemon=True)
            self._running.start()
            self._running.join(0.25)  # a quick check answers in this same round
        return self._ok.is_set()

    def _run(self) -> None:
        try:  # attached: the exit code is read once the command has ended
            result = self._container.exec_run(self._command)
        except Exception:  # stopped meanwhile, or the engine said no: Docker's verdict remains
            return
        if result.exit_code == 0:
            self._ok.set()
