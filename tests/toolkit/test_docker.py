"""build-image, deploy and rollback with a real Docker engine and a real local registry.

Every failure path ends with the same two assertions: what served before still serves, and
the production alias did not move.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import cli, faulty_image, outputs, register_version
from mlops_toolkit import names
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.tracking import client as tracking
from support.project import bake
from support.servers import free_port

pytestmark = pytest.mark.docker

REGISTRY = "127.0.0.1:5000"


@pytest.fixture(scope="session")
def serving_project(tmp_path_factory) -> Path:
    """A project generated from the template (its defaults): the images below are built from
    the Dockerfile every generated project ships, so they serve with the platform's own server
    (`python -m mlops_toolkit.serving`, from the wheel build-image stages), not a stand-in."""
    return bake(tmp_path_factory.mktemp("project"))


@dataclass
class World:
    model_name: str
    repository: str
    app: str
    port: int  # production
    staging_port: int
    v1: str
    v2: str
    image_v1: str = ""
    image_v2: str = ""


def build(world: World, project: Path, version: str, commit: str, **env):
    return cli(
        "build-image",
        "--model-name",
        world.model_name,
        "--model-version",
        version,
        "--context",
        str(project),
        "--image",
        world.repository,
        "--git-commit",
        commit,
        "--network",
        "host",
        "--source",
        "https://github.com/acme/churn",
        env=env,
        timeout=900,
    )


def serving_version(port: int) -> str | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}/version", timeout=3).json()["model_version"]
    except (requests.RequestException, ValueError, KeyError):
        return None


def production(model_name: str) -> str | None:
    from mlflow import MlflowClient

    found = tracking.version_by_alias(MlflowClient(), model_name, names.PRODUCTION)
    return found.version if found else None


@pytest.fixture(scope="module")
def world(docker_engine, mlflow_server, logged, serving_project, tmp_path_factory):
    import uuid

    name = f"dock-{uuid.uuid4().hex[:8]}"
    w = World(
        model_name=name,
        repository=f"{REGISTRY}/toolkit-tests/{name}",
        app=name,
        port=free_port(),
        staging_port=free_port(),
        v1=register_version(name, logged["good"][1]),
        v2=register_version(name, logged["good2"][1]),
    )
    out = tmp_path_factory.mktemp("out") / "github_output"
    result = build(w, serving_project, w.v1, "1" * 40, GITHUB_OUTPUT=str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    w.image_v1 = outputs(out)["reference"]
    # v1 serves production: the state every failure below must leave intact.
    from mlops_toolkit.deploy import docker as deploy

    deploy.deploy(
        image=w.image_v1,
        stage="production",
        app=w.app,
        port=w.port,
        model_name=name,
        model_version=w.v1,
        health_timeout_s=120,
    )
    registry.promote(model_name=name, version=w.v1)
    yield w
    mine = {"label": f"{names.LABEL_APP}={name}"}
    for c in docker_engine.containers.list(all=True, filters=mine):
        c.remove(force=True)


def assert_production_intact(w: World, version: str | None = None) -> None:
    version = version or w.v1
    assert serving_version(w.port) == version
    resp = requests.post(
        f"http://127.0.0.1:{w.port}/invocations", timeout=10, json=smoke(w, version)
    )
    assert resp.status_code == 200 and resp.json()["predictions"]
    assert production(w.model_name) == version


def smoke(w: World, version: str) -> dict:

    from mlops_toolkit.deploy import verify

    return verify.smoke_payload(w.model_name, version)


def test_image_is_tagged_labelled_pushed_and_recorded(world, docker_engine):
    tags = requests.get(
        f"http://{REGISTRY}/v2/toolkit-tests/{world.model_name}/tags/list", timeout=5
    ).json()["tags"]
    assert sorted(tags) == sorted([world.v1, "sha-" + "1" * 40])
    assert world.image_v1.startswith(f"{world.repository}@sha256:")
    labels = docker_engine.images.get(f"{world.repository}:{world.v1}").labels
    assert labels[names.LABEL_REVISION] == "1" * 40
    assert labels[names.LABEL_SOURCE] == "https://github.com/acme/churn"
    assert labels[names.LABEL_MODEL_NAME] == world.model_name
    assert labels[names.LABEL_MODEL_VERSION] == world.v1
    from mlflow import MlflowClient

    tags = MlflowClient().get_model_version(world.model_name, world.v1).tags
    assert tags[names.TAG_IMAGE] == world.image_v1
    # The pushed digest is what the registry serves for the version tag.
    manifest = requests.head(
        f"http://{REGISTRY}/v2/toolkit-tests/{world.model_name}/manifests/{world.v1}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=5,
    )
    assert manifest.headers["Docker-Content-Digest"] == world.image_v1.split("@", 1)[1]
    assert_production_intact(world)


def test_build_error_is_one_line_and_records_nothing(world, serving_project, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(serving_project, broken)
    (broken / "Dockerfile").write_text("FROM python:3.11-slim\nRUN echo boom && exit 3\n")
    result = build(world, broken, world.v2, "2" * 40)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "image build failed" in lines[0]
    assert not (broken / ".mlops-build").exists()
    from mlflow import MlflowClient

    assert names.TAG_IMAGE not in MlflowClient().get_model_version(world.model_name, world.v2).tags
    assert_production_intact(world)


def variant(docker_engine, world: World, fault: str, tmp_path: Path) -> str:
    """The v1 image with one setting of the real server that breaks it (`NAME=value`)."""
    return faulty_image(docker_engine, world.image_v1, world.repository, fault, tmp_path)


def deploy_cli(
    world: World,
    image: str,
    stage="production",
    version=None,
    port=None,
    health_timeout="60",
    extra: tuple[str, ...] = (),
    **env,
):
    """Deploy through the CLI, with the time a loaded CI machine needs to start a container
    (the suite runs in several workers); an image that never gets healthy passes less."""
    return cli(
        "deploy",
        "--image",
        image,
        "--stage",
        stage,
        "--app",
        world.app,
        "--port",
        str(port or world.port),
        "--model-name",
        world.model_name,
        "--model-version",
        version or world.v1,
        "--health-timeout",
        health_timeout,
        *extra,
        env=env,
    )


def test_the_default_is_the_host_handover_and_a_published_port_says_its_cost(world, docker_engine):
    """With no --publish the docker target hands over on the host network (no request lost);
    `--publish ingress` still works, and its step output states what the swap costs."""
    name = f"{world.app}-staging"
    result = deploy_cli(world, world.image_v1, stage="staging", port=world.staging_port)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning" not in result.stderr.lower()
    assert docker_engine.containers.get(name).attrs["HostConfig"]["NetworkMode"] == "host"
    assert serving_version(world.staging_port) == world.v1

    result = deploy_cli(
        world,
        world.image_v1,
        stage="staging",
        port=world.staging_port,
        extra=("--publish", "ingress"),
        GITHUB_ACTIONS="true",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    warning = [line for line in result.stderr.splitlines() if line.startswith("::warning")]
    assert len(warning) == 1 and "requests in that gap fail" in warning[0], result.stderr
    assert docker_engine.containers.get(name).attrs["HostConfig"]["NetworkMode"] != "host"
    assert serving_version(world.staging_port) == world.v1
    docker_engine.containers.get(name).remove(force=True)


def test_unhealthy_container_changes_nothing(world, docker_engine, tmp_path):
    """The server cannot load its model: it never answers /health 200 and exits."""
    image = variant(docker_engine, world, "MODEL_DIR=/nonexistent", tmp_path)
    result = deploy_cli(world, image, health_timeout="30")
    assert result.returncode == 1
    assert "nothing changed" in result.stderr and "exited (1)" in result.stderr
    assert "cannot load the model from '/nonexistent'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_production_intact(world)


def test_failed_smoke_request_changes_nothing(world, docker_engine, tmp_path):
    """The server is healthy but refuses the smoke request (its body limit is below it)."""
    image = variant(docker_engine, world, "SERVING_MAX_BODY_BYTES=64", tmp_path)
    result = deploy_cli(world, image)
    assert result.returncode == 1
    assert "nothing changed" in result.stderr and "smoke request" in result.stderr
    assert "HTTP 413" in result.stderr and "larger than 64 bytes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_production_intact(world)


def test_server_that_exits_at_once_is_reported_by_its_own_words(world, docker_engine, tmp_path):
    """A server that gives up before deploy reads its published port (Docker drops the binding
    of an exited container) is reported like one that gives up later: exit code, its words."""
    from mlops_toolkit.deploy import docker as deploy
    from mlops_toolkit.errors import ToolkitError

    image = variant(docker_engine, world, "SERVING_PORT=not-a-port", tmp_path)
    container = docker_engine.containers.run(
        image,
        name=f"{world.app}-exits",
        detach=True,
        labels={names.LABEL_APP: world.app},
        ports={f"{names.SERVING_PORT}/tcp": ("127.0.0.1", None)},
    )
    try:
        container.wait(timeout=60)
        with pytest.raises(ToolkitError, match=r"exited \(2\): error: SERVING_PORT must be"):
            deploy._published_port(container)
    finally:
        container.remove(force=True)
    result = deploy_cli(world, image)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "nothing changed" in result.stderr and "SERVING_PORT must be" in result.stderr
    assert_production_intact(world)


def test_wrong_model_version_in_image_changes_nothing(world):
    result = deploy_cli(world, world.image_v1, version=world.v2)
    assert result.returncode == 1 and f"expected {world.v2}" in result.stderr
    assert_production_intact(world)


def test_tracking_server_down_changes_nothing(world):
    result = deploy_cli(
        world, world.image_v1, MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}"
    )
    assert result.returncode == 1 and "unreachable" in result.stderr
    assert_production_intact(world)


def test_failure_after_the_swap_puts_the_old_container_back(world, docker_engine, monkeypatch):
    """The new container passes pre-flight, then fails on the real port (injected)."""
    from mlops_toolkit.deploy import docker as deploy
    from mlops_toolkit.deploy import verify
    from mlops_toolkit.errors import ToolkitError

    real_verify = verify.verify
    calls = []

    def flaky(url, name, **kw):
        calls.append(name)
        if len(calls) == 2:
            raise ToolkitError("injected failure on the real port")
        return real_verify(url, name, **kw)

    monkeypatch.setattr(verify, "verify", flaky)
    before = docker_engine.containers.get(f"{world.app}-production").id
    with pytest.raises(ToolkitError, match="previous container restored and healthy"):
        deploy.deploy(
            image=world.image_v1,
            stage="production",
            app=world.app,
            port=world.port,
            model_name=world.model_name,
            model_version=world.v1,
            health_timeout_s=60,
        )
    assert calls == [f"{world.app}-production-candidate", f"{world.app}-production"]
    assert docker_engine.containers.get(f"{world.app}-production").id == before
    assert_production_intact(world)


def test_rollback_whose_image_is_gone_changes_nothing(world, mlflow_server, logged):
    from mlflow import MlflowClient

    client = MlflowClient()
    v3 = register_version(world.model_name, logged["good"][1])
    client.set_model_version_tag(
        world.model_name, v3, names.TAG_IMAGE, f"{world.repository}:does-not-exist"
    )
    registry.promote(model_name=world.model_name, version=v3)  # alias only, for the test
    registry.promote(model_name=world.model_name, version=world.v1)  # previous of v1 is v3
    result = cli(
        "rollback",
        "--model-name",
        world.model_name,
        "--app",
        world.app,
        "--port",
        str(world.port),
        "--health-timeout",
        "15",
    )
    assert result.returncode == 1 and "cannot pull" in result.stderr
    assert_production_intact(world)


@pytest.fixture
def ssh_docker_host(tmp_path):
    """sshd on loopback in front of this engine, reached as the workflows reach it: the key and
    pinned known_hosts of `ssh-setup`, its `ssh` wrapper first on PATH (tests/support/sshd.py)."""
    import os

    from mlops_toolkit.deploy import ssh as sshsetup
    from support.sshd import sshd

    with sshd(tmp_path / "sshd") as server:
        found = sshsetup.setup(
            server.docker_host, server.key, server.known_hosts, tmp_path / "runner"
        )
        path = f"{found['PATH']}{os.pathsep}{os.environ['PATH']}"
        yield {"DOCKER_HOST": server.docker_host, "PATH": path}


def test_deploy_over_ssh_docker_host(world, ssh_docker_host):
    port = free_port()
    result = deploy_cli(
        world, world.image_v1, stage="staging", port=port, health_timeout="90", **ssh_docker_host
    )
    assert result.returncode == 0, result.stderr
    assert serving_version(port) == world.v1
    import os

    # Without ssh-setup's wrapper, plain ssh has neither the key nor the pinned host key.
    unpinned = dict(ssh_docker_host, PATH=os.environ["PATH"])
    refused = deploy_cli(world, world.image_v1, stage="staging", port=port, **unpinned)
    assert refused.returncode == 1 and "cannot reach the Docker engine at ssh://" in refused.stderr
    assert serving_version(port) == world.v1
    assert_production_intact(world)


def test_staging_production_and_rollback(world, serving_project, tmp_path, docker_engine):
    out = tmp_path / "out"
    result = build(world, serving_project, world.v2, "2" * 40, GITHUB_OUTPUT=str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    world.image_v2 = outputs(out)["reference"]
    summary = tmp_path / "summary.md"
    staged = deploy_cli(
        world,
        world.image_v2,
        stage="staging",
        version=world.v2,
        health_timeout="90",
        port=world.staging_port,
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert staged.returncode == 0, staged.stderr
    assert serving_version(world.staging_port) == world.v2
    assert serving_version(world.port) == world.v1  # staging leaves production alone
    assert "health and smoke passed" in summary.read_text()

    deployed = deploy_cli(
        world, world.image_v2, version=world.v2, health_timeout="90", GITHUB_OUTPUT=str(out)
    )
    assert deployed.returncode == 0, deployed.stderr
    registry.promote(model_name=world.model_name, version=world.v2)
    assert_production_intact(world, world.v2)
    assert outputs(out)["previous-image"] == world.image_v1

    rolled = cli(
        "rollback",
        "--model-name",
        world.model_name,
        "--app",
        world.app,
        "--port",
        str(world.port),
        "--health-timeout",
        "60",
        "--redeploy",
        env={"GITHUB_OUTPUT": str(out)},
    )
    assert rolled.returncode == 0, rolled.stderr
    assert_production_intact(world, world.v1)
    assert outputs(out)["version"] == world.v1
    running = docker_engine.containers.get(f"{world.app}-production")
    assert running.image.labels[names.LABEL_MODEL_VERSION] == world.v1
    names_now = [
        c.name
        for c in docker_engine.containers.list(
            all=True, filters={"label": f"{names.LABEL_APP}={world.app}"}
        )
    ]
    assert sorted(names_now) == sorted([f"{world.app}-production", f"{world.app}-staging"])


def test_json_of_smoke_payload_is_dataframe_split(world):
    payload = smoke(world, world.v1)
    assert set(payload) == {"dataframe_split"} and payload["dataframe_split"]["data"]
    json.dumps(payload)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
