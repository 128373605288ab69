"""Shared fixtures of the toolkit tests: a real MLflow server and real sklearn models."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.servers import start_mlflow, stop
from support.toolkit_cli import cli

HERE = Path(__file__).parent
REPO = HERE.parent.parent
ACTIONS_SRC = REPO / "actions" / "src"
if str(ACTIONS_SRC) not in sys.path:
    sys.path.insert(0, str(ACTIONS_SRC))

from mlops_toolkit.tracking.api import TrackingClient  # noqa: E402 - needs the path above

# Registry webhooks (test_webhook) deliver to a receiver on loopback over plain HTTP, which
# MLflow refuses by default (SSRF protection), and look the webhooks up at most a second late.
WEBHOOKS_ON_LOOPBACK = {
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
}


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = start_mlflow(tmp_path_factory.mktemp("mlflow"), env=WEBHOOKS_ON_LOOPBACK)
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = server.uri
    import mlflow

    mlflow.set_tracking_uri(server.uri)
    yield server
    stop(server.proc)
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


def _point_at_the_session_server(request) -> None:
    """In-process MLflow calls and the CLI's subprocesses talk to the same server.

    Other modules of a worker (PostgreSQL, the team server) point MLflow's process-wide URI
    elsewhere for a while; a test that registers in-process and promotes through the CLI would
    otherwise split its versions over two servers, depending on which modules ran before it.
    """
    if "mlflow_server" in request.fixturenames:
        import mlflow

        uri = request.getfixturevalue("mlflow_server").uri
        os.environ["MLFLOW_TRACKING_URI"] = uri
        mlflow.set_tracking_uri(uri)


@pytest.fixture(autouse=True, scope="module")
def _one_tracking_server_per_module(request):
    _point_at_the_session_server(request)  # before the module's own fixtures register models
    yield


@pytest.fixture(autouse=True)
def _one_tracking_server(request):
    _point_at_the_session_server(request)
    yield


# The fast tier (README): toolkit tests that need no real server, engine or service. A test is
# in it unless it carries one of these marks or uses one of these fixtures (the real worlds);
# a fixture that picks a world at run time marks its real parameter `server` itself
# (tracking_backend below).
REAL_WORLDS = ("mlflow_server", "auth_mlflow", "pg_mlflow", "team_server", "docker_engine", "s3")
NOT_FAST = ("slow", "docker", "postgres", "act", "gpu", "server")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects (pytest's mark plugin)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        if any(name in item.fixturenames for name in REAL_WORLDS):
            item.add_marker(pytest.mark.server)
        if not any(item.get_closest_marker(mark) for mark in NOT_FAST):
            item.add_marker(pytest.mark.fast)


@dataclass
class TrackingBackend:
    """One tracking store for a test: the in-memory fake or the session's real server."""

    kind: str  # "fake" or "real"
    client: TrackingClient
    new_version: Callable[[str], str]  # registers a version of the model, returns its number


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.server)])
def tracking_backend(request, monkeypatch) -> TrackingBackend:
    """The same test against the in-memory MLflow client (fast tier) and a real `mlflow server`
    (full tier). The toolkit's own `tracking.client()` hands out this backend's client."""
    from mlops_toolkit.tracking import client as tracking

    if request.param == "fake":
        from support.fakes.mlflow import FakeMlflowClient

        fake = FakeMlflowClient()
        monkeypatch.setattr(tracking, "client", lambda: fake)

        def new_fake_version(name: str) -> str:
            with contextlib.suppress(Exception):  # exists already
                fake.create_registered_model(name)
            run_id = fake.add_run(metrics={"f1": 0.9})
            return str(fake.create_model_version(name, f"runs:/{run_id}/model", run_id).version)

        return TrackingBackend("fake", fake, new_fake_version)
    server = request.getfixturevalue("mlflow_server")
    logged = request.getfixturevalue("logged")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    import mlflow

    mlflow.set_tracking_uri(server.uri)  # register_version goes through MLflow's fluent API
    return TrackingBackend(
        "real", tracking.client(), lambda name: register_version(name, logged["good"][1])
    )


@pytest.fixture(scope="session")
def dataset():
    """Breast-cancer data split into train and holdout (seeded)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    train, holdout = train_test_split(
        frame, test_size=0.3, random_state=7, stratify=frame["target"]
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


@pytest.fixture(scope="session")
def holdout_csv(dataset, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "holdout.csv"
    dataset[1].to_csv(path, index=False)
    return path


def fit_model(train, kind: str = "good", seed: int = 0):
    """A real sklearn Pipeline; 'bad' learns from shuffled labels (a degenerate model)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x = train.drop(columns=["target"])
    y = train["target"].to_numpy()
    if kind == "bad":
        y = np.random.default_rng(seed).permutation(y)
    c = {"good": 1.0, "good2": 0.5, "bad": 1.0}[kind]
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ]
    )
    return model.fit(x, y)


def log_model(server_uri: str, train, kind: str = "good", seed: int = 0) -> tuple[str, str]:
    """Train and log a model in a new run; returns (run_id, runs:/ model URI)."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.metrics import f1_score

    mlflow.set_tracking_uri(server_uri)
    mlflow.set_experiment("toolkit-tests")
    model = fit_model(train, kind, seed)
    x = train.drop(columns=["target"])
    with mlflow.start_run() as run:
        mlflow.log_metric("f1", f1_score(train["target"], model.predict(x)))
        mlflow.set_tag("mlops.data_hash", "abc123")
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict(x)),
            input_example=x.head(3),
            # Explicit requirements skip MLflow's slow import inference.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    return run.info.run_id, f"runs:/{run.info.run_id}/model"


@pytest.fixture
def model_name() -> str:
    return f"toolkit-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def logged(mlflow_server, dataset):
    """Models logged once per session: {'good': (run_id, uri), 'good2': ..., 'bad': ...}."""
    train = dataset[0]
    return {kind: log_model(mlflow_server.uri, train, kind) for kind in ("good", "good2", "bad")}


def register_version(model_name: str, uri: str) -> str:
    import mlflow

    return str(mlflow.register_model(uri, model_name).version)


GATE_YAML = """\
primary:
  metric: {metric}
  min_value: {min_value}
  max_regression: {max_regression}
guards:
  - metric: accuracy
    min_value: 0.5
bootstrap:
  resamples: 500
  confidence: 0.95
  seed: 7
target: target
"""


@pytest.fixture
def gate_yaml(tmp_path):
    def make(metric="f1", min_value=0.8, max_regression=0.02) -> Path:
        path = tmp_path / "gate.yaml"
        path.write_text(
            GATE_YAML.format(metric=metric, min_value=min_value, max_regression=max_regression)
        )
        return path

    return make


def run_gate(model_name: str, candidate: str, holdout, config, out: Path, **env: str):
    """`mlops-toolkit gate` through the CLI; its verdict lands in out/gate.json."""
    return cli(
        "gate",
        "--model-name",
        model_name,
        "--candidate",
        candidate,
        "--holdout",
        str(holdout),
        "--config",
        str(config),
        "--output-dir",
        str(out),
        env=env,
    )


def faulty_image(engine, base: str, repository: str, fault: str, context: Path) -> str:
    """`base` with one setting of the real server that breaks it (`NAME=value`), tagged
    `<repository>:broken-<name>`."""
    (context / "Dockerfile").write_text(f"FROM {base}\nENV {fault}\n")
    tag = f"{repository}:broken-{fault.split('=', 1)[0].lower().replace('_', '-')}"
    engine.images.build(path=str(context), tag=tag)
    return tag


def docker_available() -> bool:
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    )


@pytest.fixture(scope="session")
def docker_engine():
    """The Docker engine, base image and registry of .ci/docker-up (idempotent, fast if up)."""
    result = subprocess.run([str(REPO / ".ci" / "docker-up")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    import docker

    return docker.from_env()


def outputs(path: Path) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file written in heredoc form (NAME<<DELIM ... DELIM)."""
    out, lines, i = {}, path.read_text().splitlines(), 0
    while i < len(lines):
        name, delim = lines[i].split("<<", 1)
        j = lines.index(delim, i + 1)
        out[name] = "\n".join(lines[i + 1 : j])
        i = j + 1
    return out
