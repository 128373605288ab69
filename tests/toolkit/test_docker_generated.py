"""build-image and deploy with a real generated project's Dockerfile and scoring server."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests
from conftest import REPO, cli, register_version
from mlops_toolkit import names
from support.servers import free_port
from test_docker import REGISTRY, outputs

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(REPO), "--no-input", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return next(p for p in out.iterdir() if (p / "Dockerfile").is_file())


def test_generated_project_image_builds_deploys_and_answers(
    docker_engine, mlflow_server, logged, generated, tmp_path
):
    name = f"gen-{uuid.uuid4().hex[:8]}"
    version = register_version(name, logged["good"][1])
    repository = f"{REGISTRY}/toolkit-tests/{name}"
    out = tmp_path / "out"
    built = cli(
        "build-image",
        "--model-name",
        name,
        "--model-version",
        version,
        "--context",
        str(generated),
        "--image",
        repository,
        "--git-commit",
        "3" * 40,
        "--network",
        "host",
        env={"GITHUB_OUTPUT": str(out)},
        timeout=1200,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    reference = outputs(out)["reference"]
    port = free_port()
    try:
        deployed = cli(
            "deploy",
            "--image",
            reference,
            "--stage",
            "staging",
            "--app",
            name,
            "--port",
            str(port),
            "--model-name",
            name,
            "--model-version",
            version,
            "--health-timeout",
            "120",
        )
        assert deployed.returncode == 0, deployed.stderr
        info = requests.get(f"http://127.0.0.1:{port}/version", timeout=5).json()
        assert info["model_version"] == version and info["git_commit"] == "3" * 40
        assert info["image_tag"] == "sha-" + "3" * 40
        labels = docker_engine.images.get(f"{repository}:{version}").labels
        assert labels[names.LABEL_MODEL_VERSION] == version
        assert labels["org.opencontainers.image.revision"] == "3" * 40
    finally:
        for c in docker_engine.containers.list(
            all=True, filters={"label": f"{names.LABEL_APP}={name}"}
        ):
            c.remove(force=True)
