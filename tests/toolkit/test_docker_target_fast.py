"""The docker target's deploy on the in-memory engine (fast tier): pre-flight, handover, verify
on the stage's port, keep the new container or put the old one back, and the rollback.

The engine is tests/support/fakes/docker.py (held to the real engine's behaviour by
test_engine_contract.py): its containers' servers answer /health, /version and the smoke
request over loopback HTTP, so the target's own verify runs unchanged. What stays out of
reach here is the model's input example (an MLflow artifact): the smoke payload stands in.
The MLflow registry is the in-memory client. test_docker.py runs the same paths on the real
engine with real serving images (full tier).
"""

from __future__ import annotations

import pytest
import requests
from conftest import outputs as read_outputs
from mlops_toolkit import cli, names
from mlops_toolkit.deploy import dockerhost, verify
from mlops_toolkit.deploy.docker import DockerTarget
from mlops_toolkit.deploy.target import Release, rollback
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.tracking import client as tracking
from support.fakes.docker import Behaviour, FakeEngine, Server
from support.fakes.mlflow import FakeMlflowClient
from support.servers import free_port

pytestmark = pytest.mark.fast

APP, MODEL = "shop", "churn"
PAYLOAD = {"dataframe_split": {"columns": ["age"], "data": [[42]]}}
TIMEOUT_S = 1.0  # the fake answers at once: a wait that runs out is a failing check
STORE = "postgresql://writer:s3cret@db/predictions"  # a secret only the stage's container gets


@pytest.fixture
def engine(monkeypatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(dockerhost, "connect", lambda: fake)
    monkeypatch.setattr(verify, "smoke_payload", lambda name, version: PAYLOAD)
    monkeypatch.setattr(tracking, "check_server", lambda: "http://tracking.test")
    for key in (names.ENV_PREDICTION_STORE, names.ENV_FEEDBACK_TOKEN):
        monkeypatch.delenv(key, raising=False)
    yield fake
    fake.close()


def image(engine: FakeEngine, tag: str, version: str = "1", **server) -> str:
    """A serving image: its own HEALTHCHECK passes at once; its server as `server` says."""
    behaviour = Behaviour(health="healthy", health_after_s=0, server=Server(version, **server))
    return engine.add_image(f"registry.test/{APP}:{tag}", behaviour)


def target(port: int, stage: str = "production", publish: str = "host") -> DockerTarget:
    return DockerTarget(app=APP, stage=stage, port=port, publish=publish)


def release(image_: str, version: str = "1", smoke: bool = True) -> Release:
    return Release(image_, MODEL, version, health_timeout_s=TIMEOUT_S, smoke=smoke)


def served(port: int) -> str | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}/version", timeout=3).json()["model_version"]
    except requests.RequestException:
        return None


@pytest.fixture
def production(engine):
    """v1 serves production: the state every failure below must leave as it was."""
    port = free_port()
    v1 = image(engine, "v1")
    target(port).deploy(release(v1))
    return port, v1, engine.containers.get(f"{APP}-production").id


def assert_intact(engine: FakeEngine, production) -> None:
    port, _, container_id = production
    assert engine.containers.get(f"{APP}-production").id == container_id
    assert served(port) == "1"
    assert set(engine.by_name) == {f"{APP}-production"}  # no candidate, next or kept one


def test_a_first_deploy_serves_on_the_host_network_and_leaves_nothing_else(engine):
    port = free_port()
    done = target(port).deploy(release(image(engine, "v1")))
    assert (done.previous_image, done.url) == ("", f"http://127.0.0.1:{port}")
    assert done.outputs == {"container": f"{APP}-production", "service": ""}
    container = engine.containers.get(f"{APP}-production")
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    assert container.labels[names.LABEL_MODEL_VERSION] == "1"
    assert f"{names.ENV_ENVIRONMENT}=production" in container.attrs["Config"]["Env"]
    assert set(engine.by_name) == {f"{APP}-production"} and served(port) == "1"
    assert target(port).status()["image"] == done.image


def test_the_next_version_takes_over_and_the_old_container_goes(engine, production):
    port, v1, old_id = production
    done = target(port).deploy(release(image(engine, "v2", "2"), "2"))
    assert done.previous_image == v1 and served(port) == "2"
    assert set(engine.by_name) == {f"{APP}-production"}
    assert engine.containers.get(f"{APP}-production").id != old_id


@pytest.mark.parametrize(
    ("server", "behaviour", "reason"),
    [
        ({"health": 503}, {}, rf"candidate not healthy within {TIMEOUT_S:g} s \(HTTP 503\)"),
        ({}, {"exit_code": 2, "last_log": "error: SERVING_PORT must be a port"}, r"exited \(2\)"),
        ({"model_version": "9"}, {}, "serves model version 9, expected 2$"),
        (
            {"smoke_status": 413, "smoke_body": "body larger than 64 bytes"},
            {},
            "candidate answered HTTP 413: body larger than 64 bytes$",
        ),
        ({"smoke_body": '{"predictions": []}'}, {}, "candidate returned no predictions$"),
        ({}, {"health": "unhealthy"}, rf"-next not healthy within {TIMEOUT_S:g} s \(unhealthy\)"),
    ],
    ids=["never-healthy", "exits", "wrong-version", "smoke-refused", "no-predictions", "beside"],
)
def test_a_bad_image_changes_nothing(engine, production, server, behaviour, reason):
    """Pre-flight (health, version, smoke) or the handover's own HEALTHCHECK refuses it."""
    bad = Behaviour(**{"health": "healthy", "health_after_s": 0, **behaviour})
    bad.server = Server(**{"model_version": "2", **server})
    tag = engine.add_image(f"registry.test/{APP}:bad", bad)
    with pytest.raises(ToolkitError, match=reason) as error:
        target(production[0]).deploy(release(tag, "2"))
    assert str(error.value).startswith("deploy to production aborted, nothing changed: ")
    assert_intact(engine, production)


def test_a_version_without_an_input_example_is_refused_before_anything_starts(
    engine, production, monkeypatch
):
    monkeypatch.setattr(verify, "smoke_payload", lambda name, version: None)
    with pytest.raises(ToolkitError, match=f"^{MODEL}/2 has no input example"):
        target(production[0]).deploy(release(image(engine, "v2", "2"), "2"))
    assert_intact(engine, production)
    # without the smoke request, health and version decide
    assert target(production[0]).deploy(release(image(engine, "v2", "2"), "2", smoke=False))
    assert served(production[0]) == "2"


@pytest.mark.parametrize("publish", ["host", "port"])
def test_a_failure_on_the_stage_puts_the_old_container_back(
    engine, production, monkeypatch, publish
):
    """The new image passes pre-flight (no store there), then fails on the stage's port with
    the stage's settings: the old container serves again, under its name, the same one."""
    port = production[0]
    if publish == "port":  # the stage as a published-port swap has left it
        target(port, publish="port").deploy(release(production[1]))
        production = (port, production[1], engine.containers.get(f"{APP}-production").id)
    monkeypatch.setenv(names.ENV_PREDICTION_STORE, STORE)
    broken = image(engine, "v2", "2", broken_by=names.ENV_PREDICTION_STORE)
    with pytest.raises(ToolkitError) as error:
        target(port, publish=publish).deploy(release(broken, "2"))
    assert str(error.value).startswith(
        "deploy to production failed, previous container restored and healthy: "
        f"{APP}-production not healthy within"
    )
    assert "s3cret" not in str(error.value)
    assert_intact(engine, production)


def test_a_failed_first_deploy_leaves_no_container(engine, monkeypatch):
    monkeypatch.setenv(names.ENV_PREDICTION_STORE, STORE)
    broken = image(engine, "v2", "2", broken_by=names.ENV_PREDICTION_STORE)
    with pytest.raises(ToolkitError, match=r"^deploy to staging failed, nothing was serving"):
        target(free_port(), stage="staging").deploy(release(broken, "2"))
    assert engine.by_name == {}


def test_the_deploy_command_sets_its_outputs_or_fails_in_one_line(
    engine, production, monkeypatch, tmp_path, capsys
):
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setattr(cli.errors, "raise_on_sigterm", lambda: None)  # pytest's own handler
    v2 = image(engine, "v2", "2")
    argv = ["deploy", "--stage", "production", "--app", APP, "--port", str(production[0])]
    argv += ["--model-name", MODEL, "--health-timeout", str(TIMEOUT_S)]
    assert cli.main([*argv, "--image", v2, "--model-version", "2"]) == 0
    assert read_outputs(outputs)["previous-image"] == production[1]
    assert served(production[0]) == "2"
    assert cli.main([*argv, "--image", v2, "--model-version", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing changed" in err[0] and "expected 3" in err[0], err
    assert served(production[0]) == "2"


# --- the rollback: the same verified deploy, then the alias ---------------------------------


@pytest.fixture
def registered(engine, monkeypatch):
    """churn v1 then v2 promoted (v2 serving production), each with its recorded image."""
    client = FakeMlflowClient()
    monkeypatch.setattr(tracking, "client", lambda: client)
    client.create_registered_model(MODEL)
    port = free_port()
    versions = []
    for tag in ("v1", "v2"):
        run = client.add_run()
        version = str(client.create_model_version(MODEL, f"runs:/{run}/model", run).version)
        tagged = image(engine, tag, version)
        client.set_model_version_tag(MODEL, version, names.TAG_IMAGE, tagged)
        target(port).deploy(release(tagged, version))
        registry.promote(model_name=MODEL, version=version, client=client)
        versions.append(version)
    return client, port, versions


def production_version(client: FakeMlflowClient) -> str:
    return client.get_model_version_by_alias(MODEL, names.PRODUCTION).version


def test_rollback_redeploys_the_previous_image_then_moves_the_alias(engine, registered):
    client, port, (v1, v2) = registered
    result = rollback(target(port), model_name=MODEL, to=None, health_timeout_s=TIMEOUT_S)
    assert (result["version"], result["from"]) == (v1, v2)
    assert result["image"] == client.get_model_version(MODEL, v1).tags[names.TAG_IMAGE]
    assert served(port) == v1 and production_version(client) == v1


@pytest.mark.parametrize("fault", ["exits", "no-image"])
def test_a_rollback_that_cannot_deploy_moves_no_alias(engine, registered, fault):
    client, port, (v1, v2) = registered
    if fault == "exits":
        gone = Behaviour(exit_code=1, last_log="cannot load the model", server=Server(v1))
        client.set_model_version_tag(
            MODEL, v1, names.TAG_IMAGE, engine.add_image("registry.test/shop:gone", gone)
        )
        reason = r"aborted, nothing changed: .*exited \(1\): cannot load the model"
    else:
        client.set_model_version_tag(MODEL, v1, names.TAG_IMAGE, "")
        reason = f"version {v1} has no recorded image .*; nothing changed"
    with pytest.raises(ToolkitError, match=reason):
        rollback(target(port), model_name=MODEL, to=None, health_timeout_s=TIMEOUT_S)
    assert served(port) == v2 and production_version(client) == v2
