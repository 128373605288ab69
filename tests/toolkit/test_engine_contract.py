"""One contract, two engines: the in-memory Docker engine (tests/support/fakes/docker.py) and the
real one answer the docker target's container moves alike (find, start, a taken name, stop,
rename, remove, its own HEALTHCHECK, an exit and its last words, a missing image), and its
server alike: reached on the port Docker published (or, on the host network, its SERVING_PORT)
while it runs, gone once it stops. That is what lets the docker target's whole deploy run on
the fake (tests/toolkit/test_docker_target_fast.py).

The fake variant runs in the fast tier, the real one (marked docker) in the full tier.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import pytest
import requests
from mlops_toolkit import names
from mlops_toolkit.deploy import docker as docker_target
from mlops_toolkit.deploy import dockerhost, handover, verify
from mlops_toolkit.deploy.engine import DockerEngine
from mlops_toolkit.errors import ToolkitError
from support.servers import free_port

BASE = "python:3.11-slim"  # .ci/docker-up
REPOSITORY = "toolkit-tests/engine-contract"
LAST_WORDS = "model file missing: /model/MLmodel"
SERVED_VERSION = "7"
# What each image's process does: the real ones are built from these, the fake ones described.
SLEEPS = 'CMD ["sleep", "300"]'
CHECK = "HEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD"
DOCKERFILES = {
    "healthy": f"{SLEEPS}\n{CHECK} true",
    "unhealthy": f"{SLEEPS}\n{CHECK} false",
    "unchecked": SLEEPS,
    # A HEALTHCHECK too, as every serving image has: without one, a reload before the exit
    # would end the wait with "no HEALTHCHECK" instead. It fails, as the serving image's does
    # until its model is loaded: a server that dies loading it never passed it.
    "exits": f'CMD ["sh", "-c", "echo \'{LAST_WORDS}\'; sleep 1; exit 3"]\n'
    "HEALTHCHECK --interval=30s CMD false",
    # Healthy by its check, which Docker runs only 30 s after the start. The check takes a
    # moment, as the serving image's does: its exit code is known only once it has ended.
    "checked-late": f"{SLEEPS}\nHEALTHCHECK --interval=30s --start-period=30s CMD sleep 1",
    # A server on the serving image's port and address settings, answering /health and
    # /version (the routes verify reads first) from files.
    "serves": "RUN mkdir -p /served && echo ok > /served/health"
    f' && echo \'{{"model_version": "{SERVED_VERSION}"}}\' > /served/version\n'
    'CMD ["sh", "-c", "exec python -m http.server ${SERVING_PORT:-8080}'
    ' --bind ${SERVING_HOST:-0.0.0.0} --directory /served"]',
}


@dataclass
class EngineBackend:
    kind: str
    engine: DockerEngine
    images: dict[str, str]  # behaviour -> image tag
    prefix: str  # of the containers' names, unique to the test


@pytest.fixture(scope="module")
def real_images(docker_engine, tmp_path_factory) -> dict[str, str]:
    images = {}
    for kind, body in DOCKERFILES.items():
        context: Path = tmp_path_factory.mktemp(f"engine-{kind}")
        (context / "Dockerfile").write_text(f"FROM {BASE}\n{body}\n")
        images[kind] = f"{REPOSITORY}-{kind}:1"
        docker_engine.images.build(path=str(context), tag=images[kind])
    return images


@pytest.fixture(params=["fake", pytest.param("real", marks=[pytest.mark.docker])])
def backend(request):
    prefix = f"engine-contract-{uuid.uuid4().hex[:8]}"
    if request.param == "fake":
        from support.fakes.docker import Behaviour, FakeEngine, Server

        engine = FakeEngine()
        behaviours = {
            "healthy": Behaviour(health="healthy"),
            "unhealthy": Behaviour(health="unhealthy"),
            "unchecked": Behaviour(),
            "exits": Behaviour(exit_code=3, last_log=LAST_WORDS, health="unhealthy"),
            "checked-late": Behaviour(health="healthy", health_after_s=30),
            "serves": Behaviour(server=Server(model_version=SERVED_VERSION)),
        }
        images = {
            kind: engine.add_image(f"{REPOSITORY}-{kind}:1", how)
            for kind, how in behaviours.items()
        }
        yield EngineBackend("fake", engine, images, prefix)
        engine.close()
        return
    engine = request.getfixturevalue("docker_engine")
    yield EngineBackend("real", engine, request.getfixturevalue("real_images"), prefix)
    for container in engine.containers.list(all=True, filters={"name": prefix}):
        container.remove(force=True)


def start(backend: EngineBackend, kind: str, name: str, **options):
    return backend.engine.containers.run(
        backend.images[kind], name=f"{backend.prefix}-{name}", detach=True, **options
    )


def test_both_engines_satisfy_the_interface_and_have_a_host_network(backend):
    assert isinstance(backend.engine, DockerEngine)
    assert backend.engine.ping()
    assert handover.host_network_problem(backend.engine.info()) is None  # a Linux engine's
    handover.require_host_network(backend.engine)  # host network: the handover can work


@pytest.mark.parametrize(
    ("os_type", "system", "why"),
    [("linux", "Docker Desktop", "VM"), ("windows", "Windows Server 2022", "windows")],
)
def test_an_engine_without_the_machines_host_network_is_refused(os_type, system, why):
    """Docker Desktop's host network is its VM's, Windows containers have none: the handover
    is refused there, before anything starts, in one line naming the alternatives."""
    from support.fakes.docker import FakeEngine

    engine = FakeEngine(os_type=os_type, system=system)
    assert why in handover.host_network_problem(engine.info())
    with pytest.raises(ToolkitError, match=r"ssh://.*DOCKER_PUBLISH=ingress.*nothing changed"):
        handover.require_host_network(engine)
    assert engine.by_name == {}  # nothing started


def test_a_container_is_found_by_name_and_a_name_is_taken_once(backend):
    name = f"{backend.prefix}-app"
    assert docker_target._find(backend.engine, name) is None
    start(backend, "unchecked", "app", labels={"mlops.app": "churn"})
    found = docker_target._find(backend.engine, name)
    assert (found.name, found.status) == (name, "running")
    assert found.attrs["Config"]["Image"] == backend.images["unchecked"]
    assert found.labels["mlops.app"] == "churn"
    with pytest.raises(docker.errors.APIError) as caught:
        start(backend, "unchecked", "app")
    assert caught.value.status_code == 409
    docker_target._remove(found)
    docker_target._remove(None)  # nothing to remove is fine
    assert docker_target._find(backend.engine, name) is None


def test_stop_rename_start_again(backend):
    """What the docker target does to keep the serving container and put it back."""
    serving = start(backend, "unchecked", "app")
    serving.stop(timeout=1)
    serving.reload()
    assert serving.status == "exited"
    kept = f"{backend.prefix}-app-previous"
    serving.rename(kept)
    assert docker_target._find(backend.engine, f"{backend.prefix}-app") is None
    back = docker_target._find(backend.engine, kept)
    assert back is not None and back.status == "exited"
    back.rename(f"{backend.prefix}-app")
    back.start()
    back.reload()
    assert (back.name, back.status) == (f"{backend.prefix}-app", "running")


def test_own_health_decides_the_handover(backend):
    handover.wait_own_health(start(backend, "healthy", "ok"), timeout_s=60)
    with pytest.raises(ToolkitError, match=r"not healthy within 4 s \(unhealthy\)"):
        handover.wait_own_health(start(backend, "unhealthy", "sick"), timeout_s=4)
    with pytest.raises(ToolkitError, match="has no HEALTHCHECK; publish mode host needs it"):
        handover.wait_own_health(start(backend, "unchecked", "blind"), timeout_s=10)


def test_the_handover_runs_the_check_itself_before_dockers_first_run(backend):
    """Docker runs the image's check an interval after the start; the handover need not wait
    for it: the check's command, run in the container, passes at once."""
    container = start(backend, "checked-late", "early")
    began = time.monotonic()
    handover.wait_own_health(container, timeout_s=20)
    container.reload()
    assert container.attrs["State"]["Health"]["Status"] == "starting"  # Docker has not run it
    print(f"healthy by its own check {time.monotonic() - began:.1f} s after the start")


def test_the_images_check_runs_in_the_container_and_not_in_a_stopped_one(backend):
    healthy, sick = start(backend, "healthy", "runs-ok"), start(backend, "unhealthy", "runs-sick")

    def check(container) -> list[str]:  # the image's own: ["CMD", *command]
        return container.attrs["Config"]["Healthcheck"]["Test"][1:]

    for container, code in ((healthy, 0), (sick, 1)):
        assert container.exec_run(check(container)).exit_code == code
    healthy.stop(timeout=1)
    with pytest.raises(docker.errors.APIError) as caught:
        healthy.exec_run(check(healthy))
    assert caught.value.status_code == 409


def test_an_exit_is_told_in_the_servers_own_words(backend):
    container = start(backend, "exits", "dies")
    with pytest.raises(ToolkitError) as caught:
        handover.wait_own_health(container, timeout_s=30)
    assert str(caught.value) == f"container {container.name} exited (3): {LAST_WORDS}"


def test_an_image_present_is_used_and_a_missing_one_is_one_line(backend):
    dockerhost.ensure_image(backend.engine, backend.images["healthy"])
    absent = f"127.0.0.1:5000/{REPOSITORY}-absent:{backend.prefix}"
    with pytest.raises(ToolkitError, match=f"^cannot pull {absent}: "):
        dockerhost.ensure_image(backend.engine, absent)


def serves(url: str, container) -> None:
    """What verify reads first: /health (waited for), then the version served."""
    verify.wait_healthy(url, container.name, 60, docker_target._alive(container))
    assert requests.get(f"{url}/version", timeout=5).json()["model_version"] == SERVED_VERSION


def answers(url: str) -> bool:
    try:
        requests.get(f"{url}/health", timeout=3)
    except requests.ConnectionError:
        return False
    return True


def test_the_published_port_reaches_the_server_until_it_stops(backend):
    """Pre-flight: a free port published (read back from the container), the server behind it;
    a stopped container's binding is gone, and so is its port."""
    container = dockerhost.start(
        backend.engine,
        backend.images["serves"],
        f"{backend.prefix}-candidate",
        labels={},
        bind="127.0.0.1",
        port=None,
    )
    url = f"http://127.0.0.1:{docker_target._published_port(container)}"
    serves(url, container)
    container.stop(timeout=1)
    with pytest.raises(ToolkitError, match=rf"^container {container.name} exited \("):
        docker_target._published_port(container)
    assert not answers(url)


def test_on_the_host_network_the_server_takes_its_serving_port(backend):
    """The handover's containers: the stage's port and settings in their environment."""
    port = free_port()
    container = dockerhost.start(
        backend.engine,
        backend.images["serves"],
        f"{backend.prefix}-next",
        labels={},
        bind="127.0.0.1",
        port=port,
        host_network=True,
        env={names.ENV_ENVIRONMENT: "staging"},
    )
    assert handover.is_host_mode(docker_target._find(backend.engine, container.name))
    assert f"{names.ENV_ENVIRONMENT}=staging" in container.attrs["Config"]["Env"]
    url = f"http://127.0.0.1:{port}"
    serves(url, container)
    container.stop(timeout=1)
    assert not answers(url)
