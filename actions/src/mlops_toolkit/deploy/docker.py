"""The docker target: one container per stage, replaced only once the new one is healthy.

1. Pre-flight: the new image runs beside the serving container on a spare port and must
   answer /health, /version (the expected model version) and a smoke request.
2. Swap (publish host, the default): the new container starts beside the serving one on the
   host network, both sharing the port, and the old one drains once the new one is healthy.
   Publish port: the serving container is stopped and kept (renamed); the new one takes the
   port (requests in between fail).
3. Verify again on the real port. Any failure removes the new container and starts the
   kept one again under its name, then fails the step. On success the kept one is removed.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from typing import Any

from .. import names
from ..errors import ToolkitError
from . import dockerhost, handover, verify
from .target import Deployed, Options, Release, serving_env

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _alive(container: Any):
    """For verify: fail at once when the container has exited, with its last log lines."""

    def check() -> None:
        container.reload()
        if container.status in ("exited", "dead"):
            raise ToolkitError(dockerhost.exited(container))

    return check


def _find(engine: Any, name: str) -> Any | None:
    import docker

    try:
        return engine.containers.get(name)
    except docker.errors.NotFound:
        return None


def _remove(container: Any | None) -> None:
    if container is None:
        return
    with contextlib.suppress(Exception):
        container.remove(force=True)


def _published_port(container: Any) -> int:
    container.reload()
    ports = container.attrs["NetworkSettings"].get("Ports") or {}
    binding = ports.get(f"{names.SERVING_PORT}/tcp")
    if not binding:  # Docker drops the binding when the process exits (a server that gave up)
        raise ToolkitError(dockerhost.exited(container))
    return int(binding[0]["HostPort"])


def deploy(
    *,
    image: str,
    stage: str,
    app: str,
    port: int,
    host: str = "127.0.0.1",
    model_name: str = "",
    model_version: str = "",
    health_timeout_s: float = 120,
    smoke: bool = True,
    publish: str = "host",
) -> dict:
    """publish `host` (default): the new one starts beside the old on the host network
    (handover.py), no request lost; `port`: the old container stops, then the new one takes
    the published port (a gap in which requests fail)."""
    if stage not in names.STAGES:
        raise ToolkitError(f"stage must be one of {', '.join(names.STAGES)}")
    if publish not in ("host", "port"):
        raise ToolkitError(f"publish must be host or port, not {publish!r}")
    payload = verify.smoke_request(model_name, model_version, smoke)
    engine = dockerhost.connect()
    if publish == "host":
        handover.require_host_network(engine)  # before anything starts: nothing to undo
    dockerhost.ensure_image(engine, image)
    name = f"{app}-{stage}"
    bind = "127.0.0.1" if host in LOOPBACK else "0.0.0.0"
    labels = {
        names.LABEL_APP: app,
        names.LABEL_STAGE: stage,
        names.LABEL_MODEL_NAME: model_name,
        names.LABEL_MODEL_VERSION: model_version,
    }
    check = dict(timeout_s=health_timeout_s, expect_version=model_version or None, payload=payload)

    # 1. pre-flight beside what serves now; without the store: its smoke answer is no traffic
    preflight_name = f"{name}-candidate"
    _remove(_find(engine, preflight_name))
    candidate = dockerhost.start(engine, image, preflight_name, labels=labels, bind=bind, port=None)
    try:
        url = f"http://{host}:{_published_port(candidate)}"
        verify.verify(url, candidate.name, **check, alive=_alive(candidate))
    except ToolkitError as exc:
        raise ToolkitError(f"deploy to {stage} aborted, nothing changed: {exc}") from None
    finally:
        _remove(candidate)

    # 2. swap, keeping the old container to put back
    previous = _find(engine, name)
    previous_image = ""
    kept_name = f"{name}-previous"
    beside = None
    if publish == "host" and (previous is None or handover.is_host_mode(previous)):
        beside = _start_beside(engine, image, name, bind, port, labels, stage, health_timeout_s)
    if previous is not None:
        previous_image = previous.attrs["Config"]["Image"]
        _remove(_find(engine, kept_name))
        previous.stop(timeout=30 if beside is not None else 10)  # beside: let it drain
        previous.rename(kept_name)
    new = beside
    try:
        if new is None:
            new = dockerhost.start(
                engine,
                image,
                name,
                labels=labels,
                bind=bind,
                port=port,
                host_network=publish == "host",
                env=serving_env(stage),
            )
        else:
            new.rename(name)
            new.reload()  # so every line below names it as it is now called
        verify.verify(f"http://{host}:{port}", new.name, **check, alive=_alive(new))
    except ToolkitError as exc:
        _remove(new)
        restored = _restore(engine, previous, name, host, port, health_timeout_s)
        raise ToolkitError(f"deploy to {stage} failed, {restored}: {exc}") from None
    _remove(previous)
    return {
        "container": name,
        "url": f"http://{host}:{port}",
        "previous_image": previous_image,
        "image": image,
    }


def _start_beside(
    engine: Any,
    image: str,
    name: str,
    bind: str,
    port: int,
    labels: dict,
    stage: str,
    timeout_s: float,
) -> Any:
    """publish host: the new container up and healthy beside the old one, or nothing changed."""
    next_name = f"{name}-next"
    _remove(_find(engine, next_name))
    new = dockerhost.start(
        engine,
        image,
        next_name,
        labels=labels,
        bind=bind,
        port=port,
        host_network=True,
        env=serving_env(stage),
    )
    try:
        handover.wait_own_health(new, timeout_s)
    except ToolkitError as exc:
        _remove(new)
        raise ToolkitError(f"deploy to {stage} aborted, nothing changed: {exc}") from None
    return new


def _restore(
    engine: Any, previous: Any | None, name: str, host: str, port: int, timeout_s: float
) -> str:
    if previous is None:
        return "nothing was serving before"
    previous.rename(name)
    previous.start()
    try:
        verify.wait_healthy(f"http://{host}:{port}", name, timeout_s, _alive(previous))
    except ToolkitError as exc:
        return f"previous container restarted but unhealthy ({exc})"
    return "previous container restored and healthy"


@dataclass
class DockerTarget:
    """A stage as one container `<app>-<stage>` on the engine DOCKER_HOST names."""

    app: str
    stage: str
    port: int
    host: str = "127.0.0.1"
    publish: str = "host"  # host: the handover (no request lost); port: a published port
    kind: str = "docker"

    def deploy(self, release: Release) -> Deployed:
        result = deploy(
            image=release.image,
            stage=self.stage,
            app=self.app,
            port=self.port,
            host=self.host,
            model_name=release.model_name,
            model_version=release.model_version,
            health_timeout_s=release.health_timeout_s,
            smoke=release.smoke,
            publish=self.publish,
        )
        name = result["container"]
        return Deployed(
            image=release.image,
            previous_image=result["previous_image"],
            url=result["url"],
            where=f"container `{name}`",
            outputs={"container": name, "service": ""},
        )

    def status(self) -> dict:
        container = _find(dockerhost.connect(), f"{self.app}-{self.stage}")
        if container is None:
            raise ToolkitError(f"no container {self.app}-{self.stage}")
        return {"image": container.attrs["Config"]["Image"], "labels": container.labels}


SUMMARY = "one container per stage"


def add_options(p: Options) -> None:
    """The docker target's options: the engine's (--port, --host, --publish)."""
    dockerhost.add_options(p)


def from_options(args: argparse.Namespace, stage: str) -> DockerTarget:
    """The target the deploy options describe; a published port says what it costs."""
    port = dockerhost.require_port(args)
    publish = "host" if dockerhost.publish_mode(args, default="host") == "host" else "port"
    if publish == "port":
        handover.warn_port_swap()
    return DockerTarget(app=args.app, stage=stage, port=port, host=args.host, publish=publish)
