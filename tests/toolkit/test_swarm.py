"""deploy and rollback on a real single-node Docker Swarm (loopback), with a real MLflow server.

Every change happens under a steady loopback load, which must see no failed request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import cli, faulty_image, outputs, register_version
from mlops_toolkit import names
from mlops_toolkit.deploy import swarm
from mlops_toolkit.registry import moves as registry
from support.load import Load
from support.servers import free_port
from support.swarm import require_swarm
from test_docker import REGISTRY, build, serving_project, ssh_docker_host  # noqa: F401

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def swarm_engine(docker_engine):
    """This engine as a single-node Swarm manager (.ci/docker-up initialises it; never left)."""
    require_swarm()
    return docker_engine


@dataclass
class World:
    model_name: str
    app: str
    repository: str
    port: int
    v1: str
    v2: str
    image_v1: str = ""
    image_v2: str = ""


def _image(w: World, project: Path, version: str, commit: str, tmp: Path) -> str:
    out = tmp / f"out-{version}"
    result = build(w, project, version, commit * 40, GITHUB_OUTPUT=str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return outputs(out)["reference"]


@pytest.fixture(scope="module")
def world(swarm_engine, mlflow_server, logged, serving_project, tmp_path_factory):  # noqa: F811
    name = f"swarmhelper-{uuid.uuid4().hex[:6]}"
    w = World(
        model_name=name,
        app=name,
        repository=f"{REGISTRY}/toolkit-tests/{name}",
        port=free_port(),
        v1=register_version(name, logged["good"][1]),
        v2=register_version(name, logged["good2"][1]),
    )
    tmp = tmp_path_factory.mktemp("swarm")
    w.image_v1 = _image(w, serving_project, w.v1, "1", tmp)
    w.image_v2 = _image(w, serving_project, w.v2, "2", tmp)
    yield w
    for service in swarm_engine.services.list(filters={"label": f"{names.LABEL_APP}={name}"}):
        service.remove()


def swarm_cli(w: World, image: str, version: str, *, stage="production", port=None, **env):
    return cli(
        "deploy",
        "--target",
        "swarm",
        "--image",
        image,
        "--stage",
        stage,
        "--app",
        w.app,
        "--port",
        str(port or w.port),
        "--replicas",
        "2",
        "--publish",
        "host",
        "--model-name",
        w.model_name,
        "--model-version",
        version,
        "--health-timeout",
        "60",
        env=env,
        timeout=600,
    )


def serving(w: World) -> str | None:
    try:
        return str(
            requests.get(f"http://127.0.0.1:{w.port}/version", timeout=3).json()["model_version"]
        )
    except (requests.RequestException, ValueError, KeyError):
        return None


def replicas_run(w: World, image: str, version: str) -> None:
    state = swarm.status(app=w.app, stage="production")
    assert state["images"] == [image, image]
    assert state["labels"][names.LABEL_IMAGE] == image
    assert state["labels"][names.LABEL_MODEL_VERSION] == version
    assert state["labels"][names.LABEL_MODEL_NAME] == w.model_name


def test_deploy_then_rolling_update_without_a_failed_request(world, tmp_path):
    first = swarm_cli(world, world.image_v1, world.v1)
    assert first.returncode == 0, first.stderr
    replicas_run(world, world.image_v1, world.v1)
    registry.promote(model_name=world.model_name, version=world.v1)

    out = tmp_path / "out"
    with Load(world.port) as load:
        second = swarm_cli(world, world.image_v2, world.v2, GITHUB_OUTPUT=str(out))
    assert second.returncode == 0, second.stderr
    registry.promote(model_name=world.model_name, version=world.v2)
    print("update v1 -> v2 under load:", load.result.summary())
    assert load.result.failed == 0, load.result.summary()
    assert load.result.sent > 50 and set(load.result.versions) == {world.v1, world.v2}
    assert outputs(out)["previous-image"] == world.image_v1
    assert outputs(out)["service"] == f"{world.app}-production"
    replicas_run(world, world.image_v2, world.v2)
    assert_rollout_check_pace(world)


def assert_rollout_check_pace(w: World) -> None:
    """The tasks run the image's own check at the service's pace: the generated image checks
    every 30 s (cheap at rest), the service every 5 s (a start-first update waits for each new
    task's first passing check); the command, timeout and retries are still the image's."""
    import docker

    engine = docker.from_env()
    image = engine.images.get(w.image_v2).attrs["Config"]["Healthcheck"]
    assert image["Interval"] == 30 * 10**9
    service = engine.services.get(f"{w.app}-production")
    tasks = service.tasks(filters={"desired-state": "running"})
    assert tasks
    for task in tasks:
        container = engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
        check = container.attrs["Config"]["Healthcheck"]
        assert check == {**image, "Interval": int(swarm.ROLLOUT_CHECK_S * 10**9)}, check


def test_unhealthy_image_is_rolled_back_by_swarm(world, swarm_engine, tmp_path):
    """The new tasks' server cannot load its model: they never get healthy (they exit)."""
    fault = "MODEL_DIR=/nonexistent"
    broken = faulty_image(swarm_engine, world.image_v2, world.repository, fault, tmp_path)
    with Load(world.port) as load:
        result = swarm_cli(world, broken, world.v2)
    assert result.returncode == 1
    assert "rolled" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "non-zero exit (1)" in result.stderr  # and the server's own words, read from Swarm
    assert "cannot load the model from '/nonexistent'" in result.stderr
    assert load.result.failed == 0, load.result.summary()
    assert serving(world) == world.v2
    replicas_run(world, world.image_v2, world.v2)


def test_a_refused_smoke_request_puts_the_previous_image_back(world, swarm_engine, tmp_path):
    """Healthy new tasks whose server refuses the smoke request (bodies capped below it, the
    docker e2e scenario's failed release): Swarm sees nothing wrong, so the deploy itself puts
    the previous image back on every replica. No load here: the capped replicas would refuse
    its requests while they serve."""
    fault = "SERVING_MAX_BODY_BYTES=64"
    capped = faulty_image(swarm_engine, world.image_v2, world.repository, fault, tmp_path)
    result = swarm_cli(world, capped, world.v2)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "smoke request" in result.stderr and "HTTP 413" in result.stderr
    assert f"{world.image_v2} is back on every replica" in result.stderr
    assert serving(world) == world.v2
    replicas_run(world, world.image_v2, world.v2)


def test_rollback_dispatch_puts_the_previous_image_on_every_replica(world, tmp_path):
    from mlflow import MlflowClient

    out = tmp_path / "out"
    with Load(world.port) as load:
        rolled = cli(
            "rollback",
            "--target",
            "swarm",
            "--model-name",
            world.model_name,
            "--app",
            world.app,
            "--port",
            str(world.port),
            "--replicas",
            "2",
            "--publish",
            "host",
            "--health-timeout",
            "60",
            env={"GITHUB_OUTPUT": str(out)},
            timeout=600,
        )
    assert rolled.returncode == 0, rolled.stderr
    assert load.result.failed == 0, load.result.summary()
    assert outputs(out)["version"] == world.v1
    replicas_run(world, world.image_v1, world.v1)
    assert serving(world) == world.v1
    alias = MlflowClient().get_model_version_by_alias(world.model_name, names.PRODUCTION)
    assert alias.version == world.v1


def test_secrets_and_configs_come_through_swarm(world, swarm_engine):
    secret = swarm_engine.secrets.create(name=f"{world.app}-token", data=b"s3cret")
    config = swarm_engine.configs.create(name=f"{world.app}-conf", data=b"a: 1\n")
    try:
        port = free_port()
        target = swarm.SwarmTarget(
            app=world.app,
            stage="staging",
            port=port,
            replicas=1,
            publish="host",
            secrets=[secret.name],
            configs=[config.name],
        )
        swarm.deploy_service(
            image=world.image_v1,
            target=target,
            model_name=world.model_name,
            model_version=world.v1,
            health_timeout_s=60,
        )
        task = swarm_engine.services.get(f"{world.app}-staging").tasks(
            filters={"desired-state": "running"}
        )[0]
        container = swarm_engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
        read = container.exec_run(
            ["cat", f"/run/secrets/{secret.name}", f"/run/configs/{config.name}"]
        )
        assert read.output == b"s3creta: 1\n"
    finally:
        swarm_engine.services.get(f"{world.app}-staging").remove()
        secret.remove()
        config.remove()


def test_missing_secret_is_one_line_and_changes_nothing(world):
    result = cli(
        "deploy",
        "--target",
        "swarm",
        "--image",
        world.image_v2,
        "--stage",
        "production",
        "--app",
        world.app,
        "--port",
        str(world.port),
        "--secrets",
        "no-such-secret",
        "--publish",
        "host",
        "--health-timeout",
        "30",
    )
    assert result.returncode == 1
    assert "no-such-secret" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert serving(world) == world.v1


def test_deploy_over_ssh_to_the_manager(world, ssh_docker_host):  # noqa: F811
    port = free_port()
    result = swarm_cli(
        world, world.image_v1, world.v1, stage="staging", port=port, **ssh_docker_host
    )
    assert result.returncode == 0, result.stderr
    assert (
        requests.get(f"http://127.0.0.1:{port}/version", timeout=3).json()["model_version"]
        == world.v1
    )
    assert serving(world) == world.v1


def test_docker_target_in_host_mode_hands_over_without_a_failed_request(world, swarm_engine):
    """Not Swarm: the docker target with publish host starts the new container beside the old
    one on the same port (SO_REUSEPORT) and stops the old one once the new one is healthy."""
    app, port = f"{world.app}-d", free_port()

    def docker_cli(image: str, version: str):
        return cli(
            "deploy",
            "--image",
            image,
            "--stage",
            "production",
            "--app",
            app,
            "--port",
            str(port),
            "--publish",
            "host",
            "--model-name",
            world.model_name,
            "--model-version",
            version,
            "--health-timeout",
            "60",
            timeout=600,
        )

    try:
        first = docker_cli(world.image_v1, world.v1)
        assert first.returncode == 0, first.stderr
        with Load(port) as load:
            second = docker_cli(world.image_v2, world.v2)
        assert second.returncode == 0, second.stderr
        assert load.result.failed == 0, load.result.summary()
        assert set(load.result.versions) == {world.v1, world.v2}
        running = swarm_engine.containers.list(filters={"label": f"{names.LABEL_APP}={app}"})
        assert [c.name for c in running] == [f"{app}-production"]
        assert running[0].attrs["HostConfig"]["NetworkMode"] == "host"
    finally:
        for c in swarm_engine.containers.list(
            all=True, filters={"label": f"{names.LABEL_APP}={app}"}
        ):
            c.remove(force=True)
