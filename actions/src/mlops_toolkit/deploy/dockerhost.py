"""The Docker engine given by DOCKER_HOST (local socket or ssh://), with one-line failures,
and the deploy options of the targets that run on it (docker, swarm)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .. import names
from ..errors import ToolkitError
from ..tracking import client as tracking
from .target import Options


def add_options(p: Options) -> None:
    """Where a stage on a Docker engine is reached, and how its port is published: the options
    the docker and swarm targets share (each adds them; deploy.SharedOptions keeps one)."""
    p.add_argument("--port", type=int, default=0, help="docker/swarm: host port of the stage")
    p.add_argument("--host", default="127.0.0.1", help="host name to reach the published port")
    p.add_argument(
        "--publish",
        default="",
        choices=("", "ingress", "host"),
        help="host (docker's default): host network, SO_REUSEPORT, the new container/task "
        "starts beside the old one, no request lost; ingress (swarm's default): a published "
        "port (swarm: the routing mesh; docker: requests fail while the port changes hands)",
    )


def publish_mode(args: argparse.Namespace, default: str) -> str:
    """The publish mode asked for, else the target's ``default``: docker `host` (the handover
    that loses no request), swarm `ingress` (the routing mesh, reachable on every node)."""
    return args.publish or default


def require_port(args: argparse.Namespace) -> int:
    if not args.port:
        raise ToolkitError(f"the {args.target} target needs --port (the stage's host port)")
    return args.port


def connect() -> Any:
    import docker

    where = os.environ.get(names.ENV_DOCKER_HOST) or "the local socket"
    try:
        # ssh:// hosts: OpenSSH's `ssh` from PATH (use_ssh_client), as the docker CLI does, so
        # the key, pinned known_hosts and StrictHostKeyChecking that `ssh-setup` puts first on
        # PATH apply here too (paramiko would read only ~/.ssh). Pulls carry the credentials
        # of the client config ($DOCKER_CONFIG, which `ssh-setup --registry` writes).
        ssh = os.environ.get(names.ENV_DOCKER_HOST, "").startswith("ssh://")
        client = docker.from_env(timeout=300, use_ssh_client=ssh)
        client.ping()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ToolkitError(f"cannot reach the Docker engine at {where}: {first}") from exc
    return client


def stream_errors(chunks: Any, what: str) -> list[str]:
    """Consume a decoded build/push stream; raise on its first error; return its log lines."""
    log: list[str] = []
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or chunk.get("errorDetail", {}).get("message", "")
            tail = [line for line in log if line.strip()][-3:]
            context = f" (last output: {' | '.join(tail)})" if tail else ""
            raise ToolkitError(f"{what} failed: {message.strip()}{context}"[:900])
        text = chunk.get("stream") or chunk.get("status") or ""
        if text.strip():
            log.append(text.strip())
        aux = chunk.get("aux")
        if aux:
            log.append(f"aux:{aux}")
    return log


def start(
    engine: Any,
    image: str,
    name: str,
    *,
    labels: dict[str, str],
    bind: str,
    port: int | None,
    host_network: bool = False,
    env: dict[str, str] | None = None,
) -> Any:
    """Start the serving container `name` from `image`: the one way the docker target does.

    Published (the default): the image's port on `bind:port` of the host; `port` None takes a
    free one and no restart policy (a short-lived pre-flight candidate). `host_network`: on the
    host's network, binding `bind:port` itself with SO_REUSEPORT, so it can start beside the
    container serving there now (the handover, handover.py). `env`: the server's own settings
    (target.serving_env: the prediction store, the feedback token, the stage).
    """
    options: dict[str, Any] = {"restart_policy": {"Name": "unless-stopped"} if port else None}
    options["environment"] = dict(env or {})
    if host_network:
        if port is None:
            raise ValueError("a container on the host network needs its port")
        options["network_mode"] = "host"
        options["environment"].update(
            SERVING_PORT=str(port),
            SERVING_HOST=bind,
            SERVING_REUSE_PORT="1",  # bind only once the model is loaded, beside the old one
        )
    else:
        options["ports"] = {f"{names.SERVING_PORT}/tcp": (bind, port)}
    try:
        return engine.containers.run(image, name=name, detach=True, labels=labels, **options)
    except Exception as exc:
        raise ToolkitError(f"cannot start {name} from {image}: {tracking.one_line(exc)}") from exc


def exited(container: Any) -> str:
    """Why a container stopped, from its exit code and last log lines (the server says why)."""
    code = container.attrs["State"].get("ExitCode")
    return f"container {container.name} exited ({code}): {_tail(container)}"


def _tail(container: Any, lines: int = 3) -> str:
    try:
        text = container.logs(tail=lines).decode(errors="replace").strip()
    except Exception:
        return "no logs"
    return " | ".join(text.splitlines()[-lines:]) or "no logs"


def ensure_image(engine: Any, image: str) -> None:
    import docker

    try:
        engine.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError:
        pass
    try:
        engine.images.pull(image)
    except Exception as exc:
        raise ToolkitError(f"cannot pull {image}: {tracking.one_line(exc)}") from exc
