"""An in-memory Docker engine: `mlops_toolkit.deploy.engine.DockerEngine`.

Images are registered with the behaviour of their process (`add_image`): keeps running, exits
with a code and a last log line, a HEALTHCHECK that passes, fails or is absent, and what its
server answers over HTTP (`Server`: /health, /version and POST /invocations, the serving
image's routes). Containers follow Docker's lifecycle (run, stop, start, rename, remove; a name
taken is a 409) and raise docker-py's own errors; their health is `starting` until the first
reload after Docker's first run of the check, then what the image says; the check run in the
container (`exec_run`) says it at once.

A running container with a `Server` listens where the real one is reached: its published port
(a free one when none is asked for, as Docker reports it in NetworkSettings.Ports) or, on the
host network, its SERVING_PORT (with SO_REUSEPORT when SERVING_REUSE_PORT=1, as the serving
image binds beside the container it replaces); stopping or removing it closes the port. So the
docker target's whole deploy (pre-flight, handover, verify, restore) runs on it. It listens on
127.0.0.1 whatever address was asked (the suite's rule). tests/toolkit/test_engine_contract.py
holds the fake and the real engine to the same behaviour.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import docker.errors

SERVING_PORT = 8080  # the image's own port (mlops_toolkit.names.SERVING_PORT)
HEALTH_CHECK = ["fake-health-check"]  # every fake image's HEALTHCHECK command, where it has one


@dataclass
class Server:
    """What the image's server answers on the serving routes."""

    model_version: str = "1"
    health: int = 200  # GET /health (503: a model that never loads)
    smoke_status: int = 200  # POST /invocations
    smoke_body: str = '{"predictions": [0]}'
    # Set in the container's environment, this variable breaks the server (/health 503): a
    # setting only the stage's container gets (the prediction store), never the pre-flight one.
    broken_by: str = ""


@dataclass
class Behaviour:
    exit_code: int | None = None  # None: keeps running
    last_log: str = ""
    # What the image's HEALTHCHECK command finds, run by Docker or `exec_run`: "healthy" (exit
    # 0), "unhealthy" (1), or None: no HEALTHCHECK
    health: str | None = None
    health_after_s: float = 0.5  # Docker's first run of the check comes this long after a start
    server: Server | None = None  # None: nothing listens


class ExecResult(NamedTuple):  # docker-py's own shape
    exit_code: int | None
    output: bytes | None


@dataclass
class FakeImage:
    tags: list[str]
    behaviour: Behaviour
    attrs: dict[str, Any] = field(default_factory=dict)


def _conflict(message: str) -> docker.errors.APIError:
    """docker-py's error for Docker's 409: a name taken, a container not running."""
    response = type("Response", (), {"status_code": 409, "reason": "Conflict"})()
    return docker.errors.APIError(message, response=response, explanation=message)


def _name_taken(name: str) -> docker.errors.APIError:
    return _conflict(f'Conflict. The container name "/{name}" is already in use')


class FakeContainer:
    _ids = itertools.count(1)

    def __init__(self, engine: FakeEngine, image: FakeImage, tag: str, name: str, kw: dict):
        self._engine, self.image, self.name = engine, image, name
        self.id = f"fake{next(self._ids):012d}"
        self.labels = dict(kw.get("labels") or {})
        self._network = kw.get("network_mode") or "bridge"
        self._ports = kw.get("ports") or {}
        self._env = dict(kw.get("environment") or {})
        self._listener: _Listener | None = None
        self._last_log = image.behaviour.last_log
        self._state: dict[str, Any] = {}
        self.attrs: dict[str, Any] = {}
        env = [f"{key}={value}" for key, value in self._env.items()]
        self._config = {"Image": tag, "Labels": self.labels, "Env": env}
        if image.behaviour.health is not None:
            self._config["Healthcheck"] = {"Test": ["CMD", *HEALTH_CHECK]}

    def _begin(self) -> None:
        behaviour = self.image.behaviour
        self._started = time.monotonic()
        self._state = {"Status": "running", "ExitCode": 0, "Running": True}
        if behaviour.exit_code is not None:  # exits at once: the reload sees it gone
            self._state = {"Status": "exited", "ExitCode": behaviour.exit_code, "Running": False}
        if behaviour.health is not None:
            self._state["Health"] = {"Status": "starting"}
        if behaviour.server is not None and self._state["Status"] == "running":
            self._listen(behaviour.server)

    def _listen(self, server: Server) -> None:
        """Bind where the real container is reached; a port taken fails as it does there."""
        if self._network == "host":
            port = int(self._env.get("SERVING_PORT", SERVING_PORT))
            reuse = self._env.get("SERVING_REUSE_PORT") == "1"
        else:
            port = self._ports.get(f"{SERVING_PORT}/tcp", ("", None))[1] or 0
            reuse = False
        try:
            self._listener = _Listener(server, port, reuse, self._env)
        except OSError as exc:
            if self._network == "host":  # the server's own bind fails: it exits, saying why
                self._state = {"Status": "exited", "ExitCode": 1, "Running": False}
                self._last_log = f"cannot bind port {port}: {exc.strerror}"
                return
            self._state = {"Status": "created", "ExitCode": 0, "Running": False}
            raise docker.errors.APIError(
                f"driver failed programming external connectivity on endpoint {self.name}: "
                f"Bind for 127.0.0.1:{port} failed: port is already allocated"
            ) from None

    def _close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def reload(self) -> None:
        if self.name not in self._engine.by_name or self._engine.by_name[self.name] is not self:
            raise docker.errors.NotFound(f"No such container: {self.id}")
        health = self._state.get("Health")
        behaviour = self.image.behaviour
        running = self._state["Status"] == "running"
        if health is not None and running and self._age() >= behaviour.health_after_s:
            health["Status"] = behaviour.health
        ports = {}
        if self._network != "host" and running:
            bound = self._listener.port if self._listener else None
            ports = {
                key: [{"HostIp": bind, "HostPort": str(bound or port or 49153)}]
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
        self._close()
        self._begin()
        self.reload()

    def stop(self, timeout: int = 10) -> None:
        if self._state["Status"] == "running":
            self._state = {"Status": "exited", "ExitCode": 143, "Running": False}
        self._close()
        self.reload()

    def rename(self, name: str) -> None:
        if name in self._engine.by_name:
            raise _name_taken(name)
        self._engine.by_name[name] = self._engine.by_name.pop(self.name)
        self.name = name  # docker-py keeps the old name until reload; the toolkit reloads

    def remove(self, force: bool = False) -> None:
        if self._state["Status"] == "running" and not force:
            raise docker.errors.APIError(f"cannot remove running container {self.name}")
        if self._engine.by_name.get(self.name) is not self:
            raise docker.errors.NotFound(f"No such container: {self.id}")
        self._close()
        del self._engine.by_name[self.name]

    def logs(self, tail: int | str = "all") -> bytes:
        return (self._last_log + "\n").encode() if self._last_log else b""

    def exec_run(self, cmd: list[str], **kwargs: Any) -> ExecResult:
        """Only the image's own check runs in a fake container: its result at once."""
        if self._state.get("Status") != "running":
            raise _conflict(f"Container {self.id} is not running")
        if list(cmd) != HEALTH_CHECK:
            raise NotImplementedError(f"the fake engine runs only {HEALTH_CHECK}, not {cmd}")
        return ExecResult(0 if self.image.behaviour.health == "healthy" else 1, None)


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
            raise _name_taken(name)
        container = FakeContainer(self._engine, found, image, name, kwargs)
        self._engine.by_name[name] = container  # created: a start that fails leaves it there
        container._begin()
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

    # -- test set-up and tear-down (not part of the interface) -----------------------------
    def add_image(self, tag: str, behaviour: Behaviour | None = None) -> str:
        self.images.by_tag[tag] = FakeImage([tag], behaviour or Behaviour())
        return tag

    def close(self) -> None:
        """Close every port the containers listen on."""
        for container in list(self.by_name.values()):
            container._close()

    # -- the interface ---------------------------------------------------------------------
    def ping(self) -> bool:
        return True

    def info(self) -> dict[str, Any]:
        return dict(self._info)


class _Listener:
    """A container's server on loopback, answering as its image's `Server` says."""

    def __init__(self, server: Server, port: int, reuse_port: bool, env: dict[str, str]):
        broken = bool(server.broken_by and env.get(server.broken_by))
        self._httpd = _HTTPServer(("127.0.0.1", port), _handler(server, broken), reuse_port)
        self.port = self._httpd.server_address[1]
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, reuse_port: bool):
        self._reuse_port = reuse_port
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if self._reuse_port:  # beside the container it replaces, as the serving image binds
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def _handler(server: Server, broken: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                healthy = server.health == 200 and not broken
                self._answer(200 if healthy else 503, '{"status": "ok"}' if healthy else "{}")
            elif self.path == "/version":
                self._answer(200, json.dumps({"model_version": server.model_version}))
            else:
                self._answer(404, "{}")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = (server.smoke_status, server.smoke_body)
            self._answer(*((status, body) if self.path == "/invocations" else (404, "{}")))

        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # quiet: the tests say what matters
            pass

    return Handler
