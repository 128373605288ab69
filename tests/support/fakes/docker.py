"""An in-memory Docker engine: `mlops_toolkit.deploy.engine.DockerEngine`.

Images are registered with the behaviour of their process (`add_image`): keeps running, exits
with a code and a last log line, and a HEALTHCHECK that passes, fails or is absent. Containers
follow Docker's lifecycle (run, stop, start, rename, remove; a name taken is a 409) and raise
docker-py's own errors; their health is `starting` until the first reload after the check's
first run, then what the image says. tests/toolkit/test_engine_contract.py holds the fake and
the real engine to the same behaviour. Nothing listens on any port: what needs HTTP (the
target's verify step) stays on the real engine.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import docker.errors


@dataclass
class Behaviour:
    exit_code: int | None = None  # None: keeps running
    last_log: str = ""
    health: str | None = None  # "healthy", "unhealthy", or None: no HEALTHCHECK
    health_after_s: float = 0.5  # the check's first result comes this long after a start


@dataclass
class FakeImage:
    tags: list[str]
    behaviour: Behaviour
    attrs: dict[str, Any] = field(default_factory=dict)


def _conflict(name: str) -> docker.errors.APIError:
    response = type("Response", (), {"status_code": 409, "reason": "Conflict"})()
    message = f'Conflict. The container name "/{name}" is already in use'
    return docker.errors.APIError(message, response=response, explanation=message)


class FakeContainer:
    _ids = itertools.count(1)

    def __init__(self, engine: FakeEngine, image: FakeImage, tag: str, name: str, kw: dict):
        self._engine, self.image, self.name = engine, image, name
        self.id = f"fake{next(self._ids):012d}"
        self.labels = dict(kw.get("labels") or {})
        self._network = kw.get("network_mode") or "bridge"
        self._ports = kw.get("ports") or {}
        self._state: dict[str, Any] = {}
        self.attrs: dict[str, Any] = {}
        self._config = {"Image": tag, "Labels": self.labels, "Env": kw.get("environment")}
        self._begin()

    def _begin(self) -> None:
        behaviour = self.image.behaviour
        self._started = time.monotonic()
        self._state = {"Status": "running", "ExitCode": 0, "Running": True}
        if behaviour.exit_code is not None:  # exits at once: the reload sees it gone
            self._state = {"Status": "exited", "ExitCode": behaviour.exit_code, "Running": False}
        if behaviour.health is not None:
            self._state["Health"] = {"Status": "starting"}

    def reload(self) -> None:
        if self.name not in self._engine.by_name or self._engine.by_name[self.name] is not self:
            raise docker.errors.NotFound(f"No such container: {self.id}")
        health = self._state.get("Health")
        behaviour = self.image.behaviour
        running = self._state["Status"] == "running"
        if health is not None and running and self._age() >= behaviour.health_after_s:
            health["Status"] = behaviour.health
        ports = {}
        if self._network != "host" and self._state["Status"] == "running":
            ports = {
                key: [{"HostIp": bind, "HostPort": str(port or 49153)}]
                for key, (bind, port) in self._ports.items()
            }
        self.attrs = {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Config": dict(self._config),
            "State": {**self._state, **({"Health": dict(health)} if health else {})},
            "HostConfig": {"NetworkMode": self._network},
            "NetworkSettings": {"Ports": ports},
        }
        self.status = self._state["Status"]

    def _age(self) -> float:
        return time.monotonic() - self._started

    def start(self) -> None:
        self._begin()
        self.reload()

    def stop(self, timeout: int = 10) -> None:
        if self._state["Status"] == "running":
            self._state = {"Status": "exited", "ExitCode": 143, "Running": False}
        self.reload()

    def rename(self, name: str) -> None:
        if name in self._engine.by_name:
            raise _conflict(name)
        self._engine.by_name[name] = self._engine.by_name.pop(self.name)
        self.name = name  # docker-py keeps the old name until reload; the toolkit reloads

    def remove(self, force: bool = False) -> None:
        if self._state["Status"] == "running" and not force:
            raise docker.errors.APIError(f"cannot remove running container {self.name}")
        if self._engine.by_name.get(self.name) is not self:
            raise docker.errors.NotFound(f"No such container: {self.id}")
        del self._engine.by_name[self.name]

    def logs(self, tail: int | str = "all") -> bytes:
        return (
            (self.image.behaviour.last_log + "\n").encode()
            if self.image.behaviour.last_log
            else b""
        )


class FakeContainers:
    def __init__(self, engine: FakeEngine):
        self._engine = engine

    def get(self, container_id: str) -> FakeContainer:
        found = self._engine.by_name.get(container_id)
        if found is None:
            raise docker.errors.NotFound(f"No such container: {container_id}")
        found.reload()
        return found

    def run(self, image: str, command: Any = None, **kwargs: Any) -> FakeContainer:
        found = self._engine.images.get(image)
        name = kwargs.get("name") or f"fake_{len(self._engine.by_name)}"
        if name in self._engine.by_name:
            raise _conflict(name)
        container = FakeContainer(self._engine, found, image, name, kwargs)
        self._engine.by_name[name] = container
        container.reload()
        return container


class FakeImages:
    def __init__(self) -> None:
        self.by_tag: dict[str, FakeImage] = {}

    def get(self, name: str) -> FakeImage:
        found = self.by_tag.get(name) or self.by_tag.get(f"{name}:latest")
        if found is None:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return found

    def pull(self, repository: str, tag: str | None = None, **kwargs: Any) -> FakeImage:
        # No registry behind the fake: a pull of what it lacks fails as an unreachable one does.
        reference = f"{repository}:{tag}" if tag else repository
        if reference in self.by_tag:
            return self.by_tag[reference]
        raise docker.errors.APIError(
            f"pull access denied for {repository}, repository does not exist"
        )


class FakeEngine:
    """One Linux engine in memory."""

    def __init__(self, os_type: str = "linux", system: str = "Debian GNU/Linux 12 (bookworm)"):
        self.by_name: dict[str, FakeContainer] = {}
        self.containers = FakeContainers(self)
        self.images = FakeImages()
        self._info = {"OSType": os_type, "OperatingSystem": system}

    # -- test set-up (not part of the interface) -------------------------------------------
    def add_image(self, tag: str, behaviour: Behaviour | None = None) -> str:
        self.images.by_tag[tag] = FakeImage([tag], behaviour or Behaviour())
        return tag

    # -- the interface ---------------------------------------------------------------------
    def ping(self) -> bool:
        return True

    def info(self) -> dict[str, Any]:
        return dict(self._info)
