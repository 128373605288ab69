"""The part of the Docker SDK (docker-py) the docker target uses, as one typed interface.

`docker.DockerClient` (dockerhost.connect()) satisfies it; so does the tests' in-memory engine
(tests/support/fakes/docker.py), and one set of contract tests runs against both
(tests/toolkit/test_engine_contract.py). Failures are docker-py's own exceptions on both:
`docker.errors.NotFound` / `ImageNotFound` for what does not exist, `APIError` (409) for a
name already taken. The Swarm target and image builds use more of the SDK (services, the low
level `api`): they stay on the real engine.

Add a method here only together with its contract test.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class ImageLike(Protocol):
    tags: list[str]
    attrs: dict[str, Any]


class ContainerLike(Protocol):
    name: str
    status: str  # created, running, exited, dead (as of the last reload)
    # Config (Image, Healthcheck), State (Status, ExitCode, Health), HostConfig, ...
    attrs: dict[str, Any]
    labels: dict[str, str]
    image: ImageLike

    def reload(self) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: int = ...) -> None: ...

    def rename(self, name: str) -> None: ...

    def remove(self, force: bool = ...) -> None: ...

    def logs(self, tail: int | str = ...) -> bytes: ...

    def exec_run(self, cmd: list[str], **kwargs: Any) -> Any: ...  # .exit_code


class ContainersLike(Protocol):
    def get(self, container_id: str) -> ContainerLike: ...

    def run(self, image: str, command: Any = None, **kwargs: Any) -> ContainerLike: ...


class ImagesLike(Protocol):
    def get(self, name: str) -> ImageLike: ...

    def pull(self, repository: str, tag: str | None = None, **kwargs: Any) -> Any: ...


@runtime_checkable
class DockerEngine(Protocol):
    containers: ContainersLike
    images: ImagesLike

    def ping(self) -> bool: ...

    def info(self) -> dict[str, Any]: ...
